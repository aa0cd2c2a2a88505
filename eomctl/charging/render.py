"""Drawing a charging episode: current, voltage, temperature and entropy production rate against time.

Kept apart from :mod:`eomctl.charging.env` so the environment holds physics and bookkeeping only. Drawing
uses matplotlib's object API on an Agg canvas, never pyplot's global state, so it is safe in worker processes and
threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

FIGURE_SIZE_IN = (6.4, 6.4)
FIGURE_DPI = 80


@dataclass(frozen=True)
class Frame:
    """One point of the episode trace (the state at the end of a step)."""

    time_s: float
    current_a: float
    voltage_v: float
    temperature_k: float
    entropy_rate_w_per_k: float


def draw_episode(
    frames: Sequence[Frame],
    title: str = "",
    v_max_v: float | None = None,
    t_max_k: float | None = None,
) -> np.ndarray:
    """Draw an episode so far into an RGB image.

    Parameters
    ----------
    frames : sequence of Frame
        The trace, oldest first (may be empty).
    title : str
        Figure title.
    v_max_v, t_max_k : float, optional
        Limits drawn as dashed lines.

    Returns
    -------
    numpy.ndarray
        ``(height, width, 3)`` uint8 image.
    """
    figure = Figure(figsize=FIGURE_SIZE_IN, dpi=FIGURE_DPI, layout="constrained")
    canvas = FigureCanvasAgg(figure)
    axes = figure.subplots(4, 1, sharex=True)
    time_min = np.array([f.time_s for f in frames]) / 60.0
    panels = (
        ("current [A]", [f.current_a for f in frames], None),
        ("voltage [V]", [f.voltage_v for f in frames], v_max_v),
        ("temperature [K]", [f.temperature_k for f in frames], t_max_k),
        ("entropy rate [mW/K]", [1e3 * f.entropy_rate_w_per_k for f in frames], None),
    )
    for ax, (label, values, limit) in zip(axes, panels, strict=True):
        # Steps hold their value over the interval that ends at the frame time: draw them as such.
        ax.step(time_min, values, where="pre", color="tab:blue")
        if limit is not None:
            ax.axhline(limit, color="tab:red", linestyle="--", linewidth=0.8)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("time [min]")
    if title:
        figure.suptitle(title)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


class HumanViewer:
    """Shows frames in a pyplot window (imported only when "human" rendering is asked for)."""

    def __init__(self, fps: float) -> None:
        import matplotlib.pyplot as plt

        self._plt = plt
        self._pause_s = 1.0 / fps
        self._figure = plt.figure("eomctl")
        self._image: AxesImage | None = None

    def show(self, image: np.ndarray) -> None:
        """Display ``image`` and let the GUI event loop run briefly."""
        if self._image is None:
            ax = self._figure.add_subplot(1, 1, 1)
            ax.set_axis_off()
            self._image = ax.imshow(image)
        else:
            self._image.set_data(image)
        self._plt.pause(self._pause_s)

    def close(self) -> None:
        """Close the window."""
        self._plt.close(self._figure)
