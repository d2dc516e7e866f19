"""`ingresscheck run`: discover, probe, report. Exit 0 clean, 1 something failed, 2 bad input or a
scope that matched nothing."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import sys
from pathlib import Path
from typing import Any

from ..errors import Interrupted, UsageError
from ..results import Report, Result, Status
from ..session import Request, Session, add_cli_flags, open_session
from ._terminal import printable


def add_run_arguments(run: argparse.ArgumentParser) -> None:
    add_arguments(run)
    run.set_defaults(handler=execute)


def add_arguments(run: argparse.ArgumentParser) -> None:
    """The options `run` and `reload` share: the session's flags (the same as the pytest plugin's),
    concurrency, reports and exit policy."""
    add_cli_flags(run)
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
        choices=("text", "json"),
        default="text",
        help="json: the JSON report on stdout (findings and paths then go to stderr); "
        "no default report files are written",
    )
    out.add_argument("--html", help="HTML report path")
    out.add_argument("--json", help="JSON report path")
    out.add_argument("--junit", help="JUnit XML report path")
    out.add_argument(
        "--reports-dir", default="reports", help="where reports go when no path is named (default: reports)"
    )
    out.add_argument("--no-reports", action="store_true", help="write no report file")
    out.add_argument("--no-progress", action="store_true", help="no live progress bar")
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


def session_for(args: argparse.Namespace, extra: dict[str, Any] | None = None) -> Session:
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
    return open_session(Request.from_args(args), extra={"reports_dir": args.reports_dir, **(extra or {})})


def execute(args: argparse.Namespace) -> int:
    session = session_for(args, getattr(args, "extra_options", None))
    return run_session(session, args)


def run_session(session: Session, args: argparse.Namespace) -> int:
    total = len(session.inventory.targets) + 1
    # A 1,000-host run holds over a million live objects (the inventory, then 19,000 results with their
    # evidence, then the report's redacted copy) and each full collection walks them all: 8 passes took 0.9 s
    # of an 11 s run (gc.callbacks). What exists after discovery, and after the probes, lives until the
    # process ends, so it is frozen out of collections.
    gc.freeze()
    progress = _Progress(total, enabled=not args.no_progress and sys.stderr.isatty())
    with progress:
        try:
            report = session.run(concurrency=args.concurrency, on_target_done=progress.done)
        except asyncio.CancelledError as exc:
            # the runner cancels with the signal's name (SIGINT, SIGTERM): exit 130 or 143, as shells expect
            raise Interrupted(str(exc.args[0]) if exc.args else "SIGINT") from None
    gc.freeze()  # the results, likewise
    paths = _write_reports(report, args)
    # a report written to stdout (-o json, or a path of "-") keeps stdout for itself: the findings go to stderr
    out = sys.stderr if args.output == "json" or any(str(p) == "-" for p in paths.values()) else sys.stdout
    if args.output == "json":
        from ..reports import report_dict

        json.dump(report_dict(report), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        sys.stdout.flush()
    _summary(report, paths, out)
    empty = session.nothing_checked(report)
    if empty:
        raise UsageError(empty)
    return exit_code(report, args.fail_on)


def exit_code(report: Report, fail_on: str) -> int:
    bad = {Status.FAIL, Status.ERROR} | ({Status.WARN} if fail_on == "warn" else set())
    return 1 if any(r.status in bad for r in report.results) else 0


class _Progress:
    """A rich progress bar on a terminal; plain lines otherwise."""

    def __init__(self, total: int, enabled: bool) -> None:
        from rich.progress import Progress, TaskID

        self.total, self.count, self.enabled = total, 0, enabled
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

    def done(self, name: str, results: list[Result]) -> None:
        self.count += 1
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
        else:
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


def _summary(report: Report, paths: dict[str, Path], out: Any) -> None:
    """Findings, two lines each so check IDs and targets stay whole at 80 columns; then the counts."""
    from rich.console import Console
    from rich.markup import escape

    console = Console(file=out, highlight=False)
    colours = {"pass": "green", "fail": "red", "warn": "yellow", "skip": "dim", "error": "magenta"}
    notable = [
        r
        for r in sorted(report.results, key=lambda r: (-r.status.rank, r.check, _where(r)))
        if r.status not in (Status.PASS, Status.SKIP)
    ]
    if notable:
        console.print(f"ingresscheck: {escape(printable(report.context))} ({escape(printable(report.server))})")
    for r in notable:
        if console.is_terminal:
            console.print(
                f"[{colours[r.status.value]}]{r.status.value:<5}[/] "
                f"[bold]{escape(printable(r.check))}[/] {escape(_where(r))}",
                overflow="fold",
            )
            console.print(f"      {escape(printable(r.message))}", overflow="fold")
        else:  # logs and CI: one greppable line per finding, never wrapped
            print(f"{r.status.value:<5} {printable(r.check)} {_where(r)}: {printable(r.message)}", file=out)
    counts = "  ".join(f"[{colours[k]}]{k} {v}[/]" for k, v in report.summary.items())
    took = (report.finished - report.started).total_seconds()
    n = len(report.results)
    console.print(f"{n} check{'' if n == 1 else 's'} in {took:.1f} s: {counts}")
    for kind, path in paths.items():
        console.print(f"{kind:<5} report: {escape(printable(path))}", overflow="fold")
