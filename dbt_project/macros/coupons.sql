{#- int_coupons_resolved is incremental by coupon (macros/fingerprints.sql). A coupon's fingerprint is the number and the XOR
    of hashes of the records that make it up: its events (batch, row, event id) for 요기요 and K-deal,
    its change records for 지그재그 together with the merchant its store maps to. A new, re-delivered
    or withdrawn record of a coupon, or a store mapped to another merchant, changes it. -#}

{% macro coupon_fingerprints() -%}
select partner_code, coupon_key, count(*) as coupon_records, bit_xor(record_hash) as coupon_fingerprint
from (
    select partner_code, coupon_key, {{ record_hash(['_batch_id', '_row_number', 'event_id']) }} as record_hash
    from {{ ref('int_coupon_events_unioned') }}
    union all
    select 'zigzag', c.coupon_code, {{ record_hash(['c._batch_id', 'c._row_number', 'm.merchant_id']) }}
    from {{ ref('stg_zigzag__coupons') }} as c
    left join {{ ref('int_zigzag_stores_mapped') }} as m on m.store_id = c.store_id
    where c.coupon_code is not null
)
group by partner_code, coupon_key
{%- endmacro %}
