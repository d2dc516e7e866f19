"""`ingresscheck lab up | build | down | status | sync`."""

from __future__ import annotations

import argparse
from typing import Any


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


DATA_PLANES = ("traefik", "envoy-gateway")


def _data_planes(text: str) -> tuple[str, ...]:
    planes = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = [p for p in planes if p not in DATA_PLANES]
    if unknown or not planes:
        raise argparse.ArgumentTypeError(
            f"unknown data plane {unknown[0] if unknown else '(none)'} (known: {', '.join(DATA_PLANES)})"
        )
    return planes


EXTRAS = ("kafka",)


def _extras(text: str) -> tuple[str, ...]:
    extras = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = [p for p in extras if p not in EXTRAS]
    if unknown or not extras:
        raise argparse.ArgumentTypeError(
            f"unknown lab extra {unknown[0] if unknown else '(none)'} (known: {', '.join(EXTRAS)})"
        )
    return extras


def add_lab_arguments(lab: argparse.ArgumentParser, parser_class: Any) -> None:
    lab.add_argument("--lab-dir", default=".lab", help="where the lab keeps its state (default: .lab)")
    lab_sub = lab.add_subparsers(dest="lab_command", required=True, parser_class=parser_class)
    up = lab_sub.add_parser("up", help="start the lab and wait until routes serve")
    up.add_argument(
        "--extra-hosts",
        type=_positive_int,
        default=None,
        metavar="N",
        help="add N generated Ingresses with their own backends (for benchmarks); a running lab with "
        "another N is an error saying so (lab down first)",
    )
    planes_help = (
        "comma-separated: traefik (always), envoy-gateway (a second data plane on 127.0.0.30 serving "
        "the demo as HTTPRoutes, for `ingresscheck compare`; built once, about 12 minutes)"
    )
    up.add_argument("--data-planes", type=_data_planes, default=("traefik",), metavar="LIST", help=planes_help)
    up.add_argument(
        "--with",
        dest="parts",
        action="append",
        choices=("access", "kafka"),
        default=[],
        help="access: add the access-control hosts (external auth with oauth2-proxy and an OIDC issuer, client "
        "certificates, a source allowlist, a rate limit); builds oauth2-proxy once, about 2-5 minutes; "
        "kafka: a 3-broker Apache Kafka 4.x KRaft cluster, each broker behind its own TLSRoute on the lab Gateway "
        "(jars fetched once with mvn, about 1.5 minutes)",
    )
    build_cmd = lab_sub.add_parser("build", help="build etcd and kube-apiserver once (cached by version)")
    build_cmd.add_argument("--data-planes", type=_data_planes, default=("traefik",), metavar="LIST", help=planes_help)
    build_cmd.add_argument(
        "--with",
        dest="parts",
        action="append",
        choices=("access", "kafka"),
        default=[],
        help="access: also build oauth2-proxy and the OIDC issuer (what `lab up --with access` needs); "
        "kafka: fetch the Apache Kafka jars from Maven Central into the cache (what `lab up --with kafka` needs)",
    )
    build_cmd.add_argument(
        "--quiet", action="store_true", help="only what is being built and its progress, not the table of binaries"
    )
    down = lab_sub.add_parser("down", help="stop every lab process (by PID) and remove the cluster state")
    down.add_argument(
        "--only",
        type=_extras,
        default=(),
        metavar="LIST",
        help="stop only these extras (kafka: the brokers, their Gateway, routes and DNS records); the lab stays up",
    )
    lab_sub.add_parser("status", help="show each lab component")
    lab_sub.add_parser("sync", help="re-render the apps.test DNS records from the Ingresses")
    lab.set_defaults(handler=execute_lab)


def execute_lab(args: argparse.Namespace) -> int:
    from .lab import Lab
    from .layout import LabLayout

    lab = Lab(LabLayout.at(args.lab_dir), say=lambda m: print(m, flush=True))
    if args.lab_command == "up":
        lab.up(extra_hosts=args.extra_hosts, data_planes=args.data_planes, parts=tuple(args.parts))
    elif args.lab_command == "build":
        from . import envoy_gateway

        built = lab.build()
        if "envoy-gateway" in args.data_planes:
            built.update(envoy_gateway.build(lab.layout, lab.say))
        if "access" in args.parts:
            from . import access

            built.update(access.ensure_binaries(lab.layout, lab.say))
        if "kafka" in args.parts:
            from . import kafka

            built["kafka-jars"] = kafka.ensure_jars(lab.layout, lab.say)
        for name, path in built.items() if not args.quiet else ():
            print(f"{name:<15} {path}")
    elif args.lab_command == "down" and args.only:
        from . import kafka

        if "kafka" in args.only:
            kafka.stop(lab)
            lab.say("lab: kafka is down")
    elif args.lab_command == "down":
        lab.down()
    elif args.lab_command == "sync":
        lab.sync()
    elif args.lab_command == "status":
        rows = lab.status()
        for row in rows:
            state = "up  " if row.running else "off " if row.optional else "DOWN"
            pid = str(row.pid) if row.pid else "-"
            print(f"{state} {row.name:<22} pid {pid:<8} {row.detail}")
        return 0 if all(r.running or r.optional for r in rows) else 1
    return 0
