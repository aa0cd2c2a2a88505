"""The performance figure: CPU time per control step of eomctl and PyBaMM paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eomctl.plotting.figures import save_figure, subplots


def plot_performance(rows: list[dict[str, Any]], path: Path) -> Path:
    fig, ax = subplots(figsize=(8, 0.45 * len(rows) + 1.5))
    labels = [f"{r['case']}: {r['path']}" for r in rows]
    bars = ax.barh(labels, [r["cpu_ms_per_step"] for r in rows], color="tab:blue")
    ax.set(xlabel="CPU time per 30 s step [ms] (median over repeats)")
    ax.margins(x=0.15)
    for bar, row in zip(bars, rows, strict=True):
        ax.annotate(f"{row['cpu_ms_per_step']:.3g} ms", (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                    xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)  # fmt: skip
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)
