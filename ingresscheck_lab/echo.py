"""The lab's echo backends: every "pod" is a listener on its own 127.0.0.x.

One process serves all pods. Each answers with JSON naming itself (service, pod, namespace)
plus what it received (method, path, query, headers), so routing checks can see which backend
served a request, as the Gateway API conformance suite does with its echo server.

A few query parameters make misbehaving backends for tests, like common echo servers do:
``echo_status`` (answer with that status), ``echo_delay_ms`` (wait first, max 60 s) and
``echo_bytes`` (a body of that many bytes, max 64 MiB). A WebSocket upgrade (any path) is accepted and
every message echoed, except by the static site.

Run: ``python -m ingresscheck_lab.echo PODS.json`` where PODS.json maps "ip:port" to
``{"service": ..., "pod": ..., "namespace": ...}``.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

MAX_DELAY_MS = 60_000
MAX_BYTES = 64 * 1024 * 1024


STATIC_PAGE = """<!doctype html>
<html><head><title>Example Corp</title></head>
<body><h1>Example Corp</h1><p>Welcome. This page is served by a plain static web server.</p></body></html>
"""


async def _websocket_echo(request: web.Request, identity: dict[str, str]) -> web.StreamResponse:
    """A WebSocket upgrade: every text or binary message comes back as it was (the echo servers' way)."""
    ws = web.WebSocketResponse()
    ws.headers["X-Echo-Pod"], ws.headers["X-Echo-Service"] = identity["pod"], identity["service"]
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == web.WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type == web.WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


def _handler(pods: dict[str, dict[str, str]]) -> Any:
    async def handle(request: web.Request) -> web.StreamResponse:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        identity = pods.get(f"{sockname[0]}:{sockname[1]}") if sockname else None
        if identity is None:
            return web.Response(status=500, text="echo: no pod on this address\n")
        if identity.get("static"):
            return web.Response(text=STATIC_PAGE, content_type="text/html")  # says nothing about itself
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await _websocket_echo(request, identity)
        query = request.rel_url.query
        delay = min(int(query.get("echo_delay_ms", "0") or 0), MAX_DELAY_MS)
        if delay > 0:
            await asyncio.sleep(delay / 1000)
        status = int(query.get("echo_status", "200") or 200)
        headers = {"X-Echo-Pod": identity["pod"], "X-Echo-Service": identity["service"]}
        if "echo_bytes" in query:
            size = min(int(query["echo_bytes"]), MAX_BYTES)
            resp = web.StreamResponse(status=status, headers=headers)
            resp.content_type = "application/octet-stream"
            resp.content_length = size
            await resp.prepare(request)
            chunk = b"x" * 65536
            left = size
            while left > 0:
                await resp.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
            return resp
        body = {
            **identity,
            "host": request.host,
            "method": request.method,
            "path": request.path,
            "query": request.query_string,
            "headers": {k: v for k, v in request.headers.items()},
        }
        return web.json_response(body, status=status, headers=headers)

    return handle


async def serve(pods: dict[str, dict[str, str]]) -> None:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _handler(pods))
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    for address in pods:
        host, port = address.rsplit(":", 1)
        await web.TCPSite(runner, host, int(port), backlog=1024).start()
    print(f"echo: serving {len(pods)} pods", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ingresscheck_lab.echo PODS.json", file=sys.stderr)
        return 2
    pods = json.loads(Path(args[0]).read_text())
    asyncio.run(serve(pods))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
