"""The full chain against the floor, on the lab with 1,000 extra hosts, in the same run.

- ingresscheck: `ingresscheck run` with every non-mutating probe (discovery, probes, HTML/JSON/JUnit reports),
  in its own process; its peak RSS is that process's own (through a small wrapper: see _common.run_measured).
- the floor: a bare asyncio client doing the least network work per host at the same concurrency
  (one plain-HTTP GET to the VIP, one TLS handshake with SNI and one HTTPS GET on that connection).

Targets (engine v2 issue): ratio ingresscheck/floor >= 0.25, peak RSS <= 200 MB including the reports.
On a small machine the lab shares the cores with both clients and its state moves the figures (right after
`lab up` the kube-apiserver and Traefik are still busy with a thousand new objects): so a first round of
both warms the lab up and is not counted, then ingresscheck and the floor run --repeat times in turn, and the
median ratio and the largest peak RSS are the figures.
Usage: .venv/bin/python benchmarks/run_throughput.py [--hosts 1000] [--concurrency 32] [--probes dns,redirect]
       [--repeat 3] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _common import ROOT, figure, lab_with_extra_hosts, run_measured


async def _floor_one(host: str, vip: str, http_port: int, https_port: int, context: ssl.SSLContext) -> None:
    request = f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nUser-Agent: floor\r\n\r\n".encode()
    reader, writer = await asyncio.open_connection(vip, http_port)
    writer.write(request)
    await reader.read()  # until the server closes
    writer.close()
    reader, writer = await asyncio.open_connection(vip, https_port, ssl=context, server_hostname=host)
    writer.write(request)
    await reader.read()
    writer.close()


async def floor(hosts: list[str], vip: str, http_port: int, https_port: int, concurrency: int) -> tuple[float, int]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    sem = asyncio.Semaphore(concurrency)
    errors = 0

    async def one(host: str) -> None:
        nonlocal errors
        async with sem:
            try:
                await asyncio.wait_for(_floor_one(host, vip, http_port, https_port, context), 10)
            except (OSError, TimeoutError, ssl.SSLError):
                errors += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(one(h) for h in hosts))
    return time.perf_counter() - t0, errors


def run_ingresscheck(profile: Path, probes: str | None, concurrency: int, tmp: str) -> tuple[float, float, dict, str]:
    out = Path(tmp) / "r.json"
    cmd = [
        sys.executable,
        "-m",
        "ingresscheck",
        "run",
        "--profile",
        str(profile),
        "--no-progress",
        "--concurrency",
        str(concurrency),
        "--json",
        str(out),
        "--html",
        f"{tmp}/r.html",
        "--junit",
        f"{tmp}/r.xml",
    ]
    if probes:
        cmd += ["--probes", probes]
    # output to files, not pipes: nobody reads a pipe while the command runs, and a full pipe would stall it
    with open(Path(tmp) / "out.txt", "w") as stdout, open(Path(tmp) / "err.txt", "w") as stderr:
        _, wall, rss_mb = run_measured(cmd, cwd=ROOT, stdout=stdout, stderr=stderr)
    return wall, rss_mb, json.loads(out.read_text()), (Path(tmp) / "err.txt").read_text()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--probes", help="only these probes (default: every non-mutating one)")
    parser.add_argument("--keep", action="store_true", help="leave the lab up")
    parser.add_argument("--repeat", type=int, default=3, help="ingresscheck and floor runs, in turn (median)")
    args = parser.parse_args()
    lab, started = lab_with_extra_hosts(args.hosts)
    try:
        profile = yaml.safe_load(lab.layout.profile.read_text())
        vip = profile["load_balancers"][0]
        ports = profile.get("ports") or {}
        http_port, https_port = int(ports.get("http", 80)), int(ports.get("https", 443))
        rounds: list[tuple[float, float, float, float]] = []  # wall, ours, theirs, rss
        with tempfile.TemporaryDirectory() as tmp:
            for n in range(max(1, args.repeat) + 1):
                wall, rss_mb, report, stderr = run_ingresscheck(lab.layout.profile, args.probes, args.concurrency, tmp)
                hosts = sorted({r["host"] for r in report["results"] if r["host"] and not r["host"].startswith("*")})
                floor_wall, floor_errors = asyncio.run(floor(hosts, vip, http_port, https_port, args.concurrency))
                ours, theirs = len(hosts) / wall, len(hosts) / floor_wall
                if n > 0:  # round 0 warms the lab up and is not counted
                    rounds.append((wall, ours, theirs, rss_mb))
                label = "warm-up" if n == 0 else f"round {n}"
                print(
                    f"{label}: ingresscheck {wall:.2f} s = {ours:.1f} hosts/s, floor {theirs:.1f} hosts/s "
                    f"({floor_errors} errors), ratio {ours / theirs:.2f}, peak RSS {rss_mb:.1f} MB"
                )
        bad = [r for r in report["results"] if r["status"] in ("fail", "error")]
        wall, ours, theirs, _ = sorted(rounds, key=lambda r: r[1] / r[2])[len(rounds) // 2]
        figure("hosts checked", len(hosts), "hosts")
        figure("checks reported", len(report["results"]), "results")
        figure("ingresscheck wall (discovery+probes+reports)", wall, "s", "(the median round)")
        figure("ingresscheck throughput", ours, "hosts/s")
        figure("floor client throughput", theirs, "hosts/s")
        figure("ratio ingresscheck / floor", ours / theirs, "", f"target >= 0.25 (median of {len(rounds)})")
        figure("ingresscheck peak RSS", max(r[3] for r in rounds), "MB", "target <= 200 (largest)")
        figure("failed or errored checks", len(bad), "checks", "expected 0")
        for r in bad[:5]:
            print(f"  {r['check']} {r['host']} {r['subject']}: {r['message'][:160]}", file=sys.stderr)
        if stderr.strip():
            print(stderr.strip().splitlines()[-1][:300], file=sys.stderr)
        return 0 if not bad else 1
    finally:
        if started and not args.keep:
            lab.down(quiet=True)


if __name__ == "__main__":
    raise SystemExit(main())
