"""Run a comparison: pair both sides' hosts, send the same matrix to both through the engine's network
layer (``net.Net``: per-address slots, keep-alive, the TLS facts of the connection that carried each
answer), classify each pair of answers, give each difference its cause, mark the expected ones."""

from __future__ import annotations

import asyncio
import time

from ..discovery.model import Target
from ..net import Attempt, Net
from ..profile import Profile
from . import _access as access
from ._access import CheckParity, asks_for_access
from ._aspects import aspect_requests, compare_aspect
from ._cause import with_cause
from ._classify import classify
from ._discover import SideHosts
from ._expect import Expectation, apply_expectations
from ._matrix import requests_for, unknown_host
from ._model import Exchange, HostParity, Observation, ParityReport, Request, Side
from ._support import support_table

ALPN_OFFER = ("h2", "http/1.1")


def _credential(profile: Profile, host: str) -> tuple[str, str] | None:
    cred = profile.credentials.get(host)
    if cred is None or cred.unavailable():
        return None
    return cred.username, cred.password()


async def send(net: Net, side: Side, request: Request, address: str) -> Observation:
    """One request of the matrix to one side, through the engine: every failure is an Observation."""
    https = request.scheme == "https"
    port = side.https_port if https else side.http_port
    if request.kind == "alpn":
        attempt: Attempt = await net.handshake(address, port, request.host, context=net.context(alpn=ALPN_OFFER))
        return Observation(attempt)
    attempt = await net.request(
        request.method,
        f"{request.scheme}://{request.host}/",
        address,
        target=request.target,
        port=port,
        headers={**dict(request.headers), "User-Agent": "ingresscheck-compare"},
        auth=request.auth,
        body=b"x" * request.body_bytes if request.body_bytes else None,
    )
    return Observation(attempt)


async def run(
    a: Side,
    b: Side,
    hosts_a: SideHosts,
    hosts_b: SideHosts,
    profile: Profile,
    *,
    a_implementation: str,
    b_implementation: str,
    expectations: tuple[Expectation, ...] = (),
) -> ParityReport:
    started_wall = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    started = time.monotonic()
    paired = sorted(set(hosts_a.targets) & set(hosts_b.targets))
    only_a = tuple(sorted(set(hosts_a.targets) - set(hosts_b.targets)))
    only_b = tuple(sorted(set(hosts_b.targets) - set(hosts_a.targets)))
    # one Net per side: each keeps its own connections, slots and TLS contexts
    net_a, net_b = Net(profile), Net(profile)
    try:

        async def both(request: Request, addr_a: str, addr_b: str, ta: Target | None, tb: Target | None) -> Exchange:
            oa, ob = await asyncio.gather(send(net_a, a, request, addr_a), send(net_b, b, request, addr_b))
            if request.aspect is not None:
                diffs = compare_aspect(request, oa, ob, profile)
            else:
                diffs = classify(request, oa, ob)
            return Exchange(
                request, oa, ob, tuple(with_cause(d, ta, tb, a_implementation, b_implementation) for d in diffs)
            )

        async def host(name: str) -> HostParity:
            ta, tb = hosts_a.targets[name], hosts_b.targets[name]
            cred = _credential(profile, name)
            matrix = requests_for(name, ta, tb, auth=cred, https=True) + aspect_requests(name, ta, tb, auth=cred)
            addr_a, addr_b = hosts_a.addresses[name], hosts_b.addresses[name]
            try:
                exchanges = await asyncio.gather(*(both(r, addr_a, addr_b, ta, tb) for r in matrix))
            finally:
                net_a.release(name)
                net_b.release(name)
            checks: tuple[CheckParity, ...] = ()
            intent = ta if asks_for_access(ta) else tb if asks_for_access(tb) else None
            if intent is not None:  # the access checks of `run`, the same code on both sides, A's intent
                on_a = await access.run_side(access.side_profile(profile, a, name, addr_a), intent, "A")
                on_b = await access.run_side(access.side_profile(profile, b, name, addr_b), intent, "B")
                checks = tuple(access.pair(name, intent, on_a, on_b, (addr_a, a.https_port), (addr_b, b.https_port)))
            return HostParity(name, _label(ta), _label(tb), tuple(exchanges), checks)

        results = list(await asyncio.gather(*(host(h) for h in paired)))
        # one unknown Host per domain, sent where that domain's hosts go on each side
        domains: dict[str, tuple[str, str]] = {}
        for h in paired:
            domains.setdefault(h.split(".", 1)[-1], (hosts_a.addresses[h], hosts_b.addresses[h]))
        for domain, (addr_a, addr_b) in sorted(domains.items()):
            reqs = [unknown_host(domain, https=True), unknown_host(domain, https=False)]
            exchanges = await asyncio.gather(*(both(r, addr_a, addr_b, None, None) for r in reqs))
            results.append(HostParity(reqs[0].host, "(no object)", "(no object)", tuple(exchanges)))
    finally:
        await net_a.aclose()
        await net_b.aclose()
    results, stale = apply_expectations(results, expectations)
    support = support_table([hosts_a.targets[h] for h in paired], b_implementation)
    return ParityReport(
        a,
        b,
        a_implementation,
        b_implementation,
        tuple(results),
        only_a,
        only_b,
        tuple(support),
        started_wall,
        round(time.monotonic() - started, 2),
        stale,
    )


def _label(t: Target) -> str:
    return f"{t.kind} {t.namespace}/{t.name}"
