"""Probes: one module per probe, one contract for all (see ``_contract``).

Built-in probes are listed explicitly in ``_builtin`` (one line each), so a plain checkout works
without installed entry points. Third-party packages add probes through the ``ingresscheck.probes``
entry-point group; a plugin that cannot be loaded is reported as that plugin's error while every
other probe runs (``load_probes().broken``).

Writing a probe needs only this module and ``ingresscheck.results``::

    from ingresscheck.probes import CheckSpec, Probe, ProbeContext, Severity, Step
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points

from ..results import Severity, Status, Step
from ._contract import CheckSpec, Probe, ProbeContext, ProbeOptions, Scope

ENTRY_POINT_GROUP = "ingresscheck.probes"


def _builtin() -> tuple[type[Probe], ...]:
    """The built-in probes, in the order of the request chain (dependencies decide the run order).
    Adding a probe: its module, and one line here."""
    from .affinity import AffinityProbe
    from .auth import AuthProbe
    from .auth_config import AuthConfigProbe
    from .canary import CanaryProbe
    from .canary_annotations import CanaryAnnotationsProbe
    from .client_cert import ClientCertProbe
    from .cors import CorsProbe
    from .dns import DnsProbe
    from .exposure import ExposureProbe
    from .external_auth import ExternalAuthProbe
    from .family import FamilyProbe
    from .forwarded_proto import ForwardedProtoProbe
    from .gateway import GatewayProbe
    from .grpc import GrpcProbe
    from .hosts import HostsProbe
    from .hsts import HstsProbe
    from .http import HttpProbe
    from .httproute import HttpRouteProbe
    from .identity_headers import IdentityHeadersProbe
    from .kafka import KafkaProbe
    from .kafka_roundtrip import KafkaRoundtripProbe
    from .ownership import OwnershipProbe
    from .passthrough import PassthroughProbe
    from .rate_limit import RateLimitProbe
    from .redirect import RedirectProbe
    from .redirect_annotations import RedirectAnnotationsProbe
    from .reload import ReloadProbe
    from .rewrite import RewriteProbe
    from .routing import RoutingProbe
    from .sni import SniProbe
    from .snippets import SnippetsProbe
    from .source_range import SourceRangeProbe
    from .static import StaticProbe
    from .tcp import TcpProbe
    from .tls import TlsProbe
    from .websocket import WebSocketProbe

    return (
        DnsProbe,
        FamilyProbe,
        RedirectProbe,
        ForwardedProtoProbe,
        TlsProbe,
        SniProbe,
        HttpProbe,
        HstsProbe,
        RoutingProbe,
        GrpcProbe,
        WebSocketProbe,
        AuthProbe,
        IdentityHeadersProbe,
        ExternalAuthProbe,
        ClientCertProbe,
        SourceRangeProbe,
        RateLimitProbe,
        AuthConfigProbe,
        StaticProbe,
        ExposureProbe,
        GatewayProbe,
        HttpRouteProbe,
        CanaryProbe,
        # traffic annotations (issue 22)
        CorsProbe,
        CanaryAnnotationsProbe,
        AffinityProbe,
        RedirectAnnotationsProbe,
        RewriteProbe,
        SnippetsProbe,
        OwnershipProbe,
        ReloadProbe,
        HostsProbe,
        # TCP services from outside, broker by broker (issue 25)
        TcpProbe,
        PassthroughProbe,
        KafkaProbe,
        KafkaRoundtripProbe,
    )


@dataclass(frozen=True)
class BrokenPlugin:
    """A third-party probe entry point that could not be loaded, and why (one line)."""

    name: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"probe plugin {self.name!r} ({self.value}) cannot be loaded: {self.reason}"


@dataclass(frozen=True)
class Probes:
    """Every probe that can run (name -> class, chain order first) and the plugins that cannot load."""

    available: dict[str, type[Probe]]
    broken: tuple[BrokenPlugin, ...] = field(default=())

    def check_ids(self) -> dict[str, str]:
        """check ID -> the probe declaring it."""
        return {c.id: p.name for p in self.available.values() for c in p.checks}


def load_probes() -> Probes:
    """The built-in probes, then every ``ingresscheck.probes`` entry point that is not one of them."""
    found: dict[str, type[Probe]] = {p.name: p for p in _builtin()}
    builtin_paths = {f"{p.__module__}:{p.__qualname__}" for p in found.values()}
    broken: list[BrokenPlugin] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.value in builtin_paths:
            continue  # the package's own entry points, when it is pip-installed
        try:
            cls = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not hide the others
            first = (str(exc).splitlines() or [""])[0]
            broken.append(BrokenPlugin(ep.name, ep.value, f"{type(exc).__name__}: {first}".rstrip(": ")))
            continue
        if not (isinstance(cls, type) and issubclass(cls, Probe)):
            broken.append(BrokenPlugin(ep.name, ep.value, "not an ingresscheck Probe class"))
        elif getattr(cls, "name", None) != ep.name:
            broken.append(BrokenPlugin(ep.name, ep.value, f"declares name {getattr(cls, 'name', None)!r}"))
        elif ep.name in found:
            broken.append(
                BrokenPlugin(ep.name, ep.value, f"name {ep.name!r} is already taken by {found[ep.name].__module__}")
            )
        else:
            found[ep.name] = cls
    return Probes(found, tuple(broken))


def registry() -> dict[str, type[Probe]]:
    """name -> probe class: the built-in probes and every third-party probe that loads."""
    return load_probes().available


__all__ = [
    "BrokenPlugin",
    "CheckSpec",
    "ENTRY_POINT_GROUP",
    "Probe",
    "ProbeContext",
    "ProbeOptions",
    "Probes",
    "Scope",
    "Severity",
    "Status",
    "Step",
    "load_probes",
    "registry",
]
