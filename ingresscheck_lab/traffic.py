"""The lab's traffic-annotation demo (issue 22): Ingresses whose annotations change where and how a request goes,
each on its own host under the LB's wildcard domain, in namespace ``traffic`` (the Envoy Gateway parity demo
covers namespace demo only), over Services of their own that name the demo's echo pods.

| host | annotations | backend |
|---|---|---|
| cors.example.test | enable-cors, cors-allow-origin/-methods/-headers/-credentials, cors-max-age | api |
| canary.example.test | a main and a canary Ingress: canary-by-header (value), -by-cookie | web-stable / web-canary |
| weighted.example.test | a main and a canary Ingress: canary-weight 20 | weighted-stable / weighted-next |
| sticky.example.test | affinity cookie, session-cookie-name/-path/-max-age/-secure/-samesite | api (two pods) |
| moved.example.test | permanent-redirect with permanent-redirect-code 308 | api |
| maintenance.example.test | temporal-redirect | api |
| portal.example.test | app-root | api |
| rewrite.example.test | rewrite-target with capture groups, use-regex, x-forwarded-prefix, upstream-vhost | api |

Not in the healthy lab: an Ingress with ``configuration-snippet`` (``snippet_ingress``). Traefik skips such an
Ingress altogether unless ``allowSnippetAnnotations`` is on; the lab tests create it to show both verdicts.
"""

from __future__ import annotations

from .layout import EXAMPLE_DOMAIN, LabLayout
from .objects import Obj, Pod, demo_pods, ingress, namespace, service_with_pods

N = "nginx.ingress.kubernetes.io/"
NS = "traffic"
CORS_ORIGIN = "https://app.example.test"
CANARY_HEADER, CANARY_VALUE, CANARY_COOKIE = "X-Canary", "yes", "lab_canary"
STICKY_COOKIE = "lab_sticky"
CANARY_WEIGHT = 20

HOSTS = {
    name: f"{name}.{EXAMPLE_DOMAIN}"
    for name in ("cors", "canary", "weighted", "sticky", "moved", "maintenance", "portal", "rewrite", "snippet")
}


# Service -> the demo pods it names. The weighted canary has Services of its own: Traefik 3.7 keys a canary by
# the main Ingress's Service, so a second canary over the same main Service (canary.example.test's) would take
# its traffic too.
SERVICES = {
    "api": ("api-0", "api-1"),
    "web-stable": ("web-stable-0",),
    "web-canary": ("web-canary-0",),
    "weighted-stable": ("web-stable-0",),
    "weighted-next": ("web-canary-0",),
}


def _services(layout: LabLayout) -> list[Obj]:
    pods = {p.name: p for p in demo_pods(layout)}
    out: list[Obj] = [namespace(NS)]
    for service, names in SERVICES.items():
        named = [Pod(service, pods[n].name, NS, pods[n].ip) for n in names]
        out += service_with_pods(service, NS, named, layout.pod_port)
    return out


def traffic_objects(layout: LabLayout) -> list[Obj]:
    h = HOSTS
    return _services(layout) + [
        ingress(
            "cors",
            NS,
            h["cors"],
            [("/", "Prefix", "api")],
            annotations={
                N + "enable-cors": "true",
                N + "cors-allow-origin": CORS_ORIGIN,
                N + "cors-allow-methods": "GET, PUT",
                N + "cors-allow-headers": "X-Token",
                N + "cors-allow-credentials": "true",
                N + "cors-max-age": "600",
            },
        ),
        ingress("canary-main", NS, h["canary"], [("/", "Prefix", "web-stable")]),
        ingress(
            "canary-by-request",
            NS,
            h["canary"],
            [("/", "Prefix", "web-canary")],
            annotations={
                N + "canary": "true",
                N + "canary-by-header": CANARY_HEADER,
                N + "canary-by-header-value": CANARY_VALUE,
                N + "canary-by-cookie": CANARY_COOKIE,
            },
        ),
        ingress("weighted-main", NS, h["weighted"], [("/", "Prefix", "weighted-stable")]),
        ingress(
            "weighted-canary",
            NS,
            h["weighted"],
            [("/", "Prefix", "weighted-next")],
            annotations={N + "canary": "true", N + "canary-weight": str(CANARY_WEIGHT)},
        ),
        ingress(
            "sticky",
            NS,
            h["sticky"],
            [("/", "Prefix", "api")],
            annotations={
                N + "affinity": "cookie",
                N + "session-cookie-name": STICKY_COOKIE,
                N + "session-cookie-path": "/",
                N + "session-cookie-max-age": "3600",
                N + "session-cookie-secure": "true",
                N + "session-cookie-samesite": "Lax",
            },
        ),
        ingress(
            "moved",
            NS,
            h["moved"],
            [("/", "Prefix", "api")],
            annotations={
                N + "permanent-redirect": f"https://www.{EXAMPLE_DOMAIN}/moved",
                N + "permanent-redirect-code": "308",
            },
        ),
        ingress(
            "maintenance",
            NS,
            h["maintenance"],
            [("/", "Prefix", "api")],
            annotations={N + "temporal-redirect": f"https://www.{EXAMPLE_DOMAIN}/maintenance"},
        ),
        ingress("portal", NS, h["portal"], [("/", "Prefix", "api")], annotations={N + "app-root": "/app"}),
        ingress(
            "rewrite",
            NS,
            h["rewrite"],
            [("/api(/|$)(.*)", "ImplementationSpecific", "api")],
            annotations={
                N + "rewrite-target": "/$2",
                N + "use-regex": "true",
                N + "x-forwarded-prefix": "/api",
                N + "upstream-vhost": "api.internal",
            },
        ),
    ]


def snippet_ingress() -> Obj:
    """An Ingress that depends on a configuration snippet (a header; Traefik reads that directive when allowed)."""
    return ingress(
        "snippet",
        NS,
        HOSTS["snippet"],
        [("/", "Prefix", "api")],
        annotations={N + "configuration-snippet": 'more_set_headers "X-Lab-Snippet: on";'},
    )


__all__ = ["HOSTS", "NS", "snippet_ingress", "traffic_objects"]
