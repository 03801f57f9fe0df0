select
    cast(sido_code as varchar) as sido_code,
    cast(sido_name_ko as varchar) as sido_name_ko,
    cast(sido_name_en as varchar) as sido_name_en
from {{ ref('regions') }}
