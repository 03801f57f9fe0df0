"""Deciding (rule 2), a pure function of a batch's check results and its contract's tolerance: a
failed critical `batch` expectation holds the batch; critical `row` expectations reject the rows they
flag when those are at most the contract's `row_tolerance` of the batch, and hold the batch above it;
warnings never block and are reported. No GX, no files: `decide` reads only the `BatchAudit` it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from panro.gate.outcomes import BatchAudit
from panro.gate.reading import contract_signature, signature


@dataclass
class Decision:
    audit: BatchAudit
    outcome: str
    rejected: np.ndarray            # union positions of rejected rows
    reasons: list[str]
    warnings: list[str]

    @property
    def published_whole(self) -> bool:
        """Published with every row, in the contract's schema: its raw file is published as it is (a
        link, `apply_decisions`), and its rows need not be read again."""
        a = self.audit
        return (self.outcome != "quarantined" and not len(self.rejected) and a.schema is not None
                and signature(a.schema) == contract_signature(a.contract))


def decide(a: BatchAudit) -> Decision:
    """Publish, publish without the rejected rows, or hold: from the audit's failures, what could not
    be read (`fatal`) and the contract's `row_tolerance` only."""
    b, tol = a.batch, a.contract.row_tolerance
    crit = [f for f in a.failures if f.severity == "critical"]
    held = [f for f in crit if f.unit == "batch"]
    row_fail = [f for f in crit if f.unit == "row"]
    warnings = [f.describe(b) for f in a.failures if f.severity != "critical"]
    rejected = (np.unique(np.concatenate([f.positions for f in row_fail])) if row_fail
                else np.zeros(0, dtype=np.int64))
    reasons = [f"{b.partner}/{b.feed} {b.file_name} — {m}" for m in a.fatal] + [f.describe(b) for f in held]
    share = len(rejected) / a.rows if a.rows else 0.0
    if row_fail and share > tol:
        reasons.append(f"{b.partner}/{b.feed} {b.file_name} — row rules reject {len(rejected):,} of {a.rows:,} rows "
                       f"({share:.1%}), above the tolerance of {tol:.0%}: the whole batch is held")
    reasons += [f.describe(b) for f in row_fail]
    if a.fatal or held or share > tol:
        return Decision(a, "quarantined", rejected, reasons, warnings)
    return Decision(a, "published_with_rejections" if len(rejected) else "published", rejected, reasons, warnings)


def row_reasons(a: BatchAudit, rejected: np.ndarray) -> list[list[str]]:
    by_pos: dict[int, list[str]] = {int(p): [] for p in rejected}
    for f in a.failures:
        if f.severity == "critical" and f.unit == "row" and f.positions is not None:
            for p in f.positions.tolist():
                if p in by_pos:
                    by_pos[p].append(f"{f.rule}: {f.reason}")
    return [by_pos[int(p)] for p in rejected]
