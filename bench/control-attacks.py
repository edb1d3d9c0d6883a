"""The control socket under attack, measured: what a reader can do to the daemon by volume alone.

Starts the given nhacviec binary on throw-away deployments and runs each attack of issue 23
against its real socket, printing the figures docs/reliability.md records ("The control socket
under attack"). Debian's /usr/bin/python3, standard library only; run as root (setpriv makes the
reader and the writer two real users).

    /usr/bin/python3 bench/control-attacks.py .build/release/nhacviec [--units 20000]
"""

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

RULE = """- id: annual
  kind: deadline
  title: Báo cáo ISO {{period.name}}
  basis: Công văn, khoản 1
  applies_to: { kinds: [dept] }
  period: yearly
  due: { date: "11-15", convention: before }
  remind: [7d, 1wd]
  remind_to: [unit.iso-focal]
  escalate:
    - { after: 1wd, to: [unit.head] }
    - { after: 3wd, to: [parent.head] }
  channels: [email]
"""


class Deployment:
    """A province of `units` departments in a temporary folder, and its daemon."""

    def __init__(self, binary, units, settings="", daemon=""):
        self.binary = binary
        self.folder = tempfile.mkdtemp(prefix="nhacviec-attack-")
        # The reader (another user) must reach the socket.
        os.chmod(self.folder, 0o755)
        os.makedirs(f"{self.folder}/rules")
        with open(f"{self.folder}/rules/annual.yaml", "w") as f:
            f.write(RULE)
        with open(f"{self.folder}/units.csv", "w") as f:
            f.write("id,name,kind,parent_id,head.email,iso-focal.email\nP,Tỉnh Thử,province,,head@p.example,iso@p.example\n")
            for i in range(1, units + 1):
                f.write(f"D{i},Sở số {i},dept,P,head@d{i}.example,iso@d{i}.example\n")
        with open(f"{self.folder}/nhacviec.yaml", "w") as f:
            f.write(
                "directory: [{ file: units.csv }]\nrules: rules\ndigest: { minimum: 0 }\n"
                f"daemon: {{ state: state, socket: run/nhacviec.sock{daemon} }}\n{settings}\n"
                "channels:\n  email: { type: file, path: outbox }\n"
            )
        self.socket = f"{self.folder}/run/nhacviec.sock"
        self.process = None

    def start(self, at, launcher=()):
        self.log = open(f"{self.folder}/daemon.log", "w")
        self.process = subprocess.Popen(
            [*launcher, self.binary, "run", "--config", f"{self.folder}/nhacviec.yaml", "--clock-start", at],
            stderr=self.log, cwd=self.folder)
        # Ready once a first pass has ended.
        until = time.monotonic() + 600
        while time.monotonic() < until:
            try:
                if request(self.socket, "/-/ready")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("the daemon did not become ready")

    def stop(self):
        if self.process:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def cpu(self):
        fields = open(f"/proc/{self.process.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory(self, field):
        for line in open(f"/proc/{self.process.pid}/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        return 0


def request(path, target, method="GET", body=b"", timeout=120):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(f"{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else 0
    return status, reply.partition(b"\r\n\r\n")[2]


def timed(path, target):
    began = time.monotonic()
    try:
        status = request(path, target, timeout=60)[0]
    except OSError:
        status = 0
    return status, time.monotonic() - began


def metric(path, sample):
    text = request(path, "/metrics")[1].decode()
    match = re.search("^" + re.escape(sample) + r" (\S+)$", text, re.M)
    return float(match.group(1)) if match else None


def in_threads(count, work):
    threads = [threading.Thread(target=work, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def heavy_reads(binary, units):
    """128 `upcoming?days=366` in flight; 65 `status` probes and 65 `/-/healthy` meanwhile."""
    d = Deployment(binary, units).start("2026-11-01T09:00:00+07:00")
    try:
        answers = {}
        lock = threading.Lock()

        def read():
            status = timed(d.socket, "/v1/upcoming?days=366")[0]
            with lock:
                answers[status] = answers.get(status, 0) + 1

        in_threads(128, read)
        time.sleep(1)
        probes = [timed(d.socket, "/v1/status") for _ in range(65)]
        health = [timed(d.socket, "/-/healthy") for _ in range(65)]
        ok = [seconds for status, seconds in probes if status == 200]
        print(f"heavy reads ({units} units): status {len(ok)}/65 answered, p50 {statistics.median(ok) * 1000:.0f} ms, "
              f"max {max(ok) * 1000:.0f} ms; /-/healthy {sum(1 for s, _ in health if s == 200)}/65, "
              f"max {max(t for _, t in health) * 1000:.0f} ms; upcoming answers so far {answers}")
    finally:
        d.stop()


def notices_memory(binary):
    """A journal of 20,000 notices; 100 readers of pages of `notices` at once."""
    d = Deployment(binary, 5000, settings='send_window: { opens: "18:00", closes: "19:00" }')
    d.start("2026-11-25T09:00:00+07:00")
    try:
        idle = d.memory("VmRSS")
        refused = request(d.socket, "/v1/notices?limit=1000000")[0]
        pages = []
        lock = threading.Lock()

        def read():
            after, count = "", 0
            while True:
                status, body = request(d.socket, "/v1/notices?limit=1000" + after)
                if status == 429:
                    time.sleep(0.01)
                    continue
                page = json.loads(body)
                count += len(page)
                if len(page) < 1000:
                    break
                after = "&after=" + page[-1]["channel"] + ":" + page[-1]["key"]
            with lock:
                pages.append(count)

        began = time.monotonic()
        threads = in_threads(100, read)
        probes = []
        while any(t.is_alive() for t in threads):
            probes.append(timed(d.socket, "/v1/status")[1])
        for thread in threads:
            thread.join()
        print(f"notices readers: limit=1000000 answered {refused}; 100 readers read {sum(pages)} rows "
              f"({min(pages)}-{max(pages)} each) in {time.monotonic() - began:.1f} s; RSS {idle:.0f} MiB before, "
              f"peak {d.memory('VmHWM'):.0f} MiB, {d.memory('VmRSS'):.0f} MiB after; status meanwhile max "
              f"{max(probes) * 1000:.0f} ms over {len(probes)} probes")
    finally:
        d.stop()


def out_of_descriptors(binary):
    """The daemon under `prlimit --nofile=40`, 100 connections held."""
    d = Deployment(binary, 20).start("2026-11-09T08:00:00+07:00", launcher=("prlimit", "--nofile=40:40", "--"))
    try:
        held = []
        for _ in range(100):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(d.socket)
            held.append(s)
        before = d.cpu()
        time.sleep(10)
        used = d.cpu() - before
        status, seconds = timed(d.socket, "/v1/status")
        print(f"out of descriptors: {used:.2f} s of CPU in 10 s with 100 connections held; status {status} in "
              f"{seconds * 1000:.0f} ms")
        for s in held:
            s.close()
    finally:
        d.stop()


def refusals_logged(binary):
    """A reader posting facts as fast as it can for 10 s: log lines against refusals."""
    d = Deployment(binary, 20).start("2026-11-09T08:00:00+07:00")
    try:
        client = os.path.join(os.path.dirname(__file__), "..", "Tests", "Servers", "control_client.py")
        out = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=0", "--clear-groups", "/usr/bin/python3", client, d.socket, "10", "D1"],
            capture_output=True, text=True, check=True).stdout
        answers = json.loads(out)
        lines = sum(1 for line in open(f"{d.folder}/daemon.log") if "not an allowed writer" in line)
        counted = metric(d.socket, 'nhacviec_control_refused_total{reason="not_a_writer"}')
        print(f"refused writes: {answers.get('403', 0)} in 10 s, {lines} log lines, {counted:.0f} counted in /metrics")
    finally:
        d.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--units", type=int, default=20000, help="for the heavy reads")
    parser.add_argument("--only", choices=["heavy", "memory", "descriptors", "log"])
    arguments = parser.parse_args()
    binary = os.path.abspath(arguments.binary)
    print(f"binary {binary}, load {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores", flush=True)
    attacks = {
        "heavy": lambda: heavy_reads(binary, arguments.units),
        "memory": lambda: notices_memory(binary),
        "descriptors": lambda: out_of_descriptors(binary),
        "log": lambda: refusals_logged(binary),
    }
    for name, attack in attacks.items():
        if arguments.only in (None, name):
            attack()
            sys.stdout.flush()


if __name__ == "__main__":
    main()
