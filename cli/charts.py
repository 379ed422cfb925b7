"""Charts for the HTML reports, drawn with matplotlib as SVG that a page embeds: no script and
no network, so a report opens the same offline, in a mail client or years later.

Each function returns one ``<svg>`` element as text. Text stays text (``svg.fonttype =
"none"``: searchable and small) and the drawing carries no date and fixed element ids, so the
same result gives the same bytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["breakdown", "breakeven_curve", "cumulative_cash", "hours_by_venue", "risk_distribution",
           "tornado"]

WIDTH_IN = 8.0
BLUE, ORANGE, GREY, RED = "#3b6ea8", "#d9822b", "#8a8a8a", "#b03a2e"


def _figure(height_in: float, panels: int = 0) -> tuple[Any, Any]:
    """A figure of one axis, or with ``panels`` > 0 a column of that many sharing x (the
    axes then as an array)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "tco", "font.size": 9,
                         "axes.spines.top": False, "axes.spines.right": False})
    if panels:
        fig, axes = plt.subplots(panels, 1, figsize=(WIDTH_IN, height_in), sharex=True,
                                 squeeze=False)
        return fig, axes[:, 0]
    fig, ax = plt.subplots(figsize=(WIDTH_IN, height_in))
    return fig, ax


def _svg(fig: Any, laid_out: bool = False) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    if not laid_out:
        fig.tight_layout()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _dollars(ax: Any, axis: str = "x") -> None:
    from matplotlib.ticker import FuncFormatter

    def fmt(v: float, _: int) -> str:
        sign = "-" if v < 0 else ""
        v = abs(v)
        if v >= 1e6:
            return f"{sign}${v / 1e6:,.2f}M"
        if v >= 1e3:
            return f"{sign}${v / 1e3:,.0f}k"
        return f"{sign}${v:,.0f}"
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(FuncFormatter(fmt))


def tornado(base_usd: float, rows: Sequence[tuple[str, float | None, float | None]]) -> str:
    """Each lever's re-optimized NPV at its low and high value as bars from the base NPV, the
    widest swing on top. ``rows``: (label, NPV low, NPV high)."""
    fig, ax = _figure(0.45 * len(rows) + 1.2)
    for k, (label, low, high) in enumerate(reversed(rows)):
        for value, color in ((low, BLUE), (high, ORANGE)):
            if value is not None:
                ax.barh(k, value - base_usd, left=base_usd, color=color, height=0.6)
    ax.set_yticks(range(len(rows)), [r[0] for r in reversed(rows)])
    ax.axvline(base_usd, color="black", linewidth=0.8)
    ax.set_xlabel("NPV re-optimized (blue: the lever's low value, orange: its high value)")
    _dollars(ax)
    return _svg(fig)


def breakeven_curve(param: str, points: Sequence[tuple[float, float | None]],
                    flips: Sequence[float]) -> str:
    """The recommended plan's NPV across the range of ``param``, each flip a dashed line."""
    fig, ax = _figure(3.2)
    xs = [x for x, y in points if y is not None]
    ys = [y for _, y in points if y is not None]
    ax.plot(xs, ys, color=BLUE, marker="o", markersize=3)
    span = (max(xs) - min(xs)) if len(xs) > 1 else 1.0
    placed: list[float] = []
    for x in sorted(flips):
        ax.axvline(x, color=RED, linestyle="--", linewidth=1)
        # flips closer than a tenth of the axis share no line: each label a step higher
        level = sum(1 for p in placed if abs(x - p) < 0.1 * span)
        placed.append(x)
        ax.annotate(f"{x:.4g}", (x, 1.0 + 0.07 * level), xycoords=("data", "axes fraction"),
                    color=RED, ha="center", va="bottom", fontsize=8)
    ax.set_xlabel(param)
    ax.set_ylabel("NPV of the recommended plan")
    _dollars(ax, "y")
    return _svg(fig)


def risk_distribution(names: Sequence[str], columns: Sequence[Sequence[float | None]]) -> str:
    """Each candidate's committed NPV over the samples: a box from P10 to P90 with the median,
    and every sample as a dot; infeasible samples are counted in the label."""
    fig, ax = _figure(0.55 * len(names) + 1.2)
    for k, (name, column) in enumerate(zip(reversed(names), reversed(columns), strict=True)):
        finite = sorted(x for x in column if x is not None and math.isfinite(x))
        if not finite:
            continue
        n = len(finite)
        p10, p50, p90 = (finite[max(1, math.ceil(q * n)) - 1] for q in (0.1, 0.5, 0.9))
        ax.barh(k, p90 - p10, left=p10, height=0.5, color=BLUE, alpha=0.35)
        ax.plot([p50, p50], [k - 0.25, k + 0.25], color=BLUE, linewidth=2)
        ax.scatter(finite, [k] * n, s=4, color=GREY, alpha=0.5, zorder=3)
    labels = []
    for name, column in zip(reversed(names), reversed(columns), strict=True):
        missing = sum(1 for x in column if x is None)
        labels.append(f"{name} ({missing} infeasible)" if missing else name)
    ax.set_yticks(range(len(names)), labels)
    ax.set_xlabel("committed NPV per sample (box: P10 to P90, line: median)")
    _dollars(ax)
    return _svg(fig)


def _month_ticks(ax: Any, labels: Sequence[str]) -> None:
    """Every month on the axis, labelled each January and at the ends (``YYYY-MM``)."""
    keep = [i for i, m in enumerate(labels) if m.endswith("-01") or i in (0, len(labels) - 1)]
    ax.set_xticks(keep, [labels[i] for i in keep], rotation=0)


# twelve colours, none repeated before the twelfth series: the twelve cost categories each
# have their own (a resale credit never shares cloud compute's blue)
PALETTE = ("#3b6ea8", "#d9822b", "#5a9e4b", "#b03a2e", "#7b5ea7", "#8c6d46", "#c76aa8",
           "#7f7f7f", "#b5b82c", "#2fa8b8", "#1b1b1b", "#f2c14e")


def _legend_below(ax: Any, entries: int, at: float = -0.16) -> None:
    ax.legend(fontsize=8, frameon=False, ncols=min(5, max(1, entries)), loc="upper center",
              bbox_to_anchor=(0.5, at))


def cumulative_cash(months: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
                    highlight: str | None = None, horizon: int | None = None) -> str:
    """Cumulative cash flow by month, one line per scenario; ``highlight`` drawn thicker, on
    top of the others (dashed, so that one hidden under it still shows). Months from
    ``horizon`` on are past the plan's end (the value of servers still owned, terms that run
    on): shaded and labelled."""
    fig, ax = _figure(3.4)
    for k, (name, values) in enumerate(series):
        mine = name == highlight
        label = f"{name} (recommended)" if mine else name
        # a line the same as an earlier one lies under it: the legend says so
        same = next((other for other, earlier in series[:k] if len(earlier) == len(values)
                     and all(abs(a - b) < 0.5 for a, b in zip(earlier, values, strict=True))),
                    None)
        if same is not None:
            label += f" (= {same})"
        ax.plot(range(len(months)), values, label=label,
                color=PALETTE[k % len(PALETTE)], linewidth=2.6 if mine else 1.2,
                linestyle="-" if mine else (0, (4, 2)), zorder=3 if mine else 2)
    ax.axhline(0, color="black", linewidth=0.6)
    if horizon is not None and horizon < len(months):
        ax.axvspan(horizon - 0.5, len(months) - 0.5, color="#e6e6e6", zorder=0)
        ax.annotate("after the horizon", ((horizon + len(months) - 1) / 2, 0.03),
                    xycoords=("data", "axes fraction"), fontsize=7, color="#555555",
                    rotation=90, ha="center", va="bottom")
    _month_ticks(ax, months)
    ax.set_ylabel("cash spent so far (undiscounted)")
    _dollars(ax, "y")
    _legend_below(ax, len(series))
    return _svg(fig)


def breakdown(names: Sequence[str], parts: Sequence[tuple[str, Sequence[float]]]) -> str:
    """Each scenario's cost by category as a stacked bar: costs to the right of 0, credits
    (resale) to the left; ``parts`` are (category, value per scenario)."""
    fig, ax = _figure(0.5 * len(names) + 1.6)
    right = [0.0] * len(names)
    left = [0.0] * len(names)
    ys = list(range(len(names)))[::-1]
    for k, (category, values) in enumerate(parts):
        starts = [right[i] if v >= 0 else left[i] for i, v in enumerate(values)]
        ax.barh(ys, values, left=starts, height=0.6, label=category,
                color=PALETTE[k % len(PALETTE)])
        for i, v in enumerate(values):
            if v >= 0:
                right[i] += v
            else:
                left[i] += v
    ax.set_yticks(ys, list(names))
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_xlabel("total over the horizon (undiscounted); credits to the left of 0")
    _dollars(ax)
    _legend_below(ax, len(parts), -0.28)
    return _svg(fig)


def hours_by_venue(months: Sequence[str],
                   classes: Sequence[tuple[str, Sequence[tuple[str, Sequence[float]]]]]) -> str:
    """GPU-hours by venue by month, stacked, one panel per GPU class: an hour of one class is
    not an hour of another, so classes are never stacked together. ``classes``: (class,
    [(venue, hours by month)]); a venue keeps its colour in every panel."""
    from matplotlib.ticker import FuncFormatter

    venues = sorted({v for _, series in classes for v, _ in series})
    colour = {v: PALETTE[k % len(PALETTE)] for k, v in enumerate(venues)}
    fig, axes = _figure(1.9 * len(classes) + 1.0, panels=len(classes))
    for ax, (gpu, series) in zip(axes, classes, strict=True):
        bottom = [0.0] * len(months)
        for venue, values in series:
            ax.bar(range(len(months)), values, bottom=bottom, width=0.85, color=colour[venue])
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_ylabel(f"{gpu} GPU-hours", fontsize=8)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.spines[["top", "right"]].set_visible(False)
    _month_ticks(axes[-1], months)
    from matplotlib.patches import Patch
    rows = (len(venues) + 4) // 5
    top = 1 - (0.65 + 0.25 * (rows - 1)) / (1.9 * len(classes) + 1.0)   # room for the legend
    fig.legend(handles=[Patch(color=colour[v], label=v) for v in venues], fontsize=8,
               frameon=False, ncols=min(5, len(venues)), loc="upper center")
    fig.tight_layout(rect=(0, 0, 1, top))
    return _svg(fig, laid_out=True)


def alternative_ranges(rows: Sequence[tuple[str, float, float, float, str, str]]) -> str:
    """Each dimension's range within the slack, on its own scale: a bar from its least to its
    most as shares of the most (labelled with both values), the optimum a black diamond.
    ``rows``: (dimension, least, most, optimum, least as text, most as text)."""
    fig, ax = _figure(0.5 * len(rows) + 1.1)
    for k, (_, low, high, optimum, low_text, high_text) in enumerate(reversed(rows)):
        scale = max(abs(low), abs(high), abs(optimum)) or 1.0
        a, b, o = low / scale, high / scale, optimum / scale
        ax.barh(k, max(b - a, 0.004), left=a, height=0.5, color=BLUE, alpha=0.6)
        ax.plot([o], [k], marker="D", color="black", markersize=5, zorder=3)
        ax.annotate(low_text, (a, k), xytext=(-4, 0), textcoords="offset points", ha="right",
                    va="center", fontsize=7)
        ax.annotate(high_text, (b, k), xytext=(4, 0), textcoords="offset points", ha="left",
                    va="center", fontsize=7)
    ax.set_yticks(range(len(rows)), [r[0] for r in reversed(rows)])
    ax.set_xlim(-0.35 if any(r[1] < 0 for r in rows) else -0.3, 1.35)
    ax.set_xlabel("each dimension as a share of its largest value within the slack "
                  "(diamond: the optimum)")
    return _svg(fig)


def alternative_points(x_label: str, y_label: str, points: Sequence[tuple[float, float]],
                       optimum: tuple[float, float],
                       extremes: Sequence[tuple[float, float]]) -> str:
    """Plans within the slack in two dimensions: the random directions' plans, the extremes of
    every dimension and the optimum."""
    fig, ax = _figure(3.4)
    if extremes:
        ax.scatter([p[0] for p in extremes], [p[1] for p in extremes], s=18, color=ORANGE,
                   label="least or most of a dimension", zorder=2)
    if points:
        ax.scatter([p[0] for p in points], [p[1] for p in points], s=14, color=BLUE,
                   label="a random direction", zorder=2)
    ax.scatter([optimum[0]], [optimum[1]], s=60, marker="D", color="black", label="optimum",
               zorder=3)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    for axis, label in (("x", x_label), ("y", y_label)):
        if label.endswith("_usd"):
            _dollars(ax, axis)
    _legend_below(ax, 3, -0.2)
    return _svg(fig)
