{{ config(materialized="view") }}
-- 지그재그 coupons, one row per coupon_code: its latest change record (latest delivery, then
-- latest row). A view over the staging table: the records are parsed once, when their file
-- arrives, and picking the latest of each is cheaper than writing a table of them.
select *
from {{ ref('stg_zigzag__coupons') }}
qualify row_number() over (
    partition by coupon_code order by _business_date desc, _row_number desc) = 1
