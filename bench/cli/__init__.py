"""The command line: the only layer that sees argparse."""
