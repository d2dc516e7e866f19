"""Discovery offline, from manifests: multi-document YAML or `kubectl get -o yaml` List dumps.

Every object is first checked against what the API server would accept (``_schema``: the
published OpenAPI schema, then the Ingress validation rules); the first refusal is one line with
file, line, object and field, and exit 2, before any check runs.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .. import _yaml
from ..errors import UsageError
from . import _schema
from .gateway import route_secret_refs
from .inventory import Inventory
from .kube import GATEWAY_KINDS, secret_info, secret_refs
from .model import Obj

_KINDS = {
    "Ingress": "ingresses",
    "IngressClass": "ingress_classes",
    "Service": "services",
    "EndpointSlice": "endpoint_slices",
    "Node": "nodes",
    **GATEWAY_KINDS,
}


_INGRESS_API = "networking.k8s.io/v1"


def _documents(path: Path) -> list[Obj]:
    """The objects of one file, each checked as the API server would check it on create."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"manifests: {path}: cannot be read: {exc}") from None
    try:
        docs = _yaml.load_all(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"manifests: {path}:{_yaml.error_line(exc) or '?'}: invalid YAML: {problem}") from None
    out: list[Obj] = []
    problems: list[str] = []
    for doc in docs:
        if doc.data is None:
            continue
        if not isinstance(doc.data, dict) or not isinstance(doc.data.get("kind"), str):
            problems.append(f"{path}:{doc.line(())}: a document is not a Kubernetes object (no kind)")
            continue
        kind = doc.data["kind"]
        if kind == "List" or kind.endswith("List"):
            items = doc.data.get("items") or []
            if not isinstance(items, list):
                problems.append(f"{path}:{doc.line(('items',))}: {kind} items: must be of type array")
                continue
            for i, item in enumerate(items):
                problems += _check(path, doc, ("items", i), item)
                if isinstance(item, dict) and isinstance(item.get("kind"), str):
                    out.append(item)
        else:
            problems += _check(path, doc, (), doc.data)
            out.append(doc.data)
    if problems:
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        raise UsageError(f"manifests: {problems[0]}{more}")
    return out


def _check(path: Path, doc: _yaml.Located, at: tuple[str | int, ...], obj: object) -> list[str]:
    """``FILE:LINE: Ingress NS/NAME: FIELD: what the API server would say`` for each refusal."""
    if not isinstance(obj, dict) or not isinstance(obj.get("kind"), str):
        return [f"{path}:{doc.line(at)}: a document is not a Kubernetes object (no kind)"]
    meta: Obj = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
    who = (
        f"{obj['kind']} {meta.get('namespace') or 'default'}/{meta.get('name') or '?'}"
        if obj["kind"] != "IngressClass"
        else f"IngressClass {meta.get('name') or '?'}"
    )
    found = []
    version = obj.get("apiVersion")
    if obj["kind"] in ("Ingress", "IngressClass") and version != _INGRESS_API:
        found.append(
            _schema.Problem(
                ("apiVersion",), f"Unsupported value: {version!r}: the API serves {obj['kind']} as {_INGRESS_API}"
            )
        )
    found += _schema.validate(obj)
    return [f"{path}:{doc.line((*at, *p.path))}: {who}: {p}" for p in found]


def discover(directory: str, namespace: str | None = None) -> Inventory:
    root = Path(directory)
    if not root.is_dir():
        raise UsageError(f"manifests: {directory} is not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml", ".json") and p.is_file())
    if not files:
        raise UsageError(f"manifests: {directory} has no .yaml, .yml or .json files")
    inv = Inventory(context="manifests", server=str(root.resolve()), offline=True)
    secrets: dict[tuple[str, str], Obj] = {}
    kinds: set[str] = set()
    for f in files:
        for obj in _documents(f):
            kinds.add(obj["kind"])
            meta = obj.setdefault("metadata", {})
            if obj["kind"] in (
                "Ingress",
                "Service",
                "EndpointSlice",
                "Secret",
                "Gateway",
                "HTTPRoute",
                "TLSRoute",
                "TCPRoute",
                "ListenerSet",
                "ReferenceGrant",
            ):
                meta.setdefault("namespace", "default")
            if (
                namespace
                and meta.get("namespace") not in (None, namespace)
                and obj["kind"] not in ("Node", "Gateway", "ListenerSet", "ReferenceGrant", "Secret")
            ):
                continue
            if obj["kind"] == "Secret":
                secrets[(meta["namespace"], meta.get("name", "?"))] = obj
            elif obj["kind"] in _KINDS:
                getattr(inv, _KINDS[obj["kind"]]).append(obj)
    if not inv.ingresses and not inv.http_routes and not inv.tls_routes and not inv.tcp_routes:
        found = ", ".join(sorted(kinds)) or "no Kubernetes objects"
        raise UsageError(f"manifests: {directory} has no Ingress or HTTPRoute to check (found: {found})")
    inv.secrets = {
        ref: (secret_info(secrets[ref]) if ref in secrets else None)
        for ref in sorted(secret_refs(inv.ingresses) | route_secret_refs(inv.gateways, inv.listener_sets))
    }
    return inv
