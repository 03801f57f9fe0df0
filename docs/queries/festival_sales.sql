-- 동행축제 sales by festival and partner: sales in the official window against the 28 days before it.
-- 배민 (baemin) rows are delivery aggregates, not merchant-level sales: the KPI leaves them out.
select
    festival_code,
    festival_name_ko,
    platform_name_ko,
    sum(sales_krw) as sales_krw,
    sum(baseline_sales_krw) as baseline_sales_krw,
    round(sum(sales_krw) / any_value(festival_days)
          / nullif(sum(baseline_sales_krw) / any_value(baseline_days), 0), 2) as uplift_ratio
from marts.mart_festival_sales
group by all
order by festival_code, sales_krw desc;
