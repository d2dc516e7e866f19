"""Canary Ingresses: create, patch and delete one, timing each change from the API's answer to the
data plane serving it, as N consecutive correct responses polled at most every 20 ms (the
Gateway API suite's "eventually consistent" primitive).

Every object is labelled ``ingresscheck.io/canary=<run id>`` and recorded the moment it exists,
so ``remove_all`` can take it away on success, failure, Ctrl-C or SIGTERM; ``ingresscheck
cleanup`` finds leftovers of a killed run by the label alone.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException

from ..errors import Outcome
from ..identity import identity
from ..kube import Resources, classify, resource_name
from ..load.prober import ChangeEvent
from ..net import Net

LABEL = "ingresscheck.io/canary"
PREFIX = "ingresscheck-canary-"  # every canary's name starts so: a campaign leaves the others' canaries alone
MAX_POLL_INTERVAL = 0.02
# what the API answers instead of doing a call: an HTTP refusal, a timeout, a cut connection
API_FAILURES = (ApiException, urllib3.exceptions.HTTPError, OSError)


class CampaignError(Exception):
    """The campaign cannot go on (or start): a canary name that does not resolve, an API call refused or
    unanswered. The message says which call on which object and why, classified (forbidden, unauthorized,
    timeout...) as `run` classifies the API's answers."""

    def __init__(self, message: str, outcome: Outcome = Outcome.ERROR) -> None:
        super().__init__(message)
        self.outcome = outcome


def refused(exc: BaseException, verb: str, obj: dict[str, Any]) -> CampaignError:
    """``create ingresses.networking.k8s.io demo/ingresscheck-canary-1a2b-1: forbidden: HTTP 403 (...)``."""
    outcome, detail = classify(exc)
    meta = obj.get("metadata") or {}
    what = f"{resource_name(obj.get('kind', '?'))} {meta.get('namespace')}/{meta.get('name')}"
    return CampaignError(f"{verb} {what}: {outcome.value}: {detail}", outcome)


@dataclass(frozen=True)
class CanaryBackend:
    """Where canaries point: an existing Service (and its namespace and class) that serves."""

    namespace: str
    service: str
    port: int | str
    ingress_class: str | None


@dataclass
class Phase:
    name: str  # create | update | delete
    ms: float | None  # None: never converged within the timeout
    polls: int
    detail: str = ""


@dataclass
class Round:
    index: int
    host: str
    phases: list[Phase] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.index,
            "host": self.host,
            **{p.name + "_ms": (round(p.ms, 1) if p.ms is not None else None) for p in self.phases},
            "polls": {p.name: p.polls for p in self.phases},
            "problems": [f"{p.name}: {p.detail}" for p in self.phases if p.ms is None],
        }


class CanaryRunner:
    def __init__(
        self,
        resources: Resources,
        net: Net,
        backend: CanaryBackend,
        domain: str,
        *,
        consecutive: int = 3,
        poll_interval: float = MAX_POLL_INTERVAL,
        phase_timeout: float = 60.0,
        on_event: Callable[[ChangeEvent], None] | None = None,
    ) -> None:
        if poll_interval > MAX_POLL_INTERVAL:
            raise ValueError(f"poll interval must be at most {MAX_POLL_INTERVAL * 1000:.0f} ms")
        self.res = resources
        self.net = net
        self.backend = backend
        self.domain = domain
        self.consecutive = consecutive
        self.poll_interval = poll_interval
        self.phase_timeout = phase_timeout
        self.on_event = on_event or (lambda e: None)
        self.run_id = secrets.token_hex(4)
        self.created: dict[str, dict[str, Any]] = {}  # name -> object, until deleted
        self.refusals: list[str] = []  # what the API refused while removing canaries

    # --- objects ------------------------------------------------------------------------
    def _ingress(self, name: str, host: str, path: str) -> dict[str, Any]:
        b = self.backend
        port: dict[str, Any] = {"number": b.port} if isinstance(b.port, int) else {"name": b.port}
        spec: dict[str, Any] = {
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": path,
                                "pathType": "Prefix",
                                "backend": {"service": {"name": b.service, "port": port}},
                            }
                        ]
                    },
                }
            ]
        }
        if b.ingress_class:
            spec["ingressClassName"] = b.ingress_class
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": name, "namespace": b.namespace, "labels": {LABEL: self.run_id}},
            "spec": spec,
        }

    def _path_patch(self, obj: dict[str, Any], host: str, path: str) -> dict[str, Any]:
        """The merge patch that moves the canary to ``path``."""
        return {
            "spec": {
                "rules": [
                    {"host": host, "http": {"paths": [{**obj["spec"]["rules"][0]["http"]["paths"][0], "path": path}]}}
                ]
            }
        }

    async def _addresses(self, host: str, port: int) -> list[str]:
        addresses, _ = await self.net.addresses_for(host, port)
        return list(addresses)

    def remove_all(self) -> list[str]:
        """Delete every canary this runner created and has not deleted yet (blocking, safe to repeat). What
        could not be deleted stays in ``created`` (``left`` names it, for reload.cleanup)."""
        removed = []
        for name, obj in list(self.created.items()):
            try:
                self.res.delete(obj)  # a canary already gone (404) counts as removed
            except API_FAILURES as exc:
                self.refusals.append(str(refused(exc, "delete", obj)))
                continue
            self.created.pop(name, None)
            removed.append(name)
        return removed

    @property
    def left(self) -> list[str]:
        """``namespace/name`` of every canary that may still exist."""
        return [f"{o['metadata']['namespace']}/{o['metadata']['name']}" for o in self.created.values()]

    async def _api(self, verb: str, obj: dict[str, Any], call: Callable[..., Any], *args: Any) -> None:
        try:
            await asyncio.to_thread(call, obj, *args)
        except API_FAILURES as exc:
            error = refused(exc, verb, obj)
            if verb == "create" and error.outcome in (Outcome.FORBIDDEN, Outcome.UNAUTHORIZED, Outcome.INVALID):
                self.created.pop(obj["metadata"]["name"], None)  # refused outright: it was never created
            raise error from None

    # --- one round ----------------------------------------------------------------------
    async def round(self, index: int) -> Round:
        name = f"{PREFIX}{self.run_id}-{index}"
        host = f"{name}.{self.domain}"
        path_a, path_b = f"/ic-{secrets.token_hex(3)}", f"/ic-{secrets.token_hex(3)}"
        result = Round(index, host)
        obj = self._ingress(name, host, path_a)

        self.on_event(ChangeEvent(f"round {index} create", time.monotonic()))
        self.created[name] = obj  # recorded before the call: a Ctrl-C mid-call still gets cleaned up
        await self._api("create", obj, self.res.create)
        result.phases.append(await self._until(host, path_a, serving=True, name="create"))

        patch = self._path_patch(obj, host, path_b)
        self.on_event(ChangeEvent(f"round {index} update", time.monotonic()))
        await self._api("update", obj, self.res.patch, patch)
        result.phases.append(await self._until(host, path_b, serving=True, name="update"))

        self.on_event(ChangeEvent(f"round {index} delete", time.monotonic()))
        await self._api("delete", obj, self.res.delete)
        self.created.pop(name, None)
        result.phases.append(await self._until(host, path_b, serving=False, name="delete"))
        return result

    async def _until(self, host: str, path: str, *, serving: bool, name: str) -> Phase:
        """Time from now (the API has answered) until ``consecutive`` correct answers in a row."""
        started = time.monotonic()
        deadline = started + self.phase_timeout
        streak_start: float | None = None
        streak = polls = 0
        last = ""
        port = self.net.profile.https_port
        url = f"https://{host}{'' if port == 443 else f':{port}'}{path}"
        while True:
            polls += 1
            sent = time.monotonic()
            addresses = await self._addresses(host, port)
            ok, last = await self._correct(url, addresses[0] if addresses else None, serving)
            received = time.monotonic()
            if ok:
                if streak == 0:
                    streak_start = received  # the first correct response of the streak
                streak += 1
                if streak >= self.consecutive:
                    assert streak_start is not None
                    return Phase(name, (streak_start - started) * 1000, polls)
            else:
                streak = 0
            if time.monotonic() > deadline:
                return Phase(
                    name,
                    None,
                    polls,
                    f"not {('serving' if serving else 'gone')} after {self.phase_timeout:g} s (last: {last})",
                )
            await asyncio.sleep(max(0.0, self.poll_interval - (time.monotonic() - sent)))

    async def _correct(self, url: str, address: str | None, serving: bool) -> tuple[bool, str]:
        if address is None:
            return False, "no address"
        attempt = await self.net.request("GET", url, address, max_body=65536)
        if not attempt.ok or attempt.response is None:
            return False, f"{attempt.outcome.value}: {attempt.reason}"  # a failed poll is just not correct yet
        status = attempt.response.status
        if not serving:
            return status == 404, str(status)
        seen = identity(attempt.response)
        ok = status == 200 and (seen is None or seen.service == self.backend.service)
        return ok, f"{status}" + (f" from {seen.service}" if seen else "")


# --- HTTPRoute canaries (`ingresscheck reload --kind httproute`) ------------------------------------


@dataclass(frozen=True)
class RouteParent:
    """Where HTTPRoute canaries attach: a Gateway listener that serves, and the address to reach it."""

    gateway_namespace: str
    gateway_name: str
    listener: str
    domain: str  # a canary hostname is <name>.<domain>, inside the listener's wildcard
    addresses: tuple[str, ...]  # the Gateway's status addresses: canary names need no DNS record


def choose_route_parent(inventory: Any, gateway: str | None = None) -> tuple[CanaryBackend, RouteParent]:
    """A serving backend of an existing HTTPRoute target on an HTTPS listener with a wildcard hostname
    (of the Gateway ``namespace/name`` when given: one data plane among several)."""
    for t in inventory.targets:
        if (
            t.kind != "HTTPRoute"
            or t.listener_protocol != "HTTPS"
            or not (t.listener_hostname or "").startswith("*.")
            or not t.status_addresses
            or (gateway is not None and t.gateway != gateway)
        ):
            continue
        for rule in t.paths:
            ns = rule.namespace or t.namespace
            if rule.service and not rule.headers and inventory.ready_endpoints(ns, rule.service) > 0:
                gw_ns, gw_name = (t.gateway or "/").split("/", 1)
                return (
                    CanaryBackend(ns, rule.service, rule.port or 80, None),
                    RouteParent(gw_ns, gw_name, t.listener or "", t.listener_hostname[2:], t.status_addresses),
                )
    raise LookupError(
        "no HTTPRoute on an HTTPS wildcard listener"
        + (f" of Gateway {gateway}" if gateway else "")
        + " with a Gateway address and a backend with ready endpoints to point canaries at"
    )


class HttpRouteCanaryRunner(CanaryRunner):
    """Canary HTTPRoutes in the backend's namespace, attached to one Gateway listener, polled at the Gateway's
    address with the same convergence rule (N consecutive correct answers) as Ingress canaries."""

    def __init__(self, resources: Resources, net: Net, backend: CanaryBackend, parent: RouteParent, **kw: Any) -> None:
        super().__init__(resources, net, backend, parent.domain, **kw)
        self.parent = parent

    def _ingress(self, name: str, host: str, path: str) -> dict[str, Any]:
        b, p = self.backend, self.parent
        ref: dict[str, Any] = {
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "name": p.gateway_name,
            "namespace": p.gateway_namespace,
            "sectionName": p.listener,
        }
        return {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": b.namespace, "labels": {LABEL: self.run_id}},
            "spec": {"parentRefs": [ref], "hostnames": [host], "rules": [self._rule(path)]},
        }

    def _rule(self, path: str) -> dict[str, Any]:
        return {
            "matches": [{"path": {"type": "PathPrefix", "value": path}}],
            "backendRefs": [{"name": self.backend.service, "port": self.backend.port}],
        }

    def _path_patch(self, obj: dict[str, Any], host: str, path: str) -> dict[str, Any]:
        return {"spec": {"rules": [self._rule(path)]}}

    async def _addresses(self, host: str, port: int) -> list[str]:
        override = self.net.profile.resolve_override(host, port)
        return list(override) if override else list(self.parent.addresses)
