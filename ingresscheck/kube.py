"""Talking to the Kubernetes API with the official client: connection like kubectl, and a small
generic writer for plain-dict objects (create, replace status, delete) used by the lab and by
mutating checks.

Connection errors become ``UsageError`` with one line: an unreadable kubeconfig, an unknown
context, or an API server that does not answer are configuration problems, not crashes. The
kubeconfig is validated by a declared schema (the fields the client reads, with their types) before
the client sees it, so a broken one is named with its file, line and field. Failed calls are
classified (``classify``: forbidden, unauthorized, not found, invalid, unreachable, timeout) from
the HTTP status or the exception class, never from message text.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config import exec_provider as _exec_provider
from kubernetes.config.config_exception import ConfigException
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import _yaml, known_secrets
from .errors import KubeError, Outcome, UsageError

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
    "TLSRoute": ("/apis/gateway.networking.k8s.io/v1", "tlsroutes", True),  # Standard since v1.5
    "TCPRoute": ("/apis/gateway.networking.k8s.io/v1", "tcproutes", True),  # Standard since v1.6
    "ReferenceGrant": ("/apis/gateway.networking.k8s.io/v1", "referencegrants", True),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    # Envoy Gateway's own kinds (the lab's second data plane)
    "EnvoyPatchPolicy": ("/apis/gateway.envoyproxy.io/v1alpha1", "envoypatchpolicies", True),
    "SecurityPolicy": ("/apis/gateway.envoyproxy.io/v1alpha1", "securitypolicies", True),
    "ClientTrafficPolicy": ("/apis/gateway.envoyproxy.io/v1alpha1", "clienttrafficpolicies", True),
    "BackendTrafficPolicy": ("/apis/gateway.envoyproxy.io/v1alpha1", "backendtrafficpolicies", True),
}


class _KcModel(BaseModel):
    # kubeconfigs carry more than the client reads (extensions, preferences): allowed, not checked
    model_config = ConfigDict(extra="allow", strict=True, populate_by_name=True)


class _KcCluster(_KcModel):
    server: str
    certificate_authority: str | None = Field(default=None, alias="certificate-authority")
    certificate_authority_data: str | None = Field(default=None, alias="certificate-authority-data")
    insecure_skip_tls_verify: bool | None = Field(default=None, alias="insecure-skip-tls-verify")
    tls_server_name: str | None = Field(default=None, alias="tls-server-name")


class _KcNamedCluster(_KcModel):
    name: str
    cluster: _KcCluster


class _KcUser(_KcModel):
    token: str | None = None
    token_file: str | None = Field(default=None, alias="tokenFile")
    client_certificate: str | None = Field(default=None, alias="client-certificate")
    client_certificate_data: str | None = Field(default=None, alias="client-certificate-data")
    client_key: str | None = Field(default=None, alias="client-key")
    client_key_data: str | None = Field(default=None, alias="client-key-data")
    username: str | None = None
    password: str | None = None
    exec: dict[str, Any] | None = None


class _KcNamedUser(_KcModel):
    name: str
    user: _KcUser | None = None


class _KcContext(_KcModel):
    cluster: str
    user: str | None = None
    namespace: str | None = None


class _KcNamedContext(_KcModel):
    name: str
    context: _KcContext


class _Kubeconfig(_KcModel):
    clusters: list[_KcNamedCluster] | None = None
    users: list[_KcNamedUser] | None = None
    contexts: list[_KcNamedContext] | None = None
    current_context: str | None = Field(default=None, alias="current-context")


def validate_kubeconfig(path: str) -> None:
    """Read one kubeconfig file and check it against the schema; a problem is one line (file, line, field)."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"kubeconfig {path} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        docs = _yaml.load_all(text)
    except yaml.YAMLError as exc:
        line = _yaml.error_line(exc)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"kubeconfig {path}:{line or '?'}: invalid YAML: {problem}") from None
    docs = [d for d in docs if d.data is not None]
    if not docs:
        raise UsageError(f"kubeconfig {path} is empty")
    if len(docs) > 1 or not isinstance(docs[0].data, dict):
        raise UsageError(f"kubeconfig {path}: expected one mapping (apiVersion: v1, kind: Config)")
    doc = docs[0]
    try:
        kc = _Kubeconfig.model_validate(doc.data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = tuple(err["loc"])
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        msg = err["msg"].replace("Input should be", "expected")
        given = err.get("input")
        if (
            err["type"] != "missing"
            and isinstance(given, (str, int, float, bool))
            and "password" not in where
            and "token" not in where
            and not where.endswith("-data")
        ):
            msg += f", got {given!r}"
        raise UsageError(f"kubeconfig {path}:{doc.line(loc) or '?'}: {where}: {msg}") from None
    for i, named in enumerate(kc.clusters or []):
        server = urlsplit(named.cluster.server)
        bad = ("has a query string" if server.query else "has a fragment" if server.fragment else None) or (
            None if server.scheme in ("http", "https") and server.hostname else "is not an http(s) URL with a host"
        )
        if bad:
            # the client appends API paths to the URL: after a query string they would be part of the query
            raise UsageError(
                f"kubeconfig {path}:{doc.line(('clusters', i, 'cluster', 'server')) or '?'}: "
                f"clusters[{i}].cluster.server {bad}; give scheme://host[:port][/path] only"
            )
    clusters = {c.name for c in kc.clusters or []}
    users = {u.name for u in kc.users or []}
    for i, ctx in enumerate(kc.contexts or []):
        if ctx.context.cluster not in clusters:
            raise UsageError(
                f"kubeconfig {path}:{doc.line(('contexts', i, 'context', 'cluster'))}: context "
                f"{ctx.name!r} names cluster {ctx.context.cluster!r}, which the file does not have "
                f"(it has: {', '.join(sorted(clusters)) or 'none'})"
            )
        if ctx.context.user is not None and ctx.context.user not in users:
            raise UsageError(
                f"kubeconfig {path}:{doc.line(('contexts', i, 'context', 'user'))}: context "
                f"{ctx.name!r} names user {ctx.context.user!r}, which the file does not have"
            )


def _unwrap(exc: BaseException) -> BaseException:
    """The error under urllib3's wrappers: MaxRetryError(reason), ProtocolError("Connection aborted.", inner),
    SSLError(inner). A TLS handshake that times out arrives as ProtocolError(..., TimeoutError)."""
    for _ in range(5):
        if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
            exc = exc.reason
        elif isinstance(exc, (urllib3.exceptions.ProtocolError, urllib3.exceptions.SSLError)) and any(
            isinstance(a, BaseException) for a in exc.args
        ):
            exc = next(a for a in exc.args if isinstance(a, BaseException))
        else:
            break
    return exc


def classify(exc: BaseException) -> tuple[Outcome, str]:
    """The outcome of one failed API call and a short detail, from the status or the exception class."""
    if isinstance(exc, ApiException):
        status = exc.status or 0
        outcome = {
            401: Outcome.UNAUTHORIZED,
            403: Outcome.FORBIDDEN,
            404: Outcome.NOT_FOUND,
            400: Outcome.INVALID,
            422: Outcome.INVALID,
            408: Outcome.TIMEOUT,
            504: Outcome.TIMEOUT,
        }.get(status, Outcome.ERROR)
        message = ""
        try:
            message = str(json.loads(exc.body or "{}").get("message") or "")
        except (ValueError, AttributeError):
            pass
        if isinstance(exc, NotKubernetes):
            return Outcome.ERROR, f"HTTP {status}: {exc.reason}"
        return outcome, f"HTTP {status}" + (f" ({message})" if message else f" {exc.reason or ''}".rstrip())
    inner = _unwrap(exc)
    if isinstance(inner, urllib3.exceptions.NewConnectionError):  # subclasses ConnectTimeoutError: first
        cause = inner.__cause__ or inner.__context__
        why = cause.strerror if isinstance(cause, OSError) and cause.strerror else _short(inner)
        return Outcome.UNREACHABLE, f"cannot connect: {why.lower()}"
    if isinstance(inner, (urllib3.exceptions.TimeoutError, TimeoutError)) or "timed out" in str(inner):
        return Outcome.TIMEOUT, "no answer in time (" + _short(inner) + ")"
    if isinstance(inner, urllib3.exceptions.SSLError):
        return Outcome.ERROR, "TLS handshake failed (" + _short(inner) + ")"
    if isinstance(inner, (urllib3.exceptions.ProtocolError, ConnectionError)):
        return Outcome.UNREACHABLE, "the connection was closed (" + _short(inner) + ")"
    if isinstance(inner, OSError):
        return Outcome.UNREACHABLE, inner.strerror or _short(inner)
    return Outcome.ERROR, _short(inner)


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    # urllib3 prefixes messages with the connection object's repr: keep what comes after it
    if text.startswith("<") and ">: " in text:
        text = text.split(">: ", 1)[1]
    return text


def api_error(
    exc: BaseException, cluster_server: str, verb: str, kind: str, namespace: str | None = None, name: str | None = None
) -> KubeError:
    """A classified one-line error for one call: ``API server S: list ingresses... in namespace N: forbidden: ...``."""
    outcome, detail = classify(exc)
    resource = resource_name(kind) + (f" {name}" if name else "")
    return KubeError(outcome, cluster_server, verb, resource, detail, namespace)


def resource_name(kind: str) -> str:
    """``ingresses.networking.k8s.io``, ``secrets``: how RBAC and kubectl name a resource."""
    if kind not in _RESOURCES:
        return kind
    prefix, plural, _ = _RESOURCES[kind]
    group = prefix.removeprefix("/apis/").rsplit("/", 1)[0] if prefix.startswith("/apis/") else ""
    return f"{plural}.{group}" if group else plural


@dataclass(frozen=True)
class Cluster:
    """A connected API client plus what a report says about the cluster."""

    api: client.ApiClient
    context: str
    server: str


# connect(IN_CLUSTER): the pod's service account (`run --in-cluster`), whatever kubeconfig exists
IN_CLUSTER = "in-cluster"
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


# An exec credential plugin (aws eks get-token, gke-gcloud-auth-plugin, kubelogin) that hangs must not
# hang us: the kubernetes client waits for it without a bound, so its module gets a Popen whose
# communicate() has one, and kills the plugin when it is exceeded.
EXEC_PLUGIN_TIMEOUT = 10.0
EXEC_PLUGIN_INTERACTIVE_TIMEOUT = 120.0  # a person at a terminal may have a login to finish (kubelogin)


def _exec_timeout() -> float:
    return EXEC_PLUGIN_INTERACTIVE_TIMEOUT if sys.stdin.isatty() and sys.stdout.isatty() else EXEC_PLUGIN_TIMEOUT


class _BoundedPopen(subprocess.Popen):
    """The plugin in a process group of its own, so that a timeout kills it and whatever it started
    (a shell script's children keep the output pipe open after the shell is gone)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "start_new_session": True})

    def communicate(self, input: Any = None, timeout: float | None = None) -> Any:
        try:
            return super().communicate(input, timeout=timeout or _exec_timeout())
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                super().communicate(timeout=2)
            except subprocess.TimeoutExpired:
                pass  # a grandchild that left the group still holds the pipe: it is not waited for
            args = self.args if isinstance(self.args, (list, tuple)) else [self.args]
            raise ConfigException(
                f"exec: the credential plugin {args[0]!s} did not finish within {_exec_timeout():g} s (killed)"
            ) from None


_exec_provider.subprocess = SimpleNamespace(Popen=_BoundedPopen, PIPE=subprocess.PIPE)  # type: ignore[assignment]


@contextlib.contextmanager
def _exec_plugin_errors(path: str) -> Iterator[None]:
    """The kubernetes client logs a failed exec plugin (exit code, bad output, our timeout) and goes on
    without credentials, as anonymous: here that failure is the one line it should be."""
    caught: list[str] = []

    class _Catch(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            message = record.getMessage()
            if message.startswith("exec:"):
                caught.append(message)
                return False
            return True

    catch = _Catch()
    root = logging.getLogger()
    root.addFilter(catch)
    try:
        yield
    finally:
        root.removeFilter(catch)
    if caught:
        raise UsageError(f"kubeconfig {path}: the user's credential plugin failed: {caught[0].splitlines()[0]}")


def _load_in_cluster(cfg: client.Configuration) -> None:
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise UsageError(
            "--in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not running in a pod?)"
        )
    token, ca = SERVICE_ACCOUNT_DIR / "token", SERVICE_ACCOUNT_DIR / "ca.crt"
    for needed in (token, ca):
        if not needed.is_file():
            raise UsageError(f"--in-cluster: {needed} does not exist (no service account token mounted?)")
    config.incluster_config.InClusterConfigLoader(token_filename=str(token), cert_filename=str(ca)).load_and_set(cfg)


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
        if str(kubeconfig) == IN_CLUSTER:
            _load_in_cluster(cfg)
            chosen = IN_CLUSTER
        elif kubeconfig or Path(path).exists():
            for one in path.split(os.pathsep):  # KUBECONFIG may list several files, merged like kubectl
                if not Path(one).is_file():
                    raise UsageError(f"kubeconfig {one} cannot be read: no such file")
                validate_kubeconfig(one)
            contexts, current = config.list_kube_config_contexts(config_file=path)
            names = [c["name"] for c in contexts]
            if context and context not in names:
                raise UsageError(f"kubeconfig {path} has no context {context!r} (it has: {', '.join(names) or 'none'})")
            chosen = context or (current or {}).get("name", "")
            with _exec_plugin_errors(path):
                config.load_kube_config(config_file=path, context=context, client_configuration=cfg)
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=cfg)
            chosen = "in-cluster"
        else:
            raise UsageError("no kubeconfig found: give --kubeconfig, set KUBECONFIG, or run in a cluster")
    except ConfigException as exc:
        raise UsageError(f"kubeconfig {path} cannot be used: {str(exc).splitlines()[0]}") from None
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise UsageError(f"kubeconfig {path} cannot be read: {str(exc).splitlines()[0]}") from None
    _register_credentials(cfg)
    cfg.connection_pool_maxsize = pool_size
    cfg.retries = False
    api = client.ApiClient(cfg)
    api.rest_client.pool_manager.connection_pool_kw["timeout"] = urllib3.Timeout(total=timeout)
    return Cluster(api=api, context=chosen, server=cfg.host)


def _register_credentials(cfg: client.Configuration) -> None:
    """The token or password the client will send: masked wherever it might be echoed or printed."""
    for value in (cfg.api_key or {}).values():
        known_secrets.register(str(value).removeprefix("Bearer ").strip())
    known_secrets.register(cfg.password or None, cfg.username or None)


class NotKubernetes(ApiException):
    """A 2xx answer that is not the API's JSON (a login page, a proxy's HTML, garbage): what it was, in words."""


def decode_api_body(status: int, content_type: str | None, data: bytes) -> Any:
    """The JSON of an API answer, or NotKubernetes naming what came instead (never a bare ValueError)."""
    try:
        decoded = orjson.loads(data or b"{}")  # 4x the stdlib decoder: most of a large discovery
    except ValueError:
        decoded = None
    if isinstance(decoded, dict):  # the API answers objects, always
        return decoded
    head = data[:60].decode(errors="replace")
    raise NotKubernetes(
        status=status,
        reason=f"the answer is not the Kubernetes API's JSON ({content_type or 'no Content-Type'}: {head!r})",
    )


def check_reachable(cluster: Cluster) -> None:
    """One cheap call, so an unreachable API server is one line (exit 2), not a traceback later."""
    try:
        version = Resources(cluster.api)._call("GET", "/version", timeout=5)
        if "gitVersion" not in version:
            raise NotKubernetes(status=200, reason=f"/version is not a Kubernetes version: {str(version)[:60]!r}")
    except NotKubernetes as exc:
        raise KubeError(
            Outcome.ERROR,
            cluster.server,
            "get",
            "/version",
            str(exc.reason),
            summary=f"API server {cluster.server} is not a Kubernetes API server: {exc.reason}",
        ) from None
    except ApiException as exc:
        outcome, detail = classify(exc)
        if outcome in (Outcome.UNAUTHORIZED, Outcome.FORBIDDEN):
            raise KubeError(
                outcome,
                cluster.server,
                "get",
                "/version",
                detail,
                summary=(f"API server {cluster.server} refused the credentials: {outcome.value}: {detail}"),
            ) from None
        raise KubeError(outcome, cluster.server, "get", "/version", detail) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        outcome, detail = classify(exc)
        word = (
            "is unreachable"
            if outcome is Outcome.UNREACHABLE
            else "did not answer in 5 s"
            if outcome is Outcome.TIMEOUT
            else "failed"
        )
        raise KubeError(
            outcome, cluster.server, "get", "/version", detail, summary=f"API server {cluster.server} {word}: {detail}"
        ) from None


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

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float = 30,
    ) -> Any:
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        _, url, headers, body, _ = self.api.param_serialize(
            method, path, header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        resp = self.api.call_api(method, url, header_params=headers, body=body, _request_timeout=timeout)
        data = resp.read()
        if not 200 <= resp.status < 300:
            raise ApiException(status=resp.status, reason=resp.reason, body=data.decode(errors="replace"))
        return decode_api_body(resp.status, resp.getheader("content-type"), data)

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
        return self._call(
            "PATCH", resource_path(obj, subresource="status"), patch, content_type="application/merge-patch+json"
        )

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

    def delete_collection(self, kind: str, namespace: str, label_selector: str, *, timeout: float = 30) -> None:
        """Delete every ``kind`` matching the selector in one call; the API server answers when it has deleted
        them all, which takes minutes for tens of thousands: give ``timeout`` accordingly."""
        prefix, plural, _ = _RESOURCES[kind]
        self._call(
            "DELETE",
            f"{prefix}/namespaces/{namespace}/{plural}?" + urlencode({"labelSelector": label_selector}),
            timeout=timeout,
        )

    def pages(
        self, kind: str, namespace: str | None = None, label_selector: str | None = None, *, limit: int = 500
    ) -> Iterator[list[Obj]]:
        """The objects of a list call, one page (``limit`` objects) at a time, as the API server sends them:
        a caller that keeps only part of each object never holds the whole list twice."""
        prefix, plural, namespaced = _RESOURCES[kind]
        path = f"{prefix}/namespaces/{namespace}/{plural}" if (namespaced and namespace) else f"{prefix}/{plural}"
        cont = ""
        while True:
            params = {"limit": str(limit)}
            if cont:
                params["continue"] = cont
            if label_selector:
                params["labelSelector"] = label_selector
            page = self._call("GET", path + "?" + urlencode(params))
            items = page.get("items") or []
            for item in items:
                item.setdefault("kind", kind)
            cont = (page.get("metadata") or {}).get("continue", "")
            del page
            yield items
            if not cont:
                return

    def list(self, kind: str, namespace: str | None = None, label_selector: str | None = None) -> list[Obj]:
        return [item for page in self.pages(kind, namespace, label_selector) for item in page]


def service_proxy_get(
    cluster: Cluster, namespace: str, service: str, port: int | str, path: str, timeout: float
) -> tuple[int, dict[str, str], bytes] | str:
    """GET ``path`` from a Service through the API server's service proxy (verb get on services/proxy):
    the Service's own answer when its endpoints cannot be reached from here. Returns (status, headers,
    body) or why it could not be had (forbidden, unreachable...), in one sentence."""
    from urllib.parse import quote

    url = (
        f"/api/v1/namespaces/{quote(namespace, safe='')}/services/{quote(service, safe='')}:{port}/proxy/"
        f"{path.lstrip('/')}"
    )
    try:
        _, full, headers, _, _ = cluster.api.param_serialize(
            "GET", url, header_params={"Accept": "*/*"}, auth_settings=["BearerToken"]
        )
        resp = cluster.api.call_api("GET", full, header_params=headers, _request_timeout=timeout)
        body = resp.read()[: 1 << 20]
    except Exception as exc:  # noqa: BLE001 - classified below, never raised to a probe
        outcome, why = classify(exc)
        return f"the API server's service proxy for {namespace}/{service}: {outcome.value}: {why}"
    if resp.status >= 400 and b'"kind":"Status"' in body.replace(b" ", b""):
        # the API server's own refusal (a Status object), not the Service's answer
        try:
            message = json.loads(body).get("message", "")
        except ValueError:
            message = ""
        if resp.status == 403:
            return f"the credentials may not get services/proxy in namespace {namespace} (HTTP 403: {message})"
        return (
            f"the API server's service proxy gave no answer from {namespace}/{service} (HTTP {resp.status}: {message})"
        )
    return resp.status, {k.lower(): v for k, v in resp.getheaders().items()}, body
