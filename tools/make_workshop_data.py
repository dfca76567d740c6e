"""Write data/workshop_recipients.csv: 400 fictional recipients, deterministic.

Numbers come from the UK drama range +44 7700 900000-900999; the sandbox decides each one's
fate by its last three digits (see xms_sandbox.lifecycle.OUTCOMES), so this file includes a few
that fail, expire or are rejected, to make the delivery charts worth looking at.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

FIRST = [
    "Ada",
    "Bo",
    "Chidi",
    "Dana",
    "Eun-ji",
    "Farah",
    "Goran",
    "Hana",
    "Ines",
    "Jonas",
    "Kofi",
    "Lena",
    "Mateo",
    "Nora",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tove",
]
CITIES = ["Leeds", "Bristol", "Glasgow", "Belfast", "Cardiff", "York", "Bath", "Derby"]
PLANS = ["basic", "plus", "family"]


def main() -> None:
    rng = random.Random(2026)
    delivered = rng.sample(range(0, 500), 360)
    troubled = rng.sample(range(500, 950), 40)
    path = Path(__file__).resolve().parent.parent / "data" / "workshop_recipients.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["phone", "name", "city", "plan"])
        numbers = delivered + troubled
        rng.shuffle(numbers)  # trouble anywhere in the file, not only at its end
        for last in numbers:
            name = rng.choice(FIRST) if rng.random() > 0.05 else ""
            writer.writerow([f"+447700900{last:03d}", name, rng.choice(CITIES), rng.choice(PLANS)])


if __name__ == "__main__":
    main()
