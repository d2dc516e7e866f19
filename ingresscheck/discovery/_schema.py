"""What the API server would refuse, checked offline: manifests are validated before any check runs.

Two layers, as in the API server itself:

1. Structure and types: the OpenAPI v3 schema the API server publishes for networking.k8s.io/v1
   (``ingress-v1.openapi.json`` beside this file: the components reachable from Ingress and
   IngressClass in k8s.io/kubernetes v1.35.4 ``api/openapi-spec/v3/apis__networking.k8s.io__v1_openapi.json``,
   the version the lab runs), applied with ``jsonschema``.
2. Values: the rules of ``ValidateIngressCreate`` in k8s.io/kubernetes
   ``pkg/apis/networking/validation/validation.go`` (host a lowercase RFC 1123 subdomain or a
   ``*.`` wildcard and not an IP; pathType required, Exact/Prefix paths absolute and without
   ``//``, ``/./``, ``/../``, ``%2f``, nor ending in ``/..`` or ``/.``; a backend is either a
   service (name, and a port name or number, not both) or a resource; either rules or a
   defaultBackend; TLS hosts and secretName, ingressClassName, the class annotation agreeing with
   ``ingressClassName``), with the API server's own wording.

Each problem is a ``Problem`` with the field path (``spec.rules[0].host``) so the caller can name
file and line.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

Obj = dict[str, Any]
Path = tuple[str | int, ...]

_SCHEMA_FILE = "ingress-v1.openapi.json"
# The Gateway API standard-channel CRDs' openAPIV3Schema (v1.6.1, the version the lab's Traefik implements),
# descriptions and CEL rules left out: what `kubectl apply` is refused for by structure (types, enums,
# patterns, lengths, required fields). CEL rules are the API server's own and are not re-implemented here.
_GATEWAY_SCHEMA_FILE = "gateway-api-v1.6.1.openapi.json"
_REF = "#/components/schemas/io.k8s.api.networking.v1."

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_DNS1123_LABEL = re.compile(_LABEL)
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com')"
)
_WILDCARD_MSG = (
    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must "
    "consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character "
    "(e.g. '*.example.com')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name')"
)
_INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_PATH_SUFFIXES = ("/..", "/.")
_PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
_CLASS_ANNOTATION = "kubernetes.io/ingress.class"


@dataclass(frozen=True)
class Problem:
    path: Path  # where in the object: ("spec", "rules", 0, "host")
    message: str  # the API server's wording: "Invalid value: 'X': ..." / "Required value" / ...

    @property
    def field(self) -> str:
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        return out or "(the object)"

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@cache
def _validators() -> dict[str, jsonschema.protocols.Validator]:
    doc = json.loads(resources.files(__package__).joinpath(_SCHEMA_FILE).read_text())
    out = {}
    for kind in ("Ingress", "IngressClass"):
        schema = {"$ref": _REF + kind, "components": doc["components"]}
        out[kind] = jsonschema.Draft202012Validator(schema)
    return out


def _too_long(value: str, limit: int) -> bool:
    return len(value) > limit


def _subdomain(value: str) -> list[str]:
    msgs = []
    if _too_long(value, 253):
        msgs.append("must be no more than 253 characters")
    if not _SUBDOMAIN.fullmatch(value):
        msgs.append(_SUBDOMAIN_MSG)
    return msgs


def _wildcard_subdomain(value: str) -> list[str]:
    msgs = []
    if _too_long(value, 253):
        msgs.append("must be no more than 253 characters")
    if not (value.startswith("*.") and _SUBDOMAIN.fullmatch(value[2:])):
        msgs.append(_WILDCARD_MSG)
    return msgs


def _port_name(value: str) -> list[str]:
    """IsValidPortName (IANA_SVC_NAME): 1-15 characters, lowercase letters, digits and '-', at least one letter."""
    msgs = []
    if len(value) > 15:
        msgs.append("must be no more than 15 characters")
    if not re.fullmatch(r"[-a-z0-9]+", value):
        msgs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in value:
        msgs.append("must not contain consecutive hyphens")
    if not re.search(r"[a-z]", value):
        msgs.append("must contain at least one letter (a-z)")
    if value.startswith("-") or value.endswith("-"):
        msgs.append("must not begin or end with a hyphen")
    return msgs


def _invalid(path: Path, value: Any, msg: str) -> Problem:
    return Problem(path, f"Invalid value: {value!r}: {msg}")


def _required(path: Path, detail: str = "") -> Problem:
    return Problem(path, "Required value" + (f": {detail}" if detail else ""))


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _structure(kind: str, obj: Obj) -> list[Problem]:
    """OpenAPI types and required fields, deepest first is not needed: sorted by where they are."""
    return _schema_problems(_validators()[kind], obj)


def _schema_problems(validator: jsonschema.protocols.Validator, obj: Obj, *, other: str = "") -> list[Problem]:
    """Schema errors worded as the API server words them; ``other`` prefixes what has no such wording."""
    problems = []
    for err in validator.iter_errors(obj):
        path = tuple(err.absolute_path)
        if err.validator == "type":
            msg = f"Invalid value: {_show(err.instance)}: must be of type {err.validator_value}"
        elif err.validator == "required":
            missing = err.message.split("'")[1] if "'" in err.message else err.message
            path = (*path, missing)
            msg = "Required value"
        elif err.validator == "enum":
            msg = f"Unsupported value: {_show(err.instance)}: supported values: " + ", ".join(
                repr(v) for v in err.validator_value
            )
        elif err.validator == "pattern":
            msg = f"Invalid value: {_show(err.instance)}: must match {err.validator_value!r}"
        else:
            msg = other + err.message
        problems.append(Problem(path, msg))
    return sorted(problems, key=lambda p: [str(x) for x in p.path])


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _meta(obj: Obj, name_rule: Any = _subdomain, namespaced: bool = True) -> list[Problem]:
    meta = obj.get("metadata") or {}
    out = []
    name = meta.get("name")
    if not name and not meta.get("generateName"):
        out.append(_required(("metadata", "name"), "name or generateName is required"))
    elif isinstance(name, str) and name:
        out += [_invalid(("metadata", "name"), name, m) for m in name_rule(name)]
    ns = meta.get("namespace")
    if namespaced and isinstance(ns, str) and ns and not _DNS1123_LABEL.fullmatch(ns):
        out.append(_invalid(("metadata", "namespace"), ns, _LABEL_MSG))
    return out


def _backend(backend: Obj, path: Path) -> list[Problem]:
    resource, service = backend.get("resource"), backend.get("service")
    if resource is not None and service is not None:
        return [_invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        out = []
        for key in ("kind", "name"):
            if not resource.get(key):
                out.append(_required((*path, "resource", key)))
        return out
    if service is None:
        return [_invalid(path, "", "resource or service backend is required")]
    out = []
    name = service.get("name") or ""
    if not name:
        out.append(_required((*path, "service", "name")))
    elif not _DNS1123_LABEL.fullmatch(name) or len(name) > 63:
        out.append(_invalid((*path, "service", "name"), name, _LABEL_MSG))
    port = service.get("port") or {}
    port_name, number = port.get("name") or "", port.get("number") or 0
    if port_name and number:
        out.append(_invalid(path, "", "cannot set both port name & port number"))
    elif port_name:
        out += [_invalid((*path, "service", "port", "name"), port_name, m) for m in _port_name(port_name)]
    elif number:
        if not 1 <= number <= 65535:
            out.append(_invalid((*path, "service", "port", "number"), number, "must be between 1 and 65535, inclusive"))
    else:
        out.append(_required(path, "port name or number is required"))
    return out


def _path(p: Obj, path: Path) -> list[Problem]:
    path_type = p.get("pathType")
    value = p.get("path") or ""
    if path_type is None:
        return [_required((*path, "pathType"), "pathType must be specified")]
    out = []
    if path_type in ("Exact", "Prefix"):
        if not value.startswith("/"):
            out.append(_invalid((*path, "path"), value, "must be an absolute path"))
        for seq in _INVALID_PATH_SEQUENCES:
            if value and seq in value:
                out.append(_invalid((*path, "path"), value, f"must not contain '{seq}'"))
        for suffix in _INVALID_PATH_SUFFIXES:
            if value.endswith(suffix):
                out.append(_invalid((*path, "path"), value, f"cannot end with '{suffix}'"))
    elif path_type == "ImplementationSpecific":
        if value and not value.startswith("/"):
            out.append(_invalid((*path, "path"), value, "must be an absolute path"))
    else:
        out.append(
            Problem(
                (*path, "pathType"),
                f"Unsupported value: {path_type!r}: supported values: " + ", ".join(f'"{t}"' for t in _PATH_TYPES),
            )
        )
    return out + _backend(p.get("backend") or {}, (*path, "backend"))


def _host(host: str, path: Path) -> list[Problem]:
    out = []
    if _is_ip(host):
        out.append(_invalid(path, host, "must be a DNS name, not an IP address"))
    msgs = _wildcard_subdomain(host) if "*" in host else _subdomain(host)
    return out + [_invalid(path, host, m) for m in msgs]


def _ingress_values(obj: Obj) -> list[Problem]:
    """validation.go ValidateIngressCreate: metadata, then ValidateIngressSpec, then the class annotation."""
    out = _meta(obj)
    spec = obj.get("spec") or {}
    rules = spec.get("rules") or []
    default = spec.get("defaultBackend")
    if not rules and default is None:
        out.append(_invalid(("spec",), [], "either `defaultBackend` or `rules` must be specified"))
    if default is not None:
        out += _backend(default, ("spec", "defaultBackend"))
    for i, rule in enumerate(rules):
        host = rule.get("host") or ""
        if host:
            out += _host(host, ("spec", "rules", i, "host"))
        http = rule.get("http")
        if http is not None:
            paths = http.get("paths") or []
            if not paths:
                out.append(_required(("spec", "rules", i, "http", "paths")))
            for j, p in enumerate(paths):
                out += _path(p, ("spec", "rules", i, "http", "paths", j))
    for i, block in enumerate(spec.get("tls") or []):
        for j, host in enumerate(block.get("hosts") or []):
            msgs = _wildcard_subdomain(host) if "*" in host else _subdomain(host)
            out += [_invalid(("spec", "tls", i, "hosts", j), host, m) for m in msgs]
        secret = block.get("secretName") or ""
        if secret:
            out += [_invalid(("spec", "tls", i, "secretName"), secret, m) for m in _subdomain(secret)]
    cls = spec.get("ingressClassName")
    if cls is not None:
        out += [_invalid(("spec", "ingressClassName"), cls, m) for m in _subdomain(cls)]
    annotation = ((obj.get("metadata") or {}).get("annotations") or {}).get(_CLASS_ANNOTATION)
    if annotation is not None and cls is not None and annotation != cls:
        out.append(
            _invalid(
                ("metadata", "annotations", _CLASS_ANNOTATION),
                annotation,
                "must match `ingressClassName` when both are specified",
            )
        )
    return out


def _ingress_class_values(obj: Obj) -> list[Problem]:
    out = _meta(obj, namespaced=False)
    controller = (obj.get("spec") or {}).get("controller")
    if not controller:
        out.append(_required(("spec", "controller")))
    return out


def _generic(obj: Obj) -> list[Problem]:
    """Other kinds the checks read (Service, EndpointSlice, Secret, Node...): the shapes they rely on."""
    out = []
    meta = obj.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        return [Problem(("metadata",), f"Invalid value: {_show(meta)}: must be of type object")]
    name = (meta or {}).get("name")
    if not isinstance(name, str) or not name:
        out.append(_required(("metadata", "name")))
    for key in ("spec", "data", "stringData"):
        if key in obj and obj[key] is not None and not isinstance(obj[key], dict):
            out.append(Problem((key,), f"Invalid value: {_show(obj[key])}: must be of type object"))
    spec: Obj = obj["spec"] if isinstance(obj.get("spec"), dict) else {}
    if "ports" in spec and not isinstance(spec["ports"], list):
        out.append(Problem(("spec", "ports"), f"Invalid value: {_show(spec['ports'])}: must be of type array"))
    if "endpoints" in obj and not isinstance(obj["endpoints"], list):
        out.append(Problem(("endpoints",), f"Invalid value: {_show(obj['endpoints'])}: must be of type array"))
    return out


@cache
def _gateway_validators() -> dict[str, jsonschema.protocols.Validator]:
    doc = json.loads(resources.files(__package__).joinpath(_GATEWAY_SCHEMA_FILE).read_text())
    return {kind: jsonschema.Draft202012Validator(entry["schema"]) for kind, entry in doc.items()}


def _gateway_structure(kind: str, obj: Obj) -> list[Problem]:
    return _schema_problems(_gateway_validators()[kind], obj, other="Invalid value: ")


def validate(obj: Obj) -> list[Problem]:
    """Every reason the API server would refuse ``obj`` (an object as a manifest gives it); [] if none."""
    kind = obj.get("kind")
    if (
        isinstance(kind, str)
        and kind in _gateway_validators()
        and str(obj.get("apiVersion", "")).startswith("gateway.networking.k8s.io/")
    ):
        return _generic(obj) or _gateway_structure(kind, obj)
    if kind in ("Ingress", "IngressClass"):
        structure = _structure(kind, obj)
        if structure:  # the value rules assume the types are right, as the API server's decoding does
            return structure
        return _ingress_values(obj) if kind == "Ingress" else _ingress_class_values(obj)
    return _generic(obj)
