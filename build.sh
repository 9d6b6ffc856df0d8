#!/usr/bin/env bash
# QuantNative: set everything up and build (./build.sh), also the CUDA fatbins (./build.sh --cuda),
# then run every test (./build.sh test). Safe to run again: each step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)

usage() {
  cat <<USAGE
usage: ./build.sh [--cuda] [test] [bundle]
  (no argument)  install missing system packages, build native/ with CMake and the C# solution, publish bin/qn
  --cuda         also make sure a CUDA toolkit is there (installs Debian's nvidia-cuda-toolkit if nvcc is missing)
                 and compile the kernels to fatbins (sm_80/86/89/90 + PTX)
  bundle         also write dist/qn-linux-x64.tar.xz: qn self-contained (no .NET needed), the fatbins, the emulator,
                 and the OpenBLAS/LAPACKE libraries with their own dependencies (needs the fatbins: build with --cuda)
  test           build as above, then run every test; prints 'N passed, N failed' last
USAGE
}

CUDA=0; TEST=0; BUNDLE=0
for arg in "$@"; do
  case "$arg" in
    --cuda) CUDA=1 ;;
    test) TEST=1 ;;
    bundle) BUNDLE=1 ;;
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
  # For this machine's runtime only: the plotting library's native parts (SkiaSharp, HarfBuzz) exist for a dozen
  # platforms, 160 MB together; one platform's are 10 MB.
  local rid=()
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) rid=(-r linux-x64 --self-contained false) ;;
    Linux-aarch64) rid=(-r linux-arm64 --self-contained false) ;;
  esac
  dotnet publish src/QuantNative.Cli/QuantNative.Cli.csproj -c Release "${rid[@]}" -o bin -nologo -clp:ErrorsOnly >/dev/null
  # Project-built native libraries and fatbins travel with the tool.
  if [ -d artifacts/native ]; then cp -f artifacts/native/* bin/ 2>/dev/null || true; fi
  if [ -d artifacts/kernels ]; then mkdir -p bin/kernels && cp -f artifacts/kernels/* bin/kernels/ 2>/dev/null || true; fi
}

# The libraries qn loads with dlopen and does not find on a bare machine: OpenBLAS and LAPACKE, and what they need
# beyond the C runtime (libgfortran, libquadmath, LAPACK's reference parts), by soname, with a manifest listing them
# dependencies first (the loader in src/QuantNative/Interop/NativeLibraries.cs preloads them in that order).
bundle_system_libraries() {
  local dest="$1" lib path
  declare -A files=()
  for lib in libopenblas.so.0 liblapacke.so.3; do
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }')
    [ -n "$path" ] || { echo "build.sh bundle: $lib not found (install libopenblas0-pthread and liblapacke)" >&2; return 1; }
    files[$lib]=$path
    while read -r name _ dep _; do
      case "$name" in
        # The C runtime and the GCC support library every .NET machine has (the runtime itself needs them).
        linux-vdso*|ld-linux*|libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|libgcc_s.so*|libstdc++.so*) ;;
        *) [ -n "$dep" ] && files[$name]=$dep ;;
      esac
    done < <(ldd "$path" | grep '=>')
  done
  # Dependencies first: ldd lists a library's whole closure, so a dependency's list is a strict subset of its user's.
  : > "$dest/bundled-libraries.txt.unsorted"
  for lib in "${!files[@]}"; do
    cp -L "${files[$lib]}" "$dest/$lib"
    echo "$(ldd "${files[$lib]}" | grep -c '=>') $lib" >> "$dest/bundled-libraries.txt.unsorted"
  done
  sort -n "$dest/bundled-libraries.txt.unsorted" | awk '{ print $2 }' > "$dest/bundled-libraries.txt"
  rm "$dest/bundled-libraries.txt.unsorted"
}

build_bundle() {
  say "bundling dist/qn-linux-x64.tar.xz"
  if ! ls artifacts/kernels/*.fatbin >/dev/null 2>&1; then
    echo "build.sh bundle: no fatbins in artifacts/kernels; run ./build.sh --cuda bundle" >&2; return 1
  fi
  local top="$ROOT/artifacts/bundle" stage="$ROOT/artifacts/bundle/qn-linux-x64"
  rm -rf "$top"
  mkdir -p "$stage/kernels" "$ROOT/dist"
  # Self-contained single file: the .NET runtime is inside qn; the native libraries stay beside it.
  dotnet publish src/QuantNative.Cli/QuantNative.Cli.csproj -c Release -r linux-x64 --self-contained \
    -p:PublishSingleFile=true -p:DebugType=none -o "$stage" -nologo -clp:ErrorsOnly >/dev/null
  rm -f "$stage"/*.pdb
  cp artifacts/native/libqn_emulator.so "$stage/"
  cp artifacts/kernels/*.fatbin "$stage/kernels/"
  bundle_system_libraries "$stage"
  local out="$ROOT/dist/qn-linux-x64.tar.xz"
  tar -C "$top" -cf - qn-linux-x64 | xz -9 -T0 > "$out.tmp"
  mv "$out.tmp" "$out"
  local bytes; bytes=$(stat -c %s "$out")
  echo "dist/qn-linux-x64.tar.xz: $bytes bytes ($(( bytes / 1048576 )) MiB; the limit is 40 MB)"
  if [ "$bytes" -ge 40000000 ]; then echo "build.sh bundle: the bundle is over 40 MB" >&2; return 1; fi
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

# The bundle as a deploy team gets it (tools/bundle-check.sh) and the GPU day's script rehearsed on the emulator
# (tools/device-check.sh --device emulate): each counts as one test in the totals. They need the fatbins (--cuda).
EXTRA_PASSED=0; EXTRA_FAILED=0; EXTRA_SKIPPED=0
run_bundle_checks() {
  if ! ls artifacts/kernels/*.fatbin >/dev/null 2>&1; then
    echo "bundle and device-check rehearsal skipped: no fatbins (./build.sh --cuda test runs them)"
    EXTRA_SKIPPED=2; return
  fi
  if [ $BUNDLE = 0 ]; then build_bundle || { EXTRA_FAILED=2; return; }; fi
  say "checking the bundle (tools/bundle-check.sh)"
  if tools/bundle-check.sh; then EXTRA_PASSED=$((EXTRA_PASSED + 1)); else EXTRA_FAILED=$((EXTRA_FAILED + 1)); fi
  say "rehearsing tools/device-check.sh on the emulator"
  if tools/device-check.sh artifacts/device-check --device emulate 2>artifacts/device-check.log | tail -25; then
    EXTRA_PASSED=$((EXTRA_PASSED + 1))
  else
    echo "device-check rehearsal failed (its log: artifacts/device-check.log; records: artifacts/device-check/)"
    EXTRA_FAILED=$((EXTRA_FAILED + 1))
  fi
}

# The tests that launch the project's kernels on the emulator (kernel tests, CUDA backend ops, the block on the CUDA
# backend), run a second time under the race detector and a random schedule.
RACECHECK_FILTER="FullyQualifiedName~QuantNative.Tests.Cuda.|FullyQualifiedName~QuantNative.Tests.Inference.Device.|FullyQualifiedName~QuantNative.Tests.Inference.LowBit.|FullyQualifiedName~QuantNative.Tests.Backends.|FullyQualifiedName~BackendBlockTests|FullyQualifiedName~OmniQuantBackendTests"

run_tests() {
  run_bundle_checks
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
  # The decode GEMV's SASS instruction budget at W4, W3 and W2 (tools/gemv-sass-budget.sh), where a CUDA toolkit built
  # the fatbins: one more check in the counts.
  local sass_passed=0 sass_failed=0
  if command -v nvcc >/dev/null && command -v cuobjdump >/dev/null && command -v nvdisasm >/dev/null &&
     [ -f artifacts/kernels/gemm.fatbin ]; then
    say "GEMV SASS instruction budget (sm_90)"
    if tools/gemv-sass-budget.sh --check 4,3,2; then sass_passed=1; else sass_failed=1; status=1; fi
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
  passed=$(( passed + EXTRA_PASSED )); failed=$(( failed + EXTRA_FAILED )); skipped=$(( skipped + EXTRA_SKIPPED ))
  echo "$skipped skipped (each says why above, e.g. no CUDA device)"
  echo "$passed passed, $failed failed"      # the last line, as CI reads it
  if [ "$failed" != 0 ] || [ "$passed" = 0 ]; then status=1; fi
  return $status
}

install_system_packages
[ $CUDA = 1 ] && install_cuda_toolkit
build_native
build_dotnet
[ $BUNDLE = 1 ] && build_bundle
if [ $TEST = 1 ]; then run_tests; else say "done: bin/qn is ready (try: bin/qn --help)"; fi
