"""The frontend as its people use it, in Debian's Chromium: a student's page, a teacher's class table, an
administrator's privacy desk, and the messages people get when something goes wrong. Every page is checked
with axe-core (WCAG 2.1 A and AA rules): no serious or critical violation."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from tests.stack.conftest import Client

WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
BLOCKING = ("serious", "critical")


def sign_in(browser: Browser, base_url: str, account: dict[str, str]) -> Page:
    page = browser.new_page(ignore_https_errors=True, viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page.goto(base_url + "/")
    page.get_by_label("User name").fill(account["username"])
    page.get_by_label("Password").fill(account["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=15000)
    return page


def shown(page: Page, heading: str) -> None:
    """The page's heading; a page that met the per-minute limit its user's earlier requests (the other tests')
    filled says so and offers to try again: wait the minute out and try, as its reader would."""
    wanted = page.get_by_role("heading", name=heading)
    limited = page.get_by_text("Too many requests in a minute")
    expect(wanted.or_(limited)).to_be_visible(timeout=15000)
    if limited.is_visible():
        page.wait_for_timeout(61_000)
        page.get_by_role("button", name="Try again").click()
    expect(wanted).to_be_visible()


def accessible(page: Page, what: str) -> None:
    violations = Axe().run(page, options=WCAG_21_AA).response["violations"]
    blocking = [f"{v['id']} ({v['impact']}): {v['help']}" for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"{what}: {blocking}"


def test_a_student_sees_their_prediction_in_words_exports_and_opts_out(
        browser: Browser, stack: dict[str, Any], accounts: dict[str, dict[str, str]], tmp_path: Path) -> None:
    page = sign_in(browser, stack["base_url"], accounts["student"])
    prediction = page.get_by_test_id("prediction")
    expect(prediction).to_contain_text("students with results like yours pass", timeout=15000)
    expect(prediction.get_by_role("listitem")).to_have_count(3)  # what mattered most
    expect(prediction).to_contain_text("model 1.0.0")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download all my data").click()
    assert download.value.suggested_filename.startswith("edupro-my-data-")
    switch = page.get_by_label("Hide me from the school directory")
    was = switch.is_checked()
    switch.click()
    expect(page.get_by_role("status")).to_contain_text("hidden from" if not was else "listed in")
    switch.click()  # back as it was: the stack's data is not the test's
    expect(switch).to_be_checked(checked=was)
    accessible(page, "the student's page")
    page.screenshot(path=str(tmp_path / "student.png"), full_page=True)


def test_a_teacher_finds_the_students_at_risk_first_and_sorts_by_keyboard(
        browser: Browser, stack: dict[str, Any], accounts: dict[str, dict[str, str]], tmp_path: Path) -> None:
    page = sign_in(browser, stack["base_url"], accounts["teacher"])
    shown(page, "My classes")
    accessible(page, "the teacher's classes")
    started = time.monotonic()
    page.locator("main ul a").first.click()
    table = page.get_by_test_id("class-table")
    expect(table.locator("tbody tr").first).to_be_visible(timeout=15000)
    rendered = time.monotonic() - started
    rows = table.locator("tbody tr")
    count = rows.count()
    assert count > 1
    chances = [0 if t == "under 1 %" else 100 if t == "over 99 %" else int(t.rstrip(" %"))
               for t in table.locator("tbody tr td:nth-child(6)").all_inner_texts() if t != "—"]
    assert chances == sorted(chances), "the class is not shown at risk first"
    first_name = rows.first.locator("td").first.inner_text()
    page.get_by_label("Find a student").fill(first_name)
    expect(table.locator("tbody tr").first).to_contain_text(first_name)
    assert table.locator("tbody tr").count() < count or count == 1
    page.get_by_label("Find a student").fill("")
    # Keyboard only: Tab to the "Chance of passing" column's button and press Enter to sort it the other way.
    header = table.get_by_role("columnheader", name="Chance of passing")
    expect(header).to_have_attribute("aria-sort", "ascending")
    page.get_by_label("At risk only").focus()
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent").startswith("Chance of passing"):
            break
    page.keyboard.press("Enter")
    expect(header).to_have_attribute("aria-sort", "descending")
    accessible(page, "the class table")
    page.screenshot(path=str(tmp_path / "class.png"), full_page=True)
    print(f"class table of {count} students rendered in {rendered:.2f} s")


def test_an_administrator_sees_the_settings_and_is_told_what_erasure_does(
        browser: Browser, stack: dict[str, Any], accounts: dict[str, dict[str, str]], client: Client,
        token: dict[str, str], tmp_path: Path) -> None:
    page = sign_in(browser, stack["base_url"], accounts["administrator"])
    expect(page.get_by_role("heading", name="Privacy desk")).to_be_visible()
    settings = page.get_by_test_id("settings")
    expect(settings).to_contain_text("environment", timeout=15000)
    assert "jwt_secret" not in settings.inner_text()
    classes = client.call("GET", "/api/v1/classes", token["administrator"]).json()
    someone = next(s for c in classes for s in c["students"])
    page.get_by_label("Name (two letters or more)").fill(someone["name"][:6])
    page.get_by_test_id("found").get_by_role("link", name=someone["name"]).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(someone["name"])
    page.get_by_role("button", name="Erase identifying data…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("cannot be undone")
    expect(dialog).to_contain_text("can no longer sign in")
    accessible(page, "the erasure confirmation")
    dialog.get_by_role("button", name="Cancel").click()  # a real student of the stack: nothing is erased
    expect(dialog).to_be_hidden()
    assert not client.call("GET", f"/api/v1/students/{someone['id']}", token["administrator"]).json()["erased"]
    accessible(page, "the student's page for an administrator")
    page.screenshot(path=str(tmp_path / "admin.png"), full_page=True)


def test_an_ended_session_a_forbidden_page_and_a_server_that_is_down_each_get_a_way_forward(
        browser: Browser, stack: dict[str, Any], accounts: dict[str, dict[str, str]]) -> None:
    page = sign_in(browser, stack["base_url"], accounts["student"])
    page.goto(stack["base_url"] + "/admin")  # not the student's page: the API answers 403
    expect(page.get_by_role("alert").first).to_contain_text("not open to your role")
    expect(page.get_by_role("link", name="Back to my start page").first).to_be_visible()
    page.route("**/api/v1/**", lambda route: route.abort())  # the backend is down
    page.goto(stack["base_url"] + "/me")
    expect(page.get_by_role("alert")).to_contain_text("not answering right now")
    page.unroute("**/api/v1/**")
    page.get_by_role("button", name="Try again").click()
    expect(page.get_by_test_id("prediction")).to_be_visible(timeout=15000)
    page.evaluate("""() => { const s = JSON.parse(sessionStorage.getItem('edupro.session'));
                             s.token = s.token.slice(0, -4) + 'AAAA'; sessionStorage.setItem('edupro.session', JSON.stringify(s)); }""")
    page.reload()
    expect(page.get_by_role("alert")).to_contain_text("session has ended")
    page.get_by_role("button", name="Sign in again").click()
    expect(page.get_by_label("User name")).to_be_visible()
    accessible(page, "the sign-in page")
