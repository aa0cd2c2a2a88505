"""The command line (the only layer that parses arguments): ``eomctl <command>``, see :mod:`eomctl.cli.main`."""
