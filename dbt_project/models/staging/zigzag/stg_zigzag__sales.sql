{{ config(pre_hook="{{ delete_unpublished_source_batches('zigzag', 'sales') }}") }}
-- 지그재그 daily sales per store.
with src as (
    select *, {{ normalise_brn('biz_reg_no') }} as _brn
    from {{ published_rows('zigzag', 'sales') }}
)

select
    {{ clean_text('store_id') }} as store_id,
    {{ brn_columns('_brn') }},
    sales_date,
    orders,
    gmv_krw,
    coupon_discount_krw,
    _batch_id, _source_file, _business_date, _row_number, _loaded_at,
    {{ staged_at() }} as _staged_at
from src
