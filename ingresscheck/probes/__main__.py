"""``python -m ingresscheck.probes --check-table [README]``: print the check table generated from the
probes' declarations, or write it between README's check-table markers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._check_table import table, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingresscheck.probes", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check-table",
        nargs="?",
        const="-",
        metavar="README",
        required=True,
        help="write the table into README between its markers (default: print it)",
    )
    args = parser.parse_args(argv)
    if args.check_table == "-":
        sys.stdout.write(table())
        return 0
    readme = Path(args.check_table)
    try:
        changed = write(readme)
    except (OSError, ValueError) as exc:
        print(f"ingresscheck.probes: {readme}: {exc}", file=sys.stderr)
        return 2
    print(f"{readme}: check table {'updated' if changed else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
