"""snippets: an Ingress that depends on raw nginx configuration (``configuration-snippet``, ``server-snippet``
and the other ``*-snippet`` annotations) is reported as depending on something other controllers ignore.

Snippets are nginx directives pasted into the generated configuration: whatever they do (headers, redirects,
access rules) exists only in ingress-nginx. Traefik's provider reads a subset of directives from two of them, and
only when ``allowSnippetAnnotations`` is on (otherwise it skips the whole Ingress: routing.backend shows that);
Gateway API and every other controller have no equivalent. No traffic is sent: what a snippet does is not
known from outside, so the verdict is a warning naming the annotations and what the profile's controller makes
of them, never a pass.
"""

from __future__ import annotations

from .. import annotations as nginx_annotations
from ..results import Severity, Step
from ._contract import CheckSpec, Probe, ProbeContext, Scope

CHECK = "annotations.snippet"
SNIPPETS = ("configuration-snippet", "server-snippet", "auth-snippet", "stream-snippet", "modsecurity-snippet")
# What Traefik's kubernetesIngressNGINX provider does with the two it reads (its routing reference, and the lab:
# without allowSnippetAnnotations it logs "snippet annotations are not allowed" and skips the whole Ingress).
_TRAEFIK = (
    "Traefik serves the Ingress only with allowSnippetAnnotations on (else it skips the whole Ingress), "
    "and then reads a subset of directives (headers such as add_header/more_set_headers)"
)


class SnippetsProbe(Probe):
    name = "snippets"
    scope = Scope.CLUSTER
    network = False
    checks = (
        CheckSpec(
            CHECK,
            Step.INGRESS,
            Severity.MINOR,
            "no Ingress depends on `configuration-snippet`/`server-snippet` (other controllers ignore them; Traefik "
            "skips the Ingress unless `allowSnippetAnnotations`)",
            "Replace each snippet by the annotation or policy that expresses it (custom-headers, a redirect "
            "annotation, an HTTPRoute filter) before migrating: other controllers ignore snippets.",
            gates=False,
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        controller = ctx.profile.controller
        for ing in ctx.inventory.ingresses:
            meta = ing.get("metadata") or {}
            ann = meta.get("annotations") or {}
            used = [s for s in SNIPPETS if nginx_annotations.PREFIX + s in ann]
            if not used:
                continue
            ns, name = meta.get("namespace", "default"), meta.get("name", "?")
            hosts = [r.get("host") for r in (ing.get("spec") or {}).get("rules") or [] if r.get("host")]
            how = []
            for s in used:
                if controller == "traefik" and s in nginx_annotations.TRAEFIK:
                    how.append(f"{s}: {_TRAEFIK}")
                elif controller and s not in nginx_annotations.SUPPORTED.get(controller, nginx_annotations.NGINX):
                    how.append(f"{s}: {controller} ignores it")
                else:
                    how.append(f"{s}: only ingress-nginx runs it; other controllers ignore it")
            ctx.warned(
                CHECK,
                f"Ingress {ns}/{name} depends on raw nginx configuration other controllers ignore: " + "; ".join(how),
                evidence={
                    "annotations": {nginx_annotations.PREFIX + s: ann[nginx_annotations.PREFIX + s] for s in used},
                    "controller": controller,
                    "hosts": hosts,
                },
                host=hosts[0] if hosts else None,
                namespace=ns,
                ingress=name,
            )


__all__ = ["SNIPPETS", "SnippetsProbe"]
