{#- Incremental models over published batches (architecture.md, "The batch-version rule").

    A published batch is the current version of one delivered file. An incremental model keeps,
    for every row, the `_source_file` and `_batch_id` it came from. On a nightly run:
      1. body `where {{ only_new_batches(upstream) }}`: reads only the rows of batches it does not
         hold yet — new files and new versions of re-delivered files. The batch ids are looked up
         first and inlined as constants, so DuckDB skips every other Parquet file / row group;
      2. pre-hook `delete_unpublished_batches([upstream, ...])`: deletes its rows whose batch is no
         longer published upstream — the file was replaced by a new version (even an empty one)
         or withdrawn;
      3. strategy delete+insert on `_source_file`: the rows of a replaced file are replaced,
         never added on top.
    A full refresh (or the first run) reads every published batch and gives the same table. -#}

{% macro delete_unpublished_batches(upstreams) -%}
{#- A batch id names its file (`partner/feed/file@sha12`), so "this batch is no longer published"
    covers a replaced, emptied or withdrawn file alike. -#}
{%- if is_incremental() -%}
delete from {{ this }}
where _batch_id not in (
    {%- for rel in upstreams %}
    select distinct _batch_id from {{ rel }} where _batch_id is not null
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
)
{%- else -%}
select 1 as no_op
{%- endif -%}
{%- endmacro %}

{% macro only_new_batches(upstream) -%}
{%- if is_incremental() -%}
    {%- set ids = [] -%}
    {%- if execute -%}
        {%- set found = run_query(
            "select distinct _batch_id from " ~ upstream ~ " where _batch_id is not null"
            ~ " except select distinct _batch_id from " ~ this ~ " order by 1") -%}
        {%- set ids = found.columns[0].values() -%}
    {%- endif -%}
    {%- if ids | length == 0 -%}
false
    {%- else -%}
_batch_id in ({% for i in ids %}'{{ i | replace("'", "''") }}'{% if not loop.last %}, {% endif %}{% endfor %})
    {%- endif -%}
{%- else -%}
true
{%- endif -%}
{%- endmacro %}

{#- A deterministic surrogate key: md5 of the parts joined with '|' (NULL parts as ''). -#}
{% macro surrogate_key(parts) -%}
md5(concat_ws('|', {% for p in parts %}coalesce(cast({{ p }} as varchar), ''){% if not loop.last %}, {% endif %}{% endfor %}))
{%- endmacro %}
