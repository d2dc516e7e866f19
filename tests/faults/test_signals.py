"""Ctrl-C and SIGTERM in the middle of a reload measurement: the canaries are removed (0 left), the
exit code says which signal (130, 143), no traceback, and the stop is prompt. The credentials label of
auth.good_credentials says where they came from."""

from __future__ import annotations

import base64
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingresscheck.reload.canary import LABEL
from ingresscheck_lab.lab import Lab

from ._helpers import MATRIX, ROOT, assert_no_traceback, lab_run_args, record, run_cli

pytestmark = pytest.mark.lab


def _canaries(lab: Lab) -> list[str]:
    return [i["metadata"]["name"] for i in lab.writer().list("Ingress", label_selector=LABEL)]


@pytest.mark.timeout(150)
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_reload_leaves_no_canary(lab: Lab, tmp_path: Path, sig: signal.Signals, code: int) -> None:
    assert _canaries(lab) == []
    argv = [
        sys.executable,
        "-m",
        "ingresscheck",
        "reload",
        "--profile",
        str(lab.layout.profile),
        "--allow-mutations",
        "--rounds",
        "30",
        "--rate",
        "20",
        "--no-progress",
        "--reports-dir",
        str(tmp_path),
    ]
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 60
        while not _canaries(lab):  # mid-reload: a canary exists
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no canary appeared within 60 s"
            time.sleep(0.05)
        signalled = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for name in _canaries(lab):  # leave the lab clean even when the assertion below fails
            lab.writer().delete({"kind": "Ingress", "metadata": {"namespace": "demo", "name": name}})
    left = _canaries(lab)
    MATRIX.append(
        {
            "fault": f"{sig.name} mid-reload",
            "exit": proc.returncode,
            "verdict": f"{len(left)} canaries left; stopped {took:.1f} s after the signal",
            "seconds": round(took, 1),
        }
    )
    assert "Traceback" not in out + err, err[-3000:]
    assert proc.returncode == code, (proc.returncode, err[-2000:])
    assert left == []
    assert took < 30


def test_credentials_from_a_cluster_secret_are_not_labelled_from_the_profile(lab: Lab, tmp_path: Path) -> None:
    """With --use-auth-secrets and no profile credentials, evidence must say the Secret they came from."""
    password = (lab.layout.secrets / "wordpress.password").read_text().strip()
    res = lab.writer()
    ref = {"kind": "Secret", "metadata": {"namespace": "demo", "name": "wordpress-basic-auth"}}
    original = res.get(ref)
    assert original is not None
    res.patch(
        ref,
        {
            "data": {
                "username": base64.b64encode(b"admin").decode(),
                "password": base64.b64encode(password.encode()).decode(),
            }
        },
    )
    profile = tmp_path / "profile.yaml"
    profile.write_text(
        "\n".join(
            line
            for line in lab.layout.profile.read_text().splitlines()
            if "credentials" not in line
            and "wordpress" not in line
            and "password_file" not in line
            and "username" not in line
        )
        + "\n"
    )
    try:
        run = run_cli(
            *lab_run_args(
                lab, tmp_path, "-n", "demo", "--probes", "dns,redirect,auth", "--use-auth-secrets", profile=profile
            ),
            json_report=tmp_path / "report.json",
            timeout=90,
        )
    finally:
        res.patch(ref, {"data": {"username": None, "password": None}})
    assert_no_traceback(run)
    good = run.one("auth.good_credentials", "wordpress.example.test")
    record(
        "credentials from a cluster Secret",
        run,
        f"auth.good_credentials {good['status']}: " + str(good["evidence"].get("credentials"))[:80],
    )
    assert good["status"] == "pass", good
    label = str(good["evidence"].get("credentials"))
    assert "from the profile" not in label and "demo/wordpress-basic-auth" in label, label


@pytest.mark.timeout(150)
@pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="locust not installed (pip install .[load])")
def test_sigkill_under_load_takes_the_load_generator_with_it(lab: Lab, tmp_path: Path) -> None:
    """Given reload --under-load, when ingresscheck is SIGKILLed mid-campaign (no cleanup can run), then the
    locust child dies with it (PR_SET_PDEATHSIG) and `ingresscheck cleanup` removes the canary it left."""
    argv = [
        sys.executable, "-m", "ingresscheck", "reload", "--profile", str(lab.layout.profile), "--allow-mutations",
        "--rounds", "30", "--rate", "10", "--under-load", "2", "--no-progress", "--reports-dir", str(tmp_path),
    ]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (_canaries(lab) and _children(proc.pid)):
            assert proc.poll() is None, "reload ended before the load started"
            assert time.monotonic() < deadline, "no canary and load within 60 s"
            time.sleep(0.1)
        locust = _children(proc.pid)
        proc.kill()
        proc.wait()
        gone_by = time.monotonic() + 15
        while any(_alive(pid) for pid in locust) and time.monotonic() < gone_by:
            time.sleep(0.1)
        survivors = [pid for pid in locust if _alive(pid)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for pid in survivors:  # leave no load behind even when the assertion below fails
        os.kill(pid, signal.SIGKILL)
    left = _canaries(lab)
    # cleanup before any assertion: a canary left here would be probed by every later lab test
    cleanup = run_cli("cleanup", "--kubeconfig", str(lab.layout.kubeconfig), timeout=30)
    assert survivors == [], "locust outlived the SIGKILLed reload"
    assert left, "a SIGKILLed reload cannot have removed its canary"
    assert_no_traceback(cleanup)
    MATRIX.append(
        {"fault": "SIGKILL under load", "exit": cleanup.code, "verdict": f"locust gone; cleanup removed {len(left)}",
         "seconds": round(cleanup.seconds, 1)}
    )  # fmt: skip
    assert cleanup.code == 0 and _canaries(lab) == [], cleanup.stdout + cleanup.stderr


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (locust is started in a session of its own, so not by process group)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
