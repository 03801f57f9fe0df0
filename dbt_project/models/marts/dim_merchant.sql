-- One row per merchant (valid BRN) seen in any feed. Attributes: per attribute, the latest
-- non-null value over all partners (see int_merchant_attributes_unioned for the order).
with attributes as (
    select
        merchant_id,
        arg_max(store_name, {'d': delivered_on, 'o': observed_on, 'p': partner_code, 'r': _row_number})
            filter (where store_name is not null) as store_name,
        arg_max(sido_code, {'d': delivered_on, 'o': observed_on, 'p': partner_code, 'r': _row_number})
            filter (where sido_code is not null) as sido_code,
        arg_max(sigungu_name, {'d': delivered_on, 'o': observed_on, 'p': partner_code, 'r': _row_number})
            filter (where sigungu_name is not null) as sigungu_name,
        arg_max(category, {'d': delivered_on, 'o': observed_on, 'p': partner_code, 'r': _row_number})
            filter (where category is not null) as category
    from {{ ref('int_merchant_attributes_unioned') }}
    group by merchant_id
),

support as (
    select
        merchant_id,
        min(supported_on) as first_supported_on,
        count(distinct partner_code) as partners_count
    from {{ ref('fct_support_events') }}
    group by merchant_id
),

merchants as (
    select merchant_id from attributes
    union
    select merchant_id from support
    union
    select merchant_id from {{ ref('int_daily_sales_netted') }}
    union
    select merchant_id from {{ ref('int_coupons_resolved') }} where merchant_id is not null
)

select
    m.merchant_id,
    a.store_name,
    a.sido_code,
    a.sigungu_name,
    a.category,
    s.first_supported_on,
    cast(coalesce(s.partners_count, 0) as bigint) as partners_count,
    r.sido_name_ko   -- the code's Korean name comes last, so that the contract's columns keep their places
from merchants as m
left join attributes as a on a.merchant_id = m.merchant_id
left join support as s on s.merchant_id = m.merchant_id
left join {{ ref('regions') }} as r on r.sido_code = a.sido_code
