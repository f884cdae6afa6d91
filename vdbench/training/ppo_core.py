"""The mathematics of PPO for language models, as pure tensor functions.

Shapes: (batch, T) over response tokens, with `mask` 1 on real response tokens (up to
and including end-of-sequence) and 0 on padding after it. No model, no I/O: each
function is tested on small hand-computed cases.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def masked_mean(values: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of `values` where mask is 1 (over all elements, or along `dim`)."""
    mask = mask.to(values.dtype)
    if dim is None:
        return (values * mask).sum() / mask.sum().clamp(min=1.0)
    return (values * mask).sum(dim) / mask.sum(dim).clamp(min=1.0)


def masked_whiten(values: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    """Standardise `values` over the masked elements (unbiased variance); padding → 0."""
    mean = masked_mean(values, mask)
    centred = values - mean
    n = mask.sum().clamp(min=2.0)
    var = ((centred**2) * mask).sum() / (n - 1)
    whitened = centred * torch.rsqrt(var + 1e-8)
    if not shift_mean:
        whitened = whitened + mean
    return whitened * mask


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """log p(token) under softmax(logits / temperature); logits (B, T, V), tokens (B, T)."""
    logp = F.log_softmax(logits.float() / temperature, dim=-1)
    return torch.gather(logp, -1, tokens.unsqueeze(-1)).squeeze(-1)


def kl_penalised_rewards(
    scores: torch.Tensor, logprobs: torch.Tensor, ref_logprobs: torch.Tensor, mask: torch.Tensor,
    kl_coef: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token rewards: −kl_coef·(log π − log π_ref) on every token, plus the sequence
    score on the last real token. Returns (rewards, per-token KL estimate), both masked."""
    kl = (logprobs - ref_logprobs) * mask
    rewards = -kl_coef * kl
    last = (mask.sum(1).long() - 1).clamp(min=0)
    rows = torch.arange(mask.shape[0], device=mask.device)
    has_tokens = mask.sum(1) > 0
    rewards[rows[has_tokens], last[has_tokens]] += scores[has_tokens].to(rewards.dtype)
    return rewards * mask, kl


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over response tokens.

    δ_t = r_t + γ·V_{t+1}·m_{t+1} − V_t;  A_t = δ_t + γλ·m_{t+1}·A_{t+1}. Values past the
    last real token count as 0 (the episode ended). Returns (advantages, returns = A + V).
    """
    values = values * mask
    steps = rewards.shape[1]
    advantages = torch.zeros_like(rewards)
    next_value = torch.zeros_like(rewards[:, 0])
    next_adv = torch.zeros_like(rewards[:, 0])
    next_mask = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(steps)):
        delta = rewards[:, t] + gamma * next_value * next_mask - values[:, t]
        next_adv = delta + gamma * lam * next_mask * next_adv
        advantages[:, t] = next_adv
        next_value, next_mask = values[:, t], mask[:, t].to(rewards.dtype)
    advantages = advantages * mask
    return advantages, (advantages + values) * mask


def policy_loss(new_logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
                mask: torch.Tensor, clip_range: float) -> tuple[torch.Tensor, dict[str, float]]:
    """PPO's clipped surrogate, averaged over real tokens; stats: clip fraction, approx KL."""
    log_ratio = new_logprobs - old_logprobs
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    with torch.no_grad():
        clipfrac = masked_mean((clipped > unclipped).float(), mask).item()
        approx_kl = masked_mean(0.5 * log_ratio**2, mask).item()
    return loss, {"clipfrac": clipfrac, "approx_kl": approx_kl}


def value_loss(new_values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
               mask: torch.Tensor, clip_range_value: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Clipped value loss: ½·max((V−R)², (clip(V, V_old ± ε)−R)²) over real tokens."""
    clipped_values = old_values + torch.clamp(new_values - old_values, -clip_range_value, clip_range_value)
    loss_unclipped = (new_values - returns) ** 2
    loss_clipped = (clipped_values - returns) ** 2
    loss = 0.5 * masked_mean(torch.maximum(loss_unclipped, loss_clipped), mask)
    with torch.no_grad():
        clipfrac = masked_mean((loss_clipped > loss_unclipped).float(), mask).item()
    return loss, {"vf_clipfrac": clipfrac}


def response_mask(responses: torch.Tensor, stop_ids: list[int]) -> torch.Tensor:
    """1 on tokens up to and including the first stop token (all tokens if none)."""
    is_stop = torch.zeros_like(responses, dtype=torch.bool)
    for stop in stop_ids:
        is_stop |= responses == stop
    # Tokens strictly after the first stop token are padding.
    after = (torch.cumsum(is_stop.long(), dim=1) - is_stop.long()) > 0
    return (~after).long()


def sequence_kl(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-sequence Monte-Carlo estimate of KL(π‖π_ref): Σ_t (log π − log π_ref) on samples of π."""
    return ((logprobs - ref_logprobs) * mask).sum(1)


def sequence_kl_k3(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-sequence KL(π‖π_ref) with the k3 estimator: Σ_t (ρ − 1 − log ρ), ρ = π_ref/π.

    Unbiased like `sequence_kl` but never negative and of lower variance, so a small KL
    reads as small rather than as noise around zero.
    """
    log_ratio = (ref_logprobs - logprobs) * mask
    return ((torch.exp(log_ratio) - 1 - log_ratio) * mask).sum(1)
