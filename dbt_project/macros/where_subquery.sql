{#- A data test's `where` config, as dbt applies it, with one placeholder: `__latest_build__` is the
    latest `_staged_at` of the tested table, so `where: "_staged_at = __latest_build__"` tests the
    rows the latest build wrote (a full refresh writes every row). For tests of uniqueness within
    files on incremental tables: a file's rows are written together, and rows written before were
    tested by the build that wrote them. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- set where = where | replace('__latest_build__', '(select max(_staged_at) from ' ~ relation ~ ')') -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
