"""Backend identity: who answered a request, and who may answer for a Service. One module, one answer.

Every front-end (run's static, routing, httproute, canary probes; reload's canaries; compare) asks the
same two questions and gets the same answer from here:

- **Who answered?** ``identity(response)``: what the backend says about itself, from echo JSON
  (``{"pod": ..., "service": ..., "namespace": ..., "path": ...}``) or ``X-Echo-*`` headers. Nothing
  else is believed: a backend that says nothing has no identity.
- **Who may answer for Service S?** ``ServiceEndpoints``, computed once per run from the Service and
  its EndpointSlices (``index_endpoints``, kept by the Inventory): the ready addresses (``ready``
  condition true or unset, as the API tells consumers to read it; one address counted once across
  slices), the pod behind each address where the slice names it (``targetRef`` of kind Pod), and the
  slice's ports, with the Service port's (possibly named) ``targetPort`` resolved to the number the
  endpoint listens on. A slice without ``targetRef`` (selector-less Services with hand-made slices:
  external backends, migrations) still counts by address: it has as many ready endpoints as addresses.

Membership decides identity, in this order (``membership``):

1. **by pod**: the answering pod is one of the pods the slices name;
2. **by address**: for endpoints that name no pod, each ready address is asked directly who it is
   (once per run and address); the answer is a member when the pod it names is the one that answered
   through the ingress;
3. **by comparison** (``compare_answers``), for backends that say nothing: the Service's own answer to
   the same request (from a ready endpoint, else the API server's service proxy) against the ingress's
   answer: status, content type and a normalised body fingerprint.

When none of them can decide, the answer says why (``Membership.member is None``), never a guess.
Nothing here imports from ``probes`` or ``reports``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .net import Attempt, HttpResponse, Net, Outcome, Subject

Obj = dict[str, Any]
PortRef = int | str | None  # a Service port as a rule names it: its number, its name, or unset

__all__ = [
    "Comparison",
    "Endpoint",
    "Identity",
    "Membership",
    "ServiceEndpoints",
    "compare_answers",
    "content_type",
    "fingerprint",
    "identity",
    "identity_from",
    "index_endpoints",
    "membership",
]


# --- who answered ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Identity:
    """What a backend says about itself. ``path`` is the request path it saw (after any rewrite)."""

    namespace: str | None
    service: str | None
    pod: str | None
    path: str | None = None

    @property
    def name(self) -> str:
        """``namespace/service`` when the backend names its namespace, else the service (or pod) alone."""
        who = self.service or self.pod or "?"
        return f"{self.namespace}/{who}" if self.namespace else who

    def says(self) -> str:
        """In words: ``pod api-0 of demo/api``."""
        if self.pod and self.service:
            return f"pod {self.pod} of {self.name}"
        return f"pod {self.pod}" if self.pod else self.name


def identity_from(headers: Iterable[tuple[str, str]], body: bytes) -> Identity | None:
    """What the backend says about itself from raw answer parts (header names in any case): echo JSON with
    a ``pod`` or ``service`` key, else ``X-Echo-Pod``/``X-Echo-Service``/``X-Echo-Namespace`` headers."""
    h: dict[str, str] = {}
    for name, value in headers:
        h.setdefault(name.lower(), value)
    parsed: Any = None
    if h.get("content-type", "").startswith("application/json") or body[:1] == b"{":
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
    if isinstance(parsed, dict) and ("pod" in parsed or "service" in parsed):
        return Identity(
            _str(parsed.get("namespace")) or h.get("x-echo-namespace") or None,
            _str(parsed.get("service")) or h.get("x-echo-service") or None,
            _str(parsed.get("pod")) or h.get("x-echo-pod") or None,
            _str(parsed.get("path")),
        )
    if "x-echo-pod" in h or "x-echo-service" in h:
        path = _str(parsed.get("path")) if isinstance(parsed, dict) else None
        return Identity(h.get("x-echo-namespace") or None, h.get("x-echo-service") or None, h.get("x-echo-pod"), path)
    return None


def identity(response: HttpResponse | None) -> Identity | None:
    """What the backend that sent ``response`` says about itself (None: it says nothing)."""
    if response is None:
        return None
    return identity_from(response.headers, response.body)


def _str(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and value != "" else None


# --- who may answer: a Service's endpoints, once per run ------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    """One address of a Service's EndpointSlice, with the pod behind it when the slice names one."""

    address: str
    ports: tuple[tuple[str, int], ...]  # (port name, port number) of the slice
    ready: bool
    pod: str | None  # None: the slice has no targetRef of kind Pod for it (counted by address)
    pod_namespace: str

    def port_for(self, service_port: Obj | None) -> int | None:
        """The number this endpoint listens on for ``service_port``: the slice port named like the Service port
        (as kube-proxy and controllers match them), else the one named like its named ``targetPort``, else
        its numeric ``targetPort`` when the slice has it, else the slice's only port."""
        if not self.ports:
            return None
        if service_port is None:
            return self.ports[0][1]
        names = [n for n in (service_port.get("name") or "", service_port.get("targetPort")) if isinstance(n, str)]
        for want in names:
            for port_name, number in self.ports:
                if port_name == want:
                    return number
        target = service_port.get("targetPort")
        if isinstance(target, int) and any(number == target for _, number in self.ports):
            return target
        return self.ports[0][1] if len(self.ports) == 1 else None


@dataclass(frozen=True)
class ServiceEndpoints:
    """A Service and its endpoints as its EndpointSlices list them: one fact per Service per run."""

    namespace: str
    name: str
    service: Obj | None = field(default=None, hash=False, compare=False)  # None: no such Service
    endpoints: tuple[Endpoint, ...] = ()  # every address once (the first slice naming it), ready or not

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def exists(self) -> bool:
        return self.service is not None

    @property
    def ready(self) -> tuple[Endpoint, ...]:
        return tuple(e for e in self.endpoints if e.ready)

    @property
    def ready_count(self) -> int:
        """Ready addresses, whether or not the slices name the pods behind them."""
        return len(self.ready)

    @property
    def pods(self) -> frozenset[str]:
        """The ready pods the slices name (``targetRef``)."""
        return frozenset(e.pod for e in self.ready if e.pod)

    @property
    def unnamed(self) -> tuple[Endpoint, ...]:
        """Ready endpoints whose slice names no pod: identified by address."""
        return tuple(e for e in self.ready if not e.pod)

    def service_port(self, ref: PortRef) -> Obj | None:
        """The Service's port a rule names, by number or name (the only one when the rule names none)."""
        ports = ((self.service or {}).get("spec") or {}).get("ports") or []
        if ref is None:
            return dict(ports[0]) if len(ports) == 1 else None
        for port in ports:
            if ref in (port.get("port"), port.get("name")):
                return dict(port)
        return None

    def describe(self) -> str:
        """``Service demo/api has 2 ready endpoints (pods api-0, api-1)``, or why it has none."""
        if self.service is None:
            return f"Service {self.ref} does not exist"
        n = self.ready_count
        text = f"Service {self.ref} has {n} ready endpoint{'s' if n != 1 else ''}"
        parts = []
        if self.pods:
            parts.append("pods " + ", ".join(sorted(self.pods)))
        if self.unnamed:
            parts.append("addresses " + ", ".join(e.address for e in self.unnamed) + " (no pod named)")
        return text + (f" ({'; '.join(parts)})" if parts else "")

    def evidence(self) -> dict[str, Any]:
        return {
            "service": self.ref,
            "ready": self.ready_count,
            "pods": sorted(self.pods),
            "addresses": [e.address for e in self.ready],
        }


def index_endpoints(services: Sequence[Obj], endpoint_slices: Sequence[Obj]) -> dict[tuple[str, str], ServiceEndpoints]:
    """Every Service (and every Service a slice names, existing or not) with its endpoints, keyed by
    (namespace, name). Built once per run by the Inventory; every check reads it."""
    by_key: dict[tuple[str, str], Obj | None] = {}
    for s in services:
        meta = s.get("metadata") or {}
        by_key[(meta.get("namespace", "default"), meta.get("name", ""))] = s
    found: dict[tuple[str, str], dict[str, Endpoint]] = {}
    for sl in endpoint_slices:
        meta = sl.get("metadata") or {}
        service = (meta.get("labels") or {}).get("kubernetes.io/service-name")
        if not service:
            continue
        ns = meta.get("namespace", "default")
        ports = tuple((p.get("name") or "", p["port"]) for p in sl.get("ports") or [] if p.get("port"))
        seen = found.setdefault((ns, service), {})
        for ep in sl.get("endpoints") or []:
            ref = ep.get("targetRef") or {}
            ready = (ep.get("conditions") or {}).get("ready") is not False  # unset: ready, as the API says
            pod = ref.get("name") if ref.get("name") and ref.get("kind", "Pod") == "Pod" else None
            for address in ep.get("addresses") or []:
                old = seen.get(address)
                if old is None or (ready and not old.ready):  # an address counts once; ready if any slice says so
                    seen[address] = Endpoint(address, ports, ready, pod, ref.get("namespace") or ns)
    keys = list(by_key) + [k for k in found if k not in by_key]
    return {k: ServiceEndpoints(k[0], k[1], by_key.get(k), tuple(found.get(k, {}).values())) for k in keys}


# --- membership: the answering backend against who may answer -------------------------------------
@dataclass(frozen=True)
class Membership:
    """Whether the backend that answered is one of the Services' endpoints. ``member``: True, False, or None
    (not established: ``why`` says what was missing). ``by``: "pod", "address", or "" when undecided."""

    member: bool | None
    by: str
    why: str
    evidence: dict[str, Any] = field(default_factory=dict)


async def who_is_at(net: Net, address: str, port: int, host: str | None, path: str = "/") -> Identity | Attempt:
    """Who answers at ``address:port`` when asked directly for ``path`` (once per run and address: a backend's
    identity does not depend on the path): its identity, or the attempt that did not get one (a failed dial,
    or an answer that says nothing)."""

    async def ask() -> Identity | Attempt:
        attempt = await net.request("GET", f"http://{host or address}:{port}{path}", address, keep_alive=False)
        seen = identity(attempt.response) if attempt.ok else None
        return seen if seen is not None else attempt

    return await net.once(("identity.at", address, port), ask)


async def membership(
    net: Net,
    seen: Identity,
    candidates: Sequence[tuple[ServiceEndpoints, PortRef]],
    host: str | None = None,
    path: str = "/",
) -> Membership:
    """Whether ``seen`` (a backend that named its pod) is a ready endpoint of one of ``candidates`` (a Service and
    the port the rule names): by the pod the slices name, else by asking each address that names no pod who
    it is (with ``host`` and ``path``, the request that reached ``seen`` through the ingress)."""
    named = {pod for svc, _ in candidates for pod in svc.pods}
    ev: dict[str, Any] = {"endpoints": sorted(named), "pod": seen.pod}
    if seen.pod and seen.pod in named:
        return Membership(True, "pod", f"pod {seen.pod} is a ready endpoint", ev)
    unnamed = [(svc, port, e) for svc, port in candidates for e in svc.unnamed]
    if not unnamed:
        return Membership(False, "pod", "not one of the pods the endpoint slices name", ev)
    asked: dict[str, str] = {}
    unanswered: list[str] = []
    for svc, port, e in unnamed:
        number = e.port_for(svc.service_port(port))
        if number is None:
            unanswered.append(f"{e.address}: no slice port for the Service port")
            continue
        got = await who_is_at(net, e.address, number, host, path)
        if isinstance(got, Identity):
            asked[f"{e.address}:{number}"] = got.pod or got.name
            if got.pod and got.pod == seen.pod:
                ev["asked"] = asked
                return Membership(True, "address", f"{seen.pod} answers at ready address {e.address}:{number}", ev)
        else:
            unanswered.append(f"{e.address}:{number}: {got.describe() if not got.ok else 'says nothing about itself'}")
    ev["asked"] = asked
    if unanswered:
        ev["unanswered"] = unanswered
        return Membership(
            None, "", f"{len(unanswered)} ready address(es) that name no pod could not say who they are", ev
        )
    return Membership(False, "address", "not the pod at any ready address (each asked directly)", ev)


# --- comparison: for backends that say nothing ----------------------------------------------------
_VOLATILE = re.compile(rb"\d+|ingresscheck[-=]?[0-9a-f]*|[0-9a-f]{16,}")


def fingerprint(response: HttpResponse) -> str:
    """A body fingerprint that ignores what changes between two answers of one backend: numbers (dates,
    counters, lengths), long hex tokens, our own random path tokens, whitespace and case."""
    body = _VOLATILE.sub(b"0", response.body.lower())
    return hashlib.sha256(b"".join(body.split())).hexdigest()[:16]


def content_type(response: HttpResponse) -> str:
    return response.header("content-type").split(";")[0].strip()


# (namespace, service, port, path, timeout) -> (status, headers, body) or why not
ServiceProxy = Callable[[str, str, Any, str, float], "tuple[int, dict[str, str], bytes] | str"]


@dataclass(frozen=True)
class Comparison:
    """The ingress's answer next to the Service's own answer to the same request (from a ready endpoint or
    through the API server's service proxy). ``verdict``: "same" (status, content type and body
    fingerprint), "other answer" (status or content type differ), "other body", or "unknown" when there was
    nothing to compare with (``why`` says why)."""

    verdict: str
    endpoint: str = ""  # what was asked: "endpoint <pod or address>", or the API server's service proxy
    status: int = 0
    content_type: str = ""
    why: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


async def compare_answers(
    net: Net, svc: ServiceEndpoints, port: PortRef, attempt: Attempt, proxy: ServiceProxy | None
) -> Comparison:
    """Ask the Service itself the question ``attempt`` asked through the ingress, and compare the answers."""
    response = attempt.response
    assert response is not None
    direct = await _endpoint_answer(net, svc, port, attempt, proxy)
    if isinstance(direct, str):
        return Comparison("unknown", why=direct)
    asked, where, theirs = direct
    assert theirs.response is not None
    ours_type, theirs_type = content_type(response), content_type(theirs.response)
    evidence = {
        "compared_with": {
            **where,
            "status": theirs.response.status,
            "content_type": theirs_type,
            "fingerprint": fingerprint(theirs.response),
        },
        "fingerprint": fingerprint(response),
    }
    if theirs.response.status != response.status or theirs_type != ours_type:
        verdict = "other answer"
    elif fingerprint(theirs.response) != fingerprint(response):
        verdict = "other body"
    else:
        verdict = "same"
    return Comparison(verdict, asked, theirs.response.status, theirs_type, evidence=evidence)


@dataclass(frozen=True)
class _Unreachable:
    """What Net.memo keeps for a Service none of whose endpoints (nor its proxy) answered: why."""

    why: str


async def _endpoint_answer(
    net: Net, svc: ServiceEndpoints, port: PortRef, attempt: Attempt, proxy: ServiceProxy | None
) -> tuple[str, dict[str, Any], Attempt] | str:
    """The same request sent straight to a ready endpoint of the Service (else through the API server's service
    proxy): (what was asked, in words and as evidence, and its answer), or why it could not be had."""
    endpoints = svc.ready
    if not endpoints:
        return f"{svc.ref} has no ready endpoint to compare with"
    service_port = svc.service_port(port)
    key = ("identity.endpoint", svc.namespace, svc.name)
    if isinstance(known := net.memo.get(key), _Unreachable):
        return f"its endpoints are not reachable from here ({known.why})"
    url = attempt.subject.url or "/"
    path = url.split(attempt.subject.host or "", 1)[-1].split("/", 1)[-1]
    why = ""
    for endpoint in endpoints[:2]:
        number = endpoint.port_for(service_port)
        if number is None:
            why = f"no endpoint port matches the Service port {port}"
            continue
        direct = f"http://{attempt.subject.host}:{number}/{path}"
        theirs = await net.request("GET", direct, endpoint.address, keep_alive=False)
        if theirs.ok:
            return (
                f"endpoint {endpoint.pod or endpoint.address}",
                {"endpoint": endpoint.address, "pod": endpoint.pod},
                theirs,
            )
        why = theirs.reason
    proxied = await _through_api_proxy(net, svc, port, attempt, service_port, path, proxy)
    if not isinstance(proxied, str):
        return proxied
    net.memo[key] = _Unreachable(f"{why}; {proxied}")  # the next rule of this Service does not dial again
    return f"its endpoints are not reachable from here ({why}) and {proxied}"


async def _through_api_proxy(
    net: Net,
    svc: ServiceEndpoints,
    port: PortRef,
    attempt: Attempt,
    service_port: Obj | None,
    path: str,
    proxy: ServiceProxy | None,
) -> tuple[str, dict[str, Any], Attempt] | str:
    """The Service's answer through the API server's service proxy, when the run has a cluster connection."""
    if proxy is None:
        return "no cluster connection to ask the API server's service proxy"
    name = (service_port or {}).get("name") or (service_port or {}).get("port") or port or ""
    got = await asyncio.to_thread(proxy, svc.namespace, svc.name, name, "/" + path, net.timeout)
    if isinstance(got, str):
        return got
    status, headers, body = got
    # header names as the network layer keeps them (lower case), whoever fetched the answer
    response = HttpResponse(status, "", tuple((k.lower(), v) for k, v in headers.items()), body, len(body), False)
    via = Subject(host=attempt.subject.host, url=f"api-server proxy {svc.ref}:{name}/{path}")
    return (
        "answer through the API server's service proxy",
        {"service_proxy": f"{svc.ref}:{name}"},
        Attempt("http", via, Outcome.OK, method="GET", response=response),
    )
