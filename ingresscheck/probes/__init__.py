"""Probes: one module per probe, one contract for all (see ``_contract``).

Built-in probes register through the same entry-point group third-party packages use,
``ingresscheck.probes`` (see pyproject.toml); ``registry()`` loads them all.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from ..errors import UsageError
from ._contract import CheckSpec, Probe, ProbeContext, Scope

ENTRY_POINT_GROUP = "ingresscheck.probes"


def registry() -> dict[str, type[Probe]]:
    """name -> probe class, from every installed ``ingresscheck.probes`` entry point."""
    found: dict[str, type[Probe]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not hide the others
            raise UsageError(f"probe plugin {ep.name!r} ({ep.value}) cannot be loaded: {exc}") from None
        if not (isinstance(cls, type) and issubclass(cls, Probe)):
            raise UsageError(f"probe plugin {ep.name!r} ({ep.value}) is not an ingresscheck Probe class")
        if cls.name != ep.name:
            raise UsageError(f"probe plugin {ep.name!r} ({ep.value}) declares name {cls.name!r}")
        found[cls.name] = cls
    return dict(sorted(found.items(), key=lambda kv: ORDER.index(kv[0]) if kv[0] in ORDER else len(ORDER)))


# The order of the request chain, for listing and reports; dependencies decide the run order.
ORDER = ["dns", "redirect", "tls", "routing", "auth", "static", "exposure", "reload"]

__all__ = ["CheckSpec", "ENTRY_POINT_GROUP", "Probe", "ProbeContext", "Scope", "registry"]
