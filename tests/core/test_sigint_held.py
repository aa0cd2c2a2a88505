"""Ctrl-C held for a body: recorded, never raised inside it, raised after it (no subprocess: SIGINT to this one)."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from eomctl.core.interrupts import deferred, held


@pytest.fixture(autouse=True)
def _default_sigint() -> Iterator[None]:
    """Python's own SIGINT handler for the test (a test worker may run with another), restored after."""
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_a_held_ctrl_c_is_recorded_in_the_body_and_raised_after_it() -> None:
    reached_the_end = False
    with pytest.raises(KeyboardInterrupt), held() as ctrl_c:
        signal.raise_signal(signal.SIGINT)
        assert ctrl_c.received  # the body can see it and stop early ...
        reached_the_end = True  # ... but nothing was raised inside it
    assert reached_the_end
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_nested_holds_share_the_outer_recorder_and_only_the_outer_raises() -> None:
    with pytest.raises(KeyboardInterrupt), held() as outer:
        with deferred():
            signal.raise_signal(signal.SIGINT)
        with held() as inner:
            assert inner is outer and outer.received


def test_nothing_is_held_under_someone_elses_handler() -> None:
    seen: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    with held() as ctrl_c:
        signal.raise_signal(signal.SIGINT)
    assert seen == [signal.SIGINT] and not ctrl_c.received
