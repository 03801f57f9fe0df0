-- month × partner × support type × 시도 (marts.md). 시도 is the merchant's, from dim_merchant
-- (NULL when no feed gave the merchant a region). Distinct counts do not add across rows.
select
    cast(date_trunc('month', e.supported_on) as date) as period_month,
    e.partner_code,
    e.support_type,
    m.sido_code,
    count(distinct e.merchant_id) as merchants_reached,
    count(distinct e.merchant_id) filter (
        where date_trunc('month', m.first_supported_on) = date_trunc('month', e.supported_on)
    ) as new_merchants,
    count(*) as support_events,
    cast(coalesce(sum(e.value_krw), 0) as bigint) as support_value_krw
from {{ ref('fct_support_events') }} as e
join {{ ref('dim_merchant') }} as m on m.merchant_id = e.merchant_id
group by all
