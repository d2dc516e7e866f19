"""canary: the observed split of a weighted HTTPRoute rule is consistent with its weights.

For each rule with two or more weighted backendRefs, N requests (``thresholds.canary_requests``)
are sent to the rule's path and the answering backends counted (they identify themselves, as the
echo backend and the routing probe do). Each backend's count is tested against Binomial(N, w/Σw)
with an exact two-sided test; with k backends the k tests share the error rate (Bonferroni), so
the whole verdict holds at the stated confidence (``thresholds.canary_confidence``, 0.99 by
default): a healthy split fails at most 1 run in 100. A backend of weight 0 that answers at all,
or an answer from a backend the rule does not name, fails outright.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter

from ..discovery.model import BackendRef, PathRule, Target
from ..results import Severity, Step
from ._contract import CheckSpec, Probe, ProbeContext
from .httproute import Seen, _get, base_url, sample_path

IN_FLIGHT = 8  # requests in flight at once: a bounded, gentle burst


def binomial_p_value(k: int, n: int, p: float) -> float:
    """Exact two-sided binomial test: the probability of an outcome at most as likely as ``k`` of ``n``."""
    if n == 0:
        return 1.0
    if p <= 0.0:
        return 1.0 if k == 0 else 0.0
    if p >= 1.0:
        return 1.0 if k == n else 0.0

    def logpmf(x: int) -> float:
        return (
            math.lgamma(n + 1)
            - math.lgamma(x + 1)
            - math.lgamma(n - x + 1)
            + x * math.log(p)
            + (n - x) * math.log1p(-p)
        )

    observed = logpmf(k)
    total = sum(math.exp(lp) for x in range(n + 1) if (lp := logpmf(x)) <= observed + 1e-7)
    return min(1.0, total)


def judge_split(counts: dict[str, int], weights: dict[str, int], confidence: float) -> tuple[bool, str]:
    """Whether ``counts`` (backend -> answers) is consistent with ``weights`` at ``confidence``, and why."""
    n = sum(counts.values())
    total = sum(weights.values())
    alpha = (1 - confidence) / max(1, len([w for w in weights.values() if w > 0]))
    parts, ok = [], True
    for name, w in weights.items():
        got = counts.get(name, 0)
        if w == 0:
            if got:
                ok = False
            parts.append(f"{name} {got}/{n} (weight 0)")
            continue
        pv = binomial_p_value(got, n, w / total)
        ok = ok and pv >= alpha
        parts.append(f"{name} {got}/{n} (expected {w / total:.0%}, p={pv:.3g})")
    stray = {k: v for k, v in counts.items() if k not in weights}
    if stray:
        ok = False
        parts.append("not in the rule: " + ", ".join(f"{k} {v}/{n}" for k, v in stray.items()))
    return ok, "; ".join(parts)


def _name(b: BackendRef) -> str:
    return f"{b.namespace}/{b.service}"


async def _sample(ctx: ProbeContext, url: str, address: str, n: int, headers: dict[str, str] | None) -> list[Seen]:
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one() -> Seen:
        async with gate:
            return await _get(ctx, url, address, headers)

    return list(await asyncio.gather(*(one() for _ in range(n))))


class CanaryProbe(Probe):
    name = "canary"
    needs = ("dns",)
    checks = (
        CheckSpec(
            "canary.weights",
            Step.BACKEND,
            Severity.MAJOR,
            "the split observed over N requests is consistent with the backendRef weights",
            "Compare the Service endpoints of each weighted backend (a shared or wrong endpoint shifts the "
            "split) and what the controller made of the weights (its dashboard or config dump).",
            gates=False,
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        t = ctx.require_target
        if t.kind != "HTTPRoute":
            return
        weighted = [r for r in t.paths if len(r.backends) >= 2]
        if not weighted:
            ctx.skipped("canary.weights", "no rule of this route splits traffic between weighted backends")
            return
        th = ctx.profile.thresholds
        n = int(getattr(th, "canary_requests", 200))
        confidence = float(getattr(th, "canary_confidence", 0.99))
        base, port = base_url(ctx, t)
        addresses, source = await ctx.addresses(port, t.host)
        if not addresses:
            ctx.skipped("canary.weights", f"no address to connect to for {t.host}")
            return
        for rule in weighted:
            await self._rule(ctx, t, rule, base, addresses[0], source, n, confidence)

    async def _rule(
        self,
        ctx: ProbeContext,
        t: Target,
        rule: PathRule,
        base: str,
        address: str,
        source: str,
        n: int,
        confidence: float,
    ) -> None:
        weights = {_name(b): b.weight for b in rule.backends}
        subject = f"{rule.path} {rule.path_type}: " + ", ".join(f"{k}={v}" for k, v in weights.items())
        path = sample_path(rule)
        if path is None:
            ctx.skipped(
                "canary.weights",
                "the rule's path is a regular expression: no request can be derived from it",
                subject=subject,
            )
            return
        headers = dict(rule.headers) or None
        url = base + path
        seen = await _sample(ctx, url, address, n, headers)
        failed = [s for s in seen if not s.ok]
        counts = Counter(
            f"{s.backend[0] or t.namespace}/{s.backend[1]}" if s.backend else f"HTTP {s.status} (unidentified)"
            for s in seen
            if s.ok
        )
        ev = {
            "url": url,
            "address": address,
            "address_from": source,
            "requests": n,
            "counts": dict(counts),
            "weights": weights,
            "confidence": confidence,
            "test": "exact two-sided binomial per backend, Bonferroni-corrected",
        }
        if failed:
            ctx.errored(
                "canary.weights",
                f"could not decide: {len(failed)} of {n} requests to {url} did not "
                f"complete (first: {failed[0].reason})",
                subject=subject,
                evidence=ev,
            )
            return
        ok, detail = judge_split(dict(counts), weights, confidence)
        if ok:
            ctx.passed(
                "canary.weights",
                f"{url}: {detail}: consistent with the weights at {confidence:.0%} confidence",
                subject=subject,
                evidence=ev,
            )
        else:
            ctx.failed(
                "canary.weights",
                f"{url}: {detail}: not consistent with the weights at {confidence:.0%} confidence",
                subject=subject,
                evidence=ev,
            )


__all__ = ["CanaryProbe", "binomial_p_value", "judge_split"]
