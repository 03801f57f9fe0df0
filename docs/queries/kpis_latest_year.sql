-- The programme KPIs of the latest year in the warehouse, by partner, with their Korean names.
-- A year still under way is partial: compare with the article's full-year figures only for a full year.
select
    year,
    kpi_name_ko,
    platform_name_ko,
    value,
    unit
from marts.mart_program_kpis
where year = (select max(year) from marts.mart_program_kpis)
order by kpi_code, partner_code = 'ALL', partner_code;
