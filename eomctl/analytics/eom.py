"""EOM trajectory metrics, the life exponent and the energy-entropy balance of any eomctl record.

Definitions (docs/physics.md §4; stated here once, used everywhere in eomctl):

- Entropy production (Bernardi et al., J. Electrochem. Soc. 132 (1985) 5): ``Sigma_dot = I_ch (V - U_bulk) / T``
  [W/K], ``Sigma = integral of Sigma_dot dt`` [J/K] since the start ``t_0`` of the charge (or episode).
- ``lambda_k = Sigma_dot_k / Sigma_k`` [1/s], masked to 0 while ``Sigma = 0``. Under any steady dissipation
  ``lambda ~ 1 / (t - t_0)``: it is a clock, not a health indicator.
- Scale-free form ``lambda~_k = (t_k - t_0) Sigma_dot_k / Sigma_k``: dissipation over its running mean; ~1 during
  constant current, -> 0 in a CV taper and at rest.
- ``kappa_k = (lambda_k - lambda_{k-1}) / (t_k - t_{k-1})`` [1/s^2]; scale-free
  ``kappa~_k = (lambda~_k - lambda~_{k-1}) / ln((t_k - t_0) / (t_{k-1} - t_0))`` (0 at the first row after ``t_0``).
- "Attractor": at rest ``(lambda, kappa) -> (0, 0)`` while ``Sigma`` keeps the value the charge produced (second
  law: Sigma cannot return to 0).
- Life exponent, a Lyapunov-type exponent of degradation: ``lambda_life = d ln(Sigma_cycle) / dn``, the growth rate
  of entropy produced per cycle ``n`` (0 for a cell that does not age, > 0 as resistance grows; its derivative
  ``d lambda_life / dn`` flags a knee).
- Energy-entropy balance of a charge: ``E_in = integral I_ch V dt = DeltaG + integral T dSigma`` with
  ``DeltaG = integral I_ch U_bulk dt`` the free energy stored. The reversible heat
  ``Q_rev = integral I_ch T dU/dT dt`` is reported beside it but is *not* a term of this free-energy balance (adding
  it would double-count it, docs/physics.md §3).

``Sigma_dot_k`` is the record's ``entropy_rate_w_per_k`` column where there is one (instantaneous at the output
time in ``eomctl simulate`` CSVs, the step mean in ``eomctl rollout`` CSVs), else the step mean
``(Sigma_k - Sigma_{k-1}) / (t_k - t_{k-1})``. ``t_0`` is the first row's time when its ``Sigma`` is 0 (``simulate``
CSVs start with the initial state), else 0 s (``rollout`` rows are step ends after a reset at 0 s).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from eomctl.cell.simulator import CellSimulator
from eomctl.core.errors import DataFileError, EomctlError
from eomctl.core.io import read_csv, write_csv, write_json

METRIC_COLUMNS = (
    "time_s",
    "sigma_j_per_k",
    "sigma_dot_w_per_k",
    "lambda_per_s",
    "lambda_tilde",
    "kappa_per_s2",
    "kappa_tilde",
)
LIFE_COLUMNS = ("cycle", "sigma_cycle_j_per_k", "lambda_life", "dlambda_life_dn")
SIGMA_ZERO_J_PER_K = 1e-12  # Sigma below this counts as "no dissipation yet": lambda is masked to 0 there


class AnalysisError(EomctlError):
    """A record that lacks the columns an analysis needs, or whose values cannot be analysed."""


def _need(columns: Mapping[str, np.ndarray], names: tuple[str, ...], what: str) -> None:
    missing = [n for n in names if n not in columns]
    if missing:
        raise AnalysisError(f"{what} needs the column(s) {missing}; the record has {sorted(columns)}")


def eom_metrics(
    time_s: np.ndarray,
    entropy_j_per_k: np.ndarray,
    entropy_rate_w_per_k: np.ndarray | None = None,
    t0_s: float | None = None,
) -> dict[str, np.ndarray]:
    """Sigma, Sigma_dot, lambda, lambda~, kappa and kappa~ of one charge or episode (definitions: module docstring).

    Parameters
    ----------
    time_s : array_like
        Row times [s], strictly increasing.
    entropy_j_per_k : array_like
        Cumulative entropy production Sigma since ``t0_s`` [J/K].
    entropy_rate_w_per_k : array_like, optional
        Sigma_dot per row [W/K]; default the step mean of Sigma.
    t0_s : float, optional
        Start of the dissipation; default as in the module docstring.

    Returns
    -------
    dict of str to ndarray
        :data:`METRIC_COLUMNS`, one value per row.
    """
    t, sigma = np.asarray(time_s, dtype=float), np.asarray(entropy_j_per_k, dtype=float)
    if len(t) != len(sigma) or len(t) < 1 or not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise AnalysisError("time_s must be finite and strictly increasing, with one Sigma value per row")
    if t0_s is None:
        t0_s = float(t[0]) if abs(sigma[0]) <= SIGMA_ZERO_J_PER_K else 0.0
    if entropy_rate_w_per_k is None:
        first = sigma[0] / (t[0] - t0_s) if t[0] > t0_s else 0.0  # the first row's step runs from t_0
        rate = np.concatenate([[first], np.diff(sigma) / np.diff(t)])
    else:
        rate = np.asarray(entropy_rate_w_per_k, dtype=float)
    tau = t - t0_s
    live = (sigma > SIGMA_ZERO_J_PER_K) & (tau > 0)
    lam = np.where(live, rate / np.where(live, sigma, 1.0), 0.0)
    lam_tilde = tau * lam
    kappa, kappa_tilde = np.zeros_like(t), np.zeros_like(t)
    kappa[1:] = np.diff(lam) / np.diff(t)
    both = (tau[1:] > 0) & (tau[:-1] > 0)
    log_step = np.log(np.where(both, tau[1:], 1.0) / np.where(both, tau[:-1], 1.0))
    kappa_tilde[1:] = np.where(both, np.diff(lam_tilde) / np.where(both, log_step, 1.0), 0.0)
    return {
        "time_s": t,
        "sigma_j_per_k": sigma,
        "sigma_dot_w_per_k": rate,
        "lambda_per_s": lam,
        "lambda_tilde": lam_tilde,
        "kappa_per_s2": kappa,
        "kappa_tilde": kappa_tilde,
    }


def _segments(columns: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Row indices of each charge: one per ``episode`` value (rollout CSVs), else the whole record."""
    n = len(columns["time_s"])
    if "episode" not in columns:
        return [np.arange(n)]
    episode = columns["episode"]
    starts = np.flatnonzero(np.concatenate([[True], episode[1:] != episode[:-1]]))
    return np.split(np.arange(n), starts[1:])


def trajectory_metrics(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """:func:`eom_metrics` of every charge of a record (``eomctl rollout`` or ``simulate`` CSV columns).

    Returns the metric columns for all rows, with ``episode`` first when the record has it.
    """
    _need(columns, ("time_s", "entropy_j_per_k"), "the EOM metrics")
    parts = []
    for rows in _segments(columns):
        rate = columns["entropy_rate_w_per_k"][rows] if "entropy_rate_w_per_k" in columns else None
        parts.append(eom_metrics(columns["time_s"][rows], columns["entropy_j_per_k"][rows], rate))
    out = {k: np.concatenate([p[k] for p in parts]) for k in METRIC_COLUMNS}
    return {"episode": np.asarray(columns["episode"]), **out} if "episode" in columns else out


def life_exponent(cycle: np.ndarray, entropy_per_cycle_j_per_k: np.ndarray) -> dict[str, np.ndarray]:
    """``lambda_life = d ln(Sigma_cycle) / dn`` and its derivative per cycle (second-order central differences).

    Parameters
    ----------
    cycle : array_like
        Cycle numbers n, strictly increasing (need not be consecutive).
    entropy_per_cycle_j_per_k : array_like
        Entropy produced by each cycle's charge [J/K], positive.

    Returns
    -------
    dict of str to ndarray
        :data:`LIFE_COLUMNS`.
    """
    n, sigma = np.asarray(cycle, dtype=float), np.asarray(entropy_per_cycle_j_per_k, dtype=float)
    if len(n) < 3 or np.any(np.diff(n) <= 0):
        raise AnalysisError("the life exponent needs at least 3 cycles with increasing cycle numbers")
    if not np.all(sigma > 0):
        raise AnalysisError("entropy per cycle must be positive to take its logarithm")
    lam_life = np.gradient(np.log(sigma), n)
    return {
        "cycle": n,
        "sigma_cycle_j_per_k": sigma,
        "lambda_life": lam_life,
        "dlambda_life_dn": np.gradient(lam_life, n),
    }


def lifetime_metrics(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The life exponent of an ``eomctl lifetime`` CSV (cycling rows only: reference-test rows are left out)."""
    _need(columns, ("cycle", "entropy_charge_j_per_k"), "the life exponent")
    keep = columns["rpt"] == 0 if "rpt" in columns else np.ones(len(columns["cycle"]), dtype=bool)
    return life_exponent(columns["cycle"][keep], columns["entropy_charge_j_per_k"][keep])


def _zoh_integral(t: np.ndarray, current_a: np.ndarray, value: np.ndarray) -> float:
    """``integral I * value dt``: row k's current held over (t_{k-1}, t_k] (eomctl rows), ``value`` trapezoidal."""
    return float(np.sum(current_a[1:] * 0.5 * (value[1:] + value[:-1]) * np.diff(t)))


def energy_balance(columns: Mapping[str, np.ndarray], reversible_heat_j: float | None = None) -> dict[str, Any]:
    """Energy-entropy balance ``E_in = DeltaG + integral T dSigma`` of one charge (rest included) of a record.

    ``E_in`` and ``DeltaG`` come from the simulator's quadratures when the record carries them (``energy_in_j``,
    ``free_energy_j``), else from the sampled current, voltage and OCV. ``integral T dSigma`` is always taken from the
    sampled Sigma and T (trapezoidal in Sigma): independent of the energy quadratures, so the residual measures how
    well the entropy record and the energy record agree.

    Returns
    -------
    dict
        Energies [J], ``residual_j`` and ``residual_rel`` (of ``E_in``), and where each term came from.
    """
    _need(columns, ("time_s", "entropy_j_per_k", "temperature_k"), "the energy-entropy balance")
    t, sigma, temp = (np.asarray(columns[k], dtype=float) for k in ("time_s", "entropy_j_per_k", "temperature_k"))
    t_dsigma = float(np.sum(0.5 * (temp[1:] + temp[:-1]) * np.diff(sigma)))
    sources = {"t_weighted_entropy_j": "sampled T and Sigma (trapezoid)"}
    if "energy_in_j" in columns:
        energy_in, sources["energy_in_j"] = float(columns["energy_in_j"][-1] - columns["energy_in_j"][0]), "quadrature"
    else:
        _need(columns, ("current_a", "voltage_v"), "E_in without an energy_in_j column")
        energy_in, sources["energy_in_j"] = _zoh_integral(t, columns["current_a"], columns["voltage_v"]), "samples"
    if "free_energy_j" in columns:
        free, sources["free_energy_j"] = float(columns["free_energy_j"][-1] - columns["free_energy_j"][0]), "quadrature"
    else:
        _need(columns, ("current_a", "ocv_v"), "DeltaG without a free_energy_j column")
        free, sources["free_energy_j"] = _zoh_integral(t, columns["current_a"], columns["ocv_v"]), "samples"
    residual = energy_in - free - t_dsigma
    report: dict[str, Any] = {
        "energy_in_j": energy_in,
        "free_energy_j": free,
        "t_weighted_entropy_j": t_dsigma,
        "entropy_j_per_k": float(sigma[-1] - sigma[0]),
        "reversible_heat_j": reversible_heat_j,
        "residual_j": residual,
        "residual_rel": residual / energy_in if energy_in != 0 else float("nan"),
        "sources": sources,
    }
    if "heat_irr_j" in columns:
        report["heat_irr_quadrature_j"] = float(columns["heat_irr_j"][-1] - columns["heat_irr_j"][0])
    return report


def _entropic_coefficient(sim: CellSimulator, electrode: str, sto: np.ndarray) -> np.ndarray:
    import pybamm

    values = sim.parameter_values
    value = values[f"{electrode.capitalize()} electrode OCP entropic change [V.K-1]"]
    if not callable(value):
        return np.full_like(sto, float(value))
    c_max = values[f"Maximum concentration in {electrode} electrode [mol.m-3]"]
    n_args = len(inspect.signature(value).parameters)  # PyBaMM's functions take (sto) or (sto, c_s_max)
    symbol = value(*[pybamm.Vector(sto), pybamm.Scalar(c_max)][:n_args])
    return np.asarray(values.process_symbol(symbol).evaluate(), dtype=float).ravel() * np.ones_like(sto)


def reversible_heat(sim: CellSimulator, columns: Mapping[str, np.ndarray]) -> float:
    """``Q_rev = integral I_ch T dU/dT dt`` [J] of a record from ``sim``'s cell (Bernardi et al. 1985).

    ``dU/dT = dU_p/dT(y) - dU_n/dT(x)`` at the bulk stoichiometries implied by the SOC column (the fresh cell's
    stoichiometry window; a bulk, not a local, estimate). 0 for cells whose entropic coefficients are 0 (Chen2020).
    """
    _need(columns, ("time_s", "current_a", "temperature_k", "soc"), "the reversible heat")
    x0, x100, y100, y0 = sim.stoichiometry_window()
    soc = np.asarray(columns["soc"], dtype=float)
    du_dt = _entropic_coefficient(sim, "positive", y0 + soc * (y100 - y0)) - _entropic_coefficient(
        sim, "negative", x0 + soc * (x100 - x0)
    )
    return _zoh_integral(
        np.asarray(columns["time_s"]), np.asarray(columns["current_a"]), columns["temperature_k"] * du_dt
    )


def analyze_csv(
    path: str | Path, out: str | Path, balance: str | Path | None = None, portrait: bool = False
) -> dict[str, Any]:
    """Metrics of a ``rollout``, ``simulate`` or ``lifetime`` CSV written to ``out`` (+ balance JSON).

    With ``portrait``, the summary's ``"portrait"`` holds the metrics of the record's first charge, for
    :func:`eomctl.plotting.analytics.plot_phase_portrait`.
    """
    if not Path(path).is_file():
        raise DataFileError(f"no such file: '{path}'")
    columns = read_csv(path)  # DataFileError naming the line and column of what is wrong
    if "cycle" in columns:
        if balance or portrait:
            raise AnalysisError(
                "--balance and --plot need a charge record (simulate or rollout CSV), not a lifetime CSV"
            )
        metrics = lifetime_metrics(columns)
        write_csv(out, metrics)
        return {"kind": "lifetime", "rows": len(metrics["cycle"])}
    for name, values in columns.items():  # simulate and rollout write every cell: an empty one is damage
        if np.isnan(values).any():
            line = int(np.flatnonzero(np.isnan(values))[0]) + 2
            raise DataFileError(f"'{path}', line {line}, column '{name}': empty cell in a charge record")
    metrics = trajectory_metrics(columns)
    write_csv(out, metrics)
    summary: dict[str, Any] = {"kind": "trajectory", "rows": len(metrics["time_s"])}
    if balance:
        reports = [energy_balance({k: v[rows] for k, v in columns.items()}) for rows in _segments(columns)]
        write_json(balance, {"charges": reports})
        summary["max_abs_residual_rel"] = max(abs(r["residual_rel"]) for r in reports)
    if portrait:
        first = _segments(columns)[0]
        summary["portrait"] = {k: v[first] for k, v in metrics.items()}
    return summary
