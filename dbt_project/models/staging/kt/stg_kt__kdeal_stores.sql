{{ config(pre_hook="{{ delete_unpublished_source_batches('kt', 'kdeal_stores') }}") }}
-- K-deal store snapshots: one row per store per snapshot (business date). The owner's name
-- (대표자명) and phone (연락처) are personal data and are not selected: nothing downstream of this
-- model can see them.
with src as (
    select
        사업자등록번호, 상호명, 시도, 시군구, 업종, 입점일, 수수료면제, 상세페이지지원, 메시지발송건수, 스마트상점,
        {{ normalise_brn('사업자등록번호') }} as _brn,
        _batch_id, _source_file, _business_date, _row_number, _loaded_at
    from {{ published_rows('kt', 'kdeal_stores') }}
)

select
    _business_date as snapshot_date,
    {{ brn_columns('_brn') }},
    {{ clean_text('상호명') }} as store_name,
    {{ clean_text('시도') }} as sido_name,
    {{ sido_code_from_name('시도') }} as sido_code,
    {{ clean_text('시군구') }} as sigungu_name,
    {{ clean_text('업종') }} as category,
    {{ text_to_date('입점일', '%Y.%m.%d') }} as onboarded_on,
    {{ yn_flag('수수료면제') }} as is_fee_waived,
    {{ yn_flag('상세페이지지원') }} as has_detail_page,
    {{ yn_flag('스마트상점') }} as is_smart_store,
    {{ parse_krw('메시지발송건수') }} as messages_sent,
    _batch_id, _source_file, _business_date, _row_number, _loaded_at,
    {{ staged_at() }} as _staged_at
from src
