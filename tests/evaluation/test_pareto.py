"""Pareto front, Entropy Efficiency Zone, the sweep's plumbing, the figure and the command line."""

from __future__ import annotations

import argparse
import csv
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import eomctl.evaluation.eez as eez
import eomctl.evaluation.sweep as sweep_module
from eomctl.cli import pareto as pareto_cli
from eomctl.core.errors import ConfigError, EomctlWarning
from eomctl.core.io import write_csv
from eomctl.evaluation.eez import DEFAULT_EPS, OBJECTIVES, annotate_front, eez_distance, in_eez, pareto_mask
from eomctl.evaluation.sweep import default_grid, rows_to_columns, sweep
from eomctl.plotting.pareto import plot_pareto

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------------------------- pareto_mask
@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ([[1, 5], [2, 4], [3, 3], [4, 4], [5, 5]], [True, True, True, False, False]),  # (4,4) by (3,3)
        ([[1, 1], [1, 1], [2, 2]], [True, True, False]),  # duplicates do not dominate each other
        ([[1, 2], [1, 3], [0, 5]], [True, False, True]),  # tie in one objective, worse in the other: dominated
        ([3.0, 1.0, 2.0, 1.0], [False, True, False, True]),  # 1-D: every minimum
        ([[1, 2, 3], [3, 2, 1], [2, 2, 2], [2, 3, 3], [1, 2, 4]], [True, True, True, False, False]),
        ([[1, np.nan], [2, 2], [np.inf, 0]], [False, True, False]),  # non-finite rows never on the front
    ],
)
def test_pareto_mask_known_sets(points: Any, expected: list[bool]) -> None:
    np.testing.assert_array_equal(pareto_mask(np.asarray(points, dtype=float)), expected)


def test_pareto_mask_rtol_treats_solver_noise_as_a_tie() -> None:
    near = np.array([[2057.2709, 9.2387044, 0.25439716], [2057.2706, 9.2387030, 0.25439715], [2100.0, 9.3, 0.26]])
    np.testing.assert_array_equal(pareto_mask(near), [False, True, False])
    np.testing.assert_array_equal(pareto_mask(near, rtol=1e-6), [True, True, False])


def test_pareto_mask_empty_and_bad_shape() -> None:
    assert pareto_mask(np.zeros((0, 3))).shape == (0,)
    with pytest.raises(ValueError, match="1-D or 2-D"):
        pareto_mask(np.zeros((2, 2, 2)))


def _dominates(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(a <= b) and np.any(a < b))


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 25), st.integers(1, 4)), elements=st.integers(0, 6).map(float)))
def test_pareto_mask_property(points: np.ndarray) -> None:
    mask = pareto_mask(points)
    front = points[mask]
    assert mask.any()
    for f in front:  # no front point is dominated by any point
        assert not any(_dominates(p, f) for p in points)
    for q in points[~mask]:  # every other point is dominated by some front point
        assert any(_dominates(f, q) for f in front)


# --------------------------------------------------------------------------------------------- EEZ
FRONT = np.array([[900.0, 20.0, 0.020], [1800.0, 12.0, 0.015], [3000.0, 8.0, 0.012]])


def test_front_points_are_inside_with_distance_zero() -> None:
    for f in FRONT:
        assert eez_distance(f, FRONT) == pytest.approx(0.0, abs=1e-12)
        assert in_eez(f, FRONT)


def test_entropy_ten_percent_worse_is_outside_at_five_percent() -> None:
    worse = FRONT[1] * np.array([1.0, 1.10, 1.0])
    assert eez_distance(worse, FRONT, (0.02, 0.05, 0.05)) == pytest.approx(2.0, rel=1e-12)  # 10 % / 5 %
    assert not in_eez(worse, FRONT, (0.02, 0.05, 0.05))
    assert in_eez(FRONT[1] * np.array([1.0, 1.099, 1.0]), FRONT, (0.02, 0.10, 0.05))  # just inside a 10 % slack


def test_slack_is_the_worst_objective_of_the_closest_front_point() -> None:
    point = FRONT[1] * np.array([1.01, 1.04, 1.0])  # 1 % / 2 % in time = 0.5; 4 % / 5 % in entropy = 0.8
    assert eez_distance(point, FRONT) == pytest.approx(0.8, rel=1e-12)
    assert in_eez(point, FRONT)
    beyond = FRONT[1] * 0.99  # better than a front point in every objective: negative slack
    assert eez_distance(beyond, FRONT) < 0


def test_eez_edge_cases() -> None:
    assert eez_distance([1.0, 1.0, 1.0], np.zeros((0, 3))) == np.inf
    zero_lli = np.array([[1000.0, 10.0, 0.0]])  # degradation off: only zero LLI is close to a zero front value
    assert eez_distance([1000.0, 10.0, 0.0], zero_lli) == 0.0
    assert eez_distance([1000.0, 10.0, 1e-9], zero_lli) == np.inf
    with pytest.raises(ValueError, match="eps"):
        eez_distance(FRONT[0], FRONT, (0.02, 0.0, 0.05))
    with pytest.raises(ValueError, match="objectives"):
        eez_distance(FRONT[0, :2], FRONT)
    assert DEFAULT_EPS == (0.02, 0.05, 0.05)


def _row(spec: str, t: float, s: float, lli: float, reached: float = 1.0) -> dict[str, Any]:
    family = spec.split(":")[0]
    return {"family": family, "spec": spec, "charge_time_s": t, "entropy_j_per_k": s, "irreversible_lli_pct": lli,
            "reached_target": reached, "error": ""}  # fmt: skip


ROWS = [
    _row("cccv:rate=1C", 1800.0, 12.0, 0.015),
    _row("cccv:rate=2C", 1000.0, 18.0, 0.020),
    _row("cccv:rate=3C", 900.0, 21.0, 0.025),
    _row("pulse:rate=2C", 1810.0, 12.3, 0.0152),  # near the 1C point: in the EEZ, not on the front
    _row("ccco:rate=3C", 1900.0, 30.0, 0.030),  # far from everything
    _row("multistage:short", 500.0, 5.0, 0.001, reached=0.0),  # stopped short: never on the front
]


def test_annotate_front_flags() -> None:
    rows = annotate_front(ROWS)
    assert [r["on_front"] for r in rows] == [True, True, True, False, False, False]
    assert [r["in_eez"] for r in rows] == [True, True, True, True, False, False]
    assert rows[3]["eez_distance"] == pytest.approx(max(10 / 1800 / 0.02, 0.3 / 12 / 0.05, 0.0002 / 0.015 / 0.05))
    assert "on_front" not in ROWS[0]  # the input is not mutated


# --------------------------------------------------------------------------------------------- sweep plumbing
class _FakeEvaluation:
    def __init__(self, spec: str) -> None:
        self.spec = spec

    def summary(self) -> dict[str, float]:
        if "bad" in self.spec:
            raise ValueError("no such protocol")
        rate = float(self.spec.split("rate=")[1].split("C")[0])
        return {"charge_time_s": {"mean": 2520.0 / rate + 300}, "entropy_j_per_k": {"mean": 6.0 * rate + 4},
                "irreversible_lli_pct": {"mean": 0.01 * rate}, "success_rate": 1.0}  # fmt: skip


class _FakeEnv:
    """Stands in for the env a sweep task builds (the fake evaluation never steps it)."""

    def __init__(self, env_id: str, overrides: Any = None) -> None:
        self.env_id = env_id

    def close(self) -> None:
        pass


@pytest.fixture
def fake_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = lambda spec, env, episodes, seed, overrides=None: _FakeEvaluation(spec)  # noqa: E731
    monkeypatch.setattr(sweep_module, "evaluate_policy", fake)
    monkeypatch.setattr(sweep_module, "ChargingEnv", _FakeEnv)


def test_sweep_runs_every_spec_through_the_executor(fake_evaluation: None, tmp_path: Path) -> None:
    families = {"cccv": [f"cccv:rate={r}C" for r in (1, 2, 3)], "pulse": ["pulse:rate=2C,bad"]}
    with pytest.warns(EomctlWarning, match="1 sweep point"):
        rows = sweep("eomctl/FastCharge-v0", families, executor="serial", include_bound=False, progress=False)
    assert [r["spec"] for r in rows] == [*families["cccv"], "pulse:rate=2C,bad"]
    assert [r["on_front"] for r in rows] == [True, True, True, False]
    assert "ValueError: no such protocol" in rows[3]["error"] and np.isnan(rows[3]["entropy_j_per_k"])
    columns = rows_to_columns(rows)
    assert columns["on_front"] == [1, 1, 1, 0]
    with write_csv(tmp_path / "p.csv", columns).open(newline="") as handle:  # specs hold commas: quoted fields
        table = list(csv.DictReader(handle))
    assert [r["spec"] for r in table] == [r["spec"] for r in rows]
    np.testing.assert_allclose([float(r["charge_time_s"]) for r in table[:3]], [2820.0, 1560.0, 1140.0], rtol=1e-12)


def test_sweep_bound_rows(fake_evaluation: None, monkeypatch: pytest.MonkeyPatch) -> None:
    guesses: list[Any] = []

    def optimal_charge(
        scenario: str, time_budget_s: float, n_intervals: int, overrides: Any, initial_guess_a: Any
    ) -> Any:
        guesses.append(initial_guess_a)
        soc = 0.8 if time_budget_s > 2000 else 0.7  # the short budget misses FastCharge's target of 0.8
        replay = {"charge_time_s": time_budget_s, "entropy_j_per_k": 3e4 / time_budget_s, "irreversible_lli_pct": 0.01,
                  "final_soc": soc}  # fmt: skip
        return types.SimpleNamespace(replay=replay, status="optimal", converged=True, iterations=3, solve_time_s=1.0,
                                     start="cccv", currents_a=np.full(4, 5.0))  # fmt: skip

    monkeypatch.setattr(sweep_module, "optimal_charge", optimal_charge)
    monkeypatch.setattr(sweep_module, "SOC_TOLERANCE", 1e-3)
    rows = sweep("eomctl/FastCharge-v0", {"cccv": ["cccv:rate=1C"]}, budgets_s=[1800, 2400], n_intervals=4,
                 executor="serial", progress=False)  # fmt: skip
    assert [r["spec"] for r in rows] == ["cccv:rate=1C", "optimal:budget_s=1800,n_intervals=4",
                                         "optimal:budget_s=2400,n_intervals=4"]  # fmt: skip
    assert [r["reached_target"] for r in rows] == [1.0, 0.0, 1.0]
    assert [r["on_front"] for r in rows] == [True, False, True]
    assert rows[2]["status"] == "optimal" and rows[2]["entropy_j_per_k"] == pytest.approx(12.5)
    # Longest budget first, cold; the shorter one warm-started from it with the same charge in less time.
    assert guesses[0] is None
    np.testing.assert_allclose(guesses[1], np.full(4, 5.0 * 2400 / 1800))


def test_default_grid_covers_the_families() -> None:
    full, quick = default_grid(), default_grid(quick=True)
    assert set(full) == {"cccv", "multistage", "boost", "pulse", "ccco"} == set(quick)
    assert sum(map(len, quick.values())) < sum(map(len, full.values()))
    assert any("rate=0.5C" in s for s in full["cccv"]) and any("rate=3C" in s for s in full["cccv"])


def test_default_specs_parse() -> None:
    from eomctl.policies.specs import parse_policy

    for specs in default_grid().values():
        for spec in specs:
            parse_policy(spec)  # raises ConfigError on a key the parser does not know


# --------------------------------------------------------------------------------------------- figure and CLI
@pytest.mark.parametrize("rows", [ROWS, ROWS[:2] + ROWS[3:]], ids=["surface", "two-point-front"])
def test_plot_pareto_writes_a_png(rows: list[dict[str, Any]], tmp_path: Path) -> None:
    agent = {"label": "PPO", "charge_time_s": 1500.0, "entropy_j_per_k": 13.0, "irreversible_lli_pct": 0.016}
    path = plot_pareto(annotate_front(rows), tmp_path / "figs" / "pareto.png", highlight=["pulse:rate=2C", agent])
    assert path.read_bytes().startswith(PNG_MAGIC) and path.stat().st_size > 10_000
    assert [p.name for p in path.parent.iterdir()] == ["pareto.png"]  # no temporary file left behind


def test_plot_rings_a_bound_that_did_not_converge(tmp_path: Path) -> None:
    """A non-converged bound point is drawn with its own legend entry (it is a feasible profile, not a bound)."""
    from matplotlib.figure import Figure

    from eomctl.plotting import pareto as pareto_plot

    labels: list[str] = []
    original = Figure.add_subplot

    def add_subplot(self: Figure, *args: Any, **kwargs: Any) -> Any:
        ax = original(self, *args, **kwargs)
        scatter = ax.scatter

        def recording(*a: Any, **k: Any) -> Any:
            labels.append(str(k.get("label")))
            return scatter(*a, **k)

        ax.scatter = recording
        return ax

    rows = [
        *ROWS,
        {
            "family": "optimal",
            "spec": "optimal:budget_s=2000",
            "charge_time_s": 2000.0,
            "entropy_j_per_k": 9.0,
            "irreversible_lli_pct": 0.001,
            "reached_target": 1.0,
            "converged": "0",
        },
    ]
    import unittest.mock

    with unittest.mock.patch.object(Figure, "add_subplot", add_subplot):
        pareto_plot.plot_pareto(annotate_front(rows), tmp_path / "p.png")
    assert "bound not converged" in labels
    rows[-1]["converged"] = "1"
    labels.clear()
    with unittest.mock.patch.object(Figure, "add_subplot", add_subplot):
        pareto_plot.plot_pareto(annotate_front(rows), tmp_path / "p.png")
    assert "bound not converged" not in labels


def test_pareto_parser() -> None:
    parser = argparse.ArgumentParser(prog="eomctl")
    pareto_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["pareto", "--out", "p.csv", "--executor", "serial", "--quick", "--no-compile"])
    assert (args.env, args.out, args.executor, args.quick, args.no_compile) == (
        "eomctl/FastCharge-v0", "p.csv", "serial", True, True
    )  # fmt: skip
    assert callable(args.func)
    with pytest.raises(SystemExit):
        parser.parse_args(["pareto", "--executor", "dask"])


def test_pareto_command_writes_csv_and_figure(fake_evaluation: None, tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="eomctl")
    pareto_cli.add_parser(parser.add_subparsers(dest="command"))
    out, plot = tmp_path / "p.csv", tmp_path / "p.png"
    argv = ["pareto", "--out", str(out), "--plot", str(plot), "--executor", "serial", "--families", "cccv", "--quick"]
    args = parser.parse_args([*argv, "--no-bound", "--no-compile"])
    assert args.func(args) == 0
    with out.open(newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [r["spec"] for r in table] == default_grid(quick=True)["cccv"]
    assert plot.read_bytes().startswith(PNG_MAGIC)


# --------------------------------------------------------------------------------------------- real physics
@pytest.mark.slow
def test_tiny_real_sweep_cccv(tmp_path: Path) -> None:
    specs = [f"cccv:rate={r}C,vmax=4.2,cutoff=C/20" for r in (1, 2, 3)]
    rows = sweep("eomctl/FastCharge-v0", {"cccv": specs}, executor="serial", include_bound=False, progress=False,
                 overrides={"simulator": {"compile": False}})  # fmt: skip
    assert [r["error"] for r in rows] == ["", "", ""]
    times = [r["charge_time_s"] for r in rows]
    entropies = [r["entropy_j_per_k"] for r in rows]
    assert all(r["reached_target"] == 1.0 for r in rows)
    # docs/physics.md §5: a faster charge costs entropy. Above 2C the 45 C limit binds and charge time saturates (~2060
    # s).
    assert times[0] > max(times[1:]) and entropies[0] < min(entropies[1:])
    # the degradation objective is the irreversible loss: positive (SEI at least) and never above end-of-charge LLI
    assert all(0 < r["irreversible_lli_pct"] <= r["lli_pct"] for r in rows)
    assert rows[0]["on_front"] and sum(r["on_front"] for r in rows) >= 2
    assert all(r["in_eez"] for r in rows if r["on_front"])
    # One env serves a chunk of specs: the first spec again, on an env that ran the others, gives the same numbers.
    again = sweep_module.evaluate_specs_task(
        "eomctl/FastCharge-v0", specs[::-1], 1, 0, {"simulator": {"compile": False}}
    )
    assert {k: again[-1][k] for k in OBJECTIVES} == {k: rows[0][k] for k in OBJECTIVES}


def test_stored_front_of_the_default_scenario_is_a_real_sweep() -> None:
    from eomctl.evaluation.eez import stored_front

    rows = stored_front("eomctl/FastCharge-v0")
    assert len(rows) >= 8 and {row["family"] for row in rows} >= {"cccv", "multistage", "optimal"}
    points = np.array([[row[k] for k in OBJECTIVES] for row in rows])
    assert np.all(np.isfinite(points)) and np.all(points > 0)
    assert stored_front("eomctl/NoSuchScenario-v0") == []


def test_malformed_stored_front_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Broken-v0.csv").write_text("family,spec,charge_time_s\ncccv,x,abc\n", encoding="utf-8")
    monkeypatch.setattr(eez, "FRONTS_DIR", tmp_path)
    with pytest.raises(ConfigError, match="malformed"):
        eez.stored_front("eomctl/Broken-v0")
