"""Result parts of prognostics (SOH / RUL from early cycles, simulated fleet and real data).

Registered by :mod:`eomctl.reproduce_parts`. The real data are the pinned package-index archives of
:mod:`eomctl.datafetch`: when the cache lacks them the part fetches them first (``eomctl data fetch``), so a fresh clone
reproduces with no manual step; nothing else downloads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eomctl.reproduce import KeyNumber, PartResult

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
    same function as on simulations (eomctl.hppc), is in the second table.
"""


def _flat(text: str) -> str:
    return " ".join(text.split())


def _ensure_data() -> None:
    """Fetch the pinned data archives into the cache once (the only download, from the package index)."""
    from eomctl.datafetch import SOURCES, default_cache_dir, fetch

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
            numbers[f"soh_rmse_pct_{split_key}_{name_key}"] = KeyNumber(score["soh_rmse_pct"], "%", how)
            numbers[f"rul_error_cycles_{split_key}_{name_key}"] = KeyNumber(score["rul_mae_cycles"], "cycles", how)
            numbers[f"life_error_pct_{split_key}_{name_key}"] = KeyNumber(score["life_mape_pct"], "%", how)
    for name, name_key in REAL_SETS.items():
        score = report.get("real", {}).get("scores", {}).get(name)
        if score is not None:
            how = f"{name}, real 44-cell set (ml-eis 0.2.9), leave one cell out"
            numbers[f"soh_rmse_pct_real_{name_key}"] = KeyNumber(score["soh_rmse_pct"], "%", how)
            numbers[f"rul_error_cycles_real_{name_key}"] = KeyNumber(score["rul_mae_cycles"], "cycles", how)
    return numbers


def prognostics_part(out_dir: Path, quick: bool) -> PartResult:
    """SOH / RUL / cycle-life prediction on the simulated fleet and the real 44-cell set (:mod:`eomctl.prognostics`)."""
    from eomctl.io import write_json
    from eomctl.prognostics import plot_prognostics, prognose

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
    paragraph = _flat(PROGNOSTICS_TEXT)
    if quick:
        paragraph += " Quick run: 6 simulated cells, too few for the fleet scores to mean anything; only the real-data "
        paragraph += "scores are informative."
    return PartResult(paragraph, [json_path, png_path], {"prognostics": rows, "ornl_hppc": hppc}, _numbers(report))
