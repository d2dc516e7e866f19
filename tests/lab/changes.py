"""Breaking the lab on purpose and putting it back: temporary objects, replaced objects, LB faults,
and checks run until the controller has converged (N consecutive agreeing runs within T)."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from ingresscheck import runner
from ingresscheck.discovery.kube import discover
from ingresscheck.kube import connect
from ingresscheck.probes import registry
from ingresscheck.profile import load
from ingresscheck.results import Report, Result, Status
from ingresscheck_lab.lab import Lab
from ingresscheck_lab.render import LbFaults

Obj = dict[str, Any]


def check(lab: Lab, probes: list[str], namespace: str | None = "demo", **profile_changes: Any) -> Report:
    """Discover the lab and run ``probes`` in-process, like `ingresscheck run` does."""
    profile = load(lab.layout.profile)
    if profile_changes:
        profile = replace(profile, **profile_changes)
    cluster = connect(lab.layout.kubeconfig, "lab")
    inventory = discover(cluster, namespace)
    return runner.run(runner.plan(registry(), probes, None), profile, inventory, runner.RunOptions())


def results(report: Report, check_id: str, host: str | None = None, kind: str | None = None) -> list[Result]:
    """``check_id``'s results (for ``host``; of ``kind`` "Ingress" or "HTTPRoute" targets only: a fault made on
    the Ingress side leaves Envoy Gateway's parity routes for the same host, when that data plane runs, to
    their own Gateway's verdict)."""
    return [
        r
        for r in report.results
        if r.check == check_id and (host is None or r.host == host) and (kind is None or r.kind == kind)
    ]


def converge(
    fn: Callable[[], Report], until: Callable[[Report], bool], timeout: float = 20.0, consecutive: int = 2
) -> Report:
    """Run ``fn`` until ``until`` holds for ``consecutive`` runs in a row; the controller applies changes
    asynchronously (Traefik throttles reloads to one per 2 s)."""
    deadline = time.monotonic() + timeout
    streak = 0
    while True:
        report = fn()
        streak = streak + 1 if until(report) else 0
        if streak >= consecutive:
            return report
        if time.monotonic() > deadline:
            return report  # the caller's assertions say what did not converge
        time.sleep(0.3)


def status_of(check_id: str, status: Status, host: str | None = None) -> Callable[[Report], bool]:
    return lambda report: any(r.status is status for r in results(report, check_id, host))


@contextmanager
def temporary(lab: Lab, *objs: Obj, restored: Callable[[Lab], None] | None = None) -> Iterator[None]:
    """Create ``objs`` for the test and delete them afterwards; ``restored`` waits for a healthy lab again."""
    res = lab.writer()
    for obj in objs:
        res.create(copy.deepcopy(obj))
    try:
        yield
    finally:
        for obj in reversed(objs):
            res.delete(obj)
        lab.sync(quiet=True)
        (restored or _healthy)(lab)


@contextmanager
def replaced(lab: Lab, new: Obj, restored: Callable[[Lab], None] | None = None) -> Iterator[None]:
    """Replace an existing object by ``new`` and put the original back afterwards."""
    res = lab.writer()
    original = res.get(new)
    assert original is not None, f"{new['kind']} {new['metadata']['name']} does not exist"
    changed = copy.deepcopy(new)
    changed["metadata"]["resourceVersion"] = original["metadata"]["resourceVersion"]
    res.replace(changed)
    try:
        yield
    finally:
        current = res.get(new)
        assert current is not None
        back = {k: v for k, v in original.items() if k != "status"}
        back["metadata"] = {**original["metadata"], "resourceVersion": current["metadata"]["resourceVersion"]}
        res.replace(back)
        (restored or _healthy)(lab)


@contextmanager
def lb_faults(lab: Lab, faults: LbFaults) -> Iterator[None]:
    lab.reconfigure_lb(faults)
    try:
        yield
    finally:
        lab.reconfigure_lb()


def _healthy(lab: Lab) -> None:
    """Wait until the demo routes are all served again, so the next test starts from a healthy lab."""
    converge(
        lambda: check(lab, ["dns", "tls", "routing"]),
        lambda rep: all(r.status in (Status.PASS, Status.WARN, Status.SKIP) for r in rep.results),
        timeout=20,
    )
