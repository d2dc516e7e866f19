"""Which backend answered, for the comparison: the engine's one backend identity, plus the path it saw."""

from __future__ import annotations

from typing import Any

from ..net import HttpResponse


def backend_of(response: HttpResponse | None, echo: dict[str, Any] | None) -> tuple[str, str] | None:
    """(namespace/service, path the backend saw) when the answer names its backend (the lab's echo pods and
    echo servers do, in JSON or X-Echo-* headers); None when it does not say."""
    from ..probes.routing import identity

    found = identity(response)
    if found is None or not found.service:
        return None
    path = str((echo or {}).get("path", ""))
    return (f"{found.namespace}/{found.service}" if found.namespace else found.service, path)
