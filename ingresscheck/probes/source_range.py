"""source_range: the source allowlist and denylist annotations (allowlist-source-range, whitelist-source-range,
denylist-source-range) on the wire.

The vantage points are the profile's ``source_addresses`` (local addresses this machine can send from).
From each, on every address of the host: a client inside an allow range must be served and one outside it
refused (403); a client inside a deny range refused. An echo backend's X-Real-Ip / X-Forwarded-For says
which client address the controller saw; the messages name it.

An allow range that holds a load balancer's own address (the profile's, or the Ingress status) protects
nothing once the controller sees the LB instead of the client: everyone comes in from inside. That is a
critical failure before any traffic, and the likely cause named when an outside client gets in or an
inside one is refused.
"""

from __future__ import annotations

from ..net import Attempt
from ..net import where as net_where
from ..results import Severity, Step
from ._access import Network, allow_ranges, client_address_seen, contains, ranges
from ._contract import CheckSpec, Probe, ProbeContext

CHECK = "access.source_range"


class SourceRangeProbe(Probe):
    name = "source_range"
    needs = ("dns", "tls")
    checks = (
        CheckSpec(
            CHECK,
            Step.INGRESS,
            Severity.CRITICAL,
            "a client inside the allowed range is served, one outside it is refused (403), and the range does not "
            "hold the load balancer's own address",
            "Pass the client's address to the controller (PROXY protocol, or X-Forwarded-For from trusted LB "
            "addresses only) and keep load-balancer addresses out of the range; check that the controller "
            "implements the annotation.",
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        allow_text = allow_ranges(target)
        deny_text = target.annotation("denylist-source-range")
        if not allow_text and not deny_text:
            return
        allowed, bad_allow = ranges(allow_text)
        denied, bad_deny = ranges(deny_text)
        if bad_allow or bad_deny:
            ctx.failed(
                CHECK,
                f"not CIDR ranges: {', '.join(bad_allow + bad_deny)}: controllers reject or ignore such a list",
                subject="the ranges",
                evidence={"allow": allow_text, "deny": deny_text},
            )
            return
        port = ctx.profile.https_port
        addresses, _ = await ctx.net.addresses_for(target.request_host, port)
        lbs = sorted(set(ctx.profile.load_balancers) | set(target.status_addresses) | set(addresses))
        inside_lb = [a for a in lbs if contains(allowed, a)]
        if inside_lb:
            ctx.failed(
                CHECK,
                f"the allowed range {allow_text} holds the load balancer's own address {', '.join(inside_lb)}: "
                f"where the controller sees the LB instead of the client, everyone is let in",
                subject="the ranges",
                evidence={"allow": allow_text, "load_balancers": lbs},
            )
        if not addresses:
            ctx.skipped(CHECK, f"no address to connect to for {target.host}")
            return
        sources = list(ctx.profile.source_addresses)
        if not sources:
            ctx.skipped(
                CHECK,
                "no vantage points: name source_addresses in the profile (addresses of this machine, one inside "
                "and one outside the range) to try the range",
                subject="from this machine",
            )
            return
        shaken = ctx.fact("tls", "addresses")
        url = f"https://{target.request_host}{'' if port == 443 else f':{port}'}{target.sample_path}"
        lb_cause = f" (it admits the load balancer's address {', '.join(inside_lb)})" if inside_lb else ""
        for address in addresses:
            where = net_where(address, port)
            if shaken is not None and address not in shaken:
                ctx.skipped(CHECK, f"skipped for {where}: no TLS handshake there (see tls.handshake)", subject=where)
                continue
            for source in sources:
                attempt = await ctx.net.request("GET", url, address, source=source, keep_alive=False)
                _judge(ctx, attempt, source, allowed, denied, lbs, lb_cause, where)
        for kind, networks in (("allowed", allowed), ("denied", denied)):
            if networks and not any(contains(networks, s) for s in sources):
                ctx.skipped(
                    CHECK,
                    f"no source address of the profile is inside the {kind} range "
                    f"{', '.join(map(str, networks))}: that side was not tried",
                    subject=f"inside the {kind} range",
                )


def _judge(
    ctx: ProbeContext,
    attempt: Attempt,
    source: str,
    allowed: list[Network],
    denied: list[Network],
    lbs: list[str],
    lb_cause: str,
    where: str,
) -> None:
    in_deny = contains(denied, source)
    in_allow = contains(allowed, source) if allowed else True
    should_pass = in_allow and not in_deny
    side = "inside" if should_pass else "outside"
    subject = f"from {source} ({side}) via {where}"
    url = attempt.subject.url
    if not attempt.ok or attempt.response is None:
        ctx.not_completed(CHECK, attempt, subject=subject, what=f"GET {url} from {source}")
        return
    status = attempt.response.status
    seen = client_address_seen(attempt.response)
    evidence = {
        **attempt.evidence(),
        "source": source,
        "expected": "served" if should_pass else "refused",
        **({"client_address_seen_by_controller": seen} if seen else {}),
    }
    saw = ""
    if seen:
        saw = f"; the controller saw the client as {seen}" + (" (a load balancer's address)" if seen in lbs else "")
    served = 200 <= status < 400
    if should_pass and served:
        if seen and seen != source:
            ctx.warned(
                CHECK,
                f"{source} is served ({status}) via {where}, but the controller saw the client as {seen}, not "
                f"{source}: the range is judged against the wrong address{lb_cause}",
                subject=subject,
                evidence=evidence,
            )
            return
        ctx.passed(
            CHECK,
            f"{source}, inside the range, is served ({status}) via {where}{saw}",
            subject=subject,
            evidence=evidence,
        )
    elif should_pass:
        ctx.failed(
            CHECK,
            f"{source} is inside the range but was refused ({status}) via {where}: the controller does not see the "
            f"client's address (likely the load balancer's: pass it on with PROXY protocol or a trusted "
            f"X-Forwarded-For)",
            subject=subject,
            evidence=evidence,
        )
    elif status == 403:
        ctx.passed(
            CHECK, f"{source}, outside the range, is refused (403) via {where}", subject=subject, evidence=evidence
        )
    elif served:
        cause = lb_cause or (
            f": the controller saw {seen} and let it in (it does not implement the range)"
            if seen == source
            else ": the controller does not enforce the range"
        )
        if seen and seen in lbs:
            cause = f": the controller sees the load balancer ({seen}), not the client{lb_cause}"
        ctx.failed(
            CHECK,
            f"{source}, outside the range, was served ({status}) via {where}{cause}",
            subject=subject,
            evidence=evidence,
        )
    else:
        ctx.warned(
            CHECK,
            f"{source}, outside the range, got {status} via {where}: not served, but not the 403 an allowlist gives",
            subject=subject,
            evidence=evidence,
        )
