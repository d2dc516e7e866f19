"""The fault matrix: every broken input and broken component gets the right verdict, one clear line,
and nothing lost. Each test is bounded in time (pytest-timeout) and the lab rows restore the lab in
``finally`` blocks; the rows measured are written to reports/fault-matrix.md."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._helpers import ROOT, write_matrix


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.fspath).replace("\\", "/") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(120))


@pytest.fixture(scope="session", autouse=True)
def fault_matrix() -> Iterator[None]:
    yield
    write_matrix(ROOT / "reports" / "fault-matrix.md")
