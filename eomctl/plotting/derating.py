"""A policy's charging current against cell temperature and SOC, beside the derating table a charger would run.

The left panel is what the policy did: every control step of some recorded episodes (``measure_episode(...,
record=True)`` rows), its current in C against the cell temperature, coloured by SOC. The right panel is the table
(:mod:`eomctl.policies.derating`) at the nominal rate it was tuned to, one line per SOC band, with the tuned charger's
own steps on the same draws. Both panels share their axes, so a policy that learned to derate in the cold shows the
same staircase, bent where it found one better.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eomctl.core.constants import KELVIN_OFFSET
from eomctl.plotting.figures import save_figure, subplots
from eomctl.policies.derating import derating_table


def _steps(episodes: Sequence[Sequence[Mapping[str, Any]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Temperature [C], C-rate and SOC of every step that charged (the reset row and rests left out)."""
    rows = [r for episode in episodes for r in episode[1:] if r["c_rate"] > 1e-3]
    return (np.array([r["temperature_k"] - KELVIN_OFFSET for r in rows]), np.array([r["c_rate"] for r in rows]),
            np.array([r["soc"] for r in rows]))  # fmt: skip


def plot_current_map(
    policy_episodes: Sequence[Sequence[Mapping[str, Any]]],
    table_episodes: Sequence[Sequence[Mapping[str, Any]]],
    table: str,
    rate_c: float,
    path: str | Path,
    policy_label: str = "policy",
) -> Path:
    """Write the two-panel figure (left: the policy's steps; right: the table at ``rate_c`` and its charger's steps).

    Parameters
    ----------
    policy_episodes, table_episodes : sequence of recorded episodes
        Rows with ``temperature_k``, ``c_rate`` and ``soc`` (:data:`eomctl.evaluation.evaluate.RECORD_KEYS`).
    table : str
        Name of the derating table (:data:`eomctl.policies.derating.TABLES`).
    rate_c : float
        The table charger's nominal rate [C] (its tuned scale).
    """
    derating = derating_table(table)
    fig, (left, right) = subplots(1, 2, figsize=(11, 4.2), sharex=True, sharey=True)
    temps = [_steps(policy_episodes), _steps(table_episodes)]
    low = min([-12.0, *(float(t.min()) for t, _, _ in temps if t.size)])
    high = max([30.0, *(float(t.max()) for t, _, _ in temps if t.size)])
    for ax, (t_c, c_rate, soc), title in ((left, temps[0], policy_label),
                                          (right, temps[1], f"{table} table at {rate_c:.3g}C")):  # fmt: skip
        scatter = ax.scatter(t_c, c_rate, c=soc, cmap="viridis", vmin=0.0, vmax=1.0, s=6, alpha=0.6)
        ax.set_title(title)
        ax.set_xlabel("cell temperature [C]")
        ax.grid(alpha=0.3)
    grid_c = np.linspace(low, high, 400)
    edges = (0.0, *derating.soc_edges, 1.0)
    for j in range(len(edges) - 1):
        mid_soc = 0.5 * (edges[j] + edges[j + 1])
        line = [rate_c * derating.fraction(float(t), mid_soc) for t in grid_c]
        label = f"table, SOC {edges[j]:.0%}-{edges[j + 1]:.0%}"
        for ax in (left, right):
            ax.plot(grid_c, line, drawstyle="steps-post", lw=1.5, ls="-" if j == 0 else "--", color="k",
                    label=label if ax is right else None)  # fmt: skip
    right.legend(loc="upper left", fontsize=8)
    left.set_ylabel("charging current [C]")
    fig.colorbar(scatter, ax=[left, right], label="SOC")
    return save_figure(fig, path)
