"""The network layer honours the vantage point's proxy (HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as curl does)
and sends -H extra headers: a small real CONNECT proxy and real servers on loopback (issue 26)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import trustme

from ingresscheck.errors import UsageError
from ingresscheck.net import Net, Outcome
from ingresscheck.profile import Profile, Thresholds
from ingresscheck.session import parse_header

from .servers import http_server

ROOT = Path(__file__).resolve().parents[2]
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY")


@pytest.fixture(autouse=True)
def no_proxy_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("proxy") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def _tls(ca: trustme.CA, name: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    return context


def _echo(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
    return 200, {}, f"{req.headers['Host']} ua={req.headers['User-Agent']} env={req.headers['X-Env']}".encode()


@contextlib.asynccontextmanager
async def connect_proxy(answer: bytes | None = None) -> AsyncIterator[tuple[int, list[str]]]:
    """A CONNECT proxy on 127.0.0.1: records each request head, then tunnels (or sends ``answer``)."""
    seen: list[str] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            with contextlib.suppress(OSError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # every stream is closed in a finally: asyncio.run cancels a tunnel still piping when the test ends,
        # and a stream left open then is found by the garbage collector in a later test (ResourceWarning)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            seen.append(head)
            if answer is not None:
                writer.write(answer)
                await writer.drain()
                return
            host, _, port = head.split(" ")[1].rpartition(":")
            up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
            try:
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
                await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
            finally:
                up_writer.close()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], seen
    finally:
        server.close()


def _profile(**kw: object) -> Profile:
    return Profile(thresholds=Thresholds(timeout=2.0), **kw)  # type: ignore[arg-type]


async def _get(net: Net, url: str, address: str):  # type: ignore[no-untyped-def]
    try:
        return await net.request("GET", url, address)
    finally:
        await net.aclose()


def test_https_goes_through_the_proxy_as_a_connect_tunnel_to_the_chosen_address(
    ca: trustme.CA, ca_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given HTTPS_PROXY, when a host is checked at an address, then the proxy is asked CONNECT address:port
    and the TLS facts are the server's own (the handshake runs through the tunnel, SNI the host)."""

    async def main() -> tuple[object, list[str]]:
        async with connect_proxy() as (proxy_port, seen):
            monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy_port}")
            with http_server(_echo, tls=_tls(ca, "shop.example.test")) as (ip, port):
                attempt = await _get(Net(_profile(ca_bundle=ca_file)), f"https://shop.example.test:{port}/", ip)
            return attempt, seen

    attempt, seen = asyncio.run(main())
    assert attempt.ok and attempt.tls is not None and attempt.tls.verified, attempt  # type: ignore[attr-defined]
    assert attempt.response.body.startswith(b"shop.example.test:"), attempt  # type: ignore[attr-defined]
    assert len(seen) == 1 and seen[0].startswith("CONNECT 127.0.0.1:"), seen


def test_no_proxy_naming_the_host_goes_direct(ca: trustme.CA, ca_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> tuple[object, list[str]]:
        async with connect_proxy() as (proxy_port, seen):
            monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy_port}")
            monkeypatch.setenv("NO_PROXY", ".example.test")
            with http_server(_echo, tls=_tls(ca, "shop.example.test")) as (ip, port):
                attempt = await _get(Net(_profile(ca_bundle=ca_file)), f"https://shop.example.test:{port}/", ip)
            return attempt, seen

    attempt, seen = asyncio.run(main())
    assert attempt.ok and seen == [], (attempt, seen)  # type: ignore[attr-defined]


def test_plain_http_uses_http_proxy_and_sends_the_proxy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> tuple[object, list[str]]:
        async with connect_proxy() as (proxy_port, seen):
            monkeypatch.setenv("HTTP_PROXY", f"http://probe:s3cret-proxy@127.0.0.1:{proxy_port}")
            with http_server(_echo) as (ip, port):
                attempt = await _get(Net(_profile()), f"http://shop.example.test:{port}/", ip)
            return attempt, seen

    attempt, seen = asyncio.run(main())
    assert attempt.ok and len(seen) == 1, (attempt, seen)  # type: ignore[attr-defined]
    assert "Proxy-Authorization: Basic cHJvYmU6czNjcmV0LXByb3h5" in seen[0], seen


def test_a_proxy_that_refuses_is_not_the_hosts_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given HTTPS_PROXY at a closed port, then the attempt is unreachable naming the proxy, never refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{closed}")
    attempt = asyncio.run(_get(Net(_profile()), "https://shop.example.test/", "127.0.0.1"))
    assert attempt.outcome is Outcome.UNREACHABLE, attempt
    assert f"proxy 127.0.0.1:{closed}" in attempt.reason, attempt.reason


def test_a_proxy_answering_502_to_connect_is_named_with_its_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> object:
        async with connect_proxy(answer=b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n") as (proxy_port, _):
            monkeypatch.setenv("HTTPS_PROXY", f"127.0.0.1:{proxy_port}")  # curl's bare host:port form
            return await _get(Net(_profile()), "https://shop.example.test/", "127.0.0.9")

    attempt = asyncio.run(main())
    assert attempt.outcome is Outcome.UNREACHABLE, attempt  # type: ignore[attr-defined]
    assert "502 Bad Gateway" in attempt.reason and "CONNECT 127.0.0.9:443" in attempt.reason  # type: ignore[attr-defined]


def test_extra_headers_reach_the_server_and_replace_defaults_whatever_their_case() -> None:
    """Given -H 'user-agent: sre/1' and -H 'X-Env: staging', then the server sees both, User-Agent once."""
    headers = (parse_header("user-agent: sre/1"), parse_header("X-Env:  staging "))
    with http_server(_echo) as (ip, port):
        attempt = asyncio.run(_get(Net(_profile(headers=headers)), f"http://shop.example.test:{port}/", ip))
    assert attempt.ok and attempt.response.body.endswith(b"ua=sre/1 env=staging"), attempt


@pytest.mark.parametrize("text", ["no colon", "Bad Name: x", "Host: other.test", "Content-Length: 3"])
def test_a_bad_or_reserved_header_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_header(text)


def test_a_bad_header_or_proxy_on_the_command_line_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "a.yaml").write_text("kind: Namespace\nmetadata: {name: a}\n")
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    for extra, args in (({}, ["-H", "Host: x"]), ({"HTTPS_PROXY": "https://127.0.0.1:1"}, [])):
        out = subprocess.run(
            [sys.executable, "-m", "ingresscheck", "run", "--manifests", str(tmp_path / "m"), *args],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            env={**env, "PYTHONPATH": str(ROOT), **extra},
        )
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out
        assert "Traceback" not in out.stderr
