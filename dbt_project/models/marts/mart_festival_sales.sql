-- festival × partner × 시도 × category (marts.md, metrics.md Festival sales).
--   merchant-level feeds (kt, yogiyo, zigzag; int_daily_sales_netted): participating merchants are
--     those with sales in the window; region and category from dim_merchant; the baseline is
--     their sales in the 28 days just before the festival.
--   배민 delivery aggregates (partner baemin): 시도 from the 시군구 code, the feed's category;
--     the baseline is the same 시군구 × category cells (those with sales in the window) in the
--     28 days before. participating_merchants and coupon_discount_krw are NULL (not in the feed).
-- sales_krw is the order value before coupon discounts. data_complete_through: the partner's sales
-- feeds are complete through that business date; period_complete: through the festival's last day.
{% set baseline_days = var('baseline_days') %}
with festivals as (
    select
        festival_code,
        start_date,
        end_date,
        datediff('day', start_date, end_date) + 1 as festival_days
    from {{ ref('dim_festival') }}
),

merchant_windows as (
    select
        f.festival_code,
        f.festival_days,
        s.partner_code,
        s.merchant_id,
        sum(s.orders) filter (where s.sales_date >= f.start_date) as orders,
        sum(s.sales_krw) filter (where s.sales_date >= f.start_date) as sales_krw,
        sum(s.coupon_discount_krw) filter (where s.sales_date >= f.start_date) as coupon_discount_krw,
        sum(s.sales_krw) filter (where s.sales_date < f.start_date) as baseline_sales_krw
    from festivals as f
    join {{ ref('int_daily_sales_netted') }} as s
        on s.sales_date between f.start_date - {{ baseline_days }} and f.end_date
    group by all
),

merchant_level as (
    select
        w.festival_code,
        w.partner_code,
        m.sido_code,
        m.category,
        any_value(w.festival_days) as festival_days,
        count(*) as participating_merchants,
        sum(w.orders) as orders,
        sum(w.sales_krw) as sales_krw,
        sum(coalesce(w.coupon_discount_krw, 0)) as coupon_discount_krw,
        sum(coalesce(w.baseline_sales_krw, 0)) as baseline_sales_krw
    from merchant_windows as w
    left join {{ ref('dim_merchant') }} as m on m.merchant_id = w.merchant_id
    where w.sales_krw > 0
    group by all
),

baemin_cells as (
    select *
    from {{ ref('stg_baemin__delivery_stats') }}
    qualify row_number() over (
        partition by stat_date, sigungu_code, category order by _business_date desc, _row_number desc) = 1
),

baemin_windows as (
    select
        f.festival_code,
        f.festival_days,
        c.sido_code,
        c.sigungu_code,
        c.category,
        sum(c.orders) filter (where c.stat_date >= f.start_date) as orders,
        sum(c.sales_krw) filter (where c.stat_date >= f.start_date) as sales_krw,
        sum(c.sales_krw) filter (where c.stat_date < f.start_date) as baseline_sales_krw
    from festivals as f
    join baemin_cells as c
        on c.stat_date between f.start_date - {{ baseline_days }} and f.end_date
    group by all
),

baemin as (
    select
        festival_code,
        'baemin' as partner_code,
        sido_code,
        category,
        any_value(festival_days) as festival_days,
        cast(null as bigint) as participating_merchants,
        sum(orders) as orders,
        sum(sales_krw) as sales_krw,
        cast(null as bigint) as coupon_discount_krw,
        sum(coalesce(baseline_sales_krw, 0)) as baseline_sales_krw
    from baemin_windows
    where sales_krw > 0
    group by all
),

combined as (
    select * from merchant_level
    union all
    select * from baemin
),

sales as (
    select
        festival_code,
        partner_code,
        sido_code,
        category,
        cast(festival_days as bigint) as festival_days,
        cast(participating_merchants as bigint) as participating_merchants,
        cast(orders as bigint) as orders,
        cast(sales_krw as bigint) as sales_krw,
        cast(coupon_discount_krw as bigint) as coupon_discount_krw,
        cast({{ baseline_days }} as bigint) as baseline_days,
        cast(baseline_sales_krw as bigint) as baseline_sales_krw,
        case when baseline_sales_krw > 0
             then (sales_krw * {{ baseline_days }}) / (baseline_sales_krw * festival_days)
        end as uplift_ratio
    from combined
),

-- how far the partner's sales feeds are complete (metrics.md, Completeness)
sales_complete as (
    select partner_code, data_complete_through
    from {{ ref('int_partner_figures_completeness') }}
    where figure = 'sales'
)

-- the codes' Korean names come last, so that the contract's columns keep their places
select
    sales.*,
    s.data_complete_through,
    coalesce(s.data_complete_through >= fe.end_date, false) as period_complete,
    f.festival_name_ko,
    p.platform_name_ko,
    r.sido_name_ko
from sales
join festivals as fe on fe.festival_code = sales.festival_code
left join sales_complete as s on s.partner_code = sales.partner_code
left join {{ ref('festivals') }} as f on f.festival_code = sales.festival_code
left join {{ ref('partners') }} as p on p.partner_code = sales.partner_code
left join {{ ref('regions') }} as r on r.sido_code = sales.sido_code
