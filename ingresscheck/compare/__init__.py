"""Migration parity: the same hosts on two data planes, their behaviour diffed before the switch.

    compare(a, b, ...)   discover both sides, pair hosts, send the same request matrix, classify
    ParityReport         per host: every request, both answers, each difference (breaking/changed/cosmetic)

The CLI is `ingresscheck compare`; reports are written by ``write_reports``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from ..kube import check_reachable, connect
from ..profile import Profile
from ._classify import classify
from ._discover import SideHosts, httproute_targets, side_hosts
from ._engine import run
from ._matrix import requests_for
from ._model import (
    Difference,
    Exchange,
    HostParity,
    Observation,
    ParityReport,
    Request,
    Severity,
    Side,
    SupportRow,
    TlsSeen,
)
from ._report import to_dict, write
from ._support import IMPLEMENTATIONS, implementation_for, support_table

__all__ = [
    "IMPLEMENTATIONS",
    "Difference",
    "Exchange",
    "HostParity",
    "Observation",
    "ParityReport",
    "Request",
    "Severity",
    "Side",
    "SideHosts",
    "SupportRow",
    "TlsSeen",
    "classify",
    "compare",
    "httproute_targets",
    "requests_for",
    "support_table",
    "to_dict",
    "write_reports",
]


def compare(
    a: Side,
    b: Side,
    profile: Profile,
    *,
    kubeconfig: str | None = None,
    namespace: str | None = None,
    concurrency: int = 16,
) -> ParityReport:
    """Run one comparison against live data planes (A: in service, B: the candidate)."""
    sides: list[SideHosts] = []
    for side in (a, b):
        cluster = connect(kubeconfig or profile.kubeconfig, side.context or profile.context)
        check_reachable(cluster)
        sides.append(side_hosts(cluster, side, namespace))
    impls = [side.implementation or _implementation(side, hosts) for side, hosts in zip((a, b), sides, strict=True)]
    return asyncio.run(
        run(
            a,
            b,
            sides[0],
            sides[1],
            profile,
            a_implementation=impls[0],
            b_implementation=impls[1],
            concurrency=concurrency,
        )
    )


def _implementation(side: Side, hosts: SideHosts) -> str:
    kinds = {t.kind for t in hosts.targets.values()}
    controllers = set(hosts.controllers.values())
    if kinds == {"HTTPRoute"}:
        return implementation_for("HTTPRoute", next(iter(controllers), None))
    return implementation_for("Ingress", None)


def write_reports(
    report: ParityReport, out_dir: str | Path, formats: tuple[str, ...] = ("html", "json", "junit")
) -> list[Path]:
    return write(report, Path(out_dir), formats)
