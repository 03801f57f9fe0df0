{#- Published batches of a feed, as the sources in models/staging/_sources.yml read them
    (panro.batches.published_dir: <published>/<partner>/<feed>/*.parquet). -#}
{% macro published_location(partner, feed) -%}
read_parquet({{ published_dir() }} || '/{{ partner }}/{{ feed }}/*.parquet', union_by_name = true)
{%- endmacro %}

{#- dbt's get_fixture_sql (dbt-core 1.11, macros/unit_test_sql/get_fixture_sql.sql), with one
    change: dbt types a fixture's columns by introspecting the input relation, and a source read
    through dbt-duckdb's `external_location` is no table in the warehouse. For a source input,
    the columns come from the published Parquet files themselves (every feed has its zero-row
    `_schema.parquet`). -#}
{% macro get_fixture_sql(rows, column_name_to_data_types) %}
-- Fixture for {{ model.name }}
{% set default_row = {} %}
{%- set column_name_to_quoted = {} -%}

{%- if not column_name_to_data_types -%}
{%-   set column_name_to_data_types = {} -%}
{%-   if model.get('source_name') -%}
{%-     set described = run_query('describe select * from ' ~ published_location(model.source_name, model.name)) if execute else none -%}
{%-     for row in (described.rows if described else []) -%}
{%-       do column_name_to_data_types.update({row[0] | lower: row[1]}) -%}
{%-       do column_name_to_quoted.update({row[0] | lower: adapter.quote(row[0])}) -%}
{%-     endfor -%}
{%-   else -%}
{%-     set this_or_defer_relation = defer_relation if (defer_relation and not load_relation(this)) else this -%}
{%-     set columns_in_relation = adapter.get_columns_in_relation(this_or_defer_relation) -%}
{%-     for column in columns_in_relation -%}
{%-       do column_name_to_data_types.update({column.name|lower: column.data_type}) -%}
{%-       do column_name_to_quoted.update({column.name|lower: column.quoted}) -%}
{%-     endfor -%}
{%-   endif -%}
{%- endif -%}

{%- if not column_name_to_data_types -%}
    {{ exceptions.raise_compiler_error("Not able to get columns for unit test '" ~ model.name ~ "' from relation " ~ this ~ " because the relation doesn't exist") }}
{%- endif -%}

{%- for column_name, column_type in column_name_to_data_types.items() -%}
    {%- do default_row.update({column_name: (safe_cast("null", column_type) | trim )}) -%}
{%- endfor -%}

{{ validate_fixture_rows(rows, row_number) }}

{%- for row in rows -%}
{%-   set formatted_row = format_row(row, column_name_to_data_types) -%}
{%-   set default_row_copy = default_row.copy() -%}
{%-   do default_row_copy.update(formatted_row) -%}
select
{%-   for column_name, column_value in default_row_copy.items() %} {{ column_value }} as {{ column_name_to_quoted[column_name] }}{% if not loop.last -%}, {%- endif %}
{%-   endfor %}
{%-   if not loop.last %}
union all
{%    endif %}
{%- endfor -%}

{%- if (rows | length) == 0 -%}
    select
    {%- for column_name, column_value in default_row.items() %} {{ column_value }} as {{ column_name_to_quoted[column_name] }}{% if not loop.last -%},{%- endif %}
    {%- endfor %}
    limit 0
{%- endif -%}
{% endmacro %}
