#!/usr/bin/env bash
# QuantNative: set everything up and build (./build.sh), also the CUDA fatbins (./build.sh --cuda),
# then run every test (./build.sh test). Safe to run again: each step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)

usage() {
  cat <<USAGE
usage: ./build.sh [--cuda] [test]
  (no argument)  install missing system packages, build native/ with CMake and the C# solution, publish bin/qn
  --cuda         also make sure a CUDA toolkit is there (installs Debian's nvidia-cuda-toolkit if nvcc is missing)
                 and compile the kernels to fatbins (sm_80/86/89/90 + PTX)
  test           build as above, then run every test; prints 'N passed, N failed' last
USAGE
}

CUDA=0; TEST=0
for arg in "$@"; do
  case "$arg" in
    --cuda) CUDA=1 ;;
    test) TEST=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "build.sh: unknown argument '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

APT_UPDATED=0
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "build.sh: please install: $* (no apt-get on this system)" >&2; exit 1
  fi
  if [ $APT_UPDATED = 0 ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }

install_system_packages() {
  local missing=()
  have_lib 'libopenblas.so.0' || missing+=(libopenblas0-pthread)
  have_lib 'liblapacke.so.3' || missing+=(liblapacke)
  command -v cmake >/dev/null || missing+=(cmake)
  command -v g++ >/dev/null || missing+=(g++)
  command -v make >/dev/null || missing+=(make)
  if [ ${#missing[@]} -gt 0 ]; then say "installing ${missing[*]}"; apt_install "${missing[@]}"; fi
  if ! command -v dotnet >/dev/null || ! dotnet --list-sdks | grep -q '^10\.'; then
    echo "build.sh: the .NET 10 SDK is required (https://dot.net); install it and run ./build.sh again" >&2
    exit 1
  fi
}

# Debian ships CUDA 11.8 in its non-free component; enable it when nvcc is missing.
install_cuda_toolkit() {
  if command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then return; fi
  say "no nvcc found: installing Debian's nvidia-cuda-toolkit (about 1.6 GB)"
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    as_root sed -i -E 's/^(Components: main)$/\1 contrib non-free non-free-firmware/' /etc/apt/sources.list.d/debian.sources
  elif [ -f /etc/apt/sources.list ] && grep -q debian /etc/apt/sources.list; then
    as_root sed -i -E '/^deb .*debian/ { / non-free( |$)/! s/ main( |$)/ main contrib non-free non-free-firmware\1/ }' /etc/apt/sources.list
  fi
  APT_UPDATED=0
  apt_install nvidia-cuda-toolkit
  # clang-14 is the host compiler nvcc 11.8 accepts next to gcc 12.
  command -v clang-14 >/dev/null || apt_install clang-14
}

build_native() {
  local flags=()
  if [ $CUDA = 1 ]; then
    flags+=(-DQN_CUDA=ON)
    [ -x /usr/local/cuda/bin/nvcc ] && ! command -v nvcc >/dev/null && export PATH=/usr/local/cuda/bin:$PATH
  fi
  say "building native/ and kernels/ with CMake"
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${flags[@]}" >/dev/null
  cmake --build build -j"$(nproc)"
}

build_dotnet() {
  say "building the C# solution"
  dotnet build QuantNative.sln -c Release -nologo -clp:ErrorsOnly
  say "publishing bin/qn"
  dotnet publish src/QuantNative.Cli/QuantNative.Cli.csproj -c Release -o bin -nologo -clp:ErrorsOnly >/dev/null
  # Project-built native libraries and fatbins travel with the tool.
  if [ -d artifacts/native ]; then cp -f artifacts/native/* bin/ 2>/dev/null || true; fi
  if [ -d artifacts/kernels ]; then mkdir -p bin/kernels && cp -f artifacts/kernels/* bin/kernels/ 2>/dev/null || true; fi
}

# llama.cpp as node-llama-cpp packages it (its prebuilt linux-x64 binary, from the npm registry), for the tests that
# load qn's GGUF files: versions pinned in tools/gguf-check/package.json, installed into its node_modules (ignored), once.
# No lock file: npm records only the platforms it resolved on, and `npm ci` then refuses the others' entries.
install_llama_cpp_node() {
  local dir="$ROOT/tools/gguf-check"
  if ! command -v npm >/dev/null; then say "installing nodejs and npm (the GGUF tests run llama.cpp through node)"; apt_install nodejs npm; fi
  if ! cmp -s "$dir/package.json" "$dir/node_modules/.qn-installed-package.json" 2>/dev/null; then
    say "installing node-llama-cpp into tools/gguf-check/node_modules (tests only)"
    # --omit=optional: only the linux-x64 binary (a direct dependency), not every platform's; no install scripts:
    # the prebuilt binary needs no build step.
    (cd "$dir" && npm install --no-package-lock --no-audit --no-fund --omit=optional --ignore-scripts >/dev/null)
    cp "$dir/package.json" "$dir/node_modules/.qn-installed-package.json"
  fi
}

# The tests that launch the project's kernels on the emulator (kernel tests, CUDA backend ops, the block on the CUDA
# backend), run a second time under the race detector and a random schedule.
RACECHECK_FILTER="FullyQualifiedName~QuantNative.Tests.Cuda.|FullyQualifiedName~QuantNative.Tests.Inference.LowBit.|FullyQualifiedName~QuantNative.Tests.Backends.|FullyQualifiedName~BackendBlockTests|FullyQualifiedName~OmniQuantBackendTests"

run_tests() {
  install_llama_cpp_node
  # Under build.sh test a missing llama.cpp is a failure, not a skipped test.
  export QN_REQUIRE_LLAMA_CPP=1
  say "running the tests"
  local results="$ROOT/artifacts/test-results"
  rm -rf "$results"
  local status=0
  dotnet test tests/QuantNative.Tests/QuantNative.Tests.csproj -c Release --no-build -nologo \
    --logger "trx;LogFileName=tests.trx" --logger "console;verbosity=minimal" --results-directory "$results" || status=$?
  # The project's kernel tests again on the emulator with the race detector on and the threads of each block in a
  # seeded random order (native/README.md): a shared-memory race fails the launch, an order dependence a result.
  local seed=${QN_CI_SCHEDULE_SEED:-$RANDOM}
  say "kernel tests under QN_EMU_RACECHECK=1 QN_EMU_SCHEDULE=random:$seed"
  QN_EMU_RACECHECK=1 QN_EMU_SCHEDULE=random:$seed dotnet test tests/QuantNative.Tests/QuantNative.Tests.csproj -c Release \
    --no-build -nologo --filter "$RACECHECK_FILTER" --logger "trx;LogFileName=racecheck.trx" \
    --logger "console;verbosity=minimal" --results-directory "$results" || status=$?
  # The decode GEMV's SASS instruction budget (tools/gemv-sass-budget.sh), where a CUDA toolkit built the fatbins: one
  # more check in the counts.
  local sass_passed=0 sass_failed=0
  if command -v nvcc >/dev/null && command -v cuobjdump >/dev/null && command -v nvdisasm >/dev/null &&
     [ -f artifacts/kernels/gemm.fatbin ]; then
    say "GEMV SASS instruction budget (sm_90)"
    if tools/gemv-sass-budget.sh; then sass_passed=1; else sass_failed=1; status=1; fi
  fi
  local trx total=0 executed=0 passed=0 failed skipped counters
  for trx in "$results/tests.trx" "$results/racecheck.trx"; do
    if [ ! -f "$trx" ]; then echo "0 passed, 1 failed"; return 1; fi
    counters=$(grep -o '<Counters [^>]*>' "$trx")
    total=$(( total + $(sed -E 's/.* total="([0-9]+)".*/\1/' <<<"$counters") ))
    executed=$(( executed + $(sed -E 's/.* executed="([0-9]+)".*/\1/' <<<"$counters") ))
    passed=$(( passed + $(sed -E 's/.* passed="([0-9]+)".*/\1/' <<<"$counters") ))
  done
  passed=$(( passed + sass_passed ))
  failed=$(( executed - passed + sass_passed + sass_failed ))  # every executed test that did not pass, + the SASS check
  skipped=$(( total - executed ))                    # ignored tests (e.g. 'no CUDA device')
  echo "$skipped skipped (each says why above, e.g. no CUDA device)"
  echo "$passed passed, $failed failed"      # the last line, as CI reads it
  if [ "$failed" != 0 ] || [ "$passed" = 0 ]; then status=1; fi
  return $status
}

install_system_packages
[ $CUDA = 1 ] && install_cuda_toolkit
build_native
build_dotnet
if [ $TEST = 1 ]; then run_tests; else say "done: bin/qn is ready (try: bin/qn --help)"; fi
