"""Does the open-loop prober hold its schedule? 500 req/s for 10 s against a local keep-alive server.

The server runs in a SEPARATE process (this file with --serve): a tiny asyncio HTTP/1.1 server on
127.0.0.1 answering 200 with a small body, over TLS with a throwaway trustme CA (--plain: HTTP).
Target: achieved send rate within 2% of the asked rate on a 2-core machine; exit 1 otherwise.

Usage: .venv/bin/python benchmarks/prober_schedule.py [--rate 500] [--duration 10] [--plain] [--stack lean|httpcore]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOST = "bench.prober.test"
BODY = b"ok\n"


# --- the server (child process) ---------------------------------------------------------------
async def _serve(ip: str, cert: str | None, key: str | None) -> None:
    ctx = None
    if cert and key:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                close = b"connection: close" in head.lower()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n%s"
                    % (len(BODY), b"Connection: close\r\n" if close else b"", BODY)
                )
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, ip, 0, ssl=ctx, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port}), flush=True)
    # stop when the parent closes our stdin (or dies), or after a hard limit
    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)
    await asyncio.wait_for(stdin_closed, timeout=300)
    server.close()


def serve_main(ip: str, cert: str | None, key: str | None) -> None:
    try:
        import uvloop

        uvloop.run(_serve(ip, cert, key))
    except ImportError:
        asyncio.run(_serve(ip, cert, key))
    except TimeoutError:
        pass


# --- the benchmark (parent process) -------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--ip", default="127.0.0.1")
    parser.add_argument("--plain", action="store_true", help="HTTP instead of HTTPS")
    parser.add_argument(
        "--stack",
        choices=("lean", "httpcore"),
        default="lean",
        help="the prober's HTTP stack under httpx (default lean)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cert", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write the prober's result here")
    args = parser.parse_args()
    if args.serve:
        serve_main(args.ip, args.cert, args.key)
        return 0
    if not args.ip.startswith("127."):
        parser.error("--ip must be a loopback address (127.0.0.0/8)")

    from ingresscheck.load.prober import ProbeTarget, run_prober

    with tempfile.TemporaryDirectory() as tmp:
        child = [sys.executable, __file__, "--serve", "--ip", args.ip]
        verify: ssl.SSLContext | bool = False
        scheme = "http"
        if not args.plain:
            import trustme

            ca = trustme.CA()
            leaf = ca.issue_cert(HOST)
            leaf.private_key_and_cert_chain_pem.write_to_path(f"{tmp}/server.pem")
            child += ["--cert", f"{tmp}/server.pem", "--key", f"{tmp}/server.pem"]
            verify = ssl.create_default_context()
            ca.configure_trust(verify)
            scheme = "https"
        server = subprocess.Popen(child, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            port = json.loads(server.stdout.readline())["port"]
            target = ProbeTarget(f"{scheme}://{HOST}/", args.ip, verify, port=port)
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            wall0 = time.perf_counter()
            result = run_prober([target], args.rate, args.duration, timeout=2.0, http_stack=args.stack)
            wall = time.perf_counter() - wall0
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        finally:
            if server.stdin:
                server.stdin.close()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    lag = result.send_lag_ms()
    corr, unc = result.latency_ms(True), result.latency_ms(False)
    errors = sum(v for k, v in result.counts.items() if k != "ok")
    dev = result.deviation_pct

    def row(name: str, value: object, unit: str = "", note: str = "") -> None:
        text = f"{value:>10.2f}" if isinstance(value, float) else f"{value!s:>10}"
        print(f"{name:<34} {text} {unit:<6} {note}")

    print(
        f"prober schedule: {scheme} keep-alive to {args.ip}:{port}, http stack {args.stack}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    row("target rate", args.rate, "req/s")
    row("achieved send rate", result.achieved_rate, "req/s")
    row("deviation", dev, "%", "target |dev| <= 2%")
    row("requests planned / sent", f"{result.planned}/{result.sent}")
    row("send lag p50", lag["p50"], "ms")
    row("send lag p99", lag["p99"], "ms")
    row("send lag max", lag["max"], "ms")
    row("latency corrected p50", corr["p50"], "ms")
    row("latency corrected p99", corr["p99"], "ms")
    row("latency corrected max", corr["max"], "ms")
    row("latency uncorrected p50", unc["p50"], "ms")
    row("latency uncorrected p99", unc["p99"], "ms")
    row("latency uncorrected max", unc["max"], "ms")
    row("errors", errors, "", json.dumps({k: v for k, v in result.counts.items() if v and k != "ok"}))
    row("prober CPU (user+sys) / wall", f"{cpu:.2f}/{wall:.2f}", "s", f"{cpu / wall * 100:.0f}% of one core")
    if args.json:
        Path(args.json).write_text(json.dumps(result.to_dict(), indent=2))
    return 0 if abs(dev) <= 2.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
