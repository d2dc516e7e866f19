"""ingresscheck: is traffic really getting into the cluster? Walks DNS, the load balancer's redirect,
TLS, Host routing and auth for every Ingress host, and measures reload latency.

Every error is one line on stderr and a non-zero exit (2: usage or configuration)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from ..errors import IngresscheckError, UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints the whole usage; one line is what the user needs.
        self.exit(2, f"ingresscheck: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from .compare import add_compare_arguments
    from .diff import add_diff_arguments
    from .reload import add_cleanup_arguments, add_reload_arguments, add_targets_arguments
    from .run import add_run_arguments

    parser = _Parser(prog="ingresscheck", description=__doc__)
    parser.add_argument("--version", action="version", version=f"ingresscheck {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    add_run_arguments(sub.add_parser("run", help="check every Ingress host's request chain and write reports"))
    add_reload_arguments(
        sub.add_parser("reload", help="measure how fast Ingress changes reach the data plane, under load")
    )
    add_cleanup_arguments(sub.add_parser("cleanup", help="remove canary Ingresses left by a killed reload run"))
    add_targets_arguments(
        sub.add_parser("load-targets", help="write the locust targets file (loadtests/) from discovery")
    )
    add_compare_arguments(
        sub.add_parser(
            "compare",
            help="the same hosts on two data planes (before a migration): behaviour diffed, differences classified",
        )
    )
    add_diff_arguments(
        sub.add_parser("diff", help="what changed between two runs' JSON reports (exit 1 on a new failure)")
    )
    lab_help = "run the local lab: etcd, kube-apiserver, Traefik, HAProxy, dnsmasq, echo pods"
    _add_lab(sub.add_parser("lab", help=lab_help))
    return parser


LAB_MISSING = (
    "the lab is not part of the ingresscheck package; in a checkout, scripts/setup installs it "
    "(pip install -e ./ingresscheck_lab)"
)


def _add_lab(lab: argparse.ArgumentParser) -> None:
    # The lab is a test harness in its own distribution (ingresscheck_lab/): present in a checkout
    # after scripts/setup, absent from an installed wheel.
    try:
        from ingresscheck_lab.cli import add_lab_arguments
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "ingresscheck_lab":
            raise  # the lab is there but something it needs is not: that is its own error
        lab.add_argument("lab_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        lab.set_defaults(handler=_lab_missing)
        return
    add_lab_arguments(lab, _Parser)


def _lab_missing(args: argparse.Namespace) -> int:
    raise UsageError(LAB_MISSING)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ingresscheck")
    except PackageNotFoundError:  # a plain checkout
        from .. import __version__

        return __version__


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
        return code
    except IngresscheckError as exc:
        from ._terminal import printable

        print(f"ingresscheck: {printable(exc)}", file=sys.stderr)
        return exc.exit_code
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("ingresscheck: interrupted; objects it created were removed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
