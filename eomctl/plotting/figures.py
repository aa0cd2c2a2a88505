"""Figure plumbing shared by every plot: object-oriented matplotlib (no pyplot state, no GUI backend) and atomic
writes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from eomctl.core.io import atomic_write_bytes


def subplots(*grid: int, figsize: tuple[float, float], **kwargs: Any) -> tuple[Figure, Any]:
    """A new figure of ``figsize`` inches and its axes (``Figure.subplots(*grid, **kwargs)``)."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*grid, **kwargs)


def save_figure(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Write a figure atomically (format from the suffix, PNG by default)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=Path(path).suffix.lstrip(".") or "png", dpi=dpi)
    return atomic_write_bytes(path, buffer.getvalue())
