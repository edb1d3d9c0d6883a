#!/usr/bin/env bash
# nhacviec and Prometheus Alertmanager side by side on the same notification work, on loopback
# only, one after the other in one run; writes bench/RESULTS.md (and the raw samples in
# bench/RESULTS.json). Installs what it needs: the project's packages (scripts/install-deps),
# Debian's prometheus-alertmanager (binaries only: its service is neither enabled nor used) and
# perf (linux-perf) to count wake-ups; builds nhacviec in release mode with the Swift runtime
# linked in, as the Debian package ships it.
#
# Usage: bench/compare.sh [RUNS] [-- DRIVER OPTIONS…]
#   RUNS defaults to 3 (about 10 minutes on 2 cores). Driver options (bench/compare/compare.py
#   --help) make a quicker run for trying things, for example
#   bench/compare.sh 1 -- --webhooks 1000 --idle 10 --out /tmp/RESULTS.md --raw /tmp/RESULTS.json
#   Every run also measures the journal on PostgreSQL (a server scripts/postgres starts in the work
#   folder) and a kill -9 on two nodes against two clustered Alertmanagers, the section "On
#   PostgreSQL and two nodes"; `--only` picks parts, `--section-only` rewrites that section alone:
#   bench/compare.sh 1 -- --only webhooks,postgresql-webhooks,cluster-crash --webhooks 10000 \
#     --section-only   (raw samples in bench/RESULTS-postgresql.json)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
if [ -n "${1:-}" ] && [ "$1" != "--" ]; then
  runs=$1
  shift
fi
[ "${1:-}" = "--" ] && shift

scripts/install-deps
missing=()
[ -x /usr/bin/prometheus-alertmanager ] && [ -x /usr/bin/amtool ] || missing+=(prometheus-alertmanager)
command -v perf >/dev/null || missing+=(linux-perf)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update -qq
  # policy-rc.d answering 101 keeps the package's own alertmanager service from being started.
  rcd=/usr/sbin/policy-rc.d made_rcd=""
  if [ ! -e "$rcd" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$rcd" >/dev/null && $sudo chmod 0755 "$rcd" && made_rcd=1
  fi
  # perf is optional: without it, wake-ups are counted from /proc (threads that exit are missed).
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus-alertmanager ||
    status=$?
  [ -n "$made_rcd" ] && $sudo rm -f "$rcd"
  [ -z "${status:-}" ] || exit "$status"
  # The benchmark runs its own instances on ports of its own; the service the package enables is
  # not wanted.
  if [[ " ${missing[*]} " == *" prometheus-alertmanager "* ]]; then
    $sudo systemctl disable --now prometheus-alertmanager.service >/dev/null 2>&1 ||
      $sudo systemctl disable prometheus-alertmanager.service >/dev/null 2>&1 || true
  fi
fi

# The Swift runtime linked in, as the Debian package ships it (scripts/package).
nice -n 10 swift build -c release --static-swift-stdlib --product nhacviec >/dev/null
binary="$(swift build -c release --static-swift-stdlib --show-bin-path)/nhacviec"
extra=""
[ "$runs" != 3 ] && extra=" $runs"
exec /usr/bin/python3 bench/compare/compare.py --runs "$runs" --binary "$binary" --command "bench/compare.sh$extra${*:+ -- $*}" "$@"
