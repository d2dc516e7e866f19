"""`ingresscheck run`: discover, probe, report. Exit 0 clean, 1 something failed, 2 bad input or a
scope that matched nothing."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Interrupted, UsageError
from ..results import Report, Result, Status
from ..session import Request, Session, add_cli_flags, open_session
from ._terminal import printable

if TYPE_CHECKING:
    from ..discovery import Target


def add_run_arguments(run: argparse.ArgumentParser) -> None:
    add_arguments(run)
    run.add_argument(
        "--host",
        metavar="NAME",
        help="check this one host only (its request chain, and the cluster-wide checks' results for it)",
    )
    run.set_defaults(handler=execute)


def add_arguments(run: argparse.ArgumentParser, *, probe_options: bool = True) -> None:
    """The options `run` and `reload` share: the session's flags (the same as the pytest plugin's),
    concurrency, reports and exit policy; with ``probe_options``, every probe's declared options as
    --<probe>-<field> (`reload` names its own probe's as --<field>)."""
    add_cli_flags(run)
    if probe_options:
        from ..probes import _options, load_probes

        for probe in load_probes().available.values():
            if probe.Options.model_fields:
                group = run.add_argument_group(f"{probe.name} probe options")
                _options.add_arguments(group, probe, short=False)
    extra = run.add_argument_group("run")
    extra.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace (the default)")
    extra.add_argument("--concurrency", type=int, default=32, help="targets checked at once (default 32)")
    extra.add_argument(
        "--fail-on",
        choices=("fail", "warn"),
        default="fail",
        help="exit 1 on a failed or undecided check (fail, the default), or on a warning too (warn)",
    )
    out = run.add_argument_group("output and reports")
    out.add_argument(
        "-o",
        "--output",
        choices=("text", "wide", "json"),
        default="text",
        help="text: findings sharing one cause grouped; wide: every finding on one line (severity, subject, "
        "remedy), never grouped; json: the JSON report on stdout (findings and paths then go to stderr), "
        "no default report files are written",
    )
    out.add_argument("--html", help="HTML report path")
    out.add_argument("--json", help="JSON report path")
    out.add_argument("--junit", help="JUnit XML report path")
    out.add_argument(
        "--reports-dir", default="reports", help="where reports go when no path is named (default: reports)"
    )
    out.add_argument("--no-reports", action="store_true", help="write no report file")
    out.add_argument("--no-progress", action="store_true", help="no progress bar and no line per host")
    out.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="failures and the summary only (no progress, no warnings listed)",
    )
    out.add_argument(
        "--prometheus",
        metavar="FILE",
        help="write Prometheus metrics (text format, for node_exporter's textfile collector)",
    )
    out.add_argument(
        "--pushgateway",
        metavar="URL",
        help="push the same metrics to a Pushgateway, e.g. "
        "http://pushgateway:9091 (job ingresscheck, grouped by context)",
    )
    extra.add_argument(
        "--in-cluster",
        action="store_true",
        help="connect with the pod's service account (inside a cluster), ignoring any kubeconfig",
    )


def session_for(args: argparse.Namespace) -> Session:
    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if args.namespace and args.all_namespaces:
        raise UsageError("give either -n/--namespace or -A/--all-namespaces")
    if getattr(args, "pushgateway", None):
        from ..reports._prometheus import check_pushgateway_url

        check_pushgateway_url(args.pushgateway)
    if getattr(args, "in_cluster", False):
        from ..kube import IN_CLUSTER

        if args.kubeconfig:
            raise UsageError("give either --kubeconfig or --in-cluster")
        args.kubeconfig = IN_CLUSTER
    return open_session(Request.from_args(args), reports_dir=args.reports_dir)


def execute(args: argparse.Namespace) -> int:
    session = session_for(args)
    return run_session(session, args)


def run_session(session: Session, args: argparse.Namespace) -> int:
    from ..probes._contract import Scope

    targets = _targets_of_host(session, args.host) if getattr(args, "host", None) else None
    host = targets[0].host if targets else None
    checked = session.inventory.targets if targets is None else targets
    # one line per target with a per-target probe, plus one for the cluster-wide probes if any run
    total = (len(checked) if any(p.scope is Scope.TARGET for p in session.probes) else 0) + (
        1 if any(p.scope is Scope.CLUSTER for p in session.probes) else 0
    )
    # A 1,000-host run holds over a million live objects (the inventory, then 19,000 results with their
    # evidence, then the report's redacted copy) and each full collection walks them all: 8 passes took 0.9 s
    # of an 11 s run (gc.callbacks). What exists after discovery, and after the probes, lives until the
    # process ends, so it is frozen out of collections.
    gc.freeze()
    quiet = getattr(args, "quiet", False)
    mode = "off" if args.no_progress or quiet else "bar" if sys.stderr.isatty() else "lines"
    progress = _Progress(total, enabled=mode == "bar", lines=mode == "lines")

    def done(name: str, results: list[Result]) -> None:
        # what --skip left out is judged as the report will show it (a removed warning is no warning)
        progress.done(name, [session.left_out(r) for r in results], only=host)

    with progress:
        try:
            report = session.run(concurrency=args.concurrency, on_target_done=done, targets=targets)
        except asyncio.CancelledError as exc:
            # the runner cancels with the signal's name (SIGINT, SIGTERM): exit 130 or 143, as shells expect
            raise Interrupted(str(exc.args[0]) if exc.args else "SIGINT") from None
    if host:
        # the cluster-wide probes judge every host at once: keep what they said about this one
        report = replace(report, results=[r for r in report.results if _is_about(r, host)])
    gc.freeze()  # the results, likewise
    paths = _write_reports(report, args)
    # a report written to stdout (-o json, or a path of "-") keeps stdout for itself: the findings go to stderr
    out = sys.stderr if args.output == "json" or any(str(p) == "-" for p in paths.values()) else sys.stdout
    if args.output == "json":
        from ..reports import report_dict

        json.dump(report_dict(report), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        sys.stdout.flush()
    _summary(report, paths, out, quiet=quiet, wide=args.output == "wide")
    empty = session.nothing_checked(report)
    if empty:
        raise UsageError(empty)
    return exit_code(report, args.fail_on)


def _targets_of_host(session: Session, host: str) -> list[Target]:
    """The targets (Ingress rules, HTTPRoute hostnames) serving ``host``; none is a usage error naming it."""
    from .. import hostname as hostnames

    name = (hostnames.to_alabels(host.strip().rstrip(".")) or host).lower()
    found = [t for t in session.inventory.targets if t.host.lower() == name]
    if not found:
        known = sorted({t.host for t in session.inventory.targets})
        hint = f" (hosts: {', '.join(known[:5])}{', ...' if len(known) > 5 else ''})" if known else ""
        raise UsageError(f"--host {printable(host)}: no Ingress or HTTPRoute in {session.scope} serves it{hint}")
    return found


def _is_about(r: Result, host: str) -> bool:
    return (r.host or "").lower() == host.lower()


def exit_code(report: Report, fail_on: str) -> int:
    bad = {Status.FAIL, Status.ERROR} | ({Status.WARN} if fail_on == "warn" else set())
    return 1 if any(r.status in bad for r in report.results) else 0


class _Progress:
    """A rich progress bar on a terminal (``enabled``); plain lines otherwise (``lines``), or nothing."""

    def __init__(self, total: int, enabled: bool, lines: bool = True) -> None:
        from rich.progress import Progress, TaskID

        self.total, self.count, self.enabled, self.lines = total, 0, enabled, lines
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("checking"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("", total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)

    def done(self, name: str, results: list[Result], only: str | None = None) -> None:
        self.count += 1
        if only is not None:  # --host: the cluster-wide line speaks of that host only
            results = [r for r in results if _is_about(r, only)]
        worst = max((r.status for r in results), key=lambda s: s.rank).value if results else "-"
        if name == "cluster":
            # cluster-wide probes (static, exposure, gateway) judge many hosts at once: name the ones they
            # failed, so a host's own line (its request chain) is never read as its whole verdict
            bad = sorted({r.host or r.subject or "?" for r in results if r.status.rank >= Status.FAIL.rank})
            name = "cluster-wide checks" + (
                f" (not passing for {', '.join(bad[:5])}{f' and {len(bad) - 5} more' if len(bad) > 5 else ''})"
                if bad
                else ""
            )
        else:
            name = f"{name} (request chain)"
        name = printable(name)
        if self._bar is not None and self._task is not None:
            from rich.markup import escape

            self._bar.update(self._task, advance=1, description=escape(name))
        elif self.lines:
            print(f"[{self.count}/{self.total}] {worst:<5} {name}", file=sys.stderr, flush=True)


def report_paths(report: Report, args: argparse.Namespace) -> dict[str, Path]:
    """Named paths only, when any is named; none with --no-reports or -o json; else all three under
    --reports-dir, named by context and time."""
    named = {k: Path(v) for k, v in (("html", args.html), ("json", args.json), ("junit", args.junit)) if v}
    if named or args.no_reports or args.output == "json":
        return {} if args.no_reports else named
    stamp = report.started.strftime("%Y%m%dT%H%M%SZ")
    context = re.sub(r"[^A-Za-z0-9_.-]+", "_", report.context) or "cluster"
    base = Path(args.reports_dir) / f"ingresscheck-{context}-{stamp}"
    return {"html": Path(f"{base}.html"), "json": Path(f"{base}.json"), "junit": Path(f"{base}.xml")}


def _write_reports(report: Report, args: argparse.Namespace) -> dict[str, Path]:
    from .. import reports

    out = report_paths(report, args)
    metrics, push = getattr(args, "prometheus", None), getattr(args, "pushgateway", None)
    if not out and not metrics and not push:
        return {}
    try:
        return reports.write_all(
            report,
            html=out.get("html"),
            json=out.get("json"),
            junit=out.get("junit"),
            prometheus=metrics,
            pushgateway=push,
        )
    except OSError as exc:
        raise UsageError(f"cannot write report: {exc.filename}: {exc.strerror}") from None


def _where(r: Result) -> str:
    """Where a finding is, safe to print (cluster data: names, hosts and subjects pass ``printable``)."""
    where = "/".join(x for x in (r.namespace, r.name or r.ingress, r.host) if x) or "cluster"
    return printable(f"{where} [{r.subject}]" if r.subject else where)


@dataclass
class _Group:
    """Findings that share one cause: the same status, check and message once the host, its object and
    the numbers are taken out (the HTML report's grouping), e.g. one wildcard record over 150 hosts."""

    status: Status
    check: str
    results: list[Result] = field(default_factory=list)

    @property
    def first(self) -> Result:
        return self.results[0]

    @property
    def hosts(self) -> list[str]:
        return sorted({r.host for r in self.results if r.host})

    def where(self) -> str:
        if len(self.results) == 1:
            return _where(self.first)
        subjects = {r.subject for r in self.results}
        hosts = self.hosts
        what = f"{len(hosts)} hosts" if len(hosts) > 1 else _where(replace(self.first, subject=None))
        return printable(f"{what} [{self.first.subject}]") if len(subjects) == 1 and self.first.subject else what


def group_findings(results: list[Result]) -> list[_Group]:
    """The failed, undecided and warned results, grouped by cause, worst and most widespread first."""
    from ..reports._html import message_pattern

    groups: dict[tuple[str, str, str], _Group] = {}
    for r in results:
        if r.status in (Status.PASS, Status.SKIP):
            continue
        pattern = message_pattern(
            {"message": r.message, "host": r.host, "namespace": r.namespace, "ingress": r.ingress, "name": r.name}
        )
        groups.setdefault((r.status.value, r.check, pattern), _Group(r.status, r.check)).results.append(r)
    for g in groups.values():
        g.results.sort(key=_where)
    return sorted(groups.values(), key=lambda g: (-g.status.rank, -len(g.results), g.check, _where(g.first)))


def _wrapped(text: str, width: int, indent: str = "      ") -> list[str]:
    """``text`` wrapped at word boundaries under a hanging indent: a line rich folds at the edge would
    start again at column 0 and split words."""
    import textwrap

    return textwrap.wrap(
        text, max(20, width), initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
    ) or [indent]


def _listing(names: list[str], width: int) -> str:
    """As many names as fit in ``width`` columns, then how many more."""
    shown: list[str] = []
    for i, name in enumerate(names):
        rest = len(names) - i - 1
        tail = f", and {rest} more" if rest else ""
        if shown and len(", ".join([*shown, name])) + len(tail) > width:
            return f"{', '.join(shown)}, and {len(names) - len(shown)} more"
        shown.append(name)
    return ", ".join(shown)


def _summary(report: Report, paths: dict[str, Path], out: Any, *, quiet: bool = False, wide: bool = False) -> None:
    """Findings grouped by cause, two or three lines each so check IDs and targets stay whole at 80
    columns (``wide``: every finding on one line, ungrouped; ``quiet``: failures and errors only); then a
    summary by check and the counts."""
    from rich.console import Console
    from rich.markup import escape

    console = Console(file=out, highlight=False)
    colours = {"pass": "green", "fail": "red", "warn": "yellow", "skip": "dim", "error": "magenta"}
    groups = [g for g in group_findings(report.results) if not quiet or g.status is not Status.WARN]
    if groups:
        console.print(f"ingresscheck: {escape(printable(report.context))} ({escape(printable(report.server))})")
    if wide:
        for g in groups:
            for r in g.results:
                print(
                    f"{r.status.value:<5} {r.severity.value:<8} {printable(r.check)} {_where(r)}: "
                    f"{printable(r.message)}" + (f" (remedy: {printable(r.remediation)})" if r.remediation else ""),
                    file=out,
                )
    for g in [] if wide else groups:
        r, many = g.first, len(g.results) > 1
        if console.is_terminal:
            console.print(
                f"[{colours[r.status.value]}]{r.status.value:<5}[/] [bold]{escape(printable(r.check))}[/] "
                f"{escape(g.where())}",
                overflow="fold",
            )
            for line in _wrapped(printable(r.message), console.width):
                console.print(escape(line), overflow="fold")
            if many and len(g.hosts) > 1:
                console.print(f"      on {escape(printable(_listing(g.hosts, console.width - 9)))}", overflow="fold")
        else:  # logs and CI: one greppable line per cause, never wrapped
            on = f" (on {printable(_listing(g.hosts, 60))})" if many and len(g.hosts) > 1 else ""
            print(f"{r.status.value:<5} {printable(r.check)} {g.where()}{on}: {printable(r.message)}", file=out)
    _by_check(report, console, colours, quiet)
    counts = "  ".join(f"[{colours[k]}]{k} {v}[/]" for k, v in report.summary.items())
    took = (report.finished - report.started).total_seconds()
    n = len(report.results)
    console.print(f"{n} check{'' if n == 1 else 's'} in {took:.1f} s: {counts}")
    for kind, path in paths.items():
        console.print(f"{kind:<5} report: {escape(printable(path))}", overflow="fold")


def _by_check(report: Report, console: Any, colours: dict[str, str], quiet: bool) -> None:
    """One line per check that did not only pass or skip (its counts), and how many others did."""
    from collections import Counter

    counts: dict[str, Counter[str]] = {}
    for r in report.results:
        counts.setdefault(r.check, Counter())[r.status.value] += 1
    shown = sorted(
        (c for c, n in counts.items() if n["fail"] or n["error"] or (n["warn"] and not quiet)),
        key=lambda c: (-max(Status(s).rank for s in counts[c]), c),
    )
    if not shown:
        return
    width = max(len(c) for c in shown)
    console.print("by check:")
    for check in shown:
        n = counts[check]
        cells = "  ".join(f"[{colours[s]}]{s} {n[s]}[/]" for s in ("fail", "error", "warn", "pass", "skip") if n[s])
        console.print(f"  {printable(check):<{width}}  {cells}", overflow="fold")
    rest = len(counts) - len(shown)
    if rest:
        console.print(f"  {rest} other check{'' if rest == 1 else 's'}: " + ("no failure" if quiet else "pass or skip"))
