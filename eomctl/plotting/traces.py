"""Stacked time traces of charging episodes (current, voltage, temperature, SOC, entropy rate)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eomctl.evaluation.rollout import STEP_MEANS
from eomctl.plotting.figures import save_figure, subplots

TRACE_PANELS = (("c_rate", "current [C]"), ("voltage_v", "voltage [V]"), ("temperature_k", "temperature [K]"),
                ("entropy_j_per_k", "entropy [J/K]"))  # fmt: skip
PLOTTED = (
    ("current_a", "current [A]"),
    ("voltage_v", "voltage [V]"),
    ("temperature_k", "temperature [K]"),
    ("soc", "SOC [-]"),
    ("entropy_rate_w_per_k", "entropy rate [W/K]"),
)


def plot_traces(traces: Mapping[str, Sequence[Mapping[str, Any]]], path: str | Path, title: str) -> Path:
    """Stacked panels of :data:`PLOTTED` against time [min], one line per trace; written atomically."""
    fig, axes = subplots(len(PLOTTED), 1, figsize=(7, 10), sharex=True)
    for label, rows in traces.items():
        t_min = [r["time_s"] / 60.0 for r in rows]
        for ax, (key, _) in zip(axes, PLOTTED, strict=True):
            values = [r[key] for r in rows]
            if key in STEP_MEANS:  # constant over each step: drawn as steps ending at the row's time
                ax.step(t_min, values, where="pre", label=label)
            else:
                ax.plot(t_min, values, label=label)
    for ax, (_, ylabel) in zip(axes, PLOTTED, strict=True):
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    axes[0].set_title(title, fontsize=9)
    axes[-1].set_xlabel("time [min]")
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


def plot_trace_grid(traces: dict[str, dict[str, list[dict[str, Any]]]], path: Path, title: str) -> Path:
    fig, axes = subplots(len(traces), len(TRACE_PANELS), figsize=(16, 3.6 * len(traces)), squeeze=False)
    for axrow, (group, by_policy) in zip(axes, traces.items(), strict=True):
        for label, trace in by_policy.items():
            time_min = [r["time_s"] / 60 for r in trace]
            for ax, (key, name) in zip(axrow, TRACE_PANELS, strict=True):
                ax.plot(time_min, [r[key] for r in trace], lw=1.2, label=label.split(",cutoff")[0])
                ax.set(xlabel="time [min]", ylabel=name, title=f"{group}: {name}")
                ax.grid(alpha=0.3)
        axrow[0].legend(fontsize=6)
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)
