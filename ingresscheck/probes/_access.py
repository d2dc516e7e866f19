"""What the access-control probes share (auth.external, auth.client_cert, access.source_range, limits.rate):
reading the annotations, the client address a backend says the controller saw, and how other probes
(routing) reach a host that such an annotation protects.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..net import ClientIdentity, HttpResponse

if TYPE_CHECKING:
    from ..discovery import Target
    from ..profile import Profile

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def ranges(text: str | None) -> tuple[list[Network], list[str]]:
    """The CIDRs of a source-range annotation, and the items that are not CIDRs."""
    good: list[Network] = []
    bad: list[str] = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            good.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            bad.append(item)
    return good, bad


def contains(networks: list[Network], address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == n.version and ip in n for n in networks)


def allow_ranges(target: Target) -> str | None:
    """ingress-nginx reads allowlist-source-range first, then the older whitelist-source-range."""
    return target.annotation("allowlist-source-range") or target.annotation("whitelist-source-range")


def echoed(response: HttpResponse | None) -> dict[str, Any] | None:
    """The JSON an echo backend answers (what it received), or None for any other backend."""
    if response is None or "json" not in response.header("content-type"):
        return None
    try:
        body = json.loads(response.body.decode(errors="replace"))
    except ValueError:
        return None
    return body if isinstance(body, dict) and isinstance(body.get("headers"), dict) else None


def echoed_headers(response: HttpResponse | None) -> dict[str, str] | None:
    body = echoed(response)
    if body is None:
        return None
    return {str(k).lower(): str(v) for k, v in body["headers"].items()}


def client_address_seen(response: HttpResponse | None) -> str | None:
    """The client address the controller told the backend (X-Real-Ip, else the first X-Forwarded-For entry)."""
    headers = echoed_headers(response)
    if not headers:
        return None
    real = headers.get("x-real-ip", "").strip()
    if real:
        return real
    forwarded = headers.get("x-forwarded-for", "")
    return forwarded.split(",")[0].strip() or None


def profile_identity(profile: Profile, host: str) -> ClientIdentity | None:
    """The profile's client certificate for ``host`` (read now; None when it names none)."""
    cert = profile.client_certificates.get(host.lower())
    if cert is None:
        return None
    pem, key = cert.read()
    return ClientIdentity(f"the profile's certificate ({cert.cert_file})", pem, key)


@dataclass(frozen=True)
class Reach:
    """How a probe that is not about access control reaches a protected host: the request options to
    use (a client certificate, an inside source address), or why the backend cannot be reached."""

    options: dict[str, Any]
    blocked: str | None = None


def reach(profile: Profile, target: Target, *, backend: bool = True) -> Reach:
    """``backend``: the probe needs the backend's answer (routing), so a host behind external auth is out of
    reach; without it (TLS, ALPN, response headers) any answer does, and only the connection must be allowed."""
    options: dict[str, Any] = {}
    if backend and target.annotation("auth-url"):
        return Reach(
            options,
            f"{target.host} is behind external auth (auth-url): the backend answers a signed-in session only "
            f"(see auth.external)",
        )
    if target.annotation("auth-tls-secret") and (target.annotation("auth-tls-verify-client") or "on") in (
        "on",
        "true",
    ):
        identity = profile_identity(profile, target.host)
        if identity is None:
            return Reach(
                options,
                f"{target.host} requires a client certificate (auth-tls-secret) and the profile names none for it "
                f"(client_certificates)",
            )
        options["identity"] = identity
    allowed, _ = ranges(allow_ranges(target))
    if allowed:
        inside = [a for a in profile.source_addresses if contains(allowed, a)]
        if not inside:
            return Reach(
                options,
                f"{target.host} admits only {', '.join(map(str, allowed))} (source range) and no source address of "
                f"the profile is inside it",
            )
        options["source"] = inside[0]
    return Reach(options)
