"""The desk and a unit's link, in a real browser (Debian's chromium, chromedriver and selenium).

Starts the given nhacviec binary on a copy of the shipped Rules/ with a `web:` section, its clock
at 30/10/2026 09:00 (the season of the ISO report, due before 15/11), and walks through what the
Department's officers and a unit do: a login refused and one accepted, the season page, a fact
recorded and retracted, a silence, a unit answering its reminder through the link in a real .eml,
a tampered link refused, and the claim accepted or returned on the desk. Beside the browser, raw
HTTP checks what a browser hides: a form posted without its csrf field, the security headers of
every page, and every page parsed as strict HTML5 (html5lib).

    /usr/bin/python3 Tests/Browser/desk.py .build/debug/nhacviec [--screenshots docs/web]

With --screenshots, each page is saved at a phone's width (390 px) and a desktop's (1280 px).
"""

import argparse
import base64
import email
import email.policy
import glob
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

import html5lib
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLOCK = "2026-10-30T09:00:00+07:00"
OFFICER, PASSWORD = "canbo.skhcn", "mật khẩu đủ dài 2026"
READER, READER_PASSWORD = "xem.skhcn", "chỉ xem thôi 2026"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """The shipped configuration with a desk, in a temporary folder, and its daemon."""

    def __init__(self, binary):
        self.binary = os.path.abspath(binary)
        self.folder = tempfile.mkdtemp(prefix="nhacviec-desk-")
        shutil.copytree(f"{ROOT}/Rules", f"{self.folder}/Rules", ignore=shutil.ignore_patterns(".nhacviec"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with open(f"{self.folder}/link-keys", "w") as f:
            f.write("# the first key signs\n")
            f.write("k2026 " + base64.b64encode(os.urandom(32)).decode() + "\n")
        os.chmod(f"{self.folder}/link-keys", 0o600)
        self.config = f"{self.folder}/Rules/nhacviec.yaml"
        with open(self.config, "a") as f:
            f.write(
                f'\nweb:\n  listen: "127.0.0.1:{self.port}"\n  url: "{self.url}"\n'
                f"  link_keys_file: {self.folder}/link-keys\n")
        self.outbox = f"{self.folder}/Rules/.nhacviec/outbox"
        self.process = None

    def cli(self, *arguments, stdin=None, check=True):
        result = subprocess.run(
            [self.binary, *arguments, "--config", self.config], input=stdin, capture_output=True, text=True,
            cwd=self.folder)
        if check and result.returncode != 0:
            raise AssertionError(f"nhacviec {' '.join(arguments)}: {result.returncode}\n{result.stderr}")
        return result

    def start(self):
        self.log = open(f"{self.folder}/daemon.log", "w")
        self.process = subprocess.Popen(
            [self.binary, "run", "--config", self.config, "--clock-start", CLOCK], stderr=self.log, cwd=self.folder)
        until = time.monotonic() + 120
        while time.monotonic() < until:
            if self.process.poll() is not None:
                raise AssertionError("the daemon ended:\n" + open(f"{self.folder}/daemon.log").read())
            try:
                status, _, _ = http_get(self.url, "/login")
                if status == 200 and glob.glob(f"{self.outbox}/*.eml"):
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("the desk did not answer:\n" + open(f"{self.folder}/daemon.log").read())

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)

    def messages(self):
        """Every .eml in the outbox, parsed, newest last."""
        found = []
        for path in sorted(glob.glob(f"{self.outbox}/*.eml"), key=os.path.getmtime):
            with open(path, "rb") as f:
                found.append(email.message_from_binary_file(f, policy=email.policy.default))
        return found


def http_get(base, path, cookie=None):
    return http_request(base, "GET", path, cookie=cookie)


def http_request(base, method, path, body=None, cookie=None):
    parsed = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    headers = {}
    if cookie:
        headers["Cookie"] = cookie
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = urllib.parse.urlencode(body)
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, payload


def check_page(name, status, headers, body, expect=200):
    """A desk page as every page must be: its status, the security headers, strict HTML5."""
    assert status == expect, f"{name}: {status}, expected {expect}"
    csp = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp, f"{name}: CSP {csp!r}"
    assert "default-src 'none'" in csp, f"{name}: CSP {csp!r}"
    assert headers.get("referrer-policy") == "no-referrer", f"{name}: Referrer-Policy {headers.get('referrer-policy')}"
    assert headers.get("x-content-type-options") == "nosniff", f"{name}: X-Content-Type-Options"
    if headers.get("content-type", "").startswith("text/html"):
        parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
        try:
            document = parser.parse(body)
        except Exception as error:  # html5lib raises ParseError with the position
            raise AssertionError(f"{name}: not strict HTML5: {error}\n{body.decode()[:2000]}")
        assert document.get("lang") == "vi", f"{name}: <html lang> is {document.get('lang')!r}"
        fields = [e for e in document.iter() if e.tag in ("input", "select", "textarea")
                  and e.get("type") not in ("hidden", "submit")]
        labelled = {e.get("for") for e in document.iter("label")}
        for field in fields:
            assert field.get("id") in labelled or field.get("aria-label"), \
                f"{name}: field {field.get('name')!r} has no label"


class Browser:
    def __init__(self, screenshots):
        options = webdriver.ChromeOptions()
        for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--lang=vi"]:
            options.add_argument(argument)
        options.binary_location = "/usr/bin/chromium"
        self.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        self.driver.set_page_load_timeout(30)
        self.screenshots = screenshots

    def open(self, url):
        self.driver.get(url)

    def shoot(self, name):
        """The page at a phone's width and a desktop's, whole."""
        if not self.screenshots:
            return
        os.makedirs(self.screenshots, exist_ok=True)
        for label, width in (("phone", 390), ("desktop", 1280)):
            self.driver.set_window_size(width, 900)
            height = self.driver.execute_script("return document.documentElement.scrollHeight")
            # The window's height holds the browser's own frame besides the page.
            self.driver.set_window_size(width, min(max(height + 160, 600), 2000))
            self.driver.save_screenshot(f"{self.screenshots}/{name}-{label}.png")
        self.driver.set_window_size(1280, 900)

    def field(self, name):
        return self.driver.find_element(By.NAME, name)

    def fill(self, values):
        for name, value in values.items():
            element = self.field(name)
            if element.tag_name == "select":
                from selenium.webdriver.support.ui import Select
                Select(element).select_by_value(value)
            else:
                element.clear()
                element.send_keys(value)

    def submit(self, form_selector="form"):
        """Sends the form and waits for the page it leads to (click returns before it loads)."""
        button = self.driver.find_element(By.CSS_SELECTOR, f"{form_selector} [type=submit]")
        button.click()

        def left(driver):
            # The old page's button is gone once the new page is in; chromedriver says so with a
            # stale-element error, or now and then with an inspector error about the node.
            try:
                button.is_enabled()
                return False
            except WebDriverException:
                return driver.execute_script("return document.readyState") == "complete"

        WebDriverWait(self.driver, 30).until(left)

    @property
    def text(self):
        return self.driver.find_element(By.TAG_NAME, "body").text

    @property
    def path(self):
        return urllib.parse.urlsplit(self.driver.current_url).path

    def quit(self):
        self.driver.quit()


def unit_link(daemon, skip=()):
    """A unit's own reminder in the outbox, and the link it carries (text and HTML agree)."""
    for message in daemon.messages():
        if message["To"] in skip:
            continue
        text = message.get_body(preferencelist=("plain",)).get_content()
        found = re.search(re.escape(daemon.url) + r"/c/[A-Za-z0-9_.~-]+", text)
        if not found:
            continue
        html = message.get_body(preferencelist=("html",))
        if html is not None:
            assert found.group(0) in html.get_content(), "the HTML part carries another link than the text"
        return message, found.group(0)
    raise AssertionError("no message in the outbox carries a unit's link")


def main():
    arguments = argparse.ArgumentParser()
    arguments.add_argument("binary")
    arguments.add_argument("--screenshots")
    arguments.add_argument("--keep", action="store_true", help="keep the temporary folder")
    options = arguments.parse_args()

    daemon = Daemon(options.binary)
    daemon.start()
    # Accounts go through the control socket, as every change does: the daemon must run.
    daemon.cli("user", "add", OFFICER, "--role", "writer", stdin=PASSWORD + "\n")
    daemon.cli("user", "add", READER, "--role", "reader", stdin=READER_PASSWORD + "\n")
    browser = Browser(options.screenshots and os.path.abspath(options.screenshots))
    steps = 0
    try:
        def step(name):
            nonlocal steps
            steps += 1
            print(f"ok {steps} - {name}", flush=True)

        # Every page needs a login: the season page sends a stranger to /login.
        browser.open(daemon.url + "/")
        assert browser.path == "/login", f"/ without a session went to {browser.path}"
        browser.shoot("login")
        step("the season page needs a login")

        # A wrong password is refused, and says so in Vietnamese.
        browser.fill({"user": OFFICER, "password": "sai mật khẩu"})
        browser.submit()
        assert browser.path == "/login", browser.path
        assert "không đúng" in browser.text.lower(), browser.text
        step("a wrong password is refused")

        # The right one opens the season.
        browser.fill({"user": OFFICER, "password": PASSWORD})
        browser.submit()
        assert browser.path == "/", browser.path
        assert "iso-annual-report" in browser.driver.page_source or "ISO" in browser.text, browser.text[:500]
        browser.shoot("season")
        step("the officer signs in and sees the season")

        cookie = "; ".join(f"{c['name']}={c['value']}" for c in browser.driver.get_cookies())
        session = [c for c in browser.driver.get_cookies() if c.get("httpOnly")]
        assert session and all(c.get("sameSite") == "Strict" for c in session), browser.driver.get_cookies()
        step("the session cookie is HttpOnly and SameSite=Strict")

        # What a browser hides: headers and strict HTML5 on every page, and csrf on every POST.
        for path in ["/", "/login", "/facts", "/claims", "/queue", "/silences", "/units/51-SNV"]:
            status, headers, body = http_get(daemon.url, path, cookie=cookie)
            check_page(path, status, headers, body)
        status, headers, body = http_request(
            daemon.url, "POST", "/facts",
            body={"kind": "report", "unit": "51-SNV", "rule": "iso-annual-report", "period": "2026",
                  "reference": "01/BC-SNV"}, cookie=cookie)
        assert status == 403, f"a form without csrf: {status}"
        facts = json.loads(daemon.cli("facts", "--json").stdout or "[]")
        assert not [f for f in facts if f.get("reference") == "01/BC-SNV"], "a form without csrf recorded a fact"
        status, _, _ = http_get(daemon.url, "/v1/status", cookie=cookie)
        assert status == 404, f"/v1/status over the desk: {status}"
        step("security headers, strict HTML5, csrf refused, no control API over TCP")

        # A fact recorded on the desk names the officer; retracting it keeps who did it.
        browser.open(daemon.url + "/facts")
        browser.fill({"kind": "report", "unit": "51-SNV", "rule": "iso-annual-report", "period": "2026",
                      "reference": "99/BC-SNV"})
        browser.shoot("facts")
        browser.submit("form.record")
        facts = json.loads(daemon.cli("facts", "--json").stdout)
        recorded = [f for f in facts if f.get("reference") == "99/BC-SNV"]
        assert recorded and recorded[0].get("recorded_by_name") == OFFICER, recorded
        step("a fact recorded on the desk, by the officer's name")

        browser.open(daemon.url + "/facts")
        retract = "form[action='/facts/retract']"
        browser.driver.find_element(By.CSS_SELECTOR, f"{retract} [name=reason]").send_keys("ghi nhầm")
        browser.submit(retract)
        facts = json.loads(daemon.cli("facts", "--json").stdout)
        assert not [f for f in facts if f.get("reference") == "99/BC-SNV"], "the fact is still in force"
        step("the fact retracted")

        # A CSV uploaded: all or none, the wrong line named; then the corrected file, whole.
        upload = f"{daemon.folder}/nop-bao-cao.csv"
        rows = ["kind,unit,rule,period,at,reference",
                "report,51-STP,iso-annual-report,2026,2026-10-29T10:00:00+07:00,11/BC-STP",
                "report,51-KHONGCO,iso-annual-report,2026,2026-10-29T10:00:00+07:00,12/BC-X"]
        with open(upload, "w") as f:
            f.write("\n".join(rows) + "\n")
        browser.open(daemon.url + "/facts")
        browser.field("csv").send_keys(upload)
        browser.submit("form.upload")
        assert "nop-bao-cao.csv:3" in browser.text, browser.text[:800]
        facts = json.loads(daemon.cli("facts", "--json").stdout)
        assert not [f for f in facts if f.get("reference") == "11/BC-STP"], "a refused file recorded a fact"
        rows[2] = "report,51-SNV,iso-annual-report,2026,2026-10-29T10:00:00+07:00,12/BC-SNV"
        with open(upload, "w") as f:
            f.write("\n".join(rows) + "\n")
        browser.open(daemon.url + "/facts")
        browser.field("csv").send_keys(upload)
        browser.submit("form.upload")
        facts = json.loads(daemon.cli("facts", "--json").stdout)
        uploaded = [f for f in facts if f.get("reference") in ("11/BC-STP", "12/BC-SNV")]
        assert len(uploaded) == 2 and all(f.get("recorded_by_name") == OFFICER for f in uploaded), uploaded
        step("a CSV uploaded: refused whole with the wrong line named, then recorded whole")

        # A unit answers its reminder through the link of a real .eml, without any account.
        message, link = unit_link(daemon)
        browser.driver.delete_all_cookies()
        browser.open(link)
        assert "15/11/2026" in browser.text or "14/11/2026" in browser.text, browser.text[:800]
        # The page counts the days as the message did.
        said = re.search(r"còn (\d+) ngày", message.get_body(preferencelist=("plain",)).get_content())
        assert said and f"Còn {said.group(1)} ngày đến hạn" in browser.text, (said, browser.text[:800])
        browser.shoot("link")
        check_page("a unit's link", *http_get(daemon.url, urllib.parse.urlsplit(link).path))
        browser.fill({"reference": "123/BC-UBND", "date": "29/10/2026"})
        browser.submit("form.claim")
        assert "đã ghi nhận" in browser.text.lower(), browser.text[:800]
        claims = [f for f in json.loads(daemon.cli("facts", "--json").stdout) if f.get("kind") == "claim"]
        assert len(claims) == 1 and claims[0].get("source") == "link", claims
        # Its reminders stop: nothing more goes out about its report (the escalations neither).
        unit = claims[0]["unit"]
        coming = json.loads(daemon.cli("upcoming", "--days", "30", "--json").stdout)
        about = [n["key"] for n in coming if n["key"].startswith(f"iso-annual-report/{unit}/")]
        assert not about, about
        assert any(n["key"].startswith("iso-annual-report/") for n in coming), "nothing else goes out either"
        # Twice is one claim.
        browser.open(link)
        browser.fill({"reference": "123/BC-UBND", "date": "29/10/2026"})
        browser.submit("form.claim")
        claims = [f for f in json.loads(daemon.cli("facts", "--json").stdout) if f.get("kind") == "claim"]
        assert len(claims) == 1, claims
        step("a unit confirms through its link, once however often it submits")

        # A tampered link is refused with a plain page and changes nothing.
        tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
        status, headers, body = http_get(daemon.url, urllib.parse.urlsplit(tampered).path)
        check_page("a tampered link", status, headers, body, expect=403)
        browser.open(tampered)
        browser.shoot("link-refused")
        step("a tampered link is refused")

        # The officer verifies: the claim is on the desk, and accepting it records the report.
        browser.open(daemon.url + "/login")
        browser.fill({"user": OFFICER, "password": PASSWORD})
        browser.submit()
        browser.open(daemon.url + "/claims")
        assert "123/BC-UBND" in browser.text, browser.text[:800]
        signed_in = "; ".join(f"{c['name']}={c['value']}" for c in browser.driver.get_cookies())
        check_page("/claims with a claim", *http_get(daemon.url, "/claims", cookie=signed_in))
        browser.shoot("claims")
        browser.submit("form.accept")
        facts = json.loads(daemon.cli("facts", "--json").stdout)
        reports = [f for f in facts if f.get("kind") == "report" and f.get("reference") == "123/BC-UBND"]
        assert reports and reports[0].get("recorded_by_name") == OFFICER, reports
        step("the claim accepted: the report recorded by the officer")

        # Another unit claims, and the officer returns its claim with a reason: the unit hears
        # why, in a new message carrying its link again.
        other, other_link = unit_link(daemon, skip=(message["To"],))
        browser.driver.delete_all_cookies()
        browser.open(other_link)
        browser.fill({"reference": "45/BC-UBND", "date": "28/10/2026"})
        browser.submit("form.claim")
        browser.open(daemon.url + "/login")
        browser.fill({"user": OFFICER, "password": PASSWORD})
        browser.submit()
        browser.open(daemon.url + "/claims")
        assert "45/BC-UBND" in browser.text, browser.text[:800]
        reason = "Số văn bản không khớp với sổ văn bản đến của Sở"
        browser.driver.find_element(By.CSS_SELECTOR, "form.return [name=reason]").send_keys(reason)
        browser.submit("form.return")
        until = time.monotonic() + 60
        told = []
        while time.monotonic() < until and not told:
            told = [m for m in daemon.messages()
                    if reason in m.get_body(preferencelist=("plain",)).get_content()]
            time.sleep(0.2)
        assert told, "the unit was not told why its claim was returned"
        # To the unit's own people (its head too), no one else's: the directory gives each unit a domain.
        assert {a.domain for a in told[0]["To"].addresses} == {a.domain for a in other["To"].addresses}, \
            (told[0]["To"], other["To"])
        assert "/c/" in told[0].get_body(preferencelist=("plain",)).get_content(), "the return carries no link"
        step("a claim returned: the unit is told why, with its link")

        # A reader sees but cannot change.
        browser.driver.delete_all_cookies()
        browser.open(daemon.url + "/login")
        browser.fill({"user": READER, "password": READER_PASSWORD})
        browser.submit()
        browser.open(daemon.url + "/facts")
        assert not browser.driver.find_elements(By.CSS_SELECTOR, "form.record"), "a reader is offered the form"
        step("a reader is offered no form")
    except Exception:
        print(open(f"{daemon.folder}/daemon.log").read()[-4000:], file=sys.stderr)
        raise
    finally:
        browser.quit()
        daemon.stop()
        if not options.keep:
            shutil.rmtree(daemon.folder, ignore_errors=True)
        else:
            print(f"kept {daemon.folder}")
    print(f"1..{steps}")


if __name__ == "__main__":
    main()
