"""The gate's decision (rule 2) as a pure function: a batch's check results and its contract's row
tolerance in, publish / publish without the rejected rows / hold out. No GX, no files, no ledger."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import numpy as np
import pytest

from panro.domain.contracts import FeedContract
from panro.gate.deciding import decide, row_reasons
from panro.gate.outcomes import BatchAudit, RuleFailure
from panro.lake.ledger import Batch

ROWS = 200


def contract(tolerance: float = 0.01) -> FeedContract:
    return FeedContract(partner="yogiyo", feed="orders", description="", file_pattern=r"(?P<date>.*)",
                        date_format="%Y%m%d", format="csv", encoding="utf-8", delimiter=",", sheet=None,
                        records=None, document_fields=(), kind="events", key=(), columns=(),
                        row_tolerance=tolerance)


def checked(*failures: RuleFailure, tolerance: float = 0.01, fatal: tuple[str, ...] = ()) -> BatchAudit:
    """A batch of ROWS rows as a check hands it back: failures at positions in the batch, no rows."""
    batch = Batch(batch_id="yogiyo/orders/orders_20230506.csv@abc", partner="yogiyo", feed="orders",
                  file_name="orders_20230506.csv", source_uri="mem://orders_20230506.csv", checksum="abc" * 10,
                  size_bytes=1, source_mtime=None, business_date=dt.date(2023, 5, 6),
                  seen_at=dt.datetime(2023, 5, 7, tzinfo=dt.UTC), status="extracted", reason=None,
                  rows_delivered=ROWS, rows_published=None, rows_rejected=None, raw_path=None, decided_at=None,
                  decided_by=None)
    return BatchAudit(batch, contract(tolerance), rows=ROWS, start=0, stop=ROWS, failures=list(failures),
                      fatal=list(fatal))


def row_rule(rule: str, positions: list[int], severity: str = "critical") -> RuleFailure:
    return RuleFailure(rule=rule, severity=severity, unit="row", reason=f"{rule} is wrong",
                       expectation_type=f"expect_{rule}", columns=["biz_reg_no"], count=len(positions), rows=ROWS,
                       positions=np.array(positions, dtype=np.int64))


def batch_rule(rule: str, severity: str = "critical") -> RuleFailure:
    return RuleFailure(rule=rule, severity=severity, unit="batch", reason=f"{rule} is off",
                       expectation_type=f"expect_{rule}", columns=[], count=1, rows=ROWS, detail="the detail")


def test_a_batch_without_failures_is_published_whole() -> None:
    d = decide(checked())
    assert (d.outcome, d.rejected.tolist(), d.reasons, d.warnings) == ("published", [], [], [])


def test_warnings_never_block_and_are_reported() -> None:
    d = decide(checked(batch_rule("volume", "warning"), row_rule("email", [1, 2, 3, 4, 5], "warning")))
    assert d.outcome == "published" and d.rejected.tolist() == [] and d.reasons == []
    assert len(d.warnings) == 2 and "volume is off" in d.warnings[0] and "5 of 200 rows" in d.warnings[1]


def test_rows_within_the_tolerance_are_rejected_and_the_rest_published() -> None:
    d = decide(checked(row_rule("brn", [7, 3]), row_rule("amount", [3])))   # 2 distinct rows of 200 = 1%
    assert d.outcome == "published_with_rejections"
    assert d.rejected.tolist() == [3, 7]
    assert [r.split(" — ")[1] for r in d.reasons] == ["brn: brn is wrong", "amount: amount is wrong"]


def test_rows_above_the_tolerance_hold_the_whole_batch() -> None:
    d = decide(checked(row_rule("brn", [0, 1, 2])))                         # 3 of 200 = 1.5% > 1%
    assert d.outcome == "quarantined"
    assert d.rejected.tolist() == [0, 1, 2]
    assert "reject 3 of 200 rows (1.5%), above the tolerance of 1%: the whole batch is held" in d.reasons[0]


@pytest.mark.parametrize(("tolerance", "outcome"), [(0.0, "quarantined"), (0.01, "quarantined"),
                                                    (0.05, "published_with_rejections")])
def test_the_contracts_tolerance_decides_between_rejecting_rows_and_holding(tolerance: float, outcome: str) -> None:
    assert decide(checked(row_rule("brn", list(range(6))), tolerance=tolerance)).outcome == outcome


def test_a_failed_critical_batch_rule_holds_the_batch_whatever_its_rows() -> None:
    d = decide(checked(batch_rule("future")))
    assert d.outcome == "quarantined" and d.rejected.tolist() == []
    assert d.reasons == ["yogiyo/orders orders_20230506.csv — future: future is off — the detail"]


def test_a_batch_that_could_not_be_read_is_held_with_why() -> None:
    d = decide(checked(fatal=("the raw batch file is missing (raw/x.parquet)",)))
    assert d.outcome == "quarantined"
    assert d.reasons == ["yogiyo/orders orders_20230506.csv — the raw batch file is missing (raw/x.parquet)"]


def test_each_rejected_row_keeps_the_rules_it_failed() -> None:
    a = checked(row_rule("brn", [3, 7]), row_rule("amount", [3]), row_rule("email", [7], "warning"))
    d = decide(a)
    assert row_reasons(a, d.rejected) == [["brn: brn is wrong", "amount: amount is wrong"], ["brn: brn is wrong"]]


def test_deciding_needs_no_great_expectations() -> None:
    code = ("import sys, panro.gate.deciding, panro.gate.outcomes\n"
            "print(sorted(m for m in ('great_expectations', 'panro.gate.gx', 'panro.gate.checking') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
