-- partner × campaign × issue date (marts.md, metrics.md Coupons), from int_coupons_resolved.
select
    c.partner_code,
    c.campaign_id,
    max(c.campaign_name) as campaign_name,
    c.issued_on,
    f.festival_code,
    count(*) as coupons_issued,
    count(*) filter (where c.is_redeemed) as coupons_redeemed,
    count(*) filter (where c.is_expired) as coupons_expired,
    count(*) filter (where c.is_redeemed) / count(*) as redemption_rate,
    cast(coalesce(sum(c.face_value_krw) filter (where c.is_redeemed), 0) as bigint) as discount_krw,
    cast(coalesce(sum(c.order_amount_krw) filter (where c.is_redeemed), 0) as bigint) as redeemed_order_sales_krw,
    median(c.hours_to_redeem) filter (where c.is_redeemed) as median_hours_to_redeem
from {{ ref('int_coupons_resolved') }} as c
left join {{ ref('dim_festival') }} as f
    on c.issued_on between f.start_date and f.end_date
group by c.partner_code, c.campaign_id, c.issued_on, f.festival_code
