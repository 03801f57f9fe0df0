{{ config(materialized='table') }}
-- 배민 learning-content enrollments. A row is sent again when it completes or gets a rating:
-- the latest row per enrollment_id wins (latest delivery, then latest row of that file).
with src as (
    select
        *,
        {{ normalise_brn('biz_reg_no') }} as _brn,
        {{ kst_text_to_instant('enrolled_at') }} as _enrolled_at,
        {{ kst_text_to_instant('completed_at') }} as _completed_at
    from {{ source('baemin', 'edu_enrollments') }}
    qualify row_number() over (
        partition by trim(enrollment_id) order by _business_date desc, _row_number desc) = 1
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
    _batch_id, _source_file, _business_date, _row_number, _loaded_at
from src
