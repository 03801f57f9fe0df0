select
    cast(festival_code as varchar) as festival_code,
    cast(festival_name_ko as varchar) as festival_name_ko,
    cast(start_date as date) as start_date,
    cast(end_date as date) as end_date
from {{ ref('festivals') }}
