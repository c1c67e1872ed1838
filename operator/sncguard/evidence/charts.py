"""Inline SVG charts for the evidence pages: no script, no external resource, the same bytes for the
same data (coordinates rounded to a tenth of a pixel)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

FONT = "font-family=\"DejaVu Sans, Liberation Sans, Arial, sans-serif\""
COLORS = {
    "fail": "#c92a2a", "warn": "#e67700", "pass": "#2b8a3e", "skip": "#adb5bd",
    "eligible": "#2b8a3e", "not-eligible": "#c92a2a", "unknown": "#dee2e6", "outage": "#f08c00",
    "bar": "#1c7ed6", "idle": "#ced4da", "grid": "#e9ecef", "text": "#212529", "muted": "#868e96",
    "critical": "#862e9c", "high": "#c92a2a", "medium": "#e67700", "low": "#1c7ed6", "info": "#868e96",
}


def _n(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _svg(width: float, height: float, title: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="{_n(width)}" '
            f'height="{_n(height)}" viewBox="0 0 {_n(width)} {_n(height)}" {FONT} font-size="12">'
            f"<title>{escape(title)}</title>{''.join(body)}</svg>")


def _text(x: float, y: float, text: str, *, anchor: str = "start", fill: str = COLORS["text"], size: int = 12,
          weight: str = "normal") -> str:
    return (f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="{fill}" font-size="{size}"'
            f'{" font-weight=" + chr(34) + weight + chr(34) if weight != "normal" else ""}>{escape(text)}</text>')


def _rect(x: float, y: float, w: float, h: float, fill: str, extra: str = "") -> str:
    return f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(max(w, 0))}" height="{_n(h)}" fill="{fill}"{extra}/>'


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _legend(x: float, y: float, items: Sequence[tuple[str, str]]) -> list[str]:
    out = []
    for label, color in items:
        out.append(_rect(x, y - 9, 10, 10, color))
        out.append(_text(x + 14, y, label, size=11))
        x += 24 + 6.5 * len(label)
    return out


def zone_matrix(title: str, rows: Sequence[Mapping[str, Any]], zones: Sequence[str], extra_label: str,
                extra_key: str = "notRunning") -> str:
    """One row per workload, one column per zone (and one for pods not running): a bar as long as the
    share of its replicas running there, with the count."""
    label_w, cell_w, row_h, head_h = 290.0, 104.0, 26.0, 30.0
    columns = [*zones, extra_label]
    width = label_w + cell_w * len(columns) + 10
    height = head_h + row_h * max(len(rows), 1) + 8
    body = [_text(label_w + cell_w * i + cell_w / 2, 18, _clip(z, 15), anchor="middle", weight="bold")
            for i, z in enumerate(columns)]
    if not rows:
        body.append(_text(10, head_h + 18, "—", fill=COLORS["muted"]))
    for r, row in enumerate(rows):
        y = head_h + r * row_h
        if r % 2 == 0:
            body.append(_rect(0, y, width, row_h, "#f8f9fa"))
        name = f"{row['kind']} {row['namespace']}/{row['name']} ×{row['replicas']}"
        body.append(_text(6, y + 17, _clip(name, 42)))
        scale = max(int(row["replicas"]), *[int(v) for v in row["zones"].values()], int(row.get(extra_key, 0)), 1)
        counts = [int(row["zones"].get(z, 0)) for z in zones] + [int(row.get(extra_key, 0))]
        for c, count in enumerate(counts):
            x = label_w + c * cell_w + 6
            inner = cell_w - 12
            body.append(_rect(x, y + 5, inner, row_h - 10, COLORS["grid"]))
            color = COLORS["idle"] if c == len(counts) - 1 else COLORS["bar"]
            body.append(_rect(x, y + 5, inner * count / scale, row_h - 10, color))
            body.append(_text(x + inner - 3, y + 17, str(count), anchor="end",
                              fill="#ffffff" if count and count / scale > 0.85 else COLORS["text"]))
    return _svg(width, height, title, body)


def _x_of(moment: datetime, start: datetime, end: datetime, x0: float, w: float) -> float:
    span = (end - start).total_seconds() or 1.0
    return x0 + w * max(0.0, min(1.0, (moment - start).total_seconds() / span))


def sla_timeline(title: str, entries: Sequence[tuple[str, Mapping[str, Any]]], labels: Mapping[str, str],
                 parse: Any) -> str:
    """One lane per ZoneSpread over the month: eligible, not eligible, unknown (before its ledger
    began), and below it the zone outages; a dashed line at now, a tick per day."""
    label_w, bar_w, lane_h = 200.0, 660.0, 34.0
    width = label_w + bar_w + 20
    height = 34 + lane_h * max(len(entries), 1) + 34
    body: list[str] = []
    if entries:
        first = entries[0][1]
        start, end = parse(first["start"]), parse(first["end"])
        days = int((end - start).total_seconds() // 86400)
        for d in range(days + 1):
            x = label_w + bar_w * d / max(days, 1)
            body.append(f'<line x1="{_n(x)}" y1="24" x2="{_n(x)}" y2="{_n(28 + lane_h * len(entries))}" '
                        f'stroke="{COLORS["grid"]}" stroke-width="1"/>')
            if d < days and d % 7 == 0:
                body.append(_text(x + 2, 18, f"{d + 1}", size=10, fill=COLORS["muted"]))
    for i, (name, timeline) in enumerate(entries):
        start, end = parse(timeline["start"]), parse(timeline["end"])
        y = 28 + i * lane_h
        body.append(_text(6, y + 15, _clip(name, 30)))
        body.append(_rect(label_w, y + 2, bar_w, 18, "#ffffff", f' stroke="{COLORS["idle"]}"'))
        for seg in timeline["segments"]:
            x1 = _x_of(parse(seg["start"]), start, end, label_w, bar_w)
            x2 = _x_of(parse(seg["end"]), start, end, label_w, bar_w)
            # A short spell of non-eligibility stays visible: at least 2 px.
            seg_w = max(x2 - x1, 2.0) if seg["state"] == "not-eligible" else x2 - x1
            body.append(_rect(x1, y + 2, seg_w, 18, COLORS[seg["state"]]))
        for outage in timeline["outages"]:
            x1 = _x_of(parse(outage["start"]), start, end, label_w, bar_w)
            x2 = _x_of(parse(outage["end"]), start, end, label_w, bar_w)
            body.append(_rect(x1, y + 23, max(x2 - x1, 2), 6, COLORS["outage"]))
        now = _x_of(parse(timeline["now"]), start, end, label_w, bar_w)
        body.append(f'<line x1="{_n(now)}" y1="{_n(y)}" x2="{_n(now)}" y2="{_n(y + 30)}" stroke="{COLORS["text"]}" '
                    f'stroke-dasharray="3,2" stroke-width="1"/>')
    if not entries:
        body.append(_text(10, 50, "—", fill=COLORS["muted"]))
    body += _legend(label_w, height - 10, [(labels["eligible"], COLORS["eligible"]),
                                           (labels["not-eligible"], COLORS["not-eligible"]),
                                           (labels["unknown"], COLORS["unknown"]),
                                           (labels["outage"], COLORS["outage"])])
    return _svg(width, height, title, body)


def findings_by_rule(title: str, rows: Sequence[Mapping[str, Any]], labels: Mapping[str, str]) -> str:
    """One bar per rule, its fail, warn, pass and skip counts stacked, the rule's severity as a chip."""
    label_w, bar_w, row_h = 170.0, 590.0, 22.0
    width = label_w + bar_w + 60
    height = 10 + row_h * max(len(rows), 1) + 30
    top = max((sum(int(r[k]) for k in ("fail", "warn", "pass", "skip")) for r in rows), default=1) or 1
    body: list[str] = []
    for i, row in enumerate(rows):
        y = 8 + i * row_h
        body.append(_rect(6, y + 4, 8, 12, COLORS.get(row["severity"], COLORS["info"])))
        body.append(_text(20, y + 15, f"{row['rule']}", weight="bold"))
        body.append(_text(96, y + 15, labels.get(row["severity"], row["severity"]), size=10, fill=COLORS["muted"]))
        x = label_w
        total = 0
        for key in ("fail", "warn", "pass", "skip"):
            count = int(row[key])
            w = bar_w * count / top
            body.append(_rect(x, y + 3, w, row_h - 6, COLORS[key]))
            x += w
            total += count
        fails = int(row["fail"])
        body.append(_text(x + 6, y + 15, f"{fails}/{total}" if fails else str(total), size=11))
    if not rows:
        body.append(_text(10, 24, "—", fill=COLORS["muted"]))
    body += _legend(label_w, height - 8, [(labels[k], COLORS[k]) for k in ("fail", "warn", "pass", "skip")])
    return _svg(width, height, title, body)


def bars(title: str, items: Sequence[tuple[str, int]], color: str = COLORS["bar"],
         colors: Mapping[str, str] | None = None) -> str:
    """Horizontal bars: a label, a bar, the value."""
    label_w, bar_w, row_h = 220.0, 420.0, 22.0
    width = label_w + bar_w + 60
    height = 8 + row_h * max(len(items), 1) + 4
    top = max((v for _, v in items), default=1) or 1
    body: list[str] = []
    for i, (label, value) in enumerate(items):
        y = 6 + i * row_h
        body.append(_text(6, y + 15, _clip(label, 32)))
        body.append(_rect(label_w, y + 3, bar_w * value / top, row_h - 6, (colors or {}).get(label, color)))
        body.append(_text(label_w + bar_w * value / top + 6, y + 15, str(value), size=11))
    if not items:
        body.append(_text(10, 22, "—", fill=COLORS["muted"]))
    return _svg(width, height, title, body)
