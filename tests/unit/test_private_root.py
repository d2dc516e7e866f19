"""private_root: a program sees the lab's folders at fixed paths (Envoy Gateway's /certs and /var/lib/eg)
in a mount namespace of its own; the host's file system gains nothing, and two such programs, run at the
same time, each see their own folder at the same path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingresscheck_lab import private_root


def _can_unshare() -> bool:
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True, check=False)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not _can_unshare(), reason="a mount namespace needs root (CAP_SYS_ADMIN)"
)

CERTS, WASM = "/certs", "/var/lib/eg"


def _lab(tmp_path: Path, name: str) -> tuple[Path, dict[str, Path]]:
    home = tmp_path / name
    (home / "certs").mkdir(parents=True)
    (home / "certs" / "tls.crt").write_text(f"certificate of {name}\n")
    (home / "wasm").mkdir()
    return home / "root", {CERTS: home / "certs", WASM: home / "wasm"}


def test_the_program_sees_the_lab_folders_and_the_host_gains_nothing(tmp_path: Path) -> None:
    # Given a lab folder with a certificate, and a host without /certs or /var/lib/eg
    assert not os.path.lexists(CERTS) and not os.path.lexists(WASM)
    root, binds = _lab(tmp_path, "lab-a")
    # When a program reads /certs and creates its Wasm cache under /var/lib/eg, as Envoy Gateway does
    script = f"cat {CERTS}/tls.crt && mkdir -p {WASM}/wasm && ls /usr/bin/env && pwd"
    out = subprocess.run(
        private_root.command(root, binds, ["sh", "-c", script]),
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        check=False,
    )
    # Then it read the lab's certificate, its cache went into the lab folder, every other path is the
    # host's own (same working directory), and the host has no /certs nor /var/lib/eg
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["certificate of lab-a", "/usr/bin/env", str(tmp_path)]
    assert (binds[WASM] / "wasm").is_dir()
    assert not os.path.lexists(CERTS) and not os.path.lexists(WASM)
    assert list(root.iterdir()) == []  # the private root was a tmpfs of the namespace only


def test_two_programs_at_once_each_see_their_own_folder_at_the_same_path(tmp_path: Path) -> None:
    # Given two labs, each with its own certificate
    labs = [_lab(tmp_path, name) for name in ("lab-a", "lab-b")]
    # When both programs run at the same time (each waits until the other has started)
    script = (
        "cat {certs}/tls.crt; touch {me}/started; "
        "for i in $(seq 400); do [ -e {other}/started ] && echo both-running && break; sleep 0.05; done; "
        "cat {certs}/tls.crt"
    )
    procs = []
    for i, (root, binds) in enumerate(labs):
        me, other = root.parent, labs[1 - i][0].parent
        text = script.format(certs=CERTS, me=me, other=other)
        procs.append(subprocess.Popen(private_root.command(root, binds, ["sh", "-c", text]), stdout=subprocess.PIPE))
    outs = [p.communicate(timeout=30)[0].decode().splitlines() for p in procs]
    # Then each read only its own certificate, before and after the other one started
    assert outs == [
        ["certificate of lab-a", "both-running", "certificate of lab-a"],
        ["certificate of lab-b", "both-running", "certificate of lab-b"],
    ]


def test_a_bad_bind_is_one_line_and_exit_125(tmp_path: Path) -> None:
    # Given a folder that does not exist
    missing = tmp_path / "missing"
    # When it is to be shown at /certs
    out = subprocess.run(
        [sys.executable, "-m", "ingresscheck_lab.private_root", "--root", str(tmp_path / "root")]
        + ["--bind", f"{missing}:/certs", "--", "true"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    # Then one line names it, and nothing ran
    assert out.returncode == 125
    assert out.stderr.strip().splitlines() == [f"private_root: no folder {missing} to show at /certs"]


def test_a_killed_program_leaves_no_mount_on_the_host(tmp_path: Path) -> None:
    # Given a program running in its private root (it has read its certificate)
    root, binds = _lab(tmp_path, "lab-a")
    proc = subprocess.Popen(
        private_root.command(root, binds, ["sh", "-c", f"cat {CERTS}/tls.crt; exec sleep 30"]),
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"certificate of lab-a\n"
        # Then while it runs, the host's mount table has none of its mounts
        assert str(root) not in Path("/proc/self/mountinfo").read_text()
    finally:
        # When it is killed with SIGKILL (no handler, no clean-up of its own)
        proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    # Then its namespace went with it: the root is an empty folder, and the host has no /certs or /var/lib/eg
    assert list(root.iterdir()) == []
    assert str(root) not in Path("/proc/self/mountinfo").read_text()
    assert not os.path.lexists(CERTS) and not os.path.lexists(WASM)
