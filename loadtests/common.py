"""Shared by the locustfiles: the targets file, the ramp stages and caps from the environment, and
per-target FastHttpSessions that dial an address with the target's Host header and TLS SNI.

Nothing here imports locust or gevent at import time (``import locust`` monkey-patches the standard
library); the session factory imports them when called, inside a locust process.

Targets file (``INGRESSCHECK_TARGETS`` or ``--ingresscheck-targets``, default ``reports/load-targets.json``)::

    {
      "ca_bundle": "/path/to/ingress-ca.crt",           # null: the system store
      "targets": [
        {"url": "https://api.example.test/v1/x", "address": "127.0.0.10", "sni": "api.example.test"},
        {"url": "https://wordpress.example.test/", "address": "127.0.0.10", "port": 10443,
         "expect_status": [401]}
      ]
    }

``url`` is what a client means (its authority is the Host header), ``address`` the IP dialed,
``port`` the port dialed when not the URL's (default: the URL's, else 443/80), ``sni`` the TLS
server name (default: the URL host), ``expect_status`` the statuses that count as success
(default [200]). A bare list of targets is accepted too.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from locust.contrib.fasthttp import FastHttpSession
    from locust.user.users import User

TARGETS_ENV = "INGRESSCHECK_TARGETS"
DEFAULT_TARGETS = "reports/load-targets.json"
MAX_USERS = 200  # hard cap on concurrent users, whatever a shape, -u or the web UI asks
MAX_SECONDS_CEILING = 3600  # INGRESSCHECK_MAX_SECONDS cannot go beyond this
DEFAULT_MAX_SECONDS = 60


class TargetsError(ValueError):
    pass


@dataclass(frozen=True)
class Target:
    url: str
    address: str
    port: int
    sni: str
    host_header: str
    path: str
    scheme: str
    expect_status: tuple[int, ...]

    @property
    def base_url(self) -> str:
        """What the connection dials: the address and port, never the name."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{host}:{self.port}"


@dataclass(frozen=True)
class Targets:
    ca_bundle: str | None
    targets: tuple[Target, ...]


def _target(entry: Any, where: str) -> Target:
    if not isinstance(entry, dict):
        raise TargetsError(f"{where}: each target must be an object with url and address")
    url, address = entry.get("url"), entry.get("address")
    if not isinstance(url, str) or not isinstance(address, str):
        raise TargetsError(f"{where}: url and address are required strings")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetsError(f"{where}: url {url!r} must be http(s)://host/path")
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise TargetsError(f"{where}: address {address!r} is not an IP address") from None
    port = entry.get("port") or parts.port or (443 if parts.scheme == "https" else 80)
    expect = entry.get("expect_status", [200])
    if not isinstance(port, int) or not 0 < port < 65536:
        raise TargetsError(f"{where}: port {port!r} is not a port number")
    if not isinstance(expect, list) or not expect or not all(isinstance(s, int) for s in expect):
        raise TargetsError(f"{where}: expect_status must be a non-empty list of status codes")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(
        url=url,
        address=address,
        port=port,
        sni=str(entry.get("sni") or parts.hostname),
        host_header=parts.netloc.rpartition("@")[2],
        path=path,
        scheme=parts.scheme,
        expect_status=tuple(expect),
    )


def load_targets(path: str | os.PathLike[str]) -> Targets:
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as exc:
        raise TargetsError(f"targets file {path}: cannot be read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise TargetsError(f"targets file {path}: invalid JSON: {exc}") from None
    if isinstance(doc, list):
        doc = {"targets": doc}
    if not isinstance(doc, dict) or not isinstance(doc.get("targets"), list) or not doc["targets"]:
        raise TargetsError(
            f'targets file {path}: expected {{"ca_bundle": ..., "targets": [...]}} with at least one target'
        )
    ca = doc.get("ca_bundle")
    if ca is not None and (not isinstance(ca, str) or not Path(ca).is_file()):
        raise TargetsError(f"targets file {path}: ca_bundle {ca!r} is not a file")
    return Targets(ca, tuple(_target(e, f"targets file {path}, entry {i}") for i, e in enumerate(doc["targets"])))


def targets_path(parsed_options: Any = None) -> str:
    """``--ingresscheck-targets`` (sent by the master to workers), else the env var, else the default."""
    option = getattr(parsed_options, "ingresscheck_targets", None) if parsed_options is not None else None
    return str(option or os.environ.get(TARGETS_ENV) or DEFAULT_TARGETS)


# --- caps and stages ------------------------------------------------------------------------------
def _env_number(name: str, default: float, low: float, high: float) -> float:
    text = os.environ.get(name)
    if text is None or text.strip() == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a number") from None
    if not low <= value <= high:
        raise ValueError(f"{name}={text!r} must be between {low:g} and {high:g}")
    return value


def max_users() -> int:
    """INGRESSCHECK_MAX_USERS (default and ceiling: 200)."""
    return int(_env_number("INGRESSCHECK_MAX_USERS", MAX_USERS, 1, MAX_USERS))


def max_seconds() -> float:
    """INGRESSCHECK_MAX_SECONDS (default 60, at most 3600): every run stops by then."""
    return _env_number("INGRESSCHECK_MAX_SECONDS", DEFAULT_MAX_SECONDS, 1, MAX_SECONDS_CEILING)


@dataclass(frozen=True)
class Stage:
    until: float  # seconds since the start of the run
    users: int
    spawn_rate: float


def stages() -> list[Stage]:
    """The ramp: INGRESSCHECK_STAGES="seconds:users,..." (each stage moves linearly to its user count
    over its seconds), else INGRESSCHECK_RAMP_USERS (20) over INGRESSCHECK_RAMP_SECONDS (10), then
    hold for INGRESSCHECK_HOLD_SECONDS (20). Users are capped at max_users()."""
    cap = max_users()
    text = os.environ.get("INGRESSCHECK_STAGES", "").strip()
    pairs: list[tuple[float, int]] = []
    if text:
        for item in text.split(","):
            seconds_text, sep, users_text = item.strip().partition(":")
            try:
                pairs.append((float(seconds_text), int(users_text)))
            except ValueError:
                raise ValueError(f"INGRESSCHECK_STAGES item {item!r}: expected SECONDS:USERS") from None
            if not sep or pairs[-1][0] <= 0 or pairs[-1][1] < 0:
                raise ValueError(f"INGRESSCHECK_STAGES item {item!r}: expected SECONDS>0:USERS>=0")
    else:
        ramp_users = int(_env_number("INGRESSCHECK_RAMP_USERS", 20, 0, MAX_USERS))
        pairs = [
            (_env_number("INGRESSCHECK_RAMP_SECONDS", 10, 0.1, MAX_SECONDS_CEILING), ramp_users),
            (_env_number("INGRESSCHECK_HOLD_SECONDS", 20, 0, MAX_SECONDS_CEILING), ramp_users),
        ]
    out: list[Stage] = []
    t, previous = 0.0, 0
    for seconds, wanted in pairs:
        if seconds <= 0:
            continue
        users = min(wanted, cap)
        t += seconds
        out.append(Stage(t, users, max(abs(users - previous) / seconds, 1.0)))
        previous = users
    return out


def wait_bounds() -> tuple[float, float]:
    """INGRESSCHECK_WAIT="min,max" seconds between a user's requests (default 0.1,0.5)."""
    text = os.environ.get("INGRESSCHECK_WAIT", "0.1,0.5")
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise ValueError(f"INGRESSCHECK_WAIT={text!r}: expected MIN,MAX seconds") from None
    if not 0 <= low <= high:
        raise ValueError(f"INGRESSCHECK_WAIT={text!r}: expected 0 <= MIN <= MAX")
    return low, high


# --- sessions (locust processes only) ---------------------------------------------------------
_contexts: dict[str | None, Any] = {}


def _ssl_context_factory(ca_bundle: str | None) -> Callable[..., Any]:
    """geventhttpclient calls ``factory(cafile=...)`` per connection pool: hand back one context per CA
    bundle (verifying against the targets file's CA, not geventhttpclient's default certifi bundle)."""
    import gevent.ssl

    if ca_bundle not in _contexts:
        _contexts[ca_bundle] = (
            gevent.ssl.create_default_context(cafile=ca_bundle) if ca_bundle else gevent.ssl.create_default_context()
        )
    context = _contexts[ca_bundle]

    def factory(*_args: Any, **_kwargs: Any) -> Any:
        return context

    return factory


def make_session(user: User, target: Target, ca_bundle: str | None, *, timeout: float = 10.0) -> FastHttpSession:
    """A FastHttpSession for one target: it connects to ``target.address:port``, sends
    ``Host: <url authority>``, and does TLS with SNI ``target.sni``, verified against ``ca_bundle``.

    The knob: geventhttpclient's ``SSLConnectionPool`` wraps each socket with
    ``ssl_context.wrap_socket(sock, server_hostname=ssl_options["server_hostname"])``, so we give the
    session its OWN ``HTTPClientPool(ssl_options={"server_hostname": sni}, ...)``. The pool is keyed by
    the URL dialed (address:port), which is why each target (each SNI name) needs its own pool: a shared
    one would carry every host's requests over the first host's TLS session.
    """
    from geventhttpclient.client import HTTPClientPool
    from locust.contrib.fasthttp import FastHttpSession

    ssl_options = {"server_hostname": target.sni} if target.scheme == "https" else None
    pool = HTTPClientPool(
        ssl_options=ssl_options,
        ssl_context_factory=_ssl_context_factory(ca_bundle),
        insecure=False,
        concurrency=1,
        network_timeout=timeout,
        connection_timeout=timeout,
    )
    return FastHttpSession(
        base_url=target.base_url,
        request_event=user.environment.events.request,
        user=user,
        insecure=False,
        client_pool=pool,
        max_redirects=0,
        max_retries=0,
    )
