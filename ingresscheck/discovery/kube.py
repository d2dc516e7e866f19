"""Discovery from the Kubernetes API: paginated lists, Secrets only as far as checks need them."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubernetes.client.exceptions import ApiException

from ..errors import UsageError
from ..kube import Cluster, Resources
from .gateway import route_secret_refs
from .model import NGINX_PREFIX, Inventory, Obj, SecretInfo, targets_of


def _select(items: list[Obj], namespace: str | None) -> list[Obj]:
    if namespace is None:
        return items
    return [i for i in items if i.get("metadata", {}).get("namespace") == namespace]


def discover(cluster: Cluster, namespace: str | None = None, selector: str | None = None, *,
             read_credentials: bool = False) -> Inventory:
    """Read Ingresses (optionally one namespace and a label selector) and what they refer to.

    With ``read_credentials``, auth Secrets that hold plain ``username``/``password`` keys (besides
    the htpasswd ``auth`` key) lend them to the auth checks; they are kept out of every report.
    """
    res = Resources(cluster.api)
    try:
        ingresses = res.list("Ingress", namespace, selector)
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = {
                "classes": pool.submit(res.list, "IngressClass"),
                "services": pool.submit(res.list, "Service", namespace),
                "slices": pool.submit(res.list, "EndpointSlice", namespace),
                "nodes": pool.submit(_optional, res, "Node"),
                **{kind: pool.submit(_gateway_api, res, kind, namespace) for kind in GATEWAY_KINDS},
            }
            inv = Inventory(
                context=cluster.context, server=cluster.server, ingresses=ingresses,
                ingress_classes=futures["classes"].result(), services=futures["services"].result(),
                endpoint_slices=futures["slices"].result(), nodes=futures["nodes"].result(),
                **{field: futures[kind].result() for kind, field in GATEWAY_KINDS.items()},
            )
            # LoadBalancer/NodePort Services outside the namespace filter still matter for exposure
            refs = secret_refs(ingresses) | route_secret_refs(inv.gateways, inv.listener_sets)
            raw = list(pool.map(lambda ref: (ref, _secret_object(res, *ref)), sorted(refs)))
    except ApiException as exc:
        raise UsageError(f"API server {cluster.server} refused a list: HTTP {exc.status} {exc.reason}") from None
    inv.secrets = {ref: (secret_info(obj) if obj else None) for ref, obj in raw}
    if read_credentials:
        inv.credentials = {ref: creds for ref, obj in raw if obj and (creds := plain_credentials(obj))}
    return inv


# Gateway API kinds -> Inventory field. GatewayClasses are cluster-wide; Gateways are listed in every
# namespace (a route in the selected namespace may attach to a Gateway elsewhere).
GATEWAY_KINDS = {"GatewayClass": "gateway_classes", "Gateway": "gateways", "ListenerSet": "listener_sets",
                 "HTTPRoute": "http_routes", "ReferenceGrant": "reference_grants"}


def _gateway_api(res: Resources, kind: str, namespace: str | None) -> list[Obj]:
    """A Gateway API list; empty when the cluster does not serve that kind (no CRD: 404) or forbids it."""
    scoped = namespace if kind in ("HTTPRoute",) else None
    try:
        return res.list(kind, scoped)
    except ApiException as exc:
        if exc.status in (403, 404):
            return []
        raise


def _optional(res: Resources, kind: str) -> list[Obj]:
    """Nodes need cluster-wide read; without it, exposure checks say so instead of failing discovery."""
    try:
        return res.list(kind)
    except ApiException as exc:
        if exc.status == 403:
            return []
        raise


def secret_refs(ingresses: list[Obj]) -> set[tuple[str, str]]:
    refs = set()
    for ing in ingresses:
        meta = ing.get("metadata", {})
        ns = meta.get("namespace", "default")
        for block in (ing.get("spec") or {}).get("tls") or []:
            if block.get("secretName"):
                refs.add((ns, block["secretName"]))
        auth = (meta.get("annotations") or {}).get(NGINX_PREFIX + "auth-secret")
        if auth:
            ns2, _, name = auth.rpartition("/")
            refs.add((ns2 or ns, name))
    return refs


def _secret_object(res: Resources, namespace: str, name: str) -> Obj | None:
    try:
        return res.get({"kind": "Secret", "metadata": {"namespace": namespace, "name": name}})
    except ApiException as exc:
        if exc.status == 403:
            return None
        raise


def plain_credentials(obj: Obj) -> tuple[str, str] | None:
    """username/password keys of a Secret (kubernetes.io/basic-auth style), if it has both."""
    data = obj.get("data") or {}
    try:
        if "username" in data and "password" in data:
            return base64.b64decode(data["username"]).decode(), base64.b64decode(data["password"]).decode()
    except ValueError:
        return None
    return None


def secret_info(obj: Obj) -> SecretInfo:
    """Keep what checks need from a Secret and drop its values."""
    meta = obj.get("metadata", {})
    data: dict[str, Any] = obj.get("data") or {}
    string_data: dict[str, str] = obj.get("stringData") or {}

    def value(key: str) -> bytes | None:
        if key in string_data:
            return string_data[key].encode()
        if key in data:
            try:
                return base64.b64decode(data[key])
            except ValueError:
                return b""
        return None

    cert = value("tls.crt")
    lines = invalid = None
    auth = value("auth")
    if auth is not None:
        from ..htpasswd import count_lines

        lines, invalid = count_lines(auth.decode(errors="replace"))
    return SecretInfo(meta.get("namespace", "default"), meta.get("name", "?"), obj.get("type", "Opaque"),
                      tuple(sorted(set(data) | set(string_data))), cert, lines, invalid)


__all__ = ["discover", "plain_credentials", "secret_info", "secret_refs", "targets_of"]
