#!/usr/bin/env python3
"""The readiness view in a real browser (headless Chromium through Selenium), as a person uses it.

Run by `tests/view.rs` against `ecoc up --dev`, which prepares a refused record with a known VIN,
a held stage 2 record and a view token. The check:

1. signs in with the view token; the dashboard, the submissions list (searched by a partial VIN
   with a `*` wildcard), the refused record (its reason, with field and rule, in `#findings`) and
   the tenant page are shown and photographed at 1280 px and 390 px wide;
2. on the held record the view token has no `#sign-off`, and a sign-off POST with its session
   is answered 403;
3. signs out, signs in with the primary token, previews the stored mapping on a sample record
   (the XML and the check's outcome), clicks `#sign-off` on the held record and waits until
   `#status-name` reads Succeeded.

Exit 0 when every step passed; 1 with the failed step's reason; 2 when the browser is missing.
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request

try:
    from selenium import webdriver
    from selenium.common.exceptions import (
        NoSuchElementException,
        WebDriverException,
    )
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as missing:  # the Rust test says what to install
    print(f"view_check: selenium is not installed ({missing})", file=sys.stderr)
    sys.exit(2)

WIDTHS = (1280, 390)


class Failed(Exception):
    """A step of the check did not hold."""


def step(text):
    print(f"view_check: {text}", flush=True)


def browser():
    options = Options()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--window-size=1280,900",
    ):
        options.add_argument(arg)
    binary = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if os.path.exists(binary):
        options.binary_location = binary
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver_path = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
    service = Service(driver_path) if os.path.exists(driver_path) else Service()
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(60)
    return driver


def one(driver, css):
    try:
        return driver.find_element(By.CSS_SELECTOR, css)
    except NoSuchElementException:
        raise Failed(f"{driver.current_url}: no `{css}` on the page") from None


def navigate(driver, element):
    """Clicks `element` (a link or a submit button) and waits for the next page to load."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(page))
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def absent(driver, css):
    if driver.find_elements(By.CSS_SELECTOR, css):
        raise Failed(f"{driver.current_url}: `{css}` must not be on the page")


def photograph(driver, artifacts, name):
    """The whole page at each width (the window as tall as the page), nothing focused."""
    driver.execute_script("if (document.activeElement) { document.activeElement.blur(); }")
    for width in WIDTHS:
        driver.set_window_size(width, 900)
        height = driver.execute_script(
            "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)"
        )
        driver.set_window_size(width, min(max(int(height) + 20, 600), 8000))
        path = os.path.join(artifacts, f"{name}-{width}.png")
        driver.save_screenshot(path)
        # A narrow page must not scroll sideways as a whole (wide tables scroll in their box).
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if overflow > 1:
            raise Failed(f"{name} at {width}px is {overflow}px wider than the window")
        step(f"screenshot {path}")
    driver.set_window_size(1280, 900)


def no_console_errors(driver, where):
    """No CSP violation or script error on the page (the view ships no script at all)."""
    try:
        logs = driver.get_log("browser")
    except WebDriverException:
        return
    # A page answered with an error status (the 404 page, a refusal) is logged too: not a fault.
    answered = "Failed to load resource: the server responded with a status of"
    bad = [
        entry["message"]
        for entry in logs
        if entry.get("level") == "SEVERE" and answered not in entry["message"]
    ]
    if bad:
        raise Failed(f"{where}: the browser reported {bad}")


def sign_in(driver, base, token):
    driver.get(f"{base}/view/login")
    field = one(driver, "input#token")
    if field.get_attribute("type") != "password":
        raise Failed("the token field must be a password field")
    field.send_keys(token)
    navigate(driver, one(driver, "form#login button[type=submit]"))
    one(driver, "#figures")


def sign_out(driver):
    navigate(driver, one(driver, "form.logout button"))
    one(driver, "form#login")


def skip_link_comes_first(driver):
    body = one(driver, "body")
    body.send_keys(Keys.TAB)
    focused = driver.switch_to.active_element
    if "skip-link" not in (focused.get_attribute("class") or ""):
        raise Failed("the first Tab stop must be the skip link")


def sample_record():
    """The demo M1 car under a VIN nobody uploaded: what a preview should accept."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "components/pipeline/demo/records/m1.json"), encoding="utf-8") as f:
        record = json.load(f)
    record["vin"] = "WEX1M1PREV1EW0001"
    return json.dumps(record, indent=2)


def post_with_session(base, path, cookie):
    """A form POST with this session's cookie, as the browser would send it; the status."""
    request = urllib.request.Request(
        f"{base}{path}",
        data=b"",
        method="POST",
        headers={
            "Cookie": f"ecoc_session={cookie}",
            "Origin": base,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as answer:
            return answer.status, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as answer:
        return answer.code, answer.read().decode("utf-8", "replace")


def check(args):
    base = args.base.rstrip("/")
    os.makedirs(args.artifacts, exist_ok=True)
    driver = browser()
    try:
        step("sign in with the view token")
        driver.get(f"{base}/view/submissions")
        if "/view/login" not in driver.current_url:
            raise Failed(f"without a session the view must send to the login, not {driver.current_url}")
        photograph(driver, args.artifacts, "login")
        sign_in(driver, base, args.view_token)
        skip_link_comes_first(driver)
        for figure in ("#fig-refused", "#fig-held", "#chart svg", "#chart-data", "#counts"):
            one(driver, figure)
        refused_today = int(one(driver, "#fig-refused .n").text)
        if refused_today < 1:
            raise Failed(f"the dashboard counts {refused_today} refused today, expected at least 1")
        no_console_errors(driver, "dashboard")
        photograph(driver, args.artifacts, "dashboard")

        step(f"search the refused record by `{args.vin}*`")
        navigate(driver, one(driver, "a[href='/view/submissions']"))
        vin = one(driver, "input#vin")
        vin.clear()
        vin.send_keys(f"{args.vin}*")
        navigate(driver, one(driver, "form#search button[type=submit]"))
        one(driver, "table#submissions")
        links = driver.find_elements(By.CSS_SELECTOR, "table#submissions a.record-link")
        matching = [a for a in links if a.text.startswith(args.vin)]
        if not matching:
            raise Failed(f"no record link for VIN {args.vin}* among {[a.text for a in links]}")
        if "vin=" not in driver.current_url:
            raise Failed(f"the search is not in the URL: {driver.current_url}")
        no_console_errors(driver, "submissions")
        photograph(driver, args.artifacts, "submissions")

        step("open it and read the reason")
        navigate(driver, matching[0])
        findings = one(driver, "#findings").text
        step(f"findings: {' '.join(findings.split())}")
        for expected in filter(None, (args.expect_field, args.expect_rule)):
            if expected not in findings:
                raise Failed(f"#findings does not name `{expected}`: {findings}")
        status = one(driver, "#status-name").text
        if status not in ("Rejected", "Failed", "Not delivered"):
            raise Failed(f"the refused record reads `{status}`")
        one(driver, "table#timeline")
        one(driver, "a#download-xml")
        absent(driver, "form#sign-off")
        no_console_errors(driver, "record")
        photograph(driver, args.artifacts, "record")

        step("the tenant page, read only for a view token")
        navigate(driver, one(driver, "a[href='/view/tenant']"))
        one(driver, "textarea#mapping")
        absent(driver, "form#settings-form")
        absent(driver, "form#new-token")
        no_console_errors(driver, "tenant")
        photograph(driver, args.artifacts, "tenant-view")

        step("an unknown record is a 404 page")
        driver.get(f"{base}/view/submissions/r000000000000000000000000")
        if "(404)" not in one(driver, "#error h1").text:
            raise Failed(f"an unknown record shows {one(driver, '#error').text}")
        photograph(driver, args.artifacts, "error-404")

        step("a view token cannot sign off the held record")
        driver.get(f"{base}/view/submissions/{args.held}")
        if one(driver, "#status-name").text != "Held":
            raise Failed(f"record {args.held} is not held")
        absent(driver, "#sign-off")
        cookie = driver.get_cookie("ecoc_session")
        if not cookie or not cookie.get("httpOnly"):
            raise Failed(f"the session cookie must be HttpOnly: {cookie}")
        status, body = post_with_session(
            base, f"/view/submissions/{args.held}/sign-off", cookie["value"]
        )
        if status != 403 or "Not allowed" not in body:
            raise Failed(f"a view token's sign-off answered {status}, expected 403:\n{body[:500]}")
        step("the sign-off POST with the view session answered 403")

        step("sign out, sign in with the primary token, sign off")
        sign_out(driver)
        sign_in(driver, base, args.primary_token)
        navigate(driver, one(driver, "a[href='/view/tenant']"))
        one(driver, "form#settings-form")
        one(driver, "form#new-token")
        photograph(driver, args.artifacts, "tenant-primary")

        step("preview the stored mapping on a sample record")
        sample = one(driver, "textarea#sample")
        sample.clear()
        sample.send_keys(sample_record())
        navigate(driver, one(driver, "#mapping-form button[formaction^='/view/tenant/preview']"))
        outcome = one(driver, "#preview-outcome").text
        if "accepted" not in outcome:
            raise Failed(f"the preview of a fresh car is not accepted: {outcome}")
        if "InitialVehicleInformation" not in one(driver, "#preview-xml").text:
            raise Failed("the preview shows no IVI XML")
        photograph(driver, args.artifacts, "tenant-preview")
        driver.get(f"{base}/view/submissions/{args.held}")
        photograph(driver, args.artifacts, "record-held")
        navigate(driver, one(driver, "form#sign-off button[type=submit]"))
        deadline = time.monotonic() + args.timeout
        status = ""
        while status != "Succeeded":
            if time.monotonic() > deadline:
                raise Failed(f"the signed-off record still reads `{status}` after {args.timeout}s")
            time.sleep(1)
            driver.get(f"{base}/view/submissions/{args.held}")
            try:
                status = one(driver, "#status-name").text
            except WebDriverException:
                # The page was still being replaced (a stale element, or Chromium's "node does not
                # belong to the document"): read it again on the next round.
                continue
        if "token:" not in one(driver, "table#timeline").text:
            raise Failed("the sign-off is not in the timeline")
        no_console_errors(driver, "record after sign-off")
        photograph(driver, args.artifacts, "record-signed-off")
        step("the signed-off record reads Succeeded")
    finally:
        driver.quit()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the app's URL, e.g. http://127.0.0.1:3000")
    parser.add_argument("primary_token")
    parser.add_argument("view_token")
    parser.add_argument("vin", help="the start of the refused record's VIN")
    parser.add_argument("held", help="the id of a held stage 2 record")
    parser.add_argument("artifacts", help="folder for the screenshots")
    parser.add_argument("--expect-field", default="", help="text #findings must contain")
    parser.add_argument("--expect-rule", default="", help="rule code #findings must contain")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    try:
        check(args)
    except Failed as failure:
        print(f"view_check: FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
    except WebDriverException as failure:
        print(f"view_check: FAILED: the browser: {failure.msg}", file=sys.stderr)
        sys.exit(1)
    step("all checks passed")


if __name__ == "__main__":
    main()
