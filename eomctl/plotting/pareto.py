"""The Pareto manifold of charge time, entropy and degradation, with the front and the Entropy Efficiency Zone."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from eomctl.evaluation.eez import FRONT_RTOL, annotate_front, objective_matrix, pareto_mask, row_reached_target
from eomctl.plotting.figures import save_figure


def _is_highlighted(row: Mapping[str, Any], labels: set[str]) -> bool:
    return str(row.get("spec")) in labels or str(row.get("family")) in labels


def _truthy(value: Any) -> bool:
    """A flag as a CSV stores it ("1", "True", 1.0) or as a bool."""
    return str(value).strip().lower() in ("1", "1.0", "true")


def _front_surface(ax: Any, front: np.ndarray) -> None:
    """A triangulated surface through the front points where they span a plane in (time, entropy), else lines."""
    order = np.argsort(front[:, 0])
    xy = front[:, :2] - front[:, :2].mean(axis=0)
    spans = len(front) >= 3 and np.linalg.matrix_rank(xy / np.maximum(np.abs(xy).max(axis=0), 1e-300), tol=1e-9) == 2
    if spans:
        try:
            ax.plot_trisurf(front[:, 0], front[:, 1], front[:, 2], color="tab:blue", alpha=0.25, linewidth=0.2)
            return
        except (ValueError, RuntimeError):  # degenerate triangulation (Qhull): fall back to lines
            pass
    ax.plot(front[order, 0], front[order, 1], front[order, 2], color="tab:blue", lw=1.2, label="front")


def plot_pareto(
    rows: Sequence[Mapping[str, Any]],
    path: str | Path,
    highlight: Iterable[str | Mapping[str, Any]] | None = None,
) -> Path:
    """Draw the sweep in 3-D (charge time, entropy, irreversible lithium loss) with the front and EEZ, plus the three
    2-D projections.

    Parameters
    ----------
    rows : sequence of mappings
        Rows from :func:`sweep` (``on_front`` / ``in_eez`` are computed here if missing).
    path : str or Path
        Image file to write (format from the suffix), written atomically.
    highlight : iterable, optional
        Policies under test: strings select rows by spec or family; mappings with the three objectives (and an
        optional ``"spec"`` / ``"label"``) are extra points, e.g. a trained agent's evaluation.

    Returns
    -------
    Path
        The file written.
    """
    rows = annotate_front(rows) if rows and "on_front" not in rows[0] else list(rows)
    labels = {h for h in (highlight or ()) if isinstance(h, str)}
    extra = [h for h in (highlight or ()) if isinstance(h, Mapping)]
    points = objective_matrix(rows) * np.array([1 / 60, 1.0, 1.0])  # time in minutes for reading
    front_mask = np.array([bool(r.get("on_front")) for r in rows], dtype=bool)
    eez_mask = np.array([bool(r.get("in_eez")) for r in rows], dtype=bool) & ~front_mask
    hi_mask = np.array([_is_highlighted(r, labels) for r in rows], dtype=bool)
    short = ~np.array([row_reached_target(r) for r in rows], dtype=bool)
    # A bound solve that did not converge is a feasible profile, not a bound: ringed in black, whatever its group.
    unconverged = np.array([r.get("family") == "optimal" and not _truthy(r.get("converged", True)) for r in rows])
    extra_pts = objective_matrix(extra) * np.array([1 / 60, 1.0, 1.0])
    names = ("charge time [min]", "entropy [J/K]", "irreversible Li loss [%]")
    groups: list[tuple[np.ndarray, dict[str, Any]]] = [
        (~front_mask & ~eez_mask & ~short, {"c": "0.6", "marker": "o", "s": 18, "label": "dominated"}),
        (short, {"c": "tab:orange", "marker": "x", "s": 24, "label": "target not reached"}),
        (eez_mask, {"c": "tab:green", "marker": "o", "s": 30, "label": "in EEZ"}),
        (front_mask, {"c": "tab:blue", "marker": "D", "s": 36, "label": "Pareto front"}),
        (hi_mask, {"facecolors": "none", "edgecolors": "tab:red", "marker": "o", "s": 110, "label": "under test"}),
        (unconverged, {"facecolors": "none", "edgecolors": "k", "marker": "s", "s": 90,
                       "label": "bound not converged"}),
    ]  # fmt: skip
    fig = Figure(figsize=(12, 9))
    ax3 = fig.add_subplot(2, 2, 1, projection="3d")
    for mask, style in groups:
        if mask.any():
            ax3.scatter(*points[mask].T, **style)
    if front_mask.any():
        _front_surface(ax3, points[front_mask])
    if len(extra_pts):
        ax3.scatter(*extra_pts.T, c="tab:red", marker="*", s=160, label="policy under test")
    ax3.set(xlabel=names[0], ylabel=names[1], zlabel=names[2], title="charge time / entropy / degradation")
    ax3.legend(fontsize=7, loc="upper left", bbox_to_anchor=(-0.15, 1.0))
    for panel, axes in enumerate(((0, 1), (0, 2), (1, 2)), start=2):
        ax = fig.add_subplot(2, 2, panel)
        _projection(ax, axes, points, groups, points[~short], (extra, extra_pts))
        ax.set(xlabel=names[axes[0]], ylabel=names[axes[1]])
    fig.tight_layout()
    return save_figure(fig, path)


def _projection(
    ax: Any,
    axes: tuple[int, int],
    points: np.ndarray,
    groups: Sequence[tuple[np.ndarray, dict[str, Any]]],
    reached: np.ndarray,
    extra: tuple[Sequence[Mapping[str, Any]], np.ndarray],
) -> None:
    """One 2-D projection of the sweep onto objectives ``axes``, with that projection's own front."""
    i, j = axes
    for mask, style in groups:
        if mask.any():
            ax.scatter(points[mask, i], points[mask, j], **style)
    # The projection's own 2-D front (a staircase), not the 3-D front's points joined up in projection.
    pair = reached[:, [i, j]]
    front2 = pair[pareto_mask(pair, rtol=FRONT_RTOL)]
    front2 = front2[np.argsort(front2[:, 0])]
    ax.step(front2[:, 0], front2[:, 1], where="post", color="tab:blue", lw=0.8, alpha=0.6, label="2-D front")
    rows, extra_pts = extra
    for k, point in enumerate(extra_pts):
        ax.scatter(point[i], point[j], c="tab:red", marker="*", s=160)
        ax.annotate(str(rows[k].get("label", rows[k].get("spec", "policy"))), (point[i], point[j]), fontsize=7)
    ax.grid(alpha=0.3)
