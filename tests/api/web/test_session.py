"""The dashboard's sessions and forms over plain HTTP against a real uvicorn: what is
stored, expiry, the origin guard, HTML for a browser and problem+json for a client."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from starlette.requests import Request
from starlette.responses import Response

from gridwait.api.web.session import COOKIE, set_cookie
from gridwait.app.actor import Role, host_admin
from gridwait.app.budgets import usage
from gridwait.app.users import add_user, issue_token
from gridwait.app.views import JobView
from tests.api.conftest import ALICE, ROOT, Lab


def signed_in(lab: Lab, who: str) -> requests.Session:
    browser = requests.Session()
    done = browser.post(f"{lab.url}/signin", data={"token": lab.tokens[who]}, timeout=30)
    assert done.status_code == 200 and done.url.endswith("/now"), done.text[:300]
    return browser


def csrf(browser: requests.Session, lab: Lab) -> str:
    page = browser.get(f"{lab.url}/budgets", timeout=30).text
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found.group(1)


def test_only_a_hash_of_the_session_id_is_stored(lab: Lab, env: Path) -> None:
    browser = signed_in(lab, "alice")
    secret = browser.cookies[COOKIE]
    with sqlite3.connect(env) as conn:
        rows = conn.execute("SELECT session_hash, csrf, expires_at FROM web_sessions").fetchall()
    assert len(rows) == 1
    stored = rows[0][0]
    assert secret not in stored and len(stored) == 64  # a SHA-256, hex
    hours = lab.deps.settings.api.session_hours
    expires = datetime.fromisoformat(rows[0][2]).replace(tzinfo=UTC)
    assert abs(expires - (lab.deps.clock.now() + timedelta(hours=hours))) < timedelta(minutes=1)


def test_an_expired_session_redirects_to_sign_in(lab: Lab, env: Path) -> None:
    browser = signed_in(lab, "bob")
    assert browser.get(f"{lab.url}/queue", timeout=30).url.endswith("/queue")
    with sqlite3.connect(env) as conn:
        conn.execute("UPDATE web_sessions SET expires_at = '2000-01-01 00:00:00.000000'")
    answer = browser.get(f"{lab.url}/queue", allow_redirects=False, timeout=30)
    assert answer.status_code == 303 and answer.headers["location"] == "/signin"


def test_removing_a_user_ends_their_sessions(lab: Lab) -> None:
    add_user(lab.deps, host_admin(), "dora", Role.MEMBER)
    lab.tokens["dora"] = issue_token(lab.deps, host_admin(), "dora").token
    dora = signed_in(lab, "dora")
    admin = signed_in(lab, "root")
    removed = admin.post(
        f"{lab.url}/users/dora/remove", data={"csrf": csrf(admin, lab)}, timeout=30
    )
    assert removed.status_code == 200 and removed.url.endswith("/users")
    answer = dora.get(f"{lab.url}/now", allow_redirects=False, timeout=30)
    assert answer.status_code == 303


def test_revoking_a_token_ends_the_sessions_signed_in_with_it(lab: Lab) -> None:
    """A leaked token, revoked, must not live on as a dashboard session for hours; the
    same user's sessions from other tokens go on."""
    leaked = issue_token(lab.deps, host_admin(), "alice", "leaked")
    thief = requests.Session()
    thief.post(f"{lab.url}/signin", data={"token": leaked.token}, timeout=30)
    alice = signed_in(lab, "alice")
    assert thief.get(f"{lab.url}/now", allow_redirects=False, timeout=30).status_code == 200
    revoked = lab.as_("alice", "DELETE", f"/api/v1/users/alice/tokens/{leaked.id}")
    assert revoked.status_code == 204
    answer = thief.get(f"{lab.url}/now", allow_redirects=False, timeout=30)
    assert answer.status_code == 303 and answer.headers["location"] == "/signin"
    assert alice.get(f"{lab.url}/now", allow_redirects=False, timeout=30).status_code == 200


def test_a_sign_in_counts_as_a_use_of_its_token(lab: Lab) -> None:
    """The Users page's "last used" must not call a token that signs someone in to the
    dashboard unused (an admin judges a leaked one by it)."""
    from gridwait.app.users import list_users

    token = issue_token(lab.deps, host_admin(), "bob", "dashboard-only")
    requests.post(f"{lab.url}/signin", data={"token": token.token}, timeout=30)
    (bob,) = [u for u in list_users(lab.deps, ROOT) if u.name == "bob"]
    (used,) = [t for t in bob.tokens if t.name == "dashboard-only"]
    assert used.last_used_at is not None


def test_a_form_from_another_origin_is_refused(lab: Lab) -> None:
    admin = signed_in(lab, "root")
    form = {"csrf": csrf(admin, lab), "scope": "project", "name": "p", "monthly": "1kg"}
    refused = admin.post(
        f"{lab.url}/budgets", data=form, headers={"Origin": "https://evil.example"}, timeout=30
    )
    assert refused.status_code == 403
    assert refused.json()["detail"] == "a form posted from https://evil.example is refused"
    assert usage(lab.deps, ROOT) == []
    signin = requests.post(
        f"{lab.url}/signin",
        data={"token": lab.tokens["root"]},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
        timeout=30,
    )
    assert signin.status_code == 403 and COOKIE not in signin.cookies


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "null"},  # a sandboxed frame or a data: page of another site
        {"Sec-Fetch-Site": "cross-site"},  # a browser that sent no Origin still says this
    ],
)
def test_a_sign_in_posted_from_an_opaque_or_foreign_page_is_refused(
    lab: Lab, headers: dict[str, str]
) -> None:
    """Sign-in has no CSRF token yet: the origin is its only guard against a page of
    another site signing the visitor in as someone else (login CSRF)."""
    signin = requests.post(
        f"{lab.url}/signin",
        data={"token": lab.tokens["root"]},
        headers=headers,
        allow_redirects=False,
        timeout=30,
    )
    assert signin.status_code == 403 and COOKIE not in signin.cookies
    assert "is refused" in signin.json()["detail"]
    same = requests.post(
        f"{lab.url}/signin",
        data={"token": lab.tokens["root"]},
        headers={"Origin": lab.url, "Sec-Fetch-Site": "same-origin"},
        allow_redirects=False,
        timeout=30,
    )
    assert same.status_code == 303 and COOKIE in same.cookies


def _form_posts() -> list[str]:
    """Every dashboard POST but sign-in (which has no session yet), its path parameters
    filled in: a route added later is covered without editing this test."""
    from fastapi.routing import APIRoute

    from gridwait.api.web import forms

    paths = [
        r.path
        for r in forms.router.routes
        if isinstance(r, APIRoute) and "POST" in (r.methods or ())
    ]
    filled = [p.format(job_id=1, name="bob", token_id=1) for p in paths if p != "/signin"]
    return sorted(filled)


def test_every_form_post_is_refused_without_the_csrf_token(lab: Lab, env: Path) -> None:
    paths = _form_posts()
    assert {"/signout", "/jobs/1/cancel", "/budgets", "/users"} <= set(paths)
    admin = signed_in(lab, "root")
    before = sqlite3.connect(env).execute("SELECT COUNT(*) FROM web_sessions").fetchone()
    for path in paths:
        for form in ({}, {"csrf": "wrong"}):
            refused = admin.post(f"{lab.url}{path}", data=form, timeout=30)
            assert refused.status_code == 403, path
            assert "CSRF token is missing or wrong" in refused.json()["detail"], path
    # sign-out without the token ended nothing: the session is still live
    assert admin.get(f"{lab.url}/now", allow_redirects=False, timeout=30).status_code == 200
    after = sqlite3.connect(env).execute("SELECT COUNT(*) FROM web_sessions").fetchone()
    assert after == before


def test_a_member_refused_the_users_page_gets_no_token_issued_either(lab: Lab) -> None:
    """The Users page's forms are an admin's: a refusal writes nothing (not a token
    issued, then the page refused, the token never shown)."""
    from gridwait.app.users import list_users

    alice = signed_in(lab, "alice")
    refused = alice.post(
        f"{lab.url}/users/alice/tokens",
        data={"csrf": csrf(alice, lab), "token_name": "via-the-page"},
        timeout=30,
    )
    assert refused.status_code == 403
    (me,) = list_users(lab.deps, ALICE)
    assert "via-the-page" not in {t.name for t in me.tokens}


def test_a_member_forcing_any_admin_form_is_refused_and_nothing_changes(lab: Lab) -> None:
    from gridwait.app.budgets import set_budget
    from gridwait.app.users import list_users

    set_budget(lab.deps, ROOT, "project", "kept", 5000.0)
    (bob,) = [u for u in list_users(lab.deps, ROOT) if u.name == "bob"]

    def people() -> list[tuple[str, str, list[int]]]:
        return [(u.name, u.role, [t.id for t in u.tokens]) for u in list_users(lab.deps, ROOT)]

    before = people()
    alice = signed_in(lab, "alice")
    token = csrf(alice, lab)
    forced = {
        "/budgets": {"scope": "project", "name": "kept", "monthly": "1g"},
        "/budgets/remove": {"scope": "project", "name": "kept"},
        "/users": {"name": "mallory", "role": "admin"},
        "/users/bob/remove": {},
        "/users/bob/tokens": {"token_name": "stolen"},
        f"/users/bob/tokens/{bob.tokens[0].id}/revoke": {},
    }
    for path, form in forced.items():
        refused = alice.post(f"{lab.url}{path}", data={"csrf": token, **form}, timeout=30)
        assert refused.status_code == 403, path
        assert "not to alice" in refused.json()["detail"] or (
            "alice is a member" in refused.json()["detail"]
        ), path
    (kept,) = usage(lab.deps, ROOT)
    assert (kept.name, kept.monthly_g) == ("kept", 5000.0)
    assert people() == before


def test_a_browser_gets_an_error_page_and_a_client_a_problem(lab: Lab) -> None:
    alice = signed_in(lab, "alice")
    page = alice.get(f"{lab.url}/users", headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 403
    assert page.headers["content-type"].startswith("text/html")
    assert "manage users: only admins may do this (alice is a member)" in page.text
    assert "Traceback" not in page.text
    missing = alice.get(f"{lab.url}/jobs/999", headers={"Accept": "text/html"}, timeout=30)
    assert missing.status_code == 404 and "no job with id 999" in missing.text
    bad = alice.post(
        f"{lab.url}/budgets",
        data={"csrf": csrf(alice, lab), "scope": "project", "name": "p", "monthly": "lots"},
        timeout=30,
    )
    assert bad.status_code == 400
    assert bad.json()["detail"] == "monthly: 'lots' is not a mass such as 40kg or 500g"


def test_a_script_in_a_job_name_stays_text_in_pages_and_chart_data(lab: Lab) -> None:
    """A name closing the <script> that holds a figure's JSON must not end it early."""
    from gridwait.app.jobs import submit_remote
    from gridwait.spec import JobSpec
    from tests.api.conftest import spec

    evil = "</script><script>alert(1)</script>"
    job = submit_remote(lab.deps, ALICE, JobSpec.model_validate(spec(name=evil, project=evil)))
    alice = signed_in(lab, "alice")
    for path in ("/now", "/queue", f"/jobs/{job.job.id}"):
        page = alice.get(f"{lab.url}{path}", timeout=30).text
        assert evil not in page and "<script>alert" not in page, path
    page = alice.get(f"{lab.url}/now", timeout=30).text
    found = re.search(r'id="now-chart-data">(.*?)</script>', page, re.S)
    assert found
    (planned,) = [t for t in json.loads(found.group(1))["data"] if t["name"] == "planned jobs"]
    (hover,) = [h for h in planned["hovertext"] if f"job {job.job.id} " in h]
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in hover


def test_pages_forbid_framing_and_foreign_scripts(lab: Lab) -> None:
    alice = signed_in(lab, "alice")
    page = alice.get(f"{lab.url}/now", timeout=30)
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["cache-control"] == "no-store"
    assert '<script src="/assets/plotly.min.js"' in page.text
    assert "cdn" not in page.text.lower()


def test_plotly_is_served_from_the_installed_package(lab: Lab) -> None:
    from gridwait.api.web import plotly_js

    served = requests.get(f"{lab.url}/assets/plotly.min.js", timeout=30)
    assert served.status_code == 200
    assert served.content == plotly_js().read_bytes()
    assert served.headers["content-type"].startswith("text/javascript")


def test_the_export_downloads_the_same_csv_as_the_api(lab: Lab) -> None:
    alice = signed_in(lab, "alice")
    download = alice.get(f"{lab.url}/history/export.csv", timeout=30)
    api = lab.as_("alice", "GET", "/api/v1/export")
    assert download.status_code == 200
    assert download.headers["content-disposition"] == 'attachment; filename="gridwait-runs.csv"'
    # the lab's runs, like every page: kept by no cache, read as nothing but CSV
    assert download.headers["cache-control"] == "no-store"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.text == api.text
    assert download.text.splitlines()[0].startswith("timestamp,")  # the header, at least


def test_the_cookie_is_secure_over_https() -> None:
    for scheme, secure in (("https", True), ("http", False)):
        scope = {"type": "http", "scheme": scheme, "server": ("lab.example", 443)}
        request = Request({**scope, "headers": [], "path": "/"})
        response = Response()
        set_cookie(request, response, "s", datetime(2030, 1, 1, tzinfo=UTC))
        header = response.headers["set-cookie"]
        assert "HttpOnly" in header and "SameSite=strict" in header and "Path=/" in header
        assert ("Secure" in header) is secure


def test_a_job_page_draws_its_runs_energy_samples(lab: Lab) -> None:
    from gridwait.app.runs import heartbeat, start_run
    from gridwait.workers.reporter import Sample

    run_id, _ = lab.claimed_run(ALICE)
    start_run(lab.deps, run_id, "4242", "node1")
    at = lab.deps.clock.now()
    samples = [
        Sample(
            at=at + timedelta(seconds=s),
            elapsed_s=s,
            gpu_j=None,
            cpu_j=360.0 * s,
            ram_j=36.0 * s,
            gpu_method=None,
            cpu_method="rapl",
            ram_method="estimated",
        )
        for s in (2.0, 4.0)
    ]
    assert heartbeat(lab.deps, run_id, samples)
    (job,) = [j for j in show_all(lab) if any(r.id == run_id for r in j.runs)]
    page = signed_in(lab, "bob").get(f"{lab.url}/jobs/{job.id}", timeout=30).text
    found = re.search(r'id="samples-chart-data">(.*?)</script>', page, re.S)
    assert found
    traces = {t["name"]: t["y"] for t in json.loads(found.group(1))["data"]}
    assert traces == {
        f"run {run_id} CPU": [pytest.approx(720 / 3.6e6), pytest.approx(1440 / 3.6e6)],
        f"run {run_id} RAM": [pytest.approx(72 / 3.6e6), pytest.approx(144 / 3.6e6)],
    }  # no GPU trace: the GPU was not measured, not measured as 0
    assert f"<td>{run_id}</td>" in page


def show_all(lab: Lab) -> list[JobView]:
    from gridwait.app.jobs import QueueFilter, queue, show

    return [show(lab.deps, ROOT, r.id) for r in queue(lab.deps, ROOT, QueueFilter(True))]
