"""`ingresscheck compare`: the same hosts on two data planes (A: in service, B: the candidate), diffed.

Exit 0: no breaking difference; 1: a breaking difference or a host served on A only; 2: bad input."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ..errors import UsageError
from ._terminal import printable

if TYPE_CHECKING:
    from ..compare import ParityReport


def _address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an IP address, got {text!r}") from None


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"expected a port (1-65535), got {text!r}")
    return int(text)


def add_compare_arguments(p: argparse.ArgumentParser) -> None:
    from ..compare import IMPLEMENTATIONS

    for side, what in (("a", "A, the data plane in service"), ("b", "B, the candidate")):
        g = p.add_argument_group(f"side {side.upper()}: {what}")
        g.add_argument(
            f"--{side}",
            type=_address,
            metavar="ADDRESS",
            help="send its requests to this address (default: each host's published address); "
            "only hosts published there are compared",
        )
        g.add_argument(f"--{side}-context", metavar="CONTEXT", help="the kube context its objects live in")
        g.add_argument(f"--{side}-kind", choices=("Ingress", "HTTPRoute"), help="only objects of this kind")
        g.add_argument(
            f"--{side}-implementation",
            choices=IMPLEMENTATIONS,
            help="what serves it, for the annotation table (default: from its objects)",
        )
        g.add_argument(f"--{side}-http-port", type=_port, default=80, metavar="PORT", help="(default 80)")
        g.add_argument(f"--{side}-https-port", type=_port, default=443, metavar="PORT", help="(default 443)")
    p.add_argument("--kubeconfig", help="kubeconfig (default: $KUBECONFIG, ~/.kube/config)")
    p.add_argument("--context", help="the kube context of both sides unless --a-context/--b-context")
    p.add_argument("-n", "--namespace", help="only this namespace's objects")
    p.add_argument("--profile", help="profile YAML: CA bundle, credentials for auth checks, timeout")
    p.add_argument("--ca-bundle", help="CA bundle that certificates must verify against (default: the profile's)")
    p.add_argument("--reports-dir", default="reports", help="where parity.html/json/xml go (default: reports)")
    p.add_argument(
        "--html",
        metavar="PATH",
        help="HTML report path (as run: naming any of --html/--json/--junit writes only those)",
    )
    p.add_argument("--json", metavar="PATH", help="JSON report path (ingresscheck.parity/v1)")
    p.add_argument("--junit", metavar="PATH", help="JUnit XML report path (one test per host)")
    p.add_argument("--format", default=None, help="deprecated: comma-separated html, json, junit under --reports-dir")
    p.add_argument("--no-reports", action="store_true", help="write no report file")
    p.add_argument(
        "--expect",
        metavar="FILE",
        help="known differences (YAML: host or glob, request or aspect, a, b, reason): listed apart, not counted",
    )
    p.set_defaults(handler=execute)


def execute(args: argparse.Namespace) -> int:
    from ..compare import Side, compare, load_expectations, write_reports
    from ..profile import Profile, load

    named = {k: Path(v) for k in ("html", "json", "junit") if (v := getattr(args, k, None))}
    formats: tuple[str, ...] = ("html", "json", "junit")
    if args.format is not None:
        formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
        bad = [f for f in formats if f not in ("html", "json", "junit")]
        if bad or not formats:
            raise UsageError(f"--format: unknown format {bad[0] if bad else '(empty)'} (html, json, junit)")
        if named:
            raise UsageError("give either --html/--json/--junit PATH or the deprecated --format")
        print(
            "ingresscheck compare: --format is deprecated: name the reports with --html/--json/--junit PATH, "
            "as run does (without them every report goes under --reports-dir)",
            file=sys.stderr,
        )
    sides = [
        Side(
            s.upper(),
            getattr(args, s),
            getattr(args, f"{s}_context") or args.context,
            getattr(args, f"{s}_kind"),
            getattr(args, f"{s}_http_port"),
            getattr(args, f"{s}_https_port"),
            getattr(args, f"{s}_implementation"),
        )
        for s in ("a", "b")
    ]
    a, b = sides
    if (a.address, a.context, a.kind, a.https_port) == (b.address, b.context, b.kind, b.https_port):
        raise UsageError(
            "both sides are the same: give two addresses (--a/--b), two contexts "
            "(--a-context/--b-context) or two kinds (--a-kind Ingress --b-kind HTTPRoute)"
        )
    profile = load(args.profile) if args.profile else Profile()
    if args.ca_bundle:
        if not Path(args.ca_bundle).is_file():
            raise UsageError(f"--ca-bundle {args.ca_bundle} does not exist")
        profile = profile.with_overrides(ca_bundle=args.ca_bundle)
    expectations = load_expectations(args.expect) if args.expect else ()  # a bad file: exit 2 before any traffic
    report = compare(a, b, profile, kubeconfig=args.kubeconfig, namespace=args.namespace, expectations=expectations)
    if not report.hosts and not report.only_a:
        raise UsageError(
            "no host to compare: no object is published on side A "
            f"({a.address or 'any address'}{', ' + a.kind if a.kind else ''})"
        )
    if args.no_reports:
        paths: list[Path] = []
    elif named:
        paths = _write_named(report, named)
    else:
        paths = write_reports(report, args.reports_dir, formats)
    print_summary(report, paths, sys.stdout)
    return exit_code(report)


def _write_named(report: ParityReport, named: dict[str, Path]) -> list[Path]:
    """The reports named on the command line, each at its path (run's vocabulary)."""
    from ..compare._report import write_html, write_json, write_junit

    writers = {"html": write_html, "json": write_json, "junit": write_junit}
    for kind, path in named.items():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            writers[kind](report, path)
        except OSError as exc:
            raise UsageError(f"cannot write report: {exc.filename}: {exc.strerror}") from None
    return list(named.values())


def exit_code(report: ParityReport) -> int:
    """1 on any breaking difference, a host served on A only included; 0 otherwise."""
    return 1 if report.breaking else 0


def print_summary(report: ParityReport, paths: list[Path], out: TextIO) -> None:
    """The terminal's account: one line of counts (the same the JSON summary and the HTML show), then each
    difference that is not cosmetic."""
    from ..compare import BREAKING, CHANGED, COSMETIC

    a, b = report.a, report.b
    expected = [(h.host, d) for h in report.ordered_hosts() for d in h.expected]
    print(
        f"parity {a.address or a.context or a.kind} ({report.a_implementation}) -> "
        f"{b.address or b.context or b.kind} ({report.b_implementation}): {len(report.hosts)} hosts, "
        f"{report.count(BREAKING)} breaking, {report.count(CHANGED)} changed, "
        f"{report.count(COSMETIC)} cosmetic" + (f", {len(expected)} expected" if expected else ""),
        file=out,
    )
    for host in report.only_a:
        print(f"  BREAKING {printable(host)}: served on A only", file=out)
    for host in report.only_b:
        print(f"  note     {printable(host)}: served on B only", file=out)
    for h in report.ordered_hosts():
        for d in h.differences:
            if d.severity is not COSMETIC:
                print(
                    printable(
                        f"  {d.klass.upper():<8} {h.host}: {d.request.describe()} {d.aspect}: "
                        f"A {d.a} / B {d.b} ({d.explanation})"
                    ),
                    file=out,
                )
    for host, d in expected:
        line = f"  expected {host}: {d.request.describe()} {d.aspect}: A {d.a} / B {d.b} ({d.expected})"
        print(printable(line), file=out)
    for x in report.stale:
        print(
            printable(f"  warning: stale expectation{f' (line {x.line})' if x.line else ''}: {x.describe()}"), file=out
        )
    if report.support:
        print(
            f"  {len(report.support)} annotation(s) B implements differently or not at all (see the report)", file=out
        )
    for path in paths:
        print(f"report: {path}", file=out)
