"""Talking to the Kubernetes API with the official client: connection like kubectl, and a small
generic writer for plain-dict objects (create, replace status, delete) used by the lab and by
mutating checks.

Connection errors become ``UsageError`` with one line: an unreadable kubeconfig, an unknown
context, or an API server that does not answer are configuration problems, not crashes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from .errors import UsageError

Obj = dict[str, Any]

# kind -> (API prefix, plural, namespaced)
_RESOURCES: dict[str, tuple[str, str, bool]] = {
    "Namespace": ("/api/v1", "namespaces", False),
    "Node": ("/api/v1", "nodes", False),
    "Service": ("/api/v1", "services", True),
    "Secret": ("/api/v1", "secrets", True),
    "ConfigMap": ("/api/v1", "configmaps", True),
    "Endpoints": ("/api/v1", "endpoints", True),
    "EndpointSlice": ("/apis/discovery.k8s.io/v1", "endpointslices", True),
    "Ingress": ("/apis/networking.k8s.io/v1", "ingresses", True),
    "IngressClass": ("/apis/networking.k8s.io/v1", "ingressclasses", False),
    "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "CustomResourceDefinition": ("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions", False),
    # Gateway API (standard channel, v1.6): ReferenceGrant is still stored as v1beta1, v1 is served
    "GatewayClass": ("/apis/gateway.networking.k8s.io/v1", "gatewayclasses", False),
    "Gateway": ("/apis/gateway.networking.k8s.io/v1", "gateways", True),
    "ListenerSet": ("/apis/gateway.networking.k8s.io/v1", "listenersets", True),
    "HTTPRoute": ("/apis/gateway.networking.k8s.io/v1", "httproutes", True),
    "ReferenceGrant": ("/apis/gateway.networking.k8s.io/v1", "referencegrants", True),
}


@dataclass(frozen=True)
class Cluster:
    """A connected API client plus what a report says about the cluster."""

    api: client.ApiClient
    context: str
    server: str


def connect(
    kubeconfig: str | os.PathLike[str] | None = None,
    context: str | None = None,
    *,
    pool_size: int = 16,
    timeout: float = 10.0,
) -> Cluster:
    """Connect like kubectl: --kubeconfig, else $KUBECONFIG, else ~/.kube/config, else in-cluster."""
    cfg = client.Configuration()
    path = str(kubeconfig) if kubeconfig else os.environ.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())
    try:
        if kubeconfig or Path(path).exists():
            if not Path(path).is_file():
                raise UsageError(f"kubeconfig {path} cannot be read: no such file")
            contexts, current = config.list_kube_config_contexts(config_file=path)
            names = [c["name"] for c in contexts]
            if context and context not in names:
                raise UsageError(f"kubeconfig {path} has no context {context!r} (it has: {', '.join(names) or 'none'})")
            chosen = context or (current or {}).get("name", "")
            config.load_kube_config(config_file=path, context=context, client_configuration=cfg)
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=cfg)
            chosen = "in-cluster"
        else:
            raise UsageError("no kubeconfig found: give --kubeconfig, set KUBECONFIG, or run in a cluster")
    except ConfigException as exc:
        raise UsageError(f"kubeconfig {path} cannot be used: {str(exc).splitlines()[0]}") from None
    except (OSError, ValueError) as exc:  # yaml errors are ValueErrors too
        raise UsageError(f"kubeconfig {path} cannot be read: {str(exc).splitlines()[0]}") from None
    cfg.connection_pool_maxsize = pool_size
    cfg.retries = False
    api = client.ApiClient(cfg)
    api.rest_client.pool_manager.connection_pool_kw["timeout"] = urllib3.Timeout(total=timeout)
    return Cluster(api=api, context=chosen, server=cfg.host)


def check_reachable(cluster: Cluster) -> None:
    """One cheap call, so an unreachable API server is one line (exit 2), not a traceback later."""
    try:
        client.VersionApi(cluster.api).get_code(_request_timeout=5)
    except ApiException as exc:
        if exc.status in (401, 403):
            raise UsageError(f"API server {cluster.server} refused the credentials (HTTP {exc.status})") from None
        raise UsageError(f"API server {cluster.server} answered HTTP {exc.status}") from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise UsageError(f"API server {cluster.server} is unreachable: {reason}") from None


def resource_path(obj: Obj, *, named: bool = True, subresource: str | None = None) -> str:
    kind = obj["kind"]
    if kind not in _RESOURCES:
        raise ValueError(f"unsupported kind {kind}")
    prefix, plural, namespaced = _RESOURCES[kind]
    meta = obj.get("metadata", {})
    path = prefix
    if namespaced:
        path += f"/namespaces/{meta.get('namespace') or 'default'}"
    path += f"/{plural}"
    if named:
        path += f"/{meta['name']}"
    if subresource:
        path += f"/{subresource}"
    return path


class Resources:
    """List, get, create, patch and delete plain-dict objects through the generic REST paths."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api

    def _call(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        _, url, headers, body, _ = self.api.param_serialize(
            method, path, header_params=headers, body=body, auth_settings=["BearerToken"])
        resp = self.api.call_api(method, url, header_params=headers, body=body, _request_timeout=30)
        data = resp.read()
        if not 200 <= resp.status < 300:
            raise ApiException(status=resp.status, reason=resp.reason, body=data.decode(errors="replace"))
        return json.loads(data or b"{}")

    def create(self, obj: Obj, *, exist_ok: bool = False) -> Obj:
        status = obj.get("status")
        body = {k: v for k, v in obj.items() if k != "status"}
        try:
            created = self._call("POST", resource_path(obj, named=False), body)
        except ApiException as exc:
            if exc.status == 409 and exist_ok:
                return obj
            raise
        if status:
            self.replace_status({**created, "status": status})
        return created

    def replace_status(self, obj: Obj) -> Obj:
        patch = {"status": obj["status"]}
        return self._call("PATCH", resource_path(obj, subresource="status"), patch,
                          content_type="application/merge-patch+json")

    def patch(self, obj: Obj, patch: Obj) -> Obj:
        return self._call("PATCH", resource_path(obj), patch, content_type="application/merge-patch+json")

    def replace(self, obj: Obj) -> Obj:
        return self._call("PUT", resource_path(obj), obj)

    def apply(self, obj: Obj, field_manager: str = "ingresscheck") -> Obj:
        """Server-side apply (idempotent create-or-update, owned fields tracked per manager)."""
        path = resource_path(obj) + "?" + urlencode({"fieldManager": field_manager, "force": "true"})
        return self._call("PATCH", path, json.dumps(obj), content_type="application/apply-patch+yaml")

    def get(self, obj: Obj) -> Obj | None:
        try:
            return self._call("GET", resource_path(obj))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def delete(self, obj: Obj, *, missing_ok: bool = True) -> None:
        try:
            self._call("DELETE", resource_path(obj))
        except ApiException as exc:
            if not (exc.status == 404 and missing_ok):
                raise

    def delete_collection(self, kind: str, namespace: str, label_selector: str) -> None:
        prefix, plural, _ = _RESOURCES[kind]
        self._call("DELETE", f"{prefix}/namespaces/{namespace}/{plural}?" + urlencode(
            {"labelSelector": label_selector}))

    def list(self, kind: str, namespace: str | None = None, label_selector: str | None = None) -> list[Obj]:
        prefix, plural, namespaced = _RESOURCES[kind]
        path = f"{prefix}/namespaces/{namespace}/{plural}" if (namespaced and namespace) else f"{prefix}/{plural}"
        items: list[Obj] = []
        cont = ""
        while True:
            params = {"limit": "500"}
            if cont:
                params["continue"] = cont
            if label_selector:
                params["labelSelector"] = label_selector
            query = "?" + urlencode(params)
            page = self._call("GET", path + query)
            for item in page.get("items", []):
                item.setdefault("kind", kind)
            items += page.get("items", [])
            cont = page.get("metadata", {}).get("continue", "")
            if not cont:
                return items
