-- Merchants reached per 시도 in the latest year, each merchant counted once. Do not add up
-- mart_support_reach's merchants_reached over partners, support types or months: a merchant
-- supported by two partners, or twice, would be counted twice. Count distinct merchants instead.
with latest as (
    select max(year(supported_on)) as year from marts.fct_support_events
)
select
    coalesce(r.sido_name_ko, '(시도 미상)') as sido_name_ko,
    count(distinct e.merchant_id) as merchants_reached,
    count(distinct e.merchant_id) filter (where e.support_type = 'marketing') as marketing,
    count(distinct e.merchant_id) filter (where e.support_type = 'capability') as capability,
    count(distinct e.merchant_id) filter (where e.support_type = 'promotion') as promotion
from marts.fct_support_events as e
join marts.dim_merchant as m on m.merchant_id = e.merchant_id
left join marts.dim_region as r on r.sido_code = m.sido_code
where year(e.supported_on) = (select year from latest)
group by all
order by merchants_reached desc, sido_name_ko;
