{{ config(pre_hook="{{ delete_unpublished_source_batches('skplanet', 'okcashback_promo') }}") }}
-- OK캐쉬백 location-based promotion results: one row per campaign × merchant × day.
with src as (
    select *, {{ normalise_brn('biz_reg_no') }} as _brn
    from {{ published_rows('skplanet', 'okcashback_promo') }}
)

select
    {{ clean_text('campaign_id') }} as campaign_id,
    {{ brn_columns('_brn') }},
    {{ text_to_date('promo_date', '%Y%m%d') }} as promo_date,
    {{ parse_krw('impressions') }} as impressions,
    {{ parse_krw('clicks') }} as clicks,
    {{ parse_krw('store_visits') }} as store_visits,
    {{ parse_krw('cashback_points') }} as cashback_points,
    {{ clean_text('festival_code') }} as festival_code,
    _batch_id, _source_file, _business_date, _row_number, _loaded_at,
    {{ staged_at() }} as _staged_at
from src
