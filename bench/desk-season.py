#!/usr/bin/python3
"""The desk's season page for a large directory: how long `GET /` takes, signed in.

Usage: bench/desk-season.py BINARY [UNITS] [REQUESTS]
Makes a deployment in a scratch folder (UNITS departments under one province, the annual rule of
the tests, a file channel), starts `nhacviec run BINARY` on it with a `web:` section at
2026-11-20 (after the deadline, so rows are on time, late and missing), records a report for a
third of the units and a late one for another third, adds an account, signs in through the
login form, then asks for the season page REQUESTS times one after the other and prints the
times. Writes nothing outside its scratch folder.
"""
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

binary = os.path.abspath(sys.argv[1])
units = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
requests = int(sys.argv[3]) if len(sys.argv) > 3 else 30

folder = tempfile.mkdtemp(prefix="nhacviec-desk-bench-")
with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
os.makedirs(f"{folder}/rules")
with open(f"{folder}/units.csv", "w") as f:
    f.write("id,name,kind,parent_id,head.email,iso-focal.email\nP,Tỉnh Thử,province,,head@p.example,iso@p.example\n")
    for i in range(1, units + 1):
        f.write(f"D{i},Sở số {i},dept,P,head@d{i}.example,iso@d{i}.example\n")
with open(f"{folder}/rules/annual.yaml", "w") as f:
    f.write("""- id: annual
  kind: deadline
  title: Báo cáo ISO {{period.name}}
  basis: Công văn, khoản 1
  applies_to: { kinds: [dept] }
  period: yearly
  due: { date: "11-15", convention: before }
  remind: [7d, 1wd]
  remind_to: [unit.iso-focal]
  channels: [email]
""")
with open(f"{folder}/facts.csv", "w") as f:
    f.write("kind,unit,rule,period,at,reference\n")
    for i in range(1, units + 1):
        if i % 3 == 1:
            f.write(f"report,D{i},annual,2026,2026-11-10T09:00:00+07:00,{i}/BC\n")
        elif i % 3 == 2:
            f.write(f"report,D{i},annual,2026,2026-11-18T09:00:00+07:00,{i}/BC\n")
with open(f"{folder}/keys", "w") as f:
    f.write("k1 0123456789abcdef0123456789abcdef\n")
with open(f"{folder}/nhacviec.yaml", "w") as f:
    f.write(f"""directory: [{{ file: units.csv }}]
rules: rules
daemon: {{ state: state, socket: run/nhacviec.sock }}
web: {{ listen: "127.0.0.1:{port}", url: "http://127.0.0.1:{port}", link_keys_file: keys }}
channels:
  email: {{ type: file, path: outbox }}
""")
config = f"{folder}/nhacviec.yaml"
sock = f"{folder}/run/nhacviec.sock"
daemon = subprocess.Popen(
    [binary, "run", "--config", config, "--clock-start", "2026-11-20T09:00:00+07:00"],
    stderr=subprocess.DEVNULL)
try:
    for _ in range(600):
        if subprocess.run([binary, "status", "--socket", sock], capture_output=True).returncode in (0, 1):
            break
        time.sleep(0.1)
    imported = subprocess.run([binary, "import", "facts", f"{folder}/facts.csv", "--config", config],
                              capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr
    subprocess.run([binary, "user", "add", "can.bo", "--socket", sock], input=b"mat-khau-rat-dai\n", check=True,
                   capture_output=True)

    def call(method, path, headers=None, body=None):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response, data

    response, page = call("GET", "/login")
    token = re.search(r"nhacviec_login=([^;]+)", response.getheader("Set-Cookie")).group(1)
    form = urllib.parse.urlencode({"csrf": token, "user": "can.bo", "password": "mat-khau-rat-dai", "next": "/"})
    response, _ = call("POST", "/login", {"Cookie": f"nhacviec_login={token}",
                                          "Content-Type": "application/x-www-form-urlencoded"}, form)
    session = re.search(r"nhacviec_session=([^;]+)", response.getheader("Set-Cookie")).group(1)
    times = []
    size = 0
    for _ in range(requests):
        started = time.perf_counter()
        response, body = call("GET", "/", {"Cookie": f"nhacviec_session={session}"})
        times.append((time.perf_counter() - started) * 1000)
        assert response.status == 200, response.status
        size = len(body)
    rows = body.decode().count("<tr>")
    report = []
    for _ in range(min(requests, 5)):
        started = time.perf_counter()
        subprocess.run([binary, "report", "--period", "2026", "--format", "html", "--socket", sock, "--output",
                        f"{folder}/report.html"], check=True, capture_output=True)
        report.append((time.perf_counter() - started) * 1000)
    times.sort()
    print(f"season page, {units} units, {requests} requests one after the other: "
          f"median {statistics.median(times):.0f} ms, p90 {times[int(len(times) * 0.9) - 1]:.0f} ms, "
          f"max {times[-1]:.0f} ms; {size / 1024:.0f} KiB, {rows} rows")
    print(f"for comparison, nhacviec report --format html of the same (a process each): median "
          f"{statistics.median(report):.0f} ms")
finally:
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=30)
    shutil.rmtree(folder, ignore_errors=True)
