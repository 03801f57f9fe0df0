-- What every table and column of the published marts means (the dbt descriptions, kept as comments).
--   .venv/bin/duckdb -readonly data/warehouse/panro.duckdb -f docs/queries/columns.sql
select
    table_name,
    column_name,
    data_type,
    comment
from duckdb_columns()
where schema_name = 'marts'
order by table_name, column_index;
