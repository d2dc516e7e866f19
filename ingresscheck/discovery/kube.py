"""Discovery from the Kubernetes API: paginated lists, Secrets only as far as checks need them."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException

from .. import known_secrets
from .._gc import collections_paused
from ..errors import Outcome
from ..kube import Cluster, Resources, api_error, classify, resource_name
from .gateway import route_secret_refs
from .inventory import Inventory
from .model import NGINX_PREFIX, Obj, SecretInfo, Unreadable, targets_of

# what a failed call may raise: an HTTP answer, or no usable answer (refused, reset, timed out)
_CALL_ERRORS = (ApiException, urllib3.exceptions.HTTPError, OSError)


def _lean(pages: Iterable[list[Obj]]) -> list[Obj]:
    """The listed objects without their managedFields (server-side apply bookkeeping no check reads, often
    the larger part of an object), dropped page by page as the pages arrive: at 50,000 Ingresses the whole
    list with them never exists at once."""
    items: list[Obj] = []
    for page in pages:
        for item in page:
            (item.get("metadata") or {}).pop("managedFields", None)
        items += page
    return items


def _select(items: list[Obj], namespace: str | None) -> list[Obj]:
    if namespace is None:
        return items
    return [i for i in items if i.get("metadata", {}).get("namespace") == namespace]


def discover(
    cluster: Cluster, namespace: str | None = None, selector: str | None = None, *, read_credentials: bool = False
) -> Inventory:
    """Read Ingresses (optionally one namespace and a label selector) and what they refer to.

    With ``read_credentials``, auth Secrets that hold plain ``username``/``password`` keys (besides
    the htpasswd ``auth`` key) lend them to the auth checks; they are kept out of every report.
    """
    with collections_paused():
        inventory = _discover(cluster, namespace, selector, read_credentials=read_credentials)
        _ = inventory.targets  # derived here, with the collector still paused: as many objects again
    return inventory


def _discover(cluster: Cluster, namespace: str | None, selector: str | None, *, read_credentials: bool) -> Inventory:
    res = Resources(cluster.api)

    def listed(kind: str, ns: str | None = None, sel: str | None = None) -> list[Obj]:
        try:
            return _lean(res.pages(kind, ns, sel))
        except _CALL_ERRORS as exc:
            # one line naming the verb, the resource and the scope: "list ingresses.networking.k8s.io
            # cluster-wide: forbidden: ...", never a traceback and never a guess
            raise api_error(exc, cluster.server, "list", kind, ns) from None

    ingresses = listed("Ingress", namespace, selector)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            "classes": pool.submit(listed, "IngressClass"),
            "services": pool.submit(listed, "Service", namespace),
            "slices": pool.submit(listed, "EndpointSlice", namespace),
            "nodes": pool.submit(_optional, res, cluster.server, "Node"),
            **{
                kind: pool.submit(
                    _gateway_api, res, cluster.server, kind, namespace, selector if kind in ROUTE_KINDS else None
                )
                for kind in GATEWAY_KINDS
            },
        }
        inv = Inventory(
            context=cluster.context,
            server=cluster.server,
            ingresses=ingresses,
            ingress_classes=futures["classes"].result(),
            services=futures["services"].result(),
            endpoint_slices=futures["slices"].result(),
            nodes=futures["nodes"].result(),
            **{field: futures[kind].result() for kind, field in GATEWAY_KINDS.items()},  # type: ignore[arg-type]
        )
        # LoadBalancer/NodePort Services outside the namespace filter still matter for exposure
        refs = secret_refs(ingresses) | route_secret_refs(inv.gateways, inv.listener_sets)
        raw = list(pool.map(lambda ref: (ref, _secret_object(res, *ref)), sorted(refs)))
    inv.secrets = {ref: (secret_info(obj) if obj else None) for ref, obj in raw if not isinstance(obj, Unreadable)}
    inv.unreadable = {ref: obj for ref, obj in raw if isinstance(obj, Unreadable)}
    if read_credentials:
        inv.credentials = {
            ref: creds for ref, obj in raw if isinstance(obj, dict) and (creds := plain_credentials(obj))
        }
    return inv


# Gateway API kinds -> Inventory field. GatewayClasses are cluster-wide; Gateways are listed in every
# namespace (a route in the selected namespace may attach to a Gateway elsewhere).
GATEWAY_KINDS = {
    "GatewayClass": "gateway_classes",
    "Gateway": "gateways",
    "ListenerSet": "listener_sets",
    "HTTPRoute": "http_routes",
    "ReferenceGrant": "reference_grants",
    # TCP services exposed through the Gateway (issue 25): SNI passthrough and plain TCP
    "TLSRoute": "tls_routes",
    "TCPRoute": "tcp_routes",
}
ROUTE_KINDS = ("HTTPRoute", "TLSRoute", "TCPRoute")


def _gateway_api(
    res: Resources, server: str, kind: str, namespace: str | None, selector: str | None = None
) -> list[Obj]:
    """A Gateway API list; empty when the cluster does not serve that kind (no CRD: 404) or forbids it.
    Routes are targets like Ingresses: -n and -l select them; their Gateways are read wherever they are."""
    scoped = namespace if kind in ROUTE_KINDS else None
    try:
        return _lean(res.pages(kind, scoped, selector))
    except ApiException as exc:
        if exc.status in (403, 404):
            return []
        raise api_error(exc, server, "list", kind, scoped) from None
    except _CALL_ERRORS as exc:
        raise api_error(exc, server, "list", kind, scoped) from None


def _optional(res: Resources, server: str, kind: str) -> list[Obj]:
    """Nodes need cluster-wide read; without it, exposure checks say so instead of failing discovery."""
    try:
        return _lean(res.pages(kind))
    except ApiException as exc:
        if exc.status == 403:
            return []
        raise api_error(exc, server, "list", kind) from None
    except _CALL_ERRORS as exc:
        raise api_error(exc, server, "list", kind) from None


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


def _secret_object(res: Resources, namespace: str, name: str) -> Obj | Unreadable | None:
    """The Secret, None when it does not exist (404), or why it could not be read (403, timeout...)."""
    try:
        return res.get({"kind": "Secret", "metadata": {"namespace": namespace, "name": name}})
    except _CALL_ERRORS as exc:
        outcome, detail = classify(exc)
        verb = f"get {resource_name('Secret')} in namespace {namespace}"
        why = {
            Outcome.FORBIDDEN: f"the credentials may not {verb}",
            Outcome.UNAUTHORIZED: f"the credentials were refused to {verb}",
            Outcome.TIMEOUT: f"the API server did not answer in time to {verb}",
            Outcome.UNREACHABLE: f"the API server could not be reached to {verb}",
        }.get(outcome, f"{verb} failed")
        return Unreadable(namespace, name, outcome.value, f"{why} ({detail})")


def plain_credentials(obj: Obj) -> tuple[str, str] | None:
    """username/password keys of a Secret (kubernetes.io/basic-auth style), if it has both."""
    data = obj.get("data") or {}
    try:
        if "username" in data and "password" in data:
            username = base64.b64decode(data["username"]).decode()
            password = base64.b64decode(data["password"]).decode()
            known_secrets.register(password, username)
            return username, password
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
    from ..htpasswd import count_lines

    keys = tuple(sorted(set(data) | set(string_data)))
    # auth-map form: one user per key, the hash its value (counted the way htpasswd lines are)
    as_map = "\n".join(f"{k}:{(value(k) or b'').decode(errors='replace').strip()}" for k in keys)
    map_users, map_invalid = count_lines(as_map) if keys else (0, 0)
    matches, problem = _key_matches(cert, value("tls.key"))
    return SecretInfo(
        meta.get("namespace", "default"),
        meta.get("name", "?"),
        obj.get("type", "Opaque"),
        keys,
        cert,
        lines,
        invalid,
        key_matches=matches,
        key_problem=problem,
        map_users=map_users,
        map_invalid=map_invalid,
    )


def _key_matches(cert_pem: bytes | None, key_pem: bytes | None) -> tuple[bool | None, str]:
    """Whether tls.key is the private key of tls.crt's certificate (their public keys are equal)."""
    if not cert_pem or key_pem is None:
        return None, ""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        return None, ""
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        return False, f"tls.key is not a readable unencrypted PEM private key ({type(exc).__name__})"
    except Exception as exc:  # noqa: BLE001 - an unsupported key type is a finding, not a crash
        return False, f"tls.key cannot be used ({type(exc).__name__})"
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*raw) != cert.public_key().public_bytes(*raw):
        return False, "tls.key is not the private key of the certificate in tls.crt"
    return True, ""


__all__ = ["discover", "plain_credentials", "secret_info", "secret_refs", "targets_of"]
