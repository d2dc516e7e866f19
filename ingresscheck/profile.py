"""The profile: what a check needs to know about the environment, from a YAML file (--profile).

Flags override profile fields. Credentials are referenced (environment variable or file), never
written inline, and read only when a check asks for them.

The file is validated by a declared schema (pydantic models below, ``extra="forbid"``, strict
types): every wrong field, type or value is one line naming the file, the field and what is
expected (``profile p.yaml: thresholds.timeout: expected a number of seconds > 0, got 'abc'``).
Flags that set the same things go through the same validators.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo

from . import known_secrets
from .errors import UsageError


@dataclass(frozen=True)
class Resolve:
    """curl --resolve semantics: connect to ``addresses`` for ``host:port`` (host may be ``*``); like curl,
    ``HOST:PORT:ADDR1,ADDR2`` gives several (IPv6 in brackets), and they stand in for DNS."""

    host: str
    port: int
    addresses: tuple[str, ...]

    @property
    def address(self) -> str:
        """The first address (callers that dial one)."""
        return self.addresses[0]

    @classmethod
    def parse(cls, text: str, what: str = "--resolve") -> Resolve:
        try:
            return _resolve_entry(text)
        except ValueError as exc:
            raise UsageError(f"{what} {text!r}: {exc}") from None


@dataclass(frozen=True)
class Credential:
    username: str
    password_env: str | None = None
    password_file: str | None = None

    def password(self) -> str:
        value = self._read_password()
        known_secrets.register(value, self.username)  # masked wherever it shows up (an echoing backend)
        return value

    def _read_password(self) -> str:
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise UsageError(f"credentials: environment variable {self.password_env} is not set")
            return value
        if self.password_file:
            try:
                return Path(self.password_file).read_text().rstrip("\n")
            except OSError as exc:
                raise UsageError(f"credentials: cannot read {self.password_file}: {exc.strerror}") from None
        raise UsageError(f"credentials for {self.username}: give password_env or password_file")

    def unavailable(self) -> str | None:
        """Why the password cannot be had (a sentence naming the variable or file), or None."""
        if self.password_env and os.environ.get(self.password_env) is None:
            return f"password_env: environment variable {self.password_env} is not set"
        if self.password_file and not os.access(self.password_file, os.R_OK):
            why = "does not exist" if not os.path.exists(self.password_file) else "is not readable"
            return f"password_file: {self.password_file} {why}"
        return None


@dataclass(frozen=True)
class ClientCertificate:
    """A client certificate by reference (PEM files), for hosts that ask for one: read only when a check
    offers it, never printed."""

    cert_file: str
    key_file: str

    def unavailable(self) -> str | None:
        for what, path in (("cert_file", self.cert_file), ("key_file", self.key_file)):
            if not os.access(path, os.R_OK):
                why = "does not exist" if not os.path.exists(path) else "is not readable"
                return f"{what}: {path} {why}"
        return None

    def read(self) -> tuple[bytes, bytes]:
        try:
            return Path(self.cert_file).read_bytes(), Path(self.key_file).read_bytes()
        except OSError as exc:
            raise UsageError(f"client_certificates: cannot read {exc.filename}: {exc.strerror}") from None


@dataclass(frozen=True)
class Thresholds:
    timeout: float = 5.0  # seconds, one network operation (connect, TLS handshake, request)
    cert_expiry_warning_days: int = 21
    concurrency_per_lb: int = 32  # requests in flight to one load-balancer address
    max_body_bytes: int = 1 << 20  # responses are read up to this much
    reload_p95_ms: float = 10_000.0  # a change slower than this to reach the data plane (p95) warns
    canary_requests: int = 200  # requests sent to check the observed split of a weighted HTTPRoute rule
    canary_confidence: float = 0.99  # a split is inconsistent with its weights when p < 1 - confidence


@dataclass(frozen=True)
class Protocols:
    """What the protocol checks expect (``protocols:`` in the profile)."""

    http2: bool = False  # h2 must be offered through ALPN (else http.alpn reports what is offered)
    http3: bool = False  # HTTP/3 must be advertised with Alt-Svc (else http3.alt_svc reports it)
    grpc_service: str = ""  # the grpc.health.v1 service asked ("" is the server as a whole)
    websocket: dict[str, str] = field(default_factory=dict)  # host -> path of its WebSocket endpoint
    family: int | None = None  # 4 or 6: only that address family is dialled (--family)


@dataclass(frozen=True)
class KafkaTarget:
    """A Kafka bootstrap address to check (``kafka:`` in the profile): clients connect here first."""

    host: str
    port: int
    tls: bool = True  # TLS with SNI = host (a TLSRoute in Passthrough mode); false: plain TCP
    brokers: int | None = None  # how many brokers the cluster must advertise


@dataclass(frozen=True)
class Profile:
    kubeconfig: str | None = None
    context: str | None = None
    dns_servers: tuple[tuple[str, int], ...] = ()  # empty: the system resolver
    load_balancers: tuple[str, ...] = ()
    http_port: int = 80
    https_port: int = 443
    ca_bundle: str | None = None  # None: the system store
    resolve: tuple[Resolve, ...] = ()
    credentials: dict[str, Credential] = field(default_factory=dict)
    thresholds: Thresholds = field(default_factory=Thresholds)
    domains: tuple[str, ...] = ()
    reload_domain: str | None = None
    controller: str | None = None  # "traefik" or "ingress-nginx": which annotations it ignores
    lb_redirects: bool = True  # the load balancer redirects all plain HTTP to https (the seed's setup)
    node_port_range: tuple[int, int] = (30000, 32767)
    protocols: Protocols = field(default_factory=Protocols)
    expected_hosts: tuple[str, ...] = ()  # hosts that must be served: a missing one fails hosts.expected
    headers: tuple[tuple[str, str], ...] = ()  # -H: extra request headers sent with every request
    # tls.hsts: whether every https answer must carry HSTS, and the max-age below which it is weak
    # (ingress-nginx's default: 15724800 s, 182 days, with includeSubDomains)
    hsts_required: bool = False
    hsts_min_max_age: int = 15724800
    client_certificates: dict[str, ClientCertificate] = field(default_factory=dict)
    source_addresses: tuple[str, ...] = ()  # local addresses to send from: vantage points for allowlists and limits
    kafka: tuple[KafkaTarget, ...] = ()  # Kafka bootstrap addresses (also found from labelled TLSRoutes)
    source: str = "defaults"

    def with_overrides(self, **changes: Any) -> Profile:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def resolve_override(self, host: str, port: int) -> list[str]:
        """The addresses --resolve gives for host:port (the first matching entry, curl's rule); [] for none."""
        for r in self.resolve:
            if r.port == port and (r.host == host.lower() or r.host == "*"):
                return list(r.addresses)
        return []

    def check_credentials(self) -> None:
        """A profile that asks for credentials that cannot be had is a configuration error (exit 2)."""
        for host, cred in sorted(self.credentials.items()):
            why = cred.unavailable()
            if why:
                raise UsageError(f"profile {self.source}: credentials.{host}.{why}")
        for host, cert in sorted(self.client_certificates.items()):
            why = cert.unavailable()
            if why:
                raise UsageError(f"profile {self.source}: client_certificates.{host}.{why}")


# --- the values, one validator each (shared by the file schema and the flags) ---------------------

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def _dns_server(text: str) -> tuple[str, int]:
    if text.startswith("["):
        host, _, port = text[1:].partition("]")
        port = port.removeprefix(":") or "53"
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, "53"
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        raise ValueError("expected ADDRESS[:PORT] with an IP address") from None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected ADDRESS[:PORT] with a port from 1 to 65535")
    return address, int(port)


def _ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError("not an IP address") from None


def _resolve_entry(text: str) -> Resolve:
    parts = text.split(":", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[0]:
        raise ValueError("expected HOST:PORT:ADDRESS[,ADDRESS...]")
    if not 0 < int(parts[1]) < 65536:
        raise ValueError(f"port {parts[1]} is not from 1 to 65535")
    addresses = []
    for item in parts[2].split(","):
        address = item.strip().removeprefix("[").removesuffix("]")
        try:
            addresses.append(str(ipaddress.ip_address(address)))
        except ValueError:
            raise ValueError(f"{address!r} is not an IP address") from None
    return Resolve(parts[0].lower(), int(parts[1]), tuple(dict.fromkeys(addresses)))


def _domain(text: str) -> str:
    name = text.lower().rstrip(".")
    if (
        text != text.strip()
        or not name
        or len(name) > 253
        or not all(_DNS_LABEL.fullmatch(label) for label in name.split("."))
    ):
        raise ValueError("not a DNS domain (lowercase letters, digits, '-' and '.')")
    return name


def _port_range(text: str) -> tuple[int, int]:
    lo, _, hi = text.partition("-")
    if not (lo.isdigit() and hi.isdigit() and 0 < int(lo) <= int(hi) < 65536):
        raise ValueError("expected LOW-HIGH, e.g. 30000-32767")
    return int(lo), int(hi)


def _seconds(value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise ValueError("must be a finite number of seconds > 0")
    return float(value)


DnsServer = Annotated[str, AfterValidator(_dns_server)]
Address = Annotated[str, AfterValidator(_ip)]
ResolveEntry = Annotated[str, AfterValidator(_resolve_entry)]
Domain = Annotated[str, AfterValidator(_domain)]
Seconds = Annotated[float, Field(allow_inf_nan=True), AfterValidator(_seconds)]
Port = Annotated[int, Field(gt=0, lt=65536)]


def parse_dns_server(text: Any, what: str = "DNS server") -> tuple[str, int]:
    """``ADDRESS[:PORT]`` (IPv6 in brackets when a port is given) -> (address, port), port 53 by default."""
    try:
        return _dns_server(str(text))
    except ValueError as exc:
        raise UsageError(f"{what} {text!r}: {exc}") from None


def parse_address(text: Any, what: str) -> str:
    try:
        return _ip(str(text))
    except ValueError:
        raise UsageError(f"{what} {text!r} is not an IP address") from None


def parse_timeout(value: float, what: str = "--timeout") -> float:
    """Seconds for one network operation: finite and > 0 (nan and inf are refused)."""
    try:
        return _seconds(value)
    except ValueError as exc:
        raise UsageError(f"{what} {value}: {exc}") from None


# --- the file's schema ---------------------------------------------------------------------------
# Each default is the dataclass's (Thresholds, Protocols, Profile), named here, never repeated as a literal.


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Dns(_Model):
    servers: list[DnsServer] = Field(default=[], description="a list of ADDRESS[:PORT]")


class _Ports(_Model):
    http: Port = Field(default=Profile.http_port, description="a port number from 1 to 65535")
    https: Port = Field(default=Profile.https_port, description="a port number from 1 to 65535")


class _Credential(_Model):
    username: str = Field(description="a user name")
    password_env: str | None = Field(default=None, min_length=1, description="an environment variable name")
    password_file: str | None = Field(default=None, min_length=1, description="a file path")
    password: Any = Field(default=None, exclude=True, description="nothing: inline passwords are refused")

    @model_validator(mode="after")
    def _one_reference(self) -> _Credential:
        if self.password is not None:
            raise ValueError("inline passwords are refused; use password_env or password_file")
        if bool(self.password_env) == bool(self.password_file):
            raise ValueError("give exactly one of password_env or password_file")
        return self


class _ClientCertificate(_Model):
    cert_file: str = Field(min_length=1, description="a PEM certificate file path")
    key_file: str = Field(min_length=1, description="a PEM private key file path")
    key: Any = Field(default=None, exclude=True, description="nothing: inline keys are refused")

    @model_validator(mode="after")
    def _by_reference(self) -> _ClientCertificate:
        if self.key is not None:
            raise ValueError("inline keys are refused; use key_file")
        return self


class _Thresholds(_Model):
    timeout: Seconds = Field(default=Thresholds.timeout, description="a number of seconds > 0")
    cert_expiry_warning_days: int = Field(
        default=Thresholds.cert_expiry_warning_days, ge=0, description="a number of days >= 0"
    )
    concurrency_per_lb: int = Field(default=Thresholds.concurrency_per_lb, ge=1, description="an integer >= 1")
    max_body_bytes: int = Field(default=Thresholds.max_body_bytes, ge=1, description="a number of bytes >= 1")
    reload_p95_ms: float = Field(
        default=Thresholds.reload_p95_ms, gt=0, allow_inf_nan=False, description="milliseconds > 0"
    )
    canary_requests: int = Field(
        default=Thresholds.canary_requests, ge=10, le=5000, description="an integer from 10 to 5000"
    )
    canary_confidence: float = Field(
        default=Thresholds.canary_confidence, gt=0.5, lt=1, description="a probability between 0.5 and 1"
    )


class _Reload(_Model):
    domain: Domain | None = Field(default=None, description="a DNS domain for canary hosts")


class _Protocols(_Model):
    http2: bool = Field(default=Protocols.http2, description="true or false")
    http3: bool = Field(default=Protocols.http3, description="true or false")
    grpc_service: str = Field(default=Protocols.grpc_service, description="a gRPC service name")
    websocket: dict[str, str] = Field(default={}, description="a mapping of host to the path of its WebSocket")
    family: Literal[4, 6] | None = Field(default=None, description="4 or 6")  # Protocols.family


class _Hsts(_Model):
    required: bool = Field(default=Profile.hsts_required, description="true or false")
    min_max_age: int = Field(default=Profile.hsts_min_max_age, ge=0, description="seconds, e.g. 15724800")


class _Kafka(_Model):
    bootstrap: str = Field(pattern=r"^[A-Za-z0-9.-]+:[0-9]{1,5}$", description="HOST:PORT of a bootstrap address")
    tls: bool = Field(default=True, description="true or false")
    brokers: int | None = Field(default=None, ge=1, description="the number of brokers to expect")


class _ProfileFile(_Model):
    kubeconfig: str | None = Field(default=None, description="a file path")
    context: str | None = Field(default=None, description="a kubeconfig context name")
    dns: _Dns = Field(default_factory=_Dns, description="a mapping {servers: [ADDRESS[:PORT], ...]}")
    load_balancers: list[Address] = Field(default=[], description="a list of IP addresses")
    ports: _Ports = Field(default_factory=_Ports, description="a mapping {http: PORT, https: PORT}")
    ca_bundle: str | None = Field(default=None, description="a file path")
    resolve: list[ResolveEntry] = Field(default=[], description="a list of HOST:PORT:ADDRESS")
    credentials: dict[str, _Credential] = Field(
        default={}, description="a mapping of host to {username, password_env | password_file}"
    )
    thresholds: _Thresholds = Field(default_factory=_Thresholds, description="a mapping of threshold: value")
    domains: list[Domain] = Field(default=[], description="a list of DNS domains")
    reload: _Reload = Field(default_factory=_Reload, description="a mapping {domain: DOMAIN}")
    controller: Literal["traefik", "ingress-nginx"] | None = Field(
        default=None, description="one of: traefik, ingress-nginx"
    )
    node_port_range: Annotated[str, AfterValidator(_port_range)] = Field(
        default="-".join(map(str, Profile.node_port_range)), description="LOW-HIGH, e.g. 30000-32767"
    )
    lb_redirects: bool = Field(default=Profile.lb_redirects, description="true or false")
    protocols: _Protocols = Field(
        default_factory=_Protocols, description="a mapping {http2, http3, grpc_service, websocket, family}"
    )
    hosts: Any = Field(  # a list or a path: checked by _expected_hosts, one clear line either way
        default=None, description="a list of host names, or a file path (one host per line, # comments)"
    )
    hsts: _Hsts = Field(default_factory=_Hsts, description="a mapping {required: BOOL, min_max_age: SECONDS}")
    client_certificates: dict[str, _ClientCertificate] = Field(
        default={}, description="a mapping of host to {cert_file, key_file}"
    )
    source_addresses: list[Address] = Field(
        default=[], description="a list of IP addresses of this machine to send from"
    )
    kafka: list[_Kafka] = Field(default=[], description="a list of {bootstrap: HOST:PORT, tls: BOOL, brokers: N}")

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_defaults(cls, data: Any) -> Any:
        # `dns:` with nothing after it is YAML null: the same as leaving the field out
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


def _fail(path: str, what: str) -> UsageError:
    return UsageError(f"profile {path}: {what}")


def _field_info(loc: tuple[int | str, ...]) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """The model holding the last field of ``loc``, and that field's declaration."""
    model: type[BaseModel] | None = _ProfileFile
    info: FieldInfo | None = None
    for part in loc:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            if model is _ProfileFile or not isinstance(part, str):
                continue  # a list index or a mapping key (credentials.HOST)
            return model, None
        info = model.model_fields[part]
        nested = info.annotation
        args = getattr(nested, "__args__", ())
        candidates = [nested, *args, *(getattr(a, "__args__", ()) for a in args)]
        flat = [c for group in candidates for c in (group if isinstance(group, tuple) else (group,))]
        model = next((c for c in flat if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return model, info


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(err: Any) -> str:
    """One clause for one pydantic error: the field, what is expected, what was given."""
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    kind, msg, given = err["type"], err["msg"], err.get("input")
    if kind == "extra_forbidden":
        holder, _ = _field_info(loc[:-1])
        known = sorted((holder or _ProfileFile).model_fields)
        known = [k for k in known if k not in ("password", "key")]
        return (
            f"unknown field {loc[-1]!r} (known: {', '.join(known)})"
            if len(loc) == 1
            else f"{_where(loc[:-1])}: unknown field {loc[-1]!r} (known: {', '.join(known)})"
        )
    _, info = _field_info(loc)
    where = _where(loc) or "the file"
    if kind == "missing":
        return f"{where}: is required" + (f" ({info.description})" if info and info.description else "")
    if kind == "value_error":
        text = msg.removeprefix("Value error, ")
    elif kind.endswith("_type") or kind in ("model_attributes_type", "dict_type", "model_type"):
        expected = info.description if info and info.description and not isinstance(loc[-1], int) else None
        text = f"expected {expected}" if expected else msg.replace("Input should be", "expected")
    else:
        text = msg.replace("Input should be", "must be")
    secret = any(p in ("password", "key") for p in loc if isinstance(p, str))
    if not secret and isinstance(given, (str, int, float, bool)) and kind != "value_error":
        text += f", got {given!r}"
    elif not secret and kind == "value_error" and isinstance(given, str) and given not in text:
        text = f"{given!r}: {text}"
    return f"{where}: {text}"


def load(path: str | os.PathLike[str]) -> Profile:
    p = str(path)
    try:
        doc = yaml.safe_load(Path(p).read_text())
    except OSError as exc:
        raise _fail(p, f"cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise _fail(p, "cannot be read: not UTF-8 text") from None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise _fail(p, f"invalid YAML at line {line}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise _fail(p, f"invalid YAML: {exc}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise _fail(p, "must be a mapping of fields")
    if any(not isinstance(k, str) for k in doc):
        raise _fail(p, "field names must be strings")
    try:
        spec = _ProfileFile.model_validate(doc)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise _fail(p, _describe(errors[0]) + more) from None
    base = Path(p).resolve().parent

    def rel(value: str | None) -> str | None:
        if value is None:
            return None
        value = os.path.expanduser(value)
        return str((base / value).resolve()) if not os.path.isabs(value) else value

    ca = rel(spec.ca_bundle)
    if ca and not Path(ca).is_file():
        raise _fail(p, f"ca_bundle: {ca} does not exist")
    hosts = _expected_hosts(p, spec.hosts, rel)
    return Profile(
        kubeconfig=rel(spec.kubeconfig),
        context=spec.context,
        dns_servers=tuple(spec.dns.servers),  # type: ignore[arg-type]  # validated into (address, port)
        load_balancers=tuple(spec.load_balancers),
        http_port=spec.ports.http,
        https_port=spec.ports.https,
        ca_bundle=ca,
        resolve=tuple(spec.resolve),  # type: ignore[arg-type]  # validated into Resolve
        credentials={
            host.lower(): Credential(c.username, c.password_env, rel(c.password_file))
            for host, c in spec.credentials.items()
        },
        thresholds=Thresholds(**spec.thresholds.model_dump()),
        domains=tuple(spec.domains),
        reload_domain=spec.reload.domain,
        controller=spec.controller,
        lb_redirects=spec.lb_redirects,
        hsts_required=spec.hsts.required,
        hsts_min_max_age=spec.hsts.min_max_age,
        node_port_range=spec.node_port_range,  # type: ignore[arg-type]  # validated into (low, high)
        protocols=Protocols(
            http2=spec.protocols.http2,
            http3=spec.protocols.http3,
            grpc_service=spec.protocols.grpc_service,
            websocket={h.lower(): p for h, p in spec.protocols.websocket.items()},
            family=spec.protocols.family,
        ),
        expected_hosts=hosts,
        client_certificates={
            host.lower(): ClientCertificate(str(rel(c.cert_file)), str(rel(c.key_file)))
            for host, c in spec.client_certificates.items()
        },
        source_addresses=tuple(dict.fromkeys(spec.source_addresses)),
        kafka=tuple(
            KafkaTarget(k.bootstrap.rpartition(":")[0].lower(), int(k.bootstrap.rpartition(":")[2]), k.tls, k.brokers)
            for k in spec.kafka
        ),
        source=p,
    )


def _expected_hosts(p: str, hosts: Any, rel: Any) -> tuple[str, ...]:
    """``hosts:`` as a list, or a file of one host per line (blank lines and ``#`` comments ignored)."""
    if hosts is None:
        return ()
    if isinstance(hosts, list):
        out = []
        for n, name in enumerate(hosts):
            try:
                out.append(_domain(name) if isinstance(name, str) else _domain(""))
            except ValueError as exc:
                raise _fail(p, f"hosts[{n}]: {name!r}: {exc}") from None
        return tuple(dict.fromkeys(out))
    if not isinstance(hosts, str) or not hosts:
        raise _fail(p, f"hosts: expected a list of host names or a file path, got {hosts!r}")
    path = rel(hosts)
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise _fail(p, f"hosts: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise _fail(p, f"hosts: {path} is not UTF-8 text") from None
    out = []
    for n, line in enumerate(lines, 1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        try:
            out.append(_domain(name))
        except ValueError as exc:
            raise _fail(p, f"hosts: {path} line {n}: {name!r}: {exc}") from None
    return tuple(dict.fromkeys(out))
