"""hsts: every https answer of a host carries a Strict-Transport-Security header browsers honour.

ingress-nginx sends ``max-age=15724800; includeSubDomains`` by default; other controllers send none
unless asked, so a migration loses it silently. The verdict on one answer is ``judge_hsts``, the same
code ``compare``'s ``hsts`` aspect judges each side with. Absent HSTS fails only when the profile says
``hsts: {required: true}`` (otherwise it is reported as not applicable); a header without a valid
max-age is ignored by browsers (fail); a max-age of 0 or below ``hsts.min_max_age`` is weak (warn).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..profile import Profile
from ..results import Severity, Status, Step
from ._access import reach as access_reach
from ._contract import CheckSpec, Probe, ProbeContext


@dataclass(frozen=True)
class HstsVerdict:
    status: Status
    value: str  # what the side does, in words the comparison shows: "none", "max-age=15724800; includeSubDomains"
    message: str
    max_age: int | None = None
    include_subdomains: bool = False


def judge_hsts(header: str | None, profile: Profile) -> HstsVerdict:
    """The verdict on one https answer's Strict-Transport-Security header (None: absent)."""
    if not header:
        if profile.hsts_required:
            return HstsVerdict(Status.FAIL, "none", "no Strict-Transport-Security header: browsers keep trying http")
        return HstsVerdict(
            Status.SKIP, "none", "no Strict-Transport-Security header (the profile does not require one: hsts.required)"
        )
    directives = [d.strip() for d in header.split(";") if d.strip()]
    max_age: int | None = None
    sub = False
    for d in directives:
        name, _, value = d.partition("=")
        if name.strip().lower() == "max-age":
            try:
                max_age = int(value.strip().strip('"'))
            except ValueError:
                max_age = None
        elif name.strip().lower() == "includesubdomains":
            sub = True
    words = f"max-age={max_age}" + ("; includeSubDomains" if sub else "") if max_age is not None else header
    if max_age is None:
        return HstsVerdict(
            Status.FAIL, words, f"Strict-Transport-Security {header!r} has no valid max-age: browsers ignore it"
        )
    if max_age == 0:
        return HstsVerdict(
            Status.WARN, words, "Strict-Transport-Security max-age=0 tells browsers to forget HSTS", 0, sub
        )
    if max_age < profile.hsts_min_max_age:
        return HstsVerdict(
            Status.WARN,
            words,
            f"Strict-Transport-Security max-age={max_age} is shorter than {profile.hsts_min_max_age} s "
            "(hsts.min_max_age)",
            max_age,
            sub,
        )
    return HstsVerdict(Status.PASS, words, f"Strict-Transport-Security {words}", max_age, sub)


class HstsProbe(Probe):
    name = "hsts"
    needs = ("dns", "tls")
    checks = (
        CheckSpec(
            "tls.hsts",
            Step.TLS,
            Severity.MAJOR,
            "https answers carry Strict-Transport-Security with a valid max-age of at least `hsts.min_max_age` "
            "(default 15724800 s); absent fails only with `hsts: {required: true}`",
            "Send HSTS from the controller (ingress-nginx: hsts ConfigMap keys, on by default; Traefik: a headers "
            "middleware stsSeconds; Envoy Gateway: a ResponseHeaderModifier or ClientTrafficPolicy headers).",
            gates=False,
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        port = ctx.profile.https_port
        addresses, _ = await ctx.addresses(port, target.request_host)
        if not addresses:
            ctx.skipped("tls.hsts", f"no address to connect to for {target.host}")
            return
        reach = access_reach(ctx.profile, target, backend=False)  # a client certificate or an inside source
        if reach.blocked:
            ctx.skipped("tls.hsts", reach.blocked)
            return
        shaken = ctx.fact("tls", "addresses")
        url = f"https://{target.request_host}{'' if port == 443 else f':{port}'}{target.sample_path}"
        cred = ctx.profile.credentials.get(target.host)
        auth = (cred.username, cred.password()) if cred is not None and not cred.unavailable() else None
        for address in addresses:
            attempt = await ctx.net.request("GET", url, address, auth=auth, **reach.options)
            subject = attempt.subject.where
            if shaken is not None and address not in shaken:
                ctx.skipped(
                    "tls.hsts", f"skipped for {subject}: no TLS handshake there (see tls.handshake)", subject=subject
                )
                continue
            if not attempt.ok or attempt.response is None:
                ctx.not_completed("tls.hsts", attempt, what=f"GET {url}")
                continue
            verdict = judge_hsts(attempt.response.header("strict-transport-security") or None, ctx.profile)
            ctx.report(
                "tls.hsts",
                verdict.status,
                f"{verdict.message} ({url} via {subject})",
                subject=subject,
                evidence={**attempt.evidence(), "hsts": verdict.value, "required": ctx.profile.hsts_required},
            )
