#!/usr/bin/env bash
# The planner's passes that touch the journal, on SQLite and on PostgreSQL: a first start on
# 20/11/2026 planned and journaled whole, then the next pass judging everything again against
# that journal (`nhacviec-bench-plan --only journal`). SQLite is a file, PostgreSQL a throwaway
# server (scripts/postgres, fsync on), both on disk under /var/tmp as a deployment's would be.
# Replaces the section "The journal on SQLite and PostgreSQL" at the end of bench/RESULTS-plan.md.
# Usage: bench/plan-store.sh [UNITS[,UNITS…]] [RUNS]   (default: 100000 units, 3 re-plans)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${1:-100000}
runs=${2:-3}
# The same build as bench/compare.sh's, so one release build serves both.
nice -n 10 swift build -c release --static-swift-stdlib --product nhacviec-bench-plan >/dev/null
bench="$(swift build -c release --static-swift-stdlib --show-bin-path)/nhacviec-bench-plan"
work=$(mktemp -d /var/tmp/nv-plan-store.XXXXXX)
chmod 0711 "$work"
trap 'scripts/postgres stop "$work/pg" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
scripts/postgres start "$work/pg" -c fsync=on >/dev/null
heading="## The journal on SQLite and PostgreSQL"
section=$(
  echo "$heading"
  echo
  echo "Reproduce with \`bench/plan-store.sh $sizes $runs\` (release build; the first pass once per store, the re-plan $runs times)."
  echo "Measured: $(date -u '+%F %H:%M') UTC, on commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown);"
  echo "$(psql "host=$work/pg user=nhacviec dbname=postgres" -qAtc 'SELECT version()' | cut -d, -f1), fsync on."
  echo "The first pass is a first start in the middle of the season (20/11/2026 10:00, every ladder under way"
  echo "collapsed) and the writing of all it decided into an empty journal; the re-plan is the next pass"
  echo "judging every obligation again (a configuration edited), asking the journal who has heard each rung."
  for units in ${sizes//,/ }; do
    echo
    echo "### $units units"
    echo
    echo "Load average before: $(cut -d' ' -f1-3 /proc/loadavg); steal so far: $(awk '/^cpu / {print $9}' /proc/stat) ticks."
    echo
    psql "host=$work/pg user=nhacviec dbname=postgres" -qAtc "CREATE DATABASE plan$units" >/dev/null
    echo "- SQLite (a file): $("$bench" --config Rules/nhacviec.yaml --units "$units" --runs "$runs" --only journal --store "sqlite:$work/plan$units.sqlite")"
    echo "- PostgreSQL: $("$bench" --config Rules/nhacviec.yaml --units "$units" --runs "$runs" --only journal --store "postgresql://nhacviec@/plan$units?host=$work/pg")"
    echo
    echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg); steal so far: $(awk '/^cpu / {print $9}' /proc/stat) ticks."
  done
)
# Everything before the section is kept (bench/plan.sh's tables); the section is always last.
kept=$(awk -v h="$heading" '$0 == h {exit} {print}' bench/RESULTS-plan.md)
printf '%s\n\n%s\n' "$kept" "$section" | cat -s > bench/RESULTS-plan.md
echo "$section"
