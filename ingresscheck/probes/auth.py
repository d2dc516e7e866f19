"""auth: the basic-auth annotations do what they promise, on every address of the host.

For an Ingress with ``auth-type: basic``: no credentials get 401 with ``WWW-Authenticate: Basic
realm="<auth-realm>"``; wrong ones get 401; known-good ones (from the profile, or with
--use-auth-secrets from the cluster Secret that holds them) get 2xx; and plain HTTP redirects before
it asks, since browsers would otherwise send the password in clear.

An Ingress whose annotations show the intent to protect it (auth-secret or auth-realm set, or a
misspelled auth-type) without a working ``auth-type: basic`` is checked too: if it answers without
a challenge, that is a critical failure of the auth chain, and the message says why protection is
off. The Secret and annotation-name checks need no network: they are ``auth_config``'s.
"""

from __future__ import annotations

import secrets

from .. import annotations as nginx_annotations
from ..discovery import Target
from ..errors import UsageError
from ..net import where as net_where
from ..profile import Profile
from ..results import Severity, Step, nonce
from ._contract import CheckSpec, Probe, ProbeContext, ProbeOptions

REDIRECTS = (301, 302, 303, 307, 308)


class AuthProbe(Probe):
    name = "auth"
    needs = ("dns", "tls")
    checks = (
        CheckSpec(
            "auth.challenge",
            Step.INGRESS,
            Severity.CRITICAL,
            "no credentials get 401 with the annotated Basic realm",
            "Check auth-type, auth-secret and auth-realm on the Ingress and that the controller supports "
            "basic auth; without the challenge the site is open.",
        ),
        CheckSpec(
            "auth.wrong_credentials",
            Step.INGRESS,
            Severity.CRITICAL,
            "wrong credentials get 401",
            "The auth Secret accepts credentials it should not: check its htpasswd lines.",
        ),
        CheckSpec(
            "auth.good_credentials",
            Step.INGRESS,
            Severity.MAJOR,
            "known-good credentials get 2xx",
            "The known user is refused: check the htpasswd line for that user in the auth Secret.",
            gates=False,
        ),
        CheckSpec(
            "auth.redirect_first",
            Step.LB,
            Severity.CRITICAL,
            "plain HTTP redirects to https before any password is asked for",
            "Redirect http to https before authentication (LB redirect or ssl-redirect), or browsers send "
            "the password in clear.",
        ),
    )

    @classmethod
    def preflight(cls, profile: Profile, options: ProbeOptions) -> str | None:
        """Credentials the profile asks for that cannot be had (a missing file, an unset variable) are a
        configuration error before any traffic, in the profile's own words."""
        profile.check_credentials()
        return None

    async def run(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        basic = (target.auth_type or "").lower() == "basic"
        why_off = None if basic else protection_off(target)
        if not basic and why_off is None:
            return
        port = ctx.profile.https_port
        addresses, _ = await ctx.addresses(port, target.request_host)
        if not addresses:
            for c in self.checks:
                ctx.skipped(c.id, f"no address to connect to for {target.host}")
            return
        shaken = ctx.fact("tls", "addresses")  # None: the tls probe did not run
        base = f"https://{target.request_host}{'' if port == 443 else f':{port}'}{target.sample_path}"
        good, source = credentials_for(ctx)
        for address in addresses:
            where = net_where(address, port)
            if shaken is not None and address not in shaken:
                for c in self.checks[:3]:
                    ctx.skipped(c.id, f"skipped for {where}: no TLS handshake there (see tls.handshake)", subject=where)
                continue
            if why_off is not None:
                await self._intended(ctx, base, address, where, why_off)
                continue
            await self._challenge(ctx, base, address, where, target.auth_realm)
            await self._wrong(ctx, base, address, where)
            await self._good(ctx, base, address, where, good, source)
        if why_off is None:
            await self._redirect_first(ctx)

    @staticmethod
    async def _intended(ctx: ProbeContext, base: str, address: str, where: str, why_off: str) -> None:
        attempt = await ctx.net.request("GET", base, address)
        if not attempt.ok or attempt.response is None:
            ctx.not_completed("auth.challenge", attempt, subject=where, what=f"GET {base} without credentials")
            return
        status = attempt.response.status
        ev = {**attempt.evidence(), "why_protection_is_off": why_off}
        if status == 401:
            ctx.passed(
                "auth.challenge",
                f"{base} asks for credentials (401) via {where}, although {why_off}",
                subject=where,
                evidence=ev,
            )
        else:
            ctx.failed(
                "auth.challenge",
                f"{base} answered {status} without any challenge via {where}: the "
                f"annotations ask for protection but {why_off}, so the site is open",
                subject=where,
                evidence=ev,
            )

    @staticmethod
    async def _challenge(ctx: ProbeContext, base: str, address: str, where: str, realm: str | None) -> None:
        attempt = await ctx.net.request("GET", base, address)
        if not attempt.ok or attempt.response is None:
            ctx.not_completed("auth.challenge", attempt, subject=where, what=f"GET {base} without credentials")
            return
        response = attempt.response
        challenge = response.header("www-authenticate")
        expected = f'Basic realm="{realm}"' if realm is not None else "Basic realm=..."
        ev = {**attempt.evidence(), "expected_challenge": expected}
        if response.status != 401:
            ctx.failed(
                "auth.challenge",
                f"{base} without credentials answered {response.status} instead of 401 via {where}: the site is open",
                subject=where,
                evidence=ev,
            )
        elif not challenge.lower().startswith("basic"):
            ctx.failed(
                "auth.challenge",
                f"401 without a Basic challenge (WWW-Authenticate: {challenge!r}) via {where}",
                subject=where,
                evidence=ev,
            )
        elif realm is not None and challenge != expected:
            ctx.failed(
                "auth.challenge",
                f"401 with {challenge!r}, expected {expected!r} (auth-realm) via {where}",
                subject=where,
                evidence=ev,
            )
        else:
            ctx.passed("auth.challenge", f"401 with {challenge} via {where}", subject=where, evidence=ev)

    @staticmethod
    async def _wrong(ctx: ProbeContext, base: str, address: str, where: str) -> None:
        wrong = (nonce(), secrets.token_urlsafe(12))
        attempt = await ctx.net.request("GET", base, address, auth=wrong)
        if not attempt.ok or attempt.response is None:
            ctx.not_completed(
                "auth.wrong_credentials", attempt, subject=where, what=f"GET {base} with wrong credentials"
            )
            return
        ev = {**attempt.evidence(), "credentials": "random user and password"}
        if attempt.response.status == 401:
            ctx.passed("auth.wrong_credentials", f"random credentials get 401 via {where}", subject=where, evidence=ev)
        else:
            ctx.failed(
                "auth.wrong_credentials",
                f"random credentials got {attempt.response.status} via {where}",
                subject=where,
                evidence=ev,
            )

    @staticmethod
    async def _good(
        ctx: ProbeContext, base: str, address: str, where: str, good: tuple[str, str] | None, source: str
    ) -> None:
        if good is None:
            ctx.skipped(
                "auth.good_credentials", f"no credentials for {ctx.require_target.host}: {source}", subject=where
            )
            return
        attempt = await ctx.net.request("GET", base, address, auth=good)
        if not attempt.ok or attempt.response is None:
            ctx.not_completed("auth.good_credentials", attempt, subject=where, what=f"GET {base} as {good[0]}")
            return
        response = attempt.response
        ev = {**attempt.evidence(), "credentials": f"user {good[0]} {source}"}
        if 200 <= response.status < 300:
            ctx.passed(
                "auth.good_credentials",
                f"user {good[0]} ({source}) gets {response.status} via {where}",
                subject=where,
                evidence=ev,
            )
        else:
            ctx.failed(
                "auth.good_credentials",
                f"user {good[0]} ({source}) got {response.status} {response.reason} via {where}",
                subject=where,
                evidence=ev,
            )

    @staticmethod
    async def _redirect_first(ctx: ProbeContext) -> None:
        target = ctx.require_target
        http_port = ctx.profile.http_port
        plain = f"http://{target.request_host}{'' if http_port == 80 else f':{http_port}'}{target.sample_path}"
        http_addresses, _ = await ctx.addresses(http_port, target.request_host)
        for address in http_addresses:
            attempt = await ctx.net.request("GET", plain, address, keep_alive=False)
            where = attempt.subject.where
            if not attempt.ok or attempt.response is None:
                ctx.not_completed("auth.redirect_first", attempt, what=f"GET {plain}")
                continue
            response = attempt.response
            ev = attempt.evidence()
            if response.status in REDIRECTS and response.header("location").startswith("https://"):
                ctx.passed(
                    "auth.redirect_first",
                    f"plain HTTP is redirected ({response.status}) before credentials are asked, via {where}",
                    subject=where,
                    evidence=ev,
                )
            elif response.status == 401:
                ctx.failed(
                    "auth.redirect_first",
                    f"{plain} asks for the password over plain HTTP (401) via {where}: browsers would send it in clear",
                    subject=where,
                    evidence=ev,
                )
            else:
                ctx.warned(
                    "auth.redirect_first",
                    f"{plain} answered {response.status} via {where}: neither a redirect to https nor a challenge",
                    subject=where,
                    evidence=ev,
                )


def protection_off(target: Target) -> str | None:
    """Why an Ingress that shows the intent to be protected is not, or None when it shows no such intent."""
    if (target.auth_type or "").lower() == "basic":
        return None
    typo = [
        f"{nginx_annotations.PREFIX}{name}"
        for name, suggestion in nginx_annotations.unknown(target.annotations)
        if suggestion == "auth-type"
    ]
    intent = [name for name in ("auth-secret", "auth-realm") if target.annotation(name)]
    if not typo and not intent:
        return None
    if typo:
        return f"auth-type is misspelled ({', '.join(typo)}), so controllers ignore it"
    if target.auth_type:
        return f"auth-type is {target.auth_type!r}, not 'basic'"
    return f"{' and '.join(intent)} are set but auth-type is missing, so nothing asks for them"


def credentials_for(ctx: ProbeContext) -> tuple[tuple[str, str] | None, str]:
    """Known-good credentials for the target's host and where they come from: the profile first, then (only
    with --use-auth-secrets) the cluster Secret named by auth-secret."""
    target = ctx.require_target
    cred = ctx.profile.credentials.get(target.host)
    if cred is not None:
        try:
            return (cred.username, cred.password()), "from the profile"
        except UsageError as exc:
            return None, str(exc)
    ref = target.annotation("auth-secret")
    if ctx.use_auth_secrets and ref:
        ns, _, name = ref.rpartition("/")
        found = ctx.inventory.credentials.get((ns or target.namespace, name))
        if found is not None:
            return found, f"from Secret {ns or target.namespace}/{name} (--use-auth-secrets)"
        return None, f"Secret {ns or target.namespace}/{name} holds no username/password keys"
    return None, "none in the profile (credentials are opt-in; see --use-auth-secrets)"
