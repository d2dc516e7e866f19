"""cors: an Ingress with ``enable-cors`` answers CORS as its annotations say, and only to the origins they allow.

Four requests per host, each its own subject:

- an OPTIONS preflight from an allowed origin gets ``Access-Control-Allow-Origin`` for it, and the methods,
  headers, credentials flag and max-age that ``cors-allow-methods``/``-headers``/``-credentials``/``max-age``
  set (only the annotations that are set are compared: defaults differ between controllers);
- a preflight from a foreign origin (``https://ingresscheck-foreign.invalid``) is not allowed: no
  ``Access-Control-Allow-Origin`` naming it, and no ``*`` (unless ``cors-allow-origin`` is ``*``);
- a simple GET from the allowed origin gets ``Access-Control-Allow-Origin``, from the foreign one it does not.

A foreign origin that is allowed fails: a browser would hand that origin the responses (with credentials,
the user's). Annotations the profile's controller ignores are reported as ignored, not tested.

HTTPRoute targets: the rule's ``CORS`` filter (``allowOrigins``, ``allowMethods``, ``allowHeaders``,
``allowCredentials``, ``maxAge``) is judged the same way. An implementation that declares the feature
unsupported in its conformance report (Traefik v3.7: HTTPRouteCORS) is reported as "not supported by this
implementation" (skip), not failed; what its data plane then does with the route is routing.backend's.
"""

from __future__ import annotations

from typing import Any

from ..discovery.gateway import gateway_controller
from ..discovery.model import Target
from ..results import Severity, Step
from ._contract import CheckSpec, Probe, ProbeContext
from ._traffic import Answer, ask, first_address, https_base, ignored_note, skip_if_ignored, truthy

FOREIGN = "https://ingresscheck-foreign.invalid"
CHECK = "cors.preflight"
_DETAILS = ("cors-allow-origin", "cors-allow-methods", "cors-allow-headers", "cors-allow-credentials", "cors-max-age")


# GatewayClass controllers whose conformance report lists HTTPRouteCORS as unsupported.
CORS_UNSUPPORTED = {"traefik.io/gateway-controller": "Traefik v3.7 declares HTTPRouteCORS unsupported"}


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def allowed_origin(configured: list[str]) -> str | None:
    """An origin ``cors-allow-origin`` allows, to send; None when it allows every origin (``*`` or unset)."""
    for origin in configured:
        if origin != "*":
            return origin.replace("*", "ingresscheck", 1)  # ingress-nginx allows https://*.example.com
    return None


def expectations(t: Target) -> dict[str, Any]:
    """What the annotations that are set promise about a preflight's answer."""
    out: dict[str, Any] = {}
    if t.annotation("cors-allow-methods") is not None:
        out["methods"] = {m.upper() for m in _split(t.annotation("cors-allow-methods"))}
    if t.annotation("cors-allow-headers") is not None:
        out["headers"] = {h.lower() for h in _split(t.annotation("cors-allow-headers"))}
    if t.annotation("cors-allow-credentials") is not None:
        out["credentials"] = truthy(t.annotation("cors-allow-credentials"))
    if t.annotation("cors-max-age") is not None:
        out["max_age"] = (t.annotation("cors-max-age") or "").strip()
    return out


def route_cors(ctx: ProbeContext, t: Target) -> dict[str, Any] | None:
    """The CORS filter of the HTTPRoute behind ``t`` (the first rule carrying one), or None."""
    for route in ctx.inventory.http_routes:
        meta = route.get("metadata") or {}
        if (meta.get("namespace", "default"), meta.get("name")) != (t.namespace, t.name):
            continue
        for rule in (route.get("spec") or {}).get("rules") or []:
            for f in rule.get("filters") or []:
                if f.get("type") == "CORS":
                    return dict(f.get("cors") or {})
    return None


def route_expectations(cors: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """(configured origins, what the preflight's answer must hold) from an HTTPRoute CORS filter."""
    out: dict[str, Any] = {}
    if cors.get("allowMethods"):
        out["methods"] = {str(m).upper() for m in cors["allowMethods"]}
    if cors.get("allowHeaders"):
        out["headers"] = {str(h).lower() for h in cors["allowHeaders"]}
    if "allowCredentials" in cors:
        out["credentials"] = bool(cors["allowCredentials"])
    if "maxAge" in cors:
        out["max_age"] = str(cors["maxAge"])
    return [str(o) for o in cors.get("allowOrigins") or []] or ["*"], out


def judge_preflight(response_headers: dict[str, str], origin: str, expect: dict[str, Any]) -> list[str]:
    """What is wrong with an allowed origin's preflight answer (empty: as configured)."""
    wrong = []
    acao = response_headers.get("access-control-allow-origin", "")
    if acao not in (origin, "*"):
        wrong.append(f"Access-Control-Allow-Origin is {acao or 'missing'}, not {origin}")
    if "methods" in expect:
        got = {m.strip().upper() for m in response_headers.get("access-control-allow-methods", "").split(",") if m}
        if not expect["methods"] <= got:
            missing = ", ".join(sorted(expect["methods"] - got))
            wrong.append(f"Access-Control-Allow-Methods lacks {missing}")
    if "headers" in expect:
        got = {h.strip().lower() for h in response_headers.get("access-control-allow-headers", "").split(",") if h}
        if not expect["headers"] <= got:
            wrong.append(f"Access-Control-Allow-Headers lacks {', '.join(sorted(expect['headers'] - got))}")
    if "credentials" in expect:
        got_cred = response_headers.get("access-control-allow-credentials", "").lower() == "true"
        if got_cred != expect["credentials"]:
            wrong.append(
                "Access-Control-Allow-Credentials is "
                + (response_headers.get("access-control-allow-credentials") or "missing")
                + f", not {'true' if expect['credentials'] else 'absent'}"
            )
    if "max_age" in expect and response_headers.get("access-control-max-age", "") != expect["max_age"]:
        wrong.append(
            f"Access-Control-Max-Age is {response_headers.get('access-control-max-age') or 'missing'}, "
            f"not {expect['max_age']}"
        )
    return wrong


def foreign_allowed(response_headers: dict[str, str], every_origin: bool) -> str | None:
    """Why the foreign origin is allowed, or None when it is not."""
    acao = response_headers.get("access-control-allow-origin", "")
    if acao == FOREIGN:
        return f"Access-Control-Allow-Origin names the foreign origin {FOREIGN}"
    if acao == "*" and not every_origin:
        return "Access-Control-Allow-Origin is *: every origin is allowed, not only the configured ones"
    return None


class CorsProbe(Probe):
    name = "cors"
    needs = ("dns",)
    checks = (
        CheckSpec(
            CHECK,
            Step.INGRESS,
            Severity.MAJOR,
            "`enable-cors`: a preflight and a GET from an allowed origin get the configured `Access-Control-*` "
            "headers; a foreign origin is not allowed",
            "Compare enable-cors and cors-allow-origin/-methods/-headers/-credentials/max-age with what the "
            "controller answers (OPTIONS with Origin and Access-Control-Request-Method); a foreign origin must not "
            "be allowed, least of all with credentials.",
            gates=False,
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        t = ctx.require_target
        note, origin_source = "", "cors-allow-origin"
        untested: list[str] = []
        if t.kind == "HTTPRoute":
            origin_source = "the HTTPRoute CORS filter's allowOrigins"
            cors = route_cors(ctx, t)
            if cors is None:
                return
            controller = gateway_controller(ctx.inventory, t.gateway)
            if controller in CORS_UNSUPPORTED:
                ctx.skipped(
                    CHECK,
                    f"not supported by this implementation: {CORS_UNSUPPORTED[controller]} (GatewayClass controller "
                    f"{controller}); the route's CORS filter is not tested",
                    evidence={"controller": controller, "filter": cors},
                )
                return
            configured, expect = route_expectations(cors)
        elif t.kind == "Ingress" and truthy(t.annotation("enable-cors")):
            if skip_if_ignored(ctx, CHECK, t, "enable-cors"):
                return
            note, untested = ignored_note(ctx, t, list(_DETAILS))
            configured = _split(t.annotation("cors-allow-origin")) or ["*"]
            expect = {k: v for k, v in expectations(t).items() if not (untested and _annotation_of(k) in untested)}
        else:
            return
        address, source = await first_address(ctx, t)
        if address is None:
            ctx.skipped(CHECK, f"no address to connect to for {t.host}")
            return
        origin = allowed_origin(configured)
        every_origin = origin is None
        origin = origin or "https://ingresscheck-origin.invalid"
        method = sorted(expect.get("methods") or {"GET"})[0]
        url = https_base(ctx, t.request_host) + t.sample_path
        ev: dict[str, Any] = {
            "address": address,
            "address_from": source,
            "configured_origins": configured,
            "expected": {k: sorted(v) if isinstance(v, set) else v for k, v in expect.items()},
            **({"ignored_by_controller": untested} if untested else {}),
        }

        def preflight_headers(o: str) -> dict[str, str]:
            h = {"Origin": o, "Access-Control-Request-Method": method}
            if expect.get("headers"):
                h["Access-Control-Request-Headers"] = ", ".join(sorted(expect["headers"]))
            return h

        allowed = await ask(ctx, url, address, preflight_headers(origin), method="OPTIONS")
        self._allowed(ctx, allowed, origin, expect, f"preflight from {origin}", ev, note)
        simple = await ask(ctx, url, address, {"Origin": origin})
        self._allowed(ctx, simple, origin, {}, f"GET from {origin}", ev, note)
        if every_origin:
            ctx.passed(
                CHECK,
                f"{origin_source} allows every origin (*): no origin is foreign to {t.host}{note}",
                evidence=ev,
                subject="foreign origin",
            )
            return
        for what, answer in (
            ("preflight", await ask(ctx, url, address, preflight_headers(FOREIGN), method="OPTIONS")),
            ("GET", await ask(ctx, url, address, {"Origin": FOREIGN})),
        ):
            self._foreign(ctx, answer, what, ev, note)

    def _allowed(
        self,
        ctx: ProbeContext,
        answer: Answer,
        origin: str,
        expect: dict[str, Any],
        subject: str,
        ev: dict[str, Any],
        note: str,
    ) -> None:
        if not answer.ok:
            ctx.not_completed(CHECK, answer.attempt, subject=subject, what=subject, evidence=ev)
            return
        r = answer.attempt.response
        assert r is not None
        evidence = {**ev, **answer.attempt.evidence()}
        if r.status >= 400:
            ctx.failed(CHECK, f"{subject}: answered {r.status} {r.reason}", evidence=evidence, subject=subject)
            return
        wrong = judge_preflight(r.header_map, origin, expect)
        if wrong:
            ctx.failed(CHECK, f"{subject}: " + "; ".join(wrong), evidence=evidence, subject=subject)
        else:
            said = ", ".join(f"{k}: {v}" for k, v in r.header_map.items() if k.startswith("access-control-"))
            ctx.passed(
                CHECK, f"{subject}: {r.status}, as configured ({said}){note}", evidence=evidence, subject=subject
            )

    def _foreign(self, ctx: ProbeContext, answer: Answer, what: str, ev: dict[str, Any], note: str) -> None:
        subject = f"{what} from a foreign origin"
        if not answer.ok:
            ctx.not_completed(CHECK, answer.attempt, subject=subject, what=subject, evidence=ev)
            return
        r = answer.attempt.response
        assert r is not None
        evidence = {**ev, **answer.attempt.evidence(), "foreign_origin": FOREIGN}
        why = foreign_allowed(r.header_map, every_origin=False)
        if why:
            cred = r.header("access-control-allow-credentials").lower() == "true"
            ctx.failed(
                CHECK,
                f"{subject} ({FOREIGN}) is allowed: {why}" + (", with credentials" if cred else ""),
                evidence=evidence,
                subject=subject,
            )
        else:
            ctx.passed(
                CHECK,
                f"{subject} ({FOREIGN}) gets no Access-Control-Allow-Origin: not allowed{note}",
                evidence=evidence,
                subject=subject,
            )


def _annotation_of(key: str) -> str:
    return {
        "methods": "cors-allow-methods",
        "headers": "cors-allow-headers",
        "credentials": "cors-allow-credentials",
        "max_age": "cors-max-age",
    }[key]


__all__ = [
    "FOREIGN",
    "CorsProbe",
    "allowed_origin",
    "expectations",
    "foreign_allowed",
    "judge_preflight",
    "route_expectations",
]
