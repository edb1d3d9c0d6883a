#!/usr/bin/env bash
# Delivers 10,000 webhooks and 1,000 emails to local receivers through the whole pipeline and
# writes bench/RESULTS-delivery.md, once with one connection per receiver (one transfer at a time)
# and once with sixteen. Usage: bench/delivery.sh [WEBHOOKS] [EMAILS] [CONNECTION-COUNTS]
# Receivers: Tests/Servers/http_server.py and smtp_server.py (aiosmtpd), on loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
webhooks=${1:-10000}
emails=${2:-1000}
connections=${3:-1,16}
scripts/install-deps
swift build -c release --product nhacviec-bench-delivery >/dev/null
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
/usr/bin/python3 Tests/Servers/http_server.py --port-file "$work/http.port" & pids+=($!)
mkdir -p "$work/mail"
/usr/bin/python3 Tests/Servers/smtp_server.py --port-file "$work/smtp.port" --maildir "$work/mail" & pids+=($!)
for _ in $(seq 100); do [ -s "$work/http.port" ] && [ -s "$work/smtp.port" ] && break; sleep 0.1; done
{
  echo "# Delivery benchmark"
  echo
  echo "Reproduce with \`bench/delivery.sh $webhooks $emails $connections\` (release build; receivers are"
  echo "Tests/Servers/http_server.py, a threading Python HTTP/1.1 server, and aiosmtpd, on loopback)."
  echo "Each message is journaled in SQLite (WAL), claimed, delivered through libcurl's multi interface"
  echo "with at most N connections to the receiver (N = $connections), and recorded. Latency is one delivery's"
  echo "time, from the channel's call to the receiver's answer, queueing in libcurl included."
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); $(swift --version 2>/dev/null | head -1)."
  echo "Measured: $(date -u +%F)."
  echo
  .build/release/nhacviec-bench-delivery --http-port "$(cat "$work/http.port")" --smtp-port "$(cat "$work/smtp.port")" \
    --webhooks "$webhooks" --emails "$emails" --connections "$connections"
  echo
  echo "Emails stored by the receiver over all runs: $(ls "$work/mail" | grep -c '\.eml$')."
} > bench/RESULTS-delivery.md
cat bench/RESULTS-delivery.md
