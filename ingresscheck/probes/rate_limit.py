"""rate_limit: the request-rate annotations (limit-rps, limit-rpm, limit-burst-multiplier) on the wire.

A bounded burst, each request on a fresh connection so it spreads over the controller's replicas as clients
do, sent in waves of ``WAVE`` at once (faster than the limit refills, even on a busy machine): three buckets
and ``STOP_AFTER`` more, at most ``MAX_BURST`` requests and ``MAX_SECONDS``, stopping after a wave that was
refused whole. It reports how many passed and with which status the rest were refused (ingress-nginx answers 503
by default, Traefik and Envoy 429). Then, with two vantage points (the profile's ``source_addresses``), a
second client tries at once: served means the limit is counted per client address, refused means all
clients share one budget. Last, after the limit's window, the first client must be served again.

No refusal in the whole burst is a critical failure: the annotation asks for a limit the wire does not
enforce. A burst bigger than the bounds allow is not sent: skipped, saying so.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ..net import Attempt
from ..net import where as net_where
from ..profile import Profile
from ..results import Severity, Step
from ._contract import CheckSpec, Probe, ProbeContext, ProbeOptions

CHECK = "limits.rate"
MAX_BURST = 200  # requests in one burst, whatever the limit
MAX_SECONDS = 15.0  # the burst stops after this long
STOP_AFTER = 8  # requests beyond three buckets, to be sure the burst is above the limit
WAVE = 10  # requests sent at once
MAX_WINDOW_WAIT = 12.0  # the longest the check waits for the limit to let a request through again
DEFAULT_BURST_MULTIPLIER = 5  # ingress-nginx's default
LIMIT_STATUSES = (429, 503)


class RateLimitProbe(Probe):
    name = "rate_limit"
    needs = ("dns", "tls")
    checks = (
        CheckSpec(
            CHECK,
            Step.INGRESS,
            Severity.CRITICAL,
            "a bounded burst above the limit is partly refused (429/503), the limit is counted per client, and "
            "it lets requests through again after its window",
            "Check that the controller implements limit-rps/limit-rpm and that it sees each client's address "
            "(PROXY protocol or a trusted X-Forwarded-For): keyed by the load balancer's address, one client's "
            "burst locks everyone out.",
        ),
    )

    @classmethod
    def deadline(cls, profile: Profile, options: ProbeOptions) -> float | None:
        # the burst, the second client and the wait for the window, each bounded
        return MAX_SECONDS + MAX_WINDOW_WAIT + 10 * profile.thresholds.timeout

    async def run(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        rps, what = _rate(target.annotation("limit-rps"), target.annotation("limit-rpm"))
        if rps is None:
            if what:
                ctx.failed(CHECK, what, subject="the annotations")
            return
        multiplier = _int(target.annotation("limit-burst-multiplier")) or DEFAULT_BURST_MULTIPLIER
        per_second = rps
        bucket = max(1, round(_limit_value(target) * multiplier))
        burst = 3 * bucket + STOP_AFTER
        if burst > MAX_BURST:
            ctx.skipped(
                CHECK,
                f"{what} with burst multiplier {multiplier} lets {bucket} requests through at once; a burst above "
                f"that needs more than the {MAX_BURST} requests this check sends",
            )
            return
        port = ctx.profile.https_port
        addresses, _ = await ctx.net.addresses_for(target.request_host, port)
        if not addresses:
            ctx.skipped(CHECK, f"no address to connect to for {target.host}")
            return
        address = addresses[0]
        where = net_where(address, port)
        url = f"https://{target.request_host}{'' if port == 443 else f':{port}'}{target.sample_path}"
        sources: list[str | None] = list(ctx.profile.source_addresses) or [None]
        first, second = sources[0], (sources[1] if len(sources) > 1 else None)
        limit = {"annotation": what, "burst_multiplier": multiplier, "bucket": bucket}

        started = time.monotonic()
        statuses: list[int | None] = []
        failures: list[Attempt] = []
        # waves of concurrent requests: a burst faster than the limit refills, however slow this machine is
        while len(statuses) < burst and time.monotonic() - started < MAX_SECONDS and len(failures) < 3:
            wave = await asyncio.gather(
                *(
                    ctx.net.request("GET", url, address, source=first, keep_alive=False)
                    for _ in range(min(WAVE, burst - len(statuses)))
                )
            )
            statuses += [a.status for a in wave]
            failures += [a for a in wave if not a.ok]
            if all(a.status in LIMIT_STATUSES for a in wave):
                break  # a whole wave refused: the limit is reached, more would only hammer it
        took = time.monotonic() - started
        passed = sum(1 for s in statuses if s is not None and 200 <= s < 400)
        refused = [s for s in statuses if s in LIMIT_STATUSES]
        summary = {
            **limit,
            "sent": len(statuses),
            "passed": passed,
            "refused": len(refused),
            "refusal_statuses": sorted(set(refused)),
            "seconds": round(took, 2),
            "statuses": statuses,
            "source": first,
        }
        if len(failures) >= 3:
            ctx.not_completed(
                CHECK, failures[-1], subject=f"burst via {where}", what=f"the burst to {url}", evidence=summary
            )
            return
        if not refused:
            others = sorted({s for s in statuses if s is not None and not 200 <= s < 400})
            ctx.failed(
                CHECK,
                f"{what} is not enforced: all {passed} of {len(statuses)} requests in {took:.1f} s were served via "
                f"{where} (a bucket of {bucket} allows about {bucket + round(per_second * took)})"
                + (f"; other statuses: {others}" if others else ""),
                subject=f"burst via {where}",
                evidence=summary,
            )
            return
        code = "/".join(str(s) for s in sorted(set(refused)))
        story = (
            f"{passed} of {len(statuses)} requests in {took:.1f} s were served, the rest refused with {code} "
            f"via {where} ({what}, bucket {bucket})"
        )
        if passed > bucket + per_second * took + 1:
            replicas = passed / (bucket + per_second * took)
            story += f"; {passed} is about {replicas:.1f}x one bucket: the limit is counted per controller replica"
        # per client or shared: a second client at once, and the first one again as a control
        sharing, sharing_ev = await _sharing(ctx, url, address, first, second)
        summary["second_client"] = sharing_ev
        # the window: after it, the first client is served again
        wait = min(MAX_WINDOW_WAIT, max(1.0, 2.0 / per_second))
        await asyncio.sleep(wait)
        again = await ctx.net.request("GET", url, address, source=first, keep_alive=False)
        summary["after_window"] = {"waited_s": round(wait, 2), "status": again.status}
        if again.status is None or not 200 <= again.status < 400:
            ctx.failed(
                CHECK,
                f"{story}; {wait:.1f} s later the first client still got {again.status or again.reason}: the limit "
                f"does not reset after its window",
                subject=f"burst via {where}",
                evidence=summary,
            )
            return
        story += f"; {sharing}; served again {wait:.1f} s later"
        if sharing.startswith("shared"):
            ctx.warned(CHECK, story, subject=f"burst via {where}", evidence=summary)
        else:
            ctx.passed(CHECK, story, subject=f"burst via {where}", evidence=summary)


async def _sharing(
    ctx: ProbeContext, url: str, address: str, first: str | None, second: str | None
) -> tuple[str, dict[str, Any]]:
    if second is None:
        return "per client or shared: not established (one vantage point; name two source_addresses)", {}
    # both clients at once, so the tokens the limit hands out meanwhile fall to both alike
    both = await asyncio.gather(
        *(ctx.net.request("GET", url, address, source=src, keep_alive=False) for src in (first, second) * 3)
    )
    firsts = [a.status for a in both[0::2]]
    seconds = [a.status for a in both[1::2]]
    served_first = sum(1 for s in firsts if s is not None and 200 <= s < 400)
    served_second = sum(1 for s in seconds if s is not None and 200 <= s < 400)
    ev = {"source": second, "statuses": seconds, "first_client_meanwhile": firsts}
    if served_second >= 2 and served_first <= 1:
        return f"counted per client: {second} was served ({served_second} of 3) while {first} was still refused", ev
    if served_second <= 1 and all(s in LIMIT_STATUSES or (s is not None and 200 <= s < 400) for s in seconds):
        return (
            f"shared by all clients: {second} was refused too ({3 - served_second} of 3), right after {first}'s burst "
            f"(ingress-nginx counts per client address; keyed by the load balancer's address, one client locks "
            f"everyone out)",
            ev,
        )
    return f"per client or shared: not established ({second} got {seconds}, {first} meanwhile {firsts})", ev


def _int(text: str | None) -> int | None:
    try:
        value = int((text or "").strip())
    except ValueError:
        return None
    return value if value > 0 else None


def _limit_value(target: Any) -> float:
    rps = _int(target.annotation("limit-rps"))
    return float(rps) if rps else float(_int(target.annotation("limit-rpm")) or 0)


def _rate(rps_text: str | None, rpm_text: str | None) -> tuple[float | None, str]:
    """Requests per second the annotations ask for, and how to say it; (None, reason) for a bad value."""
    if rps_text is not None:
        rps = _int(rps_text)
        if rps is None:
            return None, f"limit-rps {rps_text!r} is not a whole number > 0: controllers ignore it"
        return float(rps), f"limit-rps {rps}"
    if rpm_text is not None:
        rpm = _int(rpm_text)
        if rpm is None:
            return None, f"limit-rpm {rpm_text!r} is not a whole number > 0: controllers ignore it"
        return rpm / 60.0, f"limit-rpm {rpm}"
    return None, ""
