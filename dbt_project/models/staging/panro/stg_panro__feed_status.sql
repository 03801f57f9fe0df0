{{ config(materialized='table') }}
-- Every contracted feed's deliveries as of the run's business date, as the run wrote them from the
-- ledger and the contracts (panro.freshness; published/_feeds.parquet). Rebuilt every run: the file
-- is one small table, replaced whole by each run.
select
    cast(partner_code as varchar) as partner_code,
    cast(feed as varchar) as feed,
    cast(cadence as varchar) as cadence,
    cast(overdue_after_days as bigint) as overdue_after_days,
    cast(figures as varchar[]) as figures,
    cast(last_business_date as date) as last_business_date,
    cast(last_delivered_at as timestamptz) as last_delivered_at,
    cast(held_back_batches as bigint) as held_back_batches,
    cast(run_date as date) as run_date,
    cast(days_since_last as bigint) as days_since_last,
    cast(status as varchar) as status,
    cast(covered_through as date) as covered_through
from {{ source('panro', 'feed_status') }}
