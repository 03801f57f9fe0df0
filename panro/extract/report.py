"""What one extraction did, file by file."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

OUTCOMES = ("extracted", "unchanged", "failed", "unmatched")


@dataclass(frozen=True)
class FileResult:
    """One landing file in one extraction.

    outcome: `extracted` (a new raw batch, status `extracted`), `unchanged` (this version is known:
    nothing written), `failed` (recorded in the ledger as `failed`, see reason) or `unmatched`
    (the name or folder fits no contract: reported only, not in the ledger).
    """

    partner: str
    feed: str
    file_name: str
    business_date: dt.date | None
    outcome: str
    batch_id: str | None = None
    rows: int | None = None
    reason: str | None = None
    checksum: str | None = None
    raw_path: str | None = None

    @property
    def feed_name(self) -> str:
        return f"{self.partner}/{self.feed}"


@dataclass
class ExtractReport:
    files: list[FileResult] = field(default_factory=list)
    deferred: int = 0          # files dated after max(dates): left for a later run
    seconds: float = 0.0

    def _having(self, outcome: str) -> list[FileResult]:
        return [f for f in self.files if f.outcome == outcome]

    @property
    def extracted(self) -> list[FileResult]:
        return self._having("extracted")

    @property
    def unchanged(self) -> list[FileResult]:
        return self._having("unchanged")

    @property
    def failed(self) -> list[FileResult]:
        return self._having("failed")

    @property
    def unmatched(self) -> list[FileResult]:
        return self._having("unmatched")

    @property
    def rows_extracted(self) -> int:
        return sum(f.rows or 0 for f in self.extracted)

    def rows_by_feed(self) -> dict[str, int]:
        rows: Counter[str] = Counter()
        for f in self.extracted:
            rows[f.feed_name] += f.rows or 0
        return dict(sorted(rows.items()))

    def totals(self) -> dict[str, int]:
        counts = Counter(f.outcome for f in self.files)
        return {**{o: counts.get(o, 0) for o in OUTCOMES}, "deferred": self.deferred,
                "rows": self.rows_extracted}

    def summary(self) -> str:
        t = self.totals()
        text = (f"{t['extracted']} file(s) extracted ({t['rows']:,} rows), {t['unchanged']} unchanged, "
                f"{t['failed']} failed, {t['unmatched']} unmatched, {t['deferred']} left for a later date, "
                f"in {self.seconds:.1f} s")
        for label, items in (("failed", self.failed), ("unmatched", self.unmatched)):
            if items:
                names = ", ".join(f"{f.feed_name} {f.file_name}" for f in items[:3])
                more = f" and {len(items) - 3} more" if len(items) > 3 else ""
                text += f"; {label}: {names}{more}"
        return text
