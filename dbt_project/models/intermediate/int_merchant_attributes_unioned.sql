-- Every observation of a merchant's descriptive attributes, from the feeds that carry them
-- (카카오 events, K-deal snapshots, 요기요 support records, 지그재그 support rows). dim_merchant
-- takes, per attribute, the latest non-null value: latest delivery (`_business_date`), then
-- latest activity date, then partner and row as deterministic tie-breaks.
select merchant_id, 'kakao' as partner_code, _business_date as delivered_on, occurred_on as observed_on,
       _row_number, store_name, sido_code, sigungu_name, cast(null as varchar) as category
from {{ ref('stg_kakao__talkchannel') }}
where merchant_id is not null

union all
select merchant_id, 'kt', _business_date, snapshot_date, _row_number, store_name, sido_code, sigungu_name, category
from {{ ref('stg_kt__kdeal_stores') }}
where merchant_id is not null

union all
select merchant_id, 'yogiyo', _business_date, enrolled_on, _row_number, store_name, sido_code, sigungu_name, category
from {{ ref('stg_yogiyo__support') }}
where merchant_id is not null

union all
select merchant_id, 'zigzag', _business_date, supported_on, _row_number, store_name, sido_code,
       cast(null as varchar), cast(null as varchar)
from {{ ref('stg_zigzag__support') }}
where merchant_id is not null
