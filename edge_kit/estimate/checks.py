"""Sanity checks of the estimates against the published rows: ordering and int8/fp32 ratios per board.

Each check uses one prediction per published row (normally the out-of-sample one: the row's model
held out of the fit) and compares what the published table implies with what the estimate implies:

- ordering: on each board, every pair of rows sorted by published latency must be sorted the same
  way by the estimate (pairs closer than `TIE_PCT` in the published table are ties and skipped);
- int8/fp32: for each model published in both precisions on a board, fp32 ms / int8 ms published
  against estimated.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations
from typing import Any

TIE_PCT = 5.0  # published latencies closer than this are not ordered


@dataclass(frozen=True)
class Pair:
    """Two rows of one board, in published order (faster first), and whether the estimate agrees."""

    board: str
    faster: str
    slower: str
    published_ratio: float
    estimated_ratio: float

    @property
    def agrees(self) -> bool:
        return self.estimated_ratio > 1.0


def _label(row: dict[str, Any]) -> str:
    return f"{row['model']} {row['precision']}"


def ordering(rows: list[dict[str, Any]], key: str) -> list[Pair]:
    """Every pair of rows on the same board, ordered by published latency; `key` names the estimate."""
    by_board: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_board[r["target"]].append(r)
    pairs = []
    for board, members in sorted(by_board.items()):
        for a, b in combinations(sorted(members, key=lambda r: r["latency_ms"]), 2):
            if b["latency_ms"] < a["latency_ms"] * (1 + TIE_PCT / 100):
                continue
            pairs.append(Pair(board, _label(a), _label(b), b["latency_ms"] / a["latency_ms"], b[key] / a[key]))
    return pairs


def int8_ratios(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """fp32 / int8 latency ratio, published and estimated, for each (board, model) with both precisions."""
    found: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in rows:
        found[(r["target"], r["model"])][r["precision"]] = r
    out = []
    for (board, model), prec in sorted(found.items()):
        if "fp32" in prec and "int8" in prec:
            pub = prec["fp32"]["latency_ms"] / prec["int8"]["latency_ms"]
            est = prec["fp32"][key] / prec["int8"][key]
            out.append(
                {
                    "board": board,
                    "model": model,
                    "published": round(pub, 3),
                    "estimated": round(est, 3),
                    "error_pct": round(100 * (est / pub - 1), 1),
                }
            )
    return out


def summary(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """Both checks as a JSON-able document."""
    pairs = ordering(rows, key)
    return {
        "prediction": key,
        "ordering": {
            "pairs": len(pairs),
            "agree": sum(p.agrees for p in pairs),
            "disagreements": [
                {
                    "board": p.board,
                    "faster": p.faster,
                    "slower": p.slower,
                    "published_ratio": round(p.published_ratio, 3),
                    "estimated_ratio": round(p.estimated_ratio, 3),
                }
                for p in pairs
                if not p.agrees
            ],
        },
        "int8_fp32": int8_ratios(rows, key),
    }


def text(doc: dict[str, Any]) -> str:
    """The checks as lines for bench_estimate / the calibrate CLI."""
    o = doc["ordering"]
    lines = [
        f"ordering on each board ({doc['prediction']}): {o['agree']}/{o['pairs']} pairs agree with the published order"
    ]
    lines += [
        f"  disagrees on {d['board']}: {d['faster']} < {d['slower']} published ({d['published_ratio']:.2f}x), "
        f"estimated {d['estimated_ratio']:.2f}x"
        for d in o["disagreements"]
    ]
    lines.append("fp32 / int8 latency ratio:")
    lines += [
        f"  {r['board']:<8}{r['model']:<28} published {r['published']:.2f}x, estimated {r['estimated']:.2f}x "
        f"({r['error_pct']:+.1f}%)"
        for r in doc["int8_fp32"]
    ]
    return "\n".join(lines)
