"""Shared fixtures. Lab tests use one lab per session: started here if it is not already up,
and stopped again at the end if this session started it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingresscheck_lab.lab import Lab
from ingresscheck_lab.layout import LabLayout

ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/lab/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.lab)


@pytest.fixture(scope="session")
def lab_layout() -> LabLayout:
    return LabLayout.at(ROOT / ".lab")


@pytest.fixture(scope="session")
def lab(lab_layout: LabLayout) -> Iterator[Lab]:
    lab = Lab(lab_layout, say=lambda m: None)
    started_here = not lab.is_up()
    lab.up()
    yield lab
    if started_here:
        lab.down(quiet=True)


@pytest.fixture(scope="module")
def envoy(lab: Lab) -> Iterator[Lab]:
    """The lab with Envoy Gateway as a second data plane (127.0.0.30), stopped again if started here."""
    from ingresscheck_lab import envoy_gateway as eg

    started_here = eg.running(lab.layout) is None
    eg.start(lab)
    yield lab
    if started_here:
        eg.stop(lab, remove_objects=True)
