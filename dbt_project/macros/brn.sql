{#- 사업자등록번호 (domain.md). normalise_brn: the 10-digit form of a bare or dashed BRN, NULL for any
    other shape (same rule as panro.brn.normalise). brn_check_ok: the check digit of a 10-digit
    string; false for NULL. -#}

{% macro normalise_brn(expr) -%}
(case when regexp_full_match(trim({{ expr }}), '[0-9]{3}-?[0-9]{2}-?[0-9]{5}')
      then replace(trim({{ expr }}), '-', '') end)
{%- endmacro %}

{% macro brn_check_ok(digits) -%}
{%- set weights = [1, 3, 7, 1, 3, 7, 1, 3, 5] -%}
coalesce(
    (10 - ((
        {%- for w in weights %}
        {{ w }} * cast(substr({{ digits }}, {{ loop.index }}, 1) as integer) +
        {%- endfor %}
        (5 * cast(substr({{ digits }}, 9, 1) as integer)) // 10
    ) % 10)) % 10 = cast(substr({{ digits }}, 10, 1) as integer),
    false)
{%- endmacro %}

{#- The three BRN columns every staging model exposes, from a CTE column `brn` already normalised. -#}
{% macro brn_columns(brn='brn') -%}
    {{ brn }} as brn,
    {{ brn_check_ok(brn) }} as brn_is_valid,
    case when {{ brn_check_ok(brn) }} then {{ brn }} end as merchant_id
{%- endmacro %}
