"""Discovery offline, from manifests: multi-document YAML or `kubectl get -o yaml` List dumps."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..errors import UsageError
from .gateway import route_secret_refs
from .kube import GATEWAY_KINDS, secret_info, secret_refs
from .model import Inventory, Obj

_KINDS = {"Ingress": "ingresses", "IngressClass": "ingress_classes", "Service": "services",
          "EndpointSlice": "endpoint_slices", "Node": "nodes", **GATEWAY_KINDS}


def _documents(path: Path) -> list[Obj]:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"manifests: {path}: cannot be read: {exc}") from None
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise UsageError(f"manifests: {path}:{line}: invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"manifests: {path}: invalid YAML: {exc}") from None
    out: list[Obj] = []
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict) or "kind" not in doc:
            raise UsageError(f"manifests: {path}: a document is not a Kubernetes object (no kind)")
        if doc["kind"] == "List" or doc["kind"].endswith("List"):
            out += [i for i in doc.get("items") or [] if isinstance(i, dict)]
        else:
            out.append(doc)
    return out


def discover(directory: str, namespace: str | None = None) -> Inventory:
    root = Path(directory)
    if not root.is_dir():
        raise UsageError(f"manifests: {directory} is not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml", ".json") and p.is_file())
    if not files:
        raise UsageError(f"manifests: {directory} has no .yaml, .yml or .json files")
    inv = Inventory(context="manifests", server=str(root.resolve()), offline=True)
    secrets: dict[tuple[str, str], Obj] = {}
    for f in files:
        for obj in _documents(f):
            meta = obj.setdefault("metadata", {})
            if obj["kind"] in ("Ingress", "Service", "EndpointSlice", "Secret", "Gateway", "HTTPRoute",
                               "ListenerSet", "ReferenceGrant"):
                meta.setdefault("namespace", "default")
            if namespace and meta.get("namespace") not in (None, namespace) and obj["kind"] not in (
                    "Node", "Gateway", "ListenerSet", "ReferenceGrant", "Secret"):
                continue
            if obj["kind"] == "Secret":
                secrets[(meta["namespace"], meta.get("name", "?"))] = obj
            elif obj["kind"] in _KINDS:
                getattr(inv, _KINDS[obj["kind"]]).append(obj)
    inv.secrets = {ref: (secret_info(secrets[ref]) if ref in secrets else None)
                   for ref in sorted(secret_refs(inv.ingresses) | route_secret_refs(inv.gateways, inv.listener_sets))}
    return inv
