#!/usr/bin/env bash
# Install everything the tests need (venv, CPU torch, llama-cpp-python, the GGUF converter,
# tmux for the real-terminal TUI test) and run the whole test suite offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
bash scripts/install_tmux.sh || echo "warning: tmux unavailable; the real-terminal TUI test will be skipped" >&2
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest -q "$@"
