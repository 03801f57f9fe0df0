"""The default demonstration data reproduces the article's 2023 figures (marts.md), computed from the files.

Each figure is computed here straight from the partner files of `panro generate` (2023, scale 1) with
plain pandas, following docs/metrics.md, without any pipeline code: so this module also documents how
every figure follows from the feeds.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from functools import cached_property
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

YEAR = 2023
FESTIVALS = {  # domain.md: the 2023 동행축제 editions
    "DH2023-05": (dt.date(2023, 5, 1), dt.date(2023, 5, 28)),
    "DH2023-09": (dt.date(2023, 8, 30), dt.date(2023, 9, 27)),
    "DH2023-12": (dt.date(2023, 12, 4), dt.date(2023, 12, 31)),
}
_WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)


def merchant(value: object) -> str | None:
    """The merchant a BRN identifies (10 digits), or None: wrong shape or failed check digit (domain.md)."""
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).strip()
    if not re.fullmatch(r"\d{3}-?\d{2}-?\d{5}", text):
        return None
    d = [int(c) for c in text.replace("-", "")]
    total = sum(w * x for w, x in zip(_WEIGHTS, d, strict=False)) + (5 * d[8]) // 10
    return text.replace("-", "") if (10 - total % 10) % 10 == d[9] else None


def merchants(values: pd.Series) -> pd.Series:
    """merchant() of every value (computed once per distinct value)."""
    return values.map({v: merchant(v) for v in values.unique()})


def in_festival(days: pd.Series) -> pd.Series:
    """Whether each day (datetime64) falls in a 2023 festival window."""
    out = pd.Series(False, index=days.index)
    for a, b in FESTIVALS.values():
        out |= days.between(pd.Timestamp(a), pd.Timestamp(b))
    return out


def file_date(path: Path) -> dt.date:
    digits = re.sub(r"\D", "", path.stem)
    return dt.datetime.strptime(digits, "%Y%m%d").date()


class Landing:
    """The partner files of one landing folder, read as partners deliver them."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def files(self, feed: str) -> list[Path]:
        return sorted((self.root / feed).iterdir())

    def _csv(self, feed: str, encoding: str, sep: str = ",") -> pd.DataFrame:
        parts = []
        for p in self.files(feed):
            text = p.read_bytes().decode(encoding)
            df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
            df["_file_date"] = file_date(p)
            parts.append(df)
        return pd.concat(parts, ignore_index=True)

    def _jsonl(self, feed: str) -> pd.DataFrame:
        rows = []
        for p in self.files(feed):
            rows += [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
        return pd.DataFrame(rows)

    @cached_property
    def kakao(self) -> pd.DataFrame:
        df = self._jsonl("kakao/talkchannel").drop_duplicates("event_id")     # a redelivered event repeats its id
        df["day"] = pd.to_datetime(df["occurred_at"], utc=True).dt.tz_convert("Asia/Seoul").dt.tz_localize(None) \
            .dt.normalize()
        return df

    @cached_property
    def enrollments(self) -> pd.DataFrame:
        """The latest row per enrollment (files in date order, rows in file order)."""
        df = self._csv("baemin/edu_enrollments", "utf-8-sig")
        return df.sort_values("_file_date", kind="stable").groupby("enrollment_id").tail(1)

    @cached_property
    def kdeal_stores(self) -> pd.DataFrame:
        return self._csv("kt/kdeal_stores", "cp949")

    @cached_property
    def kdeal_orders(self) -> pd.DataFrame:
        return self._csv("kt/kdeal_orders", "cp949")

    @cached_property
    def okcashback(self) -> pd.DataFrame:
        return self._csv("skplanet/okcashback_promo", "utf-8", sep="|")

    @cached_property
    def yogiyo_records(self) -> list[dict]:
        return [r for p in self.files("yogiyo/support") for r in json.loads(p.read_text("utf-8"))["records"]]

    @cached_property
    def yogiyo_orders(self) -> pd.DataFrame:
        return self._csv("yogiyo/orders", "utf-8")

    @cached_property
    def zigzag_support(self) -> pd.DataFrame:
        rows = []
        for p in self.files("zigzag/support"):
            ws = openpyxl.load_workbook(p, read_only=True)["지원내역"]
            values = list(ws.iter_rows(values_only=True))
            rows += [dict(zip(values[0], r, strict=True)) for r in values[1:]]
        df = pd.DataFrame(rows)
        df["day"] = pd.to_datetime(df["지원일"]).dt.normalize()
        return df

    @cached_property
    def zigzag_sales(self) -> pd.DataFrame:
        return pq.read_table(self.files("zigzag/sales")).to_pandas()

    # -- support events (fct_support_events): (partner, merchant, date, item, value) --------------------

    def kdeal_events(self) -> pd.DataFrame:
        """Onboarding on 입점일; a flag's first Y on the first snapshot showing it (입점일 if from the start)."""
        s = self.kdeal_stores.sort_values("_file_date", kind="stable")
        out = []
        for brn, g in s.groupby("사업자등록번호", sort=False):
            onboard = pd.Timestamp(dt.datetime.strptime(g["입점일"].iloc[0], "%Y.%m.%d"))
            out.append((brn, onboard, "kdeal_onboarding"))
            for flag, item in (("수수료면제", "fee_waiver"), ("상세페이지지원", "detail_page"),
                               ("스마트상점", "smart_store")):
                yes = g[g[flag] == "Y"]
                if len(yes):
                    first = yes["_file_date"].iloc[0]
                    out.append((brn, onboard if first == g["_file_date"].iloc[0] else pd.Timestamp(first), item))
        return pd.DataFrame(out, columns=["brn", "day", "item"])

    @cached_property
    def support_events(self) -> pd.DataFrame:
        ev = [
            pd.DataFrame({"partner": "kakao", "brn": self.kakao["biz_reg_no"], "day": self.kakao["day"],
                          "item": self.kakao["event_type"], "value": np.nan}),
            pd.DataFrame({"partner": "baemin", "brn": self.enrollments["biz_reg_no"],
                          "day": pd.to_datetime(self.enrollments["enrolled_at"]).dt.normalize(),
                          "item": "online_course", "value": np.nan}),
            self.kdeal_events().assign(partner="kt", value=np.nan),
            pd.DataFrame({"partner": "skplanet", "brn": self.okcashback["biz_reg_no"],
                          "day": pd.to_datetime(self.okcashback["promo_date"], format="%Y%m%d"),
                          "item": "location_promo", "value": self.okcashback["cashback_points"].astype(float)}),
            pd.DataFrame({"partner": "zigzag", "brn": self.zigzag_support["사업자번호"], "day":
                          self.zigzag_support["day"], "item": self.zigzag_support["지원항목"],
                          "value": self.zigzag_support["지원금액"].astype(float)}),
        ]
        yg = []
        for r in self.yogiyo_records:
            brn = r["merchant"]["brn"]
            if r["package"] == "1+1":
                yg.append(("yogiyo", brn, pd.Timestamp(r["enrolled_at"]), "o2o_package",
                           r["gov_support_krw"] + r["private_support_krw"], r["private_support_krw"]))
            for e in r["extras"]:
                yg.append(("yogiyo", brn, pd.Timestamp(e["applied_at"]), e["type"], e["amount_krw"],
                           e["amount_krw"]))
        ev.append(pd.DataFrame(yg, columns=["partner", "brn", "day", "item", "value", "private"]))
        df = pd.concat(ev, ignore_index=True)
        df["day"] = pd.to_datetime(df["day"])
        df["merchant"] = merchants(df["brn"])
        df = df[df["merchant"].notna() & (df["day"].dt.year == YEAR)]
        return df

    # -- sales (fct_daily_sales) ------------------------------------------------------------------------

    def kdeal_sales(self) -> pd.DataFrame:
        o = self.kdeal_orders
        cancelled = set(o.loc[o["주문상태"] == "취소", "주문번호"])
        paid = o[(o["주문상태"] == "결제완료") & ~o["주문번호"].isin(cancelled)]
        return pd.DataFrame({"merchant": merchants(paid["사업자등록번호"]),
                             "day": pd.to_datetime(paid["주문일시"], format="%Y-%m-%d %H:%M:%S").dt.normalize(),
                             "sales": paid["주문금액"].str.replace(",", "").astype(np.int64)})

    def yogiyo_sales(self) -> pd.DataFrame:
        o = self.yogiyo_orders
        return pd.DataFrame({"merchant": merchants(o["biz_reg_no"]),
                             "day": pd.to_datetime(o["order_date"], format="%Y-%m-%d"),
                             "sales": o["gross_sales_krw"].astype(np.int64)})

    def zigzag_daily(self) -> pd.DataFrame:
        s = self.zigzag_sales
        return pd.DataFrame({"merchant": merchants(s["biz_reg_no"]), "day": pd.to_datetime(s["sales_date"]),
                             "sales": s["gmv_krw"].astype(np.int64)})


@pytest.fixture(scope="module")
def landing(demo_landing: Path) -> Landing:
    return Landing(demo_landing)


def test_merchants_reached_is_16867(landing: Landing) -> None:
    """Distinct valid BRNs with ≥1 support event dated in 2023, over all six partners."""
    ev = landing.support_events
    assert set(ev["partner"]) == {"kakao", "baemin", "kt", "skplanet", "yogiyo", "zigzag"}
    assert ev["merchant"].nunique() == 16_867
    per_partner = ev.groupby("partner")["merchant"].nunique()
    assert per_partner.sum() > 16_867           # merchants take part with more than one partner


def test_every_brn_in_the_files_is_valid_and_a_supported_merchant(landing: Landing) -> None:
    supported = set(landing.support_events["merchant"])
    seen = pd.concat([landing.kdeal_orders["사업자등록번호"], landing.yogiyo_orders["biz_reg_no"],
                      landing.zigzag_sales["biz_reg_no"], landing.enrollments["biz_reg_no"].replace("", None)
                      .dropna()]).unique()
    normalised = [merchant(b) for b in seen]  # every delivered BRN, bare or dashed
    assert None not in normalised
    assert set(normalised) <= supported


def test_traditional_markets_is_111(landing: Landing) -> None:
    k = landing.kakao
    assert k.loc[k["day"].dt.year == YEAR, "market_id"].dropna().nunique() == 111


def test_courses_29_learners_27000_satisfaction_4_83(landing: Landing) -> None:
    e = landing.enrollments
    e = e[pd.to_datetime(e["enrolled_at"]).dt.year == YEAR]
    assert e["course_id"].nunique() == 29
    assert e["learner_id"].nunique() == 27_000
    rated = pd.to_numeric(e["satisfaction"].replace("", None)).dropna()
    assert rated.between(1.0, 5.0).all()
    assert abs(rated.mean() - 4.83) <= 0.002


def test_smart_stores_is_200(landing: Landing) -> None:
    ev = landing.support_events
    assert ev.loc[(ev["partner"] == "kt") & (ev["item"] == "smart_store"), "merchant"].nunique() == 200


def test_yogiyo_packages_2200_and_extras_1500(landing: Landing) -> None:
    ev = landing.support_events
    y = ev[ev["partner"] == "yogiyo"]
    package = set(y.loc[y["item"] == "o2o_package", "merchant"])
    extra = set(y.loc[y["item"].isin(["menu_photo", "ad_discount", "coupon_pack"]), "merchant"])
    assert len(package) == 2_200
    assert len(extra) == 1_500
    assert not package & extra                   # extras go to merchants without the package


def growth_multiple(first_support: pd.Series, daily: pd.DataFrame) -> tuple[float, int]:
    """Mean over merchants of after/before (metrics.md): 28-day windows around the first support d0."""
    sales = daily.groupby(["merchant", "day"])["sales"].sum()
    ratios = []
    for m, d0 in first_support.items():
        s = sales.get(m)
        if s is None:
            continue
        idx = pd.to_datetime(pd.Index(s.index))
        d = pd.Timestamp(d0)
        before = s[(idx >= d - pd.Timedelta(days=28)) & (idx < d)].sum() / 28
        after = s[(idx >= d) & (idx < d + pd.Timedelta(days=28))].sum() / 28
        if before > 0:
            ratios.append(after / before)
    return float(np.mean(ratios)), len(ratios)


def test_zigzag_sales_growth_is_3_3(landing: Landing) -> None:
    ev = landing.support_events
    first = ev[ev["partner"] == "zigzag"].groupby("merchant")["day"].min()
    assert first.between(pd.Timestamp(2023, 1, 29), pd.Timestamp(2023, 12, 4)).all()   # windows inside 2023
    value, merchants = growth_multiple(first, landing.zigzag_daily())
    assert merchants == first.size
    assert abs(value - 3.3) <= 0.01


def test_festival_sales_are_400_billion(landing: Landing) -> None:
    """Order value before discounts in the three 2023 festival windows, K-deal net of cancelled orders."""
    total = {}
    for partner, daily in (("kt", landing.kdeal_sales()), ("yogiyo", landing.yogiyo_sales()),
                           ("zigzag", landing.zigzag_daily())):
        total[partner] = int(daily.loc[in_festival(daily["day"]), "sales"].sum())
    grand = sum(total.values())
    assert abs(grand - 400e9) <= 0.01 * 400e9
    assert 0.4 < total["yogiyo"] / grand < 0.6
    assert 0.25 < total["zigzag"] / grand < 0.45
    assert 0.08 < total["kt"] / grand < 0.2


def test_private_support_is_over_7_billion(landing: Landing) -> None:
    """요기요 private share of packages + extras, 지그재그 지원금액, OK캐쉬백 points, dated in 2023."""
    ev = landing.support_events
    yogiyo = ev.loc[ev["partner"] == "yogiyo", "private"].sum()
    zigzag = ev.loc[ev["partner"] == "zigzag", "value"].sum()
    skplanet = ev.loc[ev["partner"] == "skplanet", "value"].sum()
    total = yogiyo + zigzag + skplanet
    assert total >= 7.0e9
    assert 7.2e9 <= total <= 7.6e9
    assert min(yogiyo, zigzag, skplanet) > 0.5e9


def test_summary_counts_what_was_written(demo_summary, demo_landing: Path) -> None:
    assert len(demo_summary.feeds) == 12
    for name, feed in demo_summary.feeds.items():
        files = list((demo_landing / name).iterdir())
        assert feed.files == len(files) > 200
        assert feed.bytes == sum(p.stat().st_size for p in files)
    assert demo_summary.rows < 5_000_000
