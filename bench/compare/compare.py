#!/usr/bin/python3
"""nhacviec and Prometheus Alertmanager side by side on the same notification work, on loopback
only, one program after the other in one run. bench/compare.sh runs it; see bench/RESULTS.md.

Every wait is bounded in time, every loop in count, and every process started is stopped (the
`Procs` registry, in a finally). Standard library only, plus aiosmtpd in receiver.py.
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"
AM = "/usr/bin/prometheus-alertmanager"
AMTOOL = "/usr/bin/amtool"
# The benchmark rule's only step: bench/U*/2026/remind-1d at 2026-11-16T09:00+07:00 (see gen).
STEP = datetime.datetime(2026, 11, 16, 9, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=7)))
QUIET = "2026-09-01T10:00"  # nothing due, for the shipped pack and the benchmark rule alike
LEAD = 4.0  # seconds between the daemon's clock start and the step falling due


def log(*args):
    print("[compare %s]" % time.strftime("%H:%M:%S"), *args, file=sys.stderr, flush=True)


def local(instant):
    return instant.strftime("%Y-%m-%dT%H:%M:%S")


# MARK: processes


class Procs:
    """Every process the benchmark starts, so that a finally can stop them all."""

    def __init__(self, logdir):
        self.logdir = logdir
        self.live = []
        self.serial = 0

    def start(self, name, argv, env=None):
        self.serial += 1
        out = open(os.path.join(self.logdir, "%03d-%s.log" % (self.serial, name)), "wb")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        out.close()
        self.live.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, wait=25):
        t = time.time()
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        if p in self.live:
            self.live.remove(p)
        if time.time() - t > 2:
            log("note: %s took %.1f s to stop after signal %d" % (os.path.basename(p.args[0]), time.time() - t, sig))

    def stop_all(self):
        for p in list(self.live):
            self.stop(p, wait=10)


def proc_status(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def peak_mib(pid):
    return proc_status(pid, "VmHWM") / 1024


def rss_mib(pid):
    return proc_status(pid, "VmRSS") / 1024


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def steal_seconds():
    """CPU time the hypervisor gave to others while this machine's processes were ready to run
    (`steal` in /proc/stat, all CPUs): a burst with much of it measured a shared machine, not
    the program."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return (int(fields[8]) if len(fields) > 8 else 0) / os.sysconf("SC_CLK_TCK")


def context_switches(pid):
    """Voluntary + involuntary context switches of every live thread: each is one wake-up."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if "ctxt_switches" in line:
                        total += int(line.split()[1])
        except OSError:
            pass
    return total, len(os.listdir("/proc/%d/task" % pid))


# MARK: the receiver


class Receiver:
    def __init__(self, procs, work):
        hp, sp = os.path.join(work, "http.port"), os.path.join(work, "smtp.port")
        self.proc = procs.start("receiver", [PY, os.path.join(HERE, "receiver.py"), "--http-port-file", hp, "--smtp-port-file", sp])
        for _ in range(200):
            if os.path.exists(hp) and os.path.exists(sp):
                break
            time.sleep(0.05)
        self.http_port = int(open(hp).read())
        self.smtp_port = int(open(sp).read())
        self.conn = None

    def call(self, method, path):
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30)
                self.conn.request(method, path)
                return json.loads(self.conn.getresponse().read() or b"null")
            except (OSError, http.client.HTTPException, ValueError):
                self.conn = None
                if attempt == 2:
                    raise
        return None

    def reset(self):
        self.call("POST", "/reset")

    def stats(self):
        return self.call("GET", "/stats")

    def arrivals(self):
        return self.call("GET", "/arrivals")

    def wait_distinct(self, n, timeout, settle=0.0):
        """Polls until n distinct keys arrived (or timeout), then waits `settle` s for stragglers."""
        deadline = time.time() + timeout
        s = self.stats()
        while s["distinct"] < n and time.time() < deadline:
            time.sleep(0.02)
            s = self.stats()
        if settle:
            time.sleep(settle)
            s = self.stats()
        return s


def burst_figures(arrivals, start_of, n):
    """Time until all n keys arrived, latency percentiles of each key's first arrival."""
    first = {}
    for t, _, key in arrivals:
        if key not in first or t < first[key]:
            first[key] = t
    lat = sorted((t - start_of(key)) * 1000 for key, t in first.items())
    if not lat:
        return {"received": 0}

    def pct(p):
        return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))]

    return {
        "received": len(first),
        "total_s": (max(first.values()) - min(start_of(k) for k in first)) if len(first) >= n else None,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": lat[-1],
    }


# MARK: nhacviec


def gen_nhacviec(path, units, channel, http_port, smtp_port, daemon=""):
    """A configuration, a directory of `units` units under one root, and one rule whose only step
    (remind-1d, to the unit's own head) falls due for every unit at the same instant, STEP.
    `daemon` is the inside of a `daemon: { … }` mapping (a shared store, a node's name)."""
    os.makedirs(os.path.join(path, "rules"), exist_ok=True)
    channels = {
        "hook": 'hook: { type: webhook, url: "http://127.0.0.1:%d/hook/nhacviec" }' % http_port,
        "mail": 'mail: { type: smtp, url: "smtp://127.0.0.1:%d", from: "Nhắc việc <nhacviec@bench.example>", tls: none }'
        % smtp_port,
    }
    with open(os.path.join(path, "nhacviec.yaml"), "w") as f:
        f.write(
            "timezone: Asia/Ho_Chi_Minh\n"
            "directory:\n  - file: units.csv\n"
            "calendar: { working_days: [mon, tue, wed, thu, fri, sat, sun], holidays: none }\n"
            'send_window: { opens: "00:00", closes: "23:59" }\n'
            "digest: { minimum: 0 }          # one message per notice, as Alertmanager's group_by: ['...']\n"
            "rules: rules\n"
            "channels:\n  %s\n" % channels[channel]
            + ("daemon: { %s }\n" % daemon if daemon else "")
        )
    with open(os.path.join(path, "rules", "bench.yaml"), "w") as f:
        f.write(
            "- id: bench\n  kind: deadline\n"
            "  title: Báo cáo thử nghiệm {{period.name}}\n"
            "  basis: Công văn thử nghiệm hiệu năng, khoản 1\n"
            "  applies_to: { kinds: [unit] }\n  period: yearly\n"
            '  due: { date: "11-17", convention: at, time: "09:00" }\n'
            "  remind: [1d]\n  remind_to: [unit.head]\n  stop_after: 1d\n"
            "  channels: [%s]\n" % channel
        )
    with open(os.path.join(path, "units.csv"), "w", encoding="utf-8") as f:
        f.write("id,name,kind,parent_id,tags,head.name,head.email\n")
        f.write("ROOT,Tỉnh Thử nghiệm,province,,,Chủ tịch UBND tỉnh,lanhdao@root.bench.example\n")
        for i in range(units):
            f.write("U%d,Xã thử nghiệm %d,unit,ROOT,,Lãnh đạo xã %d,lanhdao@u%d.bench.example\n" % (i, i, i, i))
    return os.path.join(path, "nhacviec.yaml")


class Nhacviec:
    name = "nhacviec"

    def __init__(self, procs, work, binary):
        self.procs, self.work, self.binary = procs, work, binary
        self.p = None

    def launch(self, config, clock_start):
        """Starts the daemon with a fresh NOTIFY_SOCKET; returns (launch time, READY=1 time)."""
        self.config = config
        self.sock = os.path.join(os.path.dirname(config), "ctl.sock")
        notify_path = os.path.join(self.work, "notify.sock")
        if os.path.exists(notify_path):
            os.unlink(notify_path)
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)
        env = dict(os.environ, NOTIFY_SOCKET=notify_path)
        env.pop("WATCHDOG_USEC", None)
        try:
            t0 = time.time()
            self.p = self.procs.start(
                "nhacviec", [self.binary, "run", "--config", config, "--socket", self.sock, "--clock-start", clock_start], env
            )
            deadline = t0 + 120
            while time.time() < deadline:
                notify.settimeout(max(0.01, deadline - time.time()))
                try:
                    msg = notify.recv(4096).decode()
                except socket.timeout:
                    break
                if "READY=1" in msg.split("\n"):
                    return t0, time.time()
            raise RuntimeError("nhacviec sent no READY=1 (see the logs in %s)" % self.procs.logdir)
        finally:
            notify.close()
            os.unlink(notify_path)

    def stop(self, sig=signal.SIGTERM):
        self.procs.stop(self.p, sig)

    def status_argv(self):
        return [self.binary, "status", "--socket", self.sock]

    def list_argv(self):
        return [self.binary, "notices", "--socket", self.sock]


def fresh_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def nv_burst(nv, rx, work, n, channel, timeout, status_runs=0, server=None):
    """n units whose step falls due at once while the daemon runs: from that instant to arrival.
    With `server` (a `Postgres`), the journal is a new database on it, whose processes' CPU time
    is counted apart."""
    daemon = 'store: "%s"' % server.new_database() if server else ""
    config = gen_nhacviec(fresh_dir(os.path.join(work, "nv-burst")), n, channel, rx.http_port, rx.smtp_port, daemon)
    rx.reset()
    clock_start = STEP - datetime.timedelta(seconds=LEAD)
    _, ready = nv.launch(config, local(clock_start))
    # The daemon's clock started at clock_start a moment before READY=1 (after loading the
    # configuration); READY=1 + LEAD is when the step falls due, late by the store's opening at most.
    due = ready + LEAD
    # CPU time from a second before the notices fall due (start-up and the first, empty pass
    # are over) until the receiver has them all: planning, journaling and delivering them.
    time.sleep(max(0, due - 1 - time.time()))
    cpu0, rx0, st0 = cpu_seconds(nv.p.pid), cpu_seconds(rx.proc.pid), steal_seconds()
    db0 = server.cpu_seconds() if server else 0
    s = rx.wait_distinct(n, LEAD + timeout)
    cpu1, rx1, st1 = cpu_seconds(nv.p.pid), cpu_seconds(rx.proc.pid), steal_seconds()
    db1 = server.cpu_seconds() if server else 0
    figures = burst_figures(rx.arrivals(), lambda key: due, n)
    if server:
        figures["db_cpu_us"] = (db1 - db0) * 1e6 / n
    figures["peak_mib"] = peak_mib(nv.p.pid)
    figures["cpu_us"] = (cpu1 - cpu0) * 1e6 / n
    figures["rx_cpu_us"] = (rx1 - rx0) * 1e6 / n
    figures["steal_s"] = st1 - st0
    if status_runs:
        figures["status_ms"] = time_commands(nv.status_argv(), status_runs)
        figures["list_ms"] = time_commands(nv.list_argv(), status_runs)
    nv.stop()
    figures["duplicates"] = s["count"] - s["distinct"]
    return figures


# MARK: Alertmanager


def am_config(path, receiver, http_port, smtp_port, routes=0):
    text = (
        "global:\n"
        "  smtp_smarthost: 127.0.0.1:%d\n"
        "  smtp_from: Alertmanager <alertmanager@bench.example>\n"
        "  smtp_require_tls: false\n"
        "  smtp_hello: localhost\n"
        "route:\n"
        "  receiver: %s\n"
        "  group_by: ['...']      # every alert its own group: one notification each\n"
        "  group_wait: 0s\n"
        "  group_interval: 1m\n"
        "  repeat_interval: 24h\n" % (smtp_port, receiver)
    )
    if routes:
        text += "  routes:\n"
        for i in range(routes):
            text += "    - { matchers: ['unit=\"U%d\"'], receiver: u%d }\n" % (i, i)
    text += (
        "receivers:\n"
        "  - name: hook\n"
        "    webhook_configs:\n"
        "      - { url: 'http://127.0.0.1:%d/hook/alertmanager', send_resolved: false }\n"
        "  - name: mail\n"
        "    email_configs:\n"
        "      - to: 'lanhdao@{{ .CommonLabels.unit }}.bench.example'\n"
        "        send_resolved: false\n"
        "        headers: { X-Bench-Key: '{{ .CommonLabels.alertname }}' }\n" % http_port
    )
    for i in range(routes):
        text += "  - name: u%d\n    webhook_configs: [{ url: 'http://127.0.0.1:%d/hook/u%d', send_resolved: false }]\n" % (
            i,
            http_port,
            i,
        )
    with open(path, "w") as f:
        f.write(text)
    return path


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Alertmanager:
    name = "Alertmanager"

    def __init__(self, procs, work):
        self.procs, self.work = procs, work
        self.p = None

    def launch(self, config, storage, cluster=None):
        """Starts Alertmanager on loopback, without clustering unless `cluster` gives its gossip
        flags; returns (launch, /-/ready answered 200)."""
        self.port = free_port()
        t0 = time.time()
        self.p = self.procs.start(
            "alertmanager",
            [
                AM,
                "--config.file=" + config,
                "--storage.path=" + storage,
                "--web.listen-address=127.0.0.1:%d" % self.port,
                "--log.level=warn",
            ]
            + (cluster or ["--cluster.listen-address="]),
        )
        deadline = t0 + 120
        while time.time() < deadline and self.p.poll() is None:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % self.port, timeout=2) as r:
                    if r.status == 200:
                        return t0, time.time()
            except OSError:
                pass
            time.sleep(0.005)
        raise RuntimeError("Alertmanager never answered /-/ready (see the logs in %s)" % self.procs.logdir)

    def stop(self, sig=signal.SIGTERM):
        self.procs.stop(self.p, sig)

    def post(self, names, batch=64):
        """Posts one alert per name through API v2, in batches of 64 as Prometheus sends them, over
        one kept-alive connection; returns each name's posting time."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        now = datetime.datetime.now(datetime.timezone.utc)
        ends = (now + datetime.timedelta(hours=1)).isoformat()
        posted = {}
        for i in range(0, len(names), batch):
            chunk = names[i : i + batch]
            body = json.dumps(
                [
                    {
                        "labels": {"alertname": name, "unit": name.replace("bench-", "U"), "severity": "warning"},
                        "annotations": {
                            "summary": "[Nhắc việc] Báo cáo thử nghiệm năm 2026 — hạn trước 09:00 ngày 17/11/2026",
                            "description": "Kính gửi: Lãnh đạo xã. Việc \"Báo cáo thử nghiệm năm 2026\" cần hoàn thành trước 09:00 ngày 17/11/2026.",
                        },
                        "startsAt": now.isoformat(),
                        "endsAt": ends,
                    }
                    for name in chunk
                ]
            ).encode()
            t = time.time()
            conn.request("POST", "/api/v2/alerts", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                raise RuntimeError("Alertmanager answered %d to a post of alerts" % r.status)
            for name in chunk:
                posted[name] = t
        conn.close()
        return posted

    def status_argv(self):
        return [AMTOOL, "alert", "query", "--alertmanager.url=http://127.0.0.1:%d" % self.port]


def am_burst(am, rx, work, n, receiver, timeout, status_runs=0):
    """n distinct alerts posted at once; from each post to the notification's arrival."""
    config = am_config(os.path.join(work, "am-burst.yml"), receiver, rx.http_port, rx.smtp_port)
    rx.reset()
    am.launch(config, fresh_dir(os.path.join(work, "am-burst-data")))
    names = ["bench-%d" % i for i in range(n)]
    # CPU time from before the first post until the receiver has them all: taking the alerts in,
    # grouping and delivering them.
    cpu0, rx0, st0 = cpu_seconds(am.p.pid), cpu_seconds(rx.proc.pid), steal_seconds()
    posted = am.post(names)
    s = rx.wait_distinct(n, timeout)
    cpu1, rx1, st1 = cpu_seconds(am.p.pid), cpu_seconds(rx.proc.pid), steal_seconds()
    figures = burst_figures(rx.arrivals(), lambda key: posted.get(key, min(posted.values())), n)
    figures["peak_mib"] = peak_mib(am.p.pid)
    figures["cpu_us"] = (cpu1 - cpu0) * 1e6 / n
    figures["rx_cpu_us"] = (rx1 - rx0) * 1e6 / n
    figures["steal_s"] = st1 - st0
    if status_runs:
        figures["status_ms"] = time_commands(am.status_argv(), status_runs)
        figures["list_ms"] = figures["status_ms"]  # amtool alert query lists every alert
    am.stop()
    figures["duplicates"] = s["count"] - s["distinct"]
    return figures


# MARK: the other figures


def time_commands(argv, runs):
    """Median wall time of `runs` invocations of a whole command, output read and dropped."""
    times = []
    for _ in range(runs):
        t = time.time()
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        times.append((time.time() - t) * 1000)
        if r.returncode != 0:
            raise RuntimeError("%s exited %d: %s" % (" ".join(argv), r.returncode, r.stderr.decode()[-500:]))
    return statistics.median(times)


def shipped_nhacviec(work):
    path = fresh_dir(os.path.join(work, "nv-shipped"))
    shutil.copytree(os.path.join(ROOT, "Rules"), path, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".nhacviec"))
    return os.path.join(path, "nhacviec.yaml")


def shipped_alertmanager(work):
    """Debian's /etc/prometheus/alertmanager.yml as shipped (it only names localhost:25)."""
    path = os.path.join(work, "am-shipped.yml")
    shutil.copy("/etc/prometheus/alertmanager.yml", path)
    return path


def idle(launch, pid_of, seconds):
    """Resident memory, CPU time and wake-ups over `seconds` with nothing to do. Wake-ups are the
    process's context switches (every thread, including threads that come and go) counted by
    `perf stat -e context-switches`; without perf, the sum of /proc/PID/task/*/status."""
    launch()
    time.sleep(3)  # past the first pass (nhacviec) and the first tick of every timer (both)
    pid = pid_of()
    cpu0, (cs0, _) = cpu_seconds(pid), context_switches(pid)
    perf = None
    if shutil.which("perf"):
        perf = subprocess.run(
            ["perf", "stat", "-x", ",", "-e", "context-switches,task-clock", "-p", str(pid), "--", "sleep", str(seconds)],
            capture_output=True, text=True, timeout=seconds + 30,
        )
    else:
        time.sleep(seconds)
    cpu1, (cs1, threads) = cpu_seconds(pid), context_switches(pid)
    switches, cpu_ms = cs1 - cs0, (cpu1 - cpu0) * 1000
    method = "/proc"
    if perf is not None and perf.returncode == 0:
        for line in perf.stderr.splitlines():
            fields = line.split(",")
            if len(fields) < 3:
                continue
            # "<not counted>": the process never ran while perf watched it.
            value = 0.0 if fields[0].strip() == "<not counted>" else float(fields[0] or 0)
            if fields[2] == "context-switches":
                switches, method = int(value), "perf"
            elif fields[2] == "task-clock":
                cpu_ms = value
    return {
        "idle_rss_mib": rss_mib(pid),
        "idle_rss_anon_mib": proc_status(pid, "RssAnon") / 1024,
        "idle_cpu_ms_per_min": cpu_ms * 60 / seconds,
        "idle_wakeups_per_min": max(0, switches) * 60 / seconds,
        "idle_threads": threads,
        "idle_wakeup_method": method,
    }


def nv_crash(nv, rx, work, n, timeout):
    config = gen_nhacviec(fresh_dir(os.path.join(work, "nv-crash")), n, "hook", rx.http_port, rx.smtp_port)
    rx.reset()
    clock_start = STEP - datetime.timedelta(seconds=LEAD)
    _, ready = nv.launch(config, local(clock_start))
    at_kill = kill_midway(nv, rx, n, LEAD + timeout)
    # Restart where the clock was: the step is behind it and in the journal.
    again = clock_start + datetime.timedelta(seconds=time.time() - ready)
    nv.launch(config, local(again))
    s = rx.wait_distinct(n, timeout, settle=3)
    nv.stop()
    return crash_figures(s, n, at_kill)


def kill_midway(prog, rx, n, timeout, burst=None):
    """The receiver itself sends SIGKILL the moment it has half the burst (polling it from here
    would land late: a burst of 1,000 can be over in a tenth of a second). `burst` starts the
    burst once the kill is armed; the kill may cut it short."""
    rx.call("POST", "/kill-at?count=%d&pid=%d" % (n // 2, prog.p.pid))
    if burst:
        try:
            burst()
        except (OSError, http.client.HTTPException, RuntimeError) as e:
            log("note: the burst was cut short by the kill:", e)
    try:
        prog.p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log("note: the receiver did not have half of the burst in time; killing anyway")
    prog.stop(signal.SIGKILL)
    time.sleep(0.5)
    return rx.stats()["count"]


def crash_figures(s, n, at_kill):
    return {
        "crash_duplicates": s["count"] - s["distinct"],
        "crash_resent_pct": 100.0 * (s["count"] - s["distinct"]) / at_kill if at_kill else None,
        "crash_losses": n - s["distinct"],
        "crash_at_kill": at_kill,
    }


def am_crash(am, rx, work, n, timeout):
    config = am_config(os.path.join(work, "am-crash.yml"), "hook", rx.http_port, rx.smtp_port)
    storage = fresh_dir(os.path.join(work, "am-crash-data"))
    rx.reset()
    am.launch(config, storage)
    names = ["bench-%d" % i for i in range(n)]
    at_kill = kill_midway(am, rx, n, timeout, burst=lambda: am.post(names))
    am.launch(config, storage)
    # Alertmanager keeps alerts in memory only: the client (Prometheus) sends them again at its
    # next evaluation, which the driver does at once.
    time.sleep(1)
    lost_without_resend = n - rx.stats()["distinct"]
    am.post(names)
    s = rx.wait_distinct(n, timeout, settle=3)
    am.stop()
    figures = crash_figures(s, n, at_kill)
    figures["crash_lost_without_resend"] = lost_without_resend
    return figures


# MARK: PostgreSQL and two nodes


class Postgres:
    """A throwaway PostgreSQL server (scripts/postgres) in the work folder, on disk with fsync on
    as a province's would be; one new database per measurement."""

    def __init__(self, work):
        self.dir = os.path.join(work, "pg")
        # The server runs as `postgres` when the driver is root: it must reach its folder.
        os.chmod(work, 0o711)
        out = subprocess.run(
            [os.path.join(ROOT, "scripts", "postgres"), "start", self.dir, "-c", "fsync=on"],
            capture_output=True, text=True, timeout=120,
        )
        if out.returncode != 0:
            raise RuntimeError("scripts/postgres start failed: " + out.stderr[-500:])
        self.serial = 0

    def new_database(self):
        self.serial += 1
        name = "bench%d" % self.serial
        self.psql("postgres", "CREATE DATABASE %s" % name)
        return "postgresql://nhacviec@/%s?host=%s" % (name, self.dir)

    def psql(self, database, sql):
        r = subprocess.run(
            ["psql", "host=%s user=nhacviec dbname=%s" % (self.dir, database), "-qAtc", sql],
            capture_output=True, text=True, timeout=60,
        )
        if r.returncode != 0:
            raise RuntimeError("psql: " + r.stderr[-500:])
        return r.stdout.strip()

    def cpu_seconds(self):
        """The server's CPU time: the postmaster's own and its exited children's (cutime, cstime,
        which the postmaster reaps), plus every live backend's and auxiliary process's."""
        with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
            master = int(f.readline())
        with open("/proc/%d/stat" % master) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total = sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == master:
                continue
            try:
                with open("/proc/%s/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def stop(self):
        subprocess.run([os.path.join(ROOT, "scripts", "postgres"), "stop", self.dir], capture_output=True, timeout=120)


def nv_role(nv):
    r = subprocess.run(nv.status_argv() + ["--json"], capture_output=True, text=True, timeout=30)
    try:
        return (json.loads(r.stdout).get("cluster") or {}).get("role")
    except ValueError:
        return None


def nv_cluster_crash(nodes, rx, work, n, timeout, server):
    """Two daemons on one new database (each its own folder, state and socket; `node: n1`/`n2`,
    `lease: 5s`), n notices falling due at once; the leader killed when the receiver has half."""
    url = server.new_database()
    lead = 2 * LEAD  # both nodes up before the step falls due
    clock_start = STEP - datetime.timedelta(seconds=lead)
    configs = [
        gen_nhacviec(fresh_dir(os.path.join(work, "nv-cluster-" + name)), n, "hook", rx.http_port, rx.smtp_port,
                     'store: "%s", node: %s, lease: 5s' % (url, name))
        for name in ("n1", "n2")
    ]
    rx.reset()
    _, ready = nodes[0].launch(configs[0], local(clock_start))
    nodes[1].launch(configs[1], local(clock_start + datetime.timedelta(seconds=time.time() - ready)))
    due = ready + lead
    roles = [nv_role(node) for node in nodes]
    if "leader" not in roles:
        raise RuntimeError("no node leads: %s" % roles)
    leader, other = (nodes[0], nodes[1]) if roles[0] == "leader" else (nodes[1], nodes[0])
    name = "n1" if leader is nodes[0] else "n2"
    at_kill = kill_midway(leader, rx, n, lead + timeout)
    killed = time.time()
    # What the dead node held: claimed, being sent, or sent with its outcome not yet recorded.
    database = url.split("/")[3].split("?")[0]
    in_flight = int(server.psql(database, "SELECT count(*) FROM journal WHERE state = 'sending' AND claimed_by = '%s'" % name))
    took_over = None
    deadline = killed + timeout
    # Until every outcome is recorded: what the dead node held goes again only once its lease ends,
    # possibly after all have arrived once, and those second copies are the duplicates to count.
    while time.time() < deadline:
        if took_over is None and nv_role(other) == "leader":
            took_over = time.time() - killed
        if (
            took_over is not None
            and rx.stats()["distinct"] >= n
            and server.psql(database, "SELECT count(*) FROM journal WHERE state = 'sent'") == str(n)
        ):
            break
        time.sleep(0.1)
    s = rx.wait_distinct(n, max(0, deadline - time.time()), settle=1)
    other.stop()
    figures = cluster_figures(s, n, at_kill, burst_figures(rx.arrivals(), lambda key: due, n))
    figures["cluster_in_flight"] = in_flight
    figures["cluster_takeover_s"] = took_over
    return figures


def cluster_figures(s, n, at_kill, burst):
    return {
        "cluster_duplicates": s["count"] - s["distinct"],
        "cluster_resent_pct": 100.0 * (s["count"] - s["distinct"]) / s["distinct"] if s["distinct"] else None,
        "cluster_losses": n - s["distinct"],
        "cluster_at_kill": at_kill,
        "cluster_total_s": burst.get("total_s"),
    }


def am_cluster_crash(ams, rx, work, n, timeout):
    """Two Alertmanagers gossiping (`--cluster.listen-address`, `--cluster.peer` at each other),
    every batch of alerts posted to both as Prometheus does; the instance that sends first (the
    first in the cluster's order: the other waits its peer timeout) killed when the receiver has
    half."""
    config = am_config(os.path.join(work, "am-cluster.yml"), "hook", rx.http_port, rx.smtp_port)
    gossip = [free_port(), free_port()]
    rx.reset()
    for i, am in enumerate(ams):
        am.launch(
            config,
            fresh_dir(os.path.join(work, "am-cluster-%d" % i)),
            [
                "--cluster.listen-address=127.0.0.1:%d" % gossip[i],
                "--cluster.peer=127.0.0.1:%d" % gossip[1 - i],
                "--cluster.settle-timeout=10s",
            ],
        )
    # Until each sees the other, both would send everything.
    deadline = time.time() + 60
    while time.time() < deadline:
        peers = [am_status(am).get("cluster", {}) for am in ams]
        if all(len(p.get("peers") or []) == 2 and p.get("status") == "ready" for p in peers):
            break
        time.sleep(0.2)
    else:
        raise RuntimeError("the two Alertmanagers never formed a cluster: %s" % peers)
    order = sorted(p["name"] for p in peers[0]["peers"])
    first = 0 if order.index(peers[0]["name"]) == 0 else 1
    names = ["bench-%d" % i for i in range(n)]
    posted = {}

    def post_both():
        # A client of an HA pair posts each batch to each; one that stopped answering is passed over.
        live = list(ams)
        for i in range(0, n, 64):
            for am in list(live):
                try:
                    for k, v in am.post(names[i : i + 64]).items():
                        posted.setdefault(k, v)
                except (OSError, http.client.HTTPException, RuntimeError) as e:
                    log("note: a post to one Alertmanager failed (the kill):", e)
                    live.remove(am)

    t0 = time.time()
    at_kill = kill_midway(ams[first], rx, n, timeout, burst=post_both)
    s = rx.wait_distinct(n, timeout, settle=3)
    ams[1 - first].stop()
    figures = cluster_figures(s, n, at_kill, burst_figures(rx.arrivals(), lambda key: posted.get(key, t0), n))
    return figures


def am_status(am):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/api/v2/status" % am.port, timeout=5) as r:
            return json.loads(r.read())
    except (OSError, ValueError):
        return {}


# MARK: the report

PARTS = ["webhooks", "emails", "startup", "idle", "crash", "postgresql-webhooks", "cluster-crash"]


def load_and_steal():
    """The machine's load average and its steal so far: read at the start of every run and at the
    end, so the report says how shared the machine was."""
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return {"at": time.strftime("%H:%M:%S", time.gmtime()), "loadavg": load, "steal_s": steal_seconds()}


FIGURES = [
    # id, label, unit, format
    ("hook1k_total_s", "1. Webhook burst, 1,000: time until the receiver has all", "s", "%.2f"),
    ("hook1k_p50_ms", "1. Webhook burst, 1,000: latency p50", "ms", "%.0f"),
    ("hook1k_p99_ms", "1. Webhook burst, 1,000: latency p99", "ms", "%.0f"),
    ("hook1k_peak_mib", "1. Webhook burst, 1,000: peak resident memory", "MiB", "%.0f"),
    ("hook1k_cpu_us", "1. Webhook burst, 1,000: CPU time per notification", "µs", "%.0f"),
    ("hook10k_total_s", "1. Webhook burst, 10,000: time until the receiver has all", "s", "%.2f"),
    ("hook10k_p50_ms", "1. Webhook burst, 10,000: latency p50", "ms", "%.0f"),
    ("hook10k_p99_ms", "1. Webhook burst, 10,000: latency p99", "ms", "%.0f"),
    ("hook10k_peak_mib", "1. Webhook burst, 10,000: peak resident memory", "MiB", "%.0f"),
    ("hook10k_cpu_us", "1. Webhook burst, 10,000: CPU time per notification", "µs", "%.0f"),
    ("hook10k_rx_cpu_us", "1. Webhook burst, 10,000: the receiver's CPU time per notification (same receiver)", "µs", "%.0f"),
    ("mail_total_s", "2. Email burst, 1,000: time until the receiver has all", "s", "%.2f"),
    ("mail_p50_ms", "2. Email burst, 1,000: latency p50", "ms", "%.0f"),
    ("mail_p99_ms", "2. Email burst, 1,000: latency p99", "ms", "%.0f"),
    ("mail_peak_mib", "2. Email burst, 1,000: peak resident memory", "MiB", "%.0f"),
    ("mail_cpu_us", "2. Email burst, 1,000: CPU time per notification", "µs", "%.0f"),
    ("mail_rx_cpu_us", "2. Email burst, 1,000: the receiver's CPU time per notification (same receiver)", "µs", "%.0f"),
    ("idle_rss_mib", "3. Idle: resident memory after 60 s", "MiB", "%.1f"),
    ("idle_cpu_ms_per_min", "3. Idle: CPU time per minute", "ms", "%.1f"),
    ("idle_wakeups_per_min", "3. Idle: wake-ups per minute", "", "%.0f"),
    ("start_shipped_ms", "4. Start-up until ready, shipped configuration", "ms", "%.0f"),
    ("start_10k_ms", "4. Start-up until ready, 10,000 units (routes)", "ms", "%.0f"),
    ("status_ms", "5. Status as a whole process, 10,000 held (`nhacviec status`, `amtool alert query`)", "ms", "%.0f"),
    ("list_ms", "5. Listing what is held (`nhacviec notices`: 1,000 of the 10,000, see below; `amtool alert query`: all)", "ms", "%.0f"),
    ("crash_duplicates", "6. Crash mid-burst of 1,000: duplicates", "", "%.0f"),
    ("crash_resent_pct", "6. Crash mid-burst of 1,000: duplicates per message delivered before the kill", "%", "%.0f"),
    ("crash_losses", "6. Crash mid-burst of 1,000: losses", "", "%.0f"),
]


def summarize(samples):
    values = [v for v in samples if isinstance(v, (int, float))]
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def cell(s, fmt):
    if s is None:
        return "—"
    med, lo, hi = s
    return (fmt + " (" + fmt + "–" + fmt + ")") % (med, lo, hi)


def ratio(a, b):
    if a is None or b is None:
        return "—"
    if b[0] == 0:
        return "=" if a[0] == 0 else "∞"
    return "%.2f" % (a[0] / b[0])


def notes_by_figure():
    """bench/compare/notes.md: `## ID [ID…] [| TITLE]` headings, each note for the figures (or
    figure groups: the part of the id before the first `_`) it names. Returns {id: (title, text)}."""
    notes, current = {}, []
    with open(os.path.join(HERE, "notes.md"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^## ([^|]+)(?:\|(.*))?$", line.rstrip("\n"))
            if m:
                current = m.group(1).split()
                for key in current:
                    notes[key] = [(m.group(2) or "").strip(), ""]
            elif current:
                for key in current:
                    notes[key][1] += line
    return {k: (t, v.strip()) for k, (t, v) in notes.items()}


def report(args, results, extras, meta):
    lines = [
        "# nhacviec and Prometheus Alertmanager, side by side",
        "",
        "Reproduce with `%s` (it installs what it needs, builds nhacviec in release mode and runs"
        % meta["command"],
        "both programs on loopback, one after the other, %d runs each, interleaved). The raw samples"
        % meta["runs"],
        "are in [RESULTS.json](RESULTS.json).",
        "",
        "- Machine: %s." % meta["machine"],
        "- Programs: nhacviec %s (release build of %s); %s (Debian package)."
        % (meta["nhacviec"], "commit " + meta["commit"] if meta.get("commit") else "this checkout", meta["alertmanager"]),
        "- Measured: %s UTC, %.0f minutes in all." % (meta["started"], meta["elapsed_s"] / 60),
        "",
        "Each cell is the median of the runs, with the minimum and maximum in brackets; the ratio is",
        "nhacviec's median over Alertmanager's. Lower is better for every figure, so a ratio above 1",
        "means nhacviec is behind.",
        "",
        "| figure | unit | nhacviec | Alertmanager | nhacviec / Alertmanager |",
        "|---|---|---|---|---|",
    ]
    behind = []
    for fid, label, unit, fmt in FIGURES:
        a = summarize(results["nhacviec"].get(fid, []))
        b = summarize(results["Alertmanager"].get(fid, []))
        if a is None and b is None:
            continue  # a part this run did not measure (--only)
        r = ratio(a, b)
        lines.append("| %s | %s | %s | %s | %s |" % (label, unit, cell(a, fmt), cell(b, fmt), r))
        if a is not None and b is not None and a[0] > b[0] * 1.05 and a[0] - b[0] > 1e-9:
            behind.append((fid, label, a[1] <= b[2]))
    lines += ["", "Also measured (not in the ratio table):", ""]
    for text in extras(results):
        lines.append("- " + text)
    lines += ["", open(os.path.join(HERE, "method.md"), encoding="utf-8").read().strip(), ""]
    notes = notes_by_figure()
    lines += ["## Where nhacviec is behind, why, and what would fix it", ""]
    if not behind:
        lines.append("Nowhere in this run.")
    groups = []  # [key, title, [labels], overlapping] in table order, one paragraph per note
    for fid, label, overlap in behind:
        key = fid if fid in notes else fid.split("_")[0]
        title, _ = notes.get(key, ("", ""))
        for g in groups:
            if notes.get(g[0]) is not None and notes.get(g[0]) == notes.get(key):
                g[2].append(label)
                g[3] = g[3] and overlap
                break
        else:
            groups.append([key, title, [label], overlap])
    printed = set()
    for key, title, labels, overlap in groups:
        text = notes[key][1] if key in notes else "(no note written for this figure yet)"
        printed.add(text)
        which = "; ".join(labels)
        if overlap:
            which += " (the ranges of the runs overlap: within the noise of this run)"
        lines += ["**%s.** *Behind on: %s.* %s" % (title or "Note", which, text), ""]
    always = [(t, v) for k, (t, v) in notes.items() if k.startswith("always-") and v not in printed]
    if always:
        lines += ["## Other weaknesses of nhacviec this benchmark showed", ""]
        seen = set()
        for title, text in always:
            if text not in seen:
                seen.add(text)
                lines += ["**%s.** %s" % (title, text), ""]
    if "general" in notes:
        lines += ["## Reading the table", "", notes["general"][1], ""]
    lines += postgresql_section(results, meta)
    return "\n".join(lines).rstrip() + "\n"


SECTION_BEGIN = "<!-- compare.py: On PostgreSQL and two nodes -->"
SECTION_END = "<!-- compare.py: end of On PostgreSQL and two nodes -->"

# id (after pg_hook10k_ / hook10k_), label, unit, format
PG_BURST = [
    ("total_s", "time until the receiver has all", "s", "%.2f"),
    ("p50_ms", "latency p50", "ms", "%.0f"),
    ("p90_ms", "latency p90", "ms", "%.0f"),
    ("peak_mib", "nhacviec's peak resident memory", "MiB", "%.0f"),
    ("cpu_us", "nhacviec's CPU time per notification", "µs", "%.0f"),
    ("db_cpu_us", "PostgreSQL server's CPU time per notification", "µs", "%.0f"),
    ("steal_s", "steal during the burst (the machine's noise)", "s", "%.2f"),
]

CLUSTER = [
    ("cluster_losses", "losses", "", "%.0f"),
    ("cluster_duplicates", "duplicates", "", "%.0f"),
    ("cluster_resent_pct", "duplicates per notification delivered", "%", "%.1f"),
    ("cluster_total_s", "time until the receiver has all (from the instant due / the first post)", "s", "%.2f"),
    ("cluster_at_kill", "arrivals 0.5 s after `kill -9` (armed at half; the survivor sends meanwhile)", "", "%.0f"),
    ("cluster_in_flight", "notices the killed node held (claimed, outcome not recorded)", "", "%.0f"),
    ("cluster_takeover_s", "from the kill until the other node says `leader`", "s", "%.1f"),
]


def postgresql_section(results, meta):
    """The section on the journal in PostgreSQL and on two nodes against two Alertmanagers, when
    this run measured them; [] otherwise."""
    nv, am = results["nhacviec"], results["Alertmanager"]
    if not any(k.startswith(("pg_", "cluster_")) for k in nv):
        return []
    lines = [
        SECTION_BEGIN,
        "## On PostgreSQL and two nodes",
        "",
        "Reproduce with `%s` (%d run%s; the journal in a PostgreSQL %s started by the driver with"
        % (meta["command"], meta["runs"], "" if meta["runs"] == 1 else "s", meta.get("postgresql", "?")),
        "`scripts/postgres` in its work folder under `/var/tmp`, on disk, fsync on; one new database per",
        "measurement). Measured %s UTC on commit %s, %.0f minutes in all; the parts measured: %s."
        % (meta["started"], meta.get("commit") or "?", meta["elapsed_s"] / 60, ", ".join(meta.get("parts", []))),
        "",
    ]
    load = meta.get("load") or []
    if load:
        lines.append(
            "The machine's load (1, 5, 15 min) and its steal so far: "
            + "; ".join("%s UTC %s, steal %.0f s" % (x["at"], x["loadavg"], x["steal_s"]) for x in load)
            + " (read at the start of each run and at the end; other engineers built on the same 2 cores)."
        )
        lines.append("")
    sizes = sorted({int(k[len("pg_hook"):].split("_")[0].rstrip("k")) for k in nv if k.startswith("pg_hook")})
    for size in sizes:
        tag = "%dk_" % size
        lines += [
            "### %d webhooks at once, the journal in PostgreSQL" % (size * 1000),
            "",
            "The same burst as figure 1 (one daemon), with `daemon: { store: postgresql://nhacviec@/DB?host=DIR }`.",
            "",
            "| figure | unit | nhacviec on SQLite | nhacviec on PostgreSQL | Alertmanager | PostgreSQL / SQLite |",
            "|---|---|---|---|---|---|",
        ]
        for fid, label, unit, fmt in PG_BURST:
            a = summarize(nv.get("hook" + tag + fid, []))
            b = summarize(nv.get("pg_hook" + tag + fid, []))
            c = summarize(am.get("hook" + tag + fid, [])) if fid != "db_cpu_us" else None
            lines.append("| %s | %s | %s | %s | %s | %s |" % (label, unit, cell(a, fmt), cell(b, fmt), cell(c, fmt), ratio(b, a)))
        lines.append("")
        def med(fid, r=nv):
            x = summarize(r.get(fid, []))
            return x[0] if x else None

        total_sq, total_pg = med("hook" + tag + "total_s"), med("pg_hook" + tag + "total_s")
        cpu_pg, db_pg = med("pg_hook" + tag + "cpu_us"), med("pg_hook" + tag + "db_cpu_us")
        p50_sq, p50_pg, p90_pg = med("hook" + tag + "p50_ms"), med("pg_hook" + tag + "p50_ms"), med("pg_hook" + tag + "p90_ms")
        mem_sq, mem_pg = med("hook" + tag + "peak_mib"), med("pg_hook" + tag + "peak_mib")
        if total_pg and total_sq:
            lines.append(
                "- **Time until all arrived**: %.1f s with the journal in PostgreSQL, %.1f s on SQLite in the same run (%.1f×). "
                "Every notice is journaled, claimed and recorded as sent through the server, each a transaction over its socket, "
                "where SQLite writes in the daemon's own process." % (total_pg, total_sq, total_pg / total_sq)
            )
        if cpu_pg and db_pg:
            lines.append(
                "- **CPU**: nhacviec's own time per notification hardly changes (%.0f µs on PostgreSQL); the server spends %.0f µs more "
                "per notification, %.0f s of CPU for the burst, on the same 2 cores as the daemon and the receiver, which goes far to "
                "explain the longer burst. Where the server spends it (statements, WAL, locks) was not profiled in this run."
                % (cpu_pg, db_pg, db_pg * size * 1000 / 1e6)
            )
        if p50_pg and p90_pg:
            lines.append(
                "- **Latency** p50 %.1f s and p90 %.1f s on PostgreSQL%s, from the instant the step fell due (`READY=1` + 4 s) to each "
                "arrival, as figure 1 measures it: the notices go out one after the other over the burst, so the latency grows with "
                "its length." % (p50_pg / 1000, p90_pg / 1000, " (p50 %.1f s on SQLite)" % (p50_sq / 1000) if p50_sq else "")
            )
        if mem_pg and mem_sq:
            lines.append(
                "- **Memory**: %.0f MiB on PostgreSQL against %.0f MiB on SQLite: the daemon holds no database pages of its own; "
                "the server's memory is not counted." % (mem_pg, mem_sq)
            )
        lines.append("")
    if any(k.startswith("cluster_") for k in nv):
        lines += [
            "### kill -9 in a burst of %d, two nodes each" % meta["crash"],
            "",
            "nhacviec: two daemons on one PostgreSQL database (each its own folder, state and control socket, `node: n1`/`n2`, `lease: 5s`,",
            "the same configuration otherwise); the leader (by `status --json`) killed with SIGKILL when the receiver had half the",
            "burst. Alertmanager: two instances gossiping (`--cluster.listen-address=127.0.0.1:P`, `--cluster.peer` at the other),",
            "every batch of 64 alerts posted to both (as its documentation asks of an HA pair's clients), the instance that sends",
            "first (the first in the cluster's order; the other waits its peer timeout, 15 s, before sending what the",
            "notification log it gossips does not show as sent) killed with SIGKILL at the same point. Nothing is restarted.",
            "",
            "| figure | unit | nhacviec, two nodes | Alertmanager, two instances |",
            "|---|---|---|---|",
        ]
        for fid, label, unit, fmt in CLUSTER:
            lines.append("| %s | %s | %s | %s |" % (label, unit, cell(summarize(nv.get(fid, [])), fmt), cell(summarize(am.get(fid, [])), fmt)))
        lines.append("")
        def med(fid, r):
            x = summarize(r.get(fid, []))
            return x[0] if x else None

        if med("cluster_losses", nv) is not None and med("cluster_losses", am) is not None:
            lines.append(
                "- **Losses**: %.0f for nhacviec, %.0f for Alertmanager: both delivered every notification once the sender died "
                "(Alertmanager because the survivor had every alert too, posted to both)." % (med("cluster_losses", nv), med("cluster_losses", am))
            )
            lines.append(
                "- **Duplicates**: nhacviec sent %.0f twice, no more than the %.0f notices the killed node had claimed and not recorded "
                "(its claim in flight), which the other node sends again when their lease ends; Alertmanager sent %.0f twice, "
                "about what the killed instance had sent before the kill, since its notification log had not reached the peer "
                "through the gossip." % (med("cluster_duplicates", nv), med("cluster_in_flight", nv) or 0, med("cluster_duplicates", am))
            )
            lines.append(
                "- **Time until all arrived**: %.1f s for nhacviec (the runs range %.1f–%.1f s: when what the dead node held had not "
                "arrived yet, it waits for the lease, 5 s), %.1f s for Alertmanager (the survivor waits its peer timeout, 15 s, "
                "before sending what it does not know to be sent)."
                % (med("cluster_total_s", nv), summarize(nv["cluster_total_s"])[1], summarize(nv["cluster_total_s"])[2], med("cluster_total_s", am))
            )
            if med("cluster_takeover_s", nv) is not None:
                lines.append(
                    "- **Leadership**: the other node said `leader` %.1f s after the kill (its PostgreSQL session took the advisory "
                    "lock the dead node's ended session released)." % med("cluster_takeover_s", nv)
                )
        lines.append("")
    lines.append(SECTION_END)
    return lines


def replace_section(path, section):
    """Puts `section` in place of the one in the file at `path` (or at its end), the rest kept."""
    try:
        text = open(path, encoding="utf-8").read()
    except FileNotFoundError:
        text = ""
    body = "\n".join(section).rstrip() + "\n"
    if SECTION_BEGIN in text and SECTION_END in text:
        before = text.split(SECTION_BEGIN, 1)[0]
        after = text.split(SECTION_END, 1)[1].lstrip("\n")
        return before + body + ("\n" + after if after else "")
    return text.rstrip() + "\n\n" + body


def machine():
    swift = "?"
    if shutil.which("swift"):
        swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = int(open("/proc/meminfo").readline().split()[1]) / 1048576
    return "%d cores (%s), %.0f GiB, %s %s; %s" % (os.cpu_count(), cpu, mem, platform.system(), platform.release(), swift)


def source_commit():
    """The commit nhacviec was built from, marked when Sources/ or Package.swift differ from it."""
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", ROOT, "status", "--porcelain", "--", "Sources", "Package.swift"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return None
    return head + (" with local changes" if dirty else "") if head else None


def am_version():
    r = subprocess.run([AM, "--version"], capture_output=True, text=True)
    return (r.stdout + r.stderr).split("\n")[0]


def nv_version(binary):
    r = subprocess.run([binary, "--version"], capture_output=True, text=True)
    return (r.stdout or r.stderr).strip() or "?"


# MARK: main


def main():
    p = argparse.ArgumentParser(description="nhacviec vs Alertmanager on loopback")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--webhooks", default="1000,10000", help="burst sizes; 1000 and 10000 fill the table")
    p.add_argument("--emails", type=int, default=1000)
    p.add_argument("--idle", type=float, default=60, help="seconds of idle measurement")
    p.add_argument("--units", type=int, default=10000, help="directory size for start-up and status")
    p.add_argument("--crash", type=int, default=1000)
    p.add_argument("--status-runs", type=int, default=10)
    p.add_argument("--timeout", type=float, default=180, help="longest wait for one burst")
    p.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "nhacviec"))
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    p.add_argument("--command", default="bench/compare.sh")
    p.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    p.add_argument(
        "--raw",
        help="where the raw samples go (bench/RESULTS.json; with --section-only, bench/RESULTS-postgresql.json)",
    )
    p.add_argument("--report-only", action="store_true", help="rewrite --out from --raw, measuring nothing")
    p.add_argument(
        "--only",
        default=",".join(PARTS),
        help="the parts to measure, of %s (all by default); postgresql-webhooks and cluster-crash "
        "start a PostgreSQL server (scripts/postgres) in the work folder" % ", ".join(PARTS),
    )
    p.add_argument(
        "--section-only",
        action="store_true",
        help="write only the section 'On PostgreSQL and two nodes' into --out, keeping the rest of the file",
    )
    args = p.parse_args()
    if args.raw is None:
        args.raw = os.path.join(ROOT, "bench", "RESULTS-postgresql.json" if args.section_only else "RESULTS.json")
    parts = [x for x in args.only.split(",") if x]
    for part in parts:
        if part not in PARTS:
            p.error("--only: no part %r (%s)" % (part, ", ".join(PARTS)))
    if args.report_only:
        with open(args.raw) as f:
            saved = json.load(f)
        args.crash = saved["meta"]["crash"]
        return write_report(args, saved["results"], saved["meta"])
    sizes = [int(x) for x in args.webhooks.split(",") if x]

    started = datetime.datetime.now(datetime.timezone.utc)
    t_start = time.time()
    # On disk like /var/lib/nhacviec (a tmpfs /tmp would make SQLite's fsyncs free).
    work = tempfile.mkdtemp(prefix="nv-am-", dir="/var/tmp")
    logdir = fresh_dir(os.path.join(work, "logs"))
    procs = Procs(logdir)
    results = {"nhacviec": {}, "Alertmanager": {}}

    def add(program, figures, prefix=""):
        for k, v in figures.items():
            results[program].setdefault(prefix + k, []).append(v)

    finished = False
    server = None
    meta_extra = {}
    try:
        rx = Receiver(procs, work)
        nv = Nhacviec(procs, work, args.binary)
        am = Alertmanager(procs, work)
        if "postgresql-webhooks" in parts or "cluster-crash" in parts:
            log("starting PostgreSQL in", os.path.join(work, "pg"))
            server = Postgres(work)
            meta_extra["postgresql"] = server.psql("postgres", "SHOW server_version")
        big = gen_nhacviec(fresh_dir(os.path.join(work, "nv-10k")), args.units, "hook", rx.http_port, rx.smtp_port)
        am_big = am_config(os.path.join(work, "am-10k.yml"), "hook", rx.http_port, rx.smtp_port, routes=args.units)
        for run in range(1, args.runs + 1):
            meta_extra.setdefault("load", []).append(load_and_steal())
            for n in sizes if "postgresql-webhooks" in parts else []:
                tag = "pg_hook%dk_" % (n // 1000) if n >= 1000 else "pg_hook%d_" % n
                log("run %d: webhook burst of %d, nhacviec on PostgreSQL" % (run, n))
                f = nv_burst(nv, rx, work, n, "hook", args.timeout, server=server)
                add("nhacviec", f, tag)
                log("  ", f)
            if "cluster-crash" in parts:
                log("run %d: kill -9 in a burst of %d, two nodes each" % (run, args.crash))
                f = nv_cluster_crash([nv, Nhacviec(procs, work, args.binary)], rx, work, args.crash, args.timeout, server)
                add("nhacviec", f)
                log("   nhacviec", f)
                f = am_cluster_crash([am, Alertmanager(procs, work)], rx, work, args.crash, args.timeout)
                add("Alertmanager", f)
                log("   Alertmanager", f)
            for n in sizes if "webhooks" in parts else []:
                status = args.status_runs if n == max(sizes) else 0
                tag = "hook%dk_" % (n // 1000) if n >= 1000 else "hook%d_" % n
                log("run %d: webhook burst of %d, nhacviec" % (run, n))
                f = nv_burst(nv, rx, work, n, "hook", args.timeout, status)
                if "status_ms" in f:
                    add("nhacviec", {"status_ms": f.pop("status_ms"), "list_ms": f.pop("list_ms")})
                add("nhacviec", f, tag)
                log("  ", f)
                log("run %d: webhook burst of %d, Alertmanager" % (run, n))
                f = am_burst(am, rx, work, n, "hook", args.timeout, status)
                if "status_ms" in f:
                    add("Alertmanager", {"status_ms": f.pop("status_ms"), "list_ms": f.pop("list_ms")})
                add("Alertmanager", f, tag)
                log("  ", f)
            if "emails" in parts:
                log("run %d: email burst of %d" % (run, args.emails))
                f = nv_burst(nv, rx, work, args.emails, "mail", args.timeout)
                add("nhacviec", f, "mail_")
                log("   nhacviec", f)
                f = am_burst(am, rx, work, args.emails, "mail", args.timeout)
                add("Alertmanager", f, "mail_")
                log("   Alertmanager", f)

            if "startup" in parts:
                log("run %d: start-up" % run)
                for label, launch_nv, launch_am in [
                    ("shipped", lambda: nv.launch(shipped_nhacviec(work), QUIET), lambda: am.launch(shipped_alertmanager(work), fresh_dir(os.path.join(work, "am-s")))),
                    ("10k", lambda: nv.launch(big, QUIET), lambda: am.launch(am_big, fresh_dir(os.path.join(work, "am-s")))),
                ]:
                    if label == "10k":
                        shutil.rmtree(os.path.join(os.path.dirname(big), ".nhacviec"), ignore_errors=True)
                    t0, t1 = launch_nv()
                    nv.stop()
                    add("nhacviec", {"start_%s_ms" % label: (t1 - t0) * 1000})
                    t0, t1 = launch_am()
                    am.stop()
                    add("Alertmanager", {"start_%s_ms" % label: (t1 - t0) * 1000})

            if "idle" in parts:
                log("run %d: idle %.0f s each" % (run, args.idle))
                f = idle(lambda: nv.launch(shipped_nhacviec(work), QUIET), lambda: nv.p.pid, args.idle)
                nv.stop()
                add("nhacviec", f)
                log("   nhacviec", f)
                f = idle(lambda: am.launch(shipped_alertmanager(work), fresh_dir(os.path.join(work, "am-idle"))), lambda: am.p.pid, args.idle)
                am.stop()
                add("Alertmanager", f)
                log("   Alertmanager", f)

            if "crash" in parts:
                log("run %d: crash in a burst of %d" % (run, args.crash))
                f = nv_crash(nv, rx, work, args.crash, args.timeout)
                add("nhacviec", f)
                log("   nhacviec", f)
                f = am_crash(am, rx, work, args.crash, args.timeout)
                add("Alertmanager", f)
                log("   Alertmanager", f)
        meta_extra.setdefault("load", []).append(load_and_steal())
        finished = True
    finally:
        procs.stop_all()
        if server:
            server.stop()
        meta = {
            "command": args.command,
            "runs": args.runs,
            "crash": args.crash,
            "machine": machine(),
            "nhacviec": nv_version(args.binary),
            "commit": source_commit(),
            "alertmanager": am_version(),
            "started": started.strftime("%Y-%m-%d %H:%M"),
            "elapsed_s": time.time() - t_start,
            "parts": parts,
            **meta_extra,
        }
        with open(os.path.join(work, "results.json"), "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=1)
        if args.keep or not finished:
            log("work folder kept (logs of every process in logs/):", work)
        else:
            shutil.rmtree(work, ignore_errors=True)

    with open(args.raw, "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1)
    return write_report(args, results, meta)


def write_report(args, results, meta):
    def extras(results):
        out = []
        for prog in ("nhacviec", "Alertmanager"):
            r = results[prog]
            at_kill = summarize(r.get("crash_at_kill", []))
            if at_kill:
                out.append(
                    "%s, crash: the receiver had %s of %d messages when `kill -9` landed (median, min–max)."
                    % (prog, cell(at_kill, "%.0f"), args.crash)
                )
            anon = summarize(r.get("idle_rss_anon_mib", []))
            if anon:
                out.append(
                    "%s, idle: of the resident memory, %s MiB is private (RssAnon); the rest is shared library and program pages."
                    % (prog, cell(anon, "%.1f"))
                )
            threads = summarize(r.get("idle_threads", []))
            if threads:
                methods = sorted(set(v for v in r.get("idle_wakeup_method", []) if isinstance(v, str)))
                out.append("%s, idle: %s threads; wake-ups counted with %s." % (prog, cell(threads, "%.0f"), ", ".join(methods)))
            steal = summarize(r.get("hook10k_steal_s", []))
            if steal:
                out.append(
                    "%s, webhook burst of 10,000: %s s of CPU time taken by the hypervisor during the burst "
                    "(steal, all cores): the machine's noise, not the program." % (prog, cell(steal, "%.2f"))
                )
            for fid in sorted(r):
                if fid.endswith("_duplicates") and not fid.startswith("crash"):
                    d = summarize(r[fid])
                    if d and d[2] > 0:
                        out.append("%s, %s: %s duplicate arrivals without any crash." % (prog, fid, cell(d, "%.0f")))
        lw = summarize(results["Alertmanager"].get("crash_lost_without_resend", []))
        if lw:
            out.append(
                "Alertmanager, crash: messages lost had the client not posted its alerts again after the restart: %s."
                % cell(lw, "%.0f")
            )
        return out

    if args.section_only:
        text = replace_section(args.out, postgresql_section(results, meta))
    else:
        text = report(args, results, extras, meta)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
