"""pyproject's ``ingresscheck.probes`` entry points are exactly the built-in registry: every probe, by the
same name and class, so an installed ingresscheck and a plain checkout run the same probes."""

from __future__ import annotations

import tomllib
from pathlib import Path

from ingresscheck.probes import ENTRY_POINT_GROUP, _builtin, load_probes

ROOT = Path(__file__).resolve().parents[2]


def test_the_entry_points_equal_the_builtin_registry() -> None:
    # Given pyproject's entry points and the built-in probes
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"][ENTRY_POINT_GROUP]
    builtin = {p.name: f"{p.__module__}:{p.__qualname__}" for p in _builtin()}
    # Then they are the same probes, by the same name and class, and each is in the registry
    assert declared == builtin
    assert set(declared) <= set(load_probes().available)
