"""The delivery chart: recipients per status as SVG in Jupyter and as text bars elsewhere.

It needs no plotting library: importing matplotlib costs half a second or more in a kernel.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from .lazy import pd

STATUS_COLOURS = {
    "Delivered": "#2e7d32",
    "Dispatched": "#64b5f6",
    "Queued": "#bdbdbd",
    "Failed": "#c62828",
    "Expired": "#ef6c00",
    "Rejected": "#8e24aa",
    "Aborted": "#6d4c41",
    "Cancelled": "#757575",
    "Deleted": "#455a64",
    "Unknown": "#fbc02d",
}


def status_counts(table: pd.DataFrame) -> list[tuple[str, int]]:
    """(status, recipients) pairs, most common first, from a delivery table.

    >>> status_counts(pd.DataFrame({"status": ["Delivered", "Failed", "Delivered"]}))
    [('Delivered', 2), ('Failed', 1)]
    """
    if "status" not in table:
        raise ValueError(
            "plot_delivery needs a delivery report (client.delivery_report(...)) or a table "
            f"from delivery_frame(); this table has no 'status' column: {list(table.columns)}."
        )
    if "count" in table:
        counts = table.groupby("status")["count"].sum()
    else:
        counts = table["status"].value_counts()
    return sorted(((str(s), int(n)) for s, n in counts.items()), key=lambda p: (-p[1], p[0]))


@dataclass(frozen=True)
class StatusChart:
    """Recipients per status as a horizontal bar chart.

    Jupyter draws it as SVG; anywhere else (a terminal, a test, a stored notebook's plain-text
    output) it prints as text bars.

    >>> print(StatusChart((("Delivered", 2), ("Failed", 1)), "Two and one"))
    Two and one
    Delivered  ██████████████████████████████ 2
    Failed     ███████████████ 1
    """

    counts: tuple[tuple[str, int], ...]
    title: str = "Delivery status"

    _ROW = 26  # pixels per bar
    _LABEL = 100  # pixels for the status names
    _BARS = 360  # pixels for the longest bar

    def __repr__(self) -> str:
        if not self.counts:
            return f"{self.title}\n(no recipients)"
        widest = max(len(status) for status, _ in self.counts)
        most = max(n for _, n in self.counts) or 1
        lines = [self.title]
        for status, n in self.counts:
            bar = "█" * max(1 if n else 0, round(30 * n / most))
            lines.append(f"{status:<{widest}}  {bar} {n}" if bar else f"{status:<{widest}}  {n}")
        return "\n".join(lines)

    def _repr_svg_(self) -> str:
        most = max((n for _, n in self.counts), default=0) or 1
        top = 34
        height = top + self._ROW * max(1, len(self.counts)) + 8
        width = self._LABEL + self._BARS + 60
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'font-family="sans-serif" font-size="13">',
            '<rect width="100%" height="100%" fill="white"/>',  # readable on dark themes too
            f'<text x="{self._LABEL}" y="20" font-weight="bold">{escape(self.title)}</text>',
        ]
        for row, (status, n) in enumerate(self.counts):
            y = top + row * self._ROW
            length = max(1.0, self._BARS * n / most) if n else 0.0
            colour = STATUS_COLOURS.get(status, "#90a4ae")
            parts += [
                f'<text x="{self._LABEL - 8}" y="{y + 16}" text-anchor="end">'
                f"{escape(status)}</text>",
                f'<rect x="{self._LABEL}" y="{y + 3}" width="{length:.1f}" height="{self._ROW - 6}"'
                f' fill="{colour}"/>',
                f'<text x="{self._LABEL + length + 6:.1f}" y="{y + 16}">{n}</text>',
            ]
        parts.append("</svg>")
        return "\n".join(parts)
