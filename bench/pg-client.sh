#!/usr/bin/env bash
# NOT RUN BY CI, and not by scripts/test: it takes 20 to 40 minutes of two cores. Run it by hand
# when the choice of PostgreSQL client for the journal (issue 26, point 2) is to be measured
# again.
#
# postgres-nio 1.33.2 against Debian's libpq, each in a minimal standalone package
# (bench/pg-client/nio, bench/pg-client/libpq: neither is part of nhacviec's package), on what
# matters to nhacviec:
#   1. clean debug and release builds (wall clock and CPU seconds; release with
#      --static-swift-stdlib, as the Debian package ships nhacviec) and the stripped binary;
#   2. a process holding one open connection and doing nothing: wake-ups per minute over IDLE
#      seconds, counted as bench/compare.sh counts them (perf stat -e context-switches on the
#      process, every thread, with the /proc sum over live threads beside it), and resident
#      memory. postgres-nio is measured with a bare PostgresConnection (its async API, and its
#      EventLoopFuture API waited for by a thread, with no Swift concurrency) and with a
#      PostgresClient pool holding one connection, with its default keep-alive and without;
#   3. against a real PostgreSQL 15 started here in a temporary folder, as an unprivileged user,
#      on its own port and socket folder: a table shaped like nhacviec's journal with 10,000
#      planned rows, claimed 64 at a time with `FOR UPDATE SKIP LOCKED` until none is left, each
#      claimed row's outcome written by a single-row UPDATE; every statement timed by the client
#      from before it is sent to after its result is read. RUNS runs of each client (postgres-nio
#      both ways), alternating, the table loaded afresh before each; with PostgreSQL's default
#      synchronous_commit (every commit waits for the disk) and with it off (the clients' and
#      the server's work alone).
#
# Everything is built in WORK (default a fresh /tmp/pg-client.XXXXXX) from copies of the two
# packages, so the worktree is not touched. Packages resolve offline where git reads github.com
# from a local mirror (/etc/gitconfig url.insteadOf); resolution is timed apart from the builds.
# Builds run under nice -n 19, their compilers reniced as they appear: on a shared machine the
# CPU time is the figure to compare, the load averages printed beside each build say how far to
# trust the wall clock.
#
# Usage: bench/pg-client.sh                       prints the Markdown table (kept in WORK/pg-client.md);
#        bench/results/pg-client.md is that table with its reading, written by hand
#        IDLE=10 RUNS=1 WORK=/tmp/pgc bench/pg-client.sh      a quicker try
#        SKIP_BUILD=1 WORK=/tmp/pgc bench/pg-client.sh         measure again what WORK has built
# Needs: swift, libpq-dev, postgresql-15 (initdb, pg_ctl, psql), perf (linux-perf; without it
# only the /proc count), python3, strip; as root, runuser (PostgreSQL runs as `nobody`).
set -euo pipefail
cd "$(dirname "$0")/.."
idle=${IDLE:-60}
runs=${RUNS:-3}
rows=${ROWS:-10000}
work=${WORK:-$(mktemp -d /tmp/pg-client.XXXXXX)}
out=${OUT:-$work/pg-client.md}
pgbin=${PGBIN:-/usr/lib/postgresql/15/bin}
mkdir -p "$work" "$(dirname "$out")"
commit=$(git rev-parse --short HEAD)
log() { echo "pg-client: $*" >&2; }

declare -A fig
pids=()
building=""
pgdata=$work/pg/data
pgsock=$work/pg
pgport=${PGPORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
pguser=journal
db=nhacviec
pg_started=""

# as_pg COMMAND…: COMMAND as the user PostgreSQL runs as (root cannot run it).
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u nobody -- "$@"
  else
    "$@"
  fi
}

# descendants PID: every process below PID.
descendants() {
  ps -eo pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2 }
    END {
      for (p in parent) {
        q = parent[p]
        while (q != "" && q != 0 && q != 1) {
          if (q == root) { print p; break }
          q = parent[q]
        }
      }
    }'
}

cleanup() {
  local p
  if [ -n "$building" ]; then
    for p in $(descendants "$building") "$building"; do kill "$p" 2>/dev/null || true; done
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$pg_started" ]; then
    as_pg "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
steal_ticks() { awk 'NR == 1 { print $9 }' /proc/stat; }

# timed KEY DIR COMMAND…: wall-clock and CPU (user + system, of every process the build waited
# for) seconds of COMMAND run in DIR under nice -n 19, and the load averages before and after.
timed() {
  local key=$1 dir=$2
  shift 2
  local before t0 t1 p
  before=$(loadavg)
  log "$key: $* (load $before)"
  t0=$(date +%s.%N)
  (cd "$dir" && exec /usr/bin/time -f '%e %U %S' -o "$work/$key.time" nice -n 19 "$@" >"$work/$key.log" 2>&1) &
  building=$!
  # SwiftPM starts its compilers at the default priority whatever its own is: bring them down to
  # 19 as they appear, so that the other builds on the machine go first.
  while kill -0 "$building" 2>/dev/null; do
    for p in $(descendants "$building"); do
      [ "$(ps -o ni= -p "$p" 2>/dev/null | tr -d ' ')" = 19 ] || renice -n 19 -p "$p" >/dev/null 2>&1 || true
    done
    sleep 1
  done
  wait "$building" || {
    building=""
    log "$key failed; see $work/$key.log"
    tail -20 "$work/$key.log" >&2
    exit 1
  }
  building=""
  t1=$(date +%s.%N)
  fig[$key]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')
  fig[$key.cpu]=$(awk '{ printf "%.0f", $2 + $3 }' "$work/$key.time")
  fig[$key.load]="$before → $(loadavg)"
  log "$key: ${fig[$key]} s wall, ${fig[$key.cpu]} s CPU"
}

mib() { stat -c %s "$1" | awk '{ printf "%.1f", $1 / 1048576 }'; }

# MARK: builds

nio=$work/nio
libpq=$work/libpq
bin_nio=$work/PgClientNIO.stripped
bin_libpq=$work/PgClientLibpq.stripped
if [ -z "${SKIP_BUILD:-}" ]; then
  rm -rf "$nio" "$libpq"
  cp -r bench/pg-client/nio "$nio"
  cp -r bench/pg-client/libpq "$libpq"
  rm -rf "$nio/.build" "$libpq/.build"
  timed nio.resolve "$nio" swift package resolve
  timed nio.debug "$nio" swift build --product PgClientNIO
  timed nio.release "$nio" swift build -c release --static-swift-stdlib --product PgClientNIO
  timed libpq.debug "$libpq" swift build --product PgClientLibpq
  timed libpq.release "$libpq" swift build -c release --static-swift-stdlib --product PgClientLibpq
  for c in nio libpq; do
    dir=${!c}
    name=$([ "$c" = nio ] && echo PgClientNIO || echo PgClientLibpq)
    built="$(cd "$dir" && swift build -c release --static-swift-stdlib --show-bin-path)/$name"
    cp "$built" "$work/$name.stripped"
    strip "$work/$name.stripped"
    fig[$c.size]=$(mib "$built")
    fig[$c.stripped]=$(mib "$work/$name.stripped")
    # Modules with object code: SwiftPM makes a folder for every module of the graph, built or not.
    fig[$c.modules]=$(cd "$(dirname "$built")" && find . -path './*.build/*.o' | cut -d/ -f2 | sort -u | wc -l)
  done
  # What each links besides the Swift runtime, and Debian's libpq itself.
  fig[libpq.so]=$(mib "$(readlink -f /usr/lib/x86_64-linux-gnu/libpq.so.5)")
  fig[nio.versions]=$(python3 -c '
import json, sys
pins = json.load(open(sys.argv[1]))["pins"]
print(", ".join("%s %s" % (p["identity"], p["state"].get("version", "?")) for p in sorted(pins, key=lambda p: p["identity"])))
' "$nio/Package.resolved")
  declare -p fig >"$work/build-figures.sh"
else
  # shellcheck disable=SC1091
  source "$work/build-figures.sh"
fi
# The shared libraries each needs, and those libpq brings that the other does not.
for c in nio libpq; do
  ldd "$work/$([ "$c" = nio ] && echo PgClientNIO || echo PgClientLibpq).stripped" |
    awk '$1 !~ /^(linux-vdso|\/lib64\/ld-linux)/ { sub(/\.so.*/, "", $1); print $1 }' | sort >"$work/$c.needed"
  fig[$c.needed]=$(wc -l <"$work/$c.needed")
done
fig[libpq.brings]=$(comm -13 "$work/nio.needed" "$work/libpq.needed" | paste -sd' ')

# MARK: PostgreSQL

start_postgres() {
  rm -rf "$work/pg"
  mkdir -p "$pgdata"
  [ "$(id -u)" = 0 ] && chown -R nobody:nogroup "$work/pg"
  chmod 0755 "$work" "$work/pg"
  as_pg "$pgbin/initdb" -D "$pgdata" -U "$pguser" --auth=trust -E UTF8 --locale=C >"$work/initdb.log"
  # Only the socket: nothing listens on TCP.
  as_pg "$pgbin/pg_ctl" -D "$pgdata" -l "$work/pg/server.log" -w \
    -o "-k $pgsock -p $pgport -c listen_addresses=''" start >/dev/null
  pg_started=1
  psql -q -c "CREATE DATABASE $db" postgres
}

psql() { command psql -h "$pgsock" -p "$pgport" -U "$pguser" -v ON_ERROR_STOP=1 -X "$@"; }

# The journal as nhacviec's SQLite store has it (Sources/NhacviecStore/Store.swift, after
# v8-queue-age), REAL as double precision, with the lease a claim writes.
create_journal() {
  psql -q "$db" <<'EOF'
CREATE TABLE journal (
  key TEXT NOT NULL,
  channel TEXT NOT NULL,
  schema INTEGER NOT NULL,
  rule TEXT NOT NULL,
  unit TEXT NOT NULL,
  period TEXT NOT NULL,
  step TEXT NOT NULL,
  reason TEXT NOT NULL,
  scheduled_at DOUBLE PRECISION NOT NULL,
  state TEXT NOT NULL
    CHECK (state IN ('planned', 'sending', 'sent', 'failed', 'dead', 'suppressed', 'superseded', 'silenced')),
  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at DOUBLE PRECISION,
  last_error TEXT,
  receipt TEXT,
  decision TEXT,
  message TEXT,
  pending TEXT,
  subject TEXT,
  created_at DOUBLE PRECISION NOT NULL,
  updated_at DOUBLE PRECISION NOT NULL,
  sent_at DOUBLE PRECISION,
  acknowledged_by INTEGER,
  acknowledged_at DOUBLE PRECISION,
  queued_at DOUBLE PRECISION,
  lease_until DOUBLE PRECISION,
  PRIMARY KEY (key, channel),
  CHECK (decision IS NOT NULL OR message IS NOT NULL)
);
CREATE INDEX journal_claim ON journal (channel, state, scheduled_at, key, next_attempt_at);
EOF
}

# load_journal: the table emptied and filled with $rows planned webhook notices, a key and a
# decision of nhacviec's sizes, due over a quarter of an hour.
load_journal() {
  psql -q "$db" <<EOF
TRUNCATE journal;
INSERT INTO journal (key, channel, schema, rule, unit, period, step, reason, scheduled_at, state,
                     decision, subject, created_at, updated_at, queued_at)
SELECT encode(sha256(i::text::bytea), 'hex'), 'webhook', 1, 'bao-cao-kinh-te-xa-hoi-thang',
       'xa-' || lpad((i % 1000)::text, 4, '0'), '2026-11', 'nhắc-trước-3-ngày', 'due',
       1794700000 + (i % 900), 'planned',
       '{"kind":"reminder","rule":"bao-cao-kinh-te-xa-hoi-thang","unit":"xa-' || (i % 1000) ||
         '","period":"2026-11","due":"2026-11-15T17:00:00+07:00","step":"nhắc-trước-3-ngày","recipients":["ubnd-xa-' ||
         (i % 1000) || '@quangngai.gov.vn"]}',
       'Nhắc hạn báo cáo kinh tế - xã hội tháng 11/2026: hạn 15/11/2026',
       1794600000, 1794600000, 1794600000
FROM generate_series(1, $rows) AS i;
VACUUM ANALYZE journal;
EOF
}

# MARK: idle

proc_field() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

ctxt_sum() {
  local pid=$1 total=0 t v
  for t in /proc/"$pid"/task/*/status; do
    v=$(awk '/ctxt_switches/ { s += $2 } END { print s + 0 }' "$t" 2>/dev/null || echo 0)
    total=$((total + v))
  done
  echo "$total"
}

# idle_measure KEY COMMAND…: starts COMMAND, waits for it to print "ready" (connected, one
# query answered), then counts wake-ups over $idle s, as compare.py does.
idle_measure() {
  local key=$1
  shift
  "$@" >"$work/$key.run.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  local i
  for i in $(seq 1 300); do
    grep -q '^ready$' "$work/$key.run.log" && break
    kill -0 "$pid" 2>/dev/null || {
      log "$key exited; see $work/$key.run.log"
      exit 1
    }
    sleep 0.1
  done
  sleep 3 # past the first tick of every timer, as compare.py waits
  local cs0 cs1 cpu0 cpu1 perf_out perf_cs
  cs0=$(ctxt_sum "$pid")
  cpu0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
  if command -v perf >/dev/null; then
    perf_out=$(perf stat -x, -e context-switches,task-clock -p "$pid" -- sleep "$idle" 2>&1 >/dev/null || true)
  else
    sleep "$idle"
    perf_out=""
  fi
  cs1=$(ctxt_sum "$pid")
  cpu1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
  perf_cs=$(echo "$perf_out" | awk -F, '$3 == "context-switches" { print ($1 == "<not counted>" ? 0 : $1) }')
  fig[$key.wake_perf]=$(awk -v n="${perf_cs:-}" -v s="$idle" 'BEGIN { if (n == "") print "n/a"; else printf "%.0f", n * 60 / s }')
  # Live threads only: one that exits takes its count with it (n/a when that made it fall).
  fig[$key.wake_proc]=$(awk -v n=$((cs1 - cs0)) -v s="$idle" 'BEGIN { if (n < 0) print "n/a"; else printf "%.0f", n * 60 / s }')
  fig[$key.idle_cpu]=$(awk -v n=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" -v s="$idle" 'BEGIN { printf "%.0f", n * 1000 / hz * 60 / s }')
  fig[$key.rss]=$(proc_field "$pid" VmRSS | awk '{ printf "%.1f", $1 / 1024 }')
  fig[$key.anon]=$(proc_field "$pid" RssAnon | awk '{ printf "%.1f", $1 / 1024 }')
  fig[$key.threads]=$(ls "/proc/$pid/task" | wc -l)
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  log "$key idle: ${fig[$key.wake_perf]} wake-ups/min (perf), ${fig[$key.wake_proc]} (/proc), RSS ${fig[$key.rss]} MiB"
}

machine="$(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr); $(swift --version 2>/dev/null | head -1); $("$pgbin/postgres" --version)"
started=$(date -u '+%F %H:%M UTC')
uptime_before=$(uptime)
steal0=$(steal_ticks)
t_measure0=$(date +%s.%N)

start_postgres
create_journal
conn=("$pgsock" "$pgport" "$db" "$pguser")
idle_measure libpq "$bin_libpq" idle "${conn[@]}"
idle_measure nio "$bin_nio" idle "${conn[@]}"
idle_measure nio_waiting "$bin_nio" idle-waiting "${conn[@]}"
idle_measure nio_client "$bin_nio" idle-client "${conn[@]}"
idle_measure nio_client_nka "$bin_nio" idle-client-no-keepalive "${conn[@]}"

# MARK: claims

# Twice: as PostgreSQL is configured by default, every commit waiting for its WAL to reach the
# disk (what a province would run), and with synchronous_commit off, so that what is left is
# the client's and the server's work without the disk.
for sync in on off; do
  psql -q -c "ALTER SYSTEM SET synchronous_commit = $sync" postgres
  psql -q -tA -c "SELECT pg_reload_conf()" postgres >/dev/null
  for run in $(seq 1 "$runs"); do
    for c in libpq nio nio_waiting; do
      load_journal
      case $c in
        libpq) command=("$bin_libpq" claim) ;;
        nio) command=("$bin_nio" claim) ;;
        nio_waiting) command=("$bin_nio" claim-waiting) ;;
      esac
      log "claims, synchronous_commit $sync, run $run, $c (load $(loadavg))"
      /usr/bin/time -f '%U %S' -o "$work/$c.$sync.cpu.$run" \
        "${command[@]}" "${conn[@]}" webhook "$work/$c.$sync.claims.$run" >"$work/$c.$sync.claim.$run.log"
      left=$(psql -tA -c "SELECT count(*) FROM journal WHERE state <> 'sent'" "$db")
      [ "$left" = 0 ] || {
        log "$c left $left rows unsent"
        exit 1
      }
    done
  done
done
steal1=$(steal_ticks)
t_measure1=$(date +%s.%N)
uptime_after=$(uptime)
steal_pct=$(awk -v a="$steal0" -v b="$steal1" -v t0="$t_measure0" -v t1="$t_measure1" -v hz="$(getconf CLK_TCK)" -v n="$(nproc)" \
  'BEGIN { printf "%.1f", (b - a) / hz / ((t1 - t0) * n) * 100 }')

# stats CLIENT: claim and outcome latencies over every run, and each run's totals.
stats() {
  python3 - "$work/$1.claims" "$runs" <<'EOF'
import statistics, sys
prefix, runs = sys.argv[1], int(sys.argv[2])
claims, outcomes, totals, claim_totals, counts, cpus = [], [], [], [], [], []
for run in range(1, runs + 1):
    c = o = 0
    n = 0
    for line in open("%s.%d" % (prefix, run)):
        f = line.split()
        ns = int(f[1])
        if f[0] == "claim":
            claims.append(ns); c += ns; n += 1
        else:
            outcomes.append(ns); o += ns
    claim_totals.append(c); totals.append(c + o); counts.append(n)
    user, system = open("%s.%d" % (prefix.replace(".claims", ".cpu"), run)).read().split()
    cpus.append(float(user) + float(system))
def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]
ms = lambda ns: "%.2f" % (ns / 1e6)
s = lambda ns: "%.2f" % (ns / 1e9)
print("claims=%d" % counts[0])
print("claim_p50=%s" % ms(q(claims, 0.5)))
print("claim_p90=%s" % ms(q(claims, 0.9)))
print("claim_max=%s" % ms(max(claims)))
print("claim_total=%s" % " / ".join(s(t) for t in claim_totals))
print("outcome_p50=%s" % ms(q(outcomes, 0.5)))
print("outcome_p90=%s" % ms(q(outcomes, 0.9)))
print("total=%s" % " / ".join(s(t) for t in totals))
print("cpu=%s" % " / ".join("%.2f" % t for t in cpus))
EOF
}
for c in libpq nio nio_waiting; do
  for sync in on off; do
    while IFS='=' read -r k v; do fig[$c.$sync.$k]=$v; done < <(stats "$c.$sync")
  done
done

# MARK: the table

{
  echo "# PostgreSQL client for the journal: postgres-nio 1.33.2 against Debian's libpq (issue 26, point 2)"
  echo
  echo "Reproduce with \`bench/pg-client.sh\` (IDLE=$idle s, RUNS=$runs; not run by CI)."
  echo "Machine: $machine."
  echo "Measured: $started, nhacviec at commit $commit."
  echo
  echo "| | postgres-nio 1.33.2 | libpq 15 (Debian's libpq-dev) |"
  echo "|---|---:|---:|"
  echo "| package resolution (offline mirror) | ${fig[nio.resolve]} s | – |"
  echo "| clean debug build | ${fig[nio.debug]} s (CPU ${fig[nio.debug.cpu]} s) | ${fig[libpq.debug]} s (CPU ${fig[libpq.debug.cpu]} s) |"
  echo "| clean release build (\`--static-swift-stdlib\`) | ${fig[nio.release]} s (CPU ${fig[nio.release.cpu]} s) | ${fig[libpq.release]} s (CPU ${fig[libpq.release.cpu]} s) |"
  echo "| modules compiled (release) | ${fig[nio.modules]} | ${fig[libpq.modules]} |"
  echo "| binary, static stdlib, as built | ${fig[nio.size]} MiB | ${fig[libpq.size]} MiB |"
  echo "| binary, stripped | ${fig[nio.stripped]} MiB | ${fig[libpq.stripped]} MiB (+ libpq.so.5, ${fig[libpq.so]} MiB, shared) |"
  echo "| shared libraries it needs | ${fig[nio.needed]} | ${fig[libpq.needed]}: the other's and ${fig[libpq.brings]} |"
  echo
  echo "Idle: one open connection, one \`SELECT 1\` answered, then $idle s of nothing."
  echo
  echo "| | wake-ups per minute (perf / /proc) | CPU per minute | VmRSS (RssAnon) | threads |"
  echo "|---|---:|---:|---:|---:|"
  for k in libpq nio nio_waiting nio_client nio_client_nka; do
    case $k in
      libpq) label="libpq, waiting in poll(2) on the connection's socket" ;;
      nio) label="postgres-nio, \`PostgresConnection\`, async API" ;;
      nio_waiting) label="postgres-nio, \`PostgresConnection\`, EventLoopFutures waited for by a thread (no Swift concurrency)" ;;
      nio_client) label="postgres-nio, \`PostgresClient\` holding 1 connection, default keep-alive" ;;
      nio_client_nka) label="postgres-nio, \`PostgresClient\` holding 1 connection, keep-alive off" ;;
    esac
    echo "| $label | ${fig[$k.wake_perf]} / ${fig[$k.wake_proc]} | ${fig[$k.idle_cpu]} ms | ${fig[$k.rss]} (${fig[$k.anon]}) MiB | ${fig[$k.threads]} |"
  done
  echo
  echo "Claims: $rows planned rows, claimed 64 at a time (\`FOR UPDATE SKIP LOCKED\`) until none is left (${fig[libpq.on.claims]} claims, the last empty), each claimed row's outcome written by a single-row UPDATE; $runs runs of each, percentiles over every run's statements, totals for each run. Milliseconds unless marked."
  echo
  echo "| | libpq | postgres-nio, async | postgres-nio, futures waited for |"
  echo "|---|---:|---:|---:|"
  for sync in on off; do
    label=$([ "$sync" = on ] && echo "synchronous_commit on (default)" || echo "synchronous_commit off")
    row() { echo "| $label: $1 | ${fig[libpq.$sync.$2]}$3 | ${fig[nio.$sync.$2]}$3 | ${fig[nio_waiting.$sync.$2]}$3 |"; }
    row "claim p50" claim_p50 ""
    row "claim p90" claim_p90 ""
    row "claim max" claim_max ""
    row "all claims, each run" claim_total " s"
    row "outcome UPDATE p50" outcome_p50 ""
    row "outcome UPDATE p90" outcome_p90 ""
    row "claims and outcomes, each run" total " s"
    row "the client's CPU time (user + system), each run" cpu " s"
  done
  echo
  echo "Load while measuring idle and claims: before \`$uptime_before\`, after \`$uptime_after\`; steal $steal_pct % of the CPU time."
  echo
  echo "Load averages (1, 5, 15 min) before → after each build:"
  echo
  for k in nio.resolve nio.debug nio.release libpq.debug libpq.release; do
    echo "- $k: ${fig[$k.load]:-}"
  done
  echo
  echo "postgres-nio resolved: ${fig[nio.versions]}."
} >"$out"
cat "$out"
log "work folder: $work"
