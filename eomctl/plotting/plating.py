"""Figures of the plating part: the rate law against the anode potential, plated and lost lithium against C-rate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eomctl.plotting.figures import save_figure, subplots


def plot_rate_law(rows: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Net plating current density (negative: plating) against the anode potential vs Li/Li+ at each temperature,
    without and with plated lithium, consistent kinetics (solid) against PyBaMM's (dashed)."""
    fig, axes = subplots(1, 2, figsize=(11, 4.2), sharey=True)
    temperatures = sorted({float(r["temperature_c"]) for r in rows})
    for ax, present in zip(axes, (False, True), strict=True):
        for k, t_c in enumerate(temperatures):
            sel = [r for r in rows if float(r["temperature_c"]) == t_c and bool(r["plated_present"]) == present]
            eta = np.array([float(r["eta_v"]) for r in sel])
            ax.plot(1e3 * eta, [float(r["j_consistent_a_m2"]) for r in sel], color=f"C{k}", label=f"{t_c:g} C")
            ax.plot(1e3 * eta, [float(r["j_pybamm_a_m2"]) for r in sel], color=f"C{k}", ls="--", lw=1.0)
        ax.axhline(0.0, color="0.5", lw=0.6)
        ax.axvline(0.0, color="0.5", lw=0.6)
        ax.set_yscale("symlog", linthresh=1e-4)
        title = "plated lithium present (1000 mol/m3)" if present else "no plated lithium"
        ax.set(xlabel="anode potential vs Li/Li+ [mV]", title=title)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("net stripping current density [A/m2] (< 0: plating)")
    axes[0].plot([], [], color="0.3", label="consistent (eomctl)")
    axes[0].plot([], [], color="0.3", ls="--", lw=1.0, label="PyBaMM / O'Kane 2022")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_charges(rows: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Plated lithium at charge end and irreversible lithium loss against C-rate, a line per ambient temperature,
    consistent kinetics (solid) against PyBaMM's (dashed)."""
    fig, axes = subplots(1, 2, figsize=(11, 4.2))
    ambients = sorted({float(r["ambient_c"]) for r in rows})
    for k, ambient_c in enumerate(ambients):
        for kinetics, style in (("consistent", "-"), ("pybamm", "--")):
            sel = sorted(
                (r for r in rows if float(r["ambient_c"]) == ambient_c and r["kinetics"] == kinetics),
                key=lambda r: float(r["rate_c"]),
            )
            if not sel:
                continue
            rate = [float(r["rate_c"]) for r in sel]
            label = f"{ambient_c:g} C" if kinetics == "consistent" else None
            axes[0].plot(rate, [1e3 * float(r["plating_ah"]) for r in sel], style, color=f"C{k}", marker="o", ms=3,
                         label=label)  # fmt: skip
            axes[1].plot(rate, [float(r["irreversible_lli_pct"]) for r in sel], style, color=f"C{k}", marker="o",
                         ms=3)  # fmt: skip
    axes[0].set(xlabel="CC-CV rate [C]", ylabel="plated + dead lithium at charge end [mA.h]")
    axes[1].set(xlabel="CC-CV rate [C]", ylabel="irreversible lithium loss [%] (after a 30 min rest)")
    axes[0].plot([], [], color="0.3", label="consistent (eomctl)")
    axes[0].plot([], [], color="0.3", ls="--", label="PyBaMM / O'Kane 2022")
    axes[0].legend(fontsize=8)
    for ax in axes:
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)
