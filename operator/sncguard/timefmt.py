"""Times as the Kubernetes API writes them (RFC 3339, UTC): one parser, and one formatter per precision.

Status fields and annotations are written to the second (`rfc3339_seconds`), so that a status does not
change with the clock's fraction; a time that was given with a fraction and must come back as it was (a
grant's expiry) keeps it (`rfc3339_fraction`). A time without a zone is taken as UTC everywhere, so that
comparisons never mix naive and aware times.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["as_utc", "parse_rfc3339", "parse_rfc3339_or_none", "rfc3339_fraction", "rfc3339_seconds"]


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC; a naive time is taken as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 time (`Z`, `z` or an offset, fractions allowed) as an aware UTC datetime; a time without
    a zone is taken as UTC. ValueError when `text` is not a time."""
    return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00")))


def parse_rfc3339_or_none(text: str | None) -> datetime | None:
    """As `parse_rfc3339`, for a field that may be absent or wrong (an object's status): None then."""
    if not text:
        return None
    try:
        return parse_rfc3339(text.strip())
    except ValueError:
        return None


def rfc3339_seconds(moment: datetime) -> str:
    """UTC to the second, the fraction dropped: 2026-11-22T10:00:00Z."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_fraction(moment: datetime) -> str:
    """UTC to the second, and to the microsecond when the time has a fraction: 2026-12-01T00:00:00.25Z."""
    moment = as_utc(moment)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"
