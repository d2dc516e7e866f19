"""gateway: what the Gateway API objects and their statuses say, without sending any traffic.

GatewayClasses are accepted by their controller; Gateways are Accepted and Programmed with an
address; each listener is Accepted, Programmed and has its references resolved. Each HTTPRoute
attaches somewhere (its hostnames intersect a listener's, by the spec's rules), is Accepted with
its references resolved on every parent (the controller's reason when not); its backendRefs name
existing Service ports with ready endpoints, and a cross-namespace reference has a ReferenceGrant.
Each HTTPS listener's certificateRefs Secret exists, is kubernetes.io/tls, is in date and covers
every effective hostname served on that listener: a listener wildcard ``*.gw.test`` accepts
``a.b.gw.test``, a certificate ``*.gw.test`` does not cover it.

From manifests (no cluster state) the status checks are skipped; the rest works offline.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509

from ..discovery.gateway import (
    Listener,
    Parent,
    backend_refs,
    certificate_gaps,
    effective_hostnames,
    listeners_of,
    parents,
    reference_granted,
)
from ..discovery.model import Obj
from ..hostname import dns_names
from ..results import Severity, Status, Step
from ._contract import CheckSpec, Location, Probe, ProbeContext, Scope


def _meta(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace", "default"), meta.get("name", "?")


def _cond(conditions: list[Obj] | None, kind: str) -> Obj | None:
    return next((c for c in conditions or [] if c.get("type") == kind), None)


def _says(cond: Obj | None, kind: str) -> str:
    if cond is None:
        return f"no {kind} condition in status"
    why = f"{kind}={cond.get('status')} ({cond.get('reason', 'no reason')}"
    return why + (f": {cond['message']})" if cond.get("message") else ")")


def _true(cond: Obj | None) -> bool:
    return cond is not None and cond.get("status") == "True"


class GatewayProbe(Probe):
    name = "gateway"
    scope = Scope.CLUSTER
    network = False
    checks = (
        CheckSpec(
            "gateway.class_accepted",
            Step.INGRESS,
            Severity.MAJOR,
            "each Gateway's GatewayClass exists and its controller Accepted it",
            "Create the GatewayClass with the controllerName your controller serves (Traefik: "
            "traefik.io/gateway-controller) and check the controller's logs.",
        ),
        CheckSpec(
            "gateway.programmed",
            Step.INGRESS,
            Severity.CRITICAL,
            "each Gateway is Accepted and Programmed",
            "Read the Gateway's status conditions (kubectl describe gateway): a listener port the data "
            "plane cannot open, an invalid listener or no controller leaves it unprogrammed.",
        ),
        CheckSpec(
            "gateway.address",
            Step.LB,
            Severity.CRITICAL,
            "each Gateway has an address in its status",
            "The controller publishes the Gateway's address (Traefik: statusAddress); without one, DNS "
            "cannot be pointed at it and clients cannot reach it.",
        ),
        CheckSpec(
            "gateway.listener",
            Step.INGRESS,
            Severity.CRITICAL,
            "each listener is Accepted and Programmed with its references resolved",
            "Fix what the listener's conditions name: an unsupported protocol, a port the data plane does "
            "not listen on, a missing or unreadable certificateRefs Secret (ResolvedRefs).",
        ),
        CheckSpec(
            "gateway.route_attached",
            Step.INGRESS,
            Severity.CRITICAL,
            "the route's parentRefs name a listener whose hostname intersects the route's",
            "Name an existing Gateway (and sectionName) that allows routes from this namespace, with hostnames "
            "that intersect the listener's: a wildcard *.x listener matches any name under x.",
        ),
        CheckSpec(
            "gateway.route_accepted",
            Step.INGRESS,
            Severity.CRITICAL,
            "the route is Accepted on each parent (else the controller's reason)",
            "Read status.parents[].conditions of the HTTPRoute: NotAllowedByListeners, "
            "NoMatchingListenerHostname, NoMatchingParent... name the fix.",
        ),
        CheckSpec(
            "gateway.route_resolved_refs",
            Step.BACKEND,
            Severity.CRITICAL,
            "the route's references are resolved on each parent",
            "BackendNotFound, RefNotPermitted (a missing ReferenceGrant) or InvalidKind: fix the backendRef "
            "the condition names.",
        ),
        CheckSpec(
            "gateway.backend_service",
            Step.BACKEND,
            Severity.CRITICAL,
            "every backendRef names an existing Service and port",
            "Fix the backendRef's name/namespace/port, or create the Service; the controller answers 500 "
            "for the rule's share of traffic.",
        ),
        CheckSpec(
            "gateway.backend_endpoints",
            Step.BACKEND,
            Severity.CRITICAL,
            "every backendRef Service has ready endpoints",
            "No ready endpoints: check the Service's selector and the pods' readiness "
            "(kubectl get endpointslices -l kubernetes.io/service-name=NAME).",
        ),
        CheckSpec(
            "gateway.reference_grant",
            Step.INGRESS,
            Severity.CRITICAL,
            "every cross-namespace backendRef/certificateRef has a ReferenceGrant",
            "Create a ReferenceGrant in the referenced namespace: from the route's (or Gateway's) kind and "
            "namespace, to the Service (or Secret).",
        ),
        CheckSpec(
            "gateway.certificate",
            Step.TLS,
            Severity.CRITICAL,
            "each HTTPS listener's certificateRefs Secret exists, is kubernetes.io/tls, is in date and covers "
            "every effective hostname served on the listener",
            "Issue a certificate whose SANs cover every route hostname on the listener: a *.x certificate "
            "covers one label only, so a.b.x needs its own SAN (or *.b.x).",
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        inv = ctx.inventory
        classes = {c["metadata"]["name"]: c for c in inv.gateway_classes}
        attached: dict[tuple[str, str, str, str], list[tuple[str, str, str]]] = {}  # listener -> routes' hosts
        for gw in inv.gateways:
            self._gateway(ctx, gw, classes)
        routes = [("HTTPRoute", r) for r in inv.http_routes]
        routes += [("TLSRoute", r) for r in inv.tls_routes] + [("TCPRoute", r) for r in inv.tcp_routes]
        for kind, route in routes:
            for li, host, route_id in self._route(ctx, route, kind):
                attached.setdefault((li.owner_namespace, li.owner_name, li.owner_kind, li.name), []).append(
                    (host, route_id, li.gateway)
                )
        for gw in inv.gateways:
            for li in listeners_of(inv, gw):
                if li.protocol == "HTTPS":
                    self._certificates(
                        ctx, li, attached.get((li.owner_namespace, li.owner_name, li.owner_kind, li.name), [])
                    )

    # --- Gateways and listeners -----------------------------------------------------------------
    def _gateway(self, ctx: ProbeContext, gw: Obj, classes: dict[str, Obj]) -> None:
        ns, name = _meta(gw)
        where: Location = {"namespace": ns, "kind": "Gateway", "name": name}
        cls_name = (gw.get("spec") or {}).get("gatewayClassName", "")
        offline = ctx.inventory.offline
        cls = classes.get(cls_name)
        if cls is None:
            if classes or not offline:
                ctx.report(
                    "gateway.class_accepted",
                    Status.FAIL,
                    f"Gateway {ns}/{name}: GatewayClass {cls_name} "
                    f"does not exist (have: {', '.join(sorted(classes)) or 'none'})",
                    **where,
                )
        elif offline:
            ctx.report(
                "gateway.class_accepted",
                Status.SKIP,
                f"GatewayClass {cls_name} exists; manifests carry no status",
                **where,
            )
        else:
            accepted = _cond((cls.get("status") or {}).get("conditions"), "Accepted")
            controller = (cls.get("spec") or {}).get("controllerName")
            said = f"GatewayClass {cls_name} ({controller}): {_says(accepted, 'Accepted')}"
            verdict = Status.PASS if _true(accepted) else Status.FAIL
            if not _true(accepted) and (accepted is None or accepted.get("status") == "Unknown"):
                # Unknown is not False: a controller that programmed this very Gateway (for its current
                # generation) serves the class; its GatewayClass status is not written yet or went stale
                programmed = _cond((gw.get("status") or {}).get("conditions"), "Programmed")
                generation = (gw.get("metadata") or {}).get("generation")
                if (
                    programmed is not None
                    and _true(programmed)
                    and programmed.get("observedGeneration") in (None, generation)
                ):
                    verdict = Status.WARN
                    said += (
                        f", yet Gateway {ns}/{name} of this class is Programmed: its controller serves the class "
                        "but has not written the class's status (not yet, or stale)"
                    )
            ctx.report("gateway.class_accepted", verdict, said, **where, subject=f"GatewayClass {cls_name}")
        status = gw.get("status") or {}
        listeners = listeners_of(ctx.inventory, gw)
        if offline:
            why = "manifests carry no status"
            ctx.report("gateway.programmed", Status.SKIP, why, **where)
            ctx.report("gateway.address", Status.SKIP, why, **where)
            for li in listeners:
                ctx.report("gateway.listener", Status.SKIP, why, subject=li.id, **where)
            return
        conds = status.get("conditions")
        accepted, programmed = _cond(conds, "Accepted"), _cond(conds, "Programmed")
        ok = _true(accepted) and _true(programmed)
        ctx.report(
            "gateway.programmed",
            Status.PASS if ok else Status.FAIL,
            f"Gateway {ns}/{name}: {_says(accepted, 'Accepted')}, {_says(programmed, 'Programmed')}",
            evidence={"conditions": conds or []},
            **where,
        )
        addresses = [a.get("value") for a in status.get("addresses") or [] if a.get("value")]
        if addresses:
            ctx.report(
                "gateway.address",
                Status.PASS,
                f"Gateway {ns}/{name} has address {', '.join(addresses)}",
                evidence={"addresses": addresses},
                **where,
            )
        else:
            ctx.report("gateway.address", Status.FAIL, f"Gateway {ns}/{name} has no address in its status", **where)
        by_name = {ls.get("name"): ls for ls in status.get("listeners") or []}
        for li in listeners:
            if li.owner_kind == "ListenerSet":
                ls_status = next(
                    (
                        x.get("status") or {}
                        for x in ctx.inventory.listener_sets
                        if _meta(x) == (li.owner_namespace, li.owner_name)
                    ),
                    {},
                )
                entry = next((e for e in ls_status.get("listeners") or [] if e.get("name") == li.name), None)
            else:
                entry = by_name.get(li.name)
            if entry is None:
                ctx.report(
                    "gateway.listener",
                    Status.FAIL,
                    f"{li.id} has no status: the controller did not process it",
                    subject=li.id,
                    **where,
                )
                continue
            lc = entry.get("conditions")
            parts = [_cond(lc, k) for k in ("Accepted", "Programmed", "ResolvedRefs")]
            bad = [
                (_says(c, k))
                for c, k in zip(parts, ("Accepted", "Programmed", "ResolvedRefs"), strict=True)
                if not _true(c)
            ]
            if bad:
                ctx.report(
                    "gateway.listener",
                    Status.FAIL,
                    f"{li.id} ({li.protocol} port {li.port}): " + "; ".join(bad),
                    subject=li.id,
                    evidence={"conditions": lc or []},
                    **where,
                )
            else:
                ctx.report(
                    "gateway.listener",
                    Status.PASS,
                    f"{li.id} ({li.protocol} port {li.port}, hostname "
                    f"{li.hostname or 'any'}): Accepted, Programmed, ResolvedRefs; "
                    f"{entry.get('attachedRoutes', 0)} attached route(s)",
                    subject=li.id,
                    **where,
                )

    # --- routes -----------------------------------------------------------------------------------
    def _route(self, ctx: ProbeContext, route: Obj, kind: str = "HTTPRoute") -> list[tuple[Listener, str, str]]:
        """Report a route's checks; return (listener, effective hostname, route id) where it attaches."""
        inv = ctx.inventory
        ns, name = _meta(route)
        where: Location = {"namespace": ns, "kind": kind, "name": name}
        hostnames = [h for h in (route.get("spec") or {}).get("hostnames") or [] if h]
        out: list[tuple[Listener, str, str]] = []
        parent_list = list(parents(inv, route, kind))
        if not parent_list:
            ctx.report(
                "gateway.route_attached",
                Status.FAIL,
                f"{where['kind']} {ns}/{name} has no parentRefs: it attaches nowhere",
                **where,
            )
        for parent in parent_list:
            out += self._attachment(ctx, route, parent, hostnames, where)
            if not inv.offline:
                self._parent_status(ctx, route, parent, where)
        self._backends(ctx, route, where)
        return out

    def _attachment(
        self, ctx: ProbeContext, route: Obj, parent: Parent, hostnames: list[str], where: Location
    ) -> list[tuple[Listener, str, str]]:
        ns, name = _meta(route)
        if parent.gateway is None:
            why = parent.refused[0] if parent.refused else "does not exist"
            ctx.report(
                "gateway.route_attached",
                Status.FAIL,
                f"{where['kind']} {ns}/{name}: parent {parent.label} {why}",
                subject=parent.label,
                **where,
            )
            return []
        if not parent.listeners:
            why = "; ".join(parent.refused) or "no listener matches its sectionName/port"
            ctx.report(
                "gateway.route_attached",
                Status.FAIL,
                f"{where['kind']} {ns}/{name} attaches nowhere on {parent.label}: {why}",
                subject=parent.label,
                **where,
            )
            return []
        out = []
        for li in parent.listeners:
            out += [(li, h, f"{ns}/{name}") for h in effective_hostnames(li.hostname, hostnames)]
        if out:
            hosts = sorted({h for _, h, _ in out})
            ctx.report(
                "gateway.route_attached",
                Status.PASS,
                f"{where['kind']} {ns}/{name} attaches to "
                f"{', '.join(sorted({li.id for li, _, _ in out}))} as {', '.join(hosts)}",
                subject=parent.label,
                evidence={"effective_hostnames": hosts},
                **where,
            )
        else:
            listed = ", ".join(f"{li.name}={li.hostname or 'any'}" for li in parent.listeners)
            ctx.report(
                "gateway.route_attached",
                Status.FAIL,
                f"{where['kind']} {ns}/{name} attaches nowhere on "
                f"{parent.label}: its hostnames {', '.join(hostnames)} intersect no listener hostname "
                f"({listed})",
                subject=parent.label,
                **where,
            )
        return out

    def _parent_status(self, ctx: ProbeContext, route: Obj, parent: Parent, where: Location) -> None:
        ns, name = _meta(route)
        ref = parent.ref
        want = (ref.get("name"), ref.get("namespace") or ns, ref.get("sectionName"), ref.get("port"))
        entry = None
        for p in (route.get("status") or {}).get("parents") or []:
            pr = p.get("parentRef") or {}
            if (pr.get("name"), pr.get("namespace") or ns, pr.get("sectionName"), pr.get("port")) == want:
                entry = p
                break
        if entry is None:
            msg = f"{where['kind']} {ns}/{name} has no status for parent {parent.label}: no controller processed it"
            ctx.report("gateway.route_accepted", Status.FAIL, msg, subject=parent.label, **where)
            ctx.report(
                "gateway.route_resolved_refs",
                Status.SKIP,
                "skipped: no status for this parent",
                subject=parent.label,
                **where,
            )
            return
        conds = entry.get("conditions")
        for check, kind in (("gateway.route_accepted", "Accepted"), ("gateway.route_resolved_refs", "ResolvedRefs")):
            c = _cond(conds, kind)
            ctx.report(
                check,
                Status.PASS if _true(c) else Status.FAIL,
                f"{where['kind']} {ns}/{name} on {parent.label}: {_says(c, kind)}",
                subject=parent.label,
                evidence={"controller": entry.get("controllerName"), "condition": c or {}},
                **where,
            )

    def _backends(self, ctx: ProbeContext, route: Obj, where: Location) -> None:
        inv = ctx.inventory
        ns, name = _meta(route)
        seen: set[tuple[str, str, Any]] = set()
        for _rule, ref in backend_refs(route):
            if (ref.get("group") or "") != "" or (ref.get("kind") or "Service") != "Service":
                continue  # other backend kinds are the controller's extension; ResolvedRefs speaks for them
            b_ns, b_name, port = ref.get("namespace") or ns, ref.get("name", "?"), ref.get("port")
            if (b_ns, b_name, port) in seen:
                continue
            seen.add((b_ns, b_name, port))
            subject = f"Service {b_ns}/{b_name}" + (f" port {port}" if port is not None else "")
            if b_ns != ns:
                grant = reference_granted(inv, where.get("kind") or "HTTPRoute", ns, "Service", b_ns, b_name)
                if grant is None:
                    ctx.report(
                        "gateway.reference_grant",
                        Status.FAIL,
                        f"{where['kind']} {ns}/{name} refers to {subject} "
                        f"in another namespace, and no ReferenceGrant in {b_ns} allows it",
                        subject=subject,
                        **where,
                    )
                else:
                    ctx.report(
                        "gateway.reference_grant",
                        Status.PASS,
                        f"ReferenceGrant {b_ns}/{_meta(grant)[1]} allows {where['kind']}s of {ns} "
                        f"to refer to {subject}",
                        subject=subject,
                        **where,
                    )
            svc = inv.service(b_ns, b_name)
            if svc is None:
                ctx.report(
                    "gateway.backend_service", Status.FAIL, f"{subject} does not exist", subject=subject, **where
                )
                ctx.report(
                    "gateway.backend_endpoints",
                    Status.SKIP,
                    f"skipped: Service {b_ns}/{b_name} does not exist",
                    subject=subject,
                    **where,
                )
                continue
            ports = (svc.get("spec") or {}).get("ports") or []
            if port is None:
                ctx.report(
                    "gateway.backend_service",
                    Status.FAIL,
                    f"the backendRef to Service {b_ns}/{b_name} has no port (required for Services)",
                    subject=subject,
                    **where,
                )
            elif not any(p.get("port") == port for p in ports):
                have = ", ".join(str(p.get("port")) for p in ports) or "none"
                ctx.report(
                    "gateway.backend_service",
                    Status.FAIL,
                    f"Service {b_ns}/{b_name} has no port {port} (ports: {have})",
                    subject=subject,
                    **where,
                )
            else:
                ctx.report("gateway.backend_service", Status.PASS, f"{subject} exists", subject=subject, **where)
            if (svc.get("spec") or {}).get("type") == "ExternalName":
                ctx.report(
                    "gateway.backend_endpoints",
                    Status.SKIP,
                    f"Service {b_ns}/{b_name} is ExternalName",
                    subject=subject,
                    **where,
                )
                continue
            ready = inv.ready_endpoints(b_ns, b_name)
            if ready == 0 and inv.offline and (svc.get("spec") or {}).get("selector"):
                ctx.report(
                    "gateway.backend_endpoints",
                    Status.SKIP,
                    f"Service {b_ns}/{b_name} selects pods: its endpoints exist only in a cluster",
                    subject=subject,
                    **where,
                )
            elif ready == 0:
                ctx.report(
                    "gateway.backend_endpoints",
                    Status.FAIL,
                    f"Service {b_ns}/{b_name} has 0 ready endpoints",
                    subject=subject,
                    **where,
                )
            else:
                ctx.report(
                    "gateway.backend_endpoints",
                    Status.PASS,
                    f"Service {b_ns}/{b_name} has {ready} ready endpoint{'s' if ready != 1 else ''}",
                    subject=subject,
                    evidence={"ready": ready},
                    **where,
                )

    # --- certificates -------------------------------------------------------------------------------
    def _certificates(self, ctx: ProbeContext, li: Listener, attached: list[tuple[str, str, str]]) -> None:
        where: Location = {"namespace": li.owner_namespace, "kind": li.owner_kind, "name": li.owner_name}
        refs = li.certificate_refs
        if not refs:
            ctx.report(
                "gateway.certificate",
                Status.FAIL,
                f"{li.id} is HTTPS without a Secret certificateRef",
                subject=li.id,
                **where,
            )
            return
        hosts = sorted({h for h, _, _ in attached} | ({li.hostname.lower()} if li.hostname else set()))
        warn_days = ctx.profile.thresholds.cert_expiry_warning_days
        for s_ns, s_name in refs:
            subject = f"{li.id} Secret {s_ns}/{s_name}"
            if s_ns != li.owner_namespace:
                grant = reference_granted(ctx.inventory, li.owner_kind, li.owner_namespace, "Secret", s_ns, s_name)
                ctx.report(
                    "gateway.reference_grant",
                    Status.PASS if grant else Status.FAIL,
                    f"{li.id} refers to Secret {s_ns}/{s_name} in another namespace"
                    + (
                        f": allowed by ReferenceGrant {s_ns}/{_meta(grant)[1]}"
                        if grant
                        else ", and no ReferenceGrant allows it"
                    ),
                    subject=subject,
                    **where,
                )
            if (s_ns, s_name) not in ctx.inventory.secrets:
                ctx.report(
                    "gateway.certificate", Status.SKIP, f"Secret {s_ns}/{s_name} was not read", subject=subject, **where
                )
                continue
            info = ctx.inventory.secrets[(s_ns, s_name)]
            if info is None:
                ctx.report(
                    "gateway.certificate",
                    Status.FAIL,
                    f"Secret {s_ns}/{s_name} does not exist",
                    subject=subject,
                    **where,
                )
                continue
            ev: dict[str, Any] = {"secret": f"{s_ns}/{s_name}", "type": info.type, "hostnames": hosts}
            if info.type != "kubernetes.io/tls":
                ctx.report(
                    "gateway.certificate",
                    Status.FAIL,
                    f"Secret {s_ns}/{s_name} is of type {info.type}, not kubernetes.io/tls",
                    subject=subject,
                    evidence=ev,
                    **where,
                )
                continue
            try:
                cert = x509.load_pem_x509_certificate(info.cert_pem or b"")
            except ValueError:
                ctx.report(
                    "gateway.certificate",
                    Status.FAIL,
                    f"Secret {s_ns}/{s_name} tls.crt is not a PEM certificate",
                    subject=subject,
                    evidence=ev,
                    **where,
                )
                continue
            sans = dns_names(cert) or []
            now = dt.datetime.now(dt.UTC)
            ev.update({"sans": sans, "not_after": cert.not_valid_after_utc.isoformat()})
            gaps = [(h, why) for h in hosts if (why := certificate_gaps(h, sans))]
            routes_of = {h: sorted({r for hh, r, _ in attached if hh == h}) for h, _ in gaps}
            if gaps:
                detail = "; ".join(
                    f"{h}" + (f" (HTTPRoute {', '.join(routes_of[h])})" if routes_of[h] else "") + f": {why}"
                    for h, why in gaps
                )
                ctx.report(
                    "gateway.certificate",
                    Status.FAIL,
                    f"Secret {s_ns}/{s_name} (SANs: "
                    f"{', '.join(sans) or 'none'}) does not cover every hostname served on {li.id}: {detail}",
                    subject=subject,
                    evidence={"uncovered": [h for h, _ in gaps], **ev},
                    **where,
                )
            elif cert.not_valid_after_utc < now or cert.not_valid_before_utc > now:
                ctx.report(
                    "gateway.certificate",
                    Status.FAIL,
                    f"Secret {s_ns}/{s_name} is not valid now (valid "
                    f"{cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d})",
                    subject=subject,
                    evidence=ev,
                    **where,
                )
            elif cert.not_valid_after_utc - now < dt.timedelta(days=warn_days):
                ctx.report(
                    "gateway.certificate",
                    Status.WARN,
                    f"Secret {s_ns}/{s_name} expires in {(cert.not_valid_after_utc - now).days} days",
                    subject=subject,
                    evidence=ev,
                    **where,
                )
            else:
                ctx.report(
                    "gateway.certificate",
                    Status.PASS,
                    f"Secret {s_ns}/{s_name} covers "
                    f"{', '.join(hosts) or 'the listener'} until {cert.not_valid_after_utc:%Y-%m-%d}",
                    subject=subject,
                    evidence=ev,
                    **where,
                )
