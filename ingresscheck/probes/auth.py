"""auth: the basic-auth annotations do what they promise, and no typo leaves a site open.

For an Ingress with ``auth-type: basic``: no credentials get 401 with ``WWW-Authenticate: Basic
realm="<auth-realm>"``; wrong ones get 401; known-good ones (from the profile, or with
--use-auth-secrets from a Secret that holds them) get 2xx; and plain HTTP redirects before it
asks, since browsers would otherwise send the password in clear. Static part: the auth-secret
exists with a parseable ``auth`` key (counts only), and nginx annotation names are real.
"""

from __future__ import annotations

import secrets

from .. import annotations as nginx_annotations
from ..errors import UsageError
from ..results import Severity, Step
from ._contract import CheckSpec, Probe, ProbeContext

REDIRECTS = (301, 302, 303, 307, 308)


class AuthProbe(Probe):
    name = "auth"
    needs = ("dns", "tls")
    checks = (
        CheckSpec("auth.challenge", Step.INGRESS, Severity.CRITICAL,
                  "no credentials get 401 with the annotated Basic realm",
                  "Check auth-type, auth-secret and auth-realm on the Ingress and that the controller supports "
                  "basic auth; without the challenge the site is open."),
        CheckSpec("auth.wrong_credentials", Step.INGRESS, Severity.CRITICAL, "wrong credentials get 401",
                  "The auth Secret accepts credentials it should not: check its htpasswd lines."),
        CheckSpec("auth.good_credentials", Step.INGRESS, Severity.MAJOR, "known-good credentials get 2xx",
                  "The known user is refused: check the htpasswd line for that user in the auth Secret.",
                  gates=False),
        CheckSpec("auth.redirect_first", Step.LB, Severity.CRITICAL,
                  "plain HTTP redirects to https before any password is asked for",
                  "Redirect http to https before authentication (LB redirect or ssl-redirect), or browsers send "
                  "the password in clear."),
        CheckSpec("auth.secret", Step.INGRESS, Severity.CRITICAL,
                  "the auth-secret exists and its `auth` key holds valid htpasswd lines",
                  "Create the Secret named by auth-secret in the Ingress namespace with key `auth` holding "
                  "htpasswd lines (htpasswd -c auth USER; kubectl create secret generic NAME --from-file=auth)."),
        CheckSpec("auth.annotation_typos", Step.INGRESS, Severity.MAJOR,
                  "every nginx.ingress.kubernetes.io annotation is a real one",
                  "Rename the annotation to the intended one: controllers silently ignore unknown names, so "
                  "a typo in auth-type leaves the site open.", gates=False),
    )

    async def run(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        _typos(ctx)
        if (target.auth_type or "").lower() != "basic":
            return
        self._secret(ctx)
        port = ctx.profile.https_port
        addresses, _ = await ctx.net.addresses_for(target.host, port)
        if not addresses:
            for c in ("auth.challenge", "auth.wrong_credentials", "auth.good_credentials", "auth.redirect_first"):
                ctx.skipped(c, f"no address to connect to for {target.host}")
            return
        address = addresses[0]
        base = f"https://{target.host}{'' if port == 443 else f':{port}'}{target.sample_path}"
        realm = target.auth_realm

        ex = await ctx.net.request("GET", base, address)
        challenge = ex.headers.get("www-authenticate", "")
        expected = f'Basic realm="{realm}"' if realm is not None else "Basic realm=..."
        ev = {**ex.summary(), "expected_challenge": expected}
        if ex.status != 401:
            ctx.failed("auth.challenge", f"{base} without credentials answered {ex.status} instead of 401: the "
                                         f"site is open", **ev)
        elif not challenge.lower().startswith("basic"):
            ctx.failed("auth.challenge", f"401 without a Basic challenge (WWW-Authenticate: {challenge!r})", **ev)
        elif realm is not None and challenge != expected:
            ctx.failed("auth.challenge", f"401 with {challenge!r}, expected {expected!r} (auth-realm)", **ev)
        else:
            ctx.passed("auth.challenge", f"401 with {challenge}", **ev)

        wrong = (f"ingresscheck-{secrets.token_hex(3)}", secrets.token_urlsafe(12))
        ex = await ctx.net.request("GET", base, address, auth=wrong)
        ev = {**ex.summary(), "credentials": "random user and password"}
        if ex.status == 401:
            ctx.passed("auth.wrong_credentials", "random credentials get 401", **ev)
        else:
            ctx.failed("auth.wrong_credentials", f"random credentials got {ex.status}", **ev)

        good = credentials_for(ctx)
        if good is None:
            ctx.skipped("auth.good_credentials", f"no credentials for {target.host} in the profile (credentials are "
                                                 f"opt-in; see --use-auth-secrets)")
        else:
            ex = await ctx.net.request("GET", base, address, auth=good)
            ev = {**ex.summary(), "credentials": f"user {good[0]} from the profile"}
            if 200 <= ex.status < 300:
                ctx.passed("auth.good_credentials", f"user {good[0]} gets {ex.status}", **ev)
            else:
                ctx.failed("auth.good_credentials", f"user {good[0]} got {ex.status} {ex.reason}", **ev)

        http_port = ctx.profile.http_port
        plain = f"http://{target.host}{'' if http_port == 80 else f':{http_port}'}{target.sample_path}"
        http_addresses, _ = await ctx.net.addresses_for(target.host, http_port)
        ex = await ctx.net.request("GET", plain, http_addresses[0] if http_addresses else address)
        ev = ex.summary()
        if ex.status in REDIRECTS and ex.headers.get("location", "").startswith("https://"):
            ctx.passed("auth.redirect_first", f"plain HTTP is redirected ({ex.status}) before credentials are asked",
                       **ev)
        elif ex.status == 401:
            ctx.failed("auth.redirect_first", f"{plain} asks for the password over plain HTTP (401): browsers would "
                                              f"send it in clear", **ev)
        else:
            ctx.warned("auth.redirect_first", f"{plain} answered {ex.status}: neither a redirect to https nor a "
                                              f"challenge", **ev)

    def _secret(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        ref = target.annotation("auth-secret")
        if not ref:
            ctx.failed("auth.secret", "auth-type is basic but there is no auth-secret annotation")
            return
        ns, _, name = ref.rpartition("/")
        key = (ns or target.namespace, name)
        if key not in ctx.inventory.secrets:
            ctx.skipped("auth.secret", f"Secret {key[0]}/{key[1]} was not read (no permission or offline)")
            return
        info = ctx.inventory.secrets[key]
        if info is None:
            ctx.failed("auth.secret", f"Secret {key[0]}/{key[1]} named by auth-secret does not exist")
        elif "auth" not in info.keys:
            ctx.failed("auth.secret", f"Secret {key[0]}/{key[1]} has no key `auth` (keys: {', '.join(info.keys)})",
                       keys=list(info.keys))
        elif not info.htpasswd_lines:
            ctx.failed("auth.secret", f"Secret {key[0]}/{key[1]} key `auth` has no valid htpasswd line "
                                      f"({info.htpasswd_invalid or 0} invalid)",
                       valid_lines=0, invalid_lines=info.htpasswd_invalid)
        elif info.htpasswd_invalid:
            ctx.warned("auth.secret", f"Secret {key[0]}/{key[1]}: {info.htpasswd_lines} valid htpasswd line(s), "
                                      f"{info.htpasswd_invalid} invalid", valid_lines=info.htpasswd_lines,
                       invalid_lines=info.htpasswd_invalid)
        else:
            ctx.passed("auth.secret", f"Secret {key[0]}/{key[1]} has {info.htpasswd_lines} htpasswd line(s)",
                       valid_lines=info.htpasswd_lines, invalid_lines=0)


def _typos(ctx: ProbeContext) -> None:
    target = ctx.require_target
    unknown = nginx_annotations.unknown(target.annotations)
    if not unknown:
        if nginx_annotations.nginx_names(target.annotations):
            ctx.passed("auth.annotation_typos", "every nginx annotation name is known")
        return
    parts = [f"{nginx_annotations.PREFIX}{name}" + (f" (did you mean {suggestion}?)" if suggestion else "")
             for name, suggestion in unknown]
    ctx.warned("auth.annotation_typos", "unknown annotation " + "; ".join(parts) + ": it is silently ignored",
               unknown=[{"annotation": n, "suggestion": s} for n, s in unknown])


def credentials_for(ctx: ProbeContext) -> tuple[str, str] | None:
    """Known-good credentials for the target's host: profile first; cluster Secret only if allowed."""
    target = ctx.require_target
    cred = ctx.profile.credentials.get(target.host)
    if cred is not None:
        try:
            return cred.username, cred.password()
        except UsageError:
            return None
    ref = target.annotation("auth-secret")
    if ctx.options.get("use_auth_secrets") and ref:
        ns, _, name = ref.rpartition("/")
        return ctx.inventory.credentials.get((ns or target.namespace, name))
    return None
