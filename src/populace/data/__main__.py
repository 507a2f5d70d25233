"""`python -m populace.data [--data-dir DIR]`: rebuild the shipped compact tables from the raw files."""

import argparse

from populace.data import paths
from populace.data.shipped import using_shipped, write_shipped_tables


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m populace.data", description=__doc__)
    parser.add_argument("--data-dir", default=None, help="raw data directory (default: populace.data.paths')")
    args = parser.parse_args(argv)
    if using_shipped(args.data_dir):
        raise SystemExit(f"no raw data directory found. {paths.HOW_TO_FIX}")
    for file in write_shipped_tables(args.data_dir):
        print(f"{file.stat().st_size:>8,} bytes  {file.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
