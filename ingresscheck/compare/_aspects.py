"""Migration aspects: what ingress-nginx does by default that another data plane may silently not do.

Each aspect is one or a few requests added to a host's matrix (``Request.aspect`` names it) and one
comparison of the two answers, giving a difference with the aspect's class. Where one side can be
judged on its own against the profile, the verdict comes from the same function a ``run`` check uses,
so the CI gate and the parity report agree:

aspect            request (B worse than A: class)                            judge (run check)
hsts              GET https sample path (HSTS lost: breaking)                judge_hsts (tls.hsts)
http2             TLS handshake offering h2, http/1.1 (changed; GRPC: breaking)
redirect_code     the plain-HTTP requests' 3xx code, ingress-nginx 308 (changed)
body_limit        POST https, 1 MiB + 1 byte, ingress-nginx 413 (changed)
request_id        GET https: the backend gets an X-Request-ID (changed)
acme_challenge    GET http /.well-known/acme-challenge/..., no redirect on nginx (changed)
forwarded_proto   GET http with X-Forwarded-Proto: https (redirect skipped: breaking)
                                                        judge_forwarded_proto (redirect.forwarded_proto)
identity_headers  GET https, protected hosts, client-sent identity headers (spoof passes: breaking)
                                                        judge_identity_headers (auth.identity_headers)

Plugging in a run check as an aspect: give the check a pure judge over one answer (an ``HttpResponse`` or
values read from it) returning a status and a ``value`` in words; add an ``Aspect`` to ``ASPECTS`` with
the requests it needs (``requests``) and a ``compare`` that calls the judge on each side's Observation
and turns "A passes, B does not" into a Difference of the aspect's class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..discovery.model import Target
from ..probes.forwarded_proto import SPOOFED, judge_forwarded_proto
from ..probes.hsts import judge_hsts
from ..probes.identity_headers import SPOOF, identity_headers, judge_identity_headers
from ..profile import Profile
from ..results import Severity, Status
from ._model import BREAKING, CHANGED, COSMETIC, Difference, Observation, Request

NGINX_BODY_LIMIT = 1024 * 1024  # ingress-nginx's proxy-body-size default (client_max_body_size 1m)
ACME_PATH = "/.well-known/acme-challenge/ingresscheck-parity"


@dataclass(frozen=True)
class Aspect:
    name: str
    severity: Severity  # the class of a difference where B does worse than A
    summary: str  # what is compared, for the README and the report
    requests: Callable[[str, Target | None, Target | None, tuple[str, str] | None], list[Request]]
    compare: Callable[[Request, Observation, Observation, Profile], list[Difference]]


def _protected(t: Target | None) -> bool:
    return bool(t and ((t.auth_type or "").lower() == "basic" or t.annotation("auth-url") is not None))


def _sample(a: Target | None, b: Target | None) -> str:
    return (a or b).sample_path if (a or b) else "/"  # type: ignore[union-attr]


def _cred(a: Target | None, b: Target | None, auth: tuple[str, str] | None) -> tuple[str, str] | None:
    return auth if _protected(a) or _protected(b) else None


def _diff(severity: Severity, request: Request, va: str, vb: str, why: str) -> list[Difference]:
    return [Difference(severity, request, request.aspect or "", va, vb, why)]


# --- hsts ---------------------------------------------------------------------------------------------
def _hsts_requests(host: str, a: Target | None, b: Target | None, auth: tuple[str, str] | None) -> list[Request]:
    return [
        Request(
            "aspect hsts",
            "aspect",
            "https",
            host,
            _sample(a, b),
            auth=_cred(a, b, auth),
            aspect="hsts",
            note="HSTS on the answer (ingress-nginx: max-age=15724800; includeSubDomains by default)",
        )
    ]


def _hsts_compare(request: Request, a: Observation, b: Observation, profile: Profile) -> list[Difference]:
    if a.error or b.error:
        return []  # reachability is the matrix's business
    ja = judge_hsts(a.header("strict-transport-security"), profile)
    jb = judge_hsts(b.header("strict-transport-security"), profile)
    if ja.value == jb.value:
        return []
    if ja.max_age and not jb.max_age:
        return _diff(
            BREAKING,
            request,
            ja.value,
            jb.value,
            "B drops HSTS: browsers stop forcing https for this host once the max-age ends",
        )
    if not ja.max_age and jb.max_age:
        return _diff(
            CHANGED,
            request,
            ja.value,
            jb.value,
            "B adds HSTS: browsers will refuse plain http to this host for max-age",
        )
    return _diff(CHANGED, request, ja.value, jb.value, "another HSTS policy (max-age or includeSubDomains)")


# --- http2 --------------------------------------------------------------------------------------------
def _http2_requests(host: str, a: Target | None, b: Target | None, auth: tuple[str, str] | None) -> list[Request]:
    return [
        Request("aspect http2", "aspect", "https", host, "", aspect="http2", kind="alpn", note="HTTP/2 through ALPN")
    ]


def _alpn(o: Observation) -> str:
    return (o.tls.alpn if o.tls else "") or "http/1.1 (no ALPN)"


def _http2_compare(request: Request, a: Observation, b: Observation, profile: Profile) -> list[Difference]:
    if a.error or b.error or _alpn(a) == _alpn(b):
        return []
    if _alpn(a) == "h2":
        return _diff(
            CHANGED,
            request,
            _alpn(a),
            _alpn(b),
            "B does not offer HTTP/2: clients fall back to HTTP/1.1 (more connections; gRPC clients fail)",
        )
    return _diff(
        COSMETIC if _alpn(b) == "h2" else CHANGED, request, _alpn(a), _alpn(b), "another protocol through ALPN"
    )


# --- body_limit ---------------------------------------------------------------------------------------
def _body_requests(host: str, a: Target | None, b: Target | None, auth: tuple[str, str] | None) -> list[Request]:
    return [
        Request(
            "aspect body_limit",
            "aspect",
            "https",
            host,
            _sample(a, b),
            "POST",
            _cred(a, b, auth),
            "a body just above ingress-nginx's 1 MiB default (proxy-body-size): 413 there",
            body_bytes=NGINX_BODY_LIMIT + 1,
            aspect="body_limit",
        )
    ]


def _limited(o: Observation) -> str:
    if o.error:
        return f"no answer ({o.outcome.value})"
    return f"refused ({o.status})" if o.status == 413 else f"accepted ({o.status})"


def _body_compare(request: Request, a: Observation, b: Observation, profile: Profile) -> list[Difference]:
    la, lb = _limited(a), _limited(b)
    if la.split()[0] == lb.split()[0]:
        return []
    if la.startswith("refused"):
        why = "B accepts a body above the 1 MiB A refuses: the limit ingress-nginx applied by default is gone"
    elif lb.startswith("refused"):
        why = "B refuses a body A accepted: uploads above B's limit break (proxy-body-size, buffer limits)"
    else:
        why = "the two sides treat a large body differently"
    return _diff(CHANGED, request, la, lb, why)


# --- request_id ---------------------------------------------------------------------------------------
def _rid_requests(host: str, a: Target | None, b: Target | None, auth: tuple[str, str] | None) -> list[Request]:
    return [
        Request(
            "aspect request_id",
            "aspect",
            "https",
            host,
            _sample(a, b),
            auth=_cred(a, b, auth),
            aspect="request_id",
            note="does the backend get an X-Request-ID the proxy generated (ingress-nginx does)",
        )
    ]


def _rid(o: Observation) -> str:
    if o.error or not o.echoes_headers:
        return "not shown"
    return "generated" if o.seen_header("x-request-id") else "none"


def _rid_compare(request: Request, a: Observation, b: Observation, profile: Profile) -> list[Difference]:
    ra, rb = _rid(a), _rid(b)
    if ra == rb or "not shown" in (ra, rb):
        return []
    if ra == "generated":
        return _diff(
            CHANGED,
            request,
            ra,
            rb,
            "the backend no longer gets an X-Request-ID: logs lose the id that ties proxy and application together",
        )
    return _diff(COSMETIC, request, ra, rb, "B adds an X-Request-ID A did not")


# --- acme_challenge -----------------------------------------------------------------------------------
def _acme_requests(host: str, a: Target | None, b: Target | None, auth: tuple[str, str] | None) -> list[Request]:
    return [
        Request(
            "aspect acme_challenge",
            "aspect",
            "http",
            host,
            ACME_PATH,
            aspect="acme_challenge",
            note="HTTP-01 challenges over plain HTTP (ingress-nginx serves them without the https redirect)",
        )
    ]


def _acme(o: Observation) -> str:
    if o.error:
        return f"no answer ({o.outcome.value})"
    if o.family == 3 and (o.header("location") or "").lower().startswith("https://"):
        return f"redirected to https ({o.status})"
    return f"served over http ({o.status})"


def _acme_compare(request: Request, a: Observation, b: Observation, profile: Profile) -> list[Difference]:
    va, vb = _acme(a), _acme(b)
    if va.split(" (")[0] == vb.split(" (")[0]:
        return []
    if va.startswith("served"):
        why = (
            "B redirects ACME HTTP-01 challenges to https: Let's Encrypt follows the redirect, but a solver that "
            "needs plain HTTP (no valid certificate yet) fails"
        )
        return _diff(CHANGED, request, va, vb, why)
    if vb.startswith("served"):
        return _diff(CHANGED, request, va, vb, "B serves the challenge path over plain HTTP where A redirected it")
    return _diff(
        CHANGED if a.error is None else COSMETIC, request, va, vb, "the challenge path is answered differently"
    )


# --- forwarded_proto ----------------------------------------------------------------------------------
def _fwd_requests(host: str, a: Target | None, b: Target | None, auth: tuple[str, str] | None) -> list[Request]:
    return [
        Request(
            "aspect forwarded_proto",
            "aspect",
            "http",
            host,
            _sample(a, b),
            headers=SPOOFED,
            aspect="forwarded_proto",
            note="plain HTTP claiming to be https: the redirect must not be skipped",
        )
    ]


def _fwd_compare(request: Request, a: Observation, b: Observation, profile: Profile) -> list[Difference]:
    if a.error or b.error or a.attempt.response is None or b.attempt.response is None:
        return []
    ja, jb = judge_forwarded_proto(a.attempt.response), judge_forwarded_proto(b.attempt.response)
    if ja.status is jb.status:
        return []
    if ja.status is Status.PASS:
        return _diff(
            BREAKING,
            request,
            ja.value,
            jb.value,
            "a client's X-Forwarded-Proto: https skips B's redirect: B trusts a forwarded header from anyone",
        )
    return _diff(
        CHANGED, request, ja.value, jb.value, "B keeps redirecting where A trusted the client's X-Forwarded-Proto"
    )


# --- identity_headers ---------------------------------------------------------------------------------
def _idh_requests(host: str, a: Target | None, b: Target | None, auth: tuple[str, str] | None) -> list[Request]:
    if not (_protected(a) or _protected(b)):
        return []
    names = tuple(dict.fromkeys(identity_headers(a) + identity_headers(b)))
    return [
        Request(
            "aspect identity_headers",
            "aspect",
            "https",
            host,
            _sample(a, b),
            auth=auth,
            headers=tuple((n, SPOOF) for n in names),
            aspect="identity_headers",
            note="identity headers sent by the client must not reach a protected backend",
        )
    ]


def _idh_compare(request: Request, a: Observation, b: Observation, profile: Profile) -> list[Difference]:
    names = tuple(n for n, _ in request.headers)
    ja = judge_identity_headers(a.status, a.echoes_headers, a.seen_header, names)
    jb = judge_identity_headers(b.status, b.echoes_headers, b.seen_header, names)
    if ja.value == jb.value or Status.SKIP in (ja.status, jb.status):
        return []
    if set(jb.passed_through) - set(ja.passed_through):
        return _diff(
            BREAKING,
            request,
            ja.value,
            jb.value,
            "a client's own identity header reaches B's backend as if the proxy had set it",
        )
    return _diff(CHANGED, request, ja.value, jb.value, "B strips identity headers A let through")


ASPECTS: tuple[Aspect, ...] = (
    Aspect("hsts", BREAKING, "Strict-Transport-Security on https answers", _hsts_requests, _hsts_compare),
    Aspect("http2", CHANGED, "HTTP/2 offered through ALPN", _http2_requests, _http2_compare),
    Aspect("body_limit", CHANGED, "a request body above 1 MiB: 413 or accepted", _body_requests, _body_compare),
    Aspect("request_id", CHANGED, "an X-Request-ID generated for the backend", _rid_requests, _rid_compare),
    Aspect("acme_challenge", CHANGED, "/.well-known/acme-challenge/ over plain HTTP", _acme_requests, _acme_compare),
    Aspect(
        "forwarded_proto", BREAKING, "a client's X-Forwarded-Proto: https over plain HTTP", _fwd_requests, _fwd_compare
    ),
    Aspect(
        "identity_headers", BREAKING, "client-sent identity headers at a protected backend", _idh_requests, _idh_compare
    ),
)
# redirect_code has no request of its own: it is the 3xx code of the matrix's plain-HTTP requests (_classify)
ASPECT_NAMES = (
    "hsts",
    "http2",
    "redirect_code",
    "body_limit",
    "request_id",
    "acme_challenge",
    "forwarded_proto",
    "identity_headers",
)
_BY_NAME = {a.name: a for a in ASPECTS}


def aspect_requests(host: str, a: Target | None, b: Target | None, *, auth: tuple[str, str] | None) -> list[Request]:
    return [r for aspect in ASPECTS for r in aspect.requests(host, a, b, auth)]


def compare_aspect(request: Request, a: Observation, b: Observation, profile: Profile) -> list[Difference]:
    aspect = _BY_NAME.get(request.aspect or "")
    return aspect.compare(request, a, b, profile) if aspect is not None else []
