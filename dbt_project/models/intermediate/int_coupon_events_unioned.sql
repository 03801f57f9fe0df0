{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='_source_file',
        on_schema_change='fail',
        pre_hook="{{ delete_unpublished_batches([ref('stg_yogiyo__coupons'), ref('stg_kt__kdeal_orders')]) }}",
    )
}}
-- Coupon events of the event-stream coupon sources, one row per event, with batch lineage.
-- Incremental by batch (macros/batches.sql).
--   요기요: the feed's own events (issued / redeemed / expired / cancelled).
--   K-deal: an order line with a 쿠폰번호 issues and redeems that coupon at the order's time
--           (campaign KDEAL); the order's 취소 line reverses the redemption (metrics.md).
-- 지그재그 coupons are change records whose latest record wins: they are resolved from
-- int_zigzag_coupons_deduplicated in int_coupons_resolved, not held here.
with yogiyo as (
    select
        'yogiyo' as partner_code,
        coupon_id as coupon_key,
        coupon_id,
        event_id,
        event_type,
        campaign_id,
        campaign_name,
        face_value_krw,
        merchant_id,
        order_id,
        order_amount_krw,
        event_at,
        event_on,
        _batch_id, _source_file, _business_date, _row_number
    from {{ ref('stg_yogiyo__coupons') }}
    where {{ only_new_batches(ref('stg_yogiyo__coupons')) }}
),

kdeal_lines as (
    select *
    from {{ ref('stg_kt__kdeal_orders') }}
    where {{ only_new_batches(ref('stg_kt__kdeal_orders')) }} and coupon_id is not null
),

kdeal as (
    select
        'kt', l.order_id || '|' || l.coupon_id, l.coupon_id,
        l.order_id || '|' || e.event_type, e.event_type,
        'KDEAL', cast(null as varchar), l.discount_krw, l.merchant_id, l.order_id, l.order_amount_krw,
        l.ordered_at, l.ordered_on,
        l._batch_id, l._source_file, l._business_date, l._row_number
    from kdeal_lines as l
    join (values (false, 'issued'), (false, 'redeemed'), (true, 'cancelled')) as e(is_cancellation, event_type)
        on e.is_cancellation = l.is_cancellation
)

select * from yogiyo
union all select * from kdeal
