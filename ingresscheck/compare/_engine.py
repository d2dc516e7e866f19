"""Run a comparison: discover both sides, pair hosts, send the same matrix to both, classify."""

from __future__ import annotations

import asyncio
import time

from ..discovery.model import Target
from ..profile import Profile
from ._classify import classify
from ._discover import SideHosts
from ._matrix import requests_for, unknown_host
from ._model import Exchange, HostParity, Observation, ParityReport, Request, Side
from ._support import support_table
from ._wire import exchange


def _credential(profile: Profile, host: str) -> tuple[str, str] | None:
    cred = profile.credentials.get(host)
    if cred is None or cred.unavailable():
        return None
    return cred.username, cred.password()


async def run(
    a: Side,
    b: Side,
    hosts_a: SideHosts,
    hosts_b: SideHosts,
    profile: Profile,
    *,
    a_implementation: str,
    b_implementation: str,
    concurrency: int = 16,
) -> ParityReport:
    started_wall = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    started = time.monotonic()
    paired = sorted(set(hosts_a.targets) & set(hosts_b.targets))
    only_a = tuple(sorted(set(hosts_a.targets) - set(hosts_b.targets)))
    only_b = tuple(sorted(set(hosts_b.targets) - set(hosts_a.targets)))
    limit = asyncio.Semaphore(concurrency)
    timeout = profile.thresholds.timeout
    ca = profile.ca_bundle

    async def send(side: Side, request: Request, address: str) -> Observation:
        port = side.https_port if request.scheme == "https" else side.http_port
        async with limit:
            return await exchange(request, address, port, ca_file=ca, timeout=timeout)

    async def both(request: Request, addr_a: str, addr_b: str) -> Exchange:
        oa, ob = await asyncio.gather(send(a, request, addr_a), send(b, request, addr_b))
        return Exchange(request, oa, ob, tuple(classify(request, oa, ob)))

    async def host(name: str) -> HostParity:
        ta, tb = hosts_a.targets[name], hosts_b.targets[name]
        matrix = requests_for(name, ta, tb, auth=_credential(profile, name), https=True)
        exchanges = await asyncio.gather(*(both(r, hosts_a.addresses[name], hosts_b.addresses[name]) for r in matrix))
        return HostParity(name, _label(ta), _label(tb), tuple(exchanges))

    results = list(await asyncio.gather(*(host(h) for h in paired)))
    # one unknown Host per domain, sent where that domain's hosts go on each side
    domains: dict[str, tuple[str, str]] = {}
    for h in paired:
        domains.setdefault(h.split(".", 1)[-1], (hosts_a.addresses[h], hosts_b.addresses[h]))
    for domain, (addr_a, addr_b) in sorted(domains.items()):
        reqs = [unknown_host(domain, https=True), unknown_host(domain, https=False)]
        exchanges = await asyncio.gather(*(both(r, addr_a, addr_b) for r in reqs))
        results.append(HostParity(reqs[0].host, "(no object)", "(no object)", tuple(exchanges)))
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
    )


def _label(t: Target) -> str:
    return f"{t.kind} {t.namespace}/{t.name}"
