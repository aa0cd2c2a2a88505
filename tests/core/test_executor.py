"""run_tasks: the same numbers from every executor, input order kept, checkpoints resumed, clear errors."""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eomctl.core.errors import ConfigError
from eomctl.core.executor import run_tasks, task_key

CHEAP = [{"x": float(i), "seed": 10 + i} for i in range(6)]
PHYSICS = [{"current_a": 5.0, "n_steps": 3}, {"current_a": 10.0, "n_steps": 3}]


def noisy_affine(x: float, seed: int) -> dict[str, Any]:
    """A cheap deterministic task: a seeded draw, so any mix-up of seeds or order changes the numbers."""
    rng = np.random.default_rng(seed)
    return {"x": x, "value": float(2.0 * x + rng.normal()), "draws": rng.random(3).tolist()}


def sleepy(x: int, sleep_s: float) -> int:
    """Finishes in reverse order of submission when sleep_s decreases."""
    time.sleep(sleep_s)
    return x * x


def counted(x: int, marker_dir: str) -> int:
    """Leaves one file per call in marker_dir; raises for x == 3 while marker_dir holds a file named 'fail'."""
    folder = Path(marker_dir)
    (folder / f"call-{x}-{uuid.uuid4().hex}").touch()
    if x == 3 and (folder / "fail").exists():
        raise RuntimeError("interrupted")
    return 10 * x


def calls(folder: Path, x: int | None = None) -> int:
    pattern = "call-*" if x is None else f"call-{x}-*"
    return len(list(folder.glob(pattern)))


def simulate_steps(current_a: float, n_steps: int) -> list[float]:
    """A small real-physics task: the worker builds its own SPM simulator and charges for a few 30 s steps."""
    from eomctl.cell.catalogue import load_cell
    from eomctl.cell.simulator import CellSimulator, SimulatorConfig

    sim = CellSimulator(load_cell("Chen2020"), SimulatorConfig(model="SPM", compile=False))
    sim.reset(soc=0.2)
    out: list[float] = []
    for _ in range(n_steps):
        result = sim.step(current_a=current_a, dt_s=30.0)
        out += [result.voltage_v, result.temperature_k, result.soc, result.totals["entropy_j_per_k"]]
    return out


@pytest.fixture(scope="module")
def serial_physics() -> list[list[float]]:
    return run_tasks(simulate_steps, PHYSICS, executor="serial", progress=False)


def test_serial_is_a_plain_loop() -> None:
    assert run_tasks(noisy_affine, CHEAP, executor="serial", progress=False) == [noisy_affine(**kw) for kw in CHEAP]


def test_local_pool_matches_serial_and_keeps_order() -> None:
    serial = run_tasks(noisy_affine, CHEAP, executor="serial", progress=False)
    assert run_tasks(noisy_affine, CHEAP, executor="local", max_workers=2, progress=False) == serial
    # The second task finishes first; the results must still come back in input order.
    ordered = run_tasks(sleepy, [{"x": 1, "sleep_s": 1.0}, {"x": 2, "sleep_s": 0.0}], max_workers=2, progress=False)
    assert ordered == [1, 4]


@pytest.mark.slow  # ~25 s: each spawned worker imports PyBaMM and builds its model
def test_local_pool_matches_serial_on_physics(serial_physics: list[list[float]]) -> None:
    local = run_tasks(simulate_steps, PHYSICS, executor="local", max_workers=2, progress=False)
    assert local == serial_physics  # bitwise: same build, same inputs, same integrator
    assert serial_physics[0] != serial_physics[1]
    assert all(np.isfinite(serial_physics[0]))


@pytest.mark.slow  # ~20 s alone (Ray start ~12 s), more under pytest -n 2
def test_ray_matches_serial(serial_physics: list[list[float]]) -> None:
    ray = pytest.importorskip("ray", reason="Ray is optional: pip install 'ray>=2.9,<3'")
    # Workers import this test module by name: tests/ is not installed, so hand them its folder.
    runtime_env = {"env_vars": {"PYTHONPATH": str(Path(__file__).parent)}}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=runtime_env)
    try:
        serial = run_tasks(noisy_affine, CHEAP, executor="serial", progress=False)
        assert run_tasks(noisy_affine, CHEAP, executor="ray", progress=False) == serial
        assert run_tasks(simulate_steps, PHYSICS, executor="ray", progress=False) == serial_physics
    finally:
        ray.shutdown()


def test_ray_missing_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    with pytest.raises(ConfigError, match="pip install"):
        run_tasks(noisy_affine, CHEAP[:1], executor="ray", progress=False)


@pytest.mark.parametrize("bad", [{"executor": "dask"}, {"max_workers": 0}])
def test_bad_arguments(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        run_tasks(noisy_affine, CHEAP[:1], progress=False, **bad)


def test_task_key_is_stable_and_specific() -> None:
    assert task_key(noisy_affine, {"x": 1.0, "seed": 2}) == task_key(noisy_affine, {"seed": 2, "x": 1.0})
    assert task_key(noisy_affine, {"x": 1.0, "seed": 2}) != task_key(noisy_affine, {"x": 1.0, "seed": 3})
    assert task_key(noisy_affine, {"x": 1}) != task_key(sleepy, {"x": 1})
    assert len(task_key(noisy_affine, {"x": 1})) == 64


@pytest.mark.parametrize("executor", ["serial", "local"])
def test_checkpoint_resumes_without_redoing_tasks(tmp_path: Path, executor: str) -> None:
    markers, checkpoint = tmp_path / "markers", tmp_path / "sweep.json"
    markers.mkdir()
    (markers / "fail").touch()
    tasks = [{"x": x, "marker_dir": str(markers)} for x in range(5)]
    with pytest.raises(RuntimeError, match="interrupted"):
        run_tasks(counted, tasks, executor="serial", progress=False, checkpoint=checkpoint)
    assert calls(markers) == 4 and checkpoint.is_file()  # 0, 1, 2 finished and were stored; 3 failed
    (markers / "fail").unlink()
    results = run_tasks(counted, tasks, executor=executor, max_workers=2, progress=False, checkpoint=checkpoint)
    assert results == [0, 10, 20, 30, 40]
    assert [calls(markers, x) for x in range(5)] == [1, 1, 1, 2, 1]
    # A finished sweep is answered from the checkpoint alone.
    assert run_tasks(counted, tasks, executor=executor, progress=False, checkpoint=checkpoint) == results
    assert calls(markers) == 6


def test_checkpointed_results_read_back_identically(tmp_path: Path) -> None:
    checkpoint = tmp_path / "c.json"
    first = run_tasks(noisy_affine, CHEAP, executor="serial", progress=False, checkpoint=checkpoint)
    again = run_tasks(noisy_affine, CHEAP, executor="serial", progress=False, checkpoint=checkpoint)
    assert first == again == [noisy_affine(**kw) for kw in CHEAP]  # floats survive JSON exactly


def test_corrupt_checkpoint_is_a_config_error(tmp_path: Path) -> None:
    checkpoint = tmp_path / "c.json"
    checkpoint.write_text("{not json")
    with pytest.raises(ConfigError, match="checkpoint"):
        run_tasks(noisy_affine, CHEAP, executor="serial", progress=False, checkpoint=checkpoint)
