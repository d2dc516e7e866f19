"""The report's reload section, from ``sections["reload"]``: the propagation table, the traffic
timeline with change events marked, the errors tied to the change they followed, the scale chart."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from ..reload import KIND_LABEL
from ._charts import PALETTE, Series, line_chart

PHASES = ("create", "update", "delete")


def _ms(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def reload_view(section: dict[str, Any]) -> dict[str, Any]:
    # several kinds of canary (Ingress, HTTPRoute) measured in one run: their rows side by side
    by_kind = section.get("by_kind") or {section.get("kind") or "ingress": section}
    propagation = []
    for kind, figures in by_kind.items():
        prop = figures.get("propagation") or {}
        propagation += [
            {
                "phase": f"{KIND_LABEL.get(kind, kind)} {p}" if len(by_kind) > 1 else p,
                **{k: _ms((prop.get(p) or {}).get(k)) for k in ("p50", "p95", "max")},
                "n": (prop.get(p) or {}).get("n", 0),
                "failed": (prop.get(p) or {}).get("failed", 0),
            }
            for p in PHASES
            if p in prop
        ]
    traffic = section.get("traffic") or {}
    timeline = traffic.get("timeline") or []
    events = traffic.get("events") or section.get("events") or []
    markers = [(e.get("t_ms", 0) / 1000, e.get("label", "")) for e in events]
    charts = []
    if timeline:
        charts.append(
            Markup(
                line_chart(
                    [
                        Series("sent/s", [(t["t"], t.get("sent", 0)) for t in timeline], PALETTE[3]),
                        Series("errors/s", [(t["t"], t.get("errors", 0)) for t in timeline], PALETTE[1]),
                    ],
                    title="Existing traffic during the changes (open loop); lines mark changes",
                    x_label="seconds",
                    y_label="requests",
                    markers=markers,
                )
            )
        )
        charts.append(
            Markup(
                line_chart(
                    [
                        Series("p50 (corrected)", [(t["t"], t.get("p50_ms") or 0) for t in timeline], PALETTE[0]),
                        Series("p99 (corrected)", [(t["t"], t.get("p99_ms") or 0) for t in timeline], PALETTE[2]),
                    ],
                    title="Latency of existing traffic, from intended send time",
                    x_label="seconds",
                    y_label="ms",
                    markers=markers,
                )
            )
        )
    latency = traffic.get("latency_ms") or {}
    traffic_rows = []
    for kind in ("corrected", "uncorrected"):
        lat = latency.get(kind) or {}
        traffic_rows.append(
            {"kind": kind, "p50": _ms(lat.get("p50")), "p99": _ms(lat.get("p99")), "max": _ms(lat.get("max"))}
        )
    scale = section.get("scale") or []
    scale_chart = None
    if scale:
        # one curve per phase and data plane (rows carry "plane" when several were measured)
        planes = list(dict.fromkeys(str(row.get("plane") or "") for row in scale))
        sizes = list(dict.fromkeys(int(row["ingresses"]) for row in scale))
        ticks: list[tuple[float, str]] = [(float(i), str(n)) for i, n in enumerate(sizes)]
        series = []
        for k, plane in enumerate(planes):
            rows = {int(row["ingresses"]): row for row in scale if str(row.get("plane") or "") == plane}
            for j, p in enumerate(PHASES):
                points = [
                    (float(i), float((rows[n].get(p) or {}).get("p95") or 0)) for i, n in enumerate(sizes) if n in rows
                ]
                series.append(
                    Series(f"{plane + ' ' if plane else ''}{p} p95", points, PALETTE[(j + 3 * k) % len(PALETTE)])
                )
        scale_chart = Markup(
            line_chart(
                series,
                title="Propagation p95 as the configuration grows" + (" (each data plane)" if len(planes) > 1 else ""),
                x_label="existing routes",
                y_label="ms",
                x_ticks=ticks,
            )
        )
    return {
        "propagation": propagation,
        "rounds": section.get("rounds") or [],
        "charts": charts,
        "traffic": traffic_rows,
        "counts": traffic.get("counts") or {},
        "rate": {
            "target": traffic.get("target_rate"),
            "achieved": traffic.get("achieved_rate"),
            "sent": traffic.get("sent"),
        },
        "errors": (traffic.get("errors") or [])[:50],
        "errors_total": len(traffic.get("errors") or []) + int(traffic.get("errors_dropped") or 0),
        "scale": [
            {
                "ingresses": row["ingresses"],
                "plane": row.get("plane") or "",
                **{p: _ms((row.get(p) or {}).get("p95")) for p in PHASES},
            }
            for row in scale
        ],
        "scale_chart": scale_chart,
        "load": section.get("load"),
    }
