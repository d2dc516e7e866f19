"""redirect_annotations: redirects an Ingress asks for by annotation answer with the documented code and a
Location that keeps or drops path and query as ingress-nginx documents.

One subject per annotation, each probed over https with a sample path and query:

- ``permanent-redirect``: ``permanent-redirect-code`` (default 301) to the URL as given; nginx variables in it
  (``$request_uri``, ``$uri``, ``$args``, ``$host``, ``$scheme``) are expanded from the request, so
  ``https://new.example.com$request_uri`` keeps path and query and a plain URL drops both;
- ``temporal-redirect``: ``temporal-redirect-code`` (default 302), the same way (it wins over permanent-redirect);
- ``app-root``: ``/`` answers 302 to the app root on the same host; the query is not carried (ingress-nginx's
  ``return 302 $scheme://$http_host<app-root>``);
- ``from-to-www-redirect``: the other name (``www.`` added or removed) answers 308 to this host, path and query kept.

``ssl-redirect`` and ``force-ssl-redirect`` are the redirect probe's (``redirect.https``). Annotations the
profile's controller ignores are reported as ignored, not tested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..discovery.model import Target
from ..results import Severity, Step
from ._contract import CheckSpec, Probe, ProbeContext
from ._traffic import ask, first_address, https_base, skip_if_ignored, truthy

CHECK = "redirect.annotation"
SAMPLE_PATH = "/ingresscheck/deep/path"
SAMPLE_QUERY = "ingresscheck=1"
_VARIABLE = re.compile(r"\$(request_uri|uri|args|query_string|host|http_host|scheme|server_name)\b|\$\{(\w+)\}")


@dataclass(frozen=True)
class Expected:
    """What one redirect annotation promises for one request."""

    annotation: str
    request_host: str
    request_path: str  # path and query sent
    status: int
    location: str  # as the controller should write it; "{scheme}" where the request's scheme is used
    note: str  # what the documentation says about path and query


def _code(raw: str | None, default: int) -> int:
    try:
        code = int(raw or default)
    except ValueError:
        return default
    return code if 300 <= code <= 308 else default


def expand(url: str, host: str, path: str, query: str) -> str:
    """nginx's variable expansion of a redirect URL for a request of ``host``, ``path`` and ``query``."""
    values = {
        "request_uri": path + (f"?{query}" if query else ""),
        "uri": path,
        "args": query,
        "query_string": query,
        "host": host,
        "http_host": host,
        "server_name": host,
        "scheme": "{scheme}",
    }
    return _VARIABLE.sub(lambda m: values.get(m.group(1) or m.group(2), m.group(0)), url)


def expectations(t: Target) -> list[Expected]:
    out: list[Expected] = []
    sent = f"{SAMPLE_PATH}?{SAMPLE_QUERY}"
    temporal, permanent = t.annotation("temporal-redirect"), t.annotation("permanent-redirect")
    if temporal:
        keeps = "$request_uri" in temporal or "$uri" in temporal
        out.append(
            Expected(
                "temporal-redirect",
                t.request_host,
                sent,
                _code(t.annotation("temporal-redirect-code"), 302),
                expand(temporal, t.request_host, SAMPLE_PATH, SAMPLE_QUERY),
                "the path is kept (the URL uses $request_uri or $uri)" if keeps else "the URL as given, path dropped",
            )
        )
    elif permanent:
        keeps = "$request_uri" in permanent or "$uri" in permanent
        out.append(
            Expected(
                "permanent-redirect",
                t.request_host,
                sent,
                _code(t.annotation("permanent-redirect-code"), 301),
                expand(permanent, t.request_host, SAMPLE_PATH, SAMPLE_QUERY),
                "the path is kept (the URL uses $request_uri or $uri)" if keeps else "the URL as given, path dropped",
            )
        )
    app_root = t.annotation("app-root")
    if app_root and not (temporal or permanent):
        out.append(
            Expected(
                "app-root",
                t.request_host,
                f"/?{SAMPLE_QUERY}",
                302,
                "{scheme}://" + t.request_host + app_root,
                "only / is redirected, to the app root on the same host; the query is not carried",
            )
        )
    if truthy(t.annotation("from-to-www-redirect")) and not t.wildcard:
        other = t.host[4:] if t.host.startswith("www.") else f"www.{t.host}"
        out.append(
            Expected(
                "from-to-www-redirect",
                other,
                sent,
                308,
                "{scheme}://" + t.host + sent,
                f"{other} redirects to {t.host}, path and query kept",
            )
        )
    return out


def judge_location(got: str, want: str, request_scheme: str) -> list[str]:
    """How ``got`` differs from ``want`` ("{scheme}" in it: the scheme the request was seen with, http or https
    behind a TLS-terminating load balancer), in words; empty when it is the same place."""
    g = urlsplit(got)
    schemes = {request_scheme, "http", "https"} if "{scheme}" in want else None
    w = urlsplit(want.replace("{scheme}", request_scheme))
    wrong = []
    if schemes is None and g.scheme and g.scheme != w.scheme:
        wrong.append(f"scheme {g.scheme}, not {w.scheme}")
    elif schemes is not None and g.scheme and g.scheme not in schemes:
        wrong.append(f"scheme {g.scheme}")
    if g.netloc and g.netloc.lower() != w.netloc.lower():
        wrong.append(f"host {g.netloc}, not {w.netloc}")
    gpath, wpath = g.path or "/", w.path or "/"
    if gpath != wpath:
        if wpath not in ("", "/") and (gpath in ("", "/") or not gpath.endswith(SAMPLE_PATH)) and SAMPLE_PATH in wpath:
            wrong.append(f"drops the path (Location path {g.path or '(none)'}, expected {w.path})")
        else:
            wrong.append(f"path {g.path or '(none)'}, not {w.path}")
    if g.query != w.query:
        if w.query and not g.query:
            wrong.append(f"drops the query (expected ?{w.query})")
        elif g.query and not w.query:
            wrong.append(f"adds the query ?{g.query}")
        else:
            wrong.append(f"query ?{g.query}, not ?{w.query}")
    return wrong


class RedirectAnnotationsProbe(Probe):
    name = "redirect_annotations"
    needs = ("dns",)
    checks = (
        CheckSpec(
            CHECK,
            Step.INGRESS,
            Severity.MAJOR,
            "permanent-redirect, temporal-redirect, app-root and from-to-www-redirect answer the documented code "
            "and Location",
            "Compare the annotation's URL and code with the answer: a URL without $request_uri drops the path in "
            "ingress-nginx, and controllers differ in which nginx variables they expand (a migration can lose paths).",
            gates=False,
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        t = ctx.require_target
        if t.kind != "Ingress":
            return
        wanted = [e for e in expectations(t) if not skip_if_ignored(ctx, CHECK, t, e.annotation, e.annotation)]
        if not wanted:
            return
        address, source = await first_address(ctx, t)
        if address is None:
            for e in wanted:
                ctx.skipped(CHECK, f"no address to connect to for {t.host}", subject=e.annotation)
            return
        for e in wanted:
            url = https_base(ctx, e.request_host) + e.request_path
            answer = await ask(ctx, url, address, keep_alive=e.request_host == t.request_host)
            ev: dict[str, Any] = {
                "annotation": f"nginx.ingress.kubernetes.io/{e.annotation}",
                "value": t.annotation(e.annotation),
                "expected": {"status": e.status, "location": e.location.replace("{scheme}", "http(s)")},
                "documented": e.note,
                "address_from": source,
            }
            if not answer.ok:
                ctx.not_completed(CHECK, answer.attempt, subject=e.annotation, what=f"GET {url}", evidence=ev)
                continue
            r = answer.attempt.response
            assert r is not None
            evidence = {**ev, **answer.attempt.evidence()}
            location = r.header("location")
            wrong = []
            if r.status != e.status:
                wrong.append(f"answered {r.status} instead of {e.status}")
            if not location:
                wrong.append("no Location header")
            else:
                wrong += judge_location(location, e.location, "https")
            if wrong:
                ctx.failed(
                    CHECK,
                    f"{e.annotation}: GET {url} " + "; ".join(wrong) + f" (Location {location or '-'})",
                    evidence=evidence,
                    subject=e.annotation,
                )
            else:
                ctx.passed(
                    CHECK,
                    f"{e.annotation}: GET {url} answered {r.status} to {location} ({e.note})",
                    evidence=evidence,
                    subject=e.annotation,
                )


__all__ = ["Expected", "RedirectAnnotationsProbe", "expand", "expectations", "judge_location"]
