"""The reproduce framework with tiny stand-in parts (no simulation): resume, failures, atomic writes, key results."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eomctl.cli.main import build_parser
from eomctl.core import io as eomctl_io
from eomctl.core.errors import ConfigError
from eomctl.reproduce.part import KeyNumber, Part, PartResult, PartSkipped
from eomctl.reproduce.parts import KEY_ROWS
from eomctl.reproduce.report import STAMP_HEIGHT_PX
from eomctl.reproduce.runner import completed_record, registered, reproduce, run_part, write_summaries


def _png(path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2), dpi=50)
    ax.plot([0, 1], [0, 1])
    fig.savefig(path)
    plt.close(fig)
    return path


class StandIn:
    """A stand-in part function that counts its calls and writes one figure, one table and one key number."""

    def __init__(self, key: str = "speedup_spme_x", value: float = 12.5) -> None:
        self.calls, self.key, self.value = 0, key, value

    def __call__(self, out_dir: Path, quick: bool, executor: str) -> PartResult:
        self.calls += 1
        figure = _png(out_dir / "standin.png")
        table = {"performance": [{"benchmark": "stand-in", "case": "x", "eomctl_value": 1.0, "reference_value": 2.0}]}
        return PartResult("stand-in paragraph", [figure], table, {self.key: KeyNumber(self.value, "x", "stand-in")})


def _fails(out_dir: Path, quick: bool, executor: str) -> PartResult:
    raise RuntimeError("stand-in failure 42")


def _skips(out_dir: Path, quick: bool, executor: str) -> PartResult:
    raise PartSkipped("no stand-in input file")


def test_a_fresh_run_drops_the_parts_own_checkpoints(tmp_path: Path) -> None:
    """Without resume a part's own checkpoints are deleted before it runs (a sweep checkpoint would otherwise hand an
    earlier version's points to the new run); with resume they are kept for the part to continue from."""
    seen: list[bool] = []

    def part_function(out_dir: Path, quick: bool, executor: str) -> PartResult:
        seen.append((out_dir / "sweep.ckpt.json").is_file())
        (out_dir / "sweep.ckpt.json").write_text("{}", encoding="utf-8")
        return PartResult("stand-in", [_png(out_dir / "standin.png")])

    part = Part("performance", "Stand-in", part_function, checkpoints=("sweep.ckpt.json",))
    (tmp_path / "performance").mkdir()
    (tmp_path / "performance" / "sweep.ckpt.json").write_text("{}", encoding="utf-8")
    reproduce([part], tmp_path, quick=True, resume=True, executor="serial")
    reproduce([part], tmp_path, quick=True, resume=False, executor="serial")
    assert seen == [True, False]


def test_resume_skips_completed_parts(tmp_path: Path) -> None:
    standin = StandIn()
    part = Part("performance", "Stand-in", standin, quick_budget="stand-in")
    first = reproduce([part], tmp_path, quick=True, executor="serial")
    assert standin.calls == 1 and first["parts"]["performance"]["status"] == "ok"
    second = reproduce([part], tmp_path, quick=True, executor="serial")
    assert standin.calls == 1 and second["parts"]["performance"]["resumed"]
    assert second["parts"]["performance"]["wall_s"] == first["parts"]["performance"]["wall_s"]
    reproduce([part], tmp_path, quick=False, executor="serial")  # another mode: another fingerprint
    assert standin.calls == 2
    reproduce([part], tmp_path, quick=False, resume=False, executor="serial")
    assert standin.calls == 3
    reproduce([Part("performance", "Stand-in", standin, version="2")], tmp_path, quick=False, executor="serial")
    assert standin.calls == 4
    (tmp_path / "performance" / "standin.png").unlink()  # a missing output makes the part incomplete
    assert completed_record(part, tmp_path, quick=False) is None
    reproduce([part], tmp_path, quick=False, executor="serial")
    assert standin.calls == 5


def test_changed_input_file_reruns(tmp_path: Path) -> None:
    standin, source = StandIn(), tmp_path / "input.txt"
    source.write_text("a")
    part = Part("performance", "Stand-in", standin, inputs=(str(source),))
    reproduce([part], tmp_path / "out", executor="serial")
    reproduce([part], tmp_path / "out", executor="serial")
    assert standin.calls == 1
    source.write_text("b")
    reproduce([part], tmp_path / "out", executor="serial")
    assert standin.calls == 2


def test_failing_part_is_recorded_and_the_others_run(tmp_path: Path) -> None:
    standin = StandIn()
    parts = [Part("bad", "Fails", _fails), Part("performance", "Stand-in", standin)]
    manifest = reproduce(parts, tmp_path, executor="serial")
    bad = manifest["parts"]["bad"]
    assert bad["status"] == "error" and "stand-in failure 42" in bad["error"] and "RuntimeError" in bad["error"]
    assert manifest["parts"]["performance"]["status"] == "ok" and standin.calls == 1
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk["parts"]["bad"]["status"] == "error"
    assert "stand-in failure 42" in (tmp_path / "report.html").read_text()
    reproduce(parts, tmp_path, executor="serial")  # a failed part is not complete: it runs again
    assert json.loads((tmp_path / "bad" / "part.json").read_text())["status"] == "error"


def test_skipped_part_shows_its_reason_not_a_number(tmp_path: Path) -> None:
    manifest = reproduce([Part("policy", "Stand-in policy", _skips)], tmp_path, executor="serial")
    assert manifest["parts"]["policy"]["status"] == "skipped"
    rows = [r for r in _key_rows(tmp_path) if r["part"] == "policy"]
    assert rows and all(r["measured"] == "not run: no stand-in input file" for r in rows)
    assert "no stand-in input file" in (tmp_path / "report.html").read_text()


def _key_rows(out: Path) -> list[dict[str, str]]:
    import csv

    with open(out / "key_results.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_key_results_show_not_run_and_numbers_from_files(tmp_path: Path) -> None:
    reproduce([Part("performance", "Stand-in", StandIn(value=12.5))], tmp_path, executor="serial")
    rows = _key_rows(tmp_path)
    assert len(rows) == len(KEY_ROWS)
    speed = next(r for r in rows if r["part"] == "performance")
    assert speed["measured"] == "12.5 x" and speed["source_file"] == "performance/key_numbers.json"
    others = [r for r in rows if r["part"] != "performance"]
    assert others and all(r["measured"] == "not run" and r["source_file"] == "" for r in others)
    assert "not run" in (tmp_path / "key_results.md").read_text()
    # The table is rebuilt from the part's file, not from memory: an edited file shows up.
    numbers_path = tmp_path / "performance" / "key_numbers.json"
    numbers = json.loads(numbers_path.read_text())
    numbers["speedup_spme_x"]["value"] = 99.0
    numbers_path.write_text(json.dumps(numbers))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    write_summaries(tmp_path, manifest["parts"], quick=True)
    assert next(r for r in _key_rows(tmp_path) if r["part"] == "performance")["measured"] == "99 x"
    perf = (tmp_path / "performance.md").read_text()
    assert "stand-in" in perf and "| benchmark |" in perf


def test_part_without_its_key_says_not_measured(tmp_path: Path) -> None:
    reproduce([Part("performance", "Stand-in", StandIn(key="other_key"))], tmp_path, executor="serial")
    speed = next(r for r in _key_rows(tmp_path) if r["part"] == "performance")
    assert speed["measured"] == "not measured (no key 'speedup_spme_x')"


def test_a_caveat_stays_beside_its_number(tmp_path: Path) -> None:
    def life(out_dir: Path, quick: bool, executor: str) -> PartResult:
        number = KeyNumber(-1.2, "%", "long how", caveat="NOT at matched charge time")
        return PartResult("stand-in", key_numbers={"lifetime_extension_pct_nmc": number})

    reproduce([Part("lifetime", "Stand-in", life)], tmp_path, executor="serial")
    row = next(r for r in _key_rows(tmp_path) if r["part"] == "lifetime" and r["chemistry"] == "NMC")
    assert row["measured"] == "-1.2 % (NOT at matched charge time)"
    assert "NOT at matched charge time" in (tmp_path / "key_results_short.md").read_text()


def test_numpy_key_numbers_are_written_as_json(tmp_path: Path) -> None:
    def counts(out_dir: Path, quick: bool, executor: str) -> PartResult:
        return PartResult("stand-in", key_numbers={"n": KeyNumber(np.int64(3), "", "a NumPy integer")})

    assert run_part(Part("counts", "Stand-in", counts), tmp_path, quick=True)["status"] == "ok"
    assert json.loads((tmp_path / "counts" / "key_numbers.json").read_text())["n"]["value"] == 3.0


def test_part_record_is_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    part = Part("performance", "Stand-in", StandIn())
    run_part(part, tmp_path, quick=True)
    record_path = tmp_path / "performance" / "part.json"
    before = record_path.read_bytes()

    def interrupted(src: str, dst: str) -> None:
        raise OSError("stand-in: interrupted before the rename")

    monkeypatch.setattr(eomctl_io.os, "replace", interrupted)
    with pytest.raises(OSError, match="interrupted"):
        run_part(part, tmp_path, quick=True)
    assert record_path.read_bytes() == before  # the old record is intact and still parses
    assert json.loads(before)["status"] == "ok"
    assert not [p.name for p in (tmp_path / "performance").iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("quick", [True, False])
def test_quick_runs_stamp_their_budget_on_every_figure(tmp_path: Path, quick: bool) -> None:
    from PIL import Image

    height = Image.open(_png(tmp_path / "reference.png")).height
    run_part(Part("performance", "Stand-in", StandIn(), quick_budget="stand-in budget"), tmp_path, quick)
    with Image.open(tmp_path / "performance" / "standin.png") as image:
        assert image.height == height + (STAMP_HEIGHT_PX if quick else 0)
        strip = np.asarray(image.convert("L"))[height:]
    if quick:
        assert strip.min() < 128  # text was drawn on the strip


def test_unknown_part_and_executor_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown part"):
        reproduce(["no-such-part"], tmp_path)
    with pytest.raises(ConfigError, match="unknown executor"):
        reproduce([Part("p", "P", StandIn())], tmp_path, executor="threads")


def test_registry_holds_every_part(tmp_path: Path) -> None:
    parts = registered()
    names = {"performance", "protocols", "pareto", "policy", "lifetime", "analytics", "bridge", "prognostics"}
    assert names | {"training", "validation", "cold_life", "plating", "lfp_aging"} <= set(parts)
    assert {row.part for row in KEY_ROWS} <= set(parts)
    assert parts["training"].exclusive  # a timing never runs beside another part


def test_policy_part_without_a_policy_file_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import eomctl.reproduce.charging as charging

    monkeypatch.setattr(charging, "SHIPPED_POLICIES", {"FastCharge": "agents/no_such_policy.zip"})
    record = run_part(registered()["policy"], tmp_path, quick=True)
    assert record["status"] == "skipped" and "no policy file: agents/no_such_policy.zip" in record["reason"]


def test_cli_parses_reproduce_options() -> None:
    parser = build_parser()
    args = parser.parse_args(["reproduce", "--part", "protocols", "--part", "performance", "--quick", "--out", "r"])
    assert args.part == ["protocols", "performance"] and args.quick and args.out == "r" and not args.all
    args = parser.parse_args(["reproduce", "--all", "--no-resume", "--executor", "serial"])
    assert args.all and args.no_resume and args.executor == "serial"
    with pytest.raises(SystemExit):
        parser.parse_args(["reproduce", "--all", "--part", "protocols"])
    with pytest.raises(SystemExit):
        parser.parse_args(["reproduce"])


@pytest.mark.slow
def test_registered_parts_run_in_a_process_pool(tmp_path: Path) -> None:
    manifest = reproduce(["analytics", "bridge"], tmp_path, quick=True, executor="local")
    assert [r["status"] for r in manifest["parts"].values()] == ["ok", "ok"]
    assert json.loads((tmp_path / "bridge" / "part.json").read_text())["status"] == "ok"
    assert (tmp_path / "bridge" / "bridge.png").is_file() and (tmp_path / "analytics" / "analytics.csv").is_file()


def test_lfp_aging_reads_throughput_across_extrapolated_jumps(tmp_path: Path) -> None:
    """The LFP part sets loss against discharged throughput: cycle rows integrated by trapezoids, across the fast
    mode's jumps, read at each reference test (a hand-made lifetime CSV: 2 A.h per cycle, a jump from cycle 3 to 10)."""
    from eomctl.lifetime.engine import CSV_COLUMNS
    from eomctl.reproduce.lfp_aging import _throughput

    nan = float("nan")
    rows = [(0, 1.0, nan, 1), (1, nan, 2.0, 0), (2, nan, 2.0, 0), (3, nan, 2.0, 0), (10, nan, 2.0, 0)]
    rows.append((10, 0.9, nan, 1))
    columns = {name: [nan] * len(rows) for name in CSV_COLUMNS}
    for k, (cycle, soh, ah, rpt) in enumerate(rows):
        columns["cycle"][k], columns["soh"][k], columns["discharge_ah"][k], columns["rpt"][k] = cycle, soh, ah, rpt
    path = eomctl_io.write_csv(tmp_path / "life.csv", columns)
    loss_pct, throughput_ah = _throughput(path)
    np.testing.assert_allclose(loss_pct, [0.0, 10.0], atol=1e-12)
    np.testing.assert_allclose(throughput_ah, [0.0, 20.0])


def test_scorecard_rows_state_each_difference_in_per_cent_of_its_baseline() -> None:
    """The scorecard's table (one row per baseline) from tuned_comparison-shaped rows, no simulation."""
    from eomctl.evaluation.tuned import HELD_OUT_SEED
    from eomctl.reproduce.scorecard import ROOM_SOLVE_CAP_S, room_rows, room_tasks, rooms_by_objective, summary_rows

    def row(family: str, metric: str, a: float, b: float) -> dict[str, Any]:
        d = a - b
        return {
            "family": family,
            "spec": f"{family}:rate=1C",
            "n": 30,
            "tuning_note": "matched",
            "metric": metric,
            "policy_mean": a,
            "baseline_mean": b,
            "difference": d,
            "low": d - 0.1 * abs(b),
            "high": d + 0.1 * abs(b),
        }

    metrics = {
        "charge_time_s": (2000.0, 2010.0),
        "entropy_j_per_k": (10.0, 10.2),
        "irreversible_lli_pct": (0.02, 0.04),
        "plating_ah": (0.001, 0.002),
        "peak_temperature_k": (300.0, 301.0),
    }
    rows = [row(f, m, a, b) for f in ("cccv", "derated", "ccco_oracle") for m, (a, b) in metrics.items()]
    rows[-3] = row("ccco_oracle", "irreversible_lli_pct", 0.02, 0.001)  # the oracle loses least: never "best BMS"
    rows[7] = row("derated", "irreversible_lli_pct", 0.02, 0.03)  # the best BMS charger for lithium
    card = {"scenario": "ColdFastCharge", "policy": "agents/p.zip", "policy_sha256": "f00", "rows": rows}
    draws = [{"scenario": "ColdFastCharge", "objective": "irreversible", "baseline_family": "cccv", "seed": i, **d}
             for i, d in enumerate([
                 {"status": "optimal", "baseline": 0.04, "policy": 0.02, "bound": 0.0},
                 {"status": "optimal", "baseline": 0.03, "policy": 0.01, "bound": 0.02},  # a solve above the policy
                 {"status": "baseline not matched", "baseline": 0.03, "policy": 0.01, "bound": float("nan")},
                 {"status": "optimal", "baseline": 0.05, "policy": 0.03, "bound": 0.01},
             ])]  # fmt: skip
    rooms = rooms_by_objective(draws)
    table = summary_rows(card)
    assert [r["baseline"] for r in table] == ["cccv:rate=1C", "derated:rate=1C", "ccco_oracle:rate=1C"]
    first = table[0]
    assert first["irreversible_diff_pct"] == pytest.approx(-50.0)
    assert first["entropy_diff_pct"] == pytest.approx(100 * -0.2 / 10.2)
    assert first["irreversible_low_pct"] == pytest.approx(-60.0) and first["irreversible_high_pct"] == pytest.approx(
        -40.0
    )
    assert first["peak_temperature_diff_k"] == pytest.approx(-1.0)  # kelvin, not a share of 301 K
    (room,) = room_rows(rooms)  # draws 0 and 3 have a bound: the draw above the policy is left out, and counted
    assert room["captured_per_draw_pct"] == "50/50" and room["bound_above_a_charger"] == 1
    assert room["captured_pct"] == pytest.approx(50.0) and room["draws"] == 4 and room["n"] == 2
    assert room["baseline"] == pytest.approx(0.045) and room["bound"] == pytest.approx(0.005)
    tasks = room_tasks([card], 3)
    assert [(t["objective"], t["seed"] - HELD_OUT_SEED) for t in tasks] == [
        ("irreversible", 0), ("irreversible", 1), ("irreversible", 2), ("entropy", 0), ("entropy", 1), ("entropy", 2)
    ]  # fmt: skip
    assert tasks[0]["family"] == "derated" and tasks[3]["family"] == "cccv" and tasks[0]["policy_sha256"] == "f00"
    assert {t["max_wall_time_s"] for t in tasks} == {ROOM_SOLVE_CAP_S} and ROOM_SOLVE_CAP_S > 300.0  # see its comment


def test_mpc_rows_set_each_draw_beside_its_rooms_baseline_and_bound() -> None:
    """The MPC references join the room of their objective on the same draw (no simulation): the share captured uses
    that draw's matched baseline and bound, and a draw without an optimal bound gets no share."""
    from eomctl.evaluation.tuned import HELD_OUT_SEED
    from eomctl.reproduce.scorecard import mpc_rows, reference_tasks

    card = {"scenario": "ColdFastCharge", "policy": "agents/p.zip", "policy_sha256": "f00", "rows": []}
    cards = [card, {**card, "scenario": "FastCharge"}, {**card, "scenario": "Deadline"}]
    per_draw, mpc = reference_tasks(cards, draws=30, room_draws=2)
    assert [(t["scenario"], t["family"], t["target"], t["draws"]) for t in per_draw] == [
        ("ColdFastCharge", "cccv", "policy", 30), ("Deadline", "cccv", "deadline", 30)
    ]  # fmt: skip
    assert [(t["state"], t["seed"]) for t in mpc] == [
        ("oracle", HELD_OUT_SEED), ("oracle", HELD_OUT_SEED + 1), ("ekf", HELD_OUT_SEED), ("ekf", HELD_OUT_SEED + 1)
    ]  # fmt: skip
    room = {"scenario": "ColdFastCharge", "objective": "irreversible", "baseline_family": "derated", "per_draw": [
        {"seed": HELD_OUT_SEED, "status": "optimal", "baseline": 0.04, "policy": 0.02, "bound": 0.0},
        {"seed": HELD_OUT_SEED + 1, "status": "optimal", "baseline": 0.03, "policy": 0.02, "bound": 0.05},  # no bound
    ]}  # fmt: skip
    done = [{"scenario": "ColdFastCharge", "seed": HELD_OUT_SEED + i, "state": "oracle", "objective": "irreversible",
             "status": "finished", "policy_time_s": 2000.0, "mpc_time_s": 2010.0, "policy_irreversible_lli_pct": 0.02,
             "mpc_irreversible_lli_pct": 0.01, "policy_entropy_j_per_k": 10.0, "mpc_entropy_j_per_k": 9.9}
            for i in range(2)]  # fmt: skip
    first, second = mpc_rows(done, [room])
    assert first["policy_captured_pct"] == pytest.approx(50.0) and first["mpc_captured_pct"] == pytest.approx(75.0)
    assert first["baseline_family"] == "derated" and first["metric"] == "irreversible_lli_pct"
    assert math.isnan(second["mpc_captured_pct"]) and second["bound"] == 0.05
