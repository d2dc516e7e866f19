"""Classify how side B's answer to one request differs from side A's (A is the data plane in service).

breaking   a route that worked fails, auth opens, the redirect to https is lost, another backend
           answers (or the backend sees another path), TLS that verified does not
changed    the status family is kept, but the code, Location, or a header that matters differs
           (HSTS, WWW-Authenticate, Content-Type of a success), TLS protocol or names differ
cosmetic   anything else that differs: a 404 body, a certificate re-issued with the same names
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from ..results import Severity
from ._model import BREAKING, CHANGED, COSMETIC, Difference, Observation, Request

# headers whose difference a client notices, and when
# (HSTS is the hsts aspect's: compared once per host, judged like tls.hsts)
_HEADERS_ALWAYS = ("www-authenticate",)
_HEADERS_ON_SUCCESS = ("content-type",)


def classify(request: Request, a: Observation, b: Observation) -> list[Difference]:
    out: list[Difference] = []

    def add(severity: Severity, aspect: str, va: str, vb: str, why: str) -> None:
        out.append(Difference(severity, request, aspect, va, vb, why + _hint(request, aspect)))

    if a.error or b.error:
        if a.error and b.error:
            if a.outcome is not b.outcome:
                add(COSMETIC, "error", a.error, b.error, "both sides fail, differently")
        elif b.error and a.family in (2, 3) or b.error and a.status in (401, 403, 407):
            add(BREAKING, "error", a.short(), b.error, "B does not answer where A did")
        elif b.error:
            add(
                CHANGED,
                "error",
                a.short(),
                b.error,
                f"a client fails on both sides: A answers {a.status}, B does not answer at all",
            )
        else:
            add(CHANGED, "error", a.error or "", b.short(), "B answers where A did not")
        return out

    _status(request, a, b, add)
    _location(a, b, add)
    if a.status == b.status and a.family == 2 and a.backend and b.backend:
        if a.backend[0] != b.backend[0]:
            add(BREAKING, "backend", a.backend[0], b.backend[0], "another backend answers")
        elif a.backend[1] != b.backend[1] and request.category == "normalisation":
            add(
                CHANGED,
                "backend path",
                a.backend[1],
                b.backend[1],
                "the backend sees the path normalised differently; it matters if the application routes on it",
            )
        elif a.backend[1] != b.backend[1]:
            add(
                BREAKING,
                "backend path",
                a.backend[1],
                b.backend[1],
                "the backend sees another path (rewrite differs)",
            )
    for name in _HEADERS_ALWAYS + (_HEADERS_ON_SUCCESS if a.family == 2 and b.family == 2 else ()):
        va, vb = a.header(name), b.header(name)
        if va != vb and a.family == b.family:
            severity = CHANGED
            if name == "www-authenticate" and va and vb and va.split()[0].lower() == vb.split()[0].lower():
                why = (
                    "the same scheme with another realm: browsers show another prompt, password managers "
                    "keyed by realm will not fill it"
                )
            else:
                why = f"{name} differs"
            add(severity, f"header:{name}", va or "(none)", vb or "(none)", why)
    if (
        not any(d.severity is not COSMETIC for d in out)
        and a.status == b.status
        and a.family != 2
        and a.body_sha != b.body_sha
        and a.header("content-type") != b.header("content-type")
    ):
        add(
            COSMETIC,
            "error page",
            a.header("content-type") or "(none)",
            b.header("content-type") or "(none)",
            "another error page",
        )
    if a.tls and b.tls:
        _tls(request, a, b, add)
    return out


def _status(request: Request, a: Observation, b: Observation, add: _Add) -> None:
    if a.status == b.status:
        return
    va, vb = str(a.status), str(b.status)
    if a.family in (2, 3) and b.family in (4, 5):
        if a.family == 3 and _to_https(a) and request.scheme == "http":
            add(BREAKING, "status", va, vb, "the redirect to https is lost")
        else:
            add(BREAKING, "status", va, vb, "a request that worked fails")
    elif a.status in (401, 403, 407) and b.family in (2, 3):
        add(BREAKING, "status", va, vb, "access control opens: B serves what A protected")
    elif a.family == 3 and b.family == 2:
        if _to_https(a) and request.scheme == "http":
            add(BREAKING, "status", va, vb, "the redirect to https is lost: B serves plain HTTP")
        else:
            add(CHANGED, "status", va, vb, "B serves where A redirected")
    elif a.family == 2 and b.family == 3:
        add(CHANGED, "status", va, vb, "B redirects where A served")
    elif a.family == b.family:
        why = "another redirect code" if a.family == 3 else "another status code in the same family"
        if a.family == 3 and _permanent(a.status) != _permanent(b.status):
            why += " (permanent vs temporary: browsers and caches keep a permanent one)"
        if a.family == 3 and _keeps_method(a.status) != _keeps_method(b.status):
            why += " (307/308 keep the method and body, 301/302 let clients switch POST to GET)"
        if a.family == 3 and request.category == "redirect":
            add(CHANGED, "redirect_code", va, vb, why + "; ingress-nginx's https redirect is 308")
        else:
            add(CHANGED, "status", va, vb, why)
    elif a.family in (4, 5) and b.family in (2, 3):
        add(CHANGED, "status", va, vb, "B serves a request A refused")
    else:
        add(CHANGED, "status", va, vb, "another status family")


def _location(a: Observation, b: Observation, add: _Add) -> None:
    la, lb = a.header("location"), b.header("location")
    if a.family != 3 or b.family != 3 or la == lb:
        return
    if _to_https(a) and not _to_https(b):
        add(BREAKING, "location", la or "(none)", lb or "(none)", "the redirect no longer goes to https")
        return
    pa, pb = urlsplit(la or ""), urlsplit(lb or "")
    if (pa.scheme, pa.netloc.lower(), pa.path, pa.query) == (pb.scheme, pb.netloc.lower(), pb.path, pb.query):
        add(COSMETIC, "location", la or "", lb or "", "the same target, spelt differently")
    else:
        add(CHANGED, "location", la or "(none)", lb or "(none)", "the redirect goes elsewhere")


def _tls(request: Request, a: Observation, b: Observation, add: _Add) -> None:
    ta, tb = a.tls, b.tls
    assert ta is not None and tb is not None
    if ta.verified and not tb.verified:
        add(
            BREAKING,
            "tls:verified",
            "verified",
            tb.verify_error or "not verified",
            "clients will refuse B's certificate",
        )
    elif ta.sans != tb.sans:
        add(CHANGED, "tls:sans", ", ".join(ta.sans), ", ".join(tb.sans), "the certificate names differ")
    elif ta.fingerprint != tb.fingerprint:
        add(
            COSMETIC,
            "tls:certificate",
            ta.fingerprint,
            tb.fingerprint,
            "another certificate with the same names (pinning clients would notice)",
        )
    if ta.version != tb.version:
        add(CHANGED, "tls:version", ta.version, tb.version, "another TLS protocol version")


def _to_https(o: Observation) -> bool:
    return (o.header("location") or "").lower().startswith("https://")


def _permanent(status: int) -> bool:
    return status in (301, 308)


def _keeps_method(status: int) -> bool:
    return status in (307, 308)


# Known causes, shown with a difference so a reader knows where to look.
_HINTS = {
    ("normalisation", "status"): " — data planes normalise paths differently (merging //, resolving /./, "
    "decoding %2F: Envoy Gateway's default escapedSlashesAction UnescapeAndRedirect "
    "answers %2F with a redirect to the decoded path); ingress-nginx merges slashes "
    "and resolves dot segments",
    ("case", "status"): " — ingress-nginx matches regex paths (use-regex, rewrite-target) case-insensitively "
    "(~*); Prefix and Exact paths are case-sensitive everywhere",
    ("derived", "status"): " — a trailing slash or a segment boundary is matched differently (Prefix /a matches "
    "/a/ and /a/b, never /ab)",
    ("normalisation", "backend path"): " — e.g. Traefik merges the slashes of // before the backend; Envoy "
    "forwards this one as received",
    ("unknown-host", "status"): " — what a data plane answers for a Host it does not serve",
    ("unknown-host", "error"): " — a data plane with one TLS listener per host name has no certificate for an "
    "unknown SNI and resets the handshake; one with a default certificate answers 404",
    ("auth", "status"): " — basic auth is an annotation on ingress-nginx; Gateway API core cannot express it",
}


def _hint(request: Request, aspect: str) -> str:
    return _HINTS.get((request.category, aspect), "")


_Add = Callable[[Severity, str, str, str, str], None]
