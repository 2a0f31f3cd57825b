"""gridwait's version, and how it names itself to the providers it asks."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as distribution_version

import gridwait

HOME = "https://github.com/gridwait/gridwait"


def version() -> str:
    """The installed distribution's version; a source tree that was never installed
    falls back to `gridwait.__version__`."""
    try:
        return distribution_version("gridwait")
    except PackageNotFoundError:
        return str(getattr(gridwait, "__version__", "unknown"))


def user_agent() -> str:
    """The User-Agent of every provider request: providers ask clients to say who they are."""
    return f"gridwait/{version()} (+{HOME})"
