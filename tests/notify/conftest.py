"""The local json:// target's fixtures (tests/notify/json_target.py), for this folder."""

from tests.notify.json_target import closed_port, target

__all__ = ["closed_port", "target"]
