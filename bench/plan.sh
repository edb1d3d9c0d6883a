#!/usr/bin/env bash
# Benchmarks one full plan of the shipped rules over synthetic directories of each size given.
# Writes bench/RESULTS-plan.md. Usage: bench/plan.sh [UNITS[,UNITS…]] [RUNS]
# (default: 10000,100000 units, 15 runs each).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${1:-10000,100000}
runs=${2:-15}
swift build -c release --product nhacviec-bench-plan >/dev/null
{
  echo "# Planning benchmark"
  echo
  echo "Reproduce with \`bench/plan.sh $sizes $runs\` (release build, $runs runs each; simulate 3 runs)."
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); $(swift --version 2>/dev/null | head -1)."
  echo "Measured: $(date -u +%F), on commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)."
  for units in ${sizes//,/ }; do
    echo
    echo "## $units units"
    echo
    # Each size in a process of its own, so that its peak memory is its own.
    # The machine may be shared: its load before and after says how far to trust the times.
    echo "Load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    .build/release/nhacviec-bench-plan --config Rules/nhacviec.yaml --units "$units" --runs "$runs"
    echo
    echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)."
  done
} > bench/RESULTS-plan.md
cat bench/RESULTS-plan.md
