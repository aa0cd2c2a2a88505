"""Figures of the entropy analytics: the EOM phase portrait, the entropy-impedance bridge, prognostics."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from eomctl.analytics.bridge import CELLS, CLAIMED_R, X_QUANTITIES, Y_QUANTITIES
from eomctl.analytics.prognostics import checkup_series
from eomctl.plotting.figures import save_figure, subplots


def plot_phase_portrait(metrics: Mapping[str, np.ndarray], path: str | Path, title: str = "") -> Path:
    """The EOM phase portrait (lambda~, kappa~, Sigma) of one record, with where it starts and where it settles."""
    lam, kap, sig, t = (metrics[k] for k in ("lambda_tilde", "kappa_tilde", "sigma_j_per_k", "time_s"))
    fig = Figure(figsize=(11, 4.5))
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    ax.plot(lam, kap, sig, color="0.6", lw=0.8)
    points = ax.scatter(lam, kap, sig, c=t - t[0], cmap="viridis", s=6)
    ax.scatter([lam[0]], [kap[0]], [sig[0]], color="tab:green", s=40, label="start")
    ax.scatter(
        [lam[-1]], [kap[-1]], [sig[-1]], color="tab:red", marker="*", s=120, label=f"end: Sigma {sig[-1]:.3g} J/K"
    )
    ax.set(xlabel="lambda~ [-]", ylabel="kappa~ [-]", zlabel="Sigma [J/K]", title=title or "EOM phase portrait")
    ax.legend(loc="upper left", fontsize=8)
    fig.colorbar(points, ax=ax, shrink=0.6, label="time [s]")
    right = fig.add_subplot(1, 2, 2)
    right.plot(t, lam, label="lambda~")
    right.plot(t, kap, label="kappa~")
    twin = right.twinx()
    twin.plot(t, sig, color="k", ls="--", label="Sigma [J/K]")
    right.set(xlabel="time [s]", ylabel="lambda~, kappa~ [-]", title="(lambda~, kappa~) -> (0, 0) at rest; Sigma stays")
    twin.set_ylabel("Sigma [J/K]")
    right.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_prognostics(report: Mapping[str, Any], path: str) -> str:
    """Fleet SOH curves, predicted vs true life (fleet) and retention (real), ORNL resistance vs SOC."""
    fig, axes = subplots(2, 2, figsize=(11, 8.5))
    ax = axes[0, 0]
    for rec in report.get("fleet", {}).get("records", []):
        cyc, soh, _ = checkup_series(rec)
        ax.plot(cyc, 100 * soh, color="C0" if rec["chemistry"] == "NMC" else "C3", lw=0.8, alpha=0.7)
    fleet = report.get("fleet", {})
    size = f"'{fleet['plan']['name']}': {fleet['n_nmc']} NMC + {fleet['n_lfp']} LFP cells" if fleet else "not run"
    ax.set(xlabel="cycle", ylabel="SOH (1C capacity) [%]", title=f"simulated fleet {size} (blue NMC, red LFP)")
    _scatter(axes[0, 1], report.get("fleet", {}).get("predictions"), "life", 1.0)
    axes[0, 1].set(xlabel="cycle life to SOH 80 % (simulated)", ylabel="predicted (leave one cell out)",
                   title="fleet: cycle life")  # fmt: skip
    _scatter(axes[1, 0], report.get("real", {}).get("predictions"), "soh", 1.0)
    axes[1, 0].set(xlabel="measured retention at cycle 299 [%]", ylabel="predicted (leave one out) [%]",
                   title="ml-eis 44 cells: retention at cycle 299")  # fmt: skip
    ax = axes[1, 1]
    for k, (temp, data) in enumerate(report.get("ornl_hppc", {}).items()):
        for d, style in (("discharge", "-o"), ("charge", "--s")):
            ax.plot(data[d]["soc"], data[d]["resistance_mohm"], style, color=f"C{k}", ms=3, label=f"{temp} {d}")
    ax.set(xlabel="SOC", ylabel="10 s pulse resistance [mOhm]", title="ORNL 2013 Nissan Leaf cell, HPPC")
    if "ornl_hppc" in report:
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
    return path


def plot_bridge(study: Mapping[str, Any], path: str | Path) -> Path:
    """Scatter grid: pulse resistance and power loss (rows) against each entropy quantity (columns), r per group."""
    rows = [r for r in study["rows"] if not r.get("failed")]
    table = {(c["group"], c["x"], c["y"]): c for c in study["correlations"]}
    fig, axes = subplots(len(X_QUANTITIES), len(Y_QUANTITIES), figsize=(16, 7.5), squeeze=False)
    for i, x in enumerate(X_QUANTITIES):
        for j, y in enumerate(Y_QUANTITIES):
            ax = axes[i, j]
            for cell, marker in zip(CELLS, ("o", "s"), strict=True):
                pts = [(r[y], r[x]) for r in rows if r["cell"] == cell]
                if pts:
                    ax.scatter(*zip(*pts, strict=True), marker=marker, s=18, label=cell)
            text = ", ".join(f"{g}: r={table[(g, x, y)]['r']:.2f}" for g in (*CELLS, "all"))
            ax.set_title(text, fontsize=7.5)
            ax.set(xlabel=y, ylabel=x)
            ax.ticklabel_format(axis="both", style="sci", scilimits=(-3, 3))
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"Entropy-impedance bridge, {len(rows)} states (claim: r = {CLAIMED_R})")
    fig.tight_layout()
    return save_figure(fig, path)


def _scatter(ax: Any, predictions: Mapping[str, Any] | None, kind: str, scale: float) -> None:
    """Predicted vs true for every feature set in ``predictions`` (keys ``"<kind> <set>"``), with the 1:1 line."""
    if not predictions:
        return
    true = scale * np.asarray(predictions[f"{kind}_true"])
    markers = iter("osd^v")
    for key, pred in predictions.items():
        if key.startswith(f"{kind} "):
            ax.plot(true, scale * np.asarray(pred), next(markers), ms=4, mfc="none", label=key[len(kind) + 1 :])
    if true.size:
        ax.plot([true.min(), true.max()], [true.min(), true.max()], "k-", lw=0.5)
    ax.legend(fontsize=7)
