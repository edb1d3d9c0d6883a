#!/usr/bin/python3
"""Parses a Prometheus text exposition (0.0.4) in FILE or on stdin with Debian's python3-prometheus-client,
the parser Prometheus's own Python client uses, and prints it as JSON for the tests:

  {"families": [{"name", "type", "help", "samples": [{"name", "labels", "value"}]}],
   "problems": ["…"]}

A malformed exposition makes the parser raise: the script then exits 1 with the parser's reason.
"problems" lists what promtool's `check metrics` lint would object to (naming conventions), so
that the tests need not install the prometheus package (96 MB) for it.
"""

import json
import math
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

SNAKE = re.compile(r"^[a-z_][a-z0-9_]*$")


def lint(families, text):
    problems = []
    seen = set()
    for family in families:
        name = family.name
        if not SNAKE.match(name):
            problems.append(f"{name}: not snake_case")
        if not name.startswith("nhacviec_"):
            problems.append(f"{name}: no nhacviec_ prefix")
        if not family.documentation:
            problems.append(f"{name}: no HELP")
        if family.type == "untyped" or family.type == "unknown":
            problems.append(f"{name}: no TYPE")
        if family.type == "counter":
            # The parser strips `_total` from a counter family's name; its samples must carry it.
            for sample in family.samples:
                if not sample.name.endswith("_total"):
                    problems.append(f"{sample.name}: a counter's name must end in _total")
        elif name.endswith("_total"):
            problems.append(f"{name}: only counters end in _total")
        if family.type == "histogram":
            buckets = {}
            for sample in family.samples:
                if sample.name.endswith("_bucket"):
                    key = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
                    buckets.setdefault(key, []).append((float(sample.labels["le"]), sample.value))
            for key, values in buckets.items():
                if not any(math.isinf(le) for le, _ in values):
                    problems.append(f"{name}{dict(key)}: no +Inf bucket")
                counts = [v for _, v in sorted(values)]
                if counts != sorted(counts):
                    problems.append(f"{name}{dict(key)}: buckets not cumulative")
        for unit in ("milliseconds", "minutes", "hours", "days", "bytes_total"):
            if unit in name:
                problems.append(f"{name}: use base units (seconds)")
        for sample in family.samples:
            for label in sample.labels:
                if not SNAKE.match(label):
                    problems.append(f"{sample.name}: label {label} not snake_case")
            key = (sample.name, tuple(sorted(sample.labels.items())))
            if key in seen:
                problems.append(f"{sample.name}{sample.labels}: given twice")
            seen.add(key)
    if not text.endswith("\n"):
        problems.append("the exposition must end with a line feed")
    return problems


def main():
    text = open(sys.argv[1], encoding="utf-8").read() if len(sys.argv) > 1 else sys.stdin.read()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as error:  # the parser's own reason, for the test's failure message
        print(f"unparsable exposition: {error!r}", file=sys.stderr)
        return 1
    out = {
        "families": [
            {
                "name": f.name,
                "type": f.type,
                "help": f.documentation,
                "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples],
            }
            for f in families
        ],
        "problems": lint(families, text),
    }
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
