-- partner × sales day: the merchant-level sales (metrics.md "Sales") that the festival figures sum,
-- one row per partner and day with any sales record. A day without a row had no record: whether its
-- file was delivered is the published zone's to say (the run report draws such days as gaps).
with daily as (
    select
        s.partner_code,
        s.sales_date,
        cast(sum(s.orders) as bigint) as orders,
        cast(sum(s.sales_krw) as bigint) as sales_krw,
        cast(sum(s.coupon_discount_krw) as bigint) as coupon_discount_krw,
        count(distinct s.merchant_id) filter (where s.sales_krw > 0) as merchants_with_sales
    from {{ ref('int_daily_sales_netted') }} as s
    where s.sales_date is not null
    group by s.partner_code, s.sales_date
)

-- the code's Korean name comes last, as in the other marts
select
    daily.*,
    p.platform_name_ko
from daily
left join {{ ref('partners') }} as p on p.partner_code = daily.partner_code
