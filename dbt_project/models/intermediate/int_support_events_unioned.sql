-- One stream of support events from all six partners (marts.md fct_support_events, metrics.md).
-- Events delivered again in a later file (same natural key) count once: the latest delivery wins.
-- Carries `private_value_krw` (partner-funded part, for the private_support_krw KPI) and the
-- feed's own item beside the mapped (support_type, support_item).
with kakao as (
    select
        'kakao' as partner_code, 'talkchannel' as feed, event_id as natural_key,
        event_type as source_item, merchant_id, occurred_on as supported_on,
        cast(null as bigint) as value_krw, cast(null as bigint) as private_value_krw, market_id
    from {{ ref('stg_kakao__talkchannel') }}
    qualify row_number() over (partition by event_id order by _business_date desc, _row_number desc) = 1
),

baemin as (
    -- the latest row per enrollment (int_edu_enrollments_deduplicated); only enrollments with a
    -- valid BRN are events
    select
        'baemin', 'edu_enrollments', enrollment_id, 'enrollment', merchant_id, enrolled_on,
        cast(null as bigint), cast(null as bigint), cast(null as varchar)
    from {{ ref('int_edu_enrollments_deduplicated') }}
),

kt as (
    select
        'kt', 'kdeal_stores', natural_key, source_item, merchant_id, supported_on,
        cast(null as bigint), cast(null as bigint), cast(null as varchar)
    from {{ ref('int_kdeal_events_diffed') }}
),

skplanet as (
    select
        'skplanet', 'okcashback_promo',
        concat_ws('|', campaign_id, brn, cast(promo_date as varchar)),
        'promo', merchant_id, promo_date, cashback_points, cashback_points, cast(null as varchar)
    from {{ ref('stg_skplanet__okcashback_promo') }}
    qualify row_number() over (
        partition by campaign_id, brn, promo_date order by _business_date desc, _row_number desc) = 1
),

yogiyo_records as (
    select *
    from {{ ref('stg_yogiyo__support') }}
    qualify row_number() over (
        partition by brn, enrolled_on order by _business_date desc, _row_number desc) = 1
),

yogiyo_packages as (
    select
        'yogiyo', 'support', concat_ws('|', brn, cast(enrolled_on as varchar)),
        package, merchant_id, enrolled_on,
        coalesce(gov_support_krw, 0) + coalesce(private_support_krw, 0), private_support_krw,
        cast(null as varchar)
    from yogiyo_records
    where package is not null
),

yogiyo_extras as (
    select
        'yogiyo', 'support',
        concat_ws('|', brn, cast(enrolled_on as varchar), cast(x.extra_index as varchar), x.extra_type),
        x.extra_type, merchant_id, x.applied_on, x.amount_krw, x.amount_krw, cast(null as varchar)
    from (select brn, enrolled_on, merchant_id, unnest(extras) as x from yogiyo_records)
),

zigzag as (
    select
        'zigzag', 'support', concat_ws('|', store_id, support_item_ko, cast(supported_on as varchar)),
        support_item_ko, merchant_id, supported_on, amount_krw, amount_krw, cast(null as varchar)
    from {{ ref('stg_zigzag__support') }}
    qualify row_number() over (
        partition by store_id, support_item_ko, supported_on order by _business_date desc, _row_number desc
    ) = 1
),

unioned as (
    select * from kakao
    union all select * from baemin
    union all select * from kt
    union all select * from skplanet
    union all select * from yogiyo_packages
    union all select * from yogiyo_extras
    union all select * from zigzag
)

select
    {{ surrogate_key(['e.partner_code', 'e.feed', 'e.natural_key', 'e.source_item']) }} as support_event_id,
    e.merchant_id,
    e.partner_code,
    e.feed,
    e.natural_key,
    e.source_item,
    i.support_type,
    i.support_item,
    e.supported_on,
    e.value_krw,
    e.private_value_krw,
    e.market_id
from unioned as e
left join {{ ref('support_items') }} as i
    on i.partner_code = e.partner_code and i.feed = e.feed and i.source_item = e.source_item
where e.merchant_id is not null
