{#- 시도 codes (domain.md), from the seeds shared with panro.regions. -#}

{#- A region name in any accepted spelling (`서울`, `서울시`, `Seoul`, `강원도` …) → current 2-digit
    code; NULL when unknown. -#}
{% macro sido_code_from_name(expr) -%}
(select rv.sido_code from {{ ref('region_variants') }} as rv
  where lower(rv.region_name) = lower(trim({{ expr }})))
{%- endmacro %}

{#- A 2-digit 시도 code, legacy (42 강원, 45 전북) or current → the current code; NULL when unknown. -#}
{% macro current_sido_code(expr) -%}
(select r.sido_code from {{ ref('regions') }} as r
  where r.sido_code = {{ expr }} or r.legacy_code = {{ expr }})
{%- endmacro %}

{#- A 5-digit 시군구 code → the same 시군구 under the current 시도 code (42110 → 51110). -#}
{% macro current_sigungu_code(expr) -%}
({{ current_sido_code('left(trim(' ~ expr ~ '), 2)') }} || substr(trim({{ expr }}), 3))
{%- endmacro %}
