"""ftbench entry point: `python run_all.py [run|report|list] ...` (see --help)."""

import sys

from bench.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
