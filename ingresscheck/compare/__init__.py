"""Migration parity: the same hosts on two data planes, their behaviour diffed before the switch.

    compare(a, b, ...)   discover both sides, pair hosts, send the same request matrix, classify
    ParityReport         per host: every request, both answers, each difference (breaking/changed/cosmetic)

``compare`` is a client of the engine, like ``run``: each side's hosts are discovery's targets
(``discovery``: one Ingress and HTTPRoute translation), every request goes through the network layer
(``net.Net``: byte-exact targets, per-address slots, keep-alive; the TLS facts of an answer are those of
the connection that carried it), an ``Observation`` is a view over the ``Attempt``, backend identity is
the engine's, and a difference's severity is the results' ``Severity`` (``BREAKING`` = critical,
``CHANGED`` = major, ``COSMETIC`` = minor). This package opens no socket of its own.

Migration aspects (``_aspects``: hsts, http2, redirect_code, body_limit, request_id, acme_challenge,
forwarded_proto, identity_headers) add requests to the matrix and compare their answers by the aspect's
rule. A ``run`` check plugs in as an aspect through its pure judge: the judge takes one answer (an
``HttpResponse``, or values read from an ``Observation``) and returns a status and a value in words; an
``Aspect`` in ``_aspects.ASPECTS`` names the requests it needs and turns "A passes, B does not" into a
``Difference`` of its class (``tls.hsts`` → hsts, ``redirect.forwarded_proto`` → forwarded_proto,
``auth.identity_headers`` → identity_headers).

Each difference gets a cause (``_cause``: an annotation B ignores or implements differently, something
Gateway API cannot express, an implementation default, or unexplained); ``--expect`` entries
(``_expect``) mark known differences, which are listed apart and do not count.

The CLI is `ingresscheck compare`; reports are written by ``write_reports``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from ..discovery.inventory import Inventory
from ..discovery.kube import discover
from ..kube import check_reachable, connect
from ..profile import Profile
from ..results import Severity
from ._aspects import ASPECT_NAMES, ASPECTS
from ._classify import classify
from ._discover import SideHosts, side_hosts
from ._engine import run
from ._expect import Expectation, load_expectations
from ._matrix import requests_for
from ._model import (
    BREAKING,
    CHANGED,
    COSMETIC,
    Difference,
    Exchange,
    HostParity,
    Observation,
    ParityReport,
    Request,
    Side,
    SupportRow,
    TlsSeen,
)
from ._report import to_dict, write
from ._support import IMPLEMENTATIONS, implementation_for, support_table

__all__ = [
    "ASPECTS",
    "ASPECT_NAMES",
    "BREAKING",
    "CHANGED",
    "COSMETIC",
    "IMPLEMENTATIONS",
    "Difference",
    "Exchange",
    "Expectation",
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
    "discover_sides",
    "load_expectations",
    "requests_for",
    "side_hosts",
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
    expectations: tuple[Expectation, ...] = (),
) -> ParityReport:
    """Run one comparison against live data planes (A: in service, B: the candidate)."""
    sides = discover_sides(a, b, profile, kubeconfig=kubeconfig, namespace=namespace)
    impls = [side.implementation or _implementation(hosts, profile) for side, hosts in zip((a, b), sides, strict=True)]
    return asyncio.run(
        run(
            a,
            b,
            sides[0],
            sides[1],
            profile,
            a_implementation=impls[0],
            b_implementation=impls[1],
            expectations=expectations,
        )
    )


def discover_sides(
    a: Side, b: Side, profile: Profile, *, kubeconfig: str | None = None, namespace: str | None = None
) -> tuple[SideHosts, SideHosts]:
    """Each side's hosts, from discovery (the same ``discover`` and targets ``run`` uses; once per context)."""
    inventories: dict[str | None, Inventory] = {}
    sides: list[SideHosts] = []
    for side in (a, b):
        context = side.context or profile.context
        if context not in inventories:
            cluster = connect(kubeconfig or profile.kubeconfig, context)
            check_reachable(cluster)
            inventories[context] = discover(cluster, namespace)
        sides.append(side_hosts(inventories[context], side))
    return sides[0], sides[1]


def _implementation(hosts: SideHosts, profile: Profile | None = None) -> str:
    """The implementation a side's objects say serves them. An IngressClass names the controller class,
    not the program: Traefik's kubernetesIngressNGINX provider serves class controller k8s.io/ingress-nginx,
    so for Ingresses the profile's ``controller`` (which the run checks read too) wins over the class."""
    kinds = {t.kind for t in hosts.targets.values()}
    controllers = set(hosts.controllers.values())
    if kinds == {"HTTPRoute"}:
        return implementation_for("HTTPRoute", next(iter(controllers), None))
    if profile is not None and profile.controller in IMPLEMENTATIONS:
        return profile.controller
    return implementation_for("Ingress", next(iter(controllers), None) if len(controllers) == 1 else None)


def write_reports(
    report: ParityReport, out_dir: str | Path, formats: tuple[str, ...] = ("html", "json", "junit")
) -> list[Path]:
    return write(report, Path(out_dir), formats)
