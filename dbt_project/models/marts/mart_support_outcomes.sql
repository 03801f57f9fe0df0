-- partner × support type × cohort month (marts.md), over the merchants of
-- int_support_outcomes_measured whose `before` is > 0. The mean daily sales are computed from the
-- exact integer sums (Σ sales / (28 × merchants)), so they do not depend on summation order.
-- data_complete_through: the partner's sales feeds are complete through that business date;
-- period_complete: through the last `after` day of the cohort (the month's last day + 27).
{% set days = var('outcome_days') %}
with outcomes as (
    select
        partner_code,
        support_type,
        cohort_month,
        count(*) as merchants,
        cast(round(sum(sales_before_krw) / ({{ days }}.0 * count(*))) as bigint) as avg_daily_sales_before_krw,
        cast(round(sum(sales_after_krw) / ({{ days }}.0 * count(*))) as bigint) as avg_daily_sales_after_krw,
        -- ordered, so the mean of doubles is the same to the last bit on every run (marts must be identical)
        avg(growth_multiple order by merchant_id) as avg_growth_multiple
    from {{ ref('int_support_outcomes_measured') }}
    where sales_before_krw > 0
    group by partner_code, support_type, cohort_month
)

-- the codes' Korean names come last, so that the contract's columns keep their places
select
    outcomes.*,
    s.data_complete_through,
    coalesce(s.data_complete_through >= last_day(outcomes.cohort_month) + {{ days - 1 }}, false) as period_complete,
    p.platform_name_ko,
    t.support_type_ko
from outcomes
left join {{ ref('int_partner_figures_completeness') }} as s
    on s.partner_code = outcomes.partner_code and s.figure = 'sales'
left join {{ ref('partners') }} as p on p.partner_code = outcomes.partner_code
left join {{ ref('support_types') }} as t on t.support_type = outcomes.support_type
