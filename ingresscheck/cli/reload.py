"""`ingresscheck reload` (measure reload latency under load) and `ingresscheck cleanup` (remove
canaries a killed run left behind)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..errors import UsageError
from ._terminal import printable

if TYPE_CHECKING:
    from ..probes.reload import ReloadOptions
    from ..session import Session


def add_reload_arguments(p: argparse.ArgumentParser) -> None:
    from ..probes import _options
    from ..probes.reload import ReloadProbe
    from .run import add_arguments

    add_arguments(p, probe_options=False)
    _options.add_arguments(p.add_argument_group("reload"), ReloadProbe, short=True)
    p.set_defaults(handler=execute_reload)


def add_targets_arguments(p: argparse.ArgumentParser) -> None:
    from ..session import add_cli_flags

    add_cli_flags(p)
    p.add_argument("--out", default="reports/load-targets.json", help="where to write (default: %(default)s)")
    p.set_defaults(handler=execute_targets)


def execute_targets(args: argparse.Namespace) -> int:
    """Write the locust targets file from discovery: every rule of every host, auth hosts expecting 401."""
    from ..reload.background import write_targets
    from ..reload.campaign import route_urls
    from ..session import Request, open_session

    session = open_session(Request.from_args(args))
    profile, targets = session.profile, session.inventory.targets
    urls = [(u, (200,)) for u in route_urls(profile, [t for t in targets if not t.auth_type], limit=10_000)]
    urls += [(u, (401,)) for u in route_urls(profile, [t for t in targets if t.auth_type], limit=10_000)]
    if not urls and not args.allow_empty:
        raise UsageError(
            f"nothing matched: no Ingress rule with a plain path and a backend in {session.scope}; "
            "--allow-empty writes an empty targets file"
        )
    path = write_targets(profile, urls, Path(args.out))
    print(f"{len(urls)} targets ({len(targets)} hosts of {session.scope}) written to {path}")
    return 0


def add_cleanup_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig")
    p.add_argument("--context")
    p.add_argument("--profile")
    p.set_defaults(handler=execute_cleanup)


def execute_reload(args: argparse.Namespace) -> int:
    from ..probes import _options
    from ..probes.reload import ReloadOptions, ReloadProbe
    from .run import run_session, session_for

    if not args.allow_mutations:
        raise UsageError("reload creates, changes and deletes canary Ingresses: run it with --allow-mutations")
    # the probe's declared options, named as this command spells them (--rounds), before any connection
    given = _options.given([ReloadProbe], lambda dest: getattr(args, dest, None)).get(ReloadProbe.name, {})
    options = _options.validate(ReloadProbe, given, lambda field: f"--{field.replace('_', '-')}")
    assert isinstance(options, ReloadOptions)
    if (why := ReloadProbe.preflight_options(options)) is not None:
        raise UsageError(why)
    if args.probes not in (None, "reload"):
        raise UsageError("reload runs the reload probe only; use `ingresscheck run --allow-mutations` for all")
    args.probes = "reload"
    session = session_for(args)
    _check_campaigns(session, options)
    try:
        return run_session(session, args)
    finally:
        _print_propagation(session, sys.stderr if args.output == "json" else sys.stdout)


def _check_campaigns(session: Session, options: ReloadOptions) -> None:
    """What the campaign cannot run without (a canary domain that resolves, the right to create, change and
    delete canaries) is one line and exit 2 before anything is created; `run` reports the same as errors."""
    import asyncio

    from ..kube import Resources
    from ..net import Net
    from ..reload.campaign import check_campaign
    from ..reload.canary import CampaignError

    if session.cluster is None:
        return

    async def check(kind: str) -> None:
        net = Net(session.profile)
        try:
            await check_campaign(
                session.profile,
                session.inventory,
                Resources(session.cluster.api),  # type: ignore[union-attr]
                net,
                kind=kind,
                domain=options.domain,
                gateway=options.gateway,
            )
        finally:
            await net.aclose()

    for kind in options.kinds:
        try:
            asyncio.run(check(kind))
        except CampaignError as exc:
            raise UsageError(f"reload: {exc}") from None
        except (LookupError, ValueError):
            continue  # no backend, no domain: the report says so (skipped), as it always did


def _print_propagation(session: Session, out: TextIO) -> None:
    """The figures a reload run is for, on the terminal too (the report has the full table)."""
    section = session.last_report.sections.get("reload") if session.last_report else None
    if not section:
        return

    def ms(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.0f} ms"

    by_kind = section.get("by_kind") or {section.get("kind", "ingress"): section}
    for kind, figures in by_kind.items():
        label = f"{kind} " if len(by_kind) > 1 else ""
        for phase, v in figures.get("propagation", {}).items():
            print(
                f"reload {label}{phase:<6} p50 {ms(v.get('p50'))}  p95 {ms(v.get('p95'))}  max {ms(v.get('max'))}"
                f"  ({v.get('n', 0)} ok, {v.get('failed', 0)} never)",
                file=out,
            )
    load = section.get("load")
    if load:
        print(
            f"background load: {load.get('users')} users, {load.get('requests')} requests, "
            f"{load.get('failures')} failures; stats {load.get('csv')}",
            file=out,
        )


def execute_cleanup(args: argparse.Namespace) -> int:
    import urllib3
    from kubernetes.client.exceptions import ApiException

    from ..kube import Resources, api_error, check_reachable, connect
    from ..reload.canary import LABEL
    from ..session import Request, build_profile

    profile = build_profile(Request(profile=args.profile, kubeconfig=args.kubeconfig, context=args.context))
    cluster = connect(profile.kubeconfig, profile.context)
    check_reachable(cluster)
    res = Resources(cluster.api)
    # the API's refusals (forbidden, unauthorized, timeout) are one classified line, as in `run`
    refused = (ApiException, urllib3.exceptions.HTTPError, OSError)
    try:
        leftovers = res.list("Ingress", label_selector=LABEL)
    except refused as exc:
        raise api_error(exc, cluster.server, "list", "Ingress") from None
    try:
        leftovers += res.list("HTTPRoute", label_selector=LABEL)
    except ApiException as exc:
        if exc.status not in (403, 404):  # 404: the cluster serves no Gateway API; 403: no canary route to find
            raise api_error(exc, cluster.server, "list", "HTTPRoute") from None
    except refused as exc:
        raise api_error(exc, cluster.server, "list", "HTTPRoute") from None
    left: list[str] = []
    first_error = None
    for obj in leftovers:
        meta = obj["metadata"]
        try:
            res.delete(obj)
        except refused as exc:
            first_error = first_error or api_error(exc, cluster.server, "delete", obj["kind"], meta["namespace"])
            left.append(f"{obj['kind']} {meta['namespace']}/{meta['name']}")
            continue
        print(printable(f"removed {obj['kind']} {meta['namespace']}/{meta['name']}"))
    if first_error is not None:
        raise UsageError(
            f"{first_error}; {len(left)} canary object(s) left: {', '.join(left[:5])}"
            + (f" and {len(left) - 5} more" if len(left) > 5 else "")
        )
    print(f"cleanup: {_removed(leftovers)} removed", file=sys.stderr if not leftovers else sys.stdout)
    return 0


def _removed(objects: list[dict[str, Any]]) -> str:
    """'2 canary Ingresses and 1 canary HTTPRoute', each kind by its own name; '0 canary objects'."""
    from collections import Counter

    kinds = Counter(str(o.get("kind", "object")) for o in objects)
    if not kinds:
        return "0 canary objects"
    plural = {"Ingress": "Ingresses"}
    return " and ".join(
        f"{n} canary {kind if n == 1 else plural.get(kind, kind + 's')}" for kind, n in sorted(kinds.items())
    )
