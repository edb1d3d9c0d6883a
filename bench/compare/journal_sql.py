#!/usr/bin/python3
"""The journal's statements alone, through Python's sqlite3, per row: insert 10,000 notices (256 to
a transaction), then claim them 16 at a time and record each one's outcome and attempt, as the
daemon does. Variants of the journal's indexes show what each costs (bench/PROFILE-delivery.md).

Usage: bench/compare/journal_sql.py [shipped|partial|no-ready|no-due|side-table] [--no-attempt]
  shipped: journal_claim, led by state (migration v6); partial: v5's partial journal_ready and
  journal_due; no-ready: journal_due alone; no-due: journal_ready alone; side-table: partial,
  with the decision in a table of its own.
"""

import os
import sqlite3
import sys
import tempfile
import time

variant = next((a for a in sys.argv[1:] if not a.startswith("--")), "shipped")
attempts = "--no-attempt" not in sys.argv
N, BATCH = 10000, 16

READY = ("CREATE INDEX journal_ready ON journal (channel, scheduled_at, key, state, next_attempt_at) "
         "WHERE state IN ('planned', 'failed', 'silenced');")
DUE = "CREATE INDEX journal_due ON journal (channel, state, next_attempt_at);"
indexes = {
    "shipped": "CREATE INDEX journal_claim ON journal (channel, state, scheduled_at, key, next_attempt_at);",
    "partial": READY + DUE,
    "no-ready": DUE,
    "no-due": READY,
    "side-table": READY + DUE + "CREATE TABLE decision_text (id INTEGER PRIMARY KEY, decision TEXT);",
}[variant]

path = os.path.join(tempfile.mkdtemp(dir="/var/tmp"), "journal.sqlite")
db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA journal_mode = WAL")
db.execute("PRAGMA synchronous = NORMAL")
db.executescript("""
CREATE TABLE journal (key TEXT NOT NULL, channel TEXT NOT NULL, schema INTEGER NOT NULL, rule TEXT NOT NULL,
  unit TEXT NOT NULL, period TEXT NOT NULL, step TEXT NOT NULL, reason TEXT NOT NULL, scheduled_at REAL NOT NULL,
  state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL, last_error TEXT, receipt TEXT,
  decision TEXT, message TEXT, pending TEXT, subject TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL,
  sent_at REAL, acknowledged_by INTEGER, acknowledged_at REAL, PRIMARY KEY (key, channel));
CREATE TABLE attempt (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, channel TEXT NOT NULL,
  number INTEGER NOT NULL, at REAL NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL, reached TEXT NOT NULL);
CREATE INDEX attempt_key ON attempt (key);
CREATE INDEX attempt_channel ON attempt (channel, outcome, id);
""" + indexes)
decision = "x" * 410

# The claim as Store.claim makes it: v6 reads each state in order; v5 filtered the partial index.
if variant == "shipped":
    CLAIM = ("UPDATE journal SET state = 'sending', updated_at = ?1 WHERE rowid IN (SELECT rowid FROM ("
             " SELECT * FROM (SELECT rowid, scheduled_at, key FROM journal WHERE channel = ?2 AND state = 'planned'"
             "   AND (next_attempt_at IS NULL OR next_attempt_at <= ?1) ORDER BY scheduled_at, key LIMIT ?3)"
             " UNION ALL SELECT * FROM (SELECT rowid, scheduled_at, key FROM journal WHERE channel = ?2"
             "   AND state = 'failed' AND next_attempt_at <= ?1 ORDER BY scheduled_at, key LIMIT ?3)"
             " UNION ALL SELECT * FROM (SELECT rowid, scheduled_at, key FROM journal WHERE channel = ?2"
             "   AND state = 'silenced' AND next_attempt_at <= ?1 ORDER BY scheduled_at, key LIMIT ?3))"
             " ORDER BY scheduled_at, key LIMIT ?3) RETURNING key, channel")
else:
    CLAIM = ("UPDATE journal SET state = 'sending', updated_at = ?1 WHERE rowid IN ("
             " SELECT rowid FROM journal WHERE channel = ?2 AND state IN ('planned', 'failed', 'silenced')"
             " AND ((state = 'planned' AND (next_attempt_at IS NULL OR next_attempt_at <= ?1))"
             "      OR (state IN ('failed', 'silenced') AND next_attempt_at <= ?1))"
             " ORDER BY scheduled_at, key LIMIT ?3) RETURNING key, channel")

t0 = time.perf_counter()
for start in range(0, N, 256):
    db.execute("BEGIN")
    for i in range(start, min(N, start + 256)):
        row = ("bench/U%d/2026/remind-1d@2026-11-17T09:00" % i, "hook", "U%d" % i)
        if variant == "side-table":
            cursor = db.execute(
                "INSERT INTO journal (key, channel, schema, rule, unit, period, step, reason, scheduled_at, state,"
                " created_at, updated_at) VALUES (?, ?, 2, 'bench', ?, '2026', 'remind-1d', 'first', 1000, 'planned', 0, 0)",
                row)
            db.execute("INSERT INTO decision_text (id, decision) VALUES (?, ?)", (cursor.lastrowid, decision))
        else:
            db.execute(
                "INSERT INTO journal (key, channel, schema, rule, unit, period, step, reason, scheduled_at, state,"
                " decision, created_at, updated_at)"
                " VALUES (?, ?, 2, 'bench', ?, '2026', 'remind-1d', 'first', 1000, 'planned', ?, 0, 0)",
                row + (decision,))
    db.execute("COMMIT")
t1 = time.perf_counter()

claim_s = record_s = 0.0
for _ in range(N // BATCH):
    a = time.perf_counter()
    db.execute("BEGIN")
    rows = db.execute(CLAIM, (2000, "hook", BATCH)).fetchall()
    db.execute("COMMIT")
    b = time.perf_counter()
    db.execute("BEGIN")
    for key, channel in rows:
        db.execute(
            "UPDATE journal SET state = ?, attempts = attempts + ?, next_attempt_at = ?, last_error = ?,"
            " receipt = COALESCE(?, receipt), pending = ?, sent_at = COALESCE(?, sent_at),"
            " subject = COALESCE(?, subject), updated_at = ? WHERE key = ? AND channel = ? AND state = 'sending'",
            ("sent", 1, None, None, "200 OK", None, 2001, "[Nhắc việc] Báo cáo thử nghiệm", 2001, key, channel))
        if attempts:
            db.execute(
                "INSERT INTO attempt (key, channel, number, at, outcome, detail, reached)"
                " SELECT key, channel, attempts, ?, ?, ?, ? FROM journal WHERE key = ? AND channel = ?",
                (2001, "sent", "200 OK", '{"http://127.0.0.1/hook":"sent"}', key, channel))
    db.execute("COMMIT")
    claim_s += b - a
    record_s += time.perf_counter() - b
print("%s%s: insert %.0f µs, claim %.0f µs, record %.0f µs a row" % (
    variant, "" if attempts else " (no attempt rows)", (t1 - t0) * 1e6 / N, claim_s * 1e6 / N, record_s * 1e6 / N))
