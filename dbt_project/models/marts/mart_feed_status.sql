-- One row per contracted feed, rebuilt every run (marts.md, metrics.md Feed status): is the partner
-- still delivering? As of the run's business date, from the run's account of the ledger
-- (panro.freshness): the latest published business date, the days since, the contract's window,
-- fresh / overdue / never_delivered, and the files held back now.
select
    partner_code,
    feed,
    last_business_date,
    last_delivered_at,
    overdue_after_days,
    days_since_last,
    status,
    held_back_batches
from {{ ref('stg_panro__feed_status') }}
