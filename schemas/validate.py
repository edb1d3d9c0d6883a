#!/usr/bin/python3
"""Validates YAML files against nhacviec's JSON Schemas: validate.py SCHEMA FILE [FILE...].

Scalars are read as strings (YAML's BaseLoader), as nhacviec itself reads them, so that
2025-06-30 stays a date string. Prints FILE: message for each error; exit 1 if any.
"""
import json
import sys
from pathlib import Path

import jsonschema
import yaml

here = Path(__file__).resolve().parent
store = {}
for path in here.glob("*.schema.json"):
    schema = json.loads(path.read_text(encoding="utf-8"))
    store[schema["$id"]] = schema
    store[path.name] = schema

schema = json.loads((here / sys.argv[1]).read_text(encoding="utf-8"))
resolver = jsonschema.RefResolver(base_uri=schema["$id"], referrer=schema, store=store)
validator = jsonschema.Draft202012Validator(schema, resolver=resolver)
failed = False
for name in sys.argv[2:]:
    with open(name, encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=yaml.BaseLoader)
    for error in validator.iter_errors(document):
        failed = True
        # For "not valid under any of the given schemas", the alternative that got furthest
        # into the document says why.
        while error.context:
            error = max(error.context, key=lambda e: len(e.absolute_path))
        where = "/".join(str(p) for p in error.absolute_path)
        print(f"{name}: {where}: {error.message}")
sys.exit(1 if failed else 0)
