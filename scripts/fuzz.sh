#!/usr/bin/env bash
# Builds the libFuzzer targets with clang++-14 (AddressSanitizer + UndefinedBehaviorSanitizer) in a
# build directory of their own and fuzzes the DICOM RT Ion Plan reader.
#
#   scripts/fuzz.sh [--seconds N]     run for N seconds (default 60), growing a kept corpus
#   scripts/fuzz.sh --runs N          exactly N inputs from seed 1 and a fresh corpus: the same
#                                     inputs every time (CTest's fuzz_plan_dicom_brief: 60000)
#
# Seeds: valid synthetic plans of every ion in both transfer syntaxes and the malformed corpus
# (plan_dicom_seeds), plus the real exports in ../shared/data/dicom when present. The corpus the
# fuzzer grows and any crash or leak it finds stay under $FUZZ_BUILD/fuzz/plan_dicom/.
# Exit status: 0 when nothing was found, libFuzzer's (non-zero) when something was.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="${FUZZ_BUILD:-$root/build-fuzz}"
seconds=60
runs=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="${2:-}"; shift 2 || true ;;
    --runs) runs="${2:-}"; shift 2 || true ;;
    *) echo "fuzz.sh: unknown argument '$1' (usage: scripts/fuzz.sh [--seconds N | --runs N])" >&2; exit 2 ;;
  esac
done
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: --seconds needs a whole number, got '$seconds'" >&2; exit 2; }
[[ -z "$runs" || "$runs" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: --runs needs a whole number, got '$runs'" >&2; exit 2; }
command -v clang++-14 >/dev/null || { echo "fuzz.sh: clang++-14 missing (scripts/install-deps.sh installs it)" >&2; exit 2; }

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DSPOTLINE_FUZZ=ON -DSPOTLINE_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target plan_dicom_fuzzer plan_dicom_seeds -- -j"${FUZZ_JOBS:-2}" >/dev/null

work="$build/fuzz/plan_dicom"
rm -rf "$work/seeds"
mkdir -p "$work/seeds" "$work/corpus" "$work/findings"
"$build/bin/plan_dicom_seeds" "$work/seeds" >/dev/null
shared="$root/../shared/data/dicom"
if [[ -d "$shared" ]]; then
  for f in "$shared"/*.dcm; do cp "$f" "$work/seeds/real-$(basename "$f")"; done
fi

export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
if [[ -n "$runs" ]]; then
  # Reproducible: fixed seed, fixed number of inputs, a corpus that starts empty each time.
  rm -rf "$work/corpus-runs" && mkdir -p "$work/corpus-runs"
  limits=(-runs="$runs" -seed=1)
  corpus="$work/corpus-runs"
else
  limits=(-max_total_time="$seconds")
  corpus="$work/corpus"
fi
exec "$build/bin/plan_dicom_fuzzer" "${limits[@]}" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/findings/" "$corpus" "$work/seeds"
