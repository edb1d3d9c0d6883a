#!/usr/bin/env python3
"""An external rule kind for nhacviec: reports received through the eOffice system.

The provincial document system (eOffice) keeps the register of incoming documents (sổ văn bản
đến). This program reads an export of that register as CSV and tells nhacviec which units have
sent their report for the period: the earliest document from the unit whose summary matches the
rule's pattern, received no later than the instant nhacviec asks about.

It speaks nhacviec's external rule protocol, version 1 (docs/rules.md, "External rule kinds"):
one JSON request on standard input, one JSON answer on standard output, exit 0. Any problem is
one line on standard error and exit 1; nhacviec then judges nobody for the rule and period.

Options (the rule's params.options):
  register  the CSV export; a relative path is taken from this program's folder
  pattern   a regular expression matched against the summary (trich_yeu), case-insensitive;
            {period} stands for the period (2026)

Register columns: so_ky_hieu (document number), don_vi_gui (sender's unit id), trich_yeu
(summary), ngay_den (received: an RFC 3339 instant, such as 2026-10-20T09:00:00+07:00).
"""

import csv
import datetime
import json
import os
import re
import sys

PROTOCOL_VERSION = 1
COLUMNS = ("so_ky_hieu", "don_vi_gui", "trich_yeu", "ngay_den")


class Refusal(Exception):
    """A problem worth one line on standard error."""


def instant(text, what):
    try:
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Refusal(f"{what}: `{text}` is not an RFC 3339 instant")
    if value.tzinfo is None:
        raise Refusal(f"{what}: `{text}` has no UTC offset")
    return value


def read_register(path):
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise Refusal(f"{path}: the register lacks the column(s) {', '.join(missing)}")
            rows = []
            for row in reader:
                where = f"{path}:{reader.line_num}"
                rows.append((row, instant(row["ngay_den"].strip(), f"{where}: ngay_den")))
            return rows
    except OSError as error:
        raise Refusal(f"cannot read the register {path}: {error.strerror}")


def judge(request):
    if request.get("version") != PROTOCOL_VERSION:
        raise Refusal(f"request version {request.get('version')!r}; this program speaks {PROTOCOL_VERSION}")
    rule = request["rule"]
    options = rule.get("options") or {}
    if "register" not in options or "pattern" not in options:
        raise Refusal("the rule's params.options need `register` and `pattern`")
    register = options["register"]
    if not os.path.isabs(register):
        register = os.path.join(os.path.dirname(os.path.abspath(__file__)), register)
    try:
        pattern = re.compile(options["pattern"].replace("{period}", rule["period"]), re.IGNORECASE)
    except re.error as error:
        raise Refusal(f"pattern `{options['pattern']}`: {error}")
    now = instant(request["now"], "now")

    first = {}
    for row, received in read_register(register):
        unit = row["don_vi_gui"].strip()
        if received > now or not pattern.search(row["trich_yeu"]):
            continue
        if unit not in first or received < first[unit][1]:
            first[unit] = (row, received)

    findings = []
    for unit in request["units"]:
        found = first.get(unit["id"])
        if found is None:
            findings.append({"unit": unit["id"], "met_at": None})
        else:
            row, received = found
            findings.append({
                "unit": unit["id"],
                "met_at": received.isoformat(),
                "reference": row["so_ky_hieu"].strip(),
                "note": f"vào sổ văn bản đến: {row['trich_yeu'].strip()}",
            })
    return {"version": PROTOCOL_VERSION, "findings": findings}


def main():
    try:
        request = json.load(sys.stdin)
        answer = judge(request)
    except Refusal as refusal:
        print(refusal, file=sys.stderr)
        return 1
    except (ValueError, KeyError, TypeError) as error:
        print(f"malformed request: {error!r}", file=sys.stderr)
        return 1
    json.dump(answer, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
