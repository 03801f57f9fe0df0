{{ config(pre_hook="{{ delete_unpublished_source_batches('zigzag', 'coupons') }}") }}
-- 지그재그 coupons: change records (a coupon appears when issued, and again when used or
-- expired), one row per record as delivered; int_zigzag_coupons_deduplicated keeps the latest per
-- coupon. Stores are identified by store_id only; int_zigzag_stores_mapped gives their BRN.
with src as (
    select *
    from {{ published_rows('zigzag', 'coupons') }}
),

parsed as (
    select
        *,
        {{ iso_to_instant('issued_at') }} as _issued_at,
        {{ iso_to_instant('used_at') }} as _used_at,
        {{ iso_to_instant('expired_at') }} as _expired_at
    from src
)

select
    {{ clean_text('coupon_code') }} as coupon_code,
    {{ clean_text('campaign_code') }} as campaign_code,
    {{ clean_text('store_id') }} as store_id,
    _issued_at as issued_at,
    {{ kst_date('_issued_at') }} as issued_on,
    _used_at as used_at,
    {{ kst_date('_used_at') }} as used_on,
    _expired_at as expired_at,
    {{ kst_date('_expired_at') }} as expired_on,
    {{ parse_krw('discount_krw') }} as discount_krw,
    {{ parse_krw('order_amount_krw') }} as order_amount_krw,
    _batch_id, _source_file, _business_date, _row_number, _loaded_at,
    {{ staged_at() }} as _staged_at
from parsed
