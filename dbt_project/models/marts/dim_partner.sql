select
    cast(partner_code as varchar) as partner_code,
    cast(partner_name_ko as varchar) as partner_name_ko,
    cast(platform_name_ko as varchar) as platform_name_ko
from {{ ref('partners') }}
