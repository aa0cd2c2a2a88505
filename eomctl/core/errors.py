"""Exceptions raised by eomctl.

Every error a user can cause (a bad cell name, a malformed file, impossible limits) is raised as a subclass of
:class:`EomctlError` with a message that says what is wrong and where, so the command line can print it without a
traceback from deep inside PyBaMM.
"""

from __future__ import annotations

#: Exit codes of the ``eomctl`` command line (documented in docs/errors.md).
EXIT_BAD_INPUT = 2  # a value, name or option that cannot be used
EXIT_SOLVER_FAILED = 3  # the integrator failed; the output ends at the last good state
EXIT_FILE = 4  # a file that is missing, unreadable, malformed, truncated or cannot be written
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), after any checkpoint was written


class EomctlError(Exception):
    """Base class of every error eomctl raises on bad input; ``exit_code`` is what the command line returns."""

    exit_code = EXIT_BAD_INPUT


class UnknownCellError(EomctlError, KeyError):
    """A cell name that is neither in the catalogue nor a PyBaMM parameter set."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class FileInputError(EomctlError):
    """A file that is missing, unreadable, malformed or truncated, or an output path that cannot be written."""

    exit_code = EXIT_FILE


class CellFileError(FileInputError):
    """A cell file that is missing, unreadable or malformed."""


class DataFileError(FileInputError, ValueError):
    """A data file (CSV record) that is empty, ragged or holds cells that are not numbers."""


class CheckpointError(FileInputError):
    """A checkpoint (lifetime JSON, training zip) that is unreadable, truncated or from another experiment."""


class OutputPathError(FileInputError):
    """An output file or folder that cannot be written (checked before any long computation)."""


class MissingParameterError(EomctlError):
    """Parameters the chosen model options need but the cell does not define."""

    def __init__(self, cell_name: str, missing: list[str]) -> None:
        self.cell_name = cell_name
        self.missing = sorted(missing)
        listed = "\n  - ".join(self.missing)
        count = len(self.missing)
        super().__init__(
            f"cell '{cell_name}' lacks {count} parameter(s) needed by the chosen model options:\n  - {listed}"
        )


class NonPhysicalParameterError(EomctlError):
    """A parameter value that cannot describe a real cell (negative thickness, porosity above 1, ...)."""


class ConfigError(EomctlError):
    """An invalid configuration: unknown option, impossible limits, malformed scenario file."""


class ActionError(EomctlError, ValueError):
    """An action an environment cannot apply: not one finite number (NaN, None, a string, the wrong shape)."""


class EomctlWarning(UserWarning):
    """Warnings eomctl itself emits (turned into errors in the test suite)."""
