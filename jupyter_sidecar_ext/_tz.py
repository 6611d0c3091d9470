"""One clock for the whole package: aware UTC datetimes, and the ISO-8601 form the API uses."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    """Now, as an aware UTC datetime (what jupyter_server's activity markers hold)."""
    return datetime.now(timezone.utc)


def isoformat(epoch: float) -> str:
    """Epoch seconds as ISO-8601 UTC with microseconds and a `Z`, as every answer gives times."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
