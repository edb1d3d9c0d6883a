#!/usr/bin/env bash
# Benchmarks one full plan of the shipped rules over a synthetic 10,000-unit directory.
# Writes bench/RESULTS-plan.md. Usage: bench/plan.sh [UNITS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
units=${1:-10000}
runs=${2:-15}
swift build -c release --product nhacviec-bench-plan >/dev/null
{
  echo "# Planning benchmark"
  echo
  echo "Reproduce with \`bench/plan.sh $units $runs\` (release build, $runs runs each; simulate 3 runs)."
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); $(swift --version 2>/dev/null | head -1)."
  echo "Measured: $(date -u +%F)."
  echo
  .build/release/nhacviec-bench-plan --config Rules/nhacviec.yaml --units "$units" --runs "$runs"
} > bench/RESULTS-plan.md
cat bench/RESULTS-plan.md
