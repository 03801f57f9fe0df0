{{ config(pre_hook="{{ delete_unpublished_source_batches('yogiyo', 'support') }}") }}
-- 요기요 O2O support: one row per record of the day's document. `extras` (JSON text) is parsed
-- into a typed list; int_support_events_unioned turns each extra into its own event.
with src as (
    select
        *,
        {{ normalise_brn('merchant_brn') }} as _brn,
        from_json(
            nullif(trim(extras), ''),
            '[{"type": "VARCHAR", "amount_krw": "BIGINT", "applied_at": "VARCHAR"}]'
        ) as _extras
    from {{ published_rows('yogiyo', 'support') }}
)

select
    {{ text_to_date('delivery_date', '%Y-%m-%d') }} as delivery_date,
    {{ brn_columns('_brn') }},
    {{ clean_text('merchant_name') }} as store_name,
    {{ clean_text('merchant_sido') }} as sido_name,
    {{ sido_code_from_name('merchant_sido') }} as sido_code,
    {{ clean_text('merchant_sigungu') }} as sigungu_name,
    {{ clean_text('merchant_category') }} as category,
    {{ text_to_date('enrolled_at', '%Y-%m-%d') }} as enrolled_on,
    {{ clean_text('package') }} as package,
    gov_support_krw,
    private_support_krw,
    coalesce(
        list_transform(_extras, lambda e, i: {
            'extra_index': i,
            'extra_type': nullif(trim(e.type), ''),
            'amount_krw': e.amount_krw,
            'applied_on': cast(try_strptime(nullif(trim(e.applied_at), ''), '%Y-%m-%d') as date)
        }),
        []
    ) as extras,
    _batch_id, _source_file, _business_date, _row_number, _loaded_at,
    {{ staged_at() }} as _staged_at
from src
