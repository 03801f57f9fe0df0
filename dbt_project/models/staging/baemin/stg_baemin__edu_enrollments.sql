{{ config(pre_hook="{{ delete_unpublished_source_batches('baemin', 'edu_enrollments') }}") }}
-- 배민 learning-content enrollments, one row per row as delivered. A row is sent again when it
-- completes or gets a rating; int_edu_enrollments_deduplicated keeps the latest per enrollment.
with src as (
    select
        *,
        {{ normalise_brn('biz_reg_no') }} as _brn,
        {{ kst_text_to_instant('enrolled_at') }} as _enrolled_at,
        {{ kst_text_to_instant('completed_at') }} as _completed_at
    from {{ published_rows('baemin', 'edu_enrollments') }}
)

select
    {{ clean_text('enrollment_id') }} as enrollment_id,
    {{ clean_text('learner_id') }} as learner_id,
    {{ brn_columns('_brn') }},
    {{ clean_text('course_id') }} as course_id,
    {{ clean_text('course_title') }} as course_title,
    {{ clean_text('course_category') }} as course_category,
    _enrolled_at as enrolled_at,
    {{ kst_date('_enrolled_at') }} as enrolled_on,
    _completed_at as completed_at,
    {{ kst_date('_completed_at') }} as completed_on,
    try_cast(nullif(trim(satisfaction), '') as double) as satisfaction,
    _batch_id, _source_file, _business_date, _row_number, _loaded_at,
    {{ staged_at() }} as _staged_at
from src
