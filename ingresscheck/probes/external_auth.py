"""external_auth: the external-auth annotations (auth-url, auth-signin, auth-response-headers) on the wire.

For an Ingress with ``auth-url``, on every address of the host:

- **no session**: the request must meet the challenge (401) or a redirect to ``auth-signin``; the backend
  answering is a critical failure (the site is open).
- **signed in**: the sign-in redirects are followed as a browser would (cookies kept per host, at most
  ``MAX_HOPS``): the controller's redirect, the auth service's start, the identity provider, the callback.
  When they lead back with a session, the request must reach the backend, and an echo backend must show
  every ``auth-response-headers`` header. A flow that stops at a page (a login form) needs a person: skipped.
- **auth service down**: the auth-url is asked directly when this machine can reach it. When it refuses or
  does not answer, the host must answer 5xx, never the backend: failing open is a critical failure.

An Ingress that shows the intent (auth-signin or auth-response-headers) without a usable auth-url is
checked too: answering without any challenge is a critical failure that names the missing annotation.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from urllib.parse import urljoin, urlsplit

from .. import annotations as nginx_annotations
from ..discovery import Target
from ..net import Attempt, Outcome
from ..net import where as net_where
from ..results import Severity, Step
from ._access import echoed, echoed_headers
from ._contract import CheckSpec, Probe, ProbeContext

CHECK = "auth.external"
REDIRECTS = (301, 302, 303, 307, 308)
MAX_HOPS = 10


class ExternalAuthProbe(Probe):
    name = "external_auth"
    needs = ("dns", "tls")
    checks = (
        CheckSpec(
            CHECK,
            Step.INGRESS,
            Severity.CRITICAL,
            "no session gets the challenge or the sign-in redirect; a signed-in session reaches the backend with "
            "the auth-response-headers; a stopped auth service gets 5xx, never the backend",
            "Check auth-url (reachable from the controller, answering 401 without a session), auth-signin and "
            "auth-response-headers, and that the controller implements external auth; a controller that serves "
            "the backend when the auth service fails is open.",
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        auth_url = target.annotation("auth-url")
        why_off = None if auth_url else intent_without_url(target)
        if not auth_url and why_off is None:
            return
        port = ctx.profile.https_port
        addresses, _ = await ctx.net.addresses_for(target.request_host, port)
        if not addresses:
            ctx.skipped(CHECK, f"no address to connect to for {target.host}")
            return
        shaken = ctx.fact("tls", "addresses")
        base = f"https://{target.request_host}{'' if port == 443 else f':{port}'}{target.sample_path}"
        service = await _auth_service(ctx, auth_url) if auth_url else None
        for address in addresses:
            where = net_where(address, port)
            if shaken is not None and address not in shaken:
                ctx.skipped(CHECK, f"skipped for {where}: no TLS handshake there (see tls.handshake)", subject=where)
                continue
            first = await ctx.net.request("GET", base, address)
            if why_off is not None:
                _intended(ctx, first, where, why_off)
                continue
            assert auth_url is not None
            down = service is not None and not service.ok
            if down:
                assert service is not None
                _while_down(ctx, first, where, auth_url, service)
                continue
            location = _no_session(ctx, first, where, target)
            if location is not None:
                await _signed_in(ctx, base, address, where, location, target)


def intent_without_url(target: Target) -> str | None:
    """Why an Ingress that shows the intent of external auth is not protected by it, or None."""
    typo = [
        f"{nginx_annotations.PREFIX}{name}"
        for name, suggestion in nginx_annotations.unknown(target.annotations)
        if suggestion == "auth-url"
    ]
    intent = [n for n in ("auth-signin", "auth-response-headers") if target.annotation(n)]
    if typo:
        return f"auth-url is misspelled ({', '.join(typo)}), so controllers ignore it"
    if intent:
        return f"{' and '.join(intent)} {'is' if len(intent) == 1 else 'are'} set but auth-url is missing"
    return None


async def _auth_service(ctx: ProbeContext, auth_url: str) -> Attempt | None:
    """The auth-url asked directly (no session), when this machine can reach it: None when it cannot tell
    (a name only the cluster resolves, variables the controller fills in)."""
    if "$" in auth_url:
        return None
    parts = urlsplit(auth_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses, _ = await ctx.net.addresses_for(parts.hostname, port)
    if not addresses:
        return None
    attempt = await ctx.net.request("GET", auth_url, addresses[0], keep_alive=False)
    if attempt.outcome in (Outcome.REFUSED, Outcome.RESET, Outcome.TIMEOUT, Outcome.UNREACHABLE):
        return attempt
    return attempt if attempt.ok else None


def _backend_story(attempt: Attempt) -> str:
    body = echoed(attempt.response)
    if body and body.get("pod"):
        return f" (pod {body.get('namespace')}/{body.get('pod')} answered)"
    return ""


def _intended(ctx: ProbeContext, attempt: Attempt, where: str, why_off: str) -> None:
    subject = f"no session via {where}"
    if not attempt.ok or attempt.response is None:
        ctx.not_completed(CHECK, attempt, subject=subject, what=f"GET {attempt.subject.url} without a session")
        return
    status = attempt.response.status
    evidence = {**attempt.evidence(), "why_protection_is_off": why_off}
    if status in (401, 403) or status in REDIRECTS:
        ctx.passed(
            CHECK,
            f"{attempt.subject.url} without a session answered {status} via {where}, although {why_off}",
            subject=subject,
            evidence=evidence,
        )
    else:
        ctx.failed(
            CHECK,
            f"{attempt.subject.url} answered {status} without a session via {where}{_backend_story(attempt)}: the "
            f"annotations ask for external auth but {why_off}, so the site is open",
            subject=subject,
            evidence=evidence,
        )


def _while_down(ctx: ProbeContext, attempt: Attempt, where: str, auth_url: str, service: Attempt) -> None:
    subject = f"auth service down via {where}"
    evidence = {**attempt.evidence(), "auth_service": {"url": auth_url, **service.evidence()["attempt"]}}
    if not attempt.ok or attempt.response is None:
        ctx.not_completed(CHECK, attempt, subject=subject, what=f"GET {attempt.subject.url}", evidence=evidence)
        return
    status = attempt.response.status
    if 500 <= status < 600:
        ctx.warned(
            CHECK,
            f"the auth service is down ({service.reason}) and {attempt.subject.url} fails closed ({status}) via "
            f"{where}: nobody gets in, nobody unauthenticated either",
            subject=subject,
            evidence=evidence,
        )
    elif 200 <= status < 300:
        ctx.failed(
            CHECK,
            f"fails open: the auth service is down ({service.reason}) and {attempt.subject.url} answered {status} "
            f"via {where}{_backend_story(attempt)}: the backend is served without authentication",
            subject=subject,
            evidence=evidence,
        )
    else:
        ctx.warned(
            CHECK,
            f"the auth service is down ({service.reason}) and {attempt.subject.url} answered {status} via {where}: "
            f"not the backend, but not the 5xx a failed auth subrequest gives either",
            subject=subject,
            evidence=evidence,
        )


def _no_session(ctx: ProbeContext, attempt: Attempt, where: str, target: Target) -> str | None:
    """Judge the request without a session; returns the sign-in Location to follow, if any."""
    subject = f"no session via {where}"
    url = attempt.subject.url
    if not attempt.ok or attempt.response is None:
        ctx.not_completed(CHECK, attempt, subject=subject, what=f"GET {url} without a session")
        return None
    response = attempt.response
    signin = target.annotation("auth-signin")
    evidence = {
        **attempt.evidence(),
        "auth_url": target.annotation("auth-url"),
        **({"auth_signin": signin} if signin else {}),
    }
    status = response.status
    location = response.header("location")
    if 200 <= status < 300:
        ctx.failed(
            CHECK,
            f"{url} without a session answered {status} via {where}{_backend_story(attempt)}: the site is open "
            f"(the auth-url accepted an unauthenticated request, or the controller ignores it)",
            subject=subject,
            evidence=evidence,
        )
        return None
    if status in REDIRECTS and location:
        if signin and not _same_page(location, signin, url or ""):
            ctx.failed(
                CHECK,
                f"{url} without a session redirects ({status}) to {location} via {where}, not to the auth-signin "
                f"{signin}",
                subject=subject,
                evidence=evidence,
            )
            return None
        ctx.passed(
            CHECK,
            f"{url} without a session is sent to sign in ({status} to {location}) via {where}",
            subject=subject,
            evidence=evidence,
        )
        return urljoin(url or "", location)
    if status == 401:
        if signin:
            ctx.failed(
                CHECK,
                f"{url} without a session answered 401 via {where}, but auth-signin asks for a redirect to {signin}",
                subject=subject,
                evidence=evidence,
            )
        else:
            ctx.passed(CHECK, f"{url} without a session gets 401 via {where}", subject=subject, evidence=evidence)
        return None
    if status >= 500:
        ctx.failed(
            CHECK,
            f"{url} without a session answered {status} via {where} although the auth service answers: the "
            f"controller cannot use the auth-url (check that the controller reaches it)",
            subject=subject,
            evidence=evidence,
        )
        return None
    ctx.failed(
        CHECK,
        f"{url} without a session answered {status} via {where}: neither the challenge (401) nor a redirect to sign in",
        subject=subject,
        evidence=evidence,
    )
    return None


def _same_page(location: str, signin: str, url: str) -> bool:
    """Whether a redirect goes where auth-signin points (scheme, host and path; the controller fills in the
    query's variables)."""
    got = urlsplit(urljoin(url, location))
    want = urlsplit(signin)
    want_host = want.hostname or ""
    host_ok = "$" in want_host or want_host == (got.hostname or "")
    path_ok = "$" in want.path or want.path.rstrip("/") == got.path.rstrip("/")
    return host_ok and path_ok and (want.scheme in ("", got.scheme) or "$" in want.scheme)


async def _signed_in(ctx: ProbeContext, base: str, address: str, where: str, location: str, target: Target) -> None:
    """Follow the sign-in flow like a browser; then the backend must answer, with the response headers."""
    subject = f"signed in via {where}"
    jar: dict[str, dict[str, str]] = {}
    hops: list[dict[str, object]] = []
    url = location
    want_host = (urlsplit(base).hostname or "").lower()
    final: Attempt | None = None
    for _ in range(MAX_HOPS):
        attempt = await _hop(ctx, url, address, want_host, jar)
        hops.append({"url": _without_query(url), "status": attempt.status, "outcome": attempt.outcome.value})
        if not attempt.ok or attempt.response is None:
            ctx.not_completed(CHECK, attempt, subject=subject, what=f"sign-in step {url}", evidence={"hops": hops})
            return
        _keep_cookies(jar, attempt)
        response = attempt.response
        if response.status in REDIRECTS and response.header("location"):
            url = urljoin(url, response.header("location"))
            continue
        final = attempt
        break
    else:
        ctx.failed(CHECK, f"the sign-in flow did not end within {MAX_HOPS} redirects", subject=subject)
        return
    assert final is not None and final.response is not None
    if (urlsplit(final.subject.url or "").hostname or "").lower() != want_host:
        ctx.skipped(
            CHECK,
            f"the sign-in stops at {_without_query(final.subject.url or '')} ({final.response.status}): it needs a "
            f"person to log in, so the signed-in request was not tried",
            subject=subject,
            evidence={"hops": hops},
        )
        return
    # the flow came back to the host: ask for the page once more with the session, as the browser does
    attempt = await _hop(ctx, base, address, want_host, jar)
    evidence = {
        **attempt.evidence(),
        "hops": hops,
        "session_cookies": sorted(jar.get(want_host, {})),  # names only: values are credentials
    }
    if not attempt.ok or attempt.response is None:
        ctx.not_completed(CHECK, attempt, subject=subject, what=f"GET {base} signed in", evidence=evidence)
        return
    status = attempt.response.status
    if not 200 <= status < 300:
        ctx.failed(
            CHECK,
            f"after the sign-in flow ({len(hops)} steps) {base} answered {status} via {where}: the session does not "
            f"get through the auth-url",
            subject=subject,
            evidence=evidence,
        )
        return
    wanted = [h.strip() for h in (target.annotation("auth-response-headers") or "").split(",") if h.strip()]
    seen = echoed_headers(attempt.response)
    if wanted and seen is None:
        ctx.passed(
            CHECK,
            f"signed in through the real flow ({len(hops)} steps), {base} answered {status} via {where}; the backend "
            f"does not echo requests, so whether it received {', '.join(wanted)} was not seen",
            subject=subject,
            evidence=evidence,
        )
        return
    missing = [h for h in wanted if seen is not None and h.lower() not in seen]
    if missing:
        ctx.failed(
            CHECK,
            f"signed in, {base} reached the backend via {where} without {', '.join(missing)} "
            f"(auth-response-headers): the controller does not pass the auth service's headers on",
            subject=subject,
            evidence=evidence,
        )
        return
    got = {h: (seen or {}).get(h.lower(), "") for h in wanted}
    evidence["response_headers_at_backend"] = got
    shown = ", ".join(f"{h}: {v}" for h, v in got.items())
    ctx.passed(
        CHECK,
        f"signed in through the real flow ({len(hops)} steps), the backend answered {status} via {where}"
        + (f" and received {shown}" if shown else ""),
        subject=subject,
        evidence=evidence,
    )


async def _hop(ctx: ProbeContext, url: str, address: str, host: str, jar: dict[str, dict[str, str]]) -> Attempt:
    """One step of the flow: the protected host through the chosen address, any other host where it resolves."""
    parts = urlsplit(url)
    name = (parts.hostname or "").lower()
    if name == host:
        to = address
    else:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found, _ = await ctx.net.addresses_for(name, port)
        to = found[0] if found else name
    cookies = {
        k: v for domain, kept in jar.items() if name == domain or name.endswith("." + domain) for k, v in kept.items()
    }
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
    return await ctx.net.request("GET", url, to, headers=headers)


def _keep_cookies(jar: dict[str, dict[str, str]], attempt: Attempt) -> None:
    assert attempt.response is not None
    name = (urlsplit(attempt.subject.url or "").hostname or "").lower()
    for header, value in attempt.response.headers:
        if header != "set-cookie":
            continue
        try:
            parsed = SimpleCookie(value)
        except CookieError:
            continue
        for key, morsel in parsed.items():
            domain = (morsel["domain"] or name).lstrip(".").lower()
            if morsel["max-age"] == "0" or not morsel.value:
                jar.get(domain, {}).pop(key, None)
            else:
                jar.setdefault(domain, {})[key] = morsel.value


def _without_query(url: str) -> str:
    """A URL for evidence: codes and state travel in the query, so it is left out."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")
