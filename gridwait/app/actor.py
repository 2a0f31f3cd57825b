"""Who is acting: a user's name and role. Roles and ownership are checked here, in the
use-case layer, so that no edge (CLI, API, dashboard) can forget a check."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from enum import StrEnum

from gridwait.errors import PermissionDenied


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


@dataclass(frozen=True)
class Actor:
    name: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def require_admin(self, action: str) -> None:
        """PermissionDenied unless an admin: `action` says what was refused."""
        if not self.is_admin:
            raise PermissionDenied(f"{action}: only admins may do this ({self.name} is a member)")

    def require_owner(self, owner: str, action: str) -> None:
        """PermissionDenied unless the actor is `owner` or an admin."""
        if not self.is_admin and owner != self.name:
            raise PermissionDenied(f"{action}: it belongs to {owner}, not to {self.name}")


def host_admin() -> Actor:
    """Whoever runs the CLI on the local database: whoever can write the database file
    is the host's admin (as Slurm's SlurmUser is)."""
    return Actor(getpass.getuser(), Role.ADMIN)
