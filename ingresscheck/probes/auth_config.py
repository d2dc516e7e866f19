"""auth_config: the basic-auth configuration read from the cluster, no network needed.

The auth-secret named by an Ingress with ``auth-type: basic`` exists and holds htpasswd lines
(counted, never read out), and every nginx annotation name is a real one (a typo such as
``auth-typ`` is silently ignored by every controller). It runs whatever DNS says: a broken
resolver must not hide a missing Secret.
"""

from __future__ import annotations

from .. import annotations as nginx_annotations
from ..results import Severity, Step
from ._contract import CheckSpec, Probe, ProbeContext


class AuthConfigProbe(Probe):
    name = "auth_config"
    network = False
    checks = (
        CheckSpec(
            "auth.secret",
            Step.INGRESS,
            Severity.CRITICAL,
            "the auth-secret exists and its `auth` key holds valid htpasswd lines",
            "Create the Secret named by auth-secret in the Ingress namespace with key `auth` holding "
            "htpasswd lines (htpasswd -c auth USER; kubectl create secret generic NAME --from-file=auth).",
        ),
        CheckSpec(
            "auth.annotation_typos",
            Step.INGRESS,
            Severity.MAJOR,
            "every nginx.ingress.kubernetes.io annotation is a real one",
            "Rename the annotation to the intended one: controllers silently ignore unknown names, so "
            "a typo in auth-type leaves the site open.",
            gates=False,
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        _typos(ctx)
        if (target.auth_type or "").lower() == "basic":
            _secret(ctx)


def _secret(ctx: ProbeContext) -> None:
    target = ctx.require_target
    ref = target.annotation("auth-secret")
    if not ref:
        ctx.failed("auth.secret", "auth-type is basic but there is no auth-secret annotation")
        return
    ns, _, name = ref.rpartition("/")
    key = (ns or target.namespace, name)
    where = f"{key[0]}/{key[1]}"
    unreadable = ctx.inventory.secret_unreadable(*key)
    if unreadable is not None:
        ctx.errored(
            "auth.secret",
            f"could not decide: Secret {where} could not be read: {unreadable.reason}",
            subject=where,
            evidence={"secret": where, "outcome": unreadable.outcome},
        )
        return
    if key not in ctx.inventory.secrets:
        ctx.skipped("auth.secret", f"Secret {where} was not read (offline: manifests carry no Secrets)", subject=where)
        return
    info = ctx.inventory.secrets[key]
    auth_map = (target.annotation("auth-secret-type") or "auth-file").lower() == "auth-map"
    if info is None:
        ctx.failed("auth.secret", f"Secret {where} named by auth-secret does not exist", subject=where)
    elif auth_map:
        # auth-secret-type auth-map: each key is a user, its value that user's password hash
        users, bad = info.map_users or 0, info.map_invalid or 0
        ev = {"secret_type": "auth-map", "valid_users": users, "invalid_users": bad}
        if not users:
            ctx.failed(
                "auth.secret",
                f"Secret {where} (auth-map) has no key holding a valid password hash ({bad} invalid)",
                subject=where,
                evidence=ev,
            )
        elif bad:
            ctx.warned(
                "auth.secret",
                f"Secret {where} (auth-map): {users} user(s) with a valid hash, {bad} invalid",
                subject=where,
                evidence=ev,
            )
        else:
            ctx.passed("auth.secret", f"Secret {where} (auth-map) has {users} user(s)", subject=where, evidence=ev)
    elif "auth" not in info.keys:
        ctx.failed(
            "auth.secret",
            f"Secret {where} has no key `auth` (keys: {', '.join(info.keys)})",
            subject=where,
            evidence={"keys": list(info.keys)},
        )
    elif not info.htpasswd_lines:
        ctx.failed(
            "auth.secret",
            f"Secret {where} key `auth` has no valid htpasswd line ({info.htpasswd_invalid or 0} invalid)",
            subject=where,
            evidence={"valid_lines": 0, "invalid_lines": info.htpasswd_invalid},
        )
    elif info.htpasswd_invalid:
        ctx.warned(
            "auth.secret",
            f"Secret {where}: {info.htpasswd_lines} valid htpasswd line(s), {info.htpasswd_invalid} invalid",
            subject=where,
            evidence={"valid_lines": info.htpasswd_lines, "invalid_lines": info.htpasswd_invalid},
        )
    else:
        ctx.passed(
            "auth.secret",
            f"Secret {where} has {info.htpasswd_lines} htpasswd line(s)",
            subject=where,
            evidence={"valid_lines": info.htpasswd_lines, "invalid_lines": 0},
        )


def _typos(ctx: ProbeContext) -> None:
    target = ctx.require_target
    unknown = nginx_annotations.unknown(target.annotations)
    if not unknown:
        if nginx_annotations.nginx_names(target.annotations):
            ctx.passed("auth.annotation_typos", "every nginx annotation name is known")
        return
    for name, suggestion in unknown:
        full = f"{nginx_annotations.PREFIX}{name}"
        hint = f" (did you mean {suggestion}?)" if suggestion else ""
        ctx.warned(
            "auth.annotation_typos",
            f"unknown annotation {full}{hint}: it is silently ignored",
            subject=full,
            evidence={"annotation": full, "suggestion": suggestion},
        )
