"""Ctrl-C (SIGINT) that reaches Python between integrator calls, never inside them.

CasADi polls Python's signal handlers while it integrates. Python's default SIGINT handler raises
``KeyboardInterrupt`` inside that poll; CVODES/IDAS then report "rhs failed: KeyboardInterrupt" and the step looks
like a solver failure, so an interrupt was mistaken for a failed step (or swallowed by a limit search that retries).
:func:`deferred` installs, for the length of one compiled call, a handler that only records the signal, and raises
``KeyboardInterrupt`` as soon as the call returns: an interrupt is an interrupt, a solver failure a solver failure.

Outside :func:`deferred` Python's own handler stays in place, so pure-Python loops stop at once as usual. Training
holds SIGINT for the whole of ``learn()`` (:func:`held`) and stops after the env step it arrived in: a Ctrl-C that
reached Python's handler elsewhere in that loop was, about once in twenty runs under load, lost (the run finished
as if none had come), and a flag polled once a step cannot be. Nothing is changed when the process is not in its
main thread or when someone else (a SubprocVecEnv worker that ignores SIGINT, a test harness) installed their own
handler.
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
def held() -> Iterator[_Recorder]:
    """Hold SIGINT for the body and raise ``KeyboardInterrupt`` after it if one arrived; the body may poll the yielded
    recorder's ``received`` between units of work and stop early itself (as training does after each env step).

    While held, a Ctrl-C only sets a flag: no C extension (CasADi, SUNDIALS, torch) can turn it into an error of its
    own or swallow it. Nested uses are free: the inner one sees the outer recorder installed and yields that one.
    Outside the main thread, or under someone else's handler, nothing is changed (a recorder that never fires).
    """
    previous = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    if isinstance(previous, _Recorder):
        yield previous
        return
    if previous is not signal.default_int_handler:
        yield _Recorder()
        return
    recorder = _Recorder()
    signal.signal(signal.SIGINT, recorder)
    try:
        yield recorder
    finally:
        signal.signal(signal.SIGINT, previous)
        if recorder.received:
            raise KeyboardInterrupt


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT for the body (a compiled call) and raise ``KeyboardInterrupt`` after it if one arrived
    (:func:`held`, for a body that does not poll)."""
    with held():
        yield


def ignore_in_worker() -> None:
    """In a worker process, ignore SIGINT: a terminal's Ctrl-C reaches the whole process group, and only the parent
    (which owns the checkpoint) should act on it. Does nothing in the main process."""
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
