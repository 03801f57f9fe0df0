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

lifecycles as (
    -- one pass per coupon: its first issue event, its latest redeemed/cancelled event (latest
    -- instant; a cancel at the same instant wins; then the highest event id), and any expiry
    select
        partner_code,
        coupon_key,
        arg_min(
            {'coupon_id': coupon_id, 'campaign_id': campaign_id, 'campaign_name': campaign_name,
             'merchant_id': merchant_id, 'event_at': event_at, 'event_on': event_on,
             'face_value_krw': face_value_krw},
            (event_at, event_id)) filter (where event_type = 'issued') as issued,
        arg_max(
            {'event_type': event_type, 'event_at': event_at, 'face_value_krw': face_value_krw,
             'order_amount_krw': order_amount_krw},
            (event_at, event_type = 'cancelled', event_id))
            filter (where event_type in ('redeemed', 'cancelled')) as settled,
        bool_or(event_type = 'expired') as has_expired,
        max(campaign_name) as any_campaign_name
    from events
    group by partner_code, coupon_key
),

from_events as (
    select
        partner_code,
        coupon_key,
        issued.coupon_id,
        issued.campaign_id,
        coalesce(issued.campaign_name, any_campaign_name) as campaign_name,
        issued.merchant_id,
        issued.event_at as issued_at,
        issued.event_on as issued_on,
        coalesce(settled.event_type = 'redeemed', false) as is_redeemed,
        case when settled.event_type = 'redeemed' then settled.event_at end as redeemed_at,
        coalesce(settled.event_type = 'redeemed', false) = false and has_expired as is_expired,
        coalesce(issued.face_value_krw, settled.face_value_krw) as face_value_krw,
        case when settled.event_type = 'redeemed' then settled.order_amount_krw end as order_amount_krw
    from lifecycles
    where issued is not null  -- a coupon without an issue event has no cohort
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
    from {{ ref('int_zigzag_coupons_deduplicated') }} as c
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
