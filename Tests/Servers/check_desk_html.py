#!/usr/bin/python3
"""Checks a desk page as a validator would: check_desk_html.py FILE...

- It parses as HTML5 without a single parse error (html5lib in strict mode).
- <html lang="vi">, <meta charset="utf-8"> and a title.
- Every field a person fills in (input other than hidden, select, textarea) has a <label for=…>.
- No script, no inline style or event handler, nothing loaded from another site: the desk's
  Content-Security-Policy would refuse them, so a page that has them is broken.

Prints FILE: message for each problem; exit 1 if any.
"""
import sys

import html5lib

failed = False
for name in sys.argv[1:]:
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
    if not data.decode("utf-8").startswith("<!DOCTYPE html>"):
        problems.append("does not start with <!DOCTYPE html>")
    if document.get("lang") != "vi":
        problems.append('<html> has no lang="vi"')
    if document.find("./head/meta[@charset='utf-8']") is None:
        problems.append('no <meta charset="utf-8">')
    title = document.find("./head/title")
    if title is None or not (title.text or "").strip():
        problems.append("no <title>")
    labelled = {label.get("for") for label in document.iter("label")}
    for element in document.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag == "script":
            problems.append("<script>")
        if element.get("style") is not None or tag == "style":
            problems.append(f"inline style on <{tag}>")
        for attribute in element.keys():
            if attribute.startswith("on"):
                problems.append(f"event handler {attribute} on <{tag}>")
        for attribute in ("src", "href", "action"):
            value = element.get(attribute)
            if value and not value.startswith("/"):
                problems.append(f'<{tag} {attribute}="{value}"> leaves the site')
        if tag in ("input", "select", "textarea") and element.get("type") != "hidden":
            if not element.get("id") or element.get("id") not in labelled:
                problems.append(f"<{tag} name={element.get('name')}> has no label")
    for problem in problems:
        print(f"{name}: {problem}")
    failed = failed or bool(problems)
sys.exit(1 if failed else 0)
