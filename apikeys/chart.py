"""A usage chart's geometry: stacked bars of calls per hour or day, drawn by a template as SVG.

Pure: it takes counts and returns rectangles and labels, so the numbers drawn are the numbers
given (the page shows the same numbers in a table beside the chart).
"""

from dataclasses import dataclass, field
from datetime import datetime

WIDTH = 720
HEIGHT = 180
LEFT = 40  # room for the y-axis labels
BOTTOM = 20  # room for the x-axis labels
TOP = 8
GAP = 0.2  # of a slot, between bars

# Drawn bottom to top, then one series per refusal reason; the css names are the page's colours.
SERIES = (
    ("accepted", "Accepted", "accepted"),
    ("would_refuse", "Accepted, would be refused (monitor)", "would"),
)
REFUSED_COLOURS = 4


@dataclass(frozen=True)
class Bucket:
    """The calls of one hour or day: accepted (not counting would-refuse), would-refuse, refused.

    `refused` holds the refusals by reason; the series do not overlap.
    """

    start: datetime
    accepted: int = 0
    would_refuse: int = 0
    refused: dict[str, int] = field(default_factory=dict)

    @property
    def refused_total(self) -> int:
        return sum(self.refused.values())

    @property
    def total(self) -> int:
        return self.accepted + self.would_refuse + self.refused_total

    def value(self, series: str) -> int:
        """The count of a series: "accepted", "would_refuse" or "refused:<reason>"."""
        if series.startswith("refused:"):
            return self.refused.get(series.removeprefix("refused:"), 0)
        return getattr(self, series)


@dataclass(frozen=True)
class Series:
    name: str
    label: str
    css: str


@dataclass(frozen=True)
class Segment:
    series: str
    css: str
    y: float
    height: float
    value: int


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    label: str
    title: str
    segments: list[Segment]


@dataclass(frozen=True)
class Tick:
    position: float
    text: str


@dataclass(frozen=True)
class Chart:
    """Everything the SVG template draws, plus the totals it says in words."""

    width: int
    height: int
    left: int
    baseline: float
    series: list[Series]
    bars: list[Bar]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    totals: dict[str, int]

    @property
    def summary(self) -> str:
        accepted, would = self.totals["accepted"], self.totals["would_refuse"]
        refused = sum(self.totals.values()) - accepted - would
        said = f"{accepted + would} accepted"
        if would:
            said += f" (of which {would} would be refused)"
        return f"{said}, {refused} refused"


def _nice_max(value: int) -> int:
    """The smallest of 1, 2, 5 × 10^n at or above `value` (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if factor * step >= value:
                return factor * step
        step *= 10


def usage_chart(
    buckets: list[Bucket], *, reasons: list[tuple[str, str]], label_format: str, every: int
) -> Chart:
    """Bars for `buckets` (oldest first), refusals stacked by each of `reasons` (code, label).

    Every `every`th bar gets an x-axis label.
    """
    series = [Series(*item) for item in SERIES] + [
        Series(f"refused:{code}", f"Refused: {label}", f"refused-{index % REFUSED_COLOURS}")
        for index, (code, label) in enumerate(reasons)
    ]
    top = _nice_max(max((bucket.total for bucket in buckets), default=0))
    plot_width = WIDTH - LEFT
    plot_height = HEIGHT - BOTTOM - TOP
    baseline = HEIGHT - BOTTOM
    slot = plot_width / max(len(buckets), 1)
    bars, x_ticks = [], []
    totals = {one.name: 0 for one in series}
    for index, bucket in enumerate(buckets):
        x = LEFT + index * slot
        label = f"{bucket.start:{label_format}}"
        y = baseline
        segments = []
        for one in series:
            value = bucket.value(one.name)
            totals[one.name] += value
            if value:
                height = value / top * plot_height
                y -= height
                segments.append(
                    Segment(
                        series=one.name,
                        css=one.css,
                        y=round(y, 2),
                        height=round(height, 2),
                        value=value,
                    )
                )
        parts = [f"{bucket.value(one.name)} {one.label.lower()}" for one in series]
        bars.append(
            Bar(
                x=round(x + slot * GAP / 2, 2),
                width=round(slot * (1 - GAP), 2),
                label=label,
                title=f"{label}: {', '.join(parts)}",
                segments=segments,
            )
        )
        if index % every == 0:
            x_ticks.append(Tick(position=round(x + slot / 2, 2), text=label))
    y_ticks = [
        Tick(
            position=round(baseline - fraction * plot_height, 2), text=f"{round(top * fraction):,}"
        )
        for fraction in ((0, 0.5, 1) if top >= 2 else (0, 1))
    ]
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        baseline=baseline,
        series=series,
        bars=bars,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        totals=totals,
    )
