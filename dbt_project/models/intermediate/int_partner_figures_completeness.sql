-- partner × figure (sales, support, coupons; a feed's contract says which it is the source of):
-- the last business date the partner's figures of that kind are complete through — the earliest
-- `covered_through` of its feeds of that figure, NULL when one of them never delivered
-- (docs/metrics.md, Completeness).
with figures as (
    select partner_code, unnest(figures) as figure, covered_through, run_date
    from {{ ref('stg_panro__feed_status') }}
)

select
    partner_code,
    figure,
    case when count(*) = count(covered_through) then min(covered_through) end as data_complete_through,
    max(run_date) as run_date
from figures
group by partner_code, figure
