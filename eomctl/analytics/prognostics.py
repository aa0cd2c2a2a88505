"""State-of-health and cycle-life prognostics from early cycles: entropy features vs the Severson et al. 2019 baseline.

Two evaluations, each reporting the same three figures for every feature set side by side:

- **SOH RMSE [%]**: SOH (capacity relative to the first reference test) at a later cycle predicted from the early
  cycles (the fleet's ``plan.horizon``; cycle 299, the last of the real set);
- **cycle-life error [%]**: mean absolute percentage error of the predicted cycle of end of life (log10 of life is
  regressed, as Severson et al. did); cells that never reach end of life are censored and left out (counted);
- **RUL error [cycles]**: mean absolute error of the remaining useful life predicted at the end of the early window
  (cycle ``b``): ``RUL = life - b``, so in cycles it equals the life error.

(a) ``evaluate_fleet``: the simulated fleet of :mod:`eomctl.lifetime.fleet`, leave-one-cell-out over all cells, and
train-on-NMC / test-on-LFP (and the reverse). Entropy features (:mod:`eomctl.analytics.features`): life exponent of the
entropy per cycle over cycles a..b, growth of the reference charge's R_S from a to b, growth of the 10 s pulse
resistance from cycle 0 to b, and the reference charge's entropy per A.h at b. Baseline: log10 var(Q_b(V) - Q_a(V)).

(b) ``evaluate_real``: the ml-eis 44-cell set (:func:`eomctl.analytics.datasets.load_ml_eis`), leave-one-out. Baseline:
log10 var(Q_10(V) - Q_1(V)) as ml-eis computed it. This set has no voltage-current record, so no entropy per cycle can
be computed; the entropy-side features are its impedance: ``Sigma_dot = I^2 R_S / T`` with R_S the cell's resistance at
the operating frequency, so log Re Z at the highest frequency (ohmic), at the charge-transfer arc's apex, and the
apex frequency stand in for R_S. End of life there is 95 % retention (no cell falls below 91 % in 300 cycles).
Every model is :func:`eomctl.analytics.features.fit_ridge` (closed-form ridge, penalty by nested leave-one-out); "train
mean" (no features) is reported as the floor any feature set must beat.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from eomctl.analytics.datasets import ORNL_HPPC_TEMPERATURES_C, load_ml_eis, ornl_hppc_resistance
from eomctl.analytics.features import cross_predict, fit_ridge, life_exponent, mae, mape, rmse, severson_log_var
from eomctl.core.errors import EomctlError
from eomctl.lifetime.fleet import PLANS, run_fleet

REAL_EOL_PCT = 95.0
REAL_EARLY_CYCLE = 10


# --------------------------------------------------------------------------------------------------- targets
def checkup_series(record: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cycle, SOH and pulse resistance [Ohm] of a fleet record's capacity checks."""
    checks = record["checks"]
    return (np.array([c["cycle"] for c in checks]), np.array([c["soh"] for c in checks]),
            np.array([c["pulse_ohm"] for c in checks]))  # fmt: skip


def crossing_cycle(cycles: np.ndarray, values: np.ndarray, level: float) -> float:
    """First cycle where ``values`` falls to ``level`` (linear between points); NaN if it never does."""
    below = np.flatnonzero(values <= level)
    if below.size == 0:
        return math.nan
    k = int(below[0])
    if k == 0:
        return float(cycles[0])
    c0, c1, s0, s1 = cycles[k - 1], cycles[k], values[k - 1], values[k]
    return float(c0 + (s0 - level) / (s0 - s1) * (c1 - c0))


def fleet_sample(record: Mapping[str, Any], plan: Mapping[str, Any]) -> dict[str, float] | None:
    """Features and targets of one fleet cell; None if a diagnostic is missing (the run failed too early)."""
    diag = record.get("diag", {})
    if any(k not in diag or "error" in diag[k] for k in ("a", "b")):
        return None
    a, b = diag["a"], diag["b"]
    cyc, soh, pulse = checkup_series(record)
    window = [
        (r["cycle"], r["entropy_charge_j_per_k"]) for r in record["rows"] if a["cycle"] <= r["cycle"] <= b["cycle"]
    ]
    horizon = float(plan["horizon"])
    return {
        "life_exponent": life_exponent([c for c, _ in window], [s for _, s in window]),
        "log_rs_growth": math.log(b["rs_ohm"] / a["rs_ohm"]),
        "log_pulse_growth": math.log(b["pulse_ohm"] / pulse[0]),
        "log_entropy_per_ah": math.log(b["entropy_per_ah"]),
        "log_var_dq": severson_log_var(a["q_ah"], a["v_v"], b["q_ah"], b["v_v"]),
        "life": crossing_cycle(cyc, soh, float(plan["eol_soh"])),
        "soh_horizon": float(np.interp(horizon, cyc, soh)) if cyc[-1] >= horizon else math.nan,
        "early_cycle": float(b["cycle"]),
    }


FLEET_SETS = {
    "entropy": ("life_exponent", "log_rs_growth", "log_pulse_growth", "log_entropy_per_ah"),
    # Ablation added after the first full run, in which the whole entropy set transferred badly across chemistries:
    "life exponent only": ("life_exponent",),
    "severson": ("log_var_dq",),
    "train mean": (),
}
REAL_SETS = {
    "entropy (impedance R_S)": ("log_z_hf", "log_z_apex", "log_f_apex"),
    "severson": ("log_var_dq",),
    "combined": ("log_var_dq", "log_z_hf", "log_z_apex", "log_f_apex"),
    "train mean": (),
}


# --------------------------------------------------------------------------------------------------- scoring
def _predict(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Test predictions: leave-one-out when train and test are the same cells, else fit on train only."""
    if np.array_equal(train, test):
        return cross_predict(x[train], y[train])
    return fit_ridge(x[train], y[train]).predict(x[test])


def score(
    table: Mapping[str, np.ndarray],
    names: Sequence[str],
    train: np.ndarray,
    test: np.ndarray,
    soh_scale: float = 100.0,
) -> dict[str, Any]:
    """SOH RMSE [%], RUL MAE [cycles] and cycle-life MAPE [%] of one feature set on one split.

    ``table`` holds the feature columns, ``soh_horizon`` (fraction, or % with ``soh_scale=1``), ``life`` (NaN when
    censored) and ``early_cycle``; ``train`` / ``test`` are boolean masks (equal masks: leave-one-out on them).
    """
    x = np.column_stack([table[n] for n in names]) if names else np.zeros((len(table["life"]), 0))
    out: dict[str, Any] = {}
    soh_ok = np.isfinite(table["soh_horizon"])
    tr, te = train & soh_ok, test & soh_ok
    if tr.sum() >= 3 and te.any():
        pred = _predict(x, table["soh_horizon"], tr, te)
        out["soh_rmse_pct"] = soh_scale * rmse(pred, table["soh_horizon"][te])
        out["n_soh"] = int(te.sum())
    life_ok = np.isfinite(table["life"])
    tr, te = train & life_ok, test & life_ok
    if tr.sum() >= 3 and te.any():
        pred = 10.0 ** _predict(x, np.log10(table["life"]), tr, te)
        true = table["life"][te]
        out["life_mape_pct"] = mape(pred, true)
        rul_true, rul_pred = true - table["early_cycle"][te], pred - table["early_cycle"][te]
        out["rul_mae_cycles"] = mae(rul_pred, rul_true)
        out["n_life"] = int(te.sum())
        out["n_censored"] = int((test & ~life_ok).sum())
    return out


def loo_predictions(table: Mapping[str, np.ndarray], sets: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Leave-one-out predictions of SOH at the horizon and of life (uncensored cells) per feature set, for figures."""
    soh_ok, life_ok = np.isfinite(table["soh_horizon"]), np.isfinite(table["life"])
    out: dict[str, Any] = {
        "soh_true": table["soh_horizon"][soh_ok].tolist(),
        "life_true": table["life"][life_ok].tolist(),
    }
    for name, cols in sets.items():
        if not cols:
            continue
        x = np.column_stack([table[c] for c in cols])
        out[f"soh {name}"] = cross_predict(x[soh_ok], table["soh_horizon"][soh_ok]).tolist()
        out[f"life {name}"] = (10.0 ** cross_predict(x[life_ok], np.log10(table["life"][life_ok]))).tolist()
    return out


def _columns(samples: Sequence[Mapping[str, float]]) -> dict[str, np.ndarray]:
    return {k: np.array([s[k] for s in samples], dtype=float) for k in samples[0]}


# --------------------------------------------------------------------------------------------------- evaluations
def evaluate_fleet(records: Sequence[Mapping[str, Any]], plan: Mapping[str, Any]) -> dict[str, Any]:
    """Leave-one-cell-out and cross-chemistry scores of every :data:`FLEET_SETS` entry on fleet records."""
    kept = [(r, s) for r in records if (s := fleet_sample(r, plan)) is not None]
    if len(kept) < 4:
        raise EomctlError(f"only {len(kept)} fleet cells have both early diagnostics; need at least 4")
    table = _columns([s for _, s in kept])
    chem = np.array([r["chemistry"] for r, _ in kept])
    everyone = np.ones(len(kept), dtype=bool)
    splits = {"leave-one-cell-out": (everyone, everyone), "train NMC, test LFP": (chem == "NMC", chem == "LFP"),
              "train LFP, test NMC": (chem == "LFP", chem == "NMC")}  # fmt: skip
    results = {
        split: {name: score(table, cols, tr, te) for name, cols in FLEET_SETS.items()}
        for split, (tr, te) in splits.items()
    }
    return {
        "plan": dict(plan),
        "n_cells": len(records),
        "n_used": len(kept),
        "n_nmc": int((chem == "NMC").sum()),
        "n_lfp": int((chem == "LFP").sum()),
        "failed": [{"cell_id": r["cell_id"], "error": r["error"]} for r in records if r.get("error")],
        "cells": [{"cell_id": r["cell_id"], **s} for r, s in kept],
        "scores": results,
        "predictions": loo_predictions(table, FLEET_SETS),
    }


def real_table(cache_dir: str | None = None) -> dict[str, np.ndarray]:
    """Features and targets of the ml-eis 44 cells (retention in %, life = cycle of 95 % retention)."""
    data = load_ml_eis(cache_dir)
    life = np.array([crossing_cycle(data.cycle, ret, REAL_EOL_PCT) for ret in data.retention_pct])
    return {
        "log_var_dq": np.log10(data.dq_var_ah2[:, 8]),  # var(Q_10 - Q_1)
        "log_z_hf": np.log(data.z_hf_real_ohm),
        "log_z_apex": np.log(data.z_apex_real_ohm),
        "log_f_apex": np.log(data.f_apex_hz),
        "soh_horizon": data.retention_pct[:, -1],
        "life": life,
        "early_cycle": np.full(data.n_cells, float(REAL_EARLY_CYCLE)),
    }


def evaluate_real(cache_dir: str | None = None) -> dict[str, Any]:
    """Leave-one-out scores of every :data:`REAL_SETS` entry on the ml-eis 44-cell set."""
    table = real_table(cache_dir)
    everyone = np.ones(table["life"].size, dtype=bool)
    corr = {k: float(np.corrcoef(table[k], table["soh_horizon"])[0, 1]) for k in REAL_SETS["combined"]}
    return {
        "n_cells": int(everyone.sum()),
        "eol_retention_pct": REAL_EOL_PCT,
        "horizon_cycle": 299,
        "retention_299_pct": {"min": float(table["soh_horizon"].min()), "max": float(table["soh_horizon"].max())},
        "pearson_r_with_retention_299": corr,
        "scores": {name: score(table, cols, everyone, everyone, soh_scale=1.0) for name, cols in REAL_SETS.items()},
        "predictions": loo_predictions(table, REAL_SETS),
    }


def ornl_hppc_summary(cache_dir: str | None = None) -> dict[str, Any]:
    """10 s discharge / charge pulse resistance vs SOC of the ORNL Leaf cell at 10, 25, 40 C [mOhm]."""
    out: dict[str, Any] = {}
    for t in ORNL_HPPC_TEMPERATURES_C:
        r = ornl_hppc_resistance(t, cache_dir)
        out[f"{t}C"] = {
            d: {"soc": r["soc"][r["direction"] == s].round(4).tolist(),
                "resistance_mohm": (1e3 * r["resistance_ohm"][r["direction"] == s]).round(4).tolist()}
            for d, s in (("discharge", -1.0), ("charge", 1.0))
        }  # fmt: skip
    return out


# --------------------------------------------------------------------------------------------------- command line
def prognose(
    fleet: str | None = None,
    real: bool = False,
    cache_dir: str | None = None,
    checkpoint: str | None = None,
    executor: str = "local",
    workers: int | None = None,
) -> dict[str, Any]:
    """Run the requested evaluations and return one JSON-able report (see the module docstring)."""
    import dataclasses
    import time

    report: dict[str, Any] = {}
    if fleet is not None:
        if fleet not in PLANS:
            raise EomctlError(f"unknown fleet '{fleet}'; choose from {sorted(PLANS)}")
        started = time.perf_counter()
        records = run_fleet(PLANS[fleet], checkpoint=checkpoint, executor=executor, max_workers=workers)
        report["fleet"] = evaluate_fleet(records, dataclasses.asdict(PLANS[fleet]))
        report["fleet"]["wall_s"] = time.perf_counter() - started
        report["fleet"]["records"] = records
    if real:
        report["real"] = evaluate_real(cache_dir)
        report["ornl_hppc"] = ornl_hppc_summary(cache_dir)
    if not report:
        raise EomctlError("nothing to do: give --fleet quick|full and/or --real")
    return report


def format_scores(report: Mapping[str, Any]) -> str:
    """The score tables as text (one line per part, split and feature set)."""
    parts = []
    if "fleet" in report:
        parts += [("fleet", split, sets) for split, sets in report["fleet"]["scores"].items()]
    if "real" in report:
        parts.append(("real", "leave-one-out", report["real"]["scores"]))
    lines = []
    for part, split, sets in parts:
        for name, s in sets.items():
            figures = ", ".join(f"{k} {v:.4g}" for k, v in s.items())
            lines.append(f"{part:5s} {split:20s} {name:24s} {figures}")
    return "\n".join(lines)
