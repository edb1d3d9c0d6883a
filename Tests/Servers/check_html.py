#!/usr/bin/python3
"""Checks an HTML document as a validator would, for the report tests: check_html.py FILE.

- It must parse as HTML5 without a single parse error (html5lib in strict mode follows the
  WHATWG parsing algorithm, which flags every syntax error a conformance checker reports).
- It must be self-contained: no script, no external stylesheet, image or font, no URL that
  leaves the document (`src`, `href`, `url(...)`, `@import`).
- It must declare its language, its encoding (UTF-8) and a title.

Prints FILE: message for each problem; exit 1 if any.
"""
import re
import sys

import html5lib

name = sys.argv[1]
with open(name, "rb") as handle:
    data = handle.read()
problems = []
parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
try:
    document = parser.parse(data, transport_encoding="utf-8")
except html5lib.html5parser.ParseError as error:
    problems.append(f"parse error: {error}")
    document = html5lib.parse(data, namespaceHTMLElements=False)
for position, code, _ in parser.errors:
    problems.append(f"parse error at {position}: {code}")

text = data.decode("utf-8")
if not text.startswith("<!DOCTYPE html>"):
    problems.append("does not start with <!DOCTYPE html>")
root = document
if root.get("lang") != "vi":
    problems.append("<html> has no lang=\"vi\"")
if root.find("./head/meta[@charset='utf-8']") is None:
    problems.append("no <meta charset=\"utf-8\"> in <head>")
title = root.find("./head/title")
if title is None or not (title.text or "").strip():
    problems.append("no <title>")
for element in root.iter():
    tag = element.tag.split("}")[-1] if isinstance(element.tag, str) else ""
    if tag in ("script", "iframe", "object", "embed", "link"):
        problems.append(f"<{tag}> makes the page depend on something outside it")
    for attribute in ("src", "href", "xlink:href", "{http://www.w3.org/1999/xlink}href"):
        value = element.get(attribute)
        if value and not value.startswith("#") and not value.startswith("data:"):
            problems.append(f"<{tag} {attribute}=\"{value}\"> points outside the document")
for match in re.finditer(r"url\(\s*['\"]?([^'\")]+)|@import", text):
    target = match.group(1) if match.lastindex else "@import"
    if not target.startswith("data:") and not target.startswith("#"):
        problems.append(f"CSS loads {target}")
for problem in problems:
    print(f"{name}: {problem}")
sys.exit(1 if problems else 0)
