"""rewrite: ``rewrite-target`` (with capture groups and ``use-regex``), ``x-forwarded-prefix`` and ``upstream-vhost``
give the backend the path and Host that ingress-nginx would.

For each rule a request path is derived from the rule's regular expression (a literal stays, ``.*`` becomes a
sample segment, an alternative its first branch), sent with a query, and the echo backend's report of what it
received is compared with ingress-nginx's ``rewrite "(?i)<path>" <target> break``: the whole URI replaced by the
target with ``$1``… taken from the match, the query carried. ``x-forwarded-prefix`` must arrive as the
``X-Forwarded-Prefix`` header, ``upstream-vhost`` as the Host.

The quirks the Kubernetes project lists before migrating are checked as their own subject: a regex path is a
case-insensitive prefix (``~*``), so the same path in upper case reaches the backend too; ``rewrite-target``
implies regex even without ``use-regex``. A controller that matches case-sensitively warns (a request that
worked before the migration gets 404 after it). A backend that does not echo what it received cannot show the
path it saw: then the check says so and does not pass.
"""

from __future__ import annotations

import json
import re
import re._constants as _c  # the regex parser (private, stable since 3.11): samples from a rule's regex
import re._parser as _parser
from typing import Any

from ..discovery.model import PathRule, Target
from ..results import Severity, Step
from ._contract import CheckSpec, Probe, ProbeContext
from ._traffic import ask, first_address, https_base, skip_if_ignored, truthy

CHECK = "rewrite.target"
SEGMENT = "ingresscheck-sample"
QUERY = "ingresscheck=1"


def sample_path(pattern: str) -> str | None:
    """A request path the regular expression ``pattern`` matches from its start, or None if none is derived."""
    try:
        parsed = _parser.parse(pattern)
    except re.error:
        return None

    def gen(items: Any) -> str | None:
        out = []
        for op, av in items:
            if op is _c.LITERAL:
                out.append(chr(av))
            elif op is _c.NOT_LITERAL:
                out.append("x" if chr(av) != "x" else "y")
            elif op is _c.ANY:
                out.append("x")
            elif op is _c.IN:
                out.append(_one_of(av))
            elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
                lo, hi, sub = av
                if len(sub) == 1 and sub[0][0] is _c.ANY:
                    out.append(SEGMENT if hi >= len(SEGMENT) else "x" * max(lo, 1))
                    continue
                part = gen(sub)
                if part is None:
                    return None
                out.append(part * (max(lo, 1) if hi >= 1 else 0))
            elif op is _c.SUBPATTERN:
                part = gen(av[-1])
                if part is None:
                    return None
                out.append(part)
            elif op is _c.BRANCH:
                part = gen(av[1][0])
                if part is None:
                    return None
                out.append(part)
            elif op is _c.AT:
                continue
            else:
                return None  # back-references, lookarounds...: no sample
        return "".join(out)

    made = gen(parsed)
    if not made or not made.startswith("/") or re.match(pattern, made, re.IGNORECASE) is None:
        return None
    return made


def _one_of(items: Any) -> str:
    for op, av in items:
        if op is _c.LITERAL:
            return chr(av)
        if op is _c.RANGE:
            return chr(av[0])
        if op is _c.CATEGORY:
            return "7" if "DIGIT" in str(av) else "x"
    return "x"


def rewritten(pattern: str, target: str, path: str) -> str | None:
    """ingress-nginx's ``rewrite "(?i)<pattern>" <target>``: the path the backend sees, or None if it does not match."""
    m = re.search(pattern, path, re.IGNORECASE)
    if m is None:
        return None
    return re.sub(
        r"\$(\d)", lambda g: (m.group(int(g.group(1))) or "") if int(g.group(1)) <= m.re.groups else "", target
    )


def _seen(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) and "path" in data else None


class RewriteProbe(Probe):
    name = "rewrite"
    needs = ("dns",)
    checks = (
        CheckSpec(
            CHECK,
            Step.BACKEND,
            Severity.MAJOR,
            "the backend sees the path `rewrite-target` makes (capture groups, case-insensitive regex prefix), "
            "`X-Forwarded-Prefix` and the `upstream-vhost` Host",
            "ingress-nginx rewrites the whole URI to the target with $1... from the (case-insensitive) match; "
            "compare with what the backend received and the controller's regex semantics.",
            gates=False,
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        t = ctx.require_target
        if t.kind != "Ingress" or not any(
            t.annotation(a) for a in ("rewrite-target", "x-forwarded-prefix", "upstream-vhost")
        ):
            return
        if t.annotation("rewrite-target") and skip_if_ignored(ctx, CHECK, t, "rewrite-target"):
            return
        address, source = await first_address(ctx, t)
        if address is None:
            ctx.skipped(CHECK, f"no address to connect to for {t.host}")
            return
        for rule in t.paths:
            await self._rule(ctx, t, rule, address, source)

    async def _rule(self, ctx: ProbeContext, t: Target, rule: PathRule, address: str, source: str) -> None:
        target = t.annotation("rewrite-target")
        regex = bool(target) or truthy(t.annotation("use-regex"))  # rewrite-target implies regex
        prefix, vhost = t.annotation("x-forwarded-prefix"), t.annotation("upstream-vhost")
        if regex:
            path = sample_path(rule.path)
            if path is None:
                ctx.skipped(
                    CHECK, f"no request path derived from the regular expression {rule.path!r}", subject=rule.path
                )
                return
        else:
            path = rule.path.rstrip("/") + "/" + SEGMENT
        cases = [(rule.path, path)]
        if regex and path.upper() != path:
            cases.append((f"{rule.path} in upper case", path.upper()))
        for subject, sent in cases:
            want = rewritten(rule.path, target, sent) if target else sent
            url = https_base(ctx, t.request_host) + sent + "?" + QUERY
            answer = await ask(ctx, url, address)
            ev: dict[str, Any] = {
                "rule": {"path": rule.path, "pathType": rule.path_type, "service": rule.service},
                "rewrite_target": target,
                "regex": regex,
                "expected": {"path": want, "query": QUERY, "x_forwarded_prefix": prefix, "host": vhost},
                "address_from": source,
            }
            if not answer.ok:
                ctx.not_completed(CHECK, answer.attempt, subject=subject, what=f"GET {url}", evidence=ev)
                continue
            r = answer.attempt.response
            assert r is not None
            evidence = {**ev, **answer.attempt.evidence()}
            upper = subject.endswith("in upper case")
            if r.status == 404 and upper:
                ctx.warned(
                    CHECK,
                    f"GET {url} got 404: the regex path {rule.path!r} matches case-sensitively here; ingress-nginx "
                    f"matches it case-insensitively (~*), so this request worked before a migration",
                    evidence=evidence,
                    subject=subject,
                )
                continue
            seen = _seen(r.body)
            if r.status >= 400 or seen is None:
                what = (
                    f"answered {r.status} {r.reason}"
                    if r.status >= 400
                    else "the backend does not echo what it received: the path it saw cannot be shown"
                )
                (ctx.failed if r.status >= 400 else ctx.warned)(
                    CHECK, f"GET {url}: {what}", evidence=evidence, subject=subject
                )
                continue
            headers = {k.lower(): v for k, v in (seen.get("headers") or {}).items()}
            wrong = []
            if want is not None and seen.get("path") != want:
                wrong.append(f"the backend saw path {seen.get('path')!r}, not {want!r}")
            if seen.get("query", "") != QUERY:
                wrong.append(f"the backend saw query {seen.get('query')!r}, not {QUERY!r}")
            if prefix is not None and headers.get("x-forwarded-prefix") != prefix:
                wrong.append(f"X-Forwarded-Prefix is {headers.get('x-forwarded-prefix') or 'missing'}, not {prefix!r}")
            if vhost is not None and (seen.get("host") or "").split(":")[0] != vhost:
                wrong.append(f"the backend saw Host {seen.get('host')!r}, not {vhost!r} (upstream-vhost)")
            if wrong:
                ctx.failed(CHECK, f"GET {sent}: " + "; ".join(wrong), evidence=evidence, subject=subject)
            else:
                extra = "".join(
                    [
                        f", X-Forwarded-Prefix {prefix}" if prefix is not None else "",
                        f", Host {vhost}" if vhost is not None else "",
                    ]
                )
                ctx.passed(
                    CHECK,
                    f"GET {sent}?{QUERY} reached pod {seen.get('pod') or '?'} as {seen.get('path')}?{seen.get('query')}"
                    + extra
                    + (" (matched case-insensitively, as ingress-nginx does)" if upper else ""),
                    evidence=evidence,
                    subject=subject,
                )


__all__ = ["RewriteProbe", "rewritten", "sample_path"]
