"""The network layer: the one owner of every dial ingresscheck makes.

```
Net (one per run; per-address slots, deadlines, TLS contexts, keep-alive pool)
 ├─ lookup(name)                     -> Attempt(kind="dns", dns=DnsAnswer)
 ├─ connect(address, port)           -> Attempt(kind="tcp")
 ├─ handshake(address, port, sni)    -> Attempt(kind="tls", tls=TlsFacts)
 ├─ request(method, url, address)    -> Attempt(kind="http", response=HttpResponse, tls=TlsFacts)
 ├─ fetch(method, url, address)      -> Attempt(kind="http"): a new connection, h2 or HTTP/1.1 by ALPN
 ├─ framed(address, port, payloads) -> Attempt(kind="framed", messages=one answer per payload): Kafka
 ├─ websocket(url, address)          -> Attempt(kind="websocket", response=101..., messages=echo)
 └─ grpc(url, address, method, msg)  -> Attempt(kind="grpc", response with trailers, messages)
```

Nothing here raises for network trouble: an attempt's ``outcome`` (``Outcome``: ok, refused, reset,
timeout, unreachable, nxdomain, dns_error, tls_error, http_error, too_large, protocol_error) and ``phase`` say what
happened and ``reason`` says it in words naming the address. Probes judge attempts.
"""

from ._attempt import (
    Attempt,
    ClientIdentity,
    DnsAnswer,
    HttpResponse,
    Outcome,
    Subject,
    TlsFacts,
    classify,
    family_of,
    where,
)
from ._grpc import HEALTH_CHECK, grpc_message, grpc_status
from ._net import Net
from ._wire import can_offer, client_context, ssl_reason

__all__ = [
    "HEALTH_CHECK",
    "Attempt",
    "ClientIdentity",
    "DnsAnswer",
    "HttpResponse",
    "Net",
    "Outcome",
    "Subject",
    "TlsFacts",
    "can_offer",
    "classify",
    "family_of",
    "client_context",
    "grpc_message",
    "grpc_status",
    "ssl_reason",
    "where",
]
