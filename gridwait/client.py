"""The CLI as a remote client: the `Gateway` of a gridwait service over HTTP.

Answers are parsed into the same views the local use cases return, and problem bodies
back into gridwait's errors with the exit code the service names, so a command prints and
exits the same in both modes. Paths in a spec are made absolute here, on the client; the
service checks that it can see them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import requests
from pydantic import TypeAdapter, ValidationError

from gridwait.app.views import (
    BudgetView,
    EstimateView,
    ForecastView,
    HistoryRow,
    JobView,
    PlanView,
    QueueRow,
    ReportRow,
    Submitted,
)
from gridwait.errors import (
    ConfigError,
    GridwaitError,
    NotFoundError,
    PermissionDenied,
    SpecError,
    StateError,
    Unauthenticated,
)
from gridwait.settings_base import http_url

if TYPE_CHECKING:
    from gridwait.app.gateway import Progress
    from gridwait.app.history import RunFilter
    from gridwait.app.jobs import QueueFilter
    from gridwait.config import ProviderName
    from gridwait.spec import JobSpec

V = TypeVar("V")
TIMEOUT_S = 30.0
SUBMIT_TIMEOUT_S = 600.0
"""Submitting and estimating count a dataset's tokens on the service: minutes for a big one."""


class RemoteError(GridwaitError):
    """The service answered with an error of its own (5xx), or not at all."""


_BY_STATUS: dict[int, type[GridwaitError]] = {
    400: ConfigError,
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFoundError,
    409: StateError,
    413: SpecError,
    422: SpecError,
}


def absolute_paths(spec: JobSpec, base_dir: Path) -> JobSpec:
    """The spec with its local dataset and model paths made absolute from `base_dir` (the
    spec file's folder), as the service cannot know where the client stood."""
    update: dict[str, Any] = {}
    for field in ("dataset", "eval"):
        data = getattr(spec, field)
        if data and data.path is not None and not Path(data.path).expanduser().is_absolute():
            path = str((base_dir / data.path).resolve())
            update[field] = data.model_copy(update={"path": path})
    if spec.model is not None and spec.model != (model := _absolute_model(spec.model, base_dir)):
        update["model"] = model
    if spec.kind == "script":  # a script runs where its spec file is, unless told
        update["workdir"] = str((base_dir / Path(spec.workdir or ".").expanduser()).resolve())
    return spec.model_copy(update=update) if update else spec


def _absolute_model(model: str, base_dir: Path) -> str:
    """A local model path made absolute; a hub id or builtin model as it is."""
    if model.startswith(("./", "../")) or (
        not model.startswith(("/", "builtin:")) and (base_dir / model).exists()
    ):
        return str((base_dir / model).resolve())
    return str(Path(model).expanduser()) if model.startswith("~") else model


def _body(spec: JobSpec) -> dict[str, Any]:
    # only what the spec set: an owner left out stays left out (the service fills in the
    # token's user), and defaults stay the service's
    body: dict[str, Any] = spec.model_dump(mode="json", exclude_unset=True)
    for field in ("dataset", "eval"):
        data = getattr(spec, field)
        if data is not None and field in spec.model_fields_set:
            body[field] = data.model_dump(mode="json", exclude_unset=True)
            if data.path is not None:  # the absolute path, whatever the dump left out
                body[field]["path"] = data.path
    if spec.kind == "script" and spec.workdir is not None:
        body["workdir"] = spec.workdir
    return body


class Remote:
    """A gridwait service at `url`, as the holder of `token`."""

    def __init__(self, url: str, token: str, session: requests.Session | None = None) -> None:
        try:
            self.where = http_url(url, "http://host:8787").rstrip("/")
        except ValueError as exc:
            raise ConfigError(f"GRIDWAIT_URL: {exc}") from None
        self._http = session or requests.Session()
        self._http.headers["Authorization"] = f"Bearer {token}"

    # ---- plumbing ---------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        timeout: float = TIMEOUT_S,
    ) -> requests.Response:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(
                method, f"{self.where}/api/v1{path}", params=query, json=body, timeout=timeout
            )
        except requests.Timeout:
            raise RemoteError(f"{self.where}: no answer within {timeout:g} s") from None
        except requests.RequestException as exc:
            raise RemoteError(f"cannot reach gridwait at {self.where}: {_reason(exc)}") from None
        if response.status_code >= 400:
            raise _error(response, self.where)
        return response

    def _get(self, kind: type[V], path: str, **params: Any) -> V:
        return _parse(kind, self._call("GET", path, params))

    # ---- the gateway ------------------------------------------------------------------

    def submit(
        self, spec: JobSpec, base_dir: Path, deadline: datetime | None, progress: Progress | None
    ) -> Submitted:
        spec = absolute_paths(spec, base_dir)
        if deadline is not None:
            spec = spec.model_copy(update={"deadline": deadline.isoformat()})
        response = self._call("POST", "/jobs", body=_body(spec), timeout=SUBMIT_TIMEOUT_S)
        return _parse(Submitted, response)

    def estimate(
        self, spec: JobSpec, base_dir: Path, hardware: str | None, progress: Progress | None
    ) -> EstimateView:
        body = _body(absolute_paths(spec, base_dir))
        response = self._call(
            "POST", "/estimate", {"hardware": hardware}, body, timeout=SUBMIT_TIMEOUT_S
        )
        return _parse(EstimateView, response)

    def queue(self, which: QueueFilter) -> list[QueueRow]:
        return self._get(
            list[QueueRow],
            "/jobs",
            all=which.include_final or None,
            user=which.owner,
            project=which.project,
        )

    def show(self, job_id: int) -> JobView:
        return self._get(JobView, f"/jobs/{job_id}")

    def cancel(self, job_id: int) -> QueueRow:
        return _parse(QueueRow, self._call("POST", f"/jobs/{job_id}/cancel"))

    def plan(self) -> PlanView:
        return self._get(PlanView, "/plan")

    def forecast(self, provider: ProviderName | None, zone: str | None, hours: int) -> ForecastView:
        return self._get(ForecastView, "/forecast", provider=provider, zone=zone, hours=hours)

    def history(self, which: RunFilter) -> list[HistoryRow]:
        return self._get(list[HistoryRow], "/history", **_run_filter(which))

    def report(self, by: str, which: RunFilter) -> list[ReportRow]:
        response = self._call("GET", "/report", {"by": by, **_run_filter(which)})
        # the service leaves out the grouping keys a row does not have: keep them unset
        return [ReportRow.model_validate(row) for row in _json(response)]

    def export(self, fmt: str, which: RunFilter) -> tuple[str, int]:
        response = self._call("GET", "/export", {"format": fmt, **_run_filter(which)})
        text = response.text
        count = len(response.json()) if fmt == "json" else max(0, text.count("\n") - 1)
        return text, count

    def budgets(self) -> list[BudgetView]:
        return self._get(list[BudgetView], "/budgets")

    def set_budget(
        self, scope: str, name: str, monthly_g: float, counts: str = "operational"
    ) -> BudgetView:
        body = {"monthly_g": monthly_g, "counts": counts}
        response = self._call("PUT", _budget(scope, name), body=body)
        return _parse(BudgetView, response)

    def remove_budget(self, scope: str, name: str) -> None:
        self._call("DELETE", _budget(scope, name))


def _budget(scope: str, name: str) -> str:
    # a name is a path segment: quoted, so that "a/b" or "x?y" stays one name
    return f"/budgets/{quote(scope, safe='')}/{quote(name, safe='')}"


def _run_filter(which: RunFilter) -> dict[str, Any]:
    return {
        "user": which.owner,
        "project": which.project,
        "since": which.since.isoformat() if which.since else None,
        "until": which.until.isoformat() if which.until else None,
        "job": which.job_id,
    }


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise RemoteError(f"{response.url}: the answer is not JSON") from None


def _parse(kind: type[V] | Any, response: requests.Response) -> V:
    try:
        parsed: V = TypeAdapter(kind).validate_json(response.content)
    except ValidationError:
        raise RemoteError(
            f"{response.url}: an answer this client cannot read (is the service a"
            " different gridwait version?)"
        ) from None
    return parsed


def _error(response: requests.Response, where: str) -> GridwaitError:
    """The problem body back into the error the service raised, with its exit code."""
    try:
        problem = response.json()
        detail = str(problem["detail"])
        code = problem.get("exit_code")
    except (ValueError, KeyError, TypeError):
        detail, code = f"{where} answered HTTP {response.status_code}", None
    error = _BY_STATUS.get(response.status_code, RemoteError)(detail)
    if isinstance(code, int) and 0 < code < 126:
        error.exit_code = code
    return error


def _reason(exc: requests.RequestException) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused (is `gridwait run` serving there?)"
    return text.split("(Caused by", maxsplit=1)[0].strip() or type(exc).__name__
