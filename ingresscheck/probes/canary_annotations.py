"""canary_annotations: an ingress-nginx canary Ingress (``canary: "true"``) takes the traffic its annotations
send it, and only that; everything else reaches the main Ingress's backend.

The probe runs on the canary Ingress's target and pairs each of its rules with the main (non-canary)
Ingress rule of the same host and path. Who answered is judged by endpoint membership (the pod that says it
answered is one of the canary Service's ready endpoints, or of the main one's), as ``routing.backend`` does.

- ``canary.header`` (``canary-by-header``, ``-by-header-value``, ``-by-header-pattern``): requests carrying
  the header's routing value reach the canary; ``never`` (or, with a value or pattern, another value when no
  weight applies) and requests without the header reach the main backend.
- ``canary.cookie`` (``canary-by-cookie``): cookie ``always`` reaches the canary, ``never`` the main backend.
- ``canary.weight`` (``canary-weight``, ``canary-weight-total``): N requests without header or cookie split
  between main and canary consistently with weight/total, judged with the exact binomial test of
  ``canary.weights`` (the same function).

Precedence is ingress-nginx's: header, then cookie, then weight. Annotations the profile's controller ignores
are reported as ignored, not tested.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Any

from ..discovery.inventory import Inventory
from ..discovery.model import PathRule, Target
from ..results import Severity, Step
from ._contract import CheckSpec, Probe, ProbeContext
from ._ingress_annotations import is_canary, weight_of, weighted_canary_services
from ._traffic import Answer, ask, brief, first_address, first_failure, https_base, pods_of, skip_if_ignored, tally
from .canary import IN_FLIGHT, judge_split

PROBES_PER_CASE = 5  # requests per header/cookie value: one stray answer is enough to fail
OTHER_VALUE = "ingresscheck-other"


def main_rule(inventory: Inventory, canary: Target, rule: PathRule) -> tuple[Target, PathRule] | None:
    """The main Ingress's rule the canary rule is an alternative of: same host, same path, not a canary."""
    for t in inventory.targets:
        if t.kind != "Ingress" or t.host != canary.host or is_canary(t):
            continue
        for r in t.paths:
            if r.path == rule.path:
                return t, r
    return None


def header_value(t: Target) -> tuple[str | None, str]:
    """The header value that routes to the canary, and how it was chosen (None: none could be derived)."""
    if t.annotation("canary-by-header-value"):
        return t.annotation("canary-by-header-value"), "canary-by-header-value"
    pattern = t.annotation("canary-by-header-pattern")
    if pattern:
        literal = pattern.strip("^$")
        if re.fullmatch(r"[\w.-]+", literal) and re.fullmatch(pattern, literal):
            return literal, "canary-by-header-pattern (a literal)"
        return None, f"canary-by-header-pattern {pattern!r} is a regular expression; no value derived from it"
    return "always", "canary-by-header without a value: 'always'"


class CanaryAnnotationsProbe(Probe):
    name = "canary_annotations"
    needs = ("dns",)
    checks = (
        CheckSpec(
            "canary.header",
            Step.BACKEND,
            Severity.MAJOR,
            "a canary Ingress's `canary-by-header` value (`-value`, a literal `-pattern`, else `always`) reaches the "
            "canary's pods; other requests the main Ingress's",
            "Check canary-by-header/-value/-pattern on the canary Ingress (same host and path as the main one) and "
            "that the controller implements header canaries; ingress-nginx routes 'always'/the value to the canary.",
            gates=False,
        ),
        CheckSpec(
            "canary.cookie",
            Step.BACKEND,
            Severity.MAJOR,
            "cookie `canary-by-cookie=always` reaches the canary's pods, `=never` the main Ingress's",
            "Check canary-by-cookie on the canary Ingress and that the controller implements cookie canaries "
            "(ingress2gateway leaves them unconverted: an HTTPRoute needs a Cookie header match).",
            gates=False,
        ),
        CheckSpec(
            "canary.weight",
            Step.BACKEND,
            Severity.MAJOR,
            "N plain requests split as `canary-weight`/`canary-weight-total` (the exact binomial test of "
            "`canary.weights`)",
            "Compare canary-weight with what the controller made of it, and the canary Service's endpoints "
            "(a shared or wrong endpoint shifts the split).",
            gates=False,
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        t = ctx.require_target
        if not is_canary(t):
            return
        todo = [
            check
            for check, key in self._todo(t)
            if not skip_if_ignored(ctx, check, t, "canary") and not skip_if_ignored(ctx, check, t, key)
        ]
        if not todo:
            return
        address, source = await first_address(ctx, t)
        for rule in t.paths:
            paired = main_rule(ctx.inventory, t, rule)
            subject = rule.path
            if paired is None or address is None:
                why = (
                    f"no main (non-canary) Ingress serves {t.host}{rule.path}: a canary needs one"
                    if paired is None
                    else f"no address to connect to for {t.host}"
                )
                for check in todo:
                    (ctx.failed if paired is None else ctx.skipped)(check, why, subject=subject)
                continue
            main_t, main = paired
            groups = {
                f"{main_t.namespace}/{main.service}": pods_of(ctx, main_t.namespace, main.service),
                f"{t.namespace}/{rule.service}": pods_of(ctx, t.namespace, rule.service),
            }
            case = _Case(ctx, t, address, source, https_base(ctx, t.request_host) + rule.path, subject, groups)
            if "canary.header" in todo:
                await case.header()
            if "canary.cookie" in todo:
                await case.cookie()
            if "canary.weight" in todo:
                await case.weight()

    @staticmethod
    def _todo(t: Target) -> list[tuple[str, str]]:
        """(check, the annotation that asks for it) for each canary kind the Ingress sets."""
        todo = []
        if t.annotation("canary-by-header"):
            todo.append(("canary.header", "canary-by-header"))
        if t.annotation("canary-by-cookie"):
            todo.append(("canary.cookie", "canary-by-cookie"))
        if weight_of(t) is not None:
            todo.append(("canary.weight", "canary-weight"))
        return todo


class _Case:
    """One canary rule against its main rule: the requests and verdicts of the three checks."""

    def __init__(
        self,
        ctx: ProbeContext,
        t: Target,
        address: str,
        source: str,
        url: str,
        subject: str,
        groups: dict[str, set[str]],
    ) -> None:
        self.ctx, self.t, self.address, self.url, self.subject = ctx, t, address, url, subject
        self.main, self.canary = list(groups)
        self.groups = groups
        w = weight_of(t)
        self.weighted = w is not None and w[0] > 0
        self.ev: dict[str, Any] = {
            "url": url,
            "address": address,
            "address_from": source,
            "main": self.main,
            "canary": self.canary,
            "pods": {k: sorted(v) for k, v in groups.items()},
        }

    async def _send(self, headers: dict[str, str], n: int = PROBES_PER_CASE) -> list[Answer]:
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def one() -> Answer:
            async with gate:
                return await ask(self.ctx, self.url, self.address, headers)

        return list(await asyncio.gather(*(one() for _ in range(n))))

    def _expect(self, check: str, cases: list[tuple[str, dict[str, str], str, list[Answer]]]) -> None:
        """Judge each (what was sent, headers, the group that must answer, answers): all must come from it."""
        wrong, seen = [], []
        for what, _headers, want, answers in cases:
            failed = first_failure(answers)
            if failed is not None:
                self.ctx.not_completed(
                    check, failed.attempt, subject=self.subject, what=f"{what} ({self.url})", evidence=self.ev
                )
                return
            counts = tally(answers, self.groups)
            seen.append({"sent": what, "expected": want, "counts": dict(counts), "first": brief(answers[0])})
            stray = {k: v for k, v in counts.items() if k != want}
            if stray:
                other = ", ".join(f"{k} {v}/{len(answers)}" for k, v in stray.items())
                target = "the main backend" if want == self.canary and self.main in stray else "another backend"
                wrong.append(f"{what} should reach {want} but {other} answered ({target})")
        evidence = {**self.ev, "requests": seen}
        if wrong:
            self.ctx.failed(check, f"{self.url}: " + "; ".join(wrong), evidence=evidence, subject=self.subject)
        else:
            said = "; ".join(f"{c['sent']} → {c['expected']}" for c in seen)
            self.ctx.passed(check, f"{self.url}: {said}", evidence=evidence, subject=self.subject)

    async def header(self) -> None:
        t = self.t
        name = t.annotation("canary-by-header") or ""
        value, how = header_value(t)
        if value is None:
            self.ctx.skipped("canary.header", f"{name}: {how}", evidence=self.ev, subject=self.subject)
            return
        cases = [(f"{name}: {value}", {name: value}, self.canary)]
        if how.startswith("canary-by-header without"):
            cases.append((f"{name}: never", {name: "never"}, self.main))
        elif not self.weighted:
            cases.append((f"{name}: {OTHER_VALUE}", {name: OTHER_VALUE}, self.main))
        if not self.weighted:
            cases.append(("no header", {}, self.main))
        results = [(what, h, want, await self._send(h)) for what, h, want in cases]
        self.ev["header_value_from"] = how
        self._expect("canary.header", results)

    async def cookie(self) -> None:
        name = self.t.annotation("canary-by-cookie") or ""
        cases = [
            (f"cookie {name}=always", {"Cookie": f"{name}=always"}, self.canary),
            (f"cookie {name}=never", {"Cookie": f"{name}=never"}, self.main),
        ]
        self._expect("canary.cookie", [(what, h, want, await self._send(h)) for what, h, want in cases])

    async def weight(self) -> None:
        ctx, t = self.ctx, self.t
        w = weight_of(t)
        assert w is not None
        weight, total = w
        th = ctx.profile.thresholds
        n = int(getattr(th, "canary_requests", 200))
        confidence = float(getattr(th, "canary_confidence", 0.99))
        answers = await self._send({}, n)
        failed = [a for a in answers if not a.ok]
        counts: Counter[str] = tally([a for a in answers if a.ok], self.groups)
        weights = {self.main: total - weight, self.canary: weight}
        ev = {
            **self.ev,
            "requests": n,
            "counts": dict(counts),
            "weights": weights,
            "confidence": confidence,
            "test": "exact two-sided binomial per backend, Bonferroni-corrected (as canary.weights)",
        }
        subject = self.subject
        if failed:
            ctx.errored(
                "canary.weight",
                f"could not decide: {len(failed)} of {n} requests to {self.url} did not complete "
                f"(first: {failed[0].attempt.reason})",
                evidence=ev,
                subject=subject,
            )
            return
        ok, detail = judge_split(dict(counts), weights, confidence)
        share = f"canary-weight {weight}/{total}"
        if ok:
            ctx.passed(
                "canary.weight",
                f"{self.url}: {detail}: consistent with {share} at {confidence:.0%} confidence",
                evidence=ev,
                subject=subject,
            )
        else:
            ctx.failed(
                "canary.weight",
                f"{self.url}: {detail}: not consistent with {share} at {confidence:.0%} confidence",
                evidence=ev,
                subject=subject,
            )


__all__ = ["CanaryAnnotationsProbe", "header_value", "is_canary", "main_rule", "weight_of", "weighted_canary_services"]
