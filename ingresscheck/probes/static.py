"""static: what the objects say, without sending any traffic (also for manifests before deploying).

Each Ingress's backend Services and ports exist and have ready endpoints; its TLS Secrets exist,
are kubernetes.io/tls, cover every host of their tls block and are not expired; its IngressClass
exists; no two Ingresses claim the same host+path; the controller in use implements its
annotations; and Ingresses that give no host to check say so.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any, TypedDict

from cryptography import x509

from .. import annotations as nginx_annotations
from ..discovery.model import Obj
from ..hostname import covered_by, dns_names, extensions_problem
from ..identity import Endpoint
from ..results import Severity, Status, Step
from ._contract import CheckSpec, Probe, ProbeContext, Scope


class Where(TypedDict):
    """Which object a static result is about: report()'s location parameters, never evidence."""

    host: str
    namespace: str
    ingress: str


class StaticProbe(Probe):
    name = "static"
    scope = Scope.CLUSTER
    network = False
    checks = (
        CheckSpec(
            "static.backend_service",
            Step.BACKEND,
            Severity.CRITICAL,
            "every backend Service and port named by a rule exists",
            "Fix the rule's service name/port, or create the Service; the controller answers 503 or 404.",
        ),
        CheckSpec(
            "static.endpoints",
            Step.BACKEND,
            Severity.CRITICAL,
            "every backend Service has ready endpoints",
            "No ready endpoints: check the Service selector against the pods' labels and the pods' "
            "readiness (kubectl get endpointslices -l kubernetes.io/service-name=NAME).",
        ),
        CheckSpec(
            "static.tls_secret",
            Step.TLS,
            Severity.CRITICAL,
            "each TLS Secret exists, is kubernetes.io/tls, covers its hosts and is in date",
            "Create or renew the Secret (type kubernetes.io/tls, keys tls.crt/tls.key) with a certificate "
            "whose SANs cover every host of the tls block.",
        ),
        CheckSpec(
            "static.ingress_class",
            Step.INGRESS,
            Severity.MAJOR,
            "the Ingress's class exists",
            "Set spec.ingressClassName to an existing IngressClass (kubectl get ingressclass); otherwise no "
            "controller serves the Ingress.",
        ),
        CheckSpec(
            "static.duplicate_rule",
            Step.INGRESS,
            Severity.MAJOR,
            "no two Ingresses claim the same host+path",
            "Remove one of the rules: which one the controller serves is undefined and may change on reload.",
        ),
        CheckSpec(
            "static.ignored_annotations",
            Step.INGRESS,
            Severity.MINOR,
            "the controller in use implements every nginx annotation set",
            "Remove or replace annotations the controller ignores; they give a false sense of behaviour.",
            gates=False,
        ),
        CheckSpec(
            "static.no_host",
            Step.INGRESS,
            Severity.MINOR,
            "every Ingress rule names a host",
            "Give the rule a host: a host-less rule or a default backend catches every Host header, "
            "typos included, and cannot be checked per host.",
            gates=False,
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        inv = ctx.inventory
        for ing, why in inv.problems:
            meta = ing.get("metadata", {})
            ctx.report(
                "static.no_host",
                Status.WARN,
                f"Ingress {meta.get('namespace')}/{meta.get('name')} {why}",
                namespace=meta.get("namespace"),
                ingress=meta.get("name"),
            )
        warn_days = ctx.profile.thresholds.cert_expiry_warning_days
        classes = {c["metadata"]["name"]: c for c in inv.ingress_classes}
        default_class = next(
            (
                n
                for n, c in classes.items()
                if (c["metadata"].get("annotations") or {}).get("ingressclass.kubernetes.io/is-default-class") == "true"
            ),
            None,
        )
        claims: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        checked_classes: set[tuple[str, str]] = set()
        for t in inv.targets:
            if t.kind != "Ingress":
                continue  # HTTPRoute targets: the gateway probe checks their objects
            where: Where = {"host": t.host, "namespace": t.namespace, "ingress": t.ingress}
            backends = dict.fromkeys((rule.service, rule.port) for rule in t.paths)
            for rule in t.paths:
                if (t.annotation("canary") or "").lower() == "true":
                    continue  # a canary Ingress is an alternative backend of the main one's rule, not a rival
                claims[(t.host, rule.path, rule.path_type)].append(f"{t.namespace}/{t.ingress}")
            for service, port in backends:
                self._backend(ctx, t.namespace, service, port, where)
            if (t.namespace, t.ingress) not in checked_classes:
                checked_classes.add((t.namespace, t.ingress))
                self._class(ctx, t.ingress_class, classes, default_class, where)
                self._annotations(ctx, t.annotations, where)
            if t.tls_secret:
                self._tls(ctx, t.namespace, t.tls_secret, t.host, warn_days, where)
        for (host, path, path_type), owners in claims.items():
            if len(set(owners)) > 1:
                for owner in sorted(set(owners)):
                    ns, name = owner.split("/", 1)
                    ctx.report(
                        "static.duplicate_rule",
                        Status.FAIL,
                        f"{host}{path} ({path_type}) is claimed by "
                        f"{len(set(owners))} Ingresses: {', '.join(sorted(set(owners)))}",
                        host=host,
                        namespace=ns,
                        ingress=name,
                        evidence={"owners": sorted(set(owners))},
                    )

    def _backend(self, ctx: ProbeContext, ns: str, service: str | None, port: int | str | None, where: Where) -> None:
        if service is None:
            return
        # one verdict per Service port of a host: its subject, so a host whose rules reach several Services
        # has one result per Service (JUnit names, diff and alerts tell them apart), and one per port only
        subject = f"{ns}/{service}:{port}" if port is not None else f"{ns}/{service}"
        seen: set[tuple[object, ...]] = self.__dict__.setdefault("_backends_seen", set())
        key = (tuple(sorted(where.items())), subject)
        if key in seen:
            return
        seen.add(key)
        svc = ctx.inventory.service(ns, service)
        if svc is None:
            ctx.report(
                "static.backend_service",
                Status.FAIL,
                f"Service {ns}/{service} does not exist",
                subject=subject,
                **where,
            )
            ctx.report(
                "static.endpoints",
                Status.SKIP,
                f"skipped: Service {ns}/{service} does not exist",
                subject=subject,
                **where,
            )
            return
        ports = (svc.get("spec") or {}).get("ports") or []
        if port is not None and not any(p.get("port") == port or p.get("name") == port for p in ports):
            have = ", ".join(str(p.get("name") or p.get("port")) for p in ports) or "none"
            ctx.report(
                "static.backend_service",
                Status.FAIL,
                f"Service {ns}/{service} has no port {port} (ports: {have})",
                subject=subject,
                **where,
            )
        else:
            ctx.report(
                "static.backend_service",
                Status.PASS,
                f"Service {ns}/{service} port {port} exists",
                subject=subject,
                **where,
            )
        if (svc.get("spec") or {}).get("type") == "ExternalName":
            ctx.report(
                "static.endpoints", Status.SKIP, f"Service {ns}/{service} is ExternalName", subject=subject, **where
            )
            return
        ready = ctx.inventory.ready_endpoints(ns, service)
        if ready == 0 and ctx.inventory.offline and (svc.get("spec") or {}).get("selector"):
            ctx.report(
                "static.endpoints",
                Status.SKIP,
                f"Service {ns}/{service} selects pods: its endpoints exist only in a cluster, not in manifests",
                subject=subject,
                **where,
            )
            return
        if ready == 0:
            ctx.report(
                "static.endpoints",
                Status.FAIL,
                f"Service {ns}/{service} has 0 ready endpoints",
                subject=subject,
                **where,
            )
            return
        found = ctx.inventory.service_endpoints(ns, service)
        service_port = found.service_port(port)
        serving = _serving(found.ready, service_port)
        if service_port is not None and not serving:
            # ready addresses, but none for this port: the endpoints controller found no container port
            # named like the targetPort, so it left the port out, and the controller has nowhere to send
            # the rule's traffic (503)
            name = service_port.get("name") or ""
            target = service_port.get("targetPort")
            listed = sorted({f"{n or '(unnamed)'} {number}" for e in found.ready for n, number in e.ports})
            ctx.report(
                "static.endpoints",
                Status.FAIL,
                f"Service {ns}/{service} has {ready} ready endpoint{'s' if ready != 1 else ''}, but none for "
                f"port {name or service_port.get('port')}"
                + (f" (targetPort {target}: no endpoint has a port named {target})" if isinstance(target, str) else "")
                + f"; their slices list {', '.join(listed) or 'no port'}",
                evidence={"ready": ready, "service_port": service_port, "slice_ports": listed},
                subject=subject,
                **where,
            )
        else:
            ctx.report(
                "static.endpoints",
                Status.PASS,
                f"Service {ns}/{service} has {ready} ready endpoint{'s' if ready != 1 else ''}",
                evidence={"ready": ready},
                subject=subject,
                **where,
            )

    def _class(
        self, ctx: ProbeContext, name: str | None, classes: dict[str, Obj], default: str | None, where: Where
    ) -> None:
        if name is None:
            if default:
                ctx.report(
                    "static.ingress_class", Status.PASS, f"no class set; the default class {default} applies", **where
                )
            else:
                ctx.report(
                    "static.ingress_class",
                    Status.WARN,
                    "no ingressClassName and no default IngressClass: "
                    "whether a controller serves it depends on its settings",
                    **where,
                )
        elif classes or not ctx.inventory.offline:
            if name in classes:
                controller = (classes[name].get("spec") or {}).get("controller")
                ctx.report("static.ingress_class", Status.PASS, f"IngressClass {name} exists ({controller})", **where)
            else:
                ctx.report(
                    "static.ingress_class",
                    Status.FAIL,
                    f"IngressClass {name} does not exist (have: {', '.join(sorted(classes)) or 'none'})",
                    **where,
                )

    def _annotations(self, ctx: ProbeContext, ann: dict[str, str], where: Where) -> None:
        controller = ctx.profile.controller
        if not nginx_annotations.nginx_names(ann):
            return
        if controller is None:
            ctx.report(
                "static.ignored_annotations",
                Status.SKIP,
                "the profile does not name the controller (controller: traefik | ingress-nginx)",
                **where,
            )
            return
        ignored = nginx_annotations.ignored_by(controller, ann)
        if ignored:
            ctx.report(
                "static.ignored_annotations",
                Status.WARN,
                f"{controller} ignores " + ", ".join(nginx_annotations.PREFIX + n for n in ignored),
                evidence={"ignored": ignored},
                **where,
            )
        else:
            ctx.report(
                "static.ignored_annotations",
                Status.PASS,
                f"{controller} implements every nginx annotation set",
                **where,
            )

    def _tls(self, ctx: ProbeContext, ns: str, name: str, host: str, warn_days: int, where: Where) -> None:
        key = (ns, name)
        # the verdict is about the Secret: its X.509 subject DN is evidence, never the result's subject
        secret = f"{ns}/{name}"
        unreadable = ctx.inventory.secret_unreadable(ns, name)
        if unreadable is not None:
            # forbidden is not missing: the check could not decide, and says what the credentials may not do
            ctx.report(
                "static.tls_secret",
                Status.ERROR,
                f"Secret {ns}/{name} could not be read: {unreadable.reason}",
                evidence={"secret": f"{ns}/{name}", "outcome": unreadable.outcome},
                subject=secret,
                **where,
            )
            return
        if key not in ctx.inventory.secrets:
            ctx.report("static.tls_secret", Status.SKIP, f"Secret {ns}/{name} was not read", subject=secret, **where)
            return
        info = ctx.inventory.secrets[key]
        if info is None:
            ctx.report("static.tls_secret", Status.FAIL, f"Secret {ns}/{name} does not exist", subject=secret, **where)
            return
        ev: dict[str, Any] = {"secret": f"{ns}/{name}", "type": info.type, "keys": list(info.keys)}
        if info.type != "kubernetes.io/tls":
            ctx.report(
                "static.tls_secret",
                Status.FAIL,
                f"Secret {ns}/{name} is of type {info.type}, not kubernetes.io/tls",
                evidence=ev,
                subject=secret,
                **where,
            )
            return
        try:
            cert = x509.load_pem_x509_certificate(info.cert_pem or b"")
        except ValueError:
            ctx.report(
                "static.tls_secret",
                Status.FAIL,
                f"Secret {ns}/{name} tls.crt is not a PEM certificate",
                evidence=ev,
                subject=secret,
                **where,
            )
            return
        problem = extensions_problem(cert)
        if problem is not None:
            ev["subject"] = cert.subject.rfc4514_string()
            ctx.report(
                "static.tls_secret",
                Status.FAIL,
                f"Secret {ns}/{name} tls.crt: {problem}: the controller cannot serve it",
                evidence=ev,
                **where,
            )
            return
        now = dt.datetime.now(dt.UTC)
        ev.update(
            {
                "subject": cert.subject.rfc4514_string(),
                "sans": dns_names(cert),
                "not_after": cert.not_valid_after_utc.isoformat(),
            }
        )
        if covered_by(host, cert) is None:
            ctx.report(
                "static.tls_secret",
                Status.FAIL,
                f"Secret {ns}/{name} does not cover {host} (SANs: {', '.join(dns_names(cert) or ['none'])})",
                evidence=ev,
                subject=secret,
                **where,
            )
        elif info.key_matches is False:
            ctx.report(
                "static.tls_secret",
                Status.FAIL,
                f"Secret {ns}/{name}: {info.key_problem}: the controller cannot serve it",
                evidence=ev,
                subject=secret,
                **where,
            )
        elif cert.not_valid_after_utc < now:
            ctx.report(
                "static.tls_secret",
                Status.FAIL,
                f"Secret {ns}/{name} expired on {cert.not_valid_after_utc:%Y-%m-%d}",
                evidence=ev,
                subject=secret,
                **where,
            )
        elif cert.not_valid_after_utc - now < dt.timedelta(days=warn_days):
            days = (cert.not_valid_after_utc - now).days
            ctx.report(
                "static.tls_secret",
                Status.WARN,
                f"Secret {ns}/{name} expires in {days} days",
                evidence=ev,
                subject=secret,
                **where,
            )
        else:
            ctx.report(
                "static.tls_secret",
                Status.PASS,
                f"Secret {ns}/{name} covers {host} until {cert.not_valid_after_utc:%Y-%m-%d}",
                evidence=ev,
                subject=secret,
                **where,
            )


def _serving(ready: tuple[Endpoint, ...], service_port: Obj | None) -> list[Endpoint]:
    """The ready endpoints that have a port for ``service_port``: the slice port carries the Service port's
    name (how the endpoints controller writes it, and how kube-proxy and controllers match it)."""
    if service_port is None:
        return list(ready)
    name = service_port.get("name") or ""
    return [e for e in ready if any(n == name for n, _ in e.ports)]
