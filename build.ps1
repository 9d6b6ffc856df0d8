# QuantNative on Windows: the same steps as build.sh where Windows allows them.
#   .\build.ps1          build the C# solution and publish bin\qn.exe
#   .\build.ps1 -Cuda    also compile the kernels to fatbins with an installed CUDA toolkit (nvcc on PATH)
#   .\build.ps1 test     build, then run every test
# What it cannot do, and says so: install system packages (install OpenBLAS and LAPACKE yourself and put
# libopenblas.dll / liblapacke.dll on PATH), and build the CUDA emulator, which needs POSIX ucontext fibers
# (use WSL or Linux for the emulator-backed tests; they are skipped here with that reason).
param(
    [switch]$Cuda,
    [Parameter(Position = 0)][string]$Command = ""
)
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot

function Say($text) { Write-Host "==> $text" -ForegroundColor Cyan }

if ($Command -ne "" -and $Command -ne "test") {
    Write-Error "build.ps1: unknown argument '$Command' (expected: test)"; exit 2
}
if (-not (Get-Command dotnet -ErrorAction SilentlyContinue) -or -not ((dotnet --list-sdks) -match '^10\.')) {
    Write-Error "build.ps1: the .NET 10 SDK is required (https://dot.net)"; exit 1
}
if (-not (Get-Command libopenblas.dll -ErrorAction SilentlyContinue)) {
    Write-Warning "libopenblas.dll is not on PATH: inference and the tests that use BLAS will fail until it is (OpenBLAS releases ship it)."
}

if ($Cuda) {
    if (-not (Get-Command nvcc -ErrorAction SilentlyContinue)) {
        Write-Error "build.ps1: -Cuda needs nvcc on PATH (install the CUDA toolkit from NVIDIA); this script cannot install it"; exit 1
    }
    if (-not (Get-Command cmake -ErrorAction SilentlyContinue)) { Write-Error "build.ps1: -Cuda needs cmake on PATH"; exit 1 }
    Say "compiling the kernels to fatbins (the emulator is not built on Windows)"
    cmake -S . -B build -DQN_CUDA=ON -DQN_EMULATOR=OFF
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    cmake --build build --config Release
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
} else {
    Write-Host "note: the CUDA emulator needs POSIX fibers (ucontext) and is not built on Windows; emulator tests will report it."
}

Say "building the C# solution"
dotnet build QuantNative.sln -c Release -nologo -clp:ErrorsOnly
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Say "publishing bin\qn.exe"
dotnet publish src/QuantNative.Cli/QuantNative.Cli.csproj -c Release -o bin -nologo -clp:ErrorsOnly | Out-Null
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
if (Test-Path artifacts/kernels) {
    New-Item -ItemType Directory -Force bin/kernels | Out-Null
    Copy-Item artifacts/kernels/* bin/kernels/ -Force
}

if ($Command -eq "test") {
    Say "running the tests"
    $results = Join-Path $PSScriptRoot "artifacts/test-results"
    if (Test-Path $results) { Remove-Item -Recurse -Force $results }
    dotnet test tests/QuantNative.Tests/QuantNative.Tests.csproj -c Release --no-build -nologo `
        --logger "trx;LogFileName=tests.trx" --results-directory $results
    $status = $LASTEXITCODE
    [xml]$trx = Get-Content (Join-Path $results "tests.trx")
    $c = $trx.TestRun.ResultSummary.Counters
    $skipped = [int]$c.total - [int]$c.executed
    $failed = [int]$c.executed - [int]$c.passed
    Write-Host "$skipped skipped (each says why above, e.g. no CUDA device)"
    Write-Host "$($c.passed) passed, $failed failed"
    exit $status
}
Say "done: bin\qn.exe is ready"
