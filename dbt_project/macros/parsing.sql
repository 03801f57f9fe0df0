{#- Parsing partners' text (feeds.md). Every instant becomes a TIMESTAMPTZ; every business date is
    the KST (Asia/Seoul) calendar date of that instant, derived here and nowhere else. -#}

{#- `12,000` → 12000 (BIGINT); NULL when empty or not a whole number. -#}
{% macro parse_krw(expr) -%}
try_cast(replace(nullif(trim({{ expr }}), ''), ',', '') as bigint)
{%- endmacro %}

{#- Text that is empty means NULL. -#}
{% macro clean_text(expr) -%}
nullif(trim({{ expr }}), '')
{%- endmacro %}

{#- A KST wall-clock text without offset (`2023-05-03 14:22:05`) → TIMESTAMPTZ. -#}
{% macro kst_text_to_instant(expr, fmt='%Y-%m-%d %H:%M:%S') -%}
timezone('Asia/Seoul', try_strptime(nullif(trim({{ expr }}), ''), '{{ fmt }}'))
{%- endmacro %}

{#- ISO-8601 text with an offset (`2023-05-03T14:22:05+09:00`) → TIMESTAMPTZ. -#}
{% macro iso_to_instant(expr) -%}
try_cast(nullif(trim({{ expr }}), '') as timestamptz)
{%- endmacro %}

{#- UTC epoch milliseconds → TIMESTAMPTZ. -#}
{% macro epoch_ms_to_instant(expr) -%}
timezone('UTC', epoch_ms(cast({{ expr }} as bigint)))
{%- endmacro %}

{#- The KST business date of an instant. -#}
{% macro kst_date(instant) -%}
cast(timezone('Asia/Seoul', {{ instant }}) as date)
{%- endmacro %}

{#- A date written as text in a given format (`2023.05.01`, `20230501`) → DATE. -#}
{% macro text_to_date(expr, fmt) -%}
cast(try_strptime(nullif(trim({{ expr }}), ''), '{{ fmt }}') as date)
{%- endmacro %}

{#- `Y`/`N` → boolean. -#}
{% macro yn_flag(expr) -%}
(case upper(trim({{ expr }})) when 'Y' then true when 'N' then false end)
{%- endmacro %}
