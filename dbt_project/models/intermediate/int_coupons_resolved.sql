-- Coupon lifecycles: one row per coupon (issued → redeemed / expired / reversed), metrics.md.
--   요기요 and K-deal (from int_coupon_events_unioned): cohort = KST date of the issued event;
--     redeemed when the coupon's latest redeemed/cancelled event is `redeemed` (a cancel at the
--     same instant wins); expired when it has an `expired` event and is not redeemed. Events
--     delivered twice (same event_id) count once.
--   지그재그 (int_zigzag_coupons_deduplicated: the latest record per coupon_code): redeemed = used_at set; expired =
--     expired_at set and used_at empty; stores mapped to BRNs via int_zigzag_stores_mapped.
-- A coupon without an issue event cannot be placed in a cohort and is left out.
--
-- Incremental by coupon (macros/coupons.sql, on macros/fingerprints.sql): every row carries its
-- coupon's fingerprint, the records that make it up. A nightly run deletes the coupons whose
-- fingerprint changed and resolves only the coupons it no longer holds, so its cost does not grow
-- with history.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_changed_keys(coupon_fingerprints(), ['partner_code', 'coupon_key'],
                                         'coupon_records', 'coupon_fingerprint') }}",
        post_hook="{{ drop_fingerprints() }}",
    )
}}
with fingerprints as (
    {{ fingerprints_of(coupon_fingerprints()) }}
),

pending as (
    select *
    from fingerprints
    where {{ not_held_yet('fingerprints', ['partner_code', 'coupon_key']) }}
),

events as (
    select e.*
    from {{ ref('int_coupon_events_unioned') }} as e
    semi join pending as p on p.partner_code = e.partner_code and p.coupon_key = e.coupon_key
    qualify row_number() over (
        partition by e.partner_code, e.event_id order by e._business_date desc, e._row_number desc) = 1
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
    semi join pending as p on p.partner_code = 'zigzag' and p.coupon_key = c.coupon_code
    left join {{ ref('int_zigzag_stores_mapped') }} as m on m.store_id = c.store_id
    where c.issued_at is not null
)

select
    r.*,
    {{ kst_date('r.redeemed_at') }} as redeemed_on,
    case when r.is_redeemed then (epoch_ms(r.redeemed_at) - epoch_ms(r.issued_at)) / 3600000.0 end as hours_to_redeem,
    p.coupon_records as _coupon_records,
    p.coupon_fingerprint as _coupon_fingerprint,
    {{ staged_at() }} as _staged_at
from (
    select * from from_events
    union all
    select * from zigzag
) as r
join pending as p on p.partner_code = r.partner_code and p.coupon_key = r.coupon_key
