"""identity_headers: identity headers a client sends never reach a protected backend as if the proxy set them.

Behind external auth (``auth-url``), the proxy copies the user's identity from the auth answer into
request headers (``auth-response-headers``: ``X-Auth-Request-User``...) and the backend trusts them. A
client sending ``X-Auth-Request-User``, ``X-Forwarded-User`` or ``X-Remote-User`` itself must not get
its value through: ingress-nginx overwrites the ``auth-response-headers`` ones, other controllers may
not. The request goes with the profile's credentials for the host; the backend must echo the headers
it received (the lab's echo pods do), else the check says it could not see them.
``judge_identity_headers`` is the verdict on one answer, the same code ``compare``'s
``identity_headers`` aspect judges each side with (there for any protected host, basic auth too).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from ..discovery import Target
from ..net import HttpResponse
from ..results import Severity, Status, Step
from ._contract import CheckSpec, Probe, ProbeContext

STANDARD = ("X-Auth-Request-User", "X-Forwarded-User", "X-Remote-User")
SPOOF = "ingresscheck-spoofed"


def identity_headers(target: Target | None) -> tuple[str, ...]:
    """The identity headers to send spoofed: the standard three and the Ingress's auth-response-headers."""
    extra = [h.strip() for h in ((target.annotation("auth-response-headers") if target else None) or "").split(",")]
    return tuple(dict.fromkeys([*STANDARD, *(h for h in extra if h)]))


def echoed_headers(response: HttpResponse | None) -> dict[str, str] | None:
    """The request headers the backend says it received (echo JSON ``headers``), names lower-cased; None when
    the answer does not show them."""
    if response is None or not response.header("content-type").startswith("application/json"):
        return None
    try:
        body = json.loads(response.body)
    except ValueError:
        return None
    headers = body.get("headers") if isinstance(body, dict) else None
    if not isinstance(headers, dict):
        return None
    return {str(k).lower(): str(v) for k, v in headers.items()}


@dataclass(frozen=True)
class IdentityVerdict:
    status: Status
    value: str  # "none reached the backend", "X-Remote-User reached the backend", "not shown"
    message: str
    passed_through: tuple[str, ...] = ()


def judge_identity_headers(
    status: int, echoes: bool, seen: Callable[[str], str | None], names: tuple[str, ...]
) -> IdentityVerdict:
    """``seen(name)``: the value the backend received for a request header (None: not received)."""
    if not 200 <= status < 300:
        return IdentityVerdict(
            Status.SKIP, f"not reached ({status})", f"the request did not reach the backend ({status})"
        )
    if not echoes:
        return IdentityVerdict(Status.SKIP, "not shown", "the backend does not show the request headers it received")
    through = tuple(n for n in names if seen(n) == SPOOF)
    if through:
        return IdentityVerdict(
            Status.FAIL,
            f"{', '.join(through)} reached the backend",
            f"the client's own {', '.join(through)} reached the backend as sent: anyone can claim any identity",
            through,
        )
    return IdentityVerdict(
        Status.PASS, "none reached the backend", f"none of {', '.join(names)} sent by the client reached the backend"
    )


def _lookup(echoed: dict[str, str] | None) -> Callable[[str], str | None]:
    got = dict(echoed or {})
    return lambda name: got.get(name.lower())


class IdentityHeadersProbe(Probe):
    name = "identity_headers"
    needs = ("dns", "tls")
    checks = (
        CheckSpec(
            "auth.identity_headers",
            Step.INGRESS,
            Severity.CRITICAL,
            "behind external auth (`auth-url`), identity headers the client sends (`X-Auth-Request-User`, "
            "`X-Forwarded-User`, `X-Remote-User`, `auth-response-headers`) do not reach the backend",
            "Have the proxy overwrite or strip identity headers before the backend (ingress-nginx: "
            "auth-response-headers; Traefik: forwardAuth authResponseHeaders; Envoy Gateway: extAuth "
            "headersToBackend).",
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        if target.annotation("auth-url") is None:
            return  # no external auth: no proxy-set identity for a client to forge
        port = ctx.profile.https_port
        addresses, _ = await ctx.addresses(port, target.request_host)
        if not addresses:
            ctx.skipped("auth.identity_headers", f"no address to connect to for {target.host}")
            return
        names = identity_headers(target)
        url = f"https://{target.request_host}{'' if port == 443 else f':{port}'}{target.sample_path}"
        cred = ctx.profile.credentials.get(target.host)
        auth = (cred.username, cred.password()) if cred is not None and not cred.unavailable() else None
        for address in addresses:
            attempt = await ctx.net.request("GET", url, address, auth=auth, headers=dict.fromkeys(names, SPOOF))
            if not attempt.ok or attempt.response is None:
                ctx.not_completed("auth.identity_headers", attempt, what=f"GET {url} with spoofed identity headers")
                continue
            echoed = echoed_headers(attempt.response)
            verdict = judge_identity_headers(attempt.response.status, echoed is not None, _lookup(echoed), names)
            ctx.report(
                "auth.identity_headers",
                verdict.status,
                f"{url} via {attempt.subject.where}: {verdict.message}",
                subject=attempt.subject.where,
                evidence={**attempt.evidence(), "sent": list(names), "passed_through": list(verdict.passed_through)},
            )
