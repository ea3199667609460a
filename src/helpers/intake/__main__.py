"""``python -m helpers.intake propose|convert``: see :mod:`helpers.intake`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from . import REPORT_FILE, AdamError, convert, load_mapping, propose, write_tables


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.intake",
                                     description="Convert a CDISC ADaM folder to the book's data contract.")
    commands = parser.add_subparsers(dest="command", required=True)
    proposing = commands.add_parser("propose", help="print the proposed mapping file (TOML)")
    proposing.add_argument("adam_dir")
    converting = commands.add_parser("convert", help="write contract CSVs through a mapping file")
    converting.add_argument("adam_dir")
    converting.add_argument("--mapping", required=True, help="the mapping file (from propose, edited)")
    converting.add_argument("--out", required=True, help="folder for the contract CSVs (name it after the study)")
    args = parser.parse_args(argv)
    try:
        if args.command == "propose":
            sys.stdout.write(propose(args.adam_dir))
            return 0
        mapping = load_mapping(args.mapping)
        tables, report = convert(args.adam_dir, mapping, mapping_name=Path(args.mapping).name)
        out = write_tables(tables, report, args.out)
    except AdamError as error:
        print(f"[helpers.intake] error: {error}", file=sys.stderr)
        return 2
    print("\n".join(report.lines()))
    print(f"[helpers.intake] wrote {', '.join(f'{t}.csv ({len(f)} rows)' for t, f in tables.items())} and "
          f"{REPORT_FILE} to {out.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
