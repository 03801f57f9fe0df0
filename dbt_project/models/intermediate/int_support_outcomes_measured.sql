-- Sales before and after a merchant's first support from a partner (metrics.md, Outcomes), for
-- the partners with merchant-level sales and the merchants that have sales data with them.
--   d0     = the merchant's first support date from that partner; support_type is that first
--            event's (ties on d0: promotion, then marketing, then capability)
--   before = that partner's sales of the merchant over d0-28 … d0-1, / 28
--   after  = over d0 … d0+27, / 28 (a day without sales counts as 0)
{% set days = var('outcome_days') %}
with first_support as (
    select merchant_id, partner_code, supported_on as first_supported_on, support_type
    from {{ ref('fct_support_events') }}
    qualify row_number() over (
        partition by merchant_id, partner_code
        order by supported_on,
                 case support_type when 'promotion' then 1 when 'marketing' then 2 else 3 end,
                 support_item, support_event_id
    ) = 1
),

with_sales as (
    select distinct partner_code, merchant_id
    from {{ ref('int_daily_sales_netted') }}
),

windowed as (
    select
        f.merchant_id,
        f.partner_code,
        f.first_supported_on,
        f.support_type,
        coalesce(sum(s.sales_krw) filter (where s.sales_date < f.first_supported_on), 0) as sales_before_krw,
        coalesce(sum(s.sales_krw) filter (where s.sales_date >= f.first_supported_on), 0) as sales_after_krw
    from first_support as f
    join with_sales as w on w.partner_code = f.partner_code and w.merchant_id = f.merchant_id
    left join {{ ref('int_daily_sales_netted') }} as s
        on s.partner_code = f.partner_code
       and s.merchant_id = f.merchant_id
       and s.sales_date between f.first_supported_on - {{ days }} and f.first_supported_on + {{ days - 1 }}
    group by all
)

select
    merchant_id,
    partner_code,
    first_supported_on,
    cast(date_trunc('month', first_supported_on) as date) as cohort_month,
    support_type,
    cast(sales_before_krw as bigint) as sales_before_krw,
    cast(sales_after_krw as bigint) as sales_after_krw,
    sales_before_krw / {{ days }}.0 as avg_daily_sales_before_krw,
    sales_after_krw / {{ days }}.0 as avg_daily_sales_after_krw,
    case when sales_before_krw > 0 then sales_after_krw / sales_before_krw end as growth_multiple
from windowed
