#!/usr/bin/env bash
# Checks the self-contained bundle as a deploy team gets it: unpacks dist/qn-linux-x64.tar.xz into an empty folder
# and runs `qn info`, `qn eval`, `qn generate` and one `qn test-backend --device emulate` op there on stories260K
# (copied beside it, so nothing comes from the checkout), under `env -i` with a PATH that has no dotnet. Each must
# succeed, eval and generate must print what bin/qn (the framework-dependent build) prints for the same command, and
# the dynamic linker must have taken OpenBLAS, LAPACKE and libgfortran from the bundle, not from the system.
# usage: tools/bundle-check.sh [BUNDLE.tar.xz]   (run from a checkout with ../shared next to it; ./build.sh test does)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUNDLE=${1:-dist/qn-linux-x64.tar.xz}
SHARED="$ROOT/../shared"
[ -f "$BUNDLE" ] || { echo "bundle-check: $BUNDLE not found (./build.sh --cuda bundle writes it)" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
tar -C "$WORK" -xJf "$BUNDLE"
mkdir -p "$WORK/data" "$WORK/empty-path"
cp "$SHARED/models/stories260K/stories260K.bin" "$SHARED/models/stories260K/tok512.bin" "$WORK/data/"
head -c 20000 "$SHARED/data/tinystories_valid_head.txt" > "$WORK/data/text.txt"
QN="$WORK/qn-linux-x64/qn"
fail() { echo "bundle-check: FAIL: $*" >&2; exit 1; }

# A bare environment: no DOTNET_ROOT, no LD_LIBRARY_PATH, and a PATH holding nothing (dotnet is not on it).
bare() { (cd "$WORK" && env -i HOME="$WORK" PATH="$WORK/empty-path" "$@"); }
bare /bin/sh -c "command -v dotnet" >/dev/null 2>&1 && fail "dotnet is reachable from the bare environment"

MODEL=(--model data/stories260K.bin --tokenizer data/tok512.bin)
bare "$QN" info --model data/stories260K.bin > "$WORK/info.txt" || fail "qn info"
grep -q 'parameters           260,032' "$WORK/info.txt" || fail "qn info did not describe stories260K: $(cat "$WORK/info.txt")"

EVAL=(eval "${MODEL[@]}" --text data/text.txt --ctx 128 --max-windows 4)
# LD_DEBUG=libs: the loader says which file it initialised for each library.
bare LD_DEBUG=libs "$QN" "${EVAL[@]}" > "$WORK/eval.txt" 2> "$WORK/ld.txt" || fail "qn eval: $(grep -v '^ *[0-9]*:' "$WORK/ld.txt" | tail -5)"
for lib in libopenblas.so.0 liblapacke.so.3 libgfortran.so.5; do
  grep -q "calling init: $WORK/qn-linux-x64/$lib" "$WORK/ld.txt" || fail "$lib was not loaded from the bundle: $(grep "calling init: .*${lib%%.so*}" "$WORK/ld.txt" | head -2)"
done
grep -q 'calling init: /.*/x86_64-linux-gnu/.*openblas' "$WORK/ld.txt" && fail "the system's OpenBLAS was loaded too"

GEN=(generate "${MODEL[@]}" --prompt "Once upon a time" --max-tokens 24)
bare "$QN" "${GEN[@]}" > "$WORK/generate.txt" 2>/dev/null || fail "qn generate"
bare "$QN" test-backend --device emulate --op rope,lowbit-gemv > "$WORK/test-backend.txt" || fail "qn test-backend --device emulate: $(tail -3 "$WORK/test-backend.txt")"

# The same commands with the checkout's build: the same numbers and tokens (timings aside).
if [ -x "$ROOT/bin/qn" ]; then
  (cd "$WORK" && "$ROOT/bin/qn" "${EVAL[@]}" 2>/dev/null) > "$WORK/eval.ref"
  (cd "$WORK" && "$ROOT/bin/qn" "${GEN[@]}" 2>/dev/null) > "$WORK/generate.ref"
  diff <(grep -E '^(nll|perplexity|predicted)' "$WORK/eval.txt") <(grep -E '^(nll|perplexity|predicted)' "$WORK/eval.ref") \
    || fail "eval differs from bin/qn's"
  diff "$WORK/generate.txt" "$WORK/generate.ref" || fail "generate differs from bin/qn's"
fi
echo "bundle-check: ok: $(stat -c %s "$BUNDLE") bytes; info, eval ($(grep '^perplexity' "$WORK/eval.txt" | tr -s ' ')), generate, test-backend ($(tail -1 "$WORK/test-backend.txt" | cut -d'(' -f1)) ran from the bundle with no dotnet; OpenBLAS, LAPACKE, libgfortran from the bundle"
