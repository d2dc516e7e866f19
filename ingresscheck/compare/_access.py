"""The access-control checks in a comparison: ``auth.external``, ``auth.client_cert``, ``access.source_range``
and ``limits.rate`` run on both sides with the code ``run`` uses (the same probes, through the runner), each
side reached at its own address (a ``--resolve`` for the host, the side's ports, the side's address as its
load balancer). Side A's object carries the intent both sides are judged against: an HTTPRoute has no nginx
annotations, and B must enforce what A's Ingress asks for, or the switch opens the door.

Results are paired by (check, subject), the side's address masked in the subject. B failing where A does
not is breaking (the protection is lost); B passing where A fails is a change (B enforces what A did not);
an error or a verdict on one side only is a change: not established alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..discovery.inventory import Inventory
from ..discovery.model import Target
from ..net import where
from ..profile import Profile, Resolve
from ..results import Result, Status
from ._model import BREAKING, CHANGED, Difference, Request, Side

PROBES = ("external_auth", "client_cert", "source_range", "rate_limit")
CHECKS = ("auth.external", "auth.client_cert", "access.source_range", "limits.rate")
# the annotations that make a host's access checks do more than skip
ASKING = (
    "auth-url",
    "auth-signin",
    "auth-response-headers",
    "auth-tls-secret",
    "allowlist-source-range",
    "whitelist-source-range",
    "denylist-source-range",
    "limit-rps",
    "limit-rpm",
)
MASK = "<side>"


@dataclass(frozen=True)
class CheckParity:
    """One access check for one subject on both sides: each side's verdict, and what differs."""

    check: str
    subject: str  # the side's address masked
    a: Result | None
    b: Result | None
    differences: tuple[Difference, ...]

    def as_dict(self) -> dict[str, object]:
        def side(r: Result | None) -> dict[str, str] | None:
            return None if r is None else {"status": r.status.value, "message": r.message}

        return {"check": self.check, "subject": self.subject, "a": side(self.a), "b": side(self.b)}


def asks_for_access(target: Target | None) -> bool:
    return target is not None and any(target.annotation(a) is not None for a in ASKING)


def side_profile(profile: Profile, side: Side, host: str, address: str) -> Profile:
    """The profile as seen from one side: the host (and every host its sign-in sends to, by their URLs) at the
    side's address, on the side's ports, with that address as the load balancer."""
    pinned = tuple(r for r in profile.resolve if r.host != host) + (
        Resolve(host, side.https_port, (address,)),
        Resolve(host, side.http_port, (address,)),
    )
    return profile.with_overrides(
        resolve=pinned, https_port=side.https_port, http_port=side.http_port, load_balancers=(address,)
    )


async def run_side(profile: Profile, target: Target, label: str) -> list[Result]:
    """The four probes (and the dns and tls probes they need) for ``target``, as ``run`` runs them."""
    from ..probes import registry
    from ..runner import Runner, RunOptions, plan

    probes = plan(registry(), ["dns", "tls", *PROBES], None)
    inventory = Inventory(context=f"compare side {label}", server="")
    report = await Runner(probes, profile, inventory, RunOptions(concurrency=4), targets=[target]).run()
    return [r for r in report.results if r.check in CHECKS]


def _masked(subject: str | None, address: str, port: int) -> str:
    return (subject or "").replace(where(address, port), MASK).replace(address, MASK)


def pair(
    host: str,
    intent: Target,
    a: list[Result],
    b: list[Result],
    where_a: tuple[str, int],
    where_b: tuple[str, int],
) -> list[CheckParity]:
    by_a = {(r.check, _masked(r.subject, *where_a)): r for r in a}
    by_b = {(r.check, _masked(r.subject, *where_b)): r for r in b}
    out = []
    for key in sorted(set(by_a) | set(by_b), key=lambda k: (CHECKS.index(k[0]), k[1])):
        ra, rb = by_a.get(key), by_b.get(key)
        request = Request(
            f"check {key[0]} {key[1]}".rstrip(),
            "access",
            "https",
            host,
            intent.sample_path,
            note=f"the {key[0]} check of `run`, on both sides, against A's annotations",
            aspect=key[0],
            kind="check",
        )
        out.append(CheckParity(key[0], key[1], ra, rb, tuple(_differences(request, ra, rb))))
    return out


def _said(r: Result | None) -> str:
    return "no verdict" if r is None else f"{r.status.value}: {r.message}"


def _differences(request: Request, a: Result | None, b: Result | None) -> list[Difference]:
    sa = a.status if a is not None else None
    sb = b.status if b is not None else None
    if sa == sb:
        return []
    bad = (Status.FAIL, Status.ERROR)
    if sb is Status.FAIL and sa is not Status.FAIL:
        why = f"B fails {request.aspect} where A does not: the protection A's annotations ask for is lost on B"
        return [Difference(BREAKING, request, request.aspect or "", _said(a), _said(b), why)]
    if sa is Status.FAIL and sb in (Status.PASS, Status.WARN):
        why = f"B passes {request.aspect} where A fails: B enforces what A did not"
        return [Difference(CHANGED, request, request.aspect or "", _said(a), _said(b), why)]
    if sb in bad or sa in bad or sa is None or sb is None:
        why = f"{request.aspect} is not established alike on both sides (an error or a verdict on one side only)"
        return [Difference(CHANGED, request, request.aspect or "", _said(a), _said(b), why)]
    why = f"{request.aspect}: another verdict on B ({sb.value if sb else '-'} instead of {sa.value if sa else '-'})"
    return [Difference(CHANGED, request, request.aspect or "", _said(a), _said(b), why)]
