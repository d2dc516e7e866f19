"""A root cause for each difference, where one can be established; else "unexplained".

In order: an annotation of A's object that B's implementation ignores or implements differently (from
the support table, ``_support``), or that core Gateway API cannot express; an implementation default
(what ingress-nginx does unless told otherwise, and data planes do differently: HSTS, HTTP/2, 308,
1 MiB bodies, X-Request-ID, ACME challenges, path normalisation); otherwise unexplained.
"""

from __future__ import annotations

from dataclasses import replace

from ..discovery.model import Target
from ._model import Difference
from ._support import judge

# which annotations can make a request category or aspect differ
_ANNOTATIONS: dict[str, tuple[str, ...]] = {
    "auth": ("auth-type", "auth-secret", "auth-realm", "auth-url"),
    "header:www-authenticate": ("auth-realm", "auth-type"),
    "identity_headers": ("auth-url", "auth-response-headers", "auth-type"),
    "case": ("use-regex", "rewrite-target"),
    "nginx": ("rewrite-target",),
    "backend path": ("rewrite-target",),
    "redirect": ("ssl-redirect", "force-ssl-redirect", "permanent-redirect", "temporal-redirect"),
    "redirect_code": ("ssl-redirect", "force-ssl-redirect"),
    "body_limit": ("proxy-body-size",),
}

# what data planes do by default, for differences no annotation explains
_DEFAULTS: dict[str, str] = {
    "hsts": "ingress-nginx sends max-age=15724800; includeSubDomains unless its ConfigMap says hsts: false; "
    "Traefik and Envoy Gateway send none unless configured",
    "http2": "ingress-nginx, Traefik and Envoy Gateway offer h2 through ALPN by default; a TLS-terminating LB "
    "in front decides what the client sees",
    "redirect_code": "ingress-nginx redirects to https with 308, HAProxy's redirect defaults to 302, Gateway API's "
    "RequestRedirect to 302",
    "body_limit": "ingress-nginx refuses bodies above 1 MiB (proxy-body-size) by default; Traefik and Envoy "
    "Gateway set no limit",
    "request_id": "ingress-nginx generates X-Request-ID for the backend; Envoy adds x-request-id too, Traefik does not",
    "acme_challenge": "ingress-nginx skips the https redirect for /.well-known/acme-challenge/ "
    "(no-tls-redirect-locations)",
    "normalisation": "each data plane normalises paths its own way (merging //, dot segments, %2F: Envoy "
    "Gateway's escapedSlashesAction UnescapeAndRedirect)",
    "unknown-host": "what a data plane answers for a Host it does not serve (a default certificate and 404, or "
    "a reset with one TLS listener per name)",
    "error page": "every data plane has its own error pages",
}


def with_cause(d: Difference, a: Target | None, b: Target | None, a_impl: str, b_impl: str) -> Difference:
    return replace(d, cause=cause(d, a, b, a_impl, b_impl))


def cause(d: Difference, a: Target | None, b: Target | None, a_impl: str, b_impl: str) -> str:
    keys = (d.aspect, d.request.aspect or "", d.request.category)
    if a is not None and a.kind == "Ingress":
        for key in keys:
            for name in _ANNOTATIONS.get(key, ()):
                value = a.annotation(name)
                if value is None:
                    continue
                support, note = judge(name, b_impl)
                if support == "extension" or (support == "ignored" and b_impl in ("gateway-api", "envoy-gateway")):
                    return f"Gateway API cannot express annotation {name}: {note}"
                if support in ("ignored", "different"):
                    return f"annotation {name}: {b_impl} {'ignores it' if support == 'ignored' else 'differs'}: {note}"
    for key in keys:
        if key in _DEFAULTS:
            return f"implementation default ({a_impl} / {b_impl}): {_DEFAULTS[key]}"
    return "unexplained"
