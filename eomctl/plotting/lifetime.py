"""Lifetime curves: SOH, resistance and entropy per charge against cycle number, end of life marked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from eomctl.core.io import read_csv
from eomctl.lifetime.engine import eol_cycle
from eomctl.plotting.figures import save_figure, subplots


def plot_lifetime(csv_paths: Sequence[str | Path], path: str | Path, eol_soh: float = 0.8) -> Path:
    """SOH, pulse resistance and entropy per charge versus cycle for lifetime CSVs, end of life marked.

    Parameters
    ----------
    csv_paths : sequence of str or Path
        CSV files written by ``eomctl lifetime`` (:data:`eomctl.lifetime.engine.CSV_COLUMNS`).
    path : str or Path
        Image file to write (format from the suffix), written atomically.
    eol_soh : float
        End-of-life SOH drawn as a horizontal line; each run's EOL cycle (linear between RPTs) as a vertical one.

    Returns
    -------
    Path
        The file written.
    """
    fig, axes = subplots(3, 1, figsize=(8, 9), sharex=True)
    for k, csv in enumerate(csv_paths):
        data = read_csv(csv)
        color = f"C{k}"
        rpt = data["rpt"] > 0.5
        cyc = ~rpt
        extra = data["extrapolated"] > 0.5
        label = Path(csv).stem
        axes[0].plot(data["cycle"][rpt], data["soh"][rpt], "o-", color=color, ms=3, label=label)
        axes[1].plot(data["cycle"][rpt], 1e3 * data["resistance_ohm"][rpt], "o-", color=color, ms=3)
        axes[2].plot(data["cycle"][cyc], data["entropy_charge_j_per_k"][cyc], ".-", color=color, ms=3, lw=0.6)
        hollow = cyc & extra
        axes[2].plot(data["cycle"][hollow], data["entropy_charge_j_per_k"][hollow], "o", mfc="none", color=color, ms=4)
        rows = [dict(zip(data, values, strict=True)) for values in zip(*data.values(), strict=True)]
        eol = eol_cycle(rows, eol_soh)
        if eol is not None:
            for ax in axes:
                ax.axvline(eol, color=color, ls="--", lw=0.8)
            axes[0].annotate(
                f"EOL {eol:.0f}", (eol, eol_soh), color=color, fontsize=8, xytext=(3, 3), textcoords="offset points"
            )
    axes[0].axhline(eol_soh, color="0.4", ls=":", lw=1.0, label=f"EOL (SOH {eol_soh:g})")
    axes[0].set(ylabel="SOH (C/3 capacity / first RPT)")
    axes[1].set(ylabel="10 s pulse resistance [mOhm]")
    axes[2].set(ylabel="entropy per charge [J/K]", xlabel="cycle")
    axes[2].plot([], [], "o", mfc="none", color="0.3", label="from an extrapolated state (--fast)")
    axes[0].legend(fontsize=8)
    axes[2].legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_loss_vs_throughput(
    curves: Sequence[tuple[str, Sequence[float], Sequence[float], Sequence[float], Sequence[float]]],
    path: str | Path,
    eol_loss_pct: float = 20.0,
) -> Path:
    """Capacity loss against discharged charge throughput: simulated (solid) beside a published model (dashed).

    Parameters
    ----------
    curves : sequence of (label, ah, loss_pct, reference_ah, reference_loss_pct)
        One condition each: the simulated curve and the reference curve on their own throughput grids.
    path : str or Path
        Image file to write (format from the suffix), written atomically.
    eol_loss_pct : float
        End of life drawn as a horizontal line [%].

    Returns
    -------
    Path
        The file written.
    """
    fig, axes = subplots(1, 1, figsize=(8, 5))
    ax = axes
    for k, (label, ah, loss, ref_ah, ref_loss) in enumerate(curves):
        ax.plot(ah, loss, "o-", color=f"C{k}", ms=2, lw=1.2, label=f"{label}: eomctl")
        ax.plot(ref_ah, ref_loss, "--", color=f"C{k}", lw=1.2, label=f"{label}: Wang et al. 2011")
    ax.axhline(eol_loss_pct, color="0.4", ls=":", lw=1.0, label=f"end of life ({eol_loss_pct:g} % lost)")
    ax.set(xlabel="discharged charge throughput [A.h]", ylabel="capacity loss [%]", ylim=(0, 1.3 * eol_loss_pct))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)
