"""redirect: plain HTTP is answered with a redirect to the same URL on https, and the chain ends.

``http://host/path?query`` must answer 301, 302, 307 or 308 with ``Location:
https://host/path?query``: same host, path and query, no default port. Hops are then followed
(up to 10) to find loops. TLS validity is the tls probe's business, so hops are not verified here.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from ..results import Severity, Step
from ._contract import CheckSpec, Probe, ProbeContext

REDIRECT_CODES = (301, 302, 307, 308)
MAX_HOPS = 10


class RedirectProbe(Probe):
    name = "redirect"
    needs = ("dns",)
    checks = (
        CheckSpec("redirect.https", Step.LB, Severity.CRITICAL,
                  "http:// answers a redirect to the same URL on https://",
                  "Redirect port 80 to https keeping host, path and query (HAProxy: `http-request redirect "
                  "scheme https code 302`; ingress-nginx: ssl-redirect)."),
        CheckSpec("redirect.loop", Step.LB, Severity.MAJOR, "following the redirects ends within 10 hops",
                  "Make the hop behind TLS termination know the request was https (X-Forwarded-Proto from "
                  "the LB, trusted by the controller), or stop redirecting at one of the two hops.",
                  gates=False),
    )

    async def run(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        if not target.redirect_expected(ctx.profile.lb_redirects):
            why = ("no redirect expected: the profile says the load balancer does not redirect (lb_redirects: "
                   "false) and the Ingress asks for none")
            ctx.skipped("redirect.https", why)
            ctx.skipped("redirect.loop", why)
            return
        port = ctx.profile.http_port
        addresses, source = await ctx.net.addresses_for(target.host, port)
        if not addresses:
            ctx.skipped("redirect.https", f"no address to connect to for {target.host}")
            ctx.skipped("redirect.loop", f"no address to connect to for {target.host}")
            return
        path = target.sample_path
        query = f"ingresscheck={secrets.token_hex(4)}"
        authority = target.host if port == 80 else f"{target.host}:{port}"
        url = f"http://{authority}{path}?{query}"
        https_authority = target.host if ctx.profile.https_port == 443 else f"{target.host}:{ctx.profile.https_port}"
        expected = f"https://{https_authority}{path}?{query}"
        first: str | None = None
        for address in addresses:
            ex = await ctx.net.request("GET", url, address)
            evidence: dict[str, Any] = {**ex.summary(), "expected_location": expected, "address_from": source,
                                        "redirected_by": _who(ex.headers)}
            if ex.status not in REDIRECT_CODES:
                ctx.failed("redirect.https", f"{url} answered {ex.status} {ex.reason} instead of redirecting to "
                                             f"https (via {address})", **evidence)
                continue
            location = ex.headers.get("location")
            if not location:
                ctx.failed("redirect.https", f"{url} answered {ex.status} without a Location header", **evidence)
                continue
            absolute = urljoin(url, location)
            evidence["location"] = location
            problem = _compare(absolute, expected)
            if problem:
                ctx.failed("redirect.https", f"{problem}: expected {expected}, got {absolute}", **evidence)
            else:
                ctx.passed("redirect.https", f"{ex.status} to {absolute} (via {address}; "
                                             f"{evidence['redirected_by']})", **evidence)
            first = first or absolute
        if first is None:
            ctx.skipped("redirect.loop", "skipped: the first request was not redirected")
            return
        await self._follow(ctx, url, first)

    async def _follow(self, ctx: ProbeContext, start: str, location: str) -> None:
        hops: list[dict[str, Any]] = [{"url": start, "redirect_to": location}]
        seen = [start]
        url = location
        for _ in range(MAX_HOPS):
            if url in seen:
                chain = " → ".join(seen + [url])
                ctx.failed("redirect.loop", f"redirect loop: {chain}", hops=hops)
                return
            seen.append(url)
            parts = httpx.URL(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            addresses, _ = await ctx.net.addresses_for(parts.host, port)
            if not addresses:
                ctx.failed("redirect.loop", f"the redirect goes to {parts.host}, which does not resolve", hops=hops)
                return
            ex = await ctx.net.request("GET", url, addresses[0])
            hop = {"url": url, "status": ex.status, "address": addresses[0], "redirected_by": _who(ex.headers),
                   "timings_ms": ex.summary()["timings_ms"]}
            hops.append(hop)
            if ex.status not in REDIRECT_CODES or "location" not in ex.headers:
                ctx.passed("redirect.loop", f"{len(hops) - 1} redirect(s), ending at {url} with {ex.status}",
                           hops=hops)
                return
            url = urljoin(url, ex.headers["location"])
            hop["redirect_to"] = url
        ctx.failed("redirect.loop", f"more than {MAX_HOPS} redirects starting at {start}", hops=hops)


def _compare(got: str, expected: str) -> str | None:
    g, e = urlsplit(got), urlsplit(expected)
    if g.scheme != "https":
        return f"Location does not switch to https (scheme {g.scheme})"
    if (g.hostname or "") != (e.hostname or ""):
        return "Location redirects to another host"
    if g.port == 443:
        return "Location carries the default port :443"
    if g.port != e.port:
        return f"Location points at port {g.port or 443}"
    if g.path != e.path:
        return "Location changes the path"
    if g.query != e.query:
        return "Location drops the query string" if not g.query else "Location changes the query string"
    return None


def _who(headers: dict[str, str]) -> str:
    """Which hop answered, as far as the headers tell."""
    for name in ("via", "x-served-by", "server"):
        if headers.get(name):
            return f"{name}: {headers[name]}"
    return "the headers do not say which hop redirected"
