"""redirect: plain HTTP is answered with a redirect to the same URL on https, and the chain ends.

``http://host/path?query`` must answer 301, 302, 307 or 308 with ``Location:
https://host/path?query``: same host, path and query, no default port. Hops are then followed
(up to 10) to find loops. TLS validity is the tls probe's business, so hops are not verified here.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urljoin, urlsplit

from ..results import Severity, Step, nonce
from ._access import reach as access_reach
from ._contract import CheckSpec, Probe, ProbeContext

REDIRECT_CODES = (301, 302, 307, 308)
MAX_HOPS = 10


class RedirectProbe(Probe):
    name = "redirect"
    needs = ("dns",)
    checks = (
        CheckSpec(
            "redirect.https",
            Step.LB,
            Severity.CRITICAL,
            "http:// answers a redirect to the same URL on https://",
            "Redirect port 80 to https keeping host, path and query (HAProxy: `http-request redirect "
            "scheme https code 302`; ingress-nginx: ssl-redirect).",
        ),
        CheckSpec(
            "redirect.loop",
            Step.LB,
            Severity.MAJOR,
            "following the redirects ends within 10 hops",
            "Make the hop behind TLS termination know the request was https (X-Forwarded-Proto from "
            "the LB, trusted by the controller), or stop redirecting at one of the two hops.",
            gates=False,
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        if not target.redirect_expected(ctx.profile.lb_redirects):
            why = (
                "no redirect expected: the profile says the load balancer does not redirect (lb_redirects: "
                "false) and the Ingress asks for none"
            )
            ctx.skipped("redirect.https", why)
            ctx.skipped("redirect.loop", why)
            return
        port = ctx.profile.http_port
        addresses, source = await ctx.addresses(port, target.request_host)
        if not addresses:
            ctx.skipped("redirect.https", f"no address to connect to for {target.host}")
            ctx.skipped("redirect.loop", f"no address to connect to for {target.host}")
            return
        path = target.sample_path
        query = nonce("=")
        authority = target.request_host if port == 80 else f"{target.request_host}:{port}"
        url = f"http://{authority}{path}?{query}"
        https_authority = (
            target.request_host if ctx.profile.https_port == 443 else f"{target.request_host}:{ctx.profile.https_port}"
        )
        expected = f"https://{https_authority}{path}?{query}"
        codes: tuple[int, ...] = REDIRECT_CODES
        if target.redirect is not None:  # an HTTPRoute RequestRedirect filter says exactly what to answer
            f = target.redirect
            scheme = f.scheme or "http"
            host = f.hostname or target.request_host
            default = 443 if scheme == "https" else 80
            authority = host if f.port in (None, default) else f"{host}:{f.port}"
            expected = f"{scheme}://{authority}{path}?{query}"
            codes = (f.status_code,)
        # every address a client may be sent to is its own subject: one answering well hides no other
        for address in addresses:
            attempt = await ctx.net.request("GET", url, address, keep_alive=False)
            subject = attempt.subject.where
            if not attempt.ok:
                ctx.not_completed("redirect.https", attempt, what=f"GET {url}", evidence={"address_from": source})
                ctx.skipped(
                    "redirect.loop", f"skipped for {subject}: the first request did not complete", subject=subject
                )
                continue
            response = attempt.response
            assert response is not None
            evidence: dict[str, Any] = {
                **attempt.evidence(),
                "expected_location": expected,
                "address_from": source,
                "redirected_by": _who(response.header_map),
            }
            location = response.header("location")
            if response.status not in codes:
                wanted = (
                    "redirecting to https"
                    if codes == REDIRECT_CODES
                    else f"the {codes[0]} its RequestRedirect filter ({_filter_route(target)}) asks for"
                )
                ctx.failed(
                    "redirect.https",
                    f"{url} answered {response.status} {response.reason} instead of {wanted} (via {subject})",
                    subject=subject,
                    evidence=evidence,
                )
            elif not location:
                ctx.failed(
                    "redirect.https",
                    f"{url} answered {response.status} without a Location header (via {subject})",
                    subject=subject,
                    evidence=evidence,
                )
            else:
                absolute = urljoin(url, location)
                evidence["location"] = location
                problem = _compare(absolute, expected)
                if problem:
                    ctx.failed(
                        "redirect.https",
                        f"{problem}: expected {expected}, got {absolute} (via {subject})",
                        subject=subject,
                        evidence=evidence,
                    )
                else:
                    ctx.passed(
                        "redirect.https",
                        f"{response.status} to {absolute} (via {subject}; {evidence['redirected_by']})",
                        subject=subject,
                        evidence=evidence,
                    )
                await self._follow(ctx, url, absolute, address, subject)
                continue
            ctx.skipped(
                "redirect.loop", f"skipped for {subject}: the first request was not redirected", subject=subject
            )

    async def _follow(self, ctx: ProbeContext, start: str, location: str, first_address: str, subject: str) -> None:
        """Follow the redirects that started at ``first_address``; the verdict belongs to that address."""
        hops: list[dict[str, Any]] = [{"url": start, "address": first_address, "redirect_to": location}]
        seen = [start]
        url = location
        for _ in range(MAX_HOPS):
            if url in seen:
                chain = " → ".join(seen + [url])
                ctx.failed(
                    "redirect.loop",
                    f"redirect loop starting at {subject}: {chain}",
                    subject=subject,
                    evidence={"hops": hops},
                )
                return
            seen.append(url)
            parts = urlsplit(url)
            try:
                port = parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError:
                ctx.failed(
                    "redirect.loop",
                    f"the redirect from {subject} goes to an invalid port ({parts.netloc})",
                    subject=subject,
                    evidence={"hops": hops},
                )
                return
            host = parts.hostname or ""
            if _is_ip(host):
                addresses = [host]  # an IP literal is dialed as it is: there is nothing to resolve
            else:
                addresses, _ = await ctx.net.addresses_for(host, port)
            if not addresses:
                ctx.failed(
                    "redirect.loop",
                    f"the redirect from {subject} goes to {host}, which does not resolve",
                    subject=subject,
                    evidence={"hops": hops},
                )
                return
            # the host's own client certificate or inside source address, when its annotations ask for one
            reach = access_reach(ctx.profile, ctx.require_target)
            options = reach.options if host == ctx.require_target.request_host else {}
            attempt = await ctx.net.request("GET", url, addresses[0], **options)
            hop: dict[str, Any] = {"url": url, "address": addresses[0], **attempt.evidence()}
            hops.append(hop)
            if not attempt.ok:
                ctx.not_completed(
                    "redirect.loop",
                    attempt,
                    subject=subject,
                    what=f"following the redirects from {subject}, GET {url}",
                    evidence={"hops": hops},
                )
                return
            response = attempt.response
            assert response is not None
            if response.status not in REDIRECT_CODES or "location" not in response:
                ctx.passed(
                    "redirect.loop",
                    f"{len(hops) - 1} redirect(s) from {subject}, ending at {url} with {response.status}",
                    subject=subject,
                    evidence={"hops": hops},
                )
                return
            url = urljoin(url, response.header("location"))
            hop["redirect_to"] = url
        ctx.failed(
            "redirect.loop",
            f"more than {MAX_HOPS} redirects starting at {start} (via {subject})",
            subject=subject,
            evidence={"hops": hops},
        )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _compare(got: str, expected: str) -> str | None:
    g, e = urlsplit(got), urlsplit(expected)
    try:
        g.port  # noqa: B018 - a Location with port 99999 or :abc is a wrong answer, not our defect
    except ValueError:
        return f"Location has an invalid port ({g.netloc})"
    if g.scheme != e.scheme:
        return f"Location does not switch to {e.scheme} (scheme {g.scheme})"
    if (g.hostname or "") != (e.hostname or ""):
        return "Location redirects to another host"
    if g.port == {"https": 443, "http": 80}.get(g.scheme):
        return f"Location carries the default port :{g.port}"
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


def _filter_route(target: Any) -> str:
    return target.redirect.route if target.redirect else ""
