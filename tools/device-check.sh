#!/usr/bin/env bash
# What to run on a fresh machine with an NVIDIA GPU, nvcc, cmake and python3 but no .NET and no network: it proves the
# kernels and measures them, in under 8 minutes on one H100/H200-class GPU, every result as JSON into OUTDIR and a
# short table at the end.
#
#   tools/device-check.sh OUTDIR [--device cuda|emulate] [--bundle FILE]
#
# It expects, in this checkout (copy them in; nothing is downloaded):
#   dist/qn-linux-x64.tar.xz                  the self-contained bundle (./build.sh --cuda bundle, on a machine with .NET)
#   models/stories260K/stories260K.bin        stories260K from karpathy/tinyllamas (or ../shared/models/stories260K/,
#   models/stories260K/tok512.bin             the development layout)
#   data/tinystories_valid_head.txt           evaluation and calibration text (or ../shared/data/)
#
# Steps, each with its own timeout (a step that fails or times out is recorded and the next one runs):
#   fatbins      rebuild the fatbins with the local nvcc (cmake, the kernels only) and put them into the unpacked bundle
#                (emulate: only the smallest family, for one architecture, so the CMake path is rehearsed)
#   test-backend every op of the CUDA backend against the CPU reference (cuda: with --large)
#   bench-gemm   low-bit GEMV/GEMM vs cuBLAS fp16: llama7b shapes, W2/W3/W4, g128, M = 1, 16, 64, 128
#   bench-fakequant, bench-svd
#   eval-*       qn eval of stories260K fp32 and W4 (RTN g32) on the CPU and on the device
#   quantize-cqe a small qn quantize --method cqe+ on the CPU and on the device, and the perplexity of both
#   generate-*   qn generate of stories260K fp32 and W4 (64 greedy tokens) on the CPU (W4: fp32 decode activations,
#                its exact path) and on the device (every step there: DeviceInferenceSession); the summary says
#                whether the ids are equal
#   bench-decode TinyLlama and LLaMA-2-7B shapes, W4 and W2, on the device: tokens/s and weight GB/s against the
#                device's copy bandwidth (emulate: stories260K fp32 and W4, the shapes would take the emulator hours)
# --device emulate runs the same steps on the CUDA emulator at small sizes: CI's rehearsal (./build.sh test).
set -uo pipefail
usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] || usage
OUT=$1; shift
DEVICE=cuda
BUNDLE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE=${2:-}; shift 2 ;;
    --bundle) BUNDLE=${2:-}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "device-check: unknown argument '$1'" >&2; usage ;;
  esac
done
case "$DEVICE" in cuda|emulate) ;; *) echo "device-check: --device cuda or emulate, not '$DEVICE'" >&2; exit 2 ;; esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUNDLE=${BUNDLE:-$ROOT/dist/qn-linux-x64.tar.xz}
find_input() { for p in "$ROOT/$1" "$ROOT/../shared/$1"; do [ -f "$p" ] && { echo "$p"; return; }; done
  echo "device-check: $1 not found in the checkout (nor in ../shared/$1); copy it there" >&2; exit 1; }
[ -f "$BUNDLE" ] || { echo "device-check: $BUNDLE not found (./build.sh --cuda bundle writes it)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "device-check: python3 is needed for the JSON records" >&2; exit 1; }
MODEL=$(find_input models/stories260K/stories260K.bin)
TOKENIZER=$(find_input models/stories260K/tok512.bin)
TEXT_SOURCE=$(find_input data/tinystories_valid_head.txt)

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK="$OUT/work"
rm -rf "$WORK"; mkdir -p "$WORK"
tar -C "$WORK" -xJf "$BUNDLE" || { echo "device-check: cannot unpack $BUNDLE" >&2; exit 1; }
QN="$WORK/qn-linux-x64/qn"
head -c 200000 "$TEXT_SOURCE" > "$WORK/text.txt"
SMALL=0; [ "$DEVICE" = emulate ] && SMALL=1
echo "device-check: $DEVICE, results in $OUT (bundle $BUNDLE)"
START=$SECONDS

# run STEP TIMEOUT_S CMD...: runs CMD with stdout to OUT/STEP.out, stderr to OUT/STEP.log, and writes OUT/STEP.json:
# {step, status (ok | failed | timeout | unsupported), exit, seconds, command, result (stdout parsed as JSON) or output}.
run() {
  local step=$1 limit=$2; shift 2
  local t0=$SECONDS rc
  echo "== $step: $*" >&2
  timeout --kill-after=10 "$limit" "$@" > "$OUT/$step.out" 2> "$OUT/$step.log"; rc=$?
  python3 - "$OUT" "$step" "$rc" "$((SECONDS - t0))" "$*" <<'PY'
import json, sys
out, step, rc, seconds, command = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
text = open(f"{out}/{step}.out", encoding="utf-8", errors="replace").read()
log = open(f"{out}/{step}.log", encoding="utf-8", errors="replace").read()
status = "ok" if rc == 0 else "timeout" if rc in (124, 137) else "failed"
errors = [l for l in log.splitlines() if l.startswith("error:")]
# A verb that does not take the device is recorded as unsupported, with the reason: its own refusal (one error: line
# about --device or the CPU engine), or exit code 2 with the parser's "Option 'device' is unknown".
unknown = [l.strip() for l in log.splitlines() if "is unknown" in l]
if rc != 0 and (any("--device" in e or "CPU engine" in e for e in errors) or (rc == 2 and unknown)):
    status = "unsupported"
record = {"step": step, "status": status, "exit": rc, "seconds": seconds, "command": command}
try:
    record["result"] = json.loads(text)
except ValueError:
    record["output"] = text[-20000:]
if rc != 0:
    record["error"] = errors[-1] if errors else unknown[0] if unknown else "\n".join(log.strip().splitlines()[-5:])
json.dump(record, open(f"{out}/{step}.json", "w"), indent=1)
PY
  echo "   $step: exit $rc in $((SECONDS - t0)) s" >&2
  return 0
}

# 1. Fatbins from this machine's nvcc, the kernels only (no emulator: no host toolchain needed beyond nvcc's).
fatbins() {
  local build="$WORK/cmake-build" targets=() archs=()
  if [ $SMALL = 1 ]; then targets=(--target fatbin_smoke); archs=(-DQN_CUDA_ARCHS=80); fi
  # Into the work folder (QN_ARTIFACTS), not the checkout's artifacts/: the rehearsal must not replace its fatbins.
  cmake -S "$ROOT" -B "$build" -DQN_CUDA=ON -DQN_EMULATOR=OFF -DQN_EMULATOR_SELFTEST=OFF "${archs[@]}" \
      -DQN_ARTIFACTS="$WORK/artifacts" -DCMAKE_BUILD_TYPE=Release &&
    cmake --build "$build" -j"$(nproc)" "${targets[@]}" &&
    if [ $SMALL = 0 ]; then cp "$WORK"/artifacts/kernels/*.fatbin "$WORK/qn-linux-x64/kernels/"; fi &&
    ls -l "$WORK"/artifacts/kernels/
}
if command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=$PATH:/usr/local/cuda/bin
  run fatbins 300 bash -c "$(declare -f fatbins); WORK='$WORK' ROOT='$ROOT' SMALL=$SMALL fatbins"
else
  echo '{"step":"fatbins","status":"skipped","reason":"no nvcc on this machine: the bundle'"'"'s fatbins are used"}' > "$OUT/fatbins.json"
fi

# 2. Every op against the CPU reference.
LARGE=(--large); [ $SMALL = 1 ] && LARGE=()
run test-backend 240 "$QN" test-backend --device "$DEVICE" "${LARGE[@]}" --json

# 3-5. Kernel benchmarks (on the emulator: one checked run each at the scaled-down shapes).
RUNS=(); [ $SMALL = 1 ] && RUNS=(--runs 2)
BATCH=1,16,64,128; [ $SMALL = 1 ] && BATCH=1,16
run bench-gemm 180 "$QN" bench gemm --device "$DEVICE" --shapes llama7b --bits 2,3,4 --group 128 --batch "$BATCH" "${RUNS[@]}" --json
FQ=(); [ $SMALL = 1 ] && FQ=(--rows 64 --cols 1000)
run bench-fakequant 120 "$QN" bench fakequant --device "$DEVICE" "${FQ[@]}" "${RUNS[@]}"
run bench-svd 120 "$QN" bench svd --device "$DEVICE" "${RUNS[@]}" --json

# 6. Perplexity of stories260K fp32 and W4 (RTN g32, made here on the CPU) on the CPU and on the device.
WINDOWS=40; [ $SMALL = 1 ] && WINDOWS=8
EVAL=(--text "$WORK/text.txt" --ctx 256 --max-windows "$WINDOWS" --json)
run quantize-w4 120 "$QN" quantize --model "$MODEL" --tokenizer "$TOKENIZER" --method rtn --wbits 4 --group 32 --out "$WORK/w4" --force
run eval-fp32-cpu 120 "$QN" eval --model "$MODEL" --tokenizer "$TOKENIZER" "${EVAL[@]}"
run eval-fp32-device 120 "$QN" eval --model "$MODEL" --tokenizer "$TOKENIZER" "${EVAL[@]}" --device "$DEVICE"
run eval-w4-cpu 120 "$QN" eval --model "$WORK/w4" "${EVAL[@]}"
run eval-w4-device 120 "$QN" eval --model "$WORK/w4" "${EVAL[@]}" --device "$DEVICE"

# 7. A small CQE+ quantization on the CPU and on the device, and the perplexity of each result (on the CPU).
CQE=(quantize --model "$MODEL" --tokenizer "$TOKENIZER" --method cqe+ --wbits 4 --group 32 --calib "$WORK/text.txt"
     --nsamples 4 --seqlen 64 --epochs 1 --force)
run quantize-cqe-cpu 180 "$QN" "${CQE[@]}" --out "$WORK/cqe-cpu"
run quantize-cqe-device 180 "$QN" "${CQE[@]}" --out "$WORK/cqe-device" --device "$DEVICE"
run eval-cqe-from-cpu 120 "$QN" eval --model "$WORK/cqe-cpu" "${EVAL[@]}"
run eval-cqe-from-device 120 "$QN" eval --model "$WORK/cqe-device" "${EVAL[@]}"

# 8-9. Generation (the device's greedy ids against the CPU's) and decode speed on the device.
GEN=(--prompt "Once upon a time" --max-tokens 64 --json)
run generate-fp32-cpu 60 "$QN" generate --model "$MODEL" --tokenizer "$TOKENIZER" "${GEN[@]}"
run generate-fp32-device 60 "$QN" generate --model "$MODEL" --tokenizer "$TOKENIZER" "${GEN[@]}" --device "$DEVICE"
run generate-w4-cpu 60 "$QN" generate --model "$WORK/w4" "${GEN[@]}" --decode-activations fp32
run generate-w4-device 60 "$QN" generate --model "$WORK/w4" "${GEN[@]}" --device "$DEVICE"
if [ $SMALL = 1 ]; then
  for m in fp32 w4; do
    path=$MODEL; [ $m = w4 ] && path=$WORK/w4
    run "bench-decode-stories260K-$m" 120 "$QN" bench decode --device "$DEVICE" --model "$path" --tokens 8 --prompt-tokens 4 "${RUNS[@]}" --json
  done
else
  for shape in tinyllama-1.1b llama2-7b; do
    for bits in 4 2; do
      run "bench-decode-$shape-w$bits" 120 "$QN" bench decode --device "$DEVICE" --shape "$shape" --bits "$bits" --tokens 64 --json
    done
  done
fi

# The summary: one line per step, and the figures that matter, from the JSON records.
python3 - "$OUT" "$DEVICE" "$((SECONDS - START))" <<'PY' | tee "$OUT/summary.txt"
import glob, json, os, sys
out, device, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
recs = {}
for f in sorted(glob.glob(f"{out}/*.json"), key=os.path.getmtime):  # the order they ran in
    if os.path.basename(f) == "summary.json": continue
    r = json.load(open(f)); recs[r["step"]] = r
def ppl(step):
    r = recs.get(step, {}).get("result")
    return r.get("ppl") if isinstance(r, dict) else None
def note(r):
    res = r.get("result")
    if r["step"] == "test-backend" and isinstance(res, dict):
        return f'{res["passed"]} passed, {res["failed"]} failed of {res["cases"]}'
    if r["step"].startswith("eval") and isinstance(res, dict):
        return f'ppl {res["ppl"]:.4f}, {res["tokens_per_second"]:.0f} tok/s'
    if r["step"] == "bench-gemm" and isinstance(res, dict):
        cases = res.get("cases", [])
        bad = sum(1 for c in cases if not c.get("ok", True))
        sp = [c for c in cases if c.get("speedup") is not None]
        best = max((c["speedup"] for c in sp), default=None)
        return f'{len(cases)} cases, {bad} not ok' + (f', best speed-up vs cuBLAS {best:.2f}x' if best else '')
    if r["step"].startswith("bench-decode") and isinstance(res, dict):
        return (f'{res["tokens_per_second"]:.1f} tok/s, {res["weight_gbps"]:.1f} GB/s of weights = '
                f'{res["fraction_of_copy"]:.0%} of {res["copy_gbps"]:.0f} GB/s copy')
    if r["step"].startswith("generate") and isinstance(res, dict):
        return f'{len(res["ids"])} ids, stop {res["stop"]}'
    if r["step"] == "bench-svd" and isinstance(res, dict):
        return f'{len(res.get("cases", []))} cases, all ok: {all(c.get("ok") for c in res.get("cases", []))}'
    if r["status"] != "ok": return (r.get("error") or "")[:90]
    text = (r.get("output") or "").strip().splitlines()
    return text[-1][:90] if text else ""
summary = {"device": device, "seconds": total, "steps": {k: v["status"] for k, v in recs.items()}}
for a, b, name in [("eval-fp32-cpu", "eval-fp32-device", "fp32"), ("eval-w4-cpu", "eval-w4-device", "w4"),
                   ("eval-cqe-from-cpu", "eval-cqe-from-device", "cqe")]:
    if ppl(a) and ppl(b): summary[f"ppl_{name}_device_minus_cpu"] = ppl(b) - ppl(a)
for name in ("fp32", "w4"):
    a, b = (recs.get(f"generate-{name}-{d}", {}).get("result") for d in ("cpu", "device"))
    if isinstance(a, dict) and isinstance(b, dict): summary[f"generate_{name}_ids_equal"] = a["ids"] == b["ids"]
json.dump(summary, open(f"{out}/summary.json", "w"), indent=1)
print(f"{'step':34} {'status':12} {'s':>4}  note")
for k, r in recs.items():
    print(f"{k:34} {r['status']:12} {r.get('seconds', 0):>4}  {note(r)}")
for k, v in summary.items():
    if k.startswith("ppl_"): print(f"{k}: {v:+.6f}")
    if k.startswith("generate_"): print(f"{k}: {v}")
print(f"device-check ({device}): {total} s in all")
PY
rm -rf "$WORK" # the unpacked bundle and the models made here (the records above say what they gave)
# Failures of the steps that must work everywhere fail the script (the unsupported ones are reported, not failed).
python3 - "$OUT" <<'PY'
import json, sys
s = json.load(open(f"{sys.argv[1]}/summary.json"))
bad = [k for k, v in s["steps"].items() if v in ("failed", "timeout")]
if bad:
    print("device-check: FAILED steps: " + ", ".join(bad)); sys.exit(1)
PY
