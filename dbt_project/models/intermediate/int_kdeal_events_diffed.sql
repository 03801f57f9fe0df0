-- K-deal support events derived from the sequence of each store's published snapshots
-- (docs/metrics.md). Consecutive *available* snapshots of the store are compared: a missing day, or
-- a day the store is absent, is simply skipped; a store that leaves keeps its history.
--   onboarding       once per store, on 입점일 (as shown by its first snapshot)
--   a flag's first Y on the first snapshot showing Y — 입점일 when the first snapshot already does
--   메시지발송건수    each snapshot where the count rose over the store's previous snapshot; the first
--                    snapshot counts as a rise when > 0, dated 입점일
with snapshots as (
    select merchant_id, snapshot_date, onboarded_on, is_fee_waived, has_detail_page, is_smart_store,
           messages_sent
    from {{ ref('stg_kt__kdeal_stores') }}
    where merchant_id is not null
    -- one row per store and snapshot (a BRN sent twice in one file: keep the last row)
    qualify row_number() over (partition by merchant_id, snapshot_date order by _row_number desc) = 1
),

sequenced as (
    select
        *,
        row_number() over w as snapshot_seq,
        lag(messages_sent) over w as previous_messages_sent,
        first_value(onboarded_on) over w as first_onboarded_on
    from snapshots
    window w as (partition by merchant_id order by snapshot_date)
),

onboarding as (
    select merchant_id, 'onboarding' as source_item, first_onboarded_on as supported_on,
           cast(null as date) as snapshot_date
    from sequenced
    where snapshot_seq = 1
),

flag_values as (
    select merchant_id, snapshot_date, snapshot_seq, first_onboarded_on, '수수료면제' as source_item,
           is_fee_waived as is_on
    from sequenced
    union all
    select merchant_id, snapshot_date, snapshot_seq, first_onboarded_on, '상세페이지지원', has_detail_page
    from sequenced
    union all
    select merchant_id, snapshot_date, snapshot_seq, first_onboarded_on, '스마트상점', is_smart_store
    from sequenced
),

flags as (
    select
        merchant_id,
        source_item,
        case when min(snapshot_seq) = 1 then any_value(first_onboarded_on) else min(snapshot_date) end
            as supported_on,
        min(snapshot_date) as snapshot_date
    from flag_values
    where is_on
    group by merchant_id, source_item
),

messages as (
    select
        merchant_id,
        '메시지발송건수' as source_item,
        case when snapshot_seq = 1 then first_onboarded_on else snapshot_date end as supported_on,
        snapshot_date
    from sequenced
    where (snapshot_seq = 1 and messages_sent > 0)
       or (snapshot_seq > 1 and messages_sent > previous_messages_sent)
)

select
    merchant_id,
    source_item,
    supported_on,
    snapshot_date,
    -- the natural key of the event within the feed: one onboarding and one first-Y per flag per
    -- store, one message rise per store and snapshot
    merchant_id || '|' || source_item
        || case when source_item = '메시지발송건수' then '|' || cast(snapshot_date as varchar) else '' end
        as natural_key
from (
    select * from onboarding
    union all
    select * from flags
    union all
    select * from messages
)
