"""`ingresscheck diff OLD.json NEW.json`: what changed between two runs. Exit 0: no new failure;
1: a new failure; 2: bad input."""

from __future__ import annotations

import argparse
import sys

from ..errors import UsageError
from ._terminal import printable


def add_diff_arguments(diff: argparse.ArgumentParser) -> None:
    diff.add_argument("old", metavar="OLD.json", help="the JSON report of the earlier run")
    diff.add_argument("new", metavar="NEW.json", help="the JSON report of the later run")
    diff.add_argument("--html", metavar="FILE", help="also write the differences as an HTML page")
    diff.add_argument(
        "--latency-threshold",
        type=float,
        default=100.0,
        metavar="MS",
        help="flag a host's probe latency that moved by more than MS milliseconds (default 100)...",
    )
    diff.add_argument(
        "--latency-factor", type=float, default=2.0, metavar="X", help="...and by more than a factor X (default 2)"
    )
    diff.set_defaults(handler=execute)


def execute(args: argparse.Namespace) -> int:
    from ..reports._diff import diff_reports, diff_text, load_report, write_diff_html

    if args.latency_threshold < 0:
        raise UsageError("--latency-threshold must be 0 or more milliseconds")
    if args.latency_factor < 1:
        raise UsageError("--latency-factor must be at least 1")
    old, new = load_report(args.old), load_report(args.new)
    d = diff_reports(
        old,
        new,
        threshold_ms=args.latency_threshold,
        factor=args.latency_factor,
        old_label=args.old,
        new_label=args.new,
    )
    sys.stdout.write(diff_text(d, clean=printable))
    if args.html:
        try:
            path = write_diff_html(d, args.html)
        except OSError as exc:
            raise UsageError(f"cannot write {exc.filename}: {exc.strerror}") from None
        print(f"html  diff: {printable(path)}")
    return 1 if d.regressed else 0
