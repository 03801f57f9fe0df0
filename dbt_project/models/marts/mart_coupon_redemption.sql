-- partner × campaign × issue date (marts.md, metrics.md Coupons), from int_coupons_resolved.
with redemption as (
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
)

-- the codes' Korean names come last, so that the contract's columns keep their places
select
    redemption.*,
    p.platform_name_ko,
    f.festival_name_ko
from redemption
left join {{ ref('partners') }} as p on p.partner_code = redemption.partner_code
left join {{ ref('festivals') }} as f on f.festival_code = redemption.festival_code
