{{ config(pre_hook="{{ delete_unpublished_source_batches('zigzag', 'support') }}") }}
-- 지그재그 partner-funded support rows (sheet 지원내역).
with src as (
    select *, {{ normalise_brn('사업자번호') }} as _brn
    from {{ published_rows('zigzag', 'support') }}
)

select
    {{ clean_text('스토어ID') }} as store_id,
    {{ brn_columns('_brn') }},
    {{ clean_text('스토어명') }} as store_name,
    {{ clean_text('지원항목') }} as support_item_ko,
    지원금액 as amount_krw,
    지원일 as supported_on,
    {{ clean_text('시도') }} as sido_name,
    {{ sido_code_from_name('시도') }} as sido_code,
    _batch_id, _source_file, _business_date, _row_number, _loaded_at,
    {{ staged_at() }} as _staged_at
from src
