"""Ctrl-C (SIGINT) that reaches Python between integrator calls, never inside them.

CasADi polls Python's signal handlers while it integrates. Python's default SIGINT handler raises
``KeyboardInterrupt`` inside that poll; CVODES/IDAS then report "rhs failed: KeyboardInterrupt" and the step looks
like a solver failure, so an interrupt was mistaken for a failed step (or swallowed by a limit search that retries).
:func:`deferred` installs, for the length of one compiled call, a handler that only records the signal, and raises
``KeyboardInterrupt`` as soon as the call returns: an interrupt is an interrupt, a solver failure a solver failure.

Outside :func:`deferred` Python's own handler stays in place, so pure-Python loops stop at once as usual. Nothing is
changed when the process is not in its main thread or when someone else (a SubprocVecEnv worker that ignores
SIGINT, a test harness) installed their own handler.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with a message saying what was kept (a checkpoint, nothing) and how to continue."""


class _Recorder:
    """A SIGINT handler that remembers the signal instead of raising."""

    def __init__(self) -> None:
        self.received = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.received = True


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT for the body (a compiled call) and raise ``KeyboardInterrupt`` after it if one arrived.

    Nested uses are free: the inner one sees the outer recorder installed and leaves it in charge.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:
        yield
        return
    recorder = _Recorder()
    signal.signal(signal.SIGINT, recorder)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if recorder.received:
            raise KeyboardInterrupt


def ignore_in_worker() -> None:
    """In a worker process, ignore SIGINT: a terminal's Ctrl-C reaches the whole process group, and only the parent
    (which owns the checkpoint) should act on it. Does nothing in the main process."""
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
