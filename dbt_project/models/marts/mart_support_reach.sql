-- month × partner × support type × 시도 (marts.md). 시도 is the merchant's, from dim_merchant
-- (NULL when no feed gave the merchant a region). Distinct counts do not add across rows.
with reach as (
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
)

-- the codes' Korean names come last, so that the contract's columns keep their places
select
    reach.*,
    p.platform_name_ko,
    t.support_type_ko,
    r.sido_name_ko
from reach
left join {{ ref('partners') }} as p on p.partner_code = reach.partner_code
left join {{ ref('support_types') }} as t on t.support_type = reach.support_type
left join {{ ref('regions') }} as r on r.sido_code = reach.sido_code
