-- 지그재그 store_id → merchant (BRN), from the two zigzag feeds that carry both (support, sales).
-- The latest delivery wins (metrics.md); only valid BRNs identify a merchant.
with observed as (
    select store_id, merchant_id, _business_date, 1 as feed_rank, _row_number
    from {{ ref('stg_zigzag__support') }}
    where store_id is not null and merchant_id is not null
    union all
    select store_id, merchant_id, _business_date, 2 as feed_rank, _row_number
    from {{ ref('stg_zigzag__sales') }}
    where store_id is not null and merchant_id is not null
)

select
    store_id,
    merchant_id,
    _business_date as mapped_on
from observed
qualify row_number() over (
    partition by store_id order by _business_date desc, feed_rank desc, _row_number desc) = 1
