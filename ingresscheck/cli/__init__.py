"""ingresscheck: is traffic really getting into the cluster? Walks DNS, the load balancer's redirect,
TLS, Host routing and auth for every Ingress host, and measures reload latency.

Every error is one line on stderr and a non-zero exit (2: usage or configuration)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from ..errors import IngresscheckError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints the whole usage; one line is what the user needs.
        self.exit(2, f"ingresscheck: {message} (see --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ingresscheck", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="check every Ingress host's request chain and write reports")
    from .run import add_arguments

    add_arguments(run)

    from .reload import add_cleanup_arguments, add_reload_arguments, add_targets_arguments

    reload = sub.add_parser("reload", help="measure how fast Ingress changes reach the data plane, under load")
    add_reload_arguments(reload)
    cleanup = sub.add_parser("cleanup", help="remove canary Ingresses left by a killed reload run")
    add_cleanup_arguments(cleanup)
    targets = sub.add_parser("load-targets", help="write the locust targets file (loadtests/) from discovery")
    add_targets_arguments(targets)

    lab = sub.add_parser("lab", help="run the local lab: etcd, kube-apiserver, Traefik, HAProxy, dnsmasq, echo pods")
    lab.add_argument("--lab-dir", default=".lab", help="where the lab keeps its state (default: .lab)")
    lab_sub = lab.add_subparsers(dest="lab_command", required=True, parser_class=_Parser)
    up = lab_sub.add_parser("up", help="start the lab and wait until routes serve")
    up.add_argument("--extra-hosts", type=_positive_int, default=0, metavar="N",
                    help="add N generated Ingresses with their own backends (for benchmarks)")
    lab_sub.add_parser("build", help="build etcd and kube-apiserver once (cached by version)")
    lab_sub.add_parser("down", help="stop every lab process (by PID) and remove the cluster state")
    lab_sub.add_parser("status", help="show each lab component")
    lab_sub.add_parser("sync", help="re-render the apps.test DNS records from the Ingresses")
    return parser


def _lab(args: argparse.Namespace) -> int:
    from ..lab.lab import Lab
    from ..lab.layout import LabLayout

    lab = Lab(LabLayout.at(args.lab_dir), say=lambda m: print(m, flush=True))
    if args.lab_command == "up":
        lab.up(extra_hosts=args.extra_hosts)
    elif args.lab_command == "build":
        for name, path in lab.build().items():
            print(f"{name:<15} {path}")
    elif args.lab_command == "down":
        lab.down()
    elif args.lab_command == "sync":
        lab.sync()
    elif args.lab_command == "status":
        rows = lab.status()
        for row in rows:
            state = "up  " if row.running else "DOWN"
            pid = str(row.pid) if row.pid else "-"
            print(f"{state} {row.name:<22} pid {pid:<8} {row.detail}")
        return 0 if all(r.running for r in rows) else 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "lab":
            return _lab(args)
        if args.command == "run":
            from .run import execute

            return execute(args)
        if args.command == "reload":
            from .reload import execute_reload

            return execute_reload(args)
        if args.command == "load-targets":
            from .reload import execute_targets

            return execute_targets(args)
        if args.command == "cleanup":
            from .reload import execute_cleanup

            return execute_cleanup(args)
    except IngresscheckError as exc:
        print(f"ingresscheck: {exc}", file=sys.stderr)
        return exc.exit_code
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("ingresscheck: interrupted; objects it created were removed", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
