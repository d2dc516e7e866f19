"""The runner: owns order, concurrency, deadlines, timing, errors and skips, for every probe.

Per target, probes run in dependency order; targets run concurrently (bounded by
``concurrency``), and requests to one LB address are bounded again inside ``Net``. A probe that
raises or overruns its deadline yields ``error`` results for its checks; a probe whose needed
probe failed a gating check yields ``skip`` results, never ``fail``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import hostname as hostnames
from .discovery import Inventory, Target
from .errors import UsageError
from .net import Net
from .probes import Probe, ProbeContext, Scope
from .profile import Profile
from .results import Report, Result, Status

if TYPE_CHECKING:
    from .identity import ServiceProxy
    from .probes import ProbeOptions


@dataclass
class RunOptions:
    concurrency: int = 32
    allow_mutations: bool = False
    use_auth_secrets: bool = False
    # probe name -> its validated Options (probes._options.resolve); a probe not named gets its defaults
    probe_options: Mapping[str, ProbeOptions] = field(default_factory=dict)
    service_proxy: ServiceProxy | None = None  # the API server's service proxy of a cluster run
    reports_dir: Path = Path("reports")


def plan(available: dict[str, type[Probe]], only: list[str] | None, skip: list[str] | None) -> list[type[Probe]]:
    """The probes to run, in an order where each comes after the probes it needs."""
    for name in (only or []) + (skip or []):
        if name not in available:
            raise UsageError(f"unknown probe {name!r} (available: {', '.join(available)})")
    chosen = [n for n in available if (not only or n in only) and n not in (skip or [])]
    ordered: list[str] = []

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in ordered or name not in chosen:
            return
        if name in trail:
            raise UsageError(f"probe dependency cycle: {' -> '.join(trail + (name,))}")
        for need in available[name].needs:
            visit(need, trail + (name,))
        ordered.append(name)

    for name in chosen:
        visit(name, ())
    return [available[n] for n in ordered]


def _gate_failure(probe: type[Probe], done: dict[str, list[Result]], by_name: dict[str, type[Probe]]) -> str | None:
    """Why ``probe`` must skip: a gating check of a probe it needs passed for no subject at all. When it
    passed for some subjects (one of three addresses answers), the probe runs and skips the others itself,
    naming them: one address's failure must not hide what the others do."""
    for need in probe.needs:
        if need not in by_name:
            continue  # not selected for this run: nothing to gate on
        by_check: dict[str, list[Result]] = {}
        for r in done.get(need, []):
            if by_name[need].spec(r.check).gates:
                by_check.setdefault(r.check, []).append(r)
        for check, results in by_check.items():
            if not any(r.status in (Status.PASS, Status.WARN) for r in results):
                r = next((x for x in results if x.status is not Status.SKIP), results[0])
                return f"skipped: {check} did not pass ({r.status.value}: {r.message})"
    return None


class Runner:
    def __init__(
        self,
        probes: list[type[Probe]],
        profile: Profile,
        inventory: Inventory,
        options: RunOptions | None = None,
        on_target_done: Callable[[str, list[Result]], None] | None = None,
        targets: list[Target] | None = None,
    ) -> None:
        self.probes = probes
        self.targets = targets  # None: every target of the inventory
        self.profile = profile
        self.inventory = inventory
        self.options = options or RunOptions()
        self.on_target_done = on_target_done
        self.by_name = {p.name: p for p in probes}
        self.sections: dict[str, Any] = {}

    @property
    def deadline(self) -> float:
        """How long one probe may take for one target: several network steps plus slack."""
        return self.profile.thresholds.timeout * 6 + 5

    async def run(self) -> Report:
        started = dt.datetime.now(dt.UTC)
        net = Net(self.profile)
        results: list[Result] = []
        sem = asyncio.Semaphore(max(1, self.options.concurrency))
        try:
            targets = self.inventory.targets if self.targets is None else self.targets
            target_probes = [p for p in self.probes if p.scope is Scope.TARGET]
            cluster_probes = [p for p in self.probes if p.scope is Scope.CLUSTER]

            async def one_target(target: Target) -> list[Result]:
                async with sem:
                    out = await self._run_chain(target_probes, target, net)
                    net.release(hostnames.to_alabels(target.host) or target.host)  # its kept-alive connections
                if self.on_target_done:
                    self.on_target_done(target.id, out)
                return out

            async def cluster() -> list[Result]:
                out = await self._run_chain(cluster_probes, None, net)
                if self.on_target_done and cluster_probes:
                    self.on_target_done("cluster", out)
                return out

            # no per-target probe: no per-target chain either (nor its progress line, which the total leaves out)
            chunks = await asyncio.gather(cluster(), *(one_target(t) for t in targets if target_probes))
            for chunk in chunks:
                results += chunk
        finally:
            await net.aclose()
        return Report(
            started=started,
            finished=dt.datetime.now(dt.UTC),
            context=self.inventory.context,
            server=self.inventory.server,
            results=results,
            sections=self.sections,
        )

    async def _run_chain(self, probes: list[type[Probe]], target: Target | None, net: Net) -> list[Result]:
        """Run ``probes`` in order for one target (None: cluster-wide), skipping where gates failed."""
        facts: dict[str, dict[str, Any]] = {}
        done: dict[str, list[Result]] = {}
        out: list[Result] = []
        for probe_cls in probes:
            ctx = ProbeContext(
                probe_cls,
                self.profile,
                self.inventory,
                net,
                target,
                facts,
                options=self.options.probe_options.get(probe_cls.name) or probe_cls.Options(),
                use_auth_secrets=self.options.use_auth_secrets,
                allow_mutations=self.options.allow_mutations,
                service_proxy=self.options.service_proxy,
                reports_dir=self.options.reports_dir,
            )
            reason = _gate_failure(probe_cls, done, self.by_name)
            if probe_cls.mutates and not self.options.allow_mutations:
                reason = "skipped: this probe changes the cluster; run with --allow-mutations"
            if reason:
                for check in probe_cls.checks:
                    ctx.skipped(check.id, reason)
            else:
                await self._run_one(probe_cls, ctx)
            done[probe_cls.name] = ctx.results
            out += ctx.results
            self.sections.update(ctx.sections)
        return out

    async def _run_one(self, probe_cls: type[Probe], ctx: ProbeContext) -> None:
        probe = probe_cls()
        reported_before = len(ctx.results)
        deadline = probe_cls.deadline(self.profile, ctx.options) or self.deadline
        # a timeout scope, not wait_for: no task per probe and host (8,000 in a 1,000-host run), and a
        # TimeoutError the probe itself lets escape is told apart from the deadline
        scope = asyncio.timeout(deadline)
        try:
            async with scope:
                await probe.run(ctx)
        except TimeoutError as exc:
            if scope.expired():
                self._error_rest(ctx, reported_before, f"did not finish within {deadline:g} s")
            else:
                self._defect(ctx, probe_cls, reported_before, exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any probe failure is that probe's error result
            self._defect(ctx, probe_cls, reported_before, exc)

    def _defect(self, ctx: ProbeContext, probe_cls: type[Probe], reported_before: int, exc: BaseException) -> None:
        # Network trouble never arrives here (the network layer returns attempts): an exception is a
        # defect of ingresscheck or of a plugin, and says so, with where it happened.
        where = _where(exc)
        self._error_rest(
            ctx,
            reported_before,
            f"ingresscheck defect in probe {probe_cls.name} ({type(exc).__name__}: {exc}"
            f"{' at ' + where if where else ''}); please report it",
            defect=True,
        )

    @staticmethod
    def _error_rest(ctx: ProbeContext, reported_before: int, reason: str, *, defect: bool = False) -> None:
        """Every declared check the probe had not reported yet becomes an error with the reason."""
        given = ctx.results[reported_before:]
        seen = {r.check for r in given}
        if not defect and ctx.planned:
            # cut off by the deadline: each result it had announced and not given is an error naming its subject
            done = {(r.check, r.subject) for r in given}
            for check_id, subject in dict.fromkeys(ctx.planned):
                if (check_id, subject) not in done:
                    ctx.errored(check_id, f"could not decide: {reason}, before {subject} was reached", subject=subject)
                    seen.add(check_id)
        missing = [c for c in ctx.probe.checks if c.id not in seen] or (
            [] if ctx.planned else list(ctx.probe.checks[:1])
        )
        for check in missing:
            if defect:
                ctx.errored(check.id, f"could not decide: {reason}", evidence={"defect": True})
            else:
                ctx.errored(check.id, f"could not decide: {reason}")


def _where(exc: BaseException) -> str:
    """file:line of the innermost frame of ingresscheck code (or a plugin's) that raised."""
    tb = exc.__traceback__
    found = ""
    while tb is not None:
        code = tb.tb_frame.f_code
        if "site-packages" not in code.co_filename or "ingresscheck" in code.co_filename:
            # the folder and the file; code compiled from a string has a bare name such as "<string>"
            found = f"{'/'.join(code.co_filename.split('/')[-2:])}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def run(
    probes: list[type[Probe]],
    profile: Profile,
    inventory: Inventory,
    options: RunOptions | None = None,
    on_target_done: Callable[[str, list[Result]], None] | None = None,
    targets: list[Target] | None = None,
) -> Report:
    """Run ``probes`` over ``targets`` (default: all of the inventory's) and the cluster-wide ones once."""

    async def main() -> Report:
        # Ctrl-C and SIGTERM cancel the run through the loop's own signal handling (also under uvloop),
        # so probes that change the cluster clean up in their `finally` blocks before the exit
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        assert task is not None
        handled = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, task.cancel, sig.name)  # the CLI exits 128 + that signal
                handled.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                pass
        try:
            return await Runner(probes, profile, inventory, options, on_target_done, targets).run()
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)

    with asyncio.Runner(loop_factory=_loop_factory()) as loop:
        return loop.run(main())


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where installed: the runner is CPU-bound on the event loop when checking many hosts."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
