"""reload: how long the controller takes to apply an Ingress change, and whether existing traffic
suffers meanwhile. Creates, patches and deletes canary Ingresses (so it only runs with
--allow-mutations) while an open-loop prober calls the existing routes; removes every canary."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from ..kube import Resources, connect
from ..profile import Profile
from ..reload import KIND_LABEL
from ..results import Severity, Step
from ._contract import CheckSpec, Probe, ProbeContext, ProbeOptions, Scope

PHASE_TIMEOUT = 60.0  # seconds one change may take to reach the data plane before it counts as never
# HTTPRoute changes: the Gateway API conformance suite's MaxTimeToConsistency (3 consecutive correct answers)
ROUTE_PHASE_TIMEOUT = 30.0


def _namespaced(text: str) -> str:
    namespace, slash, name = text.partition("/")
    if not (slash and namespace and name) or "/" in name or any(c.isspace() for c in text):
        raise ValueError("give NAMESPACE/NAME")
    return text


class ReloadOptions(ProbeOptions):
    """How the reload probe measures (flags of `ingresscheck reload`, --reload-* of `run` and pytest)."""

    rounds: int = Field(10, ge=1, le=1000, description="canary create/update/delete rounds")
    rate: float = Field(
        100.0, gt=0, le=2000, allow_inf_nan=False, description="open-loop requests/s to existing routes"
    )
    domain: str | None = Field(None, min_length=1, description="domain for canary hosts (default: reload.domain)")
    kind: Literal["ingress", "httproute", "ingress,httproute"] = Field(
        "ingress", description="what the canaries are: Ingresses, or HTTPRoutes on an existing Gateway listener"
    )
    gateway: Annotated[str, AfterValidator(_namespaced)] | None = Field(
        None,
        description="with kind httproute: the Gateway NAMESPACE/NAME the canaries attach to (default: the first "
        "with an HTTPS wildcard listener)",
    )
    under_load: int = Field(
        0, ge=0, le=1000, description="also run a locust background load with this many users during the rounds"
    )

    @property
    def kinds(self) -> list[str]:
        """What the canaries are, in campaign order."""
        return self.kind.split(",")


def _options(options: ProbeOptions) -> ReloadOptions:
    assert isinstance(options, ReloadOptions), options
    return options


class ReloadProbe(Probe):
    name = "reload"
    scope = Scope.CLUSTER
    mutates = True
    Options = ReloadOptions
    checks = (
        CheckSpec(
            "reload.propagation",
            Step.INGRESS,
            Severity.MAJOR,
            "every canary create, update and delete reaches the data plane, p95 under the threshold",
            "Slow or missing propagation: look at the controller's sync/throttle settings, its status "
            "updates (client QPS), reload costs as the configuration grows, and its logs.",
        ),
        CheckSpec(
            "reload.traffic",
            Step.BACKEND,
            Severity.CRITICAL,
            "existing routes answer without errors while Ingresses change",
            "Requests fail when the configuration changes: the controller drops connections on reload "
            "(e.g. nginx reloads with short worker drain); use dynamic reconfiguration or longer drains.",
        ),
        CheckSpec(
            "reload.cleanup",
            Step.INGRESS,
            Severity.MINOR,
            "every canary Ingress was removed",
            "Run `ingresscheck cleanup` to remove leftover canaries (label ingresscheck.io/canary).",
            gates=False,
        ),
    )

    @classmethod
    def deadline(cls, profile: Profile, options: ProbeOptions) -> float | None:
        # every phase of every round may take its timeout, plus baselines and background-load start
        opts = _options(options)
        per_kind = opts.rounds * 3 * max(PHASE_TIMEOUT, ROUTE_PHASE_TIMEOUT) + 60
        return len(opts.kinds) * per_kind

    @staticmethod
    def preflight_options(options: ProbeOptions) -> str | None:
        """Options that are each valid but do not go together, or None."""
        opts = _options(options)
        if opts.gateway is not None and "httproute" not in opts.kinds:
            return f"--gateway {opts.gateway!r}: give NAMESPACE/NAME, with --kind httproute"
        return None

    @classmethod
    def preflight(cls, profile: Profile, options: ProbeOptions) -> str | None:
        """Why it cannot run at all (a configuration error, exit 2), or None."""
        opts = _options(options)
        if (why := cls.preflight_options(opts)) is not None:
            return why
        if "ingress" in opts.kinds and not (opts.domain or profile.reload_domain):
            return "no domain for canary hosts: set reload.domain in the profile (see README, Profile) or pass --domain"
        return None

    async def run(self, ctx: ProbeContext) -> None:
        kinds = _options(ctx.options).kinds
        sections: dict[str, Any] = {}
        for kind in kinds:  # one campaign after the other: each kind's figures, side by side in the report
            section = await self._campaign(
                ctx, kind, subject=f"{KIND_LABEL.get(kind, kind)} canaries" if len(kinds) > 1 else None
            )
            if section is not None:
                sections[kind] = section
        if sections:
            first = next(iter(sections.values()))
            ctx.sections["reload"] = (
                {
                    **first,
                    "by_kind": {
                        k: {"propagation": v["propagation"], "rounds": v["rounds"]} for k, v in sections.items()
                    },
                }
                if len(sections) > 1
                else first
            )

    async def _campaign(self, ctx: ProbeContext, kind: str, subject: str | None) -> dict[str, Any] | None:
        from ..reload.campaign import run_campaign
        from ..reload.canary import LABEL, CampaignError

        profile = ctx.profile
        resources = Resources(connect(profile.kubeconfig, profile.context).api)
        opts = _options(ctx.options)
        rounds, rate = opts.rounds, opts.rate
        try:
            result = await run_campaign(
                profile,
                ctx.inventory,
                resources,
                rounds=rounds,
                rate=rate,
                phase_timeout=(ROUTE_PHASE_TIMEOUT if kind == "httproute" else PHASE_TIMEOUT),
                domain=opts.domain,
                under_load=opts.under_load,
                reports_dir=ctx.reports_dir,
                kind=kind,
                gateway=opts.gateway,
            )
        except CampaignError as exc:
            # before any change: nothing was created, and nothing was measured
            for c in self.checks[:2]:
                ctx.errored(c.id, f"could not decide: {exc}", evidence={"outcome": exc.outcome.value}, subject=subject)
            ctx.passed("reload.cleanup", f"no canary {_kind(kind)} was created", subject=subject)
            return None
        except (LookupError, ValueError) as exc:
            for c in self.checks:
                ctx.skipped(c.id, f"cannot measure reload latency: {exc}", subject=subject)
            return None
        section = result.to_section()
        if result.refused is not None:
            # the API stopped the rounds: what ran is no verdict on the data plane
            ran = len(result.rounds)
            for c in self.checks[:2]:
                ctx.errored(
                    c.id,
                    f"could not decide: the rounds stopped after {ran} of {rounds}: {result.refused}",
                    evidence={"rounds": [r.to_dict() for r in result.rounds]},
                    subject=subject,
                )
            self._cleanup(ctx, kind, result.left, result.run_id, resources, LABEL, subject)
            return section
        prop = result.propagation()
        summary = "; ".join(f"{phase} p50 {_ms(v['p50'])} p95 {_ms(v['p95'])}" for phase, v in prop.items())
        never = {phase: v["failed"] for phase, v in prop.items() if v["failed"]}
        slow = {
            phase: v["p95"]
            for phase, v in prop.items()
            if v["p95"] is not None and v["p95"] > profile.thresholds.reload_p95_ms
        }
        evidence = {"propagation_ms": prop, "rounds": [r.to_dict() for r in result.rounds]}
        if never:
            ctx.failed(
                "reload.propagation",
                "changes never reached the data plane: "
                + ", ".join(f"{phase} in {n} of {rounds} rounds" for phase, n in never.items())
                + f" ({summary})",
                evidence=evidence,
                subject=subject,
            )
        elif slow:
            ctx.warned(
                "reload.propagation",
                f"p95 over {_ms(profile.thresholds.reload_p95_ms)}: "
                + ", ".join(f"{phase} {_ms(v)}" for phase, v in slow.items())
                + f" ({summary})",
                evidence=evidence,
                subject=subject,
            )
        else:
            ctx.passed("reload.propagation", f"{rounds} rounds: {summary}", evidence=evidence, subject=subject)

        if result.traffic is None:
            ctx.skipped("reload.traffic", "no existing auth-free route to keep calling", subject=subject)
        else:
            t = result.traffic.to_dict()
            lat = t["latency_ms"]["corrected"]
            errors = t["errors"]
            tev = {
                "counts": t["counts"],
                "latency_ms": t["latency_ms"],
                "errors": errors[:20],
                "rate": t["achieved_rate"],
                "routes": result.routes,
            }
            bad = t["sent"] - t["counts"].get("ok", 0)
            if bad:
                first = errors[0] if errors else {}
                ctx.failed(
                    "reload.traffic",
                    f"{bad} of {t['sent']} requests to existing routes failed during the "
                    f"changes; first: {first.get('kind')} {first.get('status') or ''} "
                    f"{'after ' + first['after_event'] if first.get('after_event') else ''}".rstrip(),
                    evidence=tev,
                    subject=subject,
                )
            else:
                ctx.passed(
                    "reload.traffic",
                    f"{t['sent']} requests at {t['achieved_rate']:.0f}/s to "
                    f"{len(result.routes)} routes, no errors; p99 {_ms(lat['p99'])} (corrected)",
                    evidence=tev,
                    subject=subject,
                )

        self._cleanup(ctx, kind, result.left, result.run_id, resources, LABEL, subject)
        return section

    @staticmethod
    def _cleanup(
        ctx: ProbeContext,
        kind: str,
        left: list[str],
        run_id: str,
        resources: Resources,
        label: str,
        subject: str | None,
    ) -> None:
        """This campaign's canaries only (its label value): another campaign's are that campaign's business."""
        canary_kind = _kind(kind)
        hint = "; remove them with `ingresscheck cleanup`"
        if left:  # the campaign knows what it could not delete, whatever the API now says
            ctx.failed(
                "reload.cleanup",
                f"canary {canary_kind}s remain: {', '.join(left)}{hint}",
                evidence={"left": left},
                subject=subject,
            )
            return
        try:
            leftovers = resources.list(canary_kind, label_selector=f"{label}={run_id}" if run_id else label)
        except Exception as exc:  # noqa: BLE001 - the API's refusal is classified, as in run
            from ..kube import classify

            outcome, detail = classify(exc)
            ctx.errored(
                "reload.cleanup",
                f"could not decide: listing canary {canary_kind}s failed ({outcome.value}: {detail}); "
                "check and remove them with `ingresscheck cleanup`",
                subject=subject,
            )
            return
        if leftovers:
            names = ", ".join(f"{i['metadata']['namespace']}/{i['metadata']['name']}" for i in leftovers)
            ctx.failed("reload.cleanup", f"canary {canary_kind}s remain: {names}{hint}", subject=subject)
        else:
            ctx.passed("reload.cleanup", f"no canary {canary_kind} remains", subject=subject)


def _kind(kind: str) -> str:
    return "HTTPRoute" if kind == "httproute" else "Ingress"


def _ms(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"
