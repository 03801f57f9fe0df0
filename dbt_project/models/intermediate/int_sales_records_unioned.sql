{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='_source_file',
        on_schema_change='fail',
        pre_hook="{{ delete_unpublished_batches([ref('stg_yogiyo__orders'), ref('stg_zigzag__sales'), ref('stg_kt__kdeal_orders')]) }}",
    )
}}
-- Every sales record of the three merchant-level sales feeds, one row per published row, with its
-- batch lineage. Incremental by batch (macros/batches.sql): a nightly run reads only batches it does
-- not hold yet and replaces the rows of re-delivered files. Nothing here depends on another file,
-- so the rows of a batch never change once written; netting (K-deal cancellations, re-sent rows)
-- happens in int_daily_sales_netted.
with yogiyo as (
    select
        'yogiyo' as partner_code,
        merchant_id,
        cast(null as varchar) as store_id,
        order_date as sales_date,
        cast(null as varchar) as order_id,
        false as is_cancellation,
        orders,
        gross_sales_krw as sales_krw,
        coupon_discount_krw,
        _batch_id, _source_file, _business_date, _row_number
    from {{ ref('stg_yogiyo__orders') }}
    where {{ only_new_batches(ref('stg_yogiyo__orders')) }} and merchant_id is not null
),

zigzag as (
    select
        'zigzag', merchant_id, store_id, sales_date,
        cast(null as varchar), false, orders, gmv_krw, coupon_discount_krw,
        _batch_id, _source_file, _business_date, _row_number
    from {{ ref('stg_zigzag__sales') }}
    where {{ only_new_batches(ref('stg_zigzag__sales')) }} and merchant_id is not null
),

kt as (
    select
        'kt', merchant_id, cast(null as varchar), ordered_on,
        order_id, is_cancellation, 1, order_amount_krw, discount_krw,
        _batch_id, _source_file, _business_date, _row_number
    from {{ ref('stg_kt__kdeal_orders') }}
    where {{ only_new_batches(ref('stg_kt__kdeal_orders')) }} and merchant_id is not null
)

select *, {{ staged_at() }} as _staged_at
from (
    select * from yogiyo
    union all select * from zigzag
    union all select * from kt
)
