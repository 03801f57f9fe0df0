{{ config(pre_hook="{{ delete_unpublished_source_batches('yogiyo', 'coupons') }}") }}
-- 요기요 coupon events (issued / redeemed / expired / cancelled). `event_ts` is UTC epoch
-- milliseconds: the instant is kept as TIMESTAMPTZ, the business date is its KST date.
with src as (
    select
        *,
        {{ normalise_brn('biz_reg_no') }} as _brn,
        {{ epoch_ms_to_instant('event_ts') }} as _event_at
    from {{ published_rows('yogiyo', 'coupons') }}
)

select
    {{ clean_text('event_id') }} as event_id,
    {{ clean_text('event_type') }} as event_type,
    {{ clean_text('coupon_id') }} as coupon_id,
    {{ clean_text('campaign_id') }} as campaign_id,
    {{ clean_text('campaign_name') }} as campaign_name,
    face_value_krw,
    {{ brn_columns('_brn') }},
    {{ clean_text('order_id') }} as order_id,
    order_amount_krw,
    _event_at as event_at,
    {{ kst_date('_event_at') }} as event_on,
    _batch_id, _source_file, _business_date, _row_number, _loaded_at,
    {{ staged_at() }} as _staged_at
from src
