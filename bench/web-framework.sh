#!/usr/bin/env bash
# NOT RUN BY CI, and not by scripts/test: it takes 30 to 60 minutes of two cores. Run it by hand
# when the choice of web server for the desk (issue 25) is to be measured again.
#
# What Hummingbird 2 would cost nhacviec, measured beside nhacviec itself: a minimal Hummingbird
# 2.28.1 app (with hummingbird-auth 2.5.0 sessions and swift-mustache 2.1.1, as the issue
# suggests) serving one page with a session, and `nhacviec run` on the shipped Rules/ with
# `daemon.http_listen` set (our own HTTP server on TCP). For each: clean debug and release build
# times, wall clock and CPU (release with --static-swift-stdlib, as the Debian package ships it),
# the binary's size as built and stripped, and, started and asked for its page twice, resident memory and wake-ups over IDLE
# seconds of doing nothing. Wake-ups are counted as bench/compare.sh counts them: perf stat -e
# context-switches on the process (every thread), with the /proc sum of voluntary and
# involuntary context switches of the live threads beside it. Two Foundation-only programs,
# built the same way, are the floor both binaries stand on (with and without ICU's data).
#
# Everything is built in a temporary folder (WORK, default a fresh /tmp/web-framework.XXXXXX)
# from a `git archive` of HEAD, so the worktree's .build is neither used nor touched. Packages
# resolve offline on a machine where git reads github.com from a local mirror
# (/etc/gitconfig url.insteadOf); resolution is timed apart from the builds. Every build runs
# under `nice -n 19`: on a shared machine, the load averages printed beside each time say how far
# to trust it.
#
# Usage: bench/web-framework.sh            prints the table (and keeps it in WORK/web-framework.md);
#        bench/results/web-framework.md is that table with its reading, written by hand
#        IDLE=10 OUT=/tmp/wf.md WORK=/tmp/wf bench/web-framework.sh    a quicker try
# Needs: swift, perf (linux-perf; without it only the /proc count), curl, strip.
set -euo pipefail
cd "$(dirname "$0")/.."
idle=${IDLE:-60}
work=${WORK:-$(mktemp -d /tmp/web-framework.XXXXXX)}
out=${OUT:-$work/web-framework.md}
mkdir -p "$work" "$(dirname "$out")"
commit=$(git rev-parse --short HEAD)
log() { echo "web-framework: $*" >&2; }

declare -A fig
pids=()
building=""

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
}
trap cleanup EXIT

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# timed KEY DIR COMMAND…: wall-clock and CPU (user + system, of every process the build waited
# for) seconds of COMMAND run in DIR under nice -n 19, and the load averages before and after.
# On a shared machine the wall clock measures the others' builds as much as this one; the CPU
# time much less so.
timed() {
  local key=$1 dir=$2
  shift 2
  local before t0 t1 p
  before=$(loadavg)
  log "$key: $* (load $before)"
  t0=$(date +%s.%N)
  (cd "$dir" && exec /usr/bin/time -f '%e %U %S' -o "$work/$key.time" nice -n 19 "$@" >"$work/$key.log" 2>&1) &
  building=$!
  # SwiftPM starts its compilers at the default priority (nice 0) whatever its own is: bring
  # them down to 19 as they appear, so that the other builds on the machine go first.
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

# size KEY BINARY: the binary as built and stripped, in MiB.
size() {
  local key=$1 bin=$2
  cp "$bin" "$work/$key.stripped"
  strip "$work/$key.stripped"
  fig[$key.size]=$(stat -c %s "$bin" | awk '{ printf "%.1f", $1 / 1048576 }')
  fig[$key.stripped]=$(stat -c %s "$work/$key.stripped" | awk '{ printf "%.1f", $1 / 1048576 }')
}

proc_field() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

ctxt_sum() {
  local pid=$1 total=0 t v
  for t in /proc/"$pid"/task/*/status; do
    v=$(awk '/ctxt_switches/ { s += $2 } END { print s + 0 }' "$t" 2>/dev/null || echo 0)
    total=$((total + v))
  done
  echo "$total"
}

# idle KEY URL COMMAND…: starts COMMAND, waits for URL to answer, asks for it twice with the
# cookie of the first answer (a desk page with a session), then counts wake-ups over $idle s.
idle_measure() {
  local key=$1 url=$2
  shift 2
  "$@" >"$work/$key.run.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  local i
  for i in $(seq 1 300); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || {
      log "$key exited; see $work/$key.run.log"
      exit 1
    }
    sleep 0.1
  done
  rm -f "$work/$key.cookies"
  curl -fsS -c "$work/$key.cookies" -b "$work/$key.cookies" -o "$work/$key.page1" -D "$work/$key.headers1" "$url"
  curl -fsS -c "$work/$key.cookies" -b "$work/$key.cookies" -o "$work/$key.page2" "$url"
  sleep 3 # past the first pass (nhacviec) and the first tick of every timer, as compare.py waits
  local cs0 cs1 cpu0 cpu1 perf_out
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
  local perf_cs
  perf_cs=$(echo "$perf_out" | awk -F, '$3 == "context-switches" { print ($1 == "<not counted>" ? 0 : $1) }')
  fig[$key.wake_perf]=$(awk -v n="${perf_cs:-}" -v s="$idle" 'BEGIN { if (n == "") print "n/a"; else printf "%.0f", n * 60 / s }')
  fig[$key.wake_proc]=$(awk -v n=$((cs1 - cs0)) -v s="$idle" 'BEGIN { printf "%.0f", n * 60 / s }')
  fig[$key.cpu]=$(awk -v n=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" -v s="$idle" 'BEGIN { printf "%.0f", n * 1000 / hz * 60 / s }')
  fig[$key.rss]=$(proc_field "$pid" VmRSS | awk '{ printf "%.1f", $1 / 1024 }')
  fig[$key.anon]=$(proc_field "$pid" RssAnon | awk '{ printf "%.1f", $1 / 1024 }')
  fig[$key.threads]=$(ls "/proc/$pid/task" | wc -l)
  fig[$key.cookie]=$(grep -ci '^set-cookie:' "$work/$key.headers1" || true)
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  log "$key idle: ${fig[$key.wake_perf]} wake-ups/min (perf), ${fig[$key.wake_proc]} (/proc), RSS ${fig[$key.rss]} MiB"
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# MARK: the Hummingbird app

hb=$work/hummingbird-desk
rm -rf "$hb"
mkdir -p "$hb/Sources/Desk"
cat >"$hb/Package.swift" <<'EOF'
// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "hummingbird-desk",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", exact: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", exact: "2.1.1"),
    ],
    targets: [
        .executableTarget(
            name: "Desk",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
            ]
        )
    ]
)
EOF
cat >"$hb/Sources/Desk/main.swift" <<'EOF'
// One page of the desk as Hummingbird would serve it: a session in memory (cookie), a Mustache
// template, HTML in Vietnamese. The port is the first argument.
import Hummingbird
import HummingbirdAuth
import Mustache

struct DeskSession: Codable, Sendable {
    var user: String
    var views: Int
}

typealias DeskContext = BasicSessionRequestContext<DeskSession, String>

let page = try MustacheTemplate(
    string: """
        <!DOCTYPE html>
        <html lang="vi"><head><meta charset="utf-8"><title>Mùa báo cáo</title></head>
        <body><h1>Mùa báo cáo</h1><p>Xin chào {{user}}: lần xem thứ {{views}}.</p></body></html>
        """
)
let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 8080 : 8080
let sessions = MemoryPersistDriver()
let router = Router(context: DeskContext.self)
router.add(middleware: SessionMiddleware(storage: sessions))
router.get("/") { _, context -> Response in
    var session = context.sessions.session ?? DeskSession(user: "cán bộ", views: 0)
    session.views += 1
    if !context.sessions.updateSession(session) {
        context.sessions.createSession(session)
    }
    let html = page.render(["user": session.user, "views": session.views])
    return Response(
        status: .ok,
        headers: [.contentType: "text/html; charset=utf-8"],
        body: .init(byteBuffer: ByteBuffer(string: html))
    )
}
let app = Application(
    router: router,
    configuration: .init(address: .hostname("127.0.0.1", port: port)),
    services: [sessions]
)
try await app.runService()
EOF

# The floor: a program that only links Foundation, built the same way.
floor=$work/foundation-only
rm -rf "$floor"
mkdir -p "$floor/Sources/Floor"
cat >"$floor/Package.swift" <<'EOF'
// swift-tools-version:6.2
import PackageDescription

let package = Package(name: "foundation-only", targets: [.executableTarget(name: "Floor")])
EOF
cat >"$floor/Sources/Floor/main.swift" <<'EOF'
import Foundation

print(Date().formatted(.iso8601), ProcessInfo.processInfo.processIdentifier)
EOF

# The floor with all of Foundation (locale-aware formatting pulls in ICU's data, as nhacviec's
# dates and Hummingbird's FullFoundation trait do): what the two binaries share.
full=$work/foundation-full
rm -rf "$full"
mkdir -p "$full/Sources/Floor"
cat >"$full/Package.swift" <<'EOF'
// swift-tools-version:6.2
import PackageDescription

let package = Package(name: "foundation-full", targets: [.executableTarget(name: "Floor")])
EOF
cat >"$full/Sources/Floor/main.swift" <<'EOF'
import Foundation

let formatter = DateFormatter()
formatter.locale = Locale(identifier: "vi_VN")
formatter.dateFormat = "dd/MM/yyyy"
let url = URL(string: "https://example.org/c/token")!
let data = try JSONSerialization.data(withJSONObject: ["host": url.host ?? ""])
print(formatter.string(from: Date()), String(format: "%05d", data.count), ProcessInfo.processInfo.processIdentifier)
EOF

# MARK: nhacviec at HEAD

nv=$work/nhacviec
rm -rf "$nv"
mkdir -p "$nv"
git archive HEAD | tar -x -C "$nv"

# MARK: builds

machine="$(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr); $(swift --version 2>/dev/null | head -1)"
started=$(date -u '+%F %H:%M UTC')

timed hb.resolve "$hb" swift package resolve
timed hb.debug "$hb" swift build --product Desk
timed hb.release "$hb" swift build -c release --static-swift-stdlib --product Desk
size hb "$(cd "$hb" && swift build -c release --static-swift-stdlib --show-bin-path)/Desk"

timed nv.resolve "$nv" swift package resolve
timed nv.debug "$nv" swift build --product nhacviec
timed nv.release "$nv" swift build -c release --static-swift-stdlib --product nhacviec
nvbin="$(cd "$nv" && swift build -c release --static-swift-stdlib --show-bin-path)/nhacviec"
size nv "$nvbin"

timed floor.debug "$floor" swift build
timed floor.release "$floor" swift build -c release --static-swift-stdlib
size floor "$(cd "$floor" && swift build -c release --static-swift-stdlib --show-bin-path)/Floor"
timed full.debug "$full" swift build
timed full.release "$full" swift build -c release --static-swift-stdlib
size full "$(cd "$full" && swift build -c release --static-swift-stdlib --show-bin-path)/Floor"

# MARK: idle

port=$(free_port)
idle_measure hb "http://127.0.0.1:$port/" "$work/hb.stripped" "$port"

# The shipped Rules/ with the TCP listener on; the clock where nothing is due, as compare.py
# starts it (QUIET), so that idle means idle.
rules=$work/nv-rules
rm -rf "$rules"
cp -r "$nv/Rules" "$rules"
rm -rf "$rules/.nhacviec"
port=$(free_port)
printf '\ndaemon:\n  http_listen: "127.0.0.1:%s"\n' "$port" >>"$rules/nhacviec.yaml"
idle_measure nv "http://127.0.0.1:$port/-/healthy" \
  "$work/nv.stripped" run --config "$rules/nhacviec.yaml" --socket "$rules/ctl.sock" --clock-start 2026-09-01T10:00

# MARK: the table

{
  echo "# What Hummingbird 2 would cost: measurements for the desk's web server (issue 25)"
  echo
  echo "Reproduce with \`bench/web-framework.sh\` (idle window $idle s; not run by CI)."
  echo "Machine: $machine."
  echo "Measured: $started, nhacviec at commit $commit; every build under \`nice -n 19\` on a machine shared with other builds (load averages below)."
  echo
  echo "| | Hummingbird 2.28.1 + auth 2.5.0 + mustache 2.1.1, one page with a session | nhacviec \`run\`, shipped Rules/ + \`daemon.http_listen\` | Foundation, date formatting only (floor) | all of Foundation, with ICU (floor) |"
  echo "|---|---:|---:|---:|---:|"
  echo "| package resolution (offline mirror) | ${fig[hb.resolve]} s | ${fig[nv.resolve]} s | – | – |"
  echo "| clean debug build (\`swift build --product\` the app) | ${fig[hb.debug]} s (CPU ${fig[hb.debug.cpu]} s) | ${fig[nv.debug]} s (CPU ${fig[nv.debug.cpu]} s) | ${fig[floor.debug]} s (CPU ${fig[floor.debug.cpu]} s) | ${fig[full.debug]} s (CPU ${fig[full.debug.cpu]} s) |"
  echo "| clean release build (\`-c release --static-swift-stdlib --product\` the app) | ${fig[hb.release]} s (CPU ${fig[hb.release.cpu]} s) | ${fig[nv.release]} s (CPU ${fig[nv.release.cpu]} s) | ${fig[floor.release]} s (CPU ${fig[floor.release.cpu]} s) | ${fig[full.release]} s (CPU ${fig[full.release.cpu]} s) |"
  echo "| binary, static stdlib, as built | ${fig[hb.size]} MiB | ${fig[nv.size]} MiB | ${fig[floor.size]} MiB | ${fig[full.size]} MiB |"
  echo "| binary, stripped | ${fig[hb.stripped]} MiB | ${fig[nv.stripped]} MiB | ${fig[floor.stripped]} MiB | ${fig[full.stripped]} MiB |"
  echo "| idle resident memory (VmRSS) | ${fig[hb.rss]} MiB | ${fig[nv.rss]} MiB | – | – |"
  echo "| of which private (RssAnon) | ${fig[hb.anon]} MiB | ${fig[nv.anon]} MiB | – | – |"
  echo "| idle wake-ups per minute (perf context-switches) | ${fig[hb.wake_perf]} | ${fig[nv.wake_perf]} | – | – |"
  echo "| idle wake-ups per minute (/proc, live threads) | ${fig[hb.wake_proc]} | ${fig[nv.wake_proc]} | – | – |"
  echo "| idle CPU time per minute | ${fig[hb.cpu]} ms | ${fig[nv.cpu]} ms | – | – |"
  echo "| threads | ${fig[hb.threads]} | ${fig[nv.threads]} | – | – |"
  echo
  echo "Load averages (1, 5, 15 min) before → after each build:"
  echo
  for k in hb.resolve hb.debug hb.release nv.resolve nv.debug nv.release floor.debug floor.release full.debug full.release; do
    echo "- $k: ${fig[$k.load]}"
  done
  echo
  echo "Both servers answered their page before the idle window (Hummingbird set ${fig[hb.cookie]} session cookie)."
} >"$out"
cat "$out"
log "work folder: $work"
