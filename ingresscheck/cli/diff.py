"""`ingresscheck diff OLD.json NEW.json`: what changed between two runs. Exit 0: no new failure;
1: a new failure (with ``--fail-on removed`` also a removed host or a passing check gone); 2: bad input."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import UsageError
from ._terminal import printable


def add_diff_arguments(diff: argparse.ArgumentParser) -> None:
    diff.add_argument("old", metavar="OLD.json", help="the JSON report of the earlier run")
    diff.add_argument("new", metavar="NEW.json", help="the JSON report of the later run")
    diff.add_argument(
        "-o",
        "--output",
        choices=("text", "json"),
        default="text",
        help="json: the differences as JSON on stdout (ingresscheck.diff/v1), as `run -o json` does",
    )
    diff.add_argument("--html", metavar="FILE", help="also write the differences as an HTML page")
    diff.add_argument("--json", metavar="FILE", help="also write the differences as JSON (ingresscheck.diff/v1)")
    diff.add_argument(
        "--fail-on",
        default="new",
        metavar="WHAT",
        help="exit 1 on: new (new failures, always), removed (a host, or a check that passed, no longer "
        "there); comma-separated, e.g. --fail-on removed",
    )
    diff.add_argument(
        "--latency",
        action="store_true",
        help="compare latency too (off by default: timings move with the machine's load)",
    )
    diff.add_argument(
        "--latency-threshold",
        type=float,
        default=100.0,
        metavar="MS",
        help="with --latency: flag a host's probe latency that moved by more than MS milliseconds (default 100)...",
    )
    diff.add_argument(
        "--latency-factor",
        type=float,
        default=2.0,
        metavar="X",
        help="...and by more than a factor X beyond the run's median change (default 2)",
    )
    diff.set_defaults(handler=execute)


def execute(args: argparse.Namespace) -> int:
    from ..reports._diff import FAIL_ON, diff_reports, diff_text, load_report, write_diff_html, write_diff_json

    if args.latency_threshold < 0:
        raise UsageError("--latency-threshold must be 0 or more milliseconds")
    if args.latency_factor < 1:
        raise UsageError("--latency-factor must be at least 1")
    fail_on = tuple(w.strip() for w in str(args.fail_on).split(",") if w.strip())
    unknown = [w for w in fail_on if w not in FAIL_ON]
    if unknown or not fail_on:
        raise UsageError(f"--fail-on {args.fail_on!r}: expected a comma-separated list of {', '.join(FAIL_ON)}")
    old, new = load_report(args.old), load_report(args.new)
    d = diff_reports(
        old,
        new,
        threshold_ms=args.latency_threshold,
        factor=args.latency_factor,
        latency=args.latency,
        old_label=args.old,
        new_label=args.new,
    )
    out = sys.stderr if args.output == "json" else sys.stdout
    if args.output == "json":
        sys.stdout.write(json.dumps(d.to_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(diff_text(d, clean=printable))
    for kind, path, write in (("html", args.html, write_diff_html), ("json", args.json, write_diff_json)):
        if not path:
            continue
        try:
            written = write(d, path)
        except OSError as exc:
            raise UsageError(f"cannot write {exc.filename}: {exc.strerror}") from None
        print(f"{kind:<5} diff: {printable(str(written))}", file=out)
    return 1 if d.failed(fail_on) else 0
