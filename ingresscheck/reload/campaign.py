"""A reload campaign: canary rounds while an open-loop prober measures existing traffic, optionally
under background locust load; figures for the report's reload section and the reload checks.

Bounded by construction: the prober's rate and duration have hard caps, rounds are finite, each
phase has a timeout, and background load runs with a hard time limit in its own process.
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..discovery import Inventory, Target
from ..errors import Outcome
from ..hostname import to_alabels
from ..kube import Resources
from ..load.prober import ChangeEvent, OpenLoopProber, ProberResult, targets_for
from ..net import Net
from ..probes._ingress_annotations import grpc_backend, redirected_instead
from ..profile import Profile
from .canary import (
    API_FAILURES,
    PREFIX,
    CampaignError,
    CanaryBackend,
    CanaryRunner,
    HttpRouteCanaryRunner,
    Round,
    RouteParent,
    choose_route_parent,
)

PHASES = ("create", "update", "delete")


@dataclass
class CampaignResult:
    rounds: list[Round]
    traffic: ProberResult | None
    events: list[ChangeEvent]
    interrupted: bool = False
    load: dict[str, Any] | None = None
    routes: list[str] = field(default_factory=list)
    kind: str = "ingress"  # what the canaries were: "ingress" or "httproute"
    refused: str | None = None  # the API call that stopped the rounds (classified), None: all rounds ran
    left: list[str] = field(default_factory=list)  # namespace/name of canaries that could not be removed
    run_id: str = ""  # the campaign's canary label value: its own canaries, not another campaign's

    def propagation(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for phase in PHASES:
            values = sorted(p.ms for r in self.rounds for p in r.phases if p.name == phase and p.ms is not None)
            failed = sum(1 for r in self.rounds for p in r.phases if p.name == phase and p.ms is None)
            out[phase] = {"n": len(values), "failed": failed, **_percentiles(values)}
        return out

    def to_section(self) -> dict[str, Any]:
        section: dict[str, Any] = {
            "rounds": [r.to_dict() for r in self.rounds],
            "propagation": self.propagation(),
            "routes": self.routes,
            "interrupted": self.interrupted,
            "kind": self.kind,
        }
        if self.traffic is not None:
            section["traffic"] = self.traffic.to_dict()
        if self.load is not None:
            section["load"] = self.load
        if self.refused is not None:
            section["refused"] = self.refused
        if self.left:
            section["left"] = self.left
        return section


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None}

    def pick(q: float) -> float:
        return values[min(len(values) - 1, max(0, round(q * len(values) + 0.5) - 1))]

    return {"p50": round(statistics.median(values), 1), "p95": round(pick(0.95), 1), "max": round(values[-1], 1)}


def choose_backend(inventory: Inventory) -> tuple[CanaryBackend, list[Target]]:
    """A serving backend for the canaries (a Service with ready endpoints, no auth), and the routes
    the prober keeps calling: every other rule of hosts without auth."""
    # a host is protected when any of its Ingresses asks for auth (its HTTPRoute twin on another data plane says
    # nothing about it, and the prober's requests go wherever the host resolves)
    protected = {t.host for t in inventory.targets if t.auth_type}
    # another campaign's canaries come and go: neither a backend to copy nor an existing route to keep calling
    # a gRPC backend answers a plain GET with an error: neither a canary backend nor a route to expect a 2xx from
    candidates = [t for t in inventory.targets if t.host not in protected and not _is_canary(t) and not grpc_backend(t)]
    for t in candidates:
        for rule in t.paths:
            if rule.service and inventory.ready_endpoints(t.namespace, rule.service) > 0:
                return CanaryBackend(t.namespace, rule.service, rule.port or 80, t.ingress_class), candidates
    raise LookupError("no Ingress backend with ready endpoints to point canaries at (auth-free hosts only)")


def _is_canary(t: Target) -> bool:
    return t.ingress.startswith(PREFIX)


async def check_campaign(
    profile: Profile,
    inventory: Inventory,
    resources: Resources,
    net: Net,
    *,
    kind: str = "ingress",
    domain: str | None = None,
    gateway: str | None = None,
) -> tuple[CanaryBackend, RouteParent | None, list[Target]]:
    """What a campaign needs before it changes anything, or CampaignError saying what is missing: a valid
    canary domain whose names resolve (a wildcard record; otherwise every round waits out its timeouts and
    blames the data plane), a backend, and the right to create, update and delete the canaries there.
    Returns (backend, route parent or None, the routes to keep calling)."""
    parent: RouteParent | None
    if kind == "httproute":
        backend, parent = choose_route_parent(inventory, gateway)
        routes = [t for t in inventory.targets if not t.auth_type and not _is_canary(t)]
    else:
        domain = domain or profile.reload_domain
        if not domain:
            raise ValueError("no domain for canary hosts: set reload.domain in the profile or pass --domain")
        alabels = to_alabels(domain)
        if alabels is None or "*" in domain or "." not in alabels.strip(".") or len(alabels) > 200:
            raise CampaignError(
                f"canary domain {domain!r} is not a DNS domain (give one like apps.example.com, whose "
                "wildcard record points at the load balancer)",
                Outcome.INVALID,
            )
        parent = None
        backend, routes = choose_backend(inventory)
        probe_name = f"{PREFIX}check.{alabels}"
        found, _ = await net.addresses_for(probe_name, profile.https_port)
        if not found:
            attempt = await net.lookup(probe_name)
            raise CampaignError(
                f"canary host names under {domain} do not resolve ({probe_name}: {attempt.reason or 'no address'}"
                f"): the domain needs a wildcard DNS record (*.{domain}) pointing at the load balancer",
                Outcome.NOT_FOUND,
            )
    await asyncio.to_thread(_may_change, resources, "HTTPRoute" if kind == "httproute" else "Ingress", backend)
    return backend, parent, routes


def _may_change(resources: Resources, kind: str, backend: CanaryBackend) -> None:
    """A SelfSubjectAccessReview per verb the rounds use: a token that may not create canaries is told now,
    before anything is created, not after a 403 in the first round."""
    group, plural = (
        ("gateway.networking.k8s.io", "httproutes") if kind == "HTTPRoute" else ("networking.k8s.io", "ingresses")
    )
    for verb in ("create", "patch", "delete"):
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "namespace": backend.namespace,
                    "verb": verb,
                    "group": group,
                    "resource": plural,
                }
            },
        }
        try:
            answer = resources._call("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review)
        except API_FAILURES:
            return  # the question itself was not answered: the rounds find out (and say so, classified)
        status = (answer or {}).get("status") or {}
        if not status.get("allowed"):
            why = status.get("reason") or status.get("evaluationError") or "RBAC allows it to no role of this user"
            raise CampaignError(
                f"the credentials may not {verb} {plural}.{group} in namespace {backend.namespace} "
                f"(forbidden: {why}), which the canary rounds need",
                Outcome.FORBIDDEN,
            )


def route_urls(profile: Profile, targets: list[Target], limit: int = 50) -> list[str]:
    port = profile.https_port
    authority = "" if port == 443 else f":{port}"
    urls = []
    for t in targets:
        if (t.annotation("backend-protocol") or "").upper() in ("GRPC", "GRPCS"):
            continue  # a plain GET to a gRPC backend is a 500 by design, not a reload error (routing skips it too)
        for rule in t.paths:
            # a route the controller answers with a redirect annotation (302/301) never reaches its backend: not
            # an existing route the prober can expect a 2xx from
            if redirected_instead(t, rule.path):
                continue
            if rule.service and not any(c in rule.path for c in "()[]*+?^$\\{}|"):
                urls.append(f"https://{t.host}{authority}{rule.path}")
    return sorted(set(urls))[:limit]


async def run_campaign(
    profile: Profile,
    inventory: Inventory,
    resources: Resources,
    *,
    rounds: int = 10,
    rate: float = 100.0,
    domain: str | None = None,
    phase_timeout: float = 60.0,
    under_load: int = 0,
    reports_dir: Path = Path("reports"),
    kind: str = "ingress",
    gateway: str | None = None,
) -> CampaignResult:
    """Canary rounds (Ingresses, or HTTPRoutes with ``kind="httproute"``) while the prober sends ``rate``
    requests/s to existing routes."""
    events: list[ChangeEvent] = []
    net = Net(profile)
    canary: CanaryRunner
    try:
        backend, parent, routes = await check_campaign(
            profile, inventory, resources, net, kind=kind, domain=domain, gateway=gateway
        )
    except BaseException:
        await net.aclose()
        raise
    if parent is not None:
        canary = HttpRouteCanaryRunner(
            resources, net, backend, parent, phase_timeout=phase_timeout, on_event=events.append
        )
    else:
        canary = CanaryRunner(
            resources, net, backend, str(domain or profile.reload_domain), phase_timeout=phase_timeout,
            on_event=events.append,
        )  # fmt: skip
    urls = route_urls(profile, routes)
    result = CampaignResult([], None, events, routes=urls, kind=kind, run_id=canary.run_id)
    # the prober's schedule covers the worst case; it is stopped as soon as the rounds are done
    prober = (
        OpenLoopProber(
            targets_for(profile, urls),
            rate,
            duration=min(600.0, rounds * 3 * phase_timeout + 5),
            timeout=profile.thresholds.timeout,
        )
        if urls
        else None
    )
    background = None
    if under_load:
        from .background import BackgroundLoad

        background = BackgroundLoad(
            profile, urls, under_load, max_seconds=int(min(600, rounds * 3 * phase_timeout)), reports_dir=reports_dir
        )
        background.start()
        await asyncio.sleep(3.0)  # let the users start before the baseline
    probing = asyncio.ensure_future(prober.run(events)) if prober else None
    try:
        await asyncio.sleep(1.0 if prober else 0)  # a baseline second before the first change
        for i in range(1, rounds + 1):
            result.rounds.append(await canary.round(i))
        await asyncio.sleep(1.0 if prober else 0)
    except CampaignError as exc:
        result.refused = str(exc)  # the rounds stop at the first refused call; what ran is still measured
    except asyncio.CancelledError:
        result.interrupted = True
        raise
    finally:
        canary.remove_all()
        result.left = canary.left
        if background is not None:
            result.load = await asyncio.to_thread(background.stop)
        if prober is not None and probing is not None:
            prober.stop()
            result.traffic = await probing
        await net.aclose()
    return result
