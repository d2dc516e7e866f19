"""`ingresscheck run`: discover, probe, report. Exit 0 clean, 1 something failed, 2 bad input."""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import replace
from pathlib import Path

from ..errors import UsageError
from ..profile import Profile, Resolve, load, parse_address, parse_dns_server
from ..results import Report, Result, Status


def add_run_arguments(run: argparse.ArgumentParser) -> None:
    add_arguments(run)
    run.set_defaults(handler=execute)


def add_arguments(run: argparse.ArgumentParser) -> None:
    """The options `run` and `reload` share: cluster, environment, probe selection, reports."""
    conn = run.add_argument_group("cluster (like kubectl)")
    conn.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
    conn.add_argument("--context", help="kubeconfig context")
    conn.add_argument("-n", "--namespace", help="only Ingresses of this namespace")
    conn.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace (the default)")
    conn.add_argument("-l", "--selector", help="label selector for Ingresses, e.g. app=shop")
    conn.add_argument("--manifests", metavar="DIR", help="check manifests offline instead of a cluster")
    env = run.add_argument_group("environment")
    env.add_argument("--profile", help="profile YAML: DNS servers, LB addresses, CA bundle, credentials...")
    env.add_argument("--dns-server", action="append", metavar="ADDR[:PORT]", help="resolver to use (repeatable)")
    env.add_argument("--lb", action="append", metavar="ADDR", help="expected load-balancer address (repeatable)")
    env.add_argument("--ca-bundle", help="CA bundle for TLS verification (default: system store)")
    env.add_argument("--resolve", action="append", metavar="HOST:PORT:ADDR",
                     help="connect to ADDR for HOST:PORT, like curl --resolve (repeatable)")
    env.add_argument("--use-auth-secrets", action="store_true",
                     help="allow reading basic-auth credentials from the cluster's Secrets")
    env.add_argument("--allow-mutations", action="store_true", help="allow probes that change the cluster")
    sel = run.add_argument_group("probes")
    sel.add_argument("--probes", help="comma-separated probes to run (default: all)")
    sel.add_argument("--skip", help="comma-separated probes to leave out")
    sel.add_argument("--concurrency", type=int, default=32, help="targets checked at once (default 32)")
    sel.add_argument("--timeout", type=float, help="seconds for one network operation (default 5)")
    out = run.add_argument_group("reports")
    out.add_argument("--html", help="HTML report path")
    out.add_argument("--json", help="JSON report path")
    out.add_argument("--junit", help="JUnit XML report path")
    out.add_argument("--reports-dir", default="reports", help="where default report names go (default: reports)")
    out.add_argument("--no-progress", action="store_true", help="no live progress bar")


def _profile(args: argparse.Namespace) -> Profile:
    profile = load(args.profile) if args.profile else Profile()
    thresholds = profile.thresholds
    if args.timeout is not None:
        if args.timeout <= 0:
            raise UsageError("--timeout must be more than 0 seconds")
        thresholds = replace(thresholds, timeout=args.timeout)
    dns = tuple(parse_dns_server(s) for s in args.dns_server) if args.dns_server else None
    lbs = tuple(parse_address(a, "--lb") for a in args.lb) if args.lb else None
    resolve = tuple(Resolve.parse(r) for r in args.resolve) + profile.resolve if args.resolve else None
    if args.ca_bundle and not Path(args.ca_bundle).is_file():
        raise UsageError(f"--ca-bundle {args.ca_bundle} does not exist")
    return profile.with_overrides(
        kubeconfig=args.kubeconfig, context=args.context, dns_servers=dns,
        load_balancers=lbs, ca_bundle=args.ca_bundle, resolve=resolve,
        thresholds=thresholds,
    )


def _names(text: str | None) -> list[str] | None:
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


def execute(args: argparse.Namespace) -> int:
    from .. import runner
    from ..probes import registry

    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if args.namespace and args.all_namespaces:
        raise UsageError("give either -n/--namespace or -A/--all-namespaces")
    profile = _profile(args)
    probes = runner.plan(registry(), _names(args.probes), _names(args.skip))
    if args.manifests:
        from ..discovery.manifests import discover as from_manifests

        inventory = from_manifests(args.manifests, args.namespace)
    else:
        from ..discovery.kube import discover
        from ..kube import check_reachable, connect

        cluster = connect(profile.kubeconfig, profile.context)
        check_reachable(cluster)
        inventory = discover(cluster, args.namespace, args.selector, read_credentials=args.use_auth_secrets)
    if args.manifests and not args.probes:
        # offline, before deploying: the hosts are not live yet, so only probes without traffic apply
        probes = [p for p in probes if not p.network]
    targets = inventory.targets
    progress = _Progress(len(targets) + 1, enabled=not args.no_progress and sys.stderr.isatty())
    options = runner.RunOptions(concurrency=args.concurrency, allow_mutations=args.allow_mutations,
                                use_auth_secrets=args.use_auth_secrets,
                                extra=getattr(args, "extra_options", None) or {})
    with progress:
        report = runner.run(probes, profile, inventory, options, on_target_done=progress.done)
    paths = _write_reports(report, args)
    _summary(report, paths)
    return 1 if report.failed else 0


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

            self._bar = Progress(TextColumn("checking"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("{task.description}"), transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task("", total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)

    def done(self, name: str, results: list[Result]) -> None:
        self.count += 1
        worst = max((r.status for r in results), key=lambda s: s.rank, default=Status.PASS)
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, advance=1, description=name)
        else:
            print(f"[{self.count}/{self.total}] {worst.value:<5} {name}", file=sys.stderr, flush=True)


def _write_reports(report: Report, args: argparse.Namespace) -> dict[str, Path]:
    from .. import reports

    stamp = report.started.strftime("%Y%m%dT%H%M%SZ")
    context = re.sub(r"[^A-Za-z0-9_.-]+", "_", report.context) or "cluster"
    base = Path(args.reports_dir) / f"ingresscheck-{context}-{stamp}"
    out = {"html": Path(args.html or f"{base}.html"), "json": Path(args.json or f"{base}.json"),
           "junit": Path(args.junit or f"{base}.xml")}
    try:
        reports.write_all(report, html=out["html"], json=out["json"], junit=out["junit"])
    except OSError as exc:
        raise UsageError(f"cannot write report: {exc.filename}: {exc.strerror}") from None
    return out


def _summary(report: Report, paths: dict[str, Path]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    colours = {"pass": "green", "fail": "red", "warn": "yellow", "skip": "dim", "error": "magenta"}
    table = Table(title=f"ingresscheck: {report.context} ({report.server})", show_lines=False)
    table.add_column("status")
    table.add_column("check")
    table.add_column("target")
    table.add_column("message", overflow="fold")
    notable = [r for r in sorted(report.results, key=lambda r: -r.status.rank)
               if r.status not in (Status.PASS, Status.SKIP)]
    for r in notable:
        target = "/".join(x for x in (r.namespace, r.ingress, r.host) if x) or "cluster"
        if console.is_terminal:
            table.add_row(f"[{colours[r.status.value]}]{r.status.value}[/]", r.check, target, r.message)
        else:  # logs and CI: one greppable line per finding, never wrapped
            print(f"{r.status.value:<5} {r.check:<22} {target}: {r.message}")
    if table.row_count:
        console.print(table)
    counts = "  ".join(f"[{colours[k]}]{k} {v}[/]" for k, v in report.summary.items())
    took = (report.finished - report.started).total_seconds()
    console.print(f"{len(report.results)} checks in {took:.1f} s: {counts}")
    for kind, path in paths.items():
        console.print(f"{kind:<5} report: {path}")
