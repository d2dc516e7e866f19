"""diff and Prometheus output from report dicts: the parts a lab run cannot easily provoke (a changed
certificate, a latency jump, bad input files) and the exposition format checked by the real promtool.
The lab tests (tests/lab/test_diff_prometheus.py) cover both on real runs."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ingresscheck.cli import main
from ingresscheck.reports import report_dict
from ingresscheck.reports._diff import diff_reports
from ingresscheck.reports._prometheus import prometheus_text
from ingresscheck.results import Result, Severity, Status, Step

from .test_reports import make_report

TLS_EVIDENCE = {
    "address": "127.0.0.10",
    "port": 443,
    "sni": "api.example.test",
    "certificate": {"sha256": "aa" * 32, "not_after": "2026-02-24T10:00:00+00:00"},
    "timings_ms": {"connect": 0.4, "tls": 3.1},
}


def _report(**changes: Any) -> dict[str, Any]:
    results = [
        Result(
            probe="tls",
            check="tls.expiry",
            status=Status.PASS,
            severity=Severity.CRITICAL,
            message="ok",
            step=Step.TLS,
            host="api.example.test",
            namespace="demo",
            ingress="api",
            kind="Ingress",
            name="api",
            subject="127.0.0.10:443",
            evidence=copy.deepcopy(TLS_EVIDENCE),
        ),
        Result(
            probe="routing",
            check="routing.backend",
            status=Status.PASS,
            severity=Severity.CRITICAL,
            message="ok",
            step=Step.BACKEND,
            host="api.example.test",
            namespace="demo",
            ingress="api",
            subject="/ Prefix",
            evidence={"timings_ms": {"total": changes.get("total_ms", 20.0)}},
        ),
    ]
    data = report_dict(make_report(results))
    if "sha" in changes:
        data["results"][0]["evidence"]["certificate"]["sha256"] = changes["sha"]
    return data


def test_a_new_certificate_and_a_latency_jump_are_reported() -> None:
    """Given the same verdicts but a new leaf and routing 20 -> 450 ms, then both show, nothing else."""
    d = diff_reports(_report(), _report(sha="bb" * 32, total_ms=450.0))

    assert [(c.host, c.address, c.old_sha256[:4], c.new_sha256[:4]) for c in d.certificates] == [
        ("api.example.test", "127.0.0.10:443", "aaaa", "bbbb")
    ]
    assert [(c.host, c.probe, c.old_ms, c.new_ms) for c in d.latency] == [("api.example.test", "routing", 20.0, 450.0)]
    assert not d.new_failures and not d.fixed and not d.regressed


def test_latency_within_the_threshold_is_not_a_change() -> None:
    """Given 20 -> 110 ms (more than x2 but less than 100 ms more), then no latency change."""
    assert diff_reports(_report(), _report(total_ms=110.0)).latency == []


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no such file"),
        ("{not json", "not JSON"),
        ('{"schema": "something/v1", "results": []}', "not an ingresscheck JSON report"),
        ('{"schema": "ingresscheck.report/v2", "results": [{"check": "x"}]}', "its results are not a list"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_report()))
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)

    assert main(["diff", str(good), str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ingresscheck: {bad}: ") and message in err and len(err.strip().splitlines()) == 1


def test_metrics_hold_one_series_per_verdict_and_the_certificate() -> None:
    text = prometheus_text(make_report(), _report())
    families = {f.name: f for f in text_string_to_metric_families(text)}

    status = families["ingresscheck_check_status"].samples
    assert {(s.labels["check"], s.labels["subject"], s.labels["status"]) for s in status} == {
        ("tls.expiry", "127.0.0.10:443", "pass"),
        ("routing.backend", "/ Prefix", "pass"),
    }
    (cert,) = families["ingresscheck_certificate_not_after_timestamp_seconds"].samples
    assert cert.labels == {"host": "api.example.test", "address": "127.0.0.10:443", "sni": "api.example.test"}
    assert cert.value == 1771927200.0  # 2026-02-24T10:00:00Z
    phases = {
        (s.labels["probe"], s.labels["phase"]): s.value for s in families["ingresscheck_phase_duration_seconds"].samples
    }
    assert phases == {("tls", "connect"): 0.0004, ("tls", "tls"): 0.0031, ("routing", "total"): 0.02}


def test_a_check_saying_two_things_of_one_subject_keeps_the_worse() -> None:
    data = _report()
    twin = copy.deepcopy(data["results"][0])
    twin["status"] = "fail"
    data["results"].append(twin)
    samples = next(
        f
        for f in text_string_to_metric_families(prometheus_text(make_report(), data))
        if f.name == "ingresscheck_check_status"
    ).samples
    assert [s.labels["status"] for s in samples if s.labels["check"] == "tls.expiry"] == ["fail"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (Debian: prometheus)")
def test_promtool_accepts_the_metrics_of_the_sample_report() -> None:
    done = subprocess.run(
        ["promtool", "check", "metrics"],
        input=prometheus_text(make_report()),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def _hosts(*statuses: tuple[str, str, str]) -> dict[str, Any]:
    """A report of (host, check, status) verdicts, each with a total of 20 ms."""
    results = [
        Result(
            probe=check.split(".")[0],
            check=check,
            status=Status(status),
            severity=Severity.MAJOR,
            message=f"{check} {status}",
            step=Step.BACKEND,
            host=host,
            namespace="demo",
            ingress=host.split(".")[0],
            evidence={"timings_ms": {"total": 20.0}},
        )
        for host, check, status in statuses
    ]
    return report_dict(make_report(results))


def test_a_removed_host_fails_the_diff_only_with_fail_on_removed(tmp_path: Path) -> None:
    """Given www removed between two runs (its Ingress renamed to a typo), then diff exits 0 by default
    and 1 with --fail-on removed, naming the host; a passing check gone from a kept host counts too."""
    old = _hosts(
        ("www.example.test", "routing.backend", "pass"),
        ("api.example.test", "routing.backend", "pass"),
        ("api.example.test", "routing.path_type", "pass"),
    )
    new = _hosts(("api.example.test", "routing.backend", "pass"))
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(old))
    b.write_text(json.dumps(new))
    d = diff_reports(old, new)
    assert d.hosts_removed == ["www.example.test"] and not d.regressed and d.removed
    assert sorted((c.host, c.check, c.old) for c in d.vanished) == [
        ("api.example.test", "routing.path_type", "pass"),
        ("www.example.test", "routing.backend", "pass"),
    ]
    assert main(["diff", str(a), str(b)]) == 0
    assert main(["diff", str(a), str(b), "--fail-on", "removed"]) == 1
    assert main(["diff", str(b), str(b), "--fail-on", "removed"]) == 0  # nothing removed: still 0


def test_fail_on_with_an_unknown_word_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = tmp_path / "a.json"
    a.write_text(json.dumps(_report()))
    assert main(["diff", str(a), str(a), "--fail-on", "gone"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--fail-on 'gone'" in err and "new, removed" in err and len(err.splitlines()) == 1


def test_diff_as_json_on_stdout_and_in_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Given two runs with a new failure, when diff -o json --json FILE, then stdout is the diff JSON
    (schema ingresscheck.diff/v1) and the file holds the same."""
    old = _hosts(("api.example.test", "routing.backend", "pass"))
    new = _hosts(("api.example.test", "routing.backend", "fail"))
    a, b, out = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "d.json"
    a.write_text(json.dumps(old))
    b.write_text(json.dumps(new))
    assert main(["diff", str(a), str(b), "-o", "json", "--json", str(out)]) == 1
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["schema"] == "ingresscheck.diff/v1" and doc["regressed"] is True
    assert [(c["check"], c["old"], c["new"]) for c in doc["new_failures"]] == [("routing.backend", "pass", "fail")]
    assert json.loads(out.read_text()) == doc and f"json  diff: {out}" in captured.err


def test_latency_is_compared_only_when_asked_and_relative_to_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given ten hosts all three times slower (a busy machine) and one 20 times slower, then without --latency
    nothing is said of latency, and with it only the one that moved beyond the run's median change shows."""
    hosts = [f"h{i}.example.test" for i in range(10)]
    old = _hosts(*[(h, "routing.backend", "pass") for h in hosts])
    new = copy.deepcopy(old)
    for r in new["results"]:
        r["evidence"]["timings_ms"]["total"] = 400.0 if r["host"] == "h0.example.test" else 60.0
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(old))
    b.write_text(json.dumps(new))
    assert main(["diff", str(a), str(b)]) == 0
    assert "latency: not compared (--latency compares it)" in capsys.readouterr().out
    d = diff_reports(old, new, latency=True)
    assert d.baseline_ratio == 3.0
    assert [(c.host, c.new_ms) for c in d.latency] == [("h0.example.test", 400.0)]
