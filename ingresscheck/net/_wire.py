"""Channels: the only code that touches sockets. TCP through asyncio streams; TLS through pyOpenSSL
driven over memory BIOs on the same event loop (no thread per handshake).

pyOpenSSL rather than the stdlib ``ssl``: one handshake then yields the whole served chain (Python
3.11's ``ssl`` gives only the leaf), OpenSSL's verification verdict without aborting the handshake
(the verify callback records the first error and lets it complete, so a bad chain is still seen and
the connection still carries the request), and it can still offer TLS 1.0/1.1 for the protocol check.
Failures are raised as ``WireError`` carrying a typed outcome and the phase; ``_net`` turns them
into attempts.
"""

from __future__ import annotations

import asyncio
import errno
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.serialization import Encoding
from OpenSSL import SSL

from ._attempt import ClientIdentity, Outcome, TlsFacts, where

# X509_V_FLAG_NO_CHECK_TIME: the chain is judged for trust only; dates are the expiry check's business.
NO_CHECK_TIME = 0x200000
SECLEVEL0 = b"DEFAULT:@SECLEVEL=0"
READ_SIZE = 256 * 1024


class WireError(Exception):
    def __init__(self, outcome: Outcome, phase: str, reason: str) -> None:
        super().__init__(reason)
        self.outcome, self.phase, self.reason = outcome, phase, reason


def verify_reason(code: int) -> str:
    try:
        from OpenSSL._util import ffi, lib  # the one place OpenSSL's own wording is available

        return str(ffi.string(lib.X509_verify_cert_error_string(code)).decode())
    except Exception:  # noqa: BLE001 - wording only
        return f"X509 verify error {code}"


def ssl_reason(exc: BaseException) -> str:
    if isinstance(exc, SSL.SysCallError):
        return "the server closed the connection during the handshake"
    parts = exc.args[0] if exc.args and isinstance(exc.args[0], list) else []
    reasons = [p[2] for p in parts if isinstance(p, tuple) and len(p) == 3 and p[2]]
    return "; ".join(reasons) or str(exc) or type(exc).__name__


def _verify_callback(conn: SSL.Connection, cert: object, errnum: int, depth: int, ok: int) -> bool:
    record = conn.get_app_data()
    if not ok and isinstance(record, list) and not record:
        record.append(errnum)
    return True  # never abort: the verdict is recorded, the handshake goes on


def client_context(
    *,
    ca_bundle: str | None,
    verify: bool = True,
    version: int | None = None,
    seclevel0: bool = False,
    alpn: tuple[str, ...] = (),
    identity: ClientIdentity | None = None,
) -> SSL.Context:
    """A client context. ``verify``: load the trust store and record OpenSSL's verdict (never abort).
    ``version``: offer only that protocol version (for the old-protocol check). ``alpn``: the protocols
    to offer through ALPN, in order of preference (none by default: the server picks HTTP/1.1).
    ``identity``: the client certificate offered when the server asks for one."""
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    if alpn:
        context.set_alpn_protos([p.encode("ascii") for p in alpn])
    if identity is not None:
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        context.use_certificate(x509.load_pem_x509_certificate(identity.cert_pem))
        context.use_privatekey(load_pem_private_key(identity.key_pem, None))  # type: ignore[arg-type]
    if verify:
        if ca_bundle:
            context.load_verify_locations(ca_bundle)
        else:
            context.set_default_verify_paths()
        context.get_cert_store().set_flags(NO_CHECK_TIME)  # type: ignore[union-attr]
        context.set_verify(SSL.VERIFY_PEER, _verify_callback)
    else:
        context.set_verify(SSL.VERIFY_NONE)
    if version is not None:
        context.set_min_proto_version(version)
        context.set_max_proto_version(version)
    if seclevel0:
        context.set_cipher_list(SECLEVEL0)
    return context


def can_offer(context: SSL.Context) -> str | None:
    """None when this context produces a ClientHello; else the local OpenSSL's reason. No network."""
    conn = SSL.Connection(context, None)
    conn.set_connect_state()
    conn.set_tlsext_host_name(b"ingresscheck.invalid")
    try:
        conn.do_handshake()
    except SSL.WantReadError:
        return None if conn.bio_read(65536) else "no ClientHello was produced"
    except SSL.Error as exc:
        return ssl_reason(exc)
    return "the handshake completed without a peer"


def _classify_os_error(exc: OSError, address: str, port: int) -> WireError:
    w = where(address, port)
    if isinstance(exc, ConnectionRefusedError):
        return WireError(Outcome.REFUSED, "connect", f"connection to {w} refused: nothing listens there")
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return WireError(Outcome.RESET, "connect", f"connection to {w} reset")
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL, errno.EHOSTDOWN):
        return WireError(Outcome.UNREACHABLE, "connect", f"{w} is unreachable: {exc.strerror}")
    return WireError(Outcome.UNREACHABLE, "connect", f"cannot connect to {w}: {exc.strerror or exc}")


@dataclass
class Channel:
    """One open connection, plain or TLS. ``tls`` holds the facts of its handshake."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    address: str
    port: int
    sni: str | None = None
    conn: SSL.Connection | None = None
    tls: TlsFacts | None = None
    uses: int = 0
    idle_since: float = 0.0
    source: str | None = None  # the local address it was opened from, when one was chosen
    identity: str | None = None  # the name of the client certificate its handshake offered
    handshake_timings: dict[str, float] = field(default_factory=dict)  # of the handshake that opened it

    @property
    def where(self) -> str:
        return where(self.address, self.port)

    @property
    def usable(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    async def send(self, data: bytes) -> None:
        try:
            if self.conn is None:
                self.writer.write(data)
            else:
                self.conn.sendall(data)
                self._pump_out()
            await self.writer.drain()
        except (OSError, SSL.Error) as exc:
            raise WireError(
                Outcome.RESET,
                "request",
                f"{self.where} closed the connection while the request was sent ({type(exc).__name__})",
            ) from None

    async def recv(self) -> bytes:
        """Next bytes of the stream; b"" at the end. The caller bounds the wait."""
        if self.conn is None:
            try:
                return await self.reader.read(READ_SIZE)
            except OSError as exc:
                raise WireError(
                    Outcome.RESET, "transfer", f"{self.where} reset the connection ({exc.strerror or exc})"
                ) from None
        while True:
            try:
                return bytes(self.conn.recv(READ_SIZE))
            except SSL.WantReadError:
                pass
            except SSL.ZeroReturnError:
                return b""
            except SSL.SysCallError:
                return b""  # an unclean end of TLS: the parser decides whether the response was complete
            except SSL.Error as exc:
                raise WireError(
                    Outcome.TLS_ERROR, "transfer", f"TLS error from {self.where}: {ssl_reason(exc)}"
                ) from None
            try:
                data = await self.reader.read(READ_SIZE)
            except OSError as exc:
                raise WireError(
                    Outcome.RESET, "transfer", f"{self.where} reset the connection ({exc.strerror or exc})"
                ) from None
            if not data:
                return b""
            self.conn.bio_write(data)

    def _pump_out(self) -> None:
        assert self.conn is not None
        while True:
            try:
                out = self.conn.bio_read(READ_SIZE)
            except SSL.WantReadError:
                return
            if not out:
                return
            self.writer.write(out)

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()


async def open_tcp(address: str, port: int, timeout: float, source: str | None = None) -> tuple[Channel, float]:
    """Connect (from the local address ``source`` when given); returns the channel and the connect time in ms."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                address, port, limit=READ_SIZE, local_addr=(source, 0) if source else None
            )
    except TimeoutError:
        raise WireError(
            Outcome.TIMEOUT, "connect", f"no TCP connection to {where(address, port)} within {timeout:g} s"
        ) from None
    except OSError as exc:
        if source and exc.errno == errno.EADDRNOTAVAIL:
            raise WireError(
                Outcome.UNREACHABLE, "connect", f"cannot send from {source}: not an address of this machine"
            ) from None
        raise _classify_os_error(exc, address, port) from None
    channel = Channel(reader, writer, address, port, source=source)
    return channel, (time.perf_counter() - started) * 1000


async def start_tls(channel: Channel, context: SSL.Context, sni: str | None, timeout: float, trust: str) -> float:
    """Handshake over an open channel; fills ``channel.tls``. Returns the handshake time in ms."""
    conn = SSL.Connection(context, None)
    record: list[int] = []
    conn.set_app_data(record)
    conn.set_connect_state()
    if sni:
        conn.set_tlsext_host_name(sni.encode("ascii"))
    channel.conn, channel.sni = conn, sni
    started = time.perf_counter()
    said = f"{channel.where}" + (f" (SNI {sni})" if sni else " (no SNI)")
    try:
        async with asyncio.timeout(timeout):
            while True:
                try:
                    conn.do_handshake()
                    channel._pump_out()
                    await channel.writer.drain()
                    break
                except SSL.WantReadError:
                    channel._pump_out()
                    await channel.writer.drain()
                    data = await channel.reader.read(READ_SIZE)
                    if not data:
                        raise WireError(
                            Outcome.RESET, "tls", f"{said} closed the connection during the TLS handshake"
                        ) from None
                    conn.bio_write(data)
    except TimeoutError:
        raise WireError(
            Outcome.TIMEOUT,
            "tls",
            f"no TLS handshake within {timeout:g} s from {said}: the port "
            f"accepts TCP but does not answer the ClientHello",
        ) from None
    except SSL.Error as exc:
        raise WireError(Outcome.TLS_ERROR, "tls", f"TLS handshake with {said} failed: {ssl_reason(exc)}") from None
    except OSError as exc:
        raise WireError(
            Outcome.RESET, "tls", f"{said} reset the connection during the TLS handshake ({exc.strerror or exc})"
        ) from None
    ms = (time.perf_counter() - started) * 1000
    requested = conn.get_client_ca_list()  # the CAs a CertificateRequest named: the server asked for a client cert
    chain = conn.get_peer_cert_chain(as_cryptography=True) or []
    if not chain:
        leaf = conn.get_peer_certificate(as_cryptography=True)
        chain = [leaf] if leaf is not None else []
    verifying = context.get_verify_mode() != SSL.VERIFY_NONE
    code = record[0] if record else 0
    channel.tls = TlsFacts(
        version=conn.get_protocol_version_name(),
        cipher=conn.get_cipher_name() or "",
        chain=tuple(c.public_bytes(Encoding.DER) for c in chain),
        verified=verifying and not record,
        verify_code=code if verifying else -1,
        verify_reason=("" if verifying and not record else verify_reason(code) if verifying else "not verified"),
        trust=trust,
        alpn=(conn.get_alpn_proto_negotiated() or b"").decode("ascii", errors="replace"),
        client_cas=tuple(_rfc4514(name) for name in requested),
    )
    return ms


@dataclass(frozen=True)
class Proxy:
    """An HTTP proxy the vantage point must go through (``HTTPS_PROXY``/``HTTP_PROXY``): every connection
    is a CONNECT tunnel to the chosen address, so Host, SNI and the address stay the ones the check asked for."""

    host: str
    port: int
    authorization: str | None = field(default=None, repr=False)  # "Basic ..." from the URL's user:password

    @property
    def where(self) -> str:
        return where(self.host, self.port)


async def open_tunnel(proxy: Proxy, address: str, port: int, timeout: float) -> tuple[Channel, float]:
    """A TCP channel to address:port through ``proxy`` (CONNECT); the connect time covers the tunnel.
    The proxy's own trouble is never the target's verdict: it is ``unreachable`` naming the proxy."""
    started = time.perf_counter()
    try:
        channel, _ = await open_tcp(proxy.host, proxy.port, timeout)
    except WireError as exc:
        outcome = Outcome.TIMEOUT if exc.outcome is Outcome.TIMEOUT else Outcome.UNREACHABLE
        raise WireError(outcome, "connect", f"proxy {proxy.where}: {exc.reason}") from None
    authority = where(address, port)
    head = f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
    if proxy.authorization:
        head += f"Proxy-Authorization: {proxy.authorization}\r\n"
    try:
        async with asyncio.timeout(timeout):
            channel.writer.write((head + "\r\n").encode("latin-1"))
            await channel.writer.drain()
            answer = await channel.reader.readuntil(b"\r\n\r\n")
    except TimeoutError:
        channel.close()
        raise WireError(
            Outcome.TIMEOUT, "connect", f"proxy {proxy.where} did not answer CONNECT {authority} within {timeout:g} s"
        ) from None
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        channel.close()
        raise WireError(
            Outcome.UNREACHABLE, "connect", f"proxy {proxy.where} closed CONNECT {authority} ({type(exc).__name__})"
        ) from None
    status_line = answer.split(b"\r\n", 1)[0].decode("latin-1", errors="replace")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[1].startswith("2"):
        channel.close()
        # a proxy's 502/503/504 says it could not reach the address, not whether the address refused
        raise WireError(
            Outcome.UNREACHABLE, "connect", f"proxy {proxy.where} answered {status_line!r} to CONNECT {authority}"
        )
    channel.address, channel.port = address, port
    return channel, (time.perf_counter() - started) * 1000


def _rfc4514(name: object) -> str:
    components: list[tuple[bytes, bytes]] = getattr(name, "get_components", lambda: [])()
    return ",".join(f"{k.decode()}={v.decode()}" for k, v in reversed(components))
