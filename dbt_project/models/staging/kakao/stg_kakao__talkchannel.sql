{{ config(pre_hook="{{ delete_unpublished_source_batches('kakao', 'talkchannel') }}") }}
-- 카카오톡 채널 / 우리동네 단골시장 support events: one row per event line as delivered.
with src as (
    select
        *,
        {{ normalise_brn('biz_reg_no') }} as _brn,
        {{ iso_to_instant('occurred_at') }} as _occurred_at
    from {{ published_rows('kakao', 'talkchannel') }}
)

select
    {{ clean_text('event_id') }} as event_id,
    {{ clean_text('event_type') }} as event_type,
    _occurred_at as occurred_at,
    {{ kst_date('_occurred_at') }} as occurred_on,
    {{ brn_columns('_brn') }},
    {{ clean_text('store_name') }} as store_name,
    {{ clean_text('market_id') }} as market_id,
    {{ clean_text('market_name') }} as market_name,
    {{ clean_text('sido') }} as sido_name,
    {{ sido_code_from_name('sido') }} as sido_code,
    {{ clean_text('sigungu') }} as sigungu_name,
    channel_friends,
    {{ clean_text('tutor_id') }} as tutor_id,
    _batch_id, _source_file, _business_date, _row_number, _loaded_at,
    {{ staged_at() }} as _staged_at
from src
