"""Latency over time, colored by outcome, with fault windows shaded.

Every run writes its plot (as Jepsen's does), so matplotlib is required: it
is in the `test` and `jepsen` extras, and without it `require_matplotlib`
raises PlotDependencyError with one line saying what to install (a run and
`--check` refuse up front; never a verdict without its plot).
"""

from __future__ import annotations

from pathlib import Path

from tests.jepsen.history import fault_windows, pair

COLORS = {"ok": "#2b8a3e", "fail": "#c92a2a", "info": "#e67700"}
MARKERS = {"create": "o", "delete": "x", "list": "s", "write": "^", "read": "v"}


MATPLOTLIB_MISSING = ("the latency plot needs matplotlib, which is not installed: "
                      "pip install -e '.[test]' (or '.[jepsen]')")


class PlotDependencyError(RuntimeError):
    """matplotlib is missing, so the run's latency plot cannot be written."""


def require_matplotlib():
    """matplotlib.pyplot on the Agg backend; PlotDependencyError without it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotDependencyError(MATPLOTLIB_MISSING) from exc
    return plt


def plot_latency(events: list[dict], path: str | Path, title: str = "") -> None:
    """Write a PNG to `path` (PlotDependencyError without matplotlib)."""
    plt = require_matplotlib()
    ops = pair(events)
    fig, ax = plt.subplots(figsize=(11, 5), dpi=100)
    try:
        for w in fault_windows(events):
            ax.axvspan(w["start"], w["end"], color="#adb5bd", alpha=0.35, lw=0)
        for outcome, color in COLORS.items():
            for f, marker in MARKERS.items():
                xs = [o.call_time for o in ops if o.type == outcome and o.f == f]
                ys = [max(o.latency_s, 1e-4) * 1000 for o in ops if o.type == outcome and o.f == f]
                if xs:
                    ax.scatter(xs, ys, s=9, c=color, marker=marker, alpha=0.7,
                               label=f"{f} {outcome}", linewidths=0.6)
        ax.set_yscale("log")
        ax.set_xlabel("time since start (s)")
        ax.set_ylabel("latency (ms)")
        ax.set_title(title or "operation latency (grey: fault windows)")
        if ops:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, markerscale=1.5)
        fig.tight_layout()
        fig.savefig(str(path))
    finally:
        plt.close(fig)
