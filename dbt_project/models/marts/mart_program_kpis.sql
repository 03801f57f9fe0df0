-- year × partner (or ALL) × KPI (marts.md, metrics.md KPIs). One row per KPI, partner and year in
-- which the programme has any data; `value` is NULL where a mean has nothing to average.
with events as (
    select *, year(supported_on) as year
    from {{ ref('int_support_events_unioned') }}
    where merchant_id is not null and supported_on is not null
),

enrollments as (
    select *, year(enrolled_on) as year
    from {{ ref('int_edu_enrollments_deduplicated') }}
    where enrolled_on is not null
),

festival_sales as (
    select s.*, year(f.start_date) as year
    from {{ ref('mart_festival_sales') }} as s
    join {{ ref('dim_festival') }} as f on f.festival_code = s.festival_code
),

outcomes as (
    select *, year(first_supported_on) as year
    from {{ ref('int_support_outcomes_measured') }}
    where sales_before_krw > 0
),

years as (
    select distinct year from events
    union select distinct year from enrollments
    union select distinct year from festival_sales
),

partners as (
    select partner_code from {{ ref('dim_partner') }}
),

sales_partners as (
    select * from (values ('kt'), ('yogiyo'), ('zigzag')) as t(partner_code)
),

kpis as (
    -- merchants_reached: each partner and ALL
    select y.year, p.partner_code, 'merchants_reached' as kpi_code,
           cast((select count(distinct e.merchant_id) from events e
                 where e.year = y.year and e.partner_code = p.partner_code) as double) as value,
           'merchants' as unit
    from years y cross join partners p
    union all
    select y.year, 'ALL', 'merchants_reached',
           cast((select count(distinct e.merchant_id) from events e where e.year = y.year) as double),
           'merchants'
    from years y

    union all
    select y.year, 'kakao', 'traditional_markets',
           cast((select count(distinct e.market_id) from events e
                 where e.year = y.year and e.partner_code = 'kakao') as double),
           'markets'
    from years y

    union all
    select y.year, 'baemin', 'courses',
           cast((select count(distinct n.course_id) from enrollments n where n.year = y.year) as double),
           'courses'
    from years y
    union all
    select y.year, 'baemin', 'learners',
           cast((select count(distinct n.learner_id) from enrollments n where n.year = y.year) as double),
           'learners'
    from years y
    union all
    select y.year, 'baemin', 'course_satisfaction_avg',
           -- the mean of exact decimals: the same to the last bit whatever order DuckDB sums in
           (select avg(cast(n.satisfaction as decimal(6, 3))) from enrollments n
             where n.year = y.year and n.satisfaction is not null),
           'score (1-5)'
    from years y

    union all
    select y.year, 'kt', 'smart_stores',
           cast((select count(distinct e.merchant_id) from events e
                 where e.year = y.year and e.partner_code = 'kt' and e.support_item = 'smart_store') as double),
           'stores'
    from years y

    union all
    select y.year, 'yogiyo', 'o2o_package_merchants',
           cast((select count(distinct e.merchant_id) from events e
                 where e.year = y.year and e.partner_code = 'yogiyo' and e.support_item = 'o2o_package') as double),
           'merchants'
    from years y
    union all
    select y.year, 'yogiyo', 'extra_support_merchants',
           cast((select count(distinct e.merchant_id) from events e
                 where e.year = y.year and e.partner_code = 'yogiyo'
                   and e.support_item in ('menu_photo', 'ad_discount', 'coupon_pack')) as double),
           'merchants'
    from years y

    union all
    select y.year, p.partner_code, 'avg_sales_growth_multiple',
           -- ordered: a parallel sum of doubles differs in the last bit from run to run
           (select avg(o.growth_multiple order by o.merchant_id) from outcomes o
             where o.year = y.year and o.partner_code = p.partner_code),
           'multiple'
    from years y cross join sales_partners p

    union all
    select y.year, p.partner_code, 'festival_sales_krw',
           cast((select coalesce(sum(s.sales_krw), 0) from festival_sales s
                  where s.year = y.year and s.partner_code = p.partner_code) as double),
           'KRW'
    from years y cross join sales_partners p
    union all
    select y.year, 'ALL', 'festival_sales_krw',
           cast((select coalesce(sum(s.sales_krw), 0) from festival_sales s
                  where s.year = y.year and s.partner_code in (select partner_code from sales_partners)) as double),
           'KRW'
    from years y

    union all
    select y.year, p.partner_code, 'private_support_krw',
           cast((select coalesce(sum(e.private_value_krw), 0) from events e
                  where e.year = y.year and e.partner_code = p.partner_code) as double),
           'KRW'
    from years y cross join partners p
    union all
    select y.year, 'ALL', 'private_support_krw',
           cast((select coalesce(sum(e.private_value_krw), 0) from events e where e.year = y.year) as double),
           'KRW'
    from years y
),

-- Completeness (metrics.md): each KPI's figure (the sales KPIs from the sales feeds, every other
-- from the support feeds), complete through the earliest date of the partner's feeds of that figure
-- (ALL: of every partner it sums, the sales KPIs' kt, yogiyo and zigzag), and whether that reaches the
-- end of the KPI's period: the year's last festival day, the growth multiple's last `after` day
-- (31 Dec + 27), else 31 December.
completeness as (
    select partner_code, figure, data_complete_through
    from {{ ref('int_partner_figures_completeness') }}
    union all
    select 'ALL', figure,
           case when count(*) = count(data_complete_through) then min(data_complete_through) end
    from {{ ref('int_partner_figures_completeness') }}
    where figure <> 'sales' or partner_code in (select partner_code from sales_partners)
    group by figure
),

periods as (
    select
        k.*,
        case when k.kpi_code in ('festival_sales_krw', 'avg_sales_growth_multiple') then 'sales' else 'support' end
            as figure,
        case k.kpi_code
            when 'festival_sales_krw' then coalesce(
                (select max(f.end_date) from {{ ref('dim_festival') }} as f where year(f.start_date) = k.year),
                make_date(cast(k.year as bigint), 12, 31))
            when 'avg_sales_growth_multiple'
                then make_date(cast(k.year as bigint), 12, 31) + {{ var('outcome_days') - 1 }}
            else make_date(cast(k.year as bigint), 12, 31)
        end as period_end
    from kpis as k
)

-- the Korean names come last, so that the contract's columns keep their places
select
    cast(k.year as bigint) as year,
    cast(k.partner_code as varchar) as partner_code,
    cast(k.kpi_code as varchar) as kpi_code,
    cast(k.value as double) as value,
    cast(k.unit as varchar) as unit,
    c.data_complete_through,
    coalesce(c.data_complete_through >= k.period_end, false) as period_complete,
    n.kpi_name_ko,
    case when k.partner_code = 'ALL' then '전체' else p.platform_name_ko end as platform_name_ko
from periods as k
left join completeness as c on c.partner_code = k.partner_code and c.figure = k.figure
left join {{ ref('kpi_names') }} as n on n.kpi_code = k.kpi_code
left join {{ ref('partners') }} as p on p.partner_code = k.partner_code
