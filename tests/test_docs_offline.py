"""Docs that open offline (the agency's network is): the gate's Data Docs — the project's own pages over
GX's validation results, named for partner, feed and file, every delivered value escaped (a partner can
deliver markup) — and dbt's docs, one static page that opens from file://."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from panro.gate import audit
from panro.lake.ledger import Ledger
from panro.settings import DataDirs
from tests.support.raw import clean_rows, write_batch

D = dt.date(2023, 5, 5)
TODAY = dt.date(2023, 6, 1)
MARKUP = "<script>alert('sido')</script>"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> DataDirs:
    """Two gate runs: a clean night, then one where 카카오 delivered markup as a 시도 and every K-deal
    order line has an unknown status."""
    dirs = DataDirs.from_env(tmp_path_factory.mktemp("docs") / "data")
    with Ledger(dirs.ledger_path) as ledger:
        write_batch(dirs, ledger, "yogiyo/orders", clean_rows("yogiyo/orders", 50, D), day=D)
        audit(dirs, ledger, run_id="first-night", today=TODAY)
        talk = clean_rows("kakao/talkchannel", 60, D)
        for r in talk[:3]:
            r["sido"] = MARKUP
        write_batch(dirs, ledger, "kakao/talkchannel", talk, day=D)
        orders = clean_rows("kt/kdeal_orders", 40, D)
        for r in orders:
            r["주문상태"] = "<b>환불</b>"
        write_batch(dirs, ledger, "kt/kdeal_orders", orders, day=D)
        write_batch(dirs, ledger, "yogiyo/orders", clean_rows("yogiyo/orders", 50, D + dt.timedelta(days=1)),
                    day=D + dt.timedelta(days=1))
        audit(dirs, ledger, run_id="second-night", today=TODAY)
    return dirs


def pages(dirs: DataDirs) -> dict[str, str]:
    return {str(p.relative_to(dirs.data_docs)): p.read_text(encoding="utf-8")
            for p in dirs.data_docs.rglob("*.html")}


def test_pages_are_named_for_partner_feed_and_file(site: DataDirs) -> None:
    names = sorted(re.sub(r"^runs/\d{8}T\d{6}Z_", "runs/", p) for p in pages(site))
    assert names == ["index.html",
                     "runs/first-night/yogiyo/orders/orders_daily_20230505.csv.html",
                     "runs/second-night/kakao/talkchannel/talkchannel_20230505.jsonl.html",
                     "runs/second-night/kt/kdeal_orders/KDEAL_ORDER_20230505.csv.html",
                     "runs/second-night/yogiyo/orders/orders_daily_20230506.csv.html"]
    talk = next(t for p, t in pages(site).items() if p.endswith("talkchannel_20230505.jsonl.html"))
    assert "<h1>kakao / talkchannel</h1>" in talk and "<code>talkchannel_20230505.jsonl</code>" in talk
    assert "business dates 2023-05-05 – 2023-05-05" in talk and "Data asset: None" not in talk


def test_delivered_values_are_escaped_everywhere(site: DataDirs) -> None:
    for path, text in pages(site).items():
        assert "<script" not in text and "<b>" not in text, path
    talk = next(t for p, t in pages(site).items() if p.endswith("talkchannel_20230505.jsonl.html"))
    assert "&lt;script&gt;alert(&#39;sido&#39;)&lt;/script&gt;</span> ×3" in talk
    orders = next(t for p, t in pages(site).items() if p.endswith("KDEAL_ORDER_20230505.csv.html"))
    assert "&lt;b&gt;환불&lt;/b&gt;" in orders and "40 (100.00 %)" in orders


def test_the_index_lists_every_run_newest_first_with_links_that_resolve(site: DataDirs) -> None:
    index = (site.data_docs / "index.html").read_text(encoding="utf-8")
    assert index.index("run second-night") < index.index("run first-night")
    links = re.findall(r'href="([^"]+)"', index)
    assert len(links) == 4 and all((site.data_docs / link).exists() for link in links)
    assert "KDEAL_ORDER_20230505.csv" in index and ">failed<" in index and ">passed<" in index


def test_the_data_docs_open_offline_in_chromium_and_run_nothing(site: DataDirs, tmp_path) -> None:
    from tests.support.browser import opened

    talk = next(site.data_docs.rglob("talkchannel_20230505.jsonl.html"))
    for page in (site.data_docs / "index.html", talk):
        with opened(page) as seen:
            rows = seen.page.locator("table tr").count()
            seen.page.screenshot(path=str(tmp_path / f"{page.stem}.png"), full_page=True)
        assert seen.errors == [] and seen.external == []
        assert rows > 3
    assert not (site.data_docs / "static").exists()     # no GX site pulling CDN assets


def test_dbt_docs_are_one_page_that_opens_from_file_offline(small_publication: DataDirs, tmp_path) -> None:
    from panro.transform.build import docs_generate
    from tests.support.browser import opened

    run = docs_generate(small_publication, tmp_path / "dbt_docs")
    assert run.success, run.summary()
    index = tmp_path / "dbt_docs" / "index.html"
    text = index.read_text(encoding="utf-8")
    assert "MANIFEST.JSON INLINE DATA" not in text and '"mart_program_kpis"' in text   # the manifest inside
    with opened(index) as seen:
        seen.page.goto(index.as_uri() + "#!/model/model.panro.mart_program_kpis")
        seen.page.wait_for_selector("text=kpi_name_ko", timeout=30_000)
        shown = seen.page.inner_text("body")
        seen.page.screenshot(path=str(tmp_path / "dbt_docs.png"))
    # dbt's page (AngularJS) first tries its icons' href templates as they are, `{{ getIcon(…) }}`, and
    # its favicon's, `${require(…)}`: Chromium logs each as a console error; the icons then draw.
    # Nothing else may go wrong.
    unexpected = [e for e in seen.errors if not (
        (e.startswith("console error: Unsafe attempt to load URL file:") and "%7B%7B%20getIcon(" in e)
        or e.startswith("console error: Failed to load resource: net::ERR_FILE_NOT_FOUND"))]
    assert unexpected == [] and seen.external == []
    assert "사업 KPI" in shown                    # the model's description, from the yml
