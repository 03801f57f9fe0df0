{{ config(pre_hook="{{ delete_unpublished_source_batches('yogiyo', 'orders') }}") }}
-- 요기요 daily sales per merchant.
with src as (
    select *, {{ normalise_brn('biz_reg_no') }} as _brn
    from {{ published_rows('yogiyo', 'orders') }}
)

select
    {{ brn_columns('_brn') }},
    {{ text_to_date('order_date', '%Y-%m-%d') }} as order_date,
    {{ parse_krw('orders') }} as orders,
    {{ parse_krw('gross_sales_krw') }} as gross_sales_krw,
    {{ parse_krw('coupon_discount_krw') }} as coupon_discount_krw,
    {{ parse_krw('delivery_fee_krw') }} as delivery_fee_krw,
    _batch_id, _source_file, _business_date, _row_number, _loaded_at,
    {{ staged_at() }} as _staged_at
from src
