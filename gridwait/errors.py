"""Every error gridwait raises on purpose, under one base class.

The library raises these narrow errors; the CLI and the HTTP API translate each into one
line for the user (and an exit code or HTTP status). Anything else is a bug and keeps its
traceback.

    GridwaitError
    ├── ConfigError              bad settings file or environment
    ├── SpecError                a job spec that cannot be accepted (exit code 2)
    ├── NotFoundError            (also LookupError) no such job, run or budget
    ├── StateError               an illegal job or run state transition
    ├── PermissionDenied         the acting user's role or ownership does not allow it
    ├── Unauthenticated          no token, or one that is unknown, revoked or expired
    ├── ConflictError            the thing exists already (a user's name, a token's name)
    ├── StoreError               the database cannot be opened or upgraded
    ├── ProviderError            a carbon-intensity provider failed
    │   ├── ProviderUnavailable      timeouts, connection errors, 5xx after retries
    │   ├── ProviderAuthError        401/403: wrong or missing credentials
    │   ├── ProviderRateLimited      429 with a wait longer than we accept
    │   ├── ProviderDataError        malformed payload: bad JSON, types, NaN, gaps in order
    │   └── ProviderNoData           the provider has nothing for this zone or range
    ├── EstimateError            a job's energy cannot be estimated (dataset, tokenizer)
    ├── TraceError               a trace file cannot be read
    ├── MeterError               an energy meter cannot measure
    └── LaunchError              a worker could not be started
        └── SlurmError               a Slurm command failed (names it, and Slurm's reason)
"""

from __future__ import annotations

_ESCAPES = {c: repr(chr(c))[1:-1] for c in (*range(32), *range(127, 160))}


def one_line(text: str) -> str:
    """`text` with control characters escaped (a newline as \\n): an error names what the
    user typed, and a name holding a line break must not split the one line it gets."""
    return text.translate(_ESCAPES)


def first_line(exc: BaseException) -> str:
    """The first line of a library's error message (its type where it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class GridwaitError(Exception):
    """Base of every deliberate gridwait error. `exit_code` is what the CLI exits with."""

    exit_code = 1


class ConfigError(GridwaitError):
    exit_code = 2


class SpecError(GridwaitError):
    exit_code = 2


class NotFoundError(GridwaitError, LookupError):
    pass


class StateError(GridwaitError):
    pass


class PermissionDenied(GridwaitError):
    """A member acting on someone else's job, or on what only admins may change."""

    exit_code = 3


class Unauthenticated(GridwaitError):
    """No credentials, or credentials gridwait does not know (HTTP 401)."""

    exit_code = 3


class ConflictError(GridwaitError):
    """What was to be created exists already (HTTP 409)."""

    exit_code = 2


class StoreError(GridwaitError):
    pass


class ProviderError(GridwaitError):
    """A provider failed. The message starts with the provider's name."""

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider


class ProviderUnavailable(ProviderError):
    pass


class ProviderAuthError(ProviderError):
    pass


class ProviderRateLimited(ProviderError):
    pass


class ProviderDataError(ProviderError):
    pass


class ProviderNoData(ProviderError):
    pass


class EstimateError(GridwaitError):
    """The spec names a dataset, model or tokenizer that cannot be read: a bad spec."""

    exit_code = 2


class TraceError(GridwaitError):
    exit_code = 2


class MeterError(GridwaitError):
    pass


class LaunchError(GridwaitError):
    pass


class SlurmError(LaunchError):
    """A Slurm command failed or answered what cannot be read. The message names the
    command and the first line of what Slurm said."""

    def __init__(self, command: str, reason: str) -> None:
        super().__init__(f"{command}: {one_line(reason) or 'no reason given'}")
        self.command = command
