{{ config(pre_hook="{{ delete_unpublished_source_batches('baemin', 'delivery_stats') }}") }}
-- 배달 빅데이터: delivery market aggregates per 시군구 × category × day. No merchant identities.
-- 시군구 codes are mapped to the current 시도 code (42xxx → 51xxx, 45xxx → 52xxx).
select
    {{ text_to_date('stat_date', '%Y%m%d') }} as stat_date,
    {{ current_sigungu_code('sigungu_code') }} as sigungu_code,
    {{ current_sido_code('left(trim(sigungu_code), 2)') }} as sido_code,
    {{ clean_text('category') }} as category,
    {{ parse_krw('orders') }} as orders,
    {{ parse_krw('sales_krw') }} as sales_krw,
    {{ parse_krw('active_stores') }} as active_stores,
    _batch_id, _source_file, _business_date, _row_number, _loaded_at,
    {{ staged_at() }} as _staged_at
from {{ published_rows('baemin', 'delivery_stats') }}
