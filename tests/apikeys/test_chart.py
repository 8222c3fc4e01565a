"""The usage chart's geometry (pure): bars stack exactly the counts given, on a round scale."""

from datetime import UTC, datetime, timedelta

from apikeys.chart import HEIGHT, Bucket, usage_chart

START = datetime(2026, 12, 1, tzinfo=UTC)
REASONS = [("event_not_allowed", "Event refused"), ("ip_not_allowed", "Address refused")]


def _chart(*buckets: Bucket):
    return usage_chart(list(buckets), reasons=REASONS, label_format="%H:00", every=2)


def test_bars_stack_accepted_would_refuse_then_each_reason():
    chart = _chart(
        Bucket(START, accepted=6, would_refuse=2, refused={"ip_not_allowed": 1}),
        Bucket(START + timedelta(hours=1)),
        Bucket(START + timedelta(hours=2), refused={"event_not_allowed": 3}),
    )
    first = chart.bars[0]
    assert [(s.series, s.value) for s in first.segments] == [
        ("accepted", 6),
        ("would_refuse", 2),
        ("refused:ip_not_allowed", 1),
    ]
    assert chart.bars[1].segments == []
    # Segments touch: each starts where the one below it ends, from the baseline up.
    bottom = chart.baseline
    for segment in first.segments:
        assert abs(segment.y + segment.height - bottom) < 0.05
        bottom = segment.y
    assert chart.totals == {
        "accepted": 6,
        "would_refuse": 2,
        "refused:event_not_allowed": 3,
        "refused:ip_not_allowed": 1,
    }
    assert chart.summary == "8 accepted (of which 2 would be refused), 4 refused"
    assert "00:00: 6 accepted, 2 accepted, would be refused (monitor)" in first.title
    assert [tick.text for tick in chart.x_ticks] == ["00:00", "02:00"]


def test_the_scale_is_round_and_the_tallest_bar_fits():
    chart = _chart(Bucket(START, accepted=37))
    assert [tick.text for tick in chart.y_ticks] == ["0", "25", "50"]
    assert chart.bars[0].segments[0].y >= 0
    assert chart.bars[0].segments[0].height < HEIGHT


def test_no_calls_draws_no_bar():
    chart = _chart(Bucket(START), Bucket(START + timedelta(hours=1)))
    assert all(not bar.segments for bar in chart.bars)
    assert chart.summary == "0 accepted, 0 refused"
    assert [tick.text for tick in chart.y_ticks] == ["0", "1"]
