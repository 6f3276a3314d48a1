"""Plots for reports: matplotlib (Agg, no display) rendered to PNG artifacts.

Deterministic output: fixed DPI, no timestamps or software metadata in the PNG.
"""

from __future__ import annotations

import io

from forensics.detector import Artifact


def figure(width_in: float = 7.0, height_in: float = 3.0):
    """A new matplotlib figure on the Agg canvas (safe on headless machines)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")


def figure_artifact(fig, title: str, caption: str = "", slug: str = "plot") -> Artifact:
    """Render ``fig`` to PNG and wrap it as an :class:`Artifact`."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return Artifact(title=title, png=buf.getvalue(), caption=caption, slug=slug)
