-- Merchant-day sales per partner (metrics.md "fct_daily_sales"): 요기요 gross_sales_krw on
-- order_date, 지그재그 gmv_krw on sales_date, K-deal 주문금액 on the KST date of 주문일시 summed over
-- the orders that have no 취소 record (whenever it arrived).
-- These feeds send each record once (a correction re-delivers the file, which replaces the
-- file's rows upstream), so records are summed as they are; 지그재그 stores of one merchant add up.
with records as (
    select * from {{ ref('int_sales_records_unioned') }}
),

cancelled_orders as (
    select distinct order_id
    from records
    where partner_code = 'kt' and is_cancellation
)

select
    r.partner_code,
    r.merchant_id,
    r.sales_date,
    cast(sum(r.orders) as bigint) as orders,
    cast(sum(r.sales_krw) as bigint) as sales_krw,
    cast(sum(r.coupon_discount_krw) as bigint) as coupon_discount_krw
from records as r
anti join cancelled_orders as c
    on r.partner_code = 'kt' and c.order_id = r.order_id
where not r.is_cancellation
group by r.partner_code, r.merchant_id, r.sales_date
