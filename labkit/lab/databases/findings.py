"""What notebook 02's measurements say, as sentences generated from the measured values.

A sentence that quotes or compares measured numbers is written by these functions from the run it describes, so it
cannot go stale when a re-run changes the numbers (the notebook shows it with `Markdown(...)`).
"""

from __future__ import annotations

from labkit.lab.databases.measure import TITLES, Latency, Staleness
from labkit.lab.databases.served import HTTP_COMPOSITION
from labkit.lab.ratios import faster_or_slower, times


def _ms(value: float) -> str:
    return f"{value:.1f} ms"


def latency_findings(rows: list[Latency], *, round_trip_ms: float | None = None) -> str:
    """The latency table in words: who was fastest, API composition in-process and over HTTP against the join."""
    by = {row.method: row for row in rows}
    fastest = min(rows, key=lambda row: row.median_ms)
    join, composed = by["shared_join"], by["api_composition"]
    lines = [
        f"Medians of {join.runs} runs each. The fastest was {TITLES[fastest.method]} ({_ms(fastest.median_ms)}).",
        f"API composition with in-process calls took {_ms(composed.median_ms)}: "
        f"{faster_or_slower(join.median_ms / composed.median_ms)} than the shared join ({_ms(join.median_ms)}). "
        "Those calls cross no network: they measure what the method moves and joins, not what a call costs.",
    ]
    http = by.get(HTTP_COMPOSITION)
    if http is not None:
        sentence = (
            f"Over HTTP, against the real services in their own processes, the same composition took "
            f"{_ms(http.median_ms)}: {times(http.median_ms / composed.median_ms)} the in-process calls and "
            f"{faster_or_slower(join.median_ms / http.median_ms)} than the shared join, for {http.calls} calls "
            f"and {http.bytes_moved / 1024:.1f} KiB of JSON (in-process: {composed.bytes_moved / 1024:.1f} KiB of "
            "Arrow)."
        )
        if round_trip_ms is not None:
            sentence += (
                f" A bare request and its answer costs {_ms(round_trip_ms)} here; the rest is JSON both ways and "
                "the services' own reads, which replay each aggregate's state from its events for every query "
                "(they keep no state table)."
            )
        lines.append(sentence)
    attach = by.get("attach_join")
    if attach is not None and attach.offline_ms:
        lines.append(
            f"The ATTACH join computed in {_ms(attach.median_ms)} but kept both services offline for "
            f"{_ms(attach.offline_ms)} per answer."
        )
    return "\n\n".join(lines)


def staleness_findings(staleness: Staleness) -> str:
    """How far behind each method's answers were while orders shipped, in words."""
    frame = staleness.frame()
    parts = []
    for title, row in frame.iterrows():
        rows, ms = int(row["max_rows_behind"]), float(row["max_ms_behind"])
        behind = f"at most {rows} {'row' if rows == 1 else 'rows'} and {_ms(ms)} behind"
        parts.append(f"{title}: {'never behind' if rows == 0 else behind}")
    return (
        f"While {staleness.shipped} orders shipped at {staleness.achieved_rate:.1f} per second: "
        + "; ".join(parts)
        + "."
    )
