#!/usr/bin/env bash
# Create .venv and install vdbench with everything the demo and the tests need.
# CPU torch comes first and pinned, so no dependency pulls a multi-GB CUDA build.
# llama-cpp-python builds from source (~15 min on 2 cores the first time; pip's
# wheel cache makes later installs on the same machine fast).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
extras=${VDBENCH_EXTRAS:-gguf,test,capability,trackers}
stamp=.venv/.vdbench-installed
# the extras are part of the stamp: demo.sh's install must not satisfy test.sh's larger one
want=$( (cat pyproject.toml scripts/setup_env.sh scripts/fetch_gguf_converter.sh; echo "$extras") | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
python -m pip install --quiet --upgrade pip
python -m pip install --quiet "torch==2.13.0"
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF}" \
  python -m pip install --quiet -e ".[${extras}]" "torch==2.13.0"
case ",${extras}," in
  *,gguf,*) bash scripts/fetch_gguf_converter.sh ;;  # llama.cpp's HF→GGUF converter (tests)
esac
echo "$want" > "$stamp"
