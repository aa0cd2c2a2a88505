"""Result parts of prognostics (SOH / RUL from early cycles, simulated fleet and real data).

Registered by :mod:`eomctl.reproduce.parts`. The real data are the pinned package-index archives of
:mod:`eomctl.analytics.datafetch`: when the cache lacks them the part fetches them first (``eomctl data fetch``), so a
fresh clone reproduces with no manual step; nothing else downloads.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from eomctl.analytics.datafetch import SOURCES, default_cache_dir, fetch
from eomctl.analytics.prognostics import prognose
from eomctl.core.io import write_json
from eomctl.core.resources import REPO_ROOT
from eomctl.lifetime.compare import first_charge_time, matched_rate, summary
from eomctl.lifetime.engine import LifetimeConfig, build_simulator, run_lifetime_resumable
from eomctl.plotting.analytics import plot_prognostics
from eomctl.plotting.lifetime import plot_lifetime
from eomctl.policies.baselines import CCCV, Rate
from eomctl.policies.specs import policy_spec
from eomctl.reproduce.part import KeyNumber, PartResult, flat_text

FLEET_SPLITS = {"leave-one-cell-out": "fleet", "train NMC, test LFP": "nmc_to_lfp", "train LFP, test NMC": "lfp_to_nmc"}
FEATURE_SETS = {"entropy": "entropy", "severson": "severson", "life exponent only": "life_exponent"}
REAL_SETS = {"entropy (impedance R_S)": "entropy", "severson": "severson"}
PROGNOSTICS_TEXT = """
    State of health at a horizon cycle, remaining useful life and cycle life predicted from early cycles by
    closed-form ridge regression (penalty by exact leave-one-out), with entropy features (the life exponent
    d ln Sigma_cycle / dn, growth of R_S and of the 10 s pulse resistance, entropy per Ah) against the Severson et al.
    2019 baseline (log10 variance of the discharge-capacity difference curve between two early cycles). Simulated
    fleet: LG M50 (NMC) and A123 (LFP) cells through the lifetime engine (SPM, fast mode, accelerated SEI growth with
    a lognormal cell-to-cell spread, 10/25/40 C, CC-CV 1C/2C), scored leaving one cell out and across chemistries.
    Real data: the 44-cell capacity-retention set of the ml-eis 0.2.9 package (retention at cycle 299 from the early
    cycles; impedance stands in for R_S there, since the set has no voltage-current record). Errors: SOH RMSE [%],
    RUL mean absolute error [cycles], cycle-life mean absolute percentage error. "train mean" uses no feature. The
    10 s HPPC pulse resistance of the ORNL 2013 Nissan Leaf cell (celljar 0.2.1) at 10/25/40 C, extracted with the
    same function as on simulations (eomctl.cell.hppc), is in the second table.
"""


def _ensure_data() -> None:
    """Fetch the pinned data archives into the cache once (the only download, from the package index)."""
    if not all((default_cache_dir() / name).is_dir() for name in SOURCES):
        fetch()


def _score_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for where, scores in (("fleet: " + k, v) for k, v in report.get("fleet", {}).get("scores", {}).items()):
        rows += [{"data": where, "features": name, **score} for name, score in scores.items()]
    for name, score in report.get("real", {}).get("scores", {}).items():
        rows.append({"data": "real 44-cell set", "features": name, **score})
    return rows


def _numbers(report: dict[str, Any]) -> dict[str, KeyNumber]:
    numbers: dict[str, KeyNumber] = {}
    fleet = report.get("fleet", {})
    size = f"{fleet.get('n_used', 0)} simulated cells ({fleet.get('n_nmc', 0)} NMC, {fleet.get('n_lfp', 0)} LFP)"
    for split, split_key in FLEET_SPLITS.items():
        for name, name_key in FEATURE_SETS.items():
            score = fleet.get("scores", {}).get(split, {}).get(name)
            if score is None:
                continue
            how = f"{name} features, {split}, {size}"
            # A score is absent when too few cells of a split reach its horizon (a small fleet): not measured.
            for key, field, unit in (
                ("soh_rmse_pct", "soh_rmse_pct", "%"),
                ("rul_error_cycles", "rul_mae_cycles", "cycles"),
                ("life_error_pct", "life_mape_pct", "%"),
            ):
                value = score.get(field)
                numbers[f"{key}_{split_key}_{name_key}"] = KeyNumber(
                    value, unit, how if value is not None else f"not measured: too few cells ({how})"
                )
    for name, name_key in REAL_SETS.items():
        score = report.get("real", {}).get("scores", {}).get(name)
        if score is not None:
            how = f"{name}, real 44-cell set (ml-eis 0.2.9), leave one cell out"
            numbers[f"soh_rmse_pct_real_{name_key}"] = KeyNumber(score["soh_rmse_pct"], "%", how)
            numbers[f"rul_error_cycles_real_{name_key}"] = KeyNumber(score["rul_mae_cycles"], "cycles", how)
    return numbers


def prognostics_part(out_dir: Path, quick: bool, executor: str) -> PartResult:
    """SOH / RUL / cycle-life prediction on the simulated fleet and the real 44-cell set (see
    :mod:`eomctl.analytics.prognostics`)."""
    _ensure_data()
    report = prognose(
        fleet="quick" if quick else "full",
        real=True,
        checkpoint=str(out_dir / "fleet_checkpoint.json"),  # a full run resumes cell by cell
        executor="local",
        workers=2,
    )
    report.get("fleet", {}).pop("records", None)  # the per-cycle records stay in the checkpoint, not the summary
    json_path, png_path = out_dir / "prognostics.json", out_dir / "prognostics.png"
    write_json(json_path, report)
    plot_prognostics(report, str(png_path))
    rows = _score_rows(report)
    hppc = [
        {"temperature": t, "direction": d, "soc": s, "resistance_mohm": r}
        for t, by_direction in report.get("ornl_hppc", {}).items()
        for d, curve in by_direction.items()
        for s, r in zip(curve["soc"], curve["resistance_mohm"], strict=True)
    ]
    paragraph = flat_text(PROGNOSTICS_TEXT)
    if quick:
        paragraph += " Quick run: 6 simulated cells, too few for the fleet scores to mean anything; only the real-data "
        paragraph += "scores are informative."
    return PartResult(paragraph, [json_path, png_path], {"prognostics": rows, "ornl_hppc": hppc}, _numbers(report))


# ------------------------------------------------------------------------------------------------ lifetime
LIFE_POLICY = "agents/ppo_FastCharge-v0.zip"
# Every degradation rate constant multiplied alike (LifetimeConfig.aging_acceleration), so SEI and plating keep their
# unaccelerated balance (accelerating the SEI alone hides the plating a charging policy can avoid; see the cold_life
# part). x300 (full): end of life near 1000-1300 cycles, and the 2C charge time barely moves (2469 s at cycle 5 vs
# 2440 s unaccelerated). x1000 (quick) is cheaper but slows fast charges: plating then carries a visible share of a 3C
# current, so the quick run stops at a cycle cap and reports no extension.
LIFE_ACCELERATION = {True: 1000.0, False: 300.0}  # quick, full
LIFETIME_TEXT = """
    Cycle life of the LG M50 (SPMe, lumped thermal, SEI growth and lithium plating) under the shipped PPO policy and
    under the CC-CV whose first charge takes as long as the policy's (rate matched by Brent's method on the lifetime's
    own charge from empty to 80 % SOC): each cycle a charge to 80 % SOC under the policy (FastCharge limits), a 10 min
    rest, a 1C discharge to the lower cut-off and a 10 min rest; a C/3 capacity check and a 10 s pulse every K cycles;
    end of life at 80 % of the first capacity. Aging is accelerated (every degradation rate constant, SEI and plating
    alike, by the factor in the budget; no loss of active material) so that end of life comes within about a thousand
    cycles, and the runs use
    the adaptive inter-cycle extrapolation (--fast; the validation part checks it against cycle-by-cycle runs). The
    extension is 100 (EOL_policy / EOL_CC-CV - 1) at equal charge time; the curves show SOH, pulse resistance and
    entropy per charge.
"""


def lifetime_part(out_dir: Path, quick: bool, executor: str) -> PartResult:
    """Cycle life under the shipped policy and under CC-CV at the same charge time (:mod:`eomctl.lifetime.engine`)."""
    base = LifetimeConfig(
        cell="LGM50",
        model="SPMe",
        fast=True,
        rpt_every=50,
        max_cycles=200 if quick else 2000,
        loss_of_active_material=False,
        aging_acceleration=LIFE_ACCELERATION[quick],
    )
    sim = build_simulator(base)

    def run(policy: str, stem: str) -> Any:
        return run_lifetime_resumable(dataclasses.replace(base, policy=policy), out_dir / f"{stem}.ckpt.json", sim)

    runs: dict[str, Any] = {"PPO (shipped)": run(str(REPO_ROOT / LIFE_POLICY), "ppo")}
    rate_c, _ = matched_rate(base, first_charge_time(runs["PPO (shipped)"]), simulator=sim, template=CCCV())
    matched = policy_spec(CCCV(rate=Rate(round(rate_c, 4))))
    runs[f"CC-CV {rate_c:.3f}C (matched time)"] = run(matched, "cccv")
    if not quick:
        runs["CC-CV 1C"] = run("cccv:rate=1C", "cccv_1C")
    files, table = [], []
    stems = ["life_ppo", "life_cccv_matched_time", "life_cccv_1C"]  # the figure's legend shows the file names
    for stem, (label, result) in zip(stems, runs.items(), strict=False):
        path = result.write_csv(out_dir / f"{stem}.csv")
        files.append(path)
        table.append({"label": label, "csv": path.name, **dataclasses.asdict(summary(result))})
    table[0]["spec"] = LIFE_POLICY
    figure = plot_lifetime(files, out_dir / "lifetime.png", eol_soh=base.eol_soh)
    mine, theirs = table[0], table[1]
    extension = (
        100.0 * (mine["eol_cycle"] / theirs["eol_cycle"] - 1.0) if mine["eol_cycle"] and theirs["eol_cycle"] else None
    )
    gap_pct = 100.0 * (theirs["charge_time_s"] / mine["charge_time_s"] - 1.0)
    factor = LIFE_ACCELERATION[quick]
    how = (
        f"PPO charge {mine['charge_time_s']:.0f} s, EOL cycle {mine['eol_cycle']:.1f}; CC-CV {rate_c:.3f}C charge "
        f"{theirs['charge_time_s']:.0f} s, EOL cycle {theirs['eol_cycle']:.1f} (aging x{factor:g}, fast)"
        if extension is not None
        else "end of life not reached by both runs within the cycle cap"
    )
    caveat = ""
    if abs(gap_pct) > 2.0:  # say so when no CC-CV rate could match the policy's charge time
        how += f"; NOT matched: the CC-CV charge is {gap_pct:+.1f} % longer (its rate is at the scenario's maximum)"
        caveat = "NOT at matched charge time"
    numbers = {
        "lifetime_extension_pct_nmc": KeyNumber(extension, "%", how, caveat),
        "lifetime_extension_pct_lfp": KeyNumber(
            None, "%", "not run: this part cycles the NMC policy only (the LFP policy is scored by the policy part)"
        ),
    }
    return PartResult(flat_text(LIFETIME_TEXT), [*files, figure], {"lifetime": table}, numbers)
