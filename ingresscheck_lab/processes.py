"""Start, watch and stop the lab's processes by PID, with one log file each.

Every process is started in its own session so it outlives the `lab up` command, and its PID is
recorded together with its executable. `down` signals only PIDs whose executable still matches,
so a recycled PID of someone else's process is never touched.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingresscheck.errors import LabError

from .layout import LabLayout

# Lab processes started by this Python process: kept so they are reaped (no zombies) when stopped
# here, and not garbage-collected while they run on purpose after we return.
_children: dict[int, subprocess.Popen[bytes]] = {}


@atexit.register
def _leave_running_children() -> None:
    # They outlive this process on purpose (`lab up` returns while the lab runs); tell Popen so
    # that it does not warn about a child "still running" at interpreter exit.
    for child in _children.values():
        if child.poll() is None:
            child.returncode = 0


@dataclass
class Spec:
    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    listens: tuple[tuple[str, int], ...] = ()  # checked free before start
    # the executable the process becomes when argv[0] is a wrapper that execs it (private_root): its
    # PID is recorded with this one, once the exec happened
    exe: str | None = None


@dataclass(frozen=True)
class Running:
    name: str
    pid: int
    exe: str
    log: str


def _pidfile(layout: LabLayout, name: str) -> Path:
    return layout.run / f"{name}.pid.json"


def log_path(layout: LabLayout, name: str) -> Path:
    return layout.logs / f"{name}.log"


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def start(layout: LabLayout, spec: Spec) -> Running:
    for host, port in spec.listens:
        if not port_free(host, port):
            raise LabError(spec.name, f"{host}:{port} is already in use", str(log_path(layout, spec.name)))
    layout.logs.mkdir(parents=True, exist_ok=True)
    layout.run.mkdir(parents=True, exist_ok=True)
    log = log_path(layout, spec.name)
    env = {**os.environ, **(spec.env or {})}
    with log.open("ab") as out:
        out.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(spec.argv)}\n".encode())
        out.flush()
        try:
            proc = subprocess.Popen(
                spec.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=layout.root,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            raise LabError(spec.name, f"cannot start {spec.argv[0]}: {exc.strerror}", str(log)) from None
    _children[proc.pid] = proc
    exe = _await_exec(spec.name, proc, spec.exe, log) if spec.exe is not None else _exe(proc.pid)
    running = Running(spec.name, proc.pid, exe or spec.argv[0], str(log))
    _pidfile(layout, spec.name).write_text(json.dumps(running.__dict__))
    return running


def _await_exec(name: str, proc: subprocess.Popen[bytes], exe: str, log: Path, timeout: float = 10.0) -> str:
    """The process's executable once it has exec'd ``exe``. Seen from outside a chroot, the kernel may
    name it with the chroot's folder in front (/proc/PID/exe of a private_root child): either is it."""
    deadline = time.monotonic() + timeout
    while True:
        seen = _exe(proc.pid)
        if seen is not None and seen.endswith(exe):
            return seen
        if proc.poll() is not None:
            _children.pop(proc.pid, None)
            raise LabError(name, f"exited ({proc.returncode}) before it became {exe}", str(log))
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)  # unrecorded, so nothing else would ever stop it
            proc.wait(timeout=5)
            _children.pop(proc.pid, None)
            raise LabError(name, f"did not become {exe} within {timeout:.0f} s", str(log))
        time.sleep(0.01)


def _exe(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def alive(r: Running) -> bool:
    child = _children.get(r.pid)
    if child is not None and child.poll() is not None:
        return False
    exe = _exe(r.pid)
    return exe is not None and exe == r.exe and not _zombie(r.pid)


def recorded(layout: LabLayout) -> list[Running]:
    out = []
    if layout.run.is_dir():
        for f in sorted(layout.run.glob("*.pid.json")):
            try:
                out.append(Running(**json.loads(f.read_text())))
            except (ValueError, TypeError, OSError):
                f.unlink(missing_ok=True)
    return out


def find(layout: LabLayout, name: str) -> Running | None:
    f = _pidfile(layout, name)
    if not f.exists():
        return None
    return Running(**json.loads(f.read_text()))


def wait_ready(r: Running, check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``check`` until true; fail with the component's log if it dies or the time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if not alive(r):
            raise LabError(r.name, f"exited before it was ready ({what})", r.log)
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not ready yet, whatever the reason
            pass
        if time.monotonic() > deadline:
            raise LabError(r.name, f"not ready after {timeout:.0f} s ({what})", r.log)
        time.sleep(0.1)


def stop(layout: LabLayout, r: Running, grace: float = 10.0) -> None:
    if alive(r):
        try:
            os.killpg(r.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace
        while alive(r) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(r):
            try:
                os.killpg(r.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            while alive(r) and time.monotonic() < deadline + 5:
                time.sleep(0.05)
    child = _children.pop(r.pid, None)
    if child is not None:
        child.wait(timeout=5)
    _pidfile(layout, r.name).unlink(missing_ok=True)


def signal_process(r: Running, sig: signal.Signals) -> None:
    if not alive(r):
        raise LabError(r.name, "is not running", r.log)
    os.kill(r.pid, sig)


def listeners(addresses: set[str]) -> list[tuple[str, int, str]]:
    """TCP listeners and UDP sockets bound to any of ``addresses``, read from /proc/net."""
    found = []
    for proto, table in (("tcp", "/proc/net/tcp"), ("udp", "/proc/net/udp")):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            local, state = cols[1], cols[3]
            if proto == "tcp" and state != "0A":  # LISTEN
                continue
            hexip, hexport = local.split(":")
            ip = socket.inet_ntoa(bytes.fromhex(hexip)[::-1])
            if ip in addresses:
                found.append((ip, int(hexport, 16), proto))
    return found
