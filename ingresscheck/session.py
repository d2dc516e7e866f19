"""The one way in: `ingresscheck run`, `reload`, `load-targets` and the pytest plugin all open a
``Session`` here, from the same flags with the same meaning.

    Request (what the user asked: flags, or pytest options)
      └── open_session() ──▶ Session: profile with the flags' overrides, the probes to run
                                      (built-ins and third-party, broken plugins listed), the
                                      cluster connection (like kubectl: --kubeconfig, $KUBECONFIG,
                                      ~/.kube/config, in-cluster) and the discovered inventory

A scope that matches nothing (no Ingress in the namespace, a selector matching nothing) is an error
naming the scope and the context, not a run that checks nothing, unless ``allow_empty``; the same
for a run whose every check was skipped (``Session.nothing_checked``).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import UsageError
from .probes import BrokenPlugin, Probe, ProbeOptions, Probes, load_probes
from .profile import Profile, Resolve, load, parse_address, parse_dns_server, parse_timeout
from .results import Report, Result, Severity, Status, Step

if TYPE_CHECKING:
    from .discovery import Inventory, Target
    from .kube import Cluster


# --- the flags, declared once for argparse and pytest ---------------------------------------------
@dataclass(frozen=True)
class Flag:
    dest: str
    cli: tuple[str, ...]  # names on the ingresscheck command line
    pytest: str | None  # the name under pytest (None: not there), where pytest's own names differ
    help: str
    group: str  # cluster | environment | probes
    kind: str = "str"  # str | list | bool | float
    metavar: str | None = None


FLAGS: tuple[Flag, ...] = (
    Flag(
        "kubeconfig",
        ("--kubeconfig",),
        "--kubeconfig",
        "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)",
        "cluster",
    ),
    Flag("context", ("--context",), "--kube-context", "kubeconfig context (default: the current one)", "cluster"),
    Flag("namespace", ("-n", "--namespace"), "--ingress-namespace", "only Ingresses of this namespace", "cluster"),
    Flag(
        "selector", ("-l", "--selector"), "--ingress-selector", "label selector for Ingresses, e.g. app=shop", "cluster"
    ),
    Flag(
        "manifests",
        ("--manifests",),
        "--manifests",
        "check manifests offline instead of a cluster",
        "cluster",
        metavar="DIR",
    ),
    Flag(
        "allow_empty",
        ("--allow-empty",),
        "--allow-empty",
        "accept a scope that matches nothing, or a run whose every check was skipped (else exit 2)",
        "cluster",
        kind="bool",
    ),
    Flag(
        "profile",
        ("--profile",),
        "--profile",
        "profile YAML: DNS servers, LB addresses, CA bundle, credentials...",
        "environment",
    ),
    Flag(
        "dns_server",
        ("--dns-server",),
        "--dns-server",
        "resolver to use (repeatable)",
        "environment",
        kind="list",
        metavar="ADDR[:PORT]",
    ),
    Flag(
        "lb",
        ("--lb",),
        "--lb",
        "expected load-balancer address (repeatable)",
        "environment",
        kind="list",
        metavar="ADDR",
    ),
    Flag(
        "ca_bundle",
        ("--ca-bundle",),
        "--ca-bundle",
        "CA bundle for TLS verification (default: system store)",
        "environment",
    ),
    Flag(
        "resolve",
        ("--resolve",),
        "--resolve",
        "connect to ADDR for HOST:PORT instead of asking DNS, like curl --resolve; ADDR1,ADDR2 for several "
        "(repeatable)",
        "environment",
        kind="list",
        metavar="HOST:PORT:ADDR",
    ),
    Flag(
        "header",
        ("-H", "--header"),
        "--ingresscheck-header",
        "extra request header sent with every request, like curl -H (repeatable; not Host)",
        "environment",
        kind="list",
        metavar="'NAME: VALUE'",
    ),
    Flag(
        "family",
        ("--family",),
        "--ingresscheck-family",
        "dial only this address family's addresses (4 or 6; default: every A and AAAA answer)",
        "environment",
        metavar="4|6",
    ),
    Flag(
        "timeout",
        ("--timeout",),
        "--ingresscheck-timeout",
        "seconds for one network operation (default 5)",
        "environment",
        kind="float",
    ),
    Flag(
        "use_auth_secrets",
        ("--use-auth-secrets",),
        "--use-auth-secrets",
        "allow reading basic-auth credentials from the cluster's Secrets",
        "environment",
        kind="bool",
    ),
    Flag(
        "allow_mutations",
        ("--allow-mutations",),
        "--allow-mutations",
        "allow probes that change the cluster (reload)",
        "environment",
        kind="bool",
    ),
    Flag("probes", ("--probes",), "--probes", "comma-separated probes to run (default: all)", "probes"),
    Flag(
        "skip",
        ("--skip",),
        "--skip",
        "comma-separated probes or check IDs to leave out (e.g. tls,dns.wildcard)",
        "probes",
    ),
)

_GROUPS = {"cluster": "cluster (like kubectl)", "environment": "environment", "probes": "probes"}


def add_cli_flags(parser: argparse.ArgumentParser) -> None:
    groups = {key: parser.add_argument_group(title) for key, title in _GROUPS.items()}
    for f in FLAGS:
        kw: dict[str, Any] = {"dest": f.dest, "help": f.help}
        if f.kind == "bool":
            kw["action"] = "store_true"
        elif f.kind == "list":
            kw.update(action="append", metavar=f.metavar)
        else:
            kw.update(metavar=f.metavar, type=float if f.kind == "float" else str)
        groups[f.group].add_argument(*f.cli, **kw)


def add_pytest_flags(group: Any) -> None:
    """The same flags in pytest's option group ``ingresscheck`` (dest ``ic_<name>``)."""
    for f in FLAGS:
        if f.pytest is None:
            continue
        kw: dict[str, Any] = {"dest": f"ic_{f.dest}", "help": f.help}
        if f.kind == "bool":
            kw["action"] = "store_true"
        elif f.kind == "list":
            kw.update(action="append", metavar=f.metavar)
        else:
            kw.update(metavar=f.metavar, type=float if f.kind == "float" else str)
        group.addoption(f.pytest, **kw)


# --- what the user asked ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    profile: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    selector: str | None = None
    manifests: str | None = None
    allow_empty: bool = False
    dns_server: tuple[str, ...] = ()
    lb: tuple[str, ...] = ()
    ca_bundle: str | None = None
    resolve: tuple[str, ...] = ()
    header: tuple[str, ...] = ()
    family: str | None = None
    timeout: float | None = None
    use_auth_secrets: bool = False
    allow_mutations: bool = False
    probes: str | None = None
    skip: str | None = None
    # probe name -> {field: value} of the probe options given as flags (--reload-rounds...); the rest
    # come from the profile and the probe's declared defaults (probes._options)
    probe_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_flags(cls, get: Callable[[str], Any]) -> Request:
        """From parsed flags: ``get(dest)`` is ``getattr(args, dest)`` or pytest's option lookup."""
        from .probes import _options

        values: dict[str, Any] = {}
        for f in FLAGS:
            v = get(f.dest)
            if f.kind == "list":
                v = tuple(v or ())
            elif f.kind == "bool":
                v = bool(v)
            values[f.dest] = v
        return cls(**values, probe_options=_options.given(load_probes().available.values(), get))

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Request:
        return cls.from_flags(lambda dest: getattr(args, dest, None))

    @property
    def probe_names(self) -> list[str] | None:
        return _names(self.probes, "--probes")

    @property
    def skip_names(self) -> list[str]:
        return _names(self.skip, "--skip") or []


def _names(text: str | None, flag: str) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:  # `--probes ,` must not silently mean "every probe"
        raise UsageError(f"{flag} {text!r} names nothing")
    return names


# --- the session --------------------------------------------------------------------------------------
@dataclass
class Session:
    request: Request
    profile: Profile
    inventory: Inventory
    probes: list[type[Probe]]  # to run, each after the probes it needs
    found: Probes  # every installed probe, and the plugins that could not load
    skip_checks: frozenset[str] = frozenset()
    cluster: Cluster | None = None
    reports_dir: Path = Path("reports")  # where probes write files of their own (reload's load statistics)
    last_report: Report | None = None

    @property
    def scope(self) -> str:
        """What was looked at, in words: 'namespace shop, selector app=web, context lab (https://...)'."""
        r = self.request
        parts = [f"namespace {r.namespace}" if r.namespace else "every namespace"]
        if r.selector:
            parts.append(f"selector {r.selector}")
        if r.manifests:
            parts.append(f"manifests {r.manifests}")
        else:
            parts.append(f"context {self.inventory.context} ({self.inventory.server})")
        return ", ".join(parts)

    @property
    def broken(self) -> tuple[BrokenPlugin, ...]:
        return self.found.broken

    def probe_options(self, probe: type[Probe]) -> ProbeOptions:
        """The probe's validated options: its flags, over its declared defaults."""
        from .probes import _options

        return _options.resolve(probe, None, self.request.probe_options.get(probe.name))

    def options(self, concurrency: int = 32) -> Any:
        from . import runner

        proxy = None
        if self.cluster is not None:  # the Service's own answer, for backends that do not say who they are
            from functools import partial

            from .kube import service_proxy_get

            proxy = partial(service_proxy_get, self.cluster)
        return runner.RunOptions(
            concurrency=concurrency,
            allow_mutations=self.request.allow_mutations,
            use_auth_secrets=self.request.use_auth_secrets,
            probe_options={p.name: self.probe_options(p) for p in self.probes},
            service_proxy=proxy,
            reports_dir=self.reports_dir,
        )

    def run(
        self,
        *,
        concurrency: int = 32,
        on_target_done: Callable[[str, list[Result]], None] | None = None,
        probes: list[type[Probe]] | None = None,
        targets: list[Target] | None = None,
        plugin_errors: bool = True,
    ) -> Report:
        """Run the probes (default: the session's) over ``targets`` (default: every one) and the
        cluster-wide probes once; checks left out by --skip become ``skip`` results saying so, and each
        plugin that could not load is one ``error`` result."""
        from . import runner

        report = runner.run(
            self.probes if probes is None else probes,
            self.profile,
            self.inventory,
            self.options(concurrency),
            on_target_done=on_target_done,
            targets=targets,
        )
        results = [self.left_out(r) for r in report.results]
        if plugin_errors:
            results += [plugin_error(b) for b in self.broken]
        self.last_report = replace(report, results=results)
        return self.last_report

    def left_out(self, r: Result) -> Result:
        if r.check not in self.skip_checks:
            return r
        return replace(
            r,
            status=Status.SKIP,
            remediation="",
            evidence={},
            message=f"left out by --skip {r.check} (it said: {r.status.value}: {r.message})",
        )

    def nothing_checked(self, report: Report) -> str | None:
        """Why ``report`` checked nothing (every result skipped), or None. Not a pass: exit 2."""
        if self.request.allow_empty or any(r.status is not Status.SKIP for r in report.results):
            return None
        if not report.results:
            return f"nothing was checked in {self.scope}: no probe reported a result"
        reasons = sorted({r.message for r in report.results})
        return (
            f"nothing was checked in {self.scope}: all {len(report.results)} checks were skipped "
            f"({reasons[0]}{'; ...' if len(reasons) > 1 else ''}); --allow-empty accepts this"
        )


def plugin_error(b: BrokenPlugin) -> Result:
    return Result(
        probe=b.name,
        check=f"{b.name}.plugin",
        status=Status.ERROR,
        severity=Severity.MAJOR,
        message=str(b),
        step=Step.INGRESS,
        remediation="Reinstall or fix the plugin package; the other probes ran without it.",
    )


def build_profile(req: Request) -> Profile:
    """The profile file (if any) with the flags' overrides; flags win over every field."""
    profile = load(req.profile) if req.profile else Profile()
    thresholds = profile.thresholds
    if req.timeout is not None:
        thresholds = replace(thresholds, timeout=parse_timeout(req.timeout, "--timeout"))
    dns = tuple(parse_dns_server(s, "--dns-server") for s in req.dns_server) if req.dns_server else None
    lbs = tuple(parse_address(a, "--lb") for a in req.lb) if req.lb else None
    # flags first: the first matching entry wins, as in curl
    resolve = tuple(Resolve.parse(r) for r in req.resolve) + profile.resolve if req.resolve else None
    if req.ca_bundle and not Path(req.ca_bundle).is_file():
        raise UsageError(f"--ca-bundle {req.ca_bundle} does not exist")
    check_proxy_environment()
    headers = tuple(parse_header(h) for h in req.header) if req.header else None
    protocols = profile.protocols
    if req.family is not None:
        if req.family.strip() not in ("4", "6"):
            raise UsageError(f"--family {req.family!r}: expected 4 (IPv4) or 6 (IPv6)")
        protocols = replace(protocols, family=int(req.family.strip()))
    return profile.with_overrides(
        headers=headers,
        kubeconfig=req.kubeconfig,
        context=req.context,
        dns_servers=dns,
        load_balancers=lbs,
        ca_bundle=req.ca_bundle,
        resolve=resolve,
        thresholds=thresholds,
        protocols=protocols,
    )


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# what the checks themselves decide (the host routed to, the framing, the connection's fate)
_RESERVED = {"host", "content-length", "transfer-encoding", "connection", "expect", "upgrade"}


def parse_header(text: str) -> tuple[str, str]:
    """``-H 'Name: value'`` as curl takes it; a bad one is a usage error naming it."""
    name, sep, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not _TOKEN.fullmatch(name) or any(c in value for c in "\r\n\0"):
        raise UsageError(f"-H {text!r}: expected 'Name: value' (a header name, a colon, a value on one line)")
    if name.lower() in _RESERVED:
        raise UsageError(f"-H {name}: the checks set {name} themselves (use --resolve to choose the address)")
    from .known_secrets import register
    from .reports._redact import is_sensitive_key

    if is_sensitive_key(name):
        register(value)  # an Authorization or API key header is masked wherever it would appear
    return name, value


def check_proxy_environment() -> None:
    """HTTPS_PROXY / HTTP_PROXY as the network layer will read them: a value it cannot use is exit 2."""
    import urllib.request

    from .net._net import proxy_from_url

    for scheme, url in urllib.request.getproxies_environment().items():
        if scheme in ("https", "http"):
            try:
                proxy_from_url(url)
            except ValueError as exc:
                raise UsageError(f"{scheme.upper()}_PROXY: {exc}") from None


def select_probes(found: Probes, only: list[str] | None, skip: Iterable[str]) -> tuple[list[type[Probe]], set[str]]:
    """The probes to run, in dependency order, and the check IDs --skip leaves out."""
    from . import runner

    checks = found.check_ids()
    broken = {b.name: b for b in found.broken}
    skip_probes, skip_checks = [], set()
    for name in [*(only or []), *skip]:
        if name in broken:
            raise UsageError(str(broken[name]))
    for name in skip:
        if name in found.available:
            skip_probes.append(name)
        elif name in checks:
            skip_checks.add(name)
        else:
            raise UsageError(
                f"--skip {name!r} is neither a probe ({', '.join(found.available)}) nor a check ID (see README, Checks)"
            )
    return runner.plan(found.available, only, skip_probes), skip_checks


def open_session(
    req: Request,
    *,
    reports_dir: str | Path = "reports",
    network_only_online: bool = True,
    inventory: Inventory | None = None,
) -> Session:
    """Profile + flags, probes, cluster connection and discovery: everything a run needs, or one
    ``UsageError`` line (exit 2) saying what is wrong. ``inventory``: a discovery made elsewhere (the
    pytest-xdist controller's), used instead of discovering again."""
    found = load_probes()
    probes, skip_checks = select_probes(found, req.probe_names, req.skip_names)
    profile = build_profile(req)
    cluster = None
    if inventory is not None:
        if req.manifests and network_only_online and req.probes is None:
            probes = [p for p in probes if not p.network]
    elif req.manifests:
        from .discovery.manifests import discover as from_manifests

        if req.selector:
            raise UsageError("-l/--selector applies to a cluster; --manifests reads every object of the folder")
        inventory = from_manifests(req.manifests, req.namespace)
        if network_only_online and req.probes is None:
            # offline, before deploying: the hosts are not live yet, so only probes without traffic apply
            probes = [p for p in probes if not p.network]
    else:
        from .discovery.kube import discover
        from .kube import check_reachable, connect

        cluster = connect(profile.kubeconfig, profile.context)
        check_reachable(cluster)
        inventory = discover(cluster, req.namespace, req.selector, read_credentials=req.use_auth_secrets)
    session = Session(req, profile, inventory, probes, found, frozenset(skip_checks), cluster, Path(reports_dir))
    if not inventory.targets and not inventory.ingresses and not req.allow_empty:
        raise UsageError(
            f"nothing matched: no Ingress in {session.scope}; check -n/-l/--context, "
            "or give --allow-empty to accept an empty scope"
        )
    preflight(session)
    return session


def preflight(session: Session) -> None:
    """Configuration a selected probe cannot run without is an error now, not a skip in the report; a bad
    probe option is one too, for every probe given options (selected or not)."""
    for probe in session.found.available.values():
        session.probe_options(probe)
    for probe in session.probes:
        if probe.mutates and not session.request.allow_mutations:
            continue
        why = probe.preflight(session.profile, session.probe_options(probe))
        if why:
            raise UsageError(f"{probe.name}: {why}")
