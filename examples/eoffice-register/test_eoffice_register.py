"""Tests of the example plugin as nhacviec runs it: a request on standard input, an answer on
standard output. Run: /usr/bin/python3 -m unittest discover -s examples/eoffice-register"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PLUGIN = os.path.join(HERE, "eoffice-register.py")


def request(now, register="register.csv", pattern="báo cáo.*ISO 9001.*năm {period}", units=None, version=1):
    return {
        "version": version,
        "now": now,
        "rule": {
            "id": "iso-report-eoffice",
            "title": "Báo cáo ISO 9001 năm 2026",
            "period": "2026",
            "deadline": "2026-11-15T00:00:00+07:00",
            "options": {"register": register, "pattern": pattern},
        },
        "units": [{"id": u, "name": u, "kind": "dept", "tags": []} for u in (units or ["51-STP", "51-SYT", "51-SXD"])],
        "facts": [],
    }


def run(payload):
    result = subprocess.run(
        [sys.executable, PLUGIN], input=json.dumps(payload).encode(), capture_output=True, timeout=30)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


class EofficeRegisterTests(unittest.TestCase):
    def test_answers_every_unit_with_the_first_matching_document(self):
        status, out, err = run(request("2026-11-20T09:00:00+07:00"))
        self.assertEqual(status, 0, err)
        answer = json.loads(out)
        self.assertEqual(answer["version"], 1)
        by_unit = {f["unit"]: f for f in answer["findings"]}
        self.assertEqual(set(by_unit), {"51-STP", "51-SYT", "51-SXD"})
        self.assertEqual(by_unit["51-STP"]["met_at"], "2026-10-20T09:00:00+07:00")
        self.assertEqual(by_unit["51-STP"]["reference"], "123/BC-STP")
        self.assertIn("ISO 9001:2015 năm 2026", by_unit["51-STP"]["note"])
        self.assertIsNone(by_unit["51-SYT"]["met_at"])  # a training letter, not the report
        self.assertEqual(by_unit["51-SXD"]["reference"], "210/BC-SXD")

    def test_a_document_registered_after_now_does_not_count_yet(self):
        status, out, _ = run(request("2026-11-16T09:00:00+07:00"))
        self.assertEqual(status, 0)
        by_unit = {f["unit"]: f for f in json.loads(out)["findings"]}
        self.assertIsNone(by_unit["51-SXD"]["met_at"])

    def test_last_years_report_does_not_meet_this_year(self):
        status, out, _ = run(request("2026-11-20T09:00:00+07:00", units=["51-SNV"]))
        self.assertEqual(status, 0)
        self.assertIsNone(json.loads(out)["findings"][0]["met_at"])

    def test_a_missing_register_is_one_line_on_stderr_and_exit_1(self):
        status, out, err = run(request("2026-11-20T09:00:00+07:00", register="/nonexistent/register.csv"))
        self.assertEqual(status, 1)
        self.assertEqual(out, "")
        self.assertIn("cannot read the register /nonexistent/register.csv", err)

    def test_a_bad_date_in_the_register_names_the_line(self):
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, encoding="utf-8") as handle:
            handle.write("so_ky_hieu,don_vi_gui,trich_yeu,ngay_den\n1/BC,51-STP,Báo cáo ISO 9001 năm 2026,20/10/2026\n")
        try:
            status, _, err = run(request("2026-11-20T09:00:00+07:00", register=handle.name))
        finally:
            os.unlink(handle.name)
        self.assertEqual(status, 1)
        self.assertIn(f"{handle.name}:2: ngay_den: `20/10/2026` is not an RFC 3339 instant", err)

    def test_an_unknown_protocol_version_is_refused(self):
        status, _, err = run(request("2026-11-20T09:00:00+07:00", version=2))
        self.assertEqual(status, 1)
        self.assertIn("request version 2", err)

    def test_a_request_that_is_not_json_is_refused(self):
        result = subprocess.run([sys.executable, PLUGIN], input=b"nonsense", capture_output=True, timeout=30)
        self.assertEqual(result.returncode, 1)
        self.assertIn("malformed request", result.stderr.decode())


if __name__ == "__main__":
    unittest.main()
