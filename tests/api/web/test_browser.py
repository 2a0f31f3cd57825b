"""The dashboard in a real browser (Debian's Chromium driven by Playwright) against a real
uvicorn: sign in and out, the Now chart's data, a member's refusals, cancel, CSRF."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import pairwise
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page

from gridwait.app.budgets import usage
from gridwait.app.forecasting import forecast
from gridwait.app.jobs import show
from gridwait.app.users import list_users
from tests.api.conftest import ROOT
from tests.api.web.conftest import DemoLab


@pytest.fixture
def context(browser: Browser, demo_lab: DemoLab) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=demo_lab.url)
    try:
        yield ctx
    finally:
        ctx.close()


def signed_in(context: BrowserContext, lab: DemoLab, who: str) -> Page:
    page = context.new_page()
    page.goto("/signin")
    page.fill("#token", lab.tokens[who])
    page.click("#signin")
    page.wait_for_url("**/now")
    return page


def csrf_of(page: Page) -> str:
    value = page.locator("input[name=csrf]").first.get_attribute("value")
    assert value
    return value


def test_sign_in_sets_a_strict_http_only_session_cookie(
    context: BrowserContext, demo_lab: DemoLab
) -> None:
    page = signed_in(context, demo_lab, "alice")
    assert page.locator("header .signout span").inner_text() == "alice (member)"
    (cookie,) = context.cookies()
    assert cookie["name"] == "gridwait_session"
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/"
    assert cookie["secure"] is False  # served over http here; Secure over https
    assert page.evaluate("document.cookie") == ""  # no script of the page can read it


def test_a_wrong_token_is_refused_with_one_line(context: BrowserContext) -> None:
    page = context.new_page()
    page.goto("/signin")
    page.fill("#token", "gw_not-a-token")
    with page.expect_response("**/signin") as answer:
        page.click("#signin")
    assert answer.value.status == 401
    assert page.locator("#error").inner_text() == "sign-in refused: unknown or revoked API token"
    assert context.cookies() == []


def test_the_now_chart_draws_the_forecast_and_the_planned_jobs(
    context: BrowserContext, demo_lab: DemoLab
) -> None:
    page = signed_in(context, demo_lab, "bob")
    page.wait_for_function("document.getElementById('now-chart').data !== undefined")
    drawn: list[dict[str, Any]] = page.evaluate(
        "Array.from(document.getElementById('now-chart').data)"
    )
    embedded = page.evaluate("JSON.parse(document.getElementById('now-chart-data').textContent)")
    assert [t["name"] for t in drawn] == [t["name"] for t in embedded["data"]]
    traces = {t["name"]: t for t in drawn}

    # the forecast line is the forecast use case's values, hour by hour
    line = traces["forecast (profile)"]
    fresh = forecast(demo_lab.deps, ROOT, hours=24)
    expected = {p.start.strftime("%Y-%m-%d %H:%M:%S"): p.value for p in fresh.points}
    common = [x for x in line["x"] if x in expected]
    assert len(common) >= 20
    got = dict(zip(line["x"], line["y"], strict=True))
    assert [got[x] for x in common] == pytest.approx([expected[x] for x in common])
    assert "actual (past hours)" in traces

    # one bar per planned job, over the window GET /api/v1/plan gives it
    plan = requests.get(
        f"{demo_lab.url}/api/v1/plan",
        headers={"Authorization": f"Bearer {demo_lab.tokens['bob']}"},
        timeout=60,
    ).json()
    windows = {j["id"]: (j["start"], j["end"]) for j in plan["jobs"] if j["status"] != "held"}
    assert set(windows) >= set(demo_lab.jobs.values())  # the demo's four jobs
    bars = traces["planned jobs"]
    assert sorted(bars["customdata"]) == sorted(windows)
    for job, base, width, text in zip(
        bars["customdata"], bars["base"], bars["x"], bars["hovertext"], strict=True
    ):
        start, end = windows[job]
        assert base == start[:19].replace("T", " ")
        seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
        assert width == pytest.approx(seconds * 1000)
        assert f"job {job} " in text
        assert "forecast " in text and "run now " in text and "saving " in text
    # no two bars of a lane overlap
    spans: dict[int, list[tuple[str, float]]] = {}
    for lane, base, width in zip(bars["y"], bars["base"], bars["x"], strict=True):
        spans.setdefault(lane, []).append((base, width))
    for lane_bars in spans.values():
        ordered = sorted(lane_bars)
        for (a, w), (b, _) in pairwise(ordered):
            start_a = datetime.fromisoformat(a).timestamp()
            assert start_a + w / 1000 <= datetime.fromisoformat(b).timestamp()
    # hovering a bar shows its grams (plotly.js's own hover, on the bars' subplot)
    index = next(i for i, t in enumerate(drawn) if t["name"] == "planned jobs")
    page.evaluate(
        f"Plotly.Fx.hover('now-chart', [{{curveNumber: {index}, pointNumber: 0}}], 'xy2')"
    )
    label = page.locator("#now-chart .hoverlayer").text_content() or ""
    assert f"job {bars['customdata'][0]} " in label
    assert "forecast" in label and "run now" in label and "saving" in label
    # plotly.js drew it: an SVG with the bars in it
    assert page.locator("#now-chart .main-svg").count() >= 1
    assert page.locator("#now-chart g.barlayer path").count() >= len(windows)


def test_a_member_cannot_open_users_or_edit_a_budget(
    context: BrowserContext, demo_lab: DemoLab
) -> None:
    page = signed_in(context, demo_lab, "alice")
    assert page.locator("nav a", has_text="Users").count() == 0
    answer = page.goto("/users")
    assert answer is not None and answer.status == 403
    assert "only admins may do this" in page.locator("#error").inner_text()

    page.goto("/budgets")
    assert page.locator("#budget-form").count() == 0
    assert page.locator("#read-only").is_visible()
    csrf = csrf_of(page)
    # forced, with a valid session and CSRF token: the use case refuses it
    forced = page.request.post(
        "/budgets", form={"csrf": csrf, "scope": "project", "name": "reviews", "monthly": "1kg"}
    )
    assert forced.status == 403
    assert "only admins may do this" in forced.json()["detail"]
    assert [b for b in usage(demo_lab.deps, ROOT) if b.name == "reviews"] == []
    forced = page.request.post("/users", form={"csrf": csrf, "name": "mallory", "role": "admin"})
    assert forced.status == 403
    assert "mallory" not in {u.name for u in list_users(demo_lab.deps, ROOT)}


def test_an_admin_edits_a_budget_and_sees_its_bar(
    context: BrowserContext, demo_lab: DemoLab
) -> None:
    page = signed_in(context, demo_lab, "root")
    page.goto("/budgets")
    form = page.locator("#budget-form")
    form.locator("select[name=scope]").select_option("project")
    form.locator("input[name=name]").fill("products")
    form.locator("input[name=monthly]").fill("2kg")
    form.locator("button").click()
    page.wait_for_selector("#budgets-chart .main-svg")
    (budget,) = [b for b in usage(demo_lab.deps, ROOT) if b.name == "products"]
    assert budget.monthly_g == 2000
    drawn = page.evaluate("Array.from(document.getElementById('budgets-chart').data)")
    assert {t["name"]: t["x"] for t in drawn} == {
        "used (g)": [pytest.approx(budget.used_g)],
        "committed (g)": [pytest.approx(budget.committed_g)],
        "left (g)": [pytest.approx(budget.left_g)],
    }


def test_cancel_a_job_from_its_page(context: BrowserContext, demo_lab: DemoLab) -> None:
    mine = demo_lab.submit("alice", "to-cancel")
    theirs = demo_lab.jobs["reviews-base"]  # bob's
    page = signed_in(context, demo_lab, "alice")
    page.goto(f"/jobs/{theirs}")
    assert page.locator("#cancel").count() == 0  # not hers: no button
    page.goto(f"/jobs/{mine}")
    page.click("#cancel")
    page.wait_for_url(f"**/jobs/{mine}")
    assert page.locator("#state").inner_text() == "cancelled"
    assert "cancelled by owner" in page.locator("#events").inner_text()
    assert show(demo_lab.deps, ROOT, mine).state == "cancelled"
    # forcing a cancel of bob's job: refused by the use case
    forced = page.request.post(f"/jobs/{theirs}/cancel", form={"csrf": csrf_of(page)})
    assert forced.status == 403
    assert show(demo_lab.deps, ROOT, theirs).state != "cancelled"


def test_a_post_without_the_csrf_token_is_refused(
    context: BrowserContext, demo_lab: DemoLab
) -> None:
    mine = demo_lab.submit("carol", "csrf-target")
    page = signed_in(context, demo_lab, "carol")
    for form in ({}, {"csrf": "wrong"}):
        refused = page.request.post(f"/jobs/{mine}/cancel", form=form)
        assert refused.status == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert "CSRF token is missing or wrong" in refused.json()["detail"]
    assert show(demo_lab.deps, ROOT, mine).state != "cancelled"


def test_sign_out_ends_the_session(context: BrowserContext, demo_lab: DemoLab) -> None:
    page = signed_in(context, demo_lab, "bob")
    (cookie,) = context.cookies()
    page.click("#signout")
    page.wait_for_url("**/signin")
    assert context.cookies() == []
    page.goto("/queue")
    assert page.url.endswith("/signin")
    # the old cookie is dead on the server too, not only forgotten by the browser
    again = requests.get(
        f"{demo_lab.url}/queue",
        cookies={cookie["name"]: cookie["value"]},
        allow_redirects=False,
        timeout=30,
    )
    assert again.status_code == 303 and again.headers["location"] == "/signin"


@pytest.mark.parametrize("path", ["/now", "/queue", "/history", "/budgets", "/users", "/jobs/1"])
def test_a_page_without_a_session_redirects_to_sign_in(context: BrowserContext, path: str) -> None:
    page = context.new_page()
    page.goto(path)
    assert page.url.endswith("/signin")
    assert page.locator("#token").is_visible()


def test_an_admin_adds_a_user_issues_and_revokes_a_token(
    browser: Browser, context: BrowserContext, demo_lab: DemoLab
) -> None:
    page = signed_in(context, demo_lab, "root")
    page.click("nav >> text=Users")
    form = page.locator("#user-form")
    form.locator("input[name=name]").fill("erin")
    form.locator("button").click()
    row = page.locator("tr[data-user=erin]")
    row.locator("input[name=token_name]").fill("laptop")
    row.locator("button", has_text="Issue token").click()
    secret = page.locator("#issued-token").inner_text()
    assert secret.startswith("gw_")
    # the new token signs erin in
    other = browser.new_context(base_url=demo_lab.url)
    try:
        theirs = other.new_page()
        theirs.goto("/signin")
        theirs.fill("#token", secret)
        theirs.click("#signin")
        theirs.wait_for_url("**/now")
        assert theirs.locator("header .signout span").inner_text() == "erin (member)"
    finally:
        other.close()
    page.goto("/users")
    assert secret not in page.content()  # shown once only
    page.locator("tr[data-user=erin] button", has_text="Revoke").click()
    page.wait_for_url("**/users")
    assert page.locator("tr[data-user=erin] button", has_text="Revoke").count() == 0
    (erin,) = [u for u in list_users(demo_lab.deps, ROOT) if u.name == "erin"]
    assert erin.role == "member" and erin.tokens == []
    page.locator("tr[data-user=erin] button", has_text="Remove").click()
    page.wait_for_url("**/users")
    assert "erin" not in {u.name for u in list_users(demo_lab.deps, ROOT)}
