#!/usr/bin/env bash
# Set up on a fresh machine and run the main job on the embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
VDBENCH_EXTRAS=${VDBENCH_EXTRAS:-gguf,test,capability} bash scripts/setup_env.sh  # the full demo scores capability (lm-eval)
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/vdbench demo "$@"
