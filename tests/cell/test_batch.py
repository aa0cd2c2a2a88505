"""Twins of one simulator advanced by one mapped call: the same numbers as separate simulators."""

from __future__ import annotations

import numpy as np
import pytest

from eomctl.cell.batch import BatchStepper, step_limited_many
from eomctl.cell.catalogue import load_cell
from eomctl.cell.simulator import CellSimulator, SimulatorConfig

LIMITS = (4.2, 0.0, 318.15)


@pytest.fixture(scope="module")
def model() -> CellSimulator:
    return CellSimulator(load_cell("LGM50"), SimulatorConfig(model="SPMe", degradation=True, compile=False))


def test_batched_steps_equal_separate_simulators_bit_for_bit(model: CellSimulator) -> None:
    """Six cells with their own initial SOC, ambient temperature and random current requests, stepped together (at
    most two mapped calls per step, two threads) and alone: identical states, totals and degradation; every twin
    shares the model; a cell left out of the batch (None) is untouched."""
    n = 6
    batch, alone = [model.twin() for _ in range(n)], [model.twin() for _ in range(n)]
    assert all(sim.compiled is model.compiled for sim in batch + alone)
    for k, (a, b) in enumerate(zip(batch, alone, strict=True)):
        for sim in (a, b):
            sim.reset(soc=0.1 + 0.05 * k, ambient_k=278.15 + 3 * k)
    stepper = BatchStepper(threads=2)
    rng = np.random.default_rng(7)
    for _ in range(6):
        requests = [(float(rng.uniform(0.0, 15.0)), *LIMITS) for _ in range(n)]
        requests[2] = None
        untouched = batch[2].last
        batched = step_limited_many(batch, requests, 30.0, stepper)
        assert batch[2].last is untouched and batched[2] is None
        for sim, result, request in zip(alone, batched, requests, strict=True):
            if request is None:
                continue
            single = sim.step_limited(request[0], 30.0, v_max_v=4.2, anode_min_v=0.0, t_max_k=318.15)
            assert single == result  # dataclass equality: every field, bit for bit
    assert 6 <= stepper.calls <= 12  # per step: one constant-current call and/or one controlled call


def test_a_prefetched_step_is_taken_only_for_the_same_step(model: CellSimulator) -> None:
    """A prefetched step is used only from the same start state with the same limits and dt; otherwise the cell
    integrates afresh and the prefetch is dropped."""
    a, b, fresh = model.twin(), model.twin(), model.twin()
    for sim in (a, b, fresh):
        sim.reset(soc=0.3)
    BatchStepper(threads=1).prefetch([a, b], [(10.0, *LIMITS), (10.0, *LIMITS)], 30.0)
    other = b.step_limited(5.0, 30.0, v_max_v=4.2, anode_min_v=0.0, t_max_k=318.15)
    assert other == fresh.step_limited(5.0, 30.0, v_max_v=4.2, anode_min_v=0.0, t_max_k=318.15)
    assert b._prefetched is None
    taken = a.step_limited(10.0, 30.0, v_max_v=4.2, anode_min_v=0.0, t_max_k=318.15)
    assert taken.current_a <= 10.0 and a._prefetched is None


def test_a_failing_cell_is_integrated_alone(model: CellSimulator) -> None:
    """A cell whose step cannot be integrated (200C with no limits) gets no prefetched step and integrates alone; each
    result is what a lone simulator gives (the bad cell's from the constant-current search that ``step_limited`` falls
    back to)."""
    good, bad, reference = model.twin(), model.twin(), model.twin()
    for sim in (good, bad, reference):
        sim.reset(soc=0.5)
    requests = [(5.0, *LIMITS), (1000.0, None, None, None)]
    # The bad cell gets nothing (and the good one too when the call they shared failed).
    assert BatchStepper(2).prefetch([good, bad], requests, 30.0) <= 1
    assert bad._prefetched is None
    results = step_limited_many([good, bad], requests, 30.0, BatchStepper(2))
    assert results[0] == reference.step_limited(5.0, 30.0, v_max_v=4.2, anode_min_v=0.0, t_max_k=318.15)
    reference.reset(soc=0.5)
    assert results[1] == reference.step_limited(1000.0, 30.0)


def test_twins_of_different_models_are_refused(model: CellSimulator) -> None:
    other = CellSimulator(load_cell("LGM50"), SimulatorConfig(model="SPM", degradation=True, compile=False))
    with pytest.raises(ValueError, match="twin"):
        BatchStepper().prefetch([model.twin(), other], [(5.0, *LIMITS), (5.0, *LIMITS)], 30.0)
