"""The request matrix of one host: the same requests go to both sides.

From the host's rules on both sides (A's first: A is the reference): each path and the paths derived
from it (trailing slash, a deeper segment, a segment-boundary miss, upper case), the plain-HTTP
redirect, an unknown path, URL normalisation (``//``, ``/./``, ``%2F``), basic auth without, with
wrong and with right credentials, and the ingress-nginx behaviours migrations trip over
(case-insensitive regex prefixes, ``use-regex`` applying to every path of the host, ``rewrite-target``).
TLS facts (certificate, names, protocol) ride on every https request.
"""

from __future__ import annotations

import re

from ..discovery.model import PathRule, Target
from ._model import Request

_REGEX_CHARS = re.compile(r"[()\[\]*+?^$\\{}|]")
UNKNOWN_PATH = "/ingresscheck-parity-no-such-path"
UNKNOWN_HOST_LABEL = "ingresscheck-parity-unknown"


def _plain(path: str) -> bool:
    return path.startswith("/") and not _REGEX_CHARS.search(path)


def _derived(rule: PathRule) -> list[tuple[str, str, str]]:
    """(category, target, note) for one rule: the path and what a client may also send."""
    p = rule.path
    out = [("path", p, f"{rule.path_type} {p}")]
    if not _plain(p):
        # a regex path: probe its literal prefix, as far as it is literal
        literal = re.split(r"[()\[\]*+?^$\\{}|.]", p, maxsplit=1)[0] or "/"
        out = [("path", literal, f"literal prefix of the regex {p}")]
        p = literal
    if p == "/":
        out.append(("derived", "/index.html", "a file under /"))
        return out
    base = p.rstrip("/")
    if rule.path_type == "Exact":
        out.append(("derived", base + "/", "Exact path with a trailing slash"))
        return out
    out.append(("derived", base + "/" if not p.endswith("/") else base, "trailing slash toggled"))
    out.append(("derived", base + "/ingresscheck", "a deeper segment"))
    out.append(("derived", base + "ingresscheck", "the prefix without a segment boundary"))
    out.append(
        (
            "case",
            base.upper() if base.upper() != base else base.title(),
            "upper case: ingress-nginx regex locations are case-insensitive",
        )
    )
    return out


def requests_for(
    host: str, a: Target | None, b: Target | None, *, auth: tuple[str, str] | None, https: bool
) -> list[Request]:
    """Every request for ``host``. ``auth`` is the right credential when the host has one."""
    scheme = "https" if https else "http"
    out: list[Request] = []
    seen: set[tuple[str, str, bool, str]] = set()

    def add(
        key: str,
        category: str,
        target: str,
        *,
        sch: str = scheme,
        cred: tuple[str, str] | None = None,
        note: str = "",
        method: str = "GET",
    ) -> None:
        ident = (sch, target, cred is not None, method)
        if ident in seen and category != "auth":
            return
        seen.add(ident)
        out.append(Request(key, category, sch, host, target, method, cred, note))

    rules = [r for t in (a, b) if t for r in t.paths]
    # authenticated requests where the host asks for auth, so the paths reach the backend on both sides
    protected = _protected(a) or _protected(b)
    cred = auth if protected else None
    for rule in dict.fromkeys(rules):
        for category, target, note in _derived(rule):
            add(f"{category} {target}", category, target, cred=cred, note=note)
    sample = next((r.path for r in rules if _plain(r.path)), "/")
    add(f"normalisation {'/' + sample}", "normalisation", "/" + sample, cred=cred, note="a doubled slash")
    dotted = "/." + sample if sample.startswith("/") else "/./"
    add(f"normalisation {dotted}", "normalisation", dotted, cred=cred, note="a dot segment")
    if sample != "/":
        encoded = sample.rstrip("/") + "%2Fingresscheck"
        add(f"normalisation {encoded}", "normalisation", encoded, cred=cred, note="an encoded slash")
        add(
            f"normalisation {sample}/../{sample.strip('/')}",
            "normalisation",
            f"{sample.rstrip('/')}/../{sample.strip('/')}",
            cred=cred,
            note="a dot-dot segment",
        )
    add("unknown path", "path", UNKNOWN_PATH, cred=cred, note="a path no rule names")
    add("plain http", "redirect", sample, sch="http", note="plain HTTP: the redirect to https")
    add(
        "plain http deep",
        "redirect",
        sample.rstrip("/") + "/x?y=1",
        sch="http",
        note="plain HTTP keeps path and query in the redirect",
    )
    if protected:
        add("auth none", "auth", sample, note="no credentials")
        add("auth wrong", "auth", sample, cred=("ingresscheck", "wrong-password"), note="wrong credentials")
        if auth:
            add("auth right", "auth", sample, cred=auth, note="the right credentials")
    nginx = a if a and a.kind == "Ingress" else None
    if nginx is not None:
        out += _nginx_specific(host, nginx, scheme, cred)
    return out


def _protected(t: Target | None) -> bool:
    return bool(t and (t.auth_type or "").lower() == "basic")


def _nginx_specific(host: str, t: Target, scheme: str, cred: tuple[str, str] | None) -> list[Request]:
    """ingress-nginx behaviours that a port must reproduce on purpose."""
    regex = (t.annotation("use-regex") or "").lower() == "true" or t.annotation("rewrite-target") is not None
    out = []
    if regex:
        for rule in t.paths:
            if _plain(rule.path) and rule.path != "/":
                # with use-regex (or rewrite-target) every path of the host is a case-insensitive regex prefix
                out.append(
                    Request(
                        f"nginx regex {rule.path.upper()}x",
                        "case",
                        scheme,
                        host,
                        rule.path.upper() + "x",
                        "GET",
                        cred,
                        "use-regex makes every path of the host a case-insensitive regex prefix",
                    )
                )
    if t.annotation("rewrite-target") is not None:
        sample = t.sample_path.rstrip("/") + "/ingresscheck/deep"
        out.append(
            Request(
                f"nginx rewrite {sample}",
                "nginx",
                scheme,
                host,
                sample,
                "GET",
                cred,
                "rewrite-target: the path the backend sees",
            )
        )
    return out


def unknown_host(domain: str, https: bool) -> Request:
    host = f"{UNKNOWN_HOST_LABEL}.{domain}"
    return Request("unknown host", "unknown-host", "https" if https else "http", host, "/", note="a Host no rule names")
