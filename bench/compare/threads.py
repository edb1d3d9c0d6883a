#!/usr/bin/python3
"""How nhacviec's threads share the two cores in one webhook burst: runs the burst of compare.py
alone and prints, per thread, its CPU time and the time it waited for a core (run-queue wait,
from /proc/PID/task/TID/schedstat), its context switches, the machine's idle time, the size of
the journal's write-ahead log when the last webhook arrived and the CPU the daemon used in the
2 s after it (a checkpoint deferred until the writer pauses). See bench/PROFILE-delivery.md.

Usage: bench/compare/threads.py BINARY [N]
"""

import importlib.util
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("compare", os.path.join(HERE, "compare.py"))
compare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare)


def threads(pid):
    """TID → (name, CPU ns, run-queue wait ns, voluntary switches, involuntary switches)."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            base = "/proc/%d/task/%s/" % (pid, tid)
            name = open(base + "comm").read().strip()
            run, wait, _ = map(int, open(base + "schedstat").read().split())
            status = open(base + "status").read()
            voluntary = int(status.split("\nvoluntary_ctxt_switches:")[1].split()[0])
            involuntary = int(status.split("nonvoluntary_ctxt_switches:")[1].split()[0])
            out[tid] = (name, run, wait, voluntary, involuntary)
        except (OSError, IndexError, ValueError):
            pass  # a thread that ended meanwhile
    return out


def cpu_times():
    """user, system, idle, iowait of the whole machine, in clock ticks."""
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return f[0] + f[1], f[2], f[3], f[4]


def log_sizes(folder):
    return [os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(folder) for f in fs if f.endswith("-wal")]


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    work = tempfile.mkdtemp(prefix="nv-threads-", dir="/var/tmp")
    procs = compare.Procs(compare.fresh_dir(os.path.join(work, "logs")))
    seen = {}
    try:
        rx = compare.Receiver(procs, work)
        nv = compare.Nhacviec(procs, work, binary)
        wait_distinct = rx.wait_distinct

        def observed(count, timeout):
            seen["before"] = threads(nv.p.pid), threads(rx.proc.pid), cpu_times(), time.time()
            s = wait_distinct(count, timeout)
            seen["after"] = threads(nv.p.pid), threads(rx.proc.pid), cpu_times(), time.time()
            seen["log"] = log_sizes(work)
            cpu = compare.cpu_seconds(nv.p.pid)
            time.sleep(2)
            seen["later_ms"] = (compare.cpu_seconds(nv.p.pid) - cpu) * 1000
            return s

        rx.wait_distinct = observed
        figures = compare.nv_burst(nv, rx, work, n, "hook", 180)
    finally:
        procs.stop_all()
    (nv0, rx0, m0, t0), (nv1, rx1, m1, t1) = seen["before"], seen["after"]
    print("burst:", {k: round(v, 2) for k, v in figures.items()})
    print("window %.2f s (from 1 s before the notices fall due)" % (t1 - t0))
    ticks = os.sysconf("SC_CLK_TCK")
    user, system, idle, iowait = ((b - a) / ticks for a, b in zip(m0, m1))
    print("machine: user %.2f s, system %.2f s, idle %.2f s, iowait %.2f s" % (user, system, idle, iowait))
    print("write-ahead log at the last arrival: %s MB; CPU in the 2 s after: %.0f ms" % (
        ", ".join("%.1f" % (s / 1e6) for s in seen["log"]) or "none", seen["later_ms"]))
    for label, before, after in (("nhacviec", nv0, nv1), ("receiver", rx0, rx1)):
        for tid, b in sorted(after.items(), key=lambda kv: -kv[1][1]):
            a = before.get(tid, (b[0], 0, 0, 0, 0))
            run, wait = (b[1] - a[1]) / 1e9, (b[2] - a[2]) / 1e9
            if run < 0.01:
                continue
            print("%-9s %-7s CPU %.2f s (%3.0f µs a notification), waited for a core %.2f s, switches %d + %d forced" % (
                label, tid, run, run * 1e6 / n, wait, b[3] - a[3], b[4] - a[4]))


if __name__ == "__main__":
    main()
