"""Nothing lost, nothing leaked: every report format and every stream of a run that reads the lab's
Secrets (TLS keys, htpasswd hashes, basic-auth credentials, tokens) is searched for every known secret
value; and evidence keeps which Secret a verdict is about (its namespace/name), never what it holds."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from ingresscheck.reports._redact import REDACTED, redact
from ingresscheck_lab.lab import Lab

from ._helpers import assert_no_traceback, known_secrets, lab_run_args, record, run_cli


def test_evidence_keeps_the_secret_reference_and_masks_values() -> None:
    out = redact({"secret": "demo/shop-tls", "other": {"secret": "hunter2!"}, "password": "demo/x"})
    assert out == {"secret": "demo/shop-tls", "other": {"secret": REDACTED}, "password": REDACTED}


@pytest.mark.lab
@pytest.mark.timeout(180)
def test_no_secret_in_any_report_or_stream(lab: Lab, tmp_path: Path) -> None:
    secrets = known_secrets(lab)
    assert len(secrets) >= 5, sorted(secrets)
    res = lab.writer()
    ref = {"kind": "Secret", "metadata": {"namespace": "demo", "name": "wordpress-basic-auth"}}
    password = secrets["wordpress password"]
    res.patch(
        ref,
        {
            "data": {
                "username": base64.b64encode(b"admin").decode(),
                "password": base64.b64encode(password.encode()).decode(),
            }
        },
    )
    try:
        run = run_cli(
            *lab_run_args(
                lab,
                tmp_path,
                "--use-auth-secrets",
                "--html",
                str(tmp_path / "r.html"),
                "--junit",
                str(tmp_path / "r.xml"),
                "-o",
                "json",
            ),
            json_report=tmp_path / "report.json",
            timeout=150,
        )
    finally:
        res.patch(ref, {"data": {"username": None, "password": None}})
    assert_no_traceback(run)
    assert run.report is not None
    streams = {
        "stdout": run.stdout,
        "stderr": run.stderr,
        **{p.name: p.read_text(errors="replace") for p in tmp_path.iterdir() if p.suffix in (".html", ".json", ".xml")},
    }
    assert {"r.html", "r.xml", "report.json"} <= set(streams)
    leaks = [(what, where) for what, value in secrets.items() for where, text in streams.items() if value in text]
    record(
        "secret scan of every report format",
        run,
        f"{len(secrets)} secrets x {len(streams)} outputs: {len(leaks)} leaks",
    )
    assert leaks == []
    tls = [r for r in run.report["results"] if r["check"] == "static.tls_secret" and r["host"] == "shop.apps.test"]
    assert tls and tls[0]["evidence"].get("secret") == "demo/shop-tls", tls
