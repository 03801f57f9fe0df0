{{ config(materialized="view") }}
-- 배민 learning-content enrollments, one row per enrollment: a row is sent again when it completes
-- or gets a rating, and the latest wins (latest delivery, then latest row of that file).
-- A view over the staging table: the rows are parsed once, when their file first arrives, and
-- picking the latest of each is cheaper than writing a table of them.
select *
from {{ ref('stg_baemin__edu_enrollments') }}
qualify row_number() over (
    partition by enrollment_id order by _business_date desc, _row_number desc) = 1
