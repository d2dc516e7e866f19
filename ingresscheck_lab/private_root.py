"""Run a program with a few paths of its own, in a private mount namespace, leaving the host untouched.

Envoy Gateway reads its xDS and webhook certificates from the constant path ``/certs`` and creates
``/var/lib/eg/wasm`` whenever its resource provider is Kubernetes (Go constants in v1.9.1:
internal/xds/runner, internal/gatewayapi/runner; ``-ldflags -X`` cannot relink a constant). Linking
``/certs`` on the host made the path global: two labs on one machine, even in separate network
namespaces, overwrote each other's certificates, and one lab's ``down`` removed the other's
``/var/lib/eg``. Here the program gets those paths privately instead:

    unshare(CLONE_NEWNS), every mount made private (nothing propagates back to the host)
    a tmpfs at ROOT (a folder of the lab; unbindable, so the binds below skip it)
    ROOT/<entry> bound to /<entry> for every entry of /, except the folders leading to a wanted path,
        which are tmpfs folders holding binds of their own entries (so /var/lib/eg needs no /var/lib/eg)
    ROOT/<wanted> bound to the lab's folder for it
    chroot ROOT, the same working directory, exec the program

Every other path is the host's own (same names, same files), so binaries, the kubeconfig and the
lab's folders are where they were. The namespace ends with the last process in it: there is nothing
to clean up on the host, and ``lab down`` of one lab cannot touch another's files. Needs root (or
CAP_SYS_ADMIN), like the rest of the lab's Envoy Gateway.

Run: ``python -m ingresscheck_lab.private_root --root DIR --bind SRC:DST [--bind ...] -- PROGRAM ARGS...``
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
from collections.abc import Sequence
from pathlib import Path

CLONE_NEWNS = 0x00020000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000

Tree = dict[str, "Tree"]


def command(root: Path, binds: dict[str, Path], argv: Sequence[str]) -> list[str]:
    """The argv that runs ``argv`` with ``binds`` (path seen by the program -> the lab's folder)."""
    out = [sys.executable, "-m", "ingresscheck_lab.private_root", "--root", str(root)]
    for dst, src in binds.items():
        out += ["--bind", f"{src}:{dst}"]
    return [*out, "--", *argv]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(libc: ctypes.CDLL, src: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    _check(
        libc.mount(
            src.encode() if src else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {src or fstype or ''} on {target}",
    )


def _tree(paths: Sequence[str]) -> Tree:
    tree: Tree = {}
    for path in paths:
        node = tree
        for part in Path(path).parts[1:]:
            node = node.setdefault(part, {})
    return tree


def _graft(libc: ctypes.CDLL, dst: str, src: str | None, wanted: Tree) -> None:
    """Fill ``dst`` (an empty folder on the private tmpfs) with binds of ``src``'s entries, except the
    wanted names: those become folders of the tmpfs (mount points, or holders of deeper wanted paths)."""
    if src is not None and os.path.isdir(src):
        for entry in os.scandir(src):
            if entry.name in wanted:
                continue
            target = os.path.join(dst, entry.name)
            if entry.is_symlink():
                os.symlink(os.readlink(entry.path), target)
            elif entry.is_dir(follow_symlinks=False):
                os.mkdir(target)
                _mount(libc, entry.path, target, None, MS_BIND | MS_REC)
            else:
                Path(target).touch()
                _mount(libc, entry.path, target, None, MS_BIND)
    for name, deeper in wanted.items():
        target = os.path.join(dst, name)
        os.mkdir(target)
        if deeper:
            _graft(libc, target, os.path.join(src, name) if src else None, deeper)


def enter(root: Path, binds: dict[str, Path]) -> None:
    """Make this process's view of the file system private, with ``binds`` in place, and chroot into it."""
    for dst, src in binds.items():
        if not Path(dst).is_absolute() or Path(dst) == Path("/"):
            raise ValueError(f"a private path must be absolute and not /: {dst}")
        if not src.is_dir():
            raise FileNotFoundError(f"no folder {src} to show at {dst}")
    libc = _libc()
    cwd = os.getcwd()
    root.mkdir(parents=True, exist_ok=True)
    _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    _mount(libc, "tmpfs", str(root), "tmpfs", 0, "mode=0755")
    _mount(libc, None, str(root), None, MS_UNBINDABLE)
    _graft(libc, str(root), "/", _tree(list(binds)))
    for dst, src in binds.items():
        _mount(libc, str(src), str(root) + dst, None, MS_BIND | MS_REC)
    os.chroot(root)
    os.chdir(cwd)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingresscheck_lab.private_root", description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="an empty folder of the lab for the private root")
    parser.add_argument("--bind", action="append", default=[], metavar="SRC:DST", help="show folder SRC at DST")
    parser.add_argument("program", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    program = args.program[1:] if args.program[:1] == ["--"] else args.program
    if not program:
        parser.error("no program to run (after --)")
    binds: dict[str, Path] = {}
    for spec in args.bind:
        src, sep, dst = spec.rpartition(":")
        if not sep or not src:
            parser.error(f"--bind takes SRC:DST, got {spec!r}")
        binds[dst] = Path(src).resolve()
    try:
        enter(args.root.resolve(), binds)
        os.execvp(program[0], program)
    except (OSError, ValueError) as exc:
        print(f"private_root: {exc}", file=sys.stderr)
        return 125
    return 125  # not reached: exec replaced this process


if __name__ == "__main__":
    sys.exit(main())
