"""The secret values this process holds (passwords, tokens), registered where they are read, so that
redaction masks them wherever they appear: in a response body a debug backend echoed, in a message,
under a key nobody could have named. Kept apart from ``reports`` so the profile and the kube client
can register without importing the report writers."""

from __future__ import annotations

import base64

MIN_LENGTH = 6  # shorter values would mask ordinary words of a report
_KNOWN: set[str] = set()
_ordered: tuple[str, ...] = ()  # longest first: a value that contains another is masked whole


def register(value: str | None, username: str | None = None) -> None:
    """Mask ``value`` wherever it appears from now on; with ``username``, also the Basic credential
    (base64 of ``username:value``) built from it."""
    global _ordered
    if not value:
        return
    forms = {value}
    if username is not None:
        forms.add(base64.b64encode(f"{username}:{value}".encode()).decode())
    forms = {f for f in forms if len(f) >= MIN_LENGTH} - _KNOWN
    if forms:
        _KNOWN.update(forms)
        _ordered = tuple(sorted(_KNOWN, key=len, reverse=True))


def values() -> tuple[str, ...]:
    """Every registered value, longest first."""
    return _ordered
