-- One row per support event (marts.md). Built in int_support_events_unioned; only events of a
-- merchant (valid BRN) on a known date.
select
    support_event_id,
    merchant_id,
    partner_code,
    support_type,
    support_item,
    supported_on,
    cast(value_krw as bigint) as value_krw,
    market_id
from {{ ref('int_support_events_unioned') }}
where merchant_id is not null
  and supported_on is not null
