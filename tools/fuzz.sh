#!/usr/bin/env bash
# Fuzz every reader of untrusted input with AFL++ (Debian's afl++) and SharpFuzz (issue 16).
#   tools/fuzz.sh [SECONDS_PER_HARNESS] [HARNESS...]     default: 60 s for each of the 9 harnesses (9 min in all)
# Installs what is missing (afl++, the SharpFuzz.CommandLine tool), publishes tools/fuzz, instruments QuantNative.dll,
# then runs afl-fuzz on each harness from its seed corpus (tools/fuzz/seeds/HARNESS). Fails on any crash or hang,
# printing the input in hex; a found input belongs in tools/fuzz/regressions/HARNESS/ (FuzzRegressionTests replays
# it). Prints executions and coverage per harness (for docs/RELIABILITY.md). The JSON readers get tools/fuzz/json.dict.
# Findings stay in artifacts/fuzz/findings ($QN_FUZZ_OUT instead of artifacts/fuzz, for a second run beside CI's).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
shift || true
HARNESSES=("$@")
[ ${#HARNESSES[@]} -gt 0 ] || HARNESSES=(safetensors llama2c config-json tokenizer-json tokenizer-model tokenizer-bin quantize-config workdir-state gguf)
OUT=${QN_FUZZ_OUT:-artifacts/fuzz}
SHARPFUZZ_VERSION=2.3.0

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v afl-fuzz >/dev/null; then
  echo "==> installing afl++"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends afl++ >/dev/null
fi
if [ ! -x "$OUT/tools/sharpfuzz" ]; then
  echo "==> installing SharpFuzz.CommandLine $SHARPFUZZ_VERSION"
  dotnet tool install --tool-path "$OUT/tools" SharpFuzz.CommandLine --version "$SHARPFUZZ_VERSION" >/dev/null
fi

echo "==> publishing and instrumenting the harnesses"
rm -rf "$OUT/bin" "$OUT/replay"
dotnet publish tools/fuzz/QuantNative.Fuzz.csproj -c Release -o "$OUT/bin" -nologo -clp:ErrorsOnly >/dev/null
cp -r "$OUT/bin" "$OUT/replay"
# Only our code is instrumented: coverage of the runtime's own assemblies would drown the signal.
"$OUT/tools/sharpfuzz" "$OUT/bin/QuantNative.dll" >/dev/null

# afl-fuzz checks for an instrumented ELF binary; the target here is `dotnet` running an instrumented assembly.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_FAST_CAL=1
failed=0
printf '%-16s %8s %9s %8s %9s %6s %7s %7s %6s\n' harness seconds execs "execs/s" "map cvg" edges corpus crashes hangs
for h in "${HARNESSES[@]}"; do
  findings="$OUT/findings/$h"
  rm -rf "$findings"
  mkdir -p "$findings"
  # -t: a .NET start-up and first JIT of a harness take a while; an input slower than 5 s after that is a hang.
  dict=(); case $h in *json*|quantize-config|safetensors) dict=(-x tools/fuzz/json.dict) ;; esac
  timeout $((SECONDS_EACH + 120)) afl-fuzz -i "tools/fuzz/seeds/$h" -o "$findings" "${dict[@]}" -t 5000 -m none -V "$SECONDS_EACH" \
    -- dotnet "$OUT/bin/QuantNative.Fuzz.dll" "$h" >"$findings/afl.log" 2>&1 || {
      echo "afl-fuzz failed for $h; its log:"; tail -30 "$findings/afl.log"; failed=1; continue; }
  stats="$findings/default/fuzzer_stats"
  get() { sed -n "s/^$1 *: *//p" "$stats"; }
  crashes=$(find "$findings/default/crashes" -type f -name 'id:*' 2>/dev/null | wc -l)
  hangs=$(find "$findings/default/hangs" -type f -name 'id:*' 2>/dev/null | wc -l)
  printf '%-16s %8s %9s %8s %9s %6s %7s %7s %6s\n' "$h" "$(get run_time)" "$(get execs_done)" "$(get execs_per_sec)" \
    "$(get bitmap_cvg)" "$(get edges_found)" "$(get corpus_count)" "$crashes" "$hangs"
  for f in $(find "$findings/default/crashes" "$findings/default/hangs" -type f -name 'id:*' 2>/dev/null); do
    failed=1
    echo "FOUND ($h): $f"
    # head closes the pipe after 64 lines: od's SIGPIPE must not end the script (pipefail, set -e) before the verdict.
    { od -An -tx1 -v "$f" | head -64; } || true
    # The exception, replayed by the uninstrumented build (the instrumented one needs AFL's shared memory):
    dotnet "$OUT/replay/QuantNative.Fuzz.dll" "$h" "$f" 2>&1 | head -20 || true
  done
done
if [ $failed != 0 ]; then echo "fuzz: FAILED (copy each input above into tools/fuzz/regressions/HARNESS/ and fix it)"; exit 1; fi
echo "fuzz: no crash or hang"
