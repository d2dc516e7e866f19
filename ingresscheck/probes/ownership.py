"""ownership: who serves this host. Claims across namespaces, classes and data planes, checked on the wire.

The model (``discovery.ownership``) records, for every hostname and path, every object that claims it:
Ingresses by class and controller (``spec.ingressClassName``, the legacy ``kubernetes.io/ingress.class``
annotation, or the default IngressClass), HTTPRoutes by parent Gateway and listener, in every namespace.
Claims compete only on one data plane (one controller, or one Gateway).

Conflict rules, per implementation (the prediction ``ownership.served`` checks):

- **ingress-nginx** (and Traefik's kubernetesIngressNGINX provider, which follows it): the rules of every
  Ingress for a host are merged, across namespaces; for the same path and pathType the **oldest Ingress
  wins** (creationTimestamp, then namespace/name alphabetically).
- **Gateway API** (HTTPRoute precedence in the spec): the most specific match wins (Exact, longest
  prefix, most header matches); between equal matches the **oldest route** (creationTimestamp), then
  alphabetical ``namespace/name``; within one route, the first rule.

Checks:

- ``ownership.claims``: a host claimed by more than one object on one data plane. From more than one
  namespace it is a fail (a team can add or shadow another team's paths); within one namespace, a
  warning when two objects claim the same path alike (a plain merge of distinct paths passes). The
  message names every claimant and who wins each contested path by the rules above.
- ``ownership.served``: for each contested path, the backend that answers on the wire (found by backend
  identity: the pod it names, a member of which claimant's Service endpoints) is the predicted winner's,
  on every request (answers that flip between claimants fail: replicas disagree).
- ``ownership.controller``: an Ingress that two classes claim (its spec and its legacy annotation name
  different classes, or two default classes), or that no controller serves (its class does not exist).

Results are reported for each claimant's target, once per (host, data plane), subject
``<plane>: <Kind> <namespace>/<name>``.
"""

from __future__ import annotations

from collections import Counter

from ..discovery.model import PathRule, Target
from ..discovery.ownership import Claim, Contest, contests, ingress_classes, is_canary
from ..identity import Identity, identity, membership
from ..results import Severity, Step
from ._contract import CheckSpec, Probe, ProbeContext

_SOURCES = {
    "spec": "spec.ingressClassName",
    "annotation": "annotation kubernetes.io/ingress.class",
    "default": "default",
}
SAMPLES = 4  # requests per contested path and address: replicas behind one address may disagree


class OwnershipProbe(Probe):
    name = "ownership"
    needs = ("dns",)
    checks = (
        CheckSpec(
            "ownership.claims",
            Step.INGRESS,
            Severity.CRITICAL,
            "each host is claimed from one namespace, and no two objects on one data plane claim one path alike "
            "(across namespaces: fail; within one: warn)",
            "Give each host one owner: move the other namespace's rules under another host, or delete the "
            "duplicate; restrict who may claim a host (an admission policy, Gateway allowedRoutes).",
        ),
        CheckSpec(
            "ownership.served",
            Step.BACKEND,
            Severity.CRITICAL,
            "each contested path is answered, on every request, by the claimant the conflict rules predict",
            "Remove the conflicting claim; until then, which backend answers depends on the controller "
            "(and, seen with Traefik, on the replica).",
            gates=False,
        ),
        CheckSpec(
            "ownership.controller",
            Step.INGRESS,
            Severity.MAJOR,
            "exactly one class (spec, legacy annotation or default), so one controller, claims each Ingress",
            "Set spec.ingressClassName only (drop the legacy kubernetes.io/ingress.class annotation), to an "
            "IngressClass that exists; keep one default IngressClass.",
            gates=False,
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        t = ctx.require_target
        inv = ctx.inventory
        first = next(
            (x for x in inv.targets if (x.kind, x.namespace, x.name, x.host) == (t.kind, t.namespace, t.name, t.host)),
            t,
        )
        if first != t:
            return  # another listener's target of the same object and host reported it
        if t.kind == "Ingress":
            self._controller(ctx, t)
        mine = [
            c
            for c in _contests(ctx)
            if c.host == t.host and any(x.kind == t.kind and x.owner == f"{t.namespace}/{t.name}" for x in c.claims)
        ]
        if is_canary(t):
            ctx.skipped(
                "ownership.claims",
                f"Ingress {t.namespace}/{t.name} is a canary: an alternative backend of the main Ingress of "
                f"{t.host}, not a claim of its own (canary.* checks it)",
                subject=f"canary: Ingress {t.namespace}/{t.name}",
            )
            return
        planes = sorted({c.plane for c in inv.claims if _is(c, t)})
        for plane in planes:
            subject = f"{plane}: {t.kind} {t.namespace}/{t.name}"
            contest = next((c for c in mine if c.plane == plane), None)
            if contest is None:
                ctx.passed(
                    "ownership.claims",
                    f"{t.host} is claimed on {plane} by {t.kind} {t.namespace}/{t.name} only",
                    subject=subject,
                    evidence={"plane": plane, "claimants": [f"{t.kind} {t.namespace}/{t.name}"]},
                )
                ctx.skipped("ownership.served", f"no other object claims {t.host} on {plane}", subject=subject)
                continue
            self._claims(ctx, t, contest, subject)
            await self._served(ctx, t, contest, subject)

    # --- ownership.controller -------------------------------------------------------------------
    def _controller(self, ctx: ProbeContext, t: Target) -> None:
        inv = ctx.inventory
        ing = next(
            (
                i
                for i in inv.ingresses
                if ((i.get("metadata") or {}).get("namespace", "default"), (i.get("metadata") or {}).get("name"))
                == (t.namespace, t.name)
            ),
            None,
        )
        first = next(x for x in inv.targets if (x.kind, x.namespace, x.name) == ("Ingress", t.namespace, t.name))
        if ing is None or first != t:
            return  # once per Ingress: on its first host
        classes = ingress_classes(ing, inv.ingress_classes)
        subject = f"Ingress {t.namespace}/{t.name}"
        ev = {"classes": [{"name": c.name, "source": c.source, "controller": c.controller} for c in classes]}
        said = ", ".join(
            f"{c.name} ({_SOURCES[c.source]})" + (f" -> {c.controller}" if c.controller else " (no such IngressClass)")
            for c in classes
        )
        if not classes:
            ctx.warned(
                "ownership.controller",
                f"Ingress {t.namespace}/{t.name} names no class and there is no default IngressClass: only a "
                f"controller watching class-less Ingresses serves it",
                subject=subject,
                evidence=ev,
            )
        elif len(classes) > 1:
            ctx.failed(
                "ownership.controller",
                f"Ingress {t.namespace}/{t.name} is claimed by {len(classes)} classes: {said}; each class's "
                f"controller may serve it (ingress-nginx reads the annotation first, others the spec)",
                subject=subject,
                evidence=ev,
            )
        elif classes[0].controller is None:
            ctx.failed(
                "ownership.controller",
                f"Ingress {t.namespace}/{t.name} names class {said}: no controller serves it",
                subject=subject,
                evidence=ev,
            )
        else:
            ctx.passed(
                "ownership.controller",
                f"Ingress {t.namespace}/{t.name} is served by {classes[0].controller} only, through class "
                f"{classes[0].name} ({_SOURCES[classes[0].source]})",
                subject=subject,
                evidence=ev,
            )

    # --- ownership.claims -----------------------------------------------------------------------
    def _claims(self, ctx: ProbeContext, t: Target, contest: Contest, subject: str) -> None:
        me = f"{t.kind} {t.namespace}/{t.name}"
        won = [conflict for conflict in contest.conflicts if conflict[0].says() == me]
        lost = [
            conflict
            for conflict in contest.conflicts
            if conflict[0].says() != me and any(c.says() == me for c in conflict)
        ]
        paths = "; ".join(
            f"{_rule(conflict[0].rule)}: {conflict[0].says()} wins over "
            + ", ".join(sorted({c.says() for c in conflict[1:]} - {conflict[0].says()}))
            for conflict in contest.conflicts
        )
        ev = {
            "plane": contest.plane,
            "claimants": list(contest.claimants),
            "namespaces": list(contest.namespaces),
            "contested": [
                {
                    "path": _rule(conflict[0].rule),
                    "winner": conflict[0].says(),
                    "claimants": [c.says() for c in conflict],
                }
                for conflict in contest.conflicts
            ],
            "rule": _rule_name(contest.plane),
            "won": len(won),
            "lost": len(lost),
        }
        adds = {
            c.says(): sorted({_rule(x.rule) for x in contest.claims if x.says() == c.says()}) for c in contest.claims
        }
        ev["paths"] = adds
        who = ", ".join(contest.claimants)
        if contest.cross_namespace:
            ctx.failed(
                "ownership.claims",
                f"{t.host} is claimed on {contest.plane} from {len(contest.namespaces)} namespaces "
                f"({', '.join(contest.namespaces)}) by {who}: the rules merge, so each can add or shadow the "
                f"others' paths" + (f"; by {_rule_name(contest.plane)}: {paths}" if paths else ""),
                subject=subject,
                evidence=ev,
            )
        elif contest.conflicts:
            ctx.warned(
                "ownership.claims",
                f"{t.host} is claimed on {contest.plane} by {who}, with paths claimed alike; by "
                f"{_rule_name(contest.plane)}: {paths}",
                subject=subject,
                evidence=ev,
            )
        else:
            ctx.passed(
                "ownership.claims",
                f"{t.host} is claimed on {contest.plane} by {who} in namespace {contest.namespaces[0]}, "
                f"each with its own paths (merged)",
                subject=subject,
                evidence=ev,
            )

    # --- ownership.served -----------------------------------------------------------------------
    async def _served(self, ctx: ProbeContext, t: Target, contest: Contest, subject: str) -> None:
        me = f"{t.kind} {t.namespace}/{t.name}"
        mine = [conflict for conflict in contest.conflicts if any(c.says() == me for c in conflict)]
        if not mine:
            ctx.skipped(
                "ownership.served",
                f"no path of {me} on {t.host} is claimed alike by another object",
                subject=subject,
            )
            return
        if t.auth_type:
            ctx.skipped(
                "ownership.served", f"{t.host} asks for basic auth: the backends are behind it", subject=subject
            )
            return
        https = t.listener_protocol != "HTTP"
        port = ctx.profile.https_port if https else ctx.profile.http_port
        addresses, source = await ctx.addresses(port, t.request_host)
        if not addresses:
            ctx.skipped("ownership.served", f"no address to connect to for {t.host}", subject=subject)
            return
        authority = t.request_host + ("" if port == (443 if https else 80) else f":{port}")
        verdicts: list[tuple[str, str, dict[str, object]]] = []  # (status, line, evidence)
        for conflict in mine:
            winner = conflict[0]
            rule = winner.rule
            if rule.path_type == "RegularExpression" or any(ch in rule.path for ch in "()[]*+?^$\\{}|"):
                verdicts.append(("skip", f"{_rule(rule)}: a regular expression, no request derived", {}))
                continue
            url = f"{'https' if https else 'http'}://{authority}{rule.path}"
            for address in addresses:
                answered: Counter[str] = Counter()
                unknown: list[str] = []
                for _ in range(SAMPLES):
                    attempt = await ctx.net.request("GET", url, address, headers=dict(rule.headers))
                    if not attempt.ok or attempt.response is None:
                        unknown.append(attempt.describe())
                        continue
                    seen = identity(attempt.response)
                    who = await _claimant(ctx, seen, conflict, t.request_host, rule.path) if seen else None
                    if who is None:
                        unknown.append(
                            f"{attempt.response.status} from {seen.says() if seen else 'a backend that says nothing'}"
                        )
                    else:
                        answered[who] += 1
                ev: dict[str, object] = {
                    "url": url,
                    "address": address,
                    "address_from": source,
                    "answered": dict(answered),
                }
                where = f"{url} via {address}"
                if unknown and not answered:
                    verdicts.append(("warn", f"{where}: the answering backend is not identified ({unknown[0]})", ev))
                elif len(answered) > 1:
                    verdicts.append(
                        (
                            "fail",
                            f"{where}: answers flip between claimants ({_counts(answered)}): the replicas "
                            f"disagree; {winner.says()} should win",
                            ev,
                        )
                    )
                elif winner.says() in answered:
                    verdicts.append(("pass", f"{where} is served by {winner.says()}, the predicted winner", ev))
                else:
                    verdicts.append(
                        (
                            "fail",
                            f"{where} is served by {_counts(answered)}, not by {winner.says()}, which "
                            f"{_rule_name(contest.plane)} predicts",
                            ev,
                        )
                    )
        order = ["fail", "warn", "pass", "skip"]
        worst = min((v[0] for v in verdicts), key=order.index)
        message = "; ".join(v[1] for v in verdicts if v[0] == worst)
        evidence = {"plane": contest.plane, "checked": [{"verdict": v[0], "line": v[1], **v[2]} for v in verdicts]}
        {"fail": ctx.failed, "warn": ctx.warned, "pass": ctx.passed, "skip": ctx.skipped}[worst](
            "ownership.served", message, subject=subject, evidence=evidence
        )


def _contests(ctx: ProbeContext) -> list[Contest]:
    memo = ctx.net.memo
    if "ownership.contests" not in memo:
        memo["ownership.contests"] = contests(ctx.inventory)
    found: list[Contest] = memo["ownership.contests"]
    return found


def _is(c: Claim, t: Target) -> bool:
    return c.kind == t.kind and c.namespace == t.namespace and c.name == t.name and c.host == t.host


async def _claimant(ctx: ProbeContext, seen: Identity, conflict: tuple[Claim, ...], host: str, path: str) -> str | None:
    """Which claimant's backend ``seen`` is (a ready endpoint of its Service), the winner first; None when it is
    none of theirs or cannot be told."""
    if not seen.pod:
        return None
    for c in conflict:
        backends = [(b.namespace, b.service, b.port) for b in c.rule.backends if b.weight > 0] or [
            (c.rule.namespace or c.namespace, c.rule.service or "", c.rule.port)
        ]
        candidates = [(ctx.inventory.service_endpoints(ns, svc), port) for ns, svc, port in backends]
        member = await membership(ctx.net, seen, candidates, host, path)
        if member.member:
            return c.says()
    return None


def _counts(answered: Counter[str]) -> str:
    return ", ".join(f"{who} {n}x" for who, n in answered.most_common())


def _rule(rule: PathRule) -> str:
    headers = "".join(f" +{k}: {v}" for k, v in rule.headers)
    return f"{rule.path} ({rule.path_type}){headers}"


def _rule_name(plane: str) -> str:
    if plane.startswith("Gateway "):
        return "Gateway API precedence (oldest route, then namespace/name)"
    return "ingress-nginx's rule (oldest Ingress wins a path)"


__all__ = ["OwnershipProbe"]
