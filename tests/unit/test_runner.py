"""The runner owns errors, deadlines, skips and order: probes only report what they saw."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from ingresscheck import runner
from ingresscheck.discovery import Inventory
from ingresscheck.errors import UsageError
from ingresscheck.probes import CheckSpec, Probe, ProbeContext, Scope
from ingresscheck.profile import Profile
from ingresscheck.results import Severity, Status, Step

from .helpers import ingress


def _spec(check: str, gates: bool = True) -> CheckSpec:
    return CheckSpec(check, Step.INGRESS, Severity.MAJOR, "ok", "fix it", gates=gates)


class First(Probe):
    name = "first"
    checks = (_spec("first.gate"), _spec("first.soft", gates=False))
    outcome = Status.PASS

    async def run(self, ctx: ProbeContext) -> None:
        ctx.report("first.gate", self.outcome, "gate")
        ctx.failed("first.soft", "soft failure does not gate")
        ctx.share(seen=ctx.require_target.host)


class Second(Probe):
    name = "second"
    needs = ("first",)
    checks = (_spec("second.check"),)

    async def run(self, ctx: ProbeContext) -> None:
        ctx.passed("second.check", f"saw {ctx.fact('first', 'seen')}")


class Boom(Probe):
    name = "boom"
    checks = (_spec("boom.a"), _spec("boom.b"))

    async def run(self, ctx: ProbeContext) -> None:
        ctx.passed("boom.a", "fine so far")
        raise ConnectionResetError("peer reset")


class Slow(Probe):
    name = "slow"
    checks = (_spec("slow.check"),)

    async def run(self, ctx: ProbeContext) -> None:
        await asyncio.sleep(30)


class Mutator(Probe):
    name = "mutator"
    mutates = True
    scope = Scope.CLUSTER
    checks = (_spec("mutator.check"),)

    async def run(self, ctx: ProbeContext) -> None:
        ctx.passed("mutator.check", "changed the cluster")


def _run(probes: list[type[Probe]], profile: Profile | None = None, **opts: object):  # type: ignore[no-untyped-def]
    inv = Inventory("unit", "local", ingresses=[ingress("a", "a.test")])
    return runner.run(probes, profile or Profile(), inv, runner.RunOptions(**opts))  # type: ignore[arg-type]


def _status(report, check: str) -> Status:  # type: ignore[no-untyped-def]
    return next(r.status for r in report.results if r.check == check)


def test_facts_flow_to_dependents_and_soft_failures_do_not_gate() -> None:
    report = _run([First, Second])
    assert _status(report, "second.check") is Status.PASS
    assert next(r for r in report.results if r.check == "second.check").message == "saw a.test"


def test_a_failed_gate_skips_dependents_with_the_reason() -> None:
    class Failing(First):
        outcome = Status.FAIL

    Failing.name = "first"
    report = _run([Failing, Second])
    skipped = next(r for r in report.results if r.check == "second.check")
    assert skipped.status is Status.SKIP and "first.gate did not pass" in skipped.message


def test_an_exception_is_an_error_for_the_checks_not_yet_reported() -> None:
    report = _run([Boom])
    assert _status(report, "boom.a") is Status.PASS
    b = next(r for r in report.results if r.check == "boom.b")
    assert b.status is Status.ERROR and "ConnectionResetError: peer reset" in b.message
    assert b.remediation == "fix it"
    assert report.failed


def test_a_probe_past_its_deadline_is_an_error() -> None:
    profile = Profile()
    profile = replace(profile, thresholds=replace(profile.thresholds, timeout=0.01))
    r = next(r for r in _run([Slow], profile).results if r.check == "slow.check")
    assert r.status is Status.ERROR and "did not finish within" in r.message


def test_a_timeout_the_probe_lets_escape_is_a_defect_not_the_deadline() -> None:
    """Given a probe raising TimeoutError itself well within its deadline, then its check is an error marked
    as a defect with where it was raised, not 'did not finish within'."""

    class Leaky(Probe):
        name = "leaky"
        checks = (_spec("leaky.check"),)

        async def run(self, ctx: ProbeContext) -> None:
            raise TimeoutError("a socket timeout the probe should have judged")

    r = next(r for r in _run([Leaky]).results if r.check == "leaky.check")
    assert r.status is Status.ERROR and "did not finish" not in r.message
    assert "ingresscheck defect in probe leaky (TimeoutError: a socket timeout" in r.message
    assert "test_runner.py:" in r.message


def test_mutating_probes_skip_unless_allowed() -> None:
    assert _status(_run([Mutator]), "mutator.check") is Status.SKIP
    assert _status(_run([Mutator], allow_mutations=True), "mutator.check") is Status.PASS


def test_plan_orders_by_needs_and_rejects_unknown_names() -> None:
    available = {"second": Second, "first": First}
    assert [p.name for p in runner.plan(available, None, None)] == ["first", "second"]
    assert [p.name for p in runner.plan(available, None, ["first"])] == ["second"]
    with pytest.raises(UsageError, match="unknown probe 'third'"):
        runner.plan(available, ["third"], None)


def test_undeclared_check_ids_are_refused() -> None:
    class Sloppy(Probe):
        name = "sloppy"
        checks = (_spec("sloppy.a"),)

        async def run(self, ctx: ProbeContext) -> None:
            ctx.passed("sloppy.typo", "oops")

    r = _run([Sloppy]).results[0]
    assert r.status is Status.ERROR and "does not declare check 'sloppy.typo'" in r.message
