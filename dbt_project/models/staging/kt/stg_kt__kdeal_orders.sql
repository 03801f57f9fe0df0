{{ config(pre_hook="{{ delete_unpublished_source_batches('kt', 'kdeal_orders') }}") }}
-- K-deal order lines. A cancelled order comes again, with 주문상태 취소, in the file of the day it
-- was cancelled; netting happens downstream (int_daily_sales_netted, int_coupons_resolved).
with src as (
    select
        *,
        {{ normalise_brn('사업자등록번호') }} as _brn,
        {{ kst_text_to_instant('주문일시') }} as _ordered_at
    from {{ published_rows('kt', 'kdeal_orders') }}
)

select
    {{ clean_text('주문번호') }} as order_id,
    {{ brn_columns('_brn') }},
    _ordered_at as ordered_at,
    {{ kst_date('_ordered_at') }} as ordered_on,
    {{ parse_krw('주문금액') }} as order_amount_krw,
    {{ parse_krw('할인금액') }} as discount_krw,
    {{ clean_text('쿠폰번호') }} as coupon_id,
    {{ clean_text('주문상태') }} as order_status,
    coalesce(trim(주문상태) = '취소', false) as is_cancellation,
    _batch_id, _source_file, _business_date, _row_number, _loaded_at,
    {{ staged_at() }} as _staged_at
from src
