"""The messages a compiled solver prints on a failure that eomctl reports itself.

When CVODES or IDAS fails (a trial current of a limit search the model cannot follow, a controlled step that falls
back to the search), SUNDIALS and CasADi write the error and a dump of every input (a state vector of some hundred
numbers) to standard error. eomctl turns each such failure into a flag (a
"solver_failure" step result, a fallback) that says what happened, so these lines only alarm a user reading a
training log. :func:`solver_messages_hidden` discards them for the length of one compiled call. Set
``EOMCTL_SOLVER_MESSAGES=1`` to see them (debugging the model).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator

_SHOW = "EOMCTL_SOLVER_MESSAGES"


class _Discard(io.TextIOBase):
    """A text stream that drops everything written to it."""

    def write(self, text: str) -> int:
        return len(text)


@contextlib.contextmanager
def solver_messages_hidden() -> Iterator[None]:
    """Discard what a compiled call writes to standard error: CasADi's messages go through Python's ``sys.stderr``,
    anything native straight to file descriptor 2; both are redirected for the body."""
    if os.environ.get(_SHOW, "") not in ("", "0"):
        yield
        return
    with contextlib.redirect_stderr(_Discard()):
        try:
            sys.__stderr__.flush() if sys.__stderr__ else None
            saved = os.dup(2)
        except (OSError, ValueError):  # no usable descriptor 2 (an embedding host): Python's stream is enough
            yield
            return
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, 2)
            finally:
                os.close(null)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
