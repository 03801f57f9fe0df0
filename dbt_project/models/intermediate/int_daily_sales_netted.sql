{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_changed_keys(sales_day_fingerprints(ref('int_sales_records_unioned')),
                                         ['partner_code', 'sales_date'], 'day_records', 'day_fingerprint') }}",
        post_hook="{{ drop_fingerprints() }}",
    )
}}
-- Merchant-day sales per partner (metrics.md "fct_daily_sales"): 요기요 gross_sales_krw on
-- order_date, 지그재그 gmv_krw on sales_date, K-deal 주문금액 on the KST date of 주문일시 summed over
-- the orders that have no 취소 record (whenever it arrived).
-- These feeds send each record once (a correction re-delivers the file, which replaces the
-- file's rows upstream), so records are summed as they are; 지그재그 stores of one merchant add up.
--
-- Incremental by sales day (macros/sales_days.sql, on macros/fingerprints.sql): every row
-- carries its day's fingerprint, the record versions that make the day up. A nightly run deletes
-- the days whose fingerprint changed (new, re-delivered or withdrawn records, or a K-deal
-- cancellation of one of the day's orders) and recomputes only the days it no longer holds, so
-- its cost does not grow with history.
with days as (
    {{ fingerprints_of(sales_day_fingerprints(ref('int_sales_records_unioned'))) }}
),

pending_days as (
    select *
    from days
    where {{ not_held_yet('days', ['partner_code', 'sales_date']) }}
),

records as (
    select r.*, d.day_records, d.day_fingerprint
    from {{ ref('int_sales_records_unioned') }} as r
    join pending_days as d
        on d.partner_code = r.partner_code and d.sales_date is not distinct from r.sales_date
),

cancelled_orders as (
    select distinct order_id
    from {{ ref('int_sales_records_unioned') }}
    where partner_code = 'kt' and is_cancellation
)

select
    r.partner_code,
    r.merchant_id,
    r.sales_date,
    cast(sum(r.orders) as bigint) as orders,
    cast(sum(r.sales_krw) as bigint) as sales_krw,
    cast(sum(r.coupon_discount_krw) as bigint) as coupon_discount_krw,
    any_value(r.day_records) as _day_records,
    any_value(r.day_fingerprint) as _day_fingerprint,
    {{ staged_at() }} as _staged_at
from records as r
anti join cancelled_orders as c
    on r.partner_code = 'kt' and c.order_id = r.order_id
where not r.is_cancellation
group by r.partner_code, r.merchant_id, r.sales_date
