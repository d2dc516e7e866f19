"""forwarded_proto: a client's own ``X-Forwarded-Proto: https`` over plain HTTP does not skip the redirect.

A proxy that trusts forwarded headers from anyone (ingress-nginx with ``use-forwarded-headers``, a
controller behind an LB that does not overwrite them) takes a client's word that the request came
over https, and serves plain HTTP without the redirect. For every host that must redirect, plain
HTTP is sent with ``X-Forwarded-Proto: https`` (and ``X-Forwarded-Port: 443``, ``X-Forwarded-Scheme:
https``); the answer must still be a redirect to https. ``judge_forwarded_proto`` is the verdict on one
answer, the same code ``compare``'s ``forwarded_proto`` aspect judges each side with.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..net import HttpResponse
from ..results import Severity, Status, Step
from ._contract import CheckSpec, Probe, ProbeContext

SPOOFED = (("X-Forwarded-Proto", "https"), ("X-Forwarded-Port", "443"), ("X-Forwarded-Scheme", "https"))


@dataclass(frozen=True)
class ForwardedVerdict:
    status: Status
    value: str  # "redirects to https (302)", "served (200)"
    message: str


def judge_forwarded_proto(response: HttpResponse) -> ForwardedVerdict:
    location = response.header("location")
    if 300 <= response.status < 400 and location.lower().startswith("https://"):
        return ForwardedVerdict(
            Status.PASS,
            f"redirects to https ({response.status})",
            f"still redirected to https ({response.status} to {location}) despite the client's "
            "X-Forwarded-Proto: https",
        )
    if 300 <= response.status < 400:
        return ForwardedVerdict(
            Status.FAIL,
            f"redirects elsewhere ({response.status})",
            f"answered {response.status} to {location or '(no Location)'}, not to https: the client's "
            "X-Forwarded-Proto: https was taken for the truth",
        )
    return ForwardedVerdict(
        Status.FAIL,
        f"served ({response.status})",
        f"answered {response.status} over plain HTTP: the client's X-Forwarded-Proto: https skipped the redirect",
    )


class ForwardedProtoProbe(Probe):
    name = "forwarded_proto"
    needs = ("dns", "redirect")
    checks = (
        CheckSpec(
            "redirect.forwarded_proto",
            Step.LB,
            Severity.MAJOR,
            "plain HTTP with a client's `X-Forwarded-Proto: https` is still redirected to https",
            "Trust forwarded headers only from the load balancer (ingress-nginx: use-forwarded-headers false, or "
            "proxy-real-ip-cidr; Traefik: forwardedHeaders.trustedIPs), and let the LB overwrite them.",
            gates=False,
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        # said as a skip, not left unreported: a check with no result is a different verdict in the pytest
        # suites (which run this probe's own chain per target) than in run, where redirect.https gates it
        if not target.redirect_expected(ctx.profile.lb_redirects):
            ctx.skipped(
                "redirect.forwarded_proto",
                f"no redirect to https is expected for {target.host} (see redirect.https): nothing a forwarded "
                f"header could skip",
            )
            return
        if target.redirect is not None and (target.redirect.scheme or "http") != "https":
            ctx.skipped(
                "redirect.forwarded_proto",
                f"the route's RequestRedirect for {target.host} does not go to https: nothing a forwarded header "
                f"could skip",
            )
            return
        port = ctx.profile.http_port
        addresses, _ = await ctx.addresses(port, target.request_host)
        if not addresses:
            ctx.skipped("redirect.forwarded_proto", f"no address to connect to for {target.host}")
            return
        url = f"http://{target.request_host}{'' if port == 80 else f':{port}'}{target.sample_path}"
        for address in addresses:
            attempt = await ctx.net.request("GET", url, address, headers=dict(SPOOFED), keep_alive=False)
            subject = attempt.subject.where
            if not attempt.ok or attempt.response is None:
                ctx.not_completed("redirect.forwarded_proto", attempt, what=f"GET {url} with X-Forwarded-Proto: https")
                continue
            verdict = judge_forwarded_proto(attempt.response)
            ctx.report(
                "redirect.forwarded_proto",
                verdict.status,
                f"{url} via {subject}: {verdict.message}",
                subject=subject,
                evidence={**attempt.evidence(), "sent_headers": dict(SPOOFED)},
            )
