"""PPO's maths on small hand-computed cases."""

from __future__ import annotations

import pytest
import torch

from vdbench.training import ppo_core


def test_gae_matches_hand_computation_and_stops_at_the_end_of_the_response():
    # One sequence of 3 real tokens and one pad; γ = 0.9, λ = 0.5.
    rewards = torch.tensor([[0.0, 0.0, 1.0, 0.0]])
    values = torch.tensor([[0.5, 0.4, 0.3, 99.0]])  # the pad's value must be ignored
    mask = torch.tensor([[1, 1, 1, 0]])
    adv, ret = ppo_core.gae(rewards, values, mask, gamma=0.9, lam=0.5)
    d2 = 1.0 - 0.3
    d1 = 0.0 + 0.9 * 0.3 - 0.4
    d0 = 0.0 + 0.9 * 0.4 - 0.5
    a2 = d2
    a1 = d1 + 0.45 * a2
    a0 = d0 + 0.45 * a1
    assert adv[0].tolist() == pytest.approx([a0, a1, a2, 0.0])
    assert ret[0, :3].tolist() == pytest.approx([a0 + 0.5, a1 + 0.4, a2 + 0.3])


def test_kl_penalty_on_every_token_and_score_on_the_last_real_one():
    logp = torch.tensor([[-1.0, -1.0, -1.0], [-1.0, -2.0, -3.0]])
    ref = torch.tensor([[-1.5, -1.0, -1.0], [-1.0, -2.0, -3.0]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    rewards, kl = ppo_core.kl_penalised_rewards(torch.tensor([2.0, -1.0]), logp, ref, mask, kl_coef=0.1)
    assert rewards[0].tolist() == pytest.approx([-0.05, 2.0, 0.0])
    assert rewards[1].tolist() == pytest.approx([0.0, 0.0, -1.0])
    assert kl[0].tolist() == pytest.approx([0.5, 0.0, 0.0])


def test_policy_loss_clips_large_ratios():
    old = torch.zeros(1, 2)
    new = torch.log(torch.tensor([[2.0, 0.5]]))  # ratios 2 and 0.5
    adv = torch.tensor([[1.0, -1.0]])
    loss, stats = ppo_core.policy_loss(new, old, adv, torch.ones(1, 2), clip_range=0.2)
    # token 0: max(-2, -1.2) = -1.2; token 1: max(0.5, 0.8) = 0.8 → mean -0.2
    assert loss.item() == pytest.approx(-0.2)
    assert stats["clipfrac"] == pytest.approx(1.0)


def test_value_loss_takes_the_worse_of_clipped_and_unclipped():
    new, old, ret = torch.tensor([[1.0]]), torch.tensor([[0.0]]), torch.tensor([[1.0]])
    loss, _ = ppo_core.value_loss(new, old, ret, torch.ones(1, 1), clip_range_value=0.2)
    assert loss.item() == pytest.approx(0.5 * 0.8**2)


def test_response_mask_keeps_tokens_through_the_first_stop():
    responses = torch.tensor([[5, 2, 7, 2], [5, 6, 7, 8]])
    assert ppo_core.response_mask(responses, [2]).tolist() == [[1, 1, 0, 0], [1, 1, 1, 1]]


def test_masked_whiten_standardises_real_tokens_only():
    values = torch.tensor([[1.0, 2.0, 3.0, 100.0]])
    out = ppo_core.masked_whiten(values, torch.tensor([[1, 1, 1, 0]]))
    assert out[0, 3].item() == 0.0
    assert out[0, :3].mean().item() == pytest.approx(0.0, abs=1e-6)
    assert out[0, :3].std().item() == pytest.approx(1.0, abs=1e-4)


def test_k3_kl_is_non_negative_and_zero_at_the_reference():
    logp = torch.tensor([[-1.0, -2.0, -0.5]])
    mask = torch.tensor([[1, 1, 0]])
    assert ppo_core.sequence_kl_k3(logp, logp, mask).item() == 0.0
    ref = torch.tensor([[-1.5, -1.0, -9.0]])
    # token 0: ρ = e^-0.5; token 1: ρ = e^1; the masked token does not count
    expected = (torch.exp(torch.tensor(-0.5)) - 1 + 0.5) + (torch.exp(torch.tensor(1.0)) - 1 - 1)
    assert ppo_core.sequence_kl_k3(logp, ref, mask).item() == pytest.approx(expected.item())
    assert ppo_core.sequence_kl(logp, ref, mask).item() == pytest.approx(0.5 - 1.0)  # k1 can be < 0
