"""affinity: ``affinity: cookie`` sets its session cookie as configured and keeps a client on one endpoint.

Three subjects per host:

- ``cookie <name>``: a request without it gets ``Set-Cookie`` for ``session-cookie-name`` (default
  ``INGRESSCOOKIE``) with the attributes the annotations that are set ask for (``-path``, ``-max-age``,
  ``-secure``, ``-samesite``, ``-domain``);
- ``with the cookie``: N requests carrying it are all answered by one pod;
- ``without the cookie``: N requests without it spread over two or more pods, when the Service has two or
  more ready endpoints (else there is nothing to spread over, and it says so).

Who answered is what the backend says (echo JSON or X-Echo-Pod), checked against the Service's endpoints.
"""

from __future__ import annotations

from collections import Counter
from http.cookies import CookieError, SimpleCookie
from typing import Any

from ..discovery.model import Target
from ..results import Severity, Step
from ._contract import CheckSpec, Probe, ProbeContext
from ._traffic import (
    Answer,
    ask,
    brief,
    first_address,
    first_failure,
    https_base,
    ignored_note,
    pods_of,
    skip_if_ignored,
)

CHECK = "affinity.cookie"
STICKY_REQUESTS = 10
SPREAD_REQUESTS = 16  # without the cookie, 16 answers from one of two round-robin endpoints: 2^-15 by chance
_DETAILS = (
    "affinity-mode",
    "affinity-canary-behavior",
    "session-cookie-name",
    "session-cookie-path",
    "session-cookie-max-age",
    "session-cookie-expires",
    "session-cookie-secure",
    "session-cookie-samesite",
    "session-cookie-domain",
    "session-cookie-change-on-failure",
    "session-cookie-conditional-samesite-none",
)


def cookie_name(t: Target) -> str:
    return t.annotation("session-cookie-name") or "INGRESSCOOKIE"


def set_cookie(headers: tuple[tuple[str, str], ...], name: str) -> dict[str, str] | None:
    """The attributes of the ``Set-Cookie`` for ``name`` (``value`` included; flags map to "true"), or None."""
    for header, value in headers:
        if header != "set-cookie":
            continue
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(value)
        except CookieError:
            continue
        if name in jar:
            morsel = jar[name]
            out = {"value": morsel.value}
            for attr in ("path", "max-age", "domain", "samesite", "expires"):
                if morsel[attr]:
                    out[attr] = str(morsel[attr])
            for flag in ("secure", "httponly"):
                if morsel[flag]:
                    out[flag] = "true"
            return out
    return None


def expected_attributes(t: Target, ignored: list[str]) -> dict[str, str]:
    """The cookie attributes the annotations that are set (and not ignored) ask for."""
    out: dict[str, str] = {}
    pairs = {
        "session-cookie-path": "path",
        "session-cookie-max-age": "max-age",
        "session-cookie-domain": "domain",
        "session-cookie-samesite": "samesite",
    }
    for annotation, attr in pairs.items():
        if t.annotation(annotation) is not None and annotation not in ignored:
            out[attr] = (t.annotation(annotation) or "").strip()
    if t.annotation("session-cookie-secure") is not None and "session-cookie-secure" not in ignored:
        out["secure"] = "true" if (t.annotation("session-cookie-secure") or "").lower() == "true" else "false"
    return out


def attribute_differences(got: dict[str, str], want: dict[str, str]) -> list[str]:
    wrong = []
    for attr, value in want.items():
        if attr == "secure":
            if (got.get("secure") == "true") != (value == "true"):
                wrong.append(
                    "Secure " + ("missing" if value == "true" else "set although session-cookie-secure is false")
                )
            continue
        seen = got.get(attr, "")
        if seen.lower() != value.lower():
            wrong.append(f"{attr} is {seen or 'missing'}, not {value}")
    return wrong


class AffinityProbe(Probe):
    name = "affinity"
    needs = ("dns",)
    checks = (
        CheckSpec(
            CHECK,
            Step.BACKEND,
            Severity.MAJOR,
            "`affinity: cookie` sets its `session-cookie-*` cookie as annotated; N requests carrying it stay on one "
            "pod; without it they spread",
            "Check affinity/session-cookie-* on the Ingress and what the controller implements (Traefik's provider "
            "has one affinity mode: a sticky cookie); a cookie that is set but not honoured moves sessions.",
            gates=False,
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        t = ctx.require_target
        if t.kind != "Ingress" or (t.annotation("affinity") or "").strip().lower() != "cookie":
            return
        if skip_if_ignored(ctx, CHECK, t, "affinity"):
            return
        address, source = await first_address(ctx, t)
        if address is None:
            ctx.skipped(CHECK, f"no address to connect to for {t.host}")
            return
        note, untested = ignored_note(ctx, t, list(_DETAILS))
        name = cookie_name(t)
        rule = next((r for r in t.paths if r.service), None)
        url = https_base(ctx, t.request_host) + t.sample_path
        pods = pods_of(ctx, t.namespace, rule.service if rule else None)
        ev: dict[str, Any] = {
            "url": url,
            "address": address,
            "address_from": source,
            "cookie": name,
            "endpoints": sorted(pods),
            **({"ignored_by_controller": untested} if untested else {}),
        }
        first = await ask(ctx, url, address)
        if not first.ok:
            ctx.not_completed(CHECK, first.attempt, subject=f"cookie {name}", what=f"GET {url}", evidence=ev)
            return
        assert first.attempt.response is not None
        got = set_cookie(first.attempt.response.headers, name)
        want = expected_attributes(t, untested)
        evidence = {**ev, **first.attempt.evidence(), "set_cookie": got, "expected_attributes": want}
        if got is None:
            others = [v.split(";", 1)[0].split("=", 1) for k, v in first.attempt.response.headers if k == "set-cookie"]
            ctx.failed(
                CHECK,
                f"{url} sets no cookie {name}"
                + (f" (it sets {', '.join(o[0] for o in others)})" if others else " (no Set-Cookie at all)")
                + ": affinity is not in effect",
                evidence=evidence,
                subject=f"cookie {name}",
            )
            if not others or len(others[0]) != 2:
                ctx.skipped(CHECK, f"no cookie {name} to carry", evidence=ev, subject="with the cookie")
                return
            # what a client keeping the declared cookie would send: the name the Ingress declares, the value given
            got = {"value": others[0][1]}
        else:
            self._attributes(ctx, url, name, got, want, evidence, note)
        await self._sticky(ctx, url, address, name, got["value"], first, ev)
        await self._spread(ctx, url, address, pods, ev)

    def _attributes(
        self,
        ctx: ProbeContext,
        url: str,
        name: str,
        got: dict[str, str],
        want: dict[str, str],
        evidence: dict[str, Any],
        note: str,
    ) -> None:
        wrong = attribute_differences(got, want)
        if wrong:
            ctx.failed(CHECK, f"cookie {name}: " + "; ".join(wrong), evidence=evidence, subject=f"cookie {name}")
        else:
            attrs = ", ".join(f"{k}={v}" for k, v in got.items() if k != "value")
            ctx.passed(CHECK, f"{url} sets cookie {name} ({attrs}){note}", evidence=evidence, subject=f"cookie {name}")

    async def _sticky(
        self, ctx: ProbeContext, url: str, address: str, name: str, value: str, first: Answer, ev: dict[str, Any]
    ) -> None:
        subject = "with the cookie"
        answers = [
            await ask(ctx, url, address, {"Cookie": f"{name}={value}"}, keep_alive=False)
            for _ in range(STICKY_REQUESTS)
        ]
        failed = first_failure(answers)
        if failed is not None:
            ctx.not_completed(CHECK, failed.attempt, subject=subject, what=f"GET {url} with {name}", evidence=ev)
            return
        counts = Counter(a.pod or f"HTTP {a.status} (unidentified)" for a in answers)
        evidence = {**ev, "counts": dict(counts), "first_pod": first.pod, "sample": brief(answers[0])}
        if len(counts) == 1 and next(iter(counts)).startswith("HTTP "):
            ctx.warned(
                CHECK,
                f"{STICKY_REQUESTS} requests with {name} were answered by a backend that does not say which pod it "
                f"is: stickiness is not established",
                evidence=evidence,
                subject=subject,
            )
        elif len(counts) == 1:
            ctx.passed(
                CHECK,
                f"{STICKY_REQUESTS} requests with cookie {name} all reached pod {next(iter(counts))}",
                evidence=evidence,
                subject=subject,
            )
        else:
            spread = ", ".join(f"{k} {v}" for k, v in counts.most_common())
            ctx.failed(
                CHECK,
                f"cookie {name} is not sticky: {STICKY_REQUESTS} requests carrying it reached {spread}",
                evidence=evidence,
                subject=subject,
            )

    async def _spread(self, ctx: ProbeContext, url: str, address: str, pods: set[str], ev: dict[str, Any]) -> None:
        subject = "without the cookie"
        if len(pods) < 2:
            ctx.skipped(
                CHECK,
                f"the Service has {len(pods)} ready endpoint{'s' if len(pods) != 1 else ''} with a pod: "
                "nothing to spread over",
                evidence=ev,
                subject=subject,
            )
            return
        answers = [await ask(ctx, url, address, keep_alive=False) for _ in range(SPREAD_REQUESTS)]
        failed = first_failure(answers)
        if failed is not None:
            ctx.not_completed(CHECK, failed.attempt, subject=subject, what=f"GET {url}", evidence=ev)
            return
        counts = Counter(a.pod or f"HTTP {a.status} (unidentified)" for a in answers)
        evidence = {**ev, "counts": dict(counts)}
        spread = ", ".join(f"{k} {v}" for k, v in counts.most_common())
        if len(counts) >= 2:
            ctx.passed(
                CHECK,
                f"{SPREAD_REQUESTS} requests without a cookie spread: {spread}",
                evidence=evidence,
                subject=subject,
            )
        else:
            ctx.failed(
                CHECK,
                f"{SPREAD_REQUESTS} requests without a cookie all reached {spread} although {len(pods)} endpoints are "
                "ready: every new session lands on one pod",
                evidence=evidence,
                subject=subject,
            )


__all__ = ["AffinityProbe", "attribute_differences", "cookie_name", "expected_attributes", "set_cookie"]
