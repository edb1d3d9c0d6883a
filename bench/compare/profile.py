#!/usr/bin/python3
"""Where nhacviec's CPU goes in one webhook (or email) burst: runs the burst of compare.py alone,
records it with `perf record -g` and prints, per thread, its share of the samples and, for the
busiest thread, which stage its samples fall in. See bench/PROFILE-delivery.md.

Usage: bench/compare/profile.py BINARY [N] [hook|mail] [--keep-perf FILE]
"""

import collections
import importlib.util
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("compare", os.path.join(HERE, "compare.py"))
compare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare)

# A sample falls in the first stage whose function appears in its call chain (leaf to root).
STAGES = [
    ("render", "MessageRenderer"),
    ("claim", "5claim7channel"),
    ("record outcomes", "6record_2in"),
    ("judge again (Engine.check)", "6EngineV5check"),
    ("journal (pass)", "journalNew"),
    ("plan (pass)", "EngineV4plan"),
    ("webhook channel", "WebhookChannel"),
    ("smtp channel", "SMTPChannel"),
    ("libcurl's thread", "CurlClient"),
    ("SQLite, caller not unwound", "libsqlite3"),
]


def samples(path):
    out = subprocess.run(["perf", "script", "-i", path, "-F", "tid,ip,sym,dso"], capture_output=True, text=True).stdout
    for block in out.split("\n\n"):
        lines = [line for line in block.split("\n") if line.strip()]
        if lines:
            yield lines[0].split()[0], "\n".join(lines[1:])


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    binary = args[0]
    n = int(args[1]) if len(args) > 1 else 10000
    channel = args[2] if len(args) > 2 else "hook"
    keep = sys.argv[sys.argv.index("--keep-perf") + 1] if "--keep-perf" in sys.argv else None
    work = tempfile.mkdtemp(prefix="nv-profile-", dir="/var/tmp")
    data = keep or os.path.join(work, "perf.data")
    procs = compare.Procs(compare.fresh_dir(os.path.join(work, "logs")))
    recorder = []
    try:
        rx = compare.Receiver(procs, work)
        nv = compare.Nhacviec(procs, work, binary)
        launch = nv.launch

        def launch_and_record(config, clock_start):
            result = launch(config, clock_start)
            recorder.append(subprocess.Popen(
                ["perf", "record", "-F", "999", "-g", "-o", data, "-p", str(nv.p.pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            return result

        nv.launch = launch_and_record
        figures = compare.nv_burst(nv, rx, work, n, channel, 180)
    finally:
        for p in recorder:
            p.send_signal(2)
            p.wait()
        procs.stop_all()
    print("burst:", {k: round(v, 1) for k, v in figures.items()})
    by_thread = collections.Counter()
    stages = collections.defaultdict(collections.Counter)
    for tid, chain in samples(data):
        by_thread[tid] += 1
        stage = next((name for name, pattern in STAGES if pattern in chain), "other (kernel, libc, unwound)")
        stages[tid][stage] += 1
    total = sum(by_thread.values())
    print("samples: %d (999 Hz), %.0f µs of CPU a notification" % (total, total / 999 * 1e6 / n))
    for tid, count in by_thread.most_common(5):
        print("thread %s: %.0f µs a notification" % (tid, count / 999 * 1e6 / n))
        for stage, c in stages[tid].most_common(8):
            print("    %-32s %5.1f %%  %4.0f µs" % (stage, 100 * c / count, c / 999 * 1e6 / n))


if __name__ == "__main__":
    main()
