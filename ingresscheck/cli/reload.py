"""`ingresscheck reload` (measure reload latency under load) and `ingresscheck cleanup` (remove
canaries a killed run left behind)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import UsageError


def add_reload_arguments(p: argparse.ArgumentParser) -> None:
    from .run import add_arguments

    add_arguments(p)
    g = p.add_argument_group("reload")
    g.add_argument("--rounds", type=int, default=10, help="canary create/update/delete rounds (default 10)")
    g.add_argument("--rate", type=float, default=100.0, help="open-loop requests/s to existing routes (default 100)")
    g.add_argument("--domain", help="domain for canary hosts (default: the profile's reload.domain)")
    g.add_argument("--under-load", type=int, default=0, metavar="USERS",
                   help="also run a locust background load with USERS users during the rounds")
    p.set_defaults(handler=execute_reload)


def add_targets_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig")
    p.add_argument("--context")
    p.add_argument("--profile")
    p.add_argument("-n", "--namespace")
    p.add_argument("--out", default="reports/load-targets.json", help="where to write (default: %(default)s)")
    p.set_defaults(handler=execute_targets)


def execute_targets(args: argparse.Namespace) -> int:
    """Write the locust targets file from discovery: every rule of every host, auth hosts expecting 401."""
    from ..discovery.kube import discover
    from ..kube import check_reachable, connect
    from ..profile import Profile, load
    from ..reload.background import write_targets
    from ..reload.campaign import route_urls

    profile = load(args.profile) if args.profile else Profile()
    cluster = connect(args.kubeconfig or profile.kubeconfig, args.context or profile.context)
    check_reachable(cluster)
    targets = discover(cluster, args.namespace).targets
    urls = [(u, (200,)) for u in route_urls(profile, [t for t in targets if not t.auth_type], limit=10_000)]
    urls += [(u, (401,)) for u in route_urls(profile, [t for t in targets if t.auth_type], limit=10_000)]
    path = write_targets(profile, urls, Path(args.out))
    print(f"{len(urls)} targets written to {path}")
    return 0


def add_cleanup_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig")
    p.add_argument("--context")
    p.add_argument("--profile")
    p.set_defaults(handler=execute_cleanup)


def execute_reload(args: argparse.Namespace) -> int:
    from .run import execute

    if not args.allow_mutations:
        raise UsageError("reload creates, changes and deletes canary Ingresses: run it with --allow-mutations")
    if args.rounds < 1 or args.rounds > 1000:
        raise UsageError("--rounds must be between 1 and 1000")
    if not 0 < args.rate <= 2000:
        raise UsageError("--rate must be more than 0 and at most 2000 requests/s")
    args.probes = "reload"
    args.skip = None
    args.extra_options = {"reload_rounds": args.rounds, "reload_rate": args.rate, "reload_domain": args.domain,
                          "reload_under_load": args.under_load}
    return execute(args)


def execute_cleanup(args: argparse.Namespace) -> int:
    from ..kube import Resources, check_reachable, connect
    from ..profile import Profile, load
    from ..reload.canary import LABEL

    profile = load(args.profile) if args.profile else Profile()
    cluster = connect(args.kubeconfig or profile.kubeconfig, args.context or profile.context)
    check_reachable(cluster)
    res = Resources(cluster.api)
    leftovers = res.list("Ingress", label_selector=LABEL)
    for obj in leftovers:
        res.delete(obj)
        print(f"removed Ingress {obj['metadata']['namespace']}/{obj['metadata']['name']}")
    print(f"cleanup: {len(leftovers)} canary Ingress(es) removed", file=sys.stderr if not leftovers else sys.stdout)
    return 0
