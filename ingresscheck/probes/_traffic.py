"""What the traffic-annotation probes share (cors, canary_annotations, affinity, redirect_annotations, rewrite):
the Ingress's annotations as the profile's controller reads them, where to send requests, and who answered.

An annotation the profile's controller ignores (``ingresscheck.annotations``' support table) is reported as
ignored, naming the annotation and the controller, and is never tested as if it worked.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from .. import annotations as nginx_annotations
from ..discovery.model import Target
from ..identity import identity
from ..net import Attempt
from ._contract import ProbeContext


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def ignored(ctx: ProbeContext, names: list[str]) -> list[str]:
    """Those of ``names`` (set on the target) that the profile's controller ignores."""
    controller = ctx.profile.controller
    if controller is None:
        return []
    supported = nginx_annotations.SUPPORTED.get(controller)
    if supported is None:
        return []
    return [n for n in names if n in nginx_annotations.NGINX and n not in supported]


def skip_if_ignored(ctx: ProbeContext, check: str, t: Target, key: str, subject: str | None = None) -> bool:
    """Report ``check`` as skipped when the controller ignores the annotation ``key`` that turns it on: a
    verdict on traffic would test something the controller never configured. True when skipped."""
    if ignored(ctx, [key]):
        ctx.skipped(
            check,
            f"{ctx.profile.controller} ignores {nginx_annotations.PREFIX}{key}: it is not in effect, "
            f"so it is not tested as if it worked (see static.ignored_annotations)",
            evidence={"annotation": nginx_annotations.PREFIX + key, "controller": ctx.profile.controller},
            subject=subject,
        )
        return True
    return False


def ignored_note(ctx: ProbeContext, t: Target, names: list[str]) -> tuple[str, list[str]]:
    """A message suffix naming the set annotations among ``names`` the controller ignores (left untested)."""
    set_names = [n for n in names if t.annotation(n) is not None]
    gone = ignored(ctx, set_names)
    if not gone:
        return "", []
    listed = ", ".join(nginx_annotations.PREFIX + n for n in gone)
    return f" ({ctx.profile.controller} ignores {listed}: not tested)", gone


def https_base(ctx: ProbeContext, host: str) -> str:
    port = ctx.profile.https_port
    return f"https://{host}" + ("" if port == 443 else f":{port}")


async def first_address(ctx: ProbeContext, t: Target) -> tuple[str | None, str]:
    """The address requests go to (the first the host resolves to) and where it came from."""
    addresses, source = await ctx.addresses(ctx.profile.https_port, t.request_host)
    return (addresses[0] if addresses else None), source


@dataclass(frozen=True)
class Answer:
    """One request's answer as these probes judge it: the attempt and the pod that says it answered."""

    attempt: Attempt
    pod: str | None
    service: str | None

    @property
    def ok(self) -> bool:
        return self.attempt.ok and self.attempt.response is not None

    @property
    def status(self) -> int | None:
        return self.attempt.status


async def ask(
    ctx: ProbeContext,
    url: str,
    address: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    keep_alive: bool = True,
) -> Answer:
    attempt = await ctx.net.request(method, url, address, headers=headers, keep_alive=keep_alive)
    seen = identity(attempt.response) if attempt.ok else None
    return Answer(attempt, seen.pod if seen else None, seen.service if seen else None)


def pods_of(ctx: ProbeContext, namespace: str, service: str | None) -> set[str]:
    """The pods behind the Service's ready endpoints (who may answer for it), from the shared identity code."""
    return set(ctx.inventory.service_endpoints(namespace, service or "").pods)


def tally(answers: list[Answer], groups: dict[str, set[str]]) -> Counter[str]:
    """How many answers came from each group of pods (by endpoint membership); others by what they say."""
    out: Counter[str] = Counter()
    for a in answers:
        if not a.ok:
            out["(no answer)"] += 1
            continue
        name = next((g for g, pods in groups.items() if a.pod and a.pod in pods), None)
        out[name or (f"pod {a.pod}" if a.pod else f"HTTP {a.status} (unidentified)")] += 1
    return out


def first_failure(answers: list[Answer]) -> Answer | None:
    return next((a for a in answers if not a.ok), None)


def brief(answer: Answer) -> dict[str, Any]:
    """A compact evidence entry for one answer."""
    r = answer.attempt.response
    return {
        "url": answer.attempt.subject.url,
        "status": answer.status,
        "pod": answer.pod,
        **({"location": r.header("location")} if r is not None and r.header("location") else {}),
    }
