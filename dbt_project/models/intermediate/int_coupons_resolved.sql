-- Coupon lifecycles: one row per coupon (issued → redeemed / expired / reversed), metrics.md.
--   요기요 and K-deal (from int_coupon_events_unioned): cohort = KST date of the issued event;
--     redeemed when the coupon's latest redeemed/cancelled event is `redeemed` (a cancel at the
--     same instant wins); expired when it has an `expired` event and is not redeemed. Events
--     delivered twice (same event_id) count once.
--   지그재그 (stg keeps the latest record per coupon_code): redeemed = used_at set; expired =
--     expired_at set and used_at empty; stores mapped to BRNs via int_zigzag_stores_mapped.
-- A coupon without an issue event cannot be placed in a cohort and is left out.
with events as (
    select *
    from {{ ref('int_coupon_events_unioned') }}
    qualify row_number() over (
        partition by partner_code, event_id order by _business_date desc, _row_number desc) = 1
),

issued as (
    select *
    from events
    where event_type = 'issued'
    qualify row_number() over (partition by partner_code, coupon_key order by event_at, event_id) = 1
),

settled as (
    select *
    from events
    where event_type in ('redeemed', 'cancelled')
    qualify row_number() over (
        partition by partner_code, coupon_key
        order by event_at desc, case event_type when 'cancelled' then 0 else 1 end, event_id desc) = 1
),

expired as (
    select distinct partner_code, coupon_key
    from events
    where event_type = 'expired'
),

names as (
    select partner_code, coupon_key, max(campaign_name) as campaign_name
    from events
    group by partner_code, coupon_key
),

from_events as (
    select
        i.partner_code,
        i.coupon_key,
        i.coupon_id,
        i.campaign_id,
        coalesce(i.campaign_name, n.campaign_name) as campaign_name,
        i.merchant_id,
        i.event_at as issued_at,
        i.event_on as issued_on,
        coalesce(s.event_type = 'redeemed', false) as is_redeemed,
        case when s.event_type = 'redeemed' then s.event_at end as redeemed_at,
        coalesce(s.event_type = 'redeemed', false) = false and x.coupon_key is not null as is_expired,
        coalesce(i.face_value_krw, s.face_value_krw) as face_value_krw,
        case when s.event_type = 'redeemed' then s.order_amount_krw end as order_amount_krw
    from issued as i
    left join settled as s on s.partner_code = i.partner_code and s.coupon_key = i.coupon_key
    left join expired as x on x.partner_code = i.partner_code and x.coupon_key = i.coupon_key
    left join names as n on n.partner_code = i.partner_code and n.coupon_key = i.coupon_key
),

zigzag as (
    select
        'zigzag' as partner_code,
        c.coupon_code as coupon_key,
        c.coupon_code as coupon_id,
        c.campaign_code as campaign_id,
        cast(null as varchar) as campaign_name,
        m.merchant_id,
        c.issued_at,
        c.issued_on,
        c.used_at is not null as is_redeemed,
        c.used_at as redeemed_at,
        c.expired_at is not null and c.used_at is null as is_expired,
        c.discount_krw as face_value_krw,
        case when c.used_at is not null then c.order_amount_krw end as order_amount_krw
    from {{ ref('stg_zigzag__coupons') }} as c
    left join {{ ref('int_zigzag_stores_mapped') }} as m on m.store_id = c.store_id
    where c.issued_at is not null
)

select
    *,
    {{ kst_date('redeemed_at') }} as redeemed_on,
    case when is_redeemed then (epoch_ms(redeemed_at) - epoch_ms(issued_at)) / 3600000.0 end as hours_to_redeem
from (
    select * from from_events
    union all
    select * from zigzag
)
