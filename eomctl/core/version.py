"""The package version (read by the build backend, ``eomctl.__version__`` and run metadata)."""

__version__ = "0.1.0"
