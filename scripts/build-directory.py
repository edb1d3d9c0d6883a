#!/usr/bin/python3
"""Builds Rules/directory/*.csv from the reference data in ../shared/data.

Adds synthetic contacts under the reserved .example domain (real addresses must never be used
by a demo or a test) and the tag `standing-agency` on the Department of Science and Technology.
Run from the repository root:  /usr/bin/python3 scripts/build-directory.py ../shared/data
"""
import csv
import sys
from pathlib import Path

ROLES = [("head", "lanhdao"), ("iso-focal", "iso"), ("office", "vanthu")]


def head_title(kind, name):
    """The head's title as agencies write it: the office, then the unit, UBND before a
    People's Committee's area in lower case (Chủ tịch UBND xã Tịnh Khê)."""
    if kind == "province":
        return "Chủ tịch UBND " + name[0].lower() + name[1:]
    if kind in ("dept", "board"):
        if name.startswith("Sở "):
            return f"Giám đốc {name}"
        if name.startswith("Văn phòng") or name.startswith("Thanh tra"):
            return f"Chánh {name}"
        if name.startswith("Ban "):
            return f"Trưởng {name}"
        return f"Thủ trưởng {name}"
    return "Chủ tịch UBND " + name[0].lower() + name[1:]


def clean(name):
    """The source's slips: doubled spaces, "Thị Trấn" for "Thị trấn"."""
    name = " ".join(name.split())
    if name.startswith("Thị Trấn "):
        name = "Thị trấn " + name[len("Thị Trấn "):]
    return name


def build(source, target, other_names):
    rows = list(csv.DictReader(open(source, encoding="utf-8")))
    for row in rows:
        row["name"] = clean(row["name"])
    era = "2021" if "2021" in source.name else "2025"
    with open(target, "w", encoding="utf-8", newline="") as out:
        columns = ["id", "name", "kind", "parent_id", "tags"]
        for role, _ in ROLES:
            columns += [f"{role}.name", f"{role}.email"]
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            ident = row["id"]
            # A code reused by the other era for another unit gets its own mailbox domain.
            reused = ident in other_names and other_names[ident] != row["name"]
            domain = f"{ident.lower()}{'-' + era if reused else ''}.quangngai.example"
            tags = "standing-agency" if ident == "51-SKHCN" else ""
            record = [ident, row["name"], row["kind"], row["parent_id"], tags]
            for role, mailbox in ROLES:
                name = {
                    "head": head_title(row["kind"], row["name"]),
                    "iso-focal": "Đầu mối ISO",
                    "office": "Văn thư",
                }[role]
                record += [name, f"{mailbox}@{domain}"]
            writer.writerow(record)


def main():
    data = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    names = {}
    for era in ("2021", "2025"):
        names[era] = {r["id"]: clean(r["name"]) for r in csv.DictReader(open(data / f"units-quangngai-{era}.csv", encoding="utf-8"))}
    build(data / "units-quangngai-2021.csv", Path("Rules/directory/quangngai-2021.csv"), names["2025"])
    build(data / "units-quangngai-2025.csv", Path("Rules/directory/quangngai-2025.csv"), names["2021"])


if __name__ == "__main__":
    main()
