#!/usr/bin/env bash
# Put llama.cpp's HF→GGUF converter (convert_hf_to_gguf.py, its conversion/ package and
# gguf-py) under .venv/share/llama-cpp-tools/, taken from the llama-cpp-python sdist we
# build against. The installed wheel does not carry them. Idempotent: does nothing when
# the tools are already there for this version.
#
# Usage: scripts/fetch_gguf_converter.sh [VENV_DIR]     (default: .venv next to scripts/)
# Then:  $VENV/bin/python $VENV/share/llama-cpp-tools/convert_hf_to_gguf.py MODEL_DIR \
#            --outfile model.gguf --outtype f32
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv}
VERSION=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
PY="$VENV/bin/python"
TOOLS="$VENV/share/llama-cpp-tools"
stamp="$TOOLS/.version"

if [ ! -x "$PY" ]; then
  echo "fetch_gguf_converter: no python at $PY (run scripts/setup_env.sh first)" >&2
  exit 2
fi
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$VERSION" ] \
   && [ -f "$TOOLS/convert_hf_to_gguf.py" ] && "$PY" -c "import gguf, sentencepiece" 2>/dev/null; then
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The sdist is the only published artefact that carries the converter; pip finds it in
# its cache or the configured index (no other network access).
"$PY" -m pip download --quiet "llama-cpp-python==$VERSION" --no-deps --no-binary :all: -d "$work"
sdist=$(ls "$work"/llama_cpp_python-"$VERSION".tar.gz)
root="llama_cpp_python-$VERSION/vendor/llama.cpp"
tar -xzf "$sdist" -C "$work" "$root/convert_hf_to_gguf.py" "$root/conversion" "$root/gguf-py"

rm -rf "$TOOLS.tmp"
mkdir -p "$TOOLS.tmp"
cp -r "$work/$root/convert_hf_to_gguf.py" "$work/$root/conversion" "$work/$root/gguf-py" "$TOOLS.tmp/"
rm -rf "$TOOLS"
mv "$TOOLS.tmp" "$TOOLS"

# The converter prefers the gguf-py next to it; installing it too lets our code read GGUF
# metadata. sentencepiece reads tokenizer.model; torch and numpy are already in the venv.
"$PY" -m pip install --quiet "$TOOLS/gguf-py" "sentencepiece>=0.2"
echo "$VERSION" > "$stamp"
echo "fetch_gguf_converter: converter for llama-cpp-python $VERSION in $TOOLS"
