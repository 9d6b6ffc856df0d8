#!/usr/bin/env bash
# gemv-sass-budget.sh — the decode GEMV's instruction budget, checked without a GPU (kernels/gemm/lowbit_gemv.cu,
# section "SASS budget"; issue 15). Compiles the gemm family (build/kernels/gemm.cu, CMake's unity source) for sm_90
# with the fatbin's nvcc flags plus -lineinfo (the shipped fatbins carry no line tables: they would quadruple
# gemm.fatbin), checks that its SASS is the sm_90 SASS of the fatbin instruction for instruction (cuobjdump), then
# disassembles the two GEMV kernels with source lines (nvdisasm -gi), finds each innermost loop (a backward branch
# and the instructions from its target to it), and counts, per loop:
#   - its bits and weights per iteration: a source line of the dequantization is tagged "SASS-BUDGET: W<bits> <OPCODE>
#     <weights>": each instruction with that opcode from that line decodes that many weights, once per weight. An
#     iteration handles whole 32-k sub-blocks, and ptxas sometimes attributes a few merged instructions to another line
#     (62 of 64 seen at W4), so the count is rounded to the nearest multiple of 32;
#   - its rows: the multiply-adds of x by a weight, FFMA (1 weight), HFMA2 (2 weights) and HMMA (8: an m16n8k16 whose
#     A operand holds weights, 8 fp16 per lane) from the lines tagged "SASS-BUDGET: dot", divided by the weights
#     decoded (each weight meets x once per row);
#   - instructions per weight = every instruction of the loop body (each is issued once per lane per iteration, so
#     per lane this is thread-instructions per weight) / weights per iteration.
# The loop checked for a width is its MR = 1 loop with the most weights per iteration (a tail loop over partial chunks,
# where the W4 body has one, does fewer; W2/W3 have one MR = 1 loop, the tensor-core body's). Every candidate loop
# is listed.
# Budgets (issue 15, H200 at 4.8 TB/s): W4 g128 3.5, W3 2.7, W2 1.9 thread-instructions per weight. Fails (exit 1)
# when a loop of a checked width is above its budget, or when a tagged loop cannot be found.
#
# usage: tools/gemv-sass-budget.sh [--fatbin artifacts/kernels/gemm.fatbin] [--check 4,3,2] [--report-only WIDTHS]
#   --check        the widths whose budget fails the run (default 4,3,2: every width's loop is under its budget)
#   --report-only  widths measured and printed against the budget without failing (default none)
set -euo pipefail
cd "$(dirname "$0")/.."

FATBIN=artifacts/kernels/gemm.fatbin
CHECK=4,3,2
REPORT=
while [ $# -gt 0 ]; do
  case "$1" in
    --fatbin) FATBIN=$2; shift 2 ;;
    --check) CHECK=$2; shift 2 ;;
    --report-only) REPORT=$2; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "gemv-sass-budget.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for tool in cuobjdump nvdisasm; do
  command -v "$tool" >/dev/null || { echo "gemv-sass-budget.sh: $tool not found (a CUDA toolkit's bin/ on PATH)" >&2; exit 2; }
done
[ -f "$FATBIN" ] || { echo "gemv-sass-budget.sh: $FATBIN not found (build with ./build.sh --cuda)" >&2; exit 2; }
SOURCE=kernels/gemm/lowbit_gemv.cu

UNITY=build/kernels/gemm.cu
[ -f "$UNITY" ] || { echo "gemv-sass-budget.sh: $UNITY not found (CMake writes it: ./build.sh --cuda)" >&2; exit 2; }
CCBIN=$(sed -n 's/^QN_NVCC_CCBIN_RESOLVED:INTERNAL=//p' build/CMakeCache.txt 2>/dev/null || true)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cubin="$work/gemm.sm_90.cubin"
nvcc --cubin -std=c++17 -O3 -lineinfo ${CCBIN:+-ccbin "$CCBIN"} -Ikernels/common -gencode arch=compute_90,code=sm_90 \
  -o "$cubin" "$UNITY"
# The instructions (addresses dropped) of the compiled cubin and of the fatbin's sm_90 code must be the same.
instructions() { cuobjdump -sass "$@" | grep -E '^ +/\*[0-9a-f]{4}\*/' | sed -E 's#/\*[0-9a-f]+\*/##g'; }
if ! cmp -s <(instructions "$cubin") <(instructions -arch sm_90 "$FATBIN"); then
  echo "gemv-sass-budget.sh: FAIL: the sm_90 SASS compiled here with -lineinfo differs from $FATBIN's (rebuild: ./build.sh --cuda)" >&2
  exit 1
fi
nvdisasm -gi -c "$cubin" > "$work/sass.txt"

# Tagged source lines: "bits:line:opcode:weights" for the dequantization, "dot:line" for the multiply-adds with x.
grep -n 'SASS-BUDGET: W[234] \|SASS-BUDGET: dot' "$SOURCE" \
  | sed -E 's/^([0-9]+):.*SASS-BUDGET: W([234]) ([A-Z0-9]+) ([0-9]+).*/\2:\1:\3:\4/; s/^([0-9]+):.*SASS-BUDGET: dot.*/dot:\1/' > "$work/tags.txt"

status=0
for kernel in qn_lowbit_gemv_forward_f16 qn_lowbit_gemv_forward_f32; do
  awk -v kernel="$kernel" -v src="$(basename "$SOURCE")" -v check=",$CHECK," -v report=",$REPORT," \
      -v tagfile="$work/tags.txt" '
    BEGIN {
      while ((getline t < tagfile) > 0) { split(t, p, ":"); if (p[1] == "dot") dot[p[2]] = 1; else { bitsAt[p[2]] = p[1]; decOp[p[2]] = p[3]; decW[p[2]] = p[4] } }
      budget[4] = 3.5; budget[3] = 2.7; budget[2] = 1.9
    }
    $0 ~ "^\\.text\\." kernel ":" { inside = 1; next }
    inside && /^\/\/-----/ { inside = 0 }
    !inside { next }
    # nvdisasm -gi: before an instruction whose location changes, one comment per inlining level, innermost first
    # ("File A, line N inlined at File B, line M"); the instruction belongs to every lowbit_gemv.cu line named.
    /\/\/## File/ {
      if (!chain) { delete here; chain = 1 }
      rest = $0
      while (match(rest, /"[^"]*", line [0-9]+/)) {
        loc = substr(rest, RSTART, RLENGTH); rest = substr(rest, RSTART + RLENGTH)
        f = loc; sub(/^"/, "", f); sub(/".*/, "", f); sub(/.*\//, "", f)
        l = loc; sub(/.*line /, "", l)
        if (f == src) here[l] = 1
      }
      next
    }
    /^\.L_x_[0-9]+:/ { lab = $1; sub(/:$/, "", lab); labelAt[lab] = n; next }
    /\/\*[0-9a-f]+\*\// {
      n++; chain = 0
      op = $0; sub(/.*\*\/ */, "", op); sub(/^@!?U?P[T0-9]+ +/, "", op); split(op, w, /[ .;]/); opc[n] = w[1]
      prod[n] = 0; dec[n] = 0; bits[n] = 0
      for (l in here) {
        if (l in dot) prod[n] = opc[n] == "FFMA" ? 1 : opc[n] == "HFMA2" ? 2 : opc[n] == "HMMA" ? 8 : prod[n]
        if ((l in bitsAt) && opc[n] == decOp[l]) { bits[n] = bitsAt[l]; dec[n] = decW[l] }
      }
      if (op ~ /BRA/ && match(op, /\.L_x_[0-9]+/)) target[n] = substr(op, RSTART, RLENGTH)
    }
    END {
      # Loops: a branch back to a label at or before it.
      m = 0
      for (i = 1; i <= n; i++) if ((i in target) && (target[i] in labelAt) && labelAt[target[i]] + 1 <= i) {
        m++; lo[m] = labelAt[target[i]] + 1; hi[m] = i
      }
      for (a = 1; a <= m; a++) {
        inner = 1
        for (b = 1; b <= m; b++) if (b != a && lo[b] >= lo[a] && hi[b] <= hi[a] && (lo[b] != lo[a] || hi[b] != hi[a])) inner = 0
        if (!inner) continue
        nb = 0; weights = 0; products = 0; delete ops
        for (i = lo[a]; i <= hi[a]; i++) { if (bits[i]) nb = bits[i]; weights += dec[i]; products += prod[i]; ops[opc[i]]++ }
        if (!nb || !weights) continue
        weights = 32 * int(weights / 32 + 0.5); if (weights == 0) weights = 32
        count = hi[a] - lo[a] + 1; per = count / weights; rows = int(products / weights + 0.5)
        printf "%s W%d: a loop of %d instructions, %d weights x %d rows per iteration: %.2f per weight\n", kernel, nb, count, weights, rows, per
        if (rows != 1) continue
        if (!(nb in best) || weights > bestWeights[nb]) {
          best[nb] = per; bestCount[nb] = count; bestWeights[nb] = weights; mix = ""
          for (o in ops) mix = mix sprintf(" %s %d", o, ops[o])
          bestMix[nb] = mix
        }
      }
      fail = 0
      for (nb = 4; nb >= 2; nb--) {
        if (index(check, "," nb ",") == 0 && index(report, "," nb ",") == 0) continue
        if (!(nb in best)) { printf "%s W%d: FAIL: no inner loop with tagged dot products found\n", kernel, nb; fail = 1; continue }
        verdict = best[nb] <= budget[nb] ? "within budget" : (index(check, "," nb ",") ? "FAIL: over budget" : "over budget (reported, not checked)")
        printf "%s W%d MR=1: %d instructions / %g weights per iteration = %.2f per weight (budget %.1f): %s\n   mix:%s\n",
          kernel, nb, bestCount[nb], bestWeights[nb], best[nb], budget[nb], verdict, bestMix[nb]
        if (verdict ~ /^FAIL/) fail = 1
      }
      exit fail
    }' "$work/sass.txt" || status=1
done
exit $status
