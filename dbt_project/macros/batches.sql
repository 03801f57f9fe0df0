{#- Incremental models over published batches (architecture.md, "The batch-version rule").

    A published batch is the current version of one delivered file. An incremental model keeps,
    for every row, the `_source_file` and `_batch_id` it came from. On a nightly run:
      1. pre-hook `delete_unpublished_batches(...)`: deletes its rows whose batch is no longer
         published upstream — the file was replaced by a new version (even an empty one) or withdrawn;
      2. body: reads only the rows of batches it does not hold yet — new files and new versions of
         re-delivered files (`published_rows` for a staging model, `only_new_batches` for a model
         over staging tables). The batch ids are looked up first and inlined as constants;
      3. strategy delete+insert on `_source_file`: the rows of a replaced file are replaced,
         never added on top.
    A full refresh (or the first run) reads every published batch and gives the same table.

    Staging models learn which batches are published, and the file holding each one's rows, from the
    published zone's table of contents, `published/_index.parquet` (written by the gate from the
    ledger: panro.gate.state.write_index), and read the files of new batches only. So a nightly run
    opens the night's files, not every file of a year. Without an index (a bare `dbt` call on
    published files put there by hand, one batch each) they open every published file of the feed
    to find its batches. -#}

{#- The published zone, in SQL: the variable panro's dbt-duckdb plugin sets on every cursor
    (panro.transform.dbt_plugin). Not dbt's env_var: what dbt renders while parsing names no folder,
    so one parse serves every data directory. -#}
{% macro published_dir() -%}
getvariable('panro_published')
{%- endmacro %}

{#- Its table of contents: a SQL expression. -#}
{% macro published_index() -%}
({{ published_dir() }} || '/_index.parquet')
{%- endmacro %}

{#- Its folder, as text (at run time only). -#}
{% macro published_root() -%}
{{ return(run_query("select " ~ published_dir()).columns[0].values()[0]) }}
{%- endmacro %}

{% macro _quoted(text) -%}
'{{ text | replace("'", "''") }}'
{%- endmacro %}

{% macro _quoted_list(texts) -%}
{%- for t in texts %}{{ _quoted(t) }}{% if not loop.last %}, {% endif %}{% endfor -%}
{%- endmacro %}

{% macro has_published_index() -%}
{%- if not execute -%}{{ return(false) }}{%- endif -%}
{%- set found = run_query("select count(*) from glob(" ~ published_index() ~ ")") -%}
{{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}

{#- The ids of the batches published for source(source_name, table_name): a query. -#}
{% macro published_batch_ids(source_name, table_name) -%}
{%- set src = source(source_name, table_name) -%}
{%- if has_published_index() -%}
select batch_id as _batch_id from read_parquet({{ published_index() }})
where feed = {{ _quoted(source_name ~ '/' ~ table_name) }}
{%- else -%}
select distinct _batch_id from {{ src }} where _batch_id is not null
{%- endif -%}
{%- endmacro %}

{#- The rows a staging model reads from source(source_name, table_name): every published row on a
    full refresh, else the rows of the batches it does not hold yet — each batch read from the one file
    the index names for it, and from no other. A published file may hold several batches (a raw file of
    several delivered files, linked whole: architecture.md), and rows of batches published elsewhere:
    a batch published without its rejected rows has a file of its own, while the linked file still holds
    every row it delivered; a batch replaced or held since is in no index entry at all. So a row counts
    when its (file, batch) pair is listed, never by its batch id alone. -#}
{% macro published_rows(source_name, table_name) -%}
{%- set src = source(source_name, table_name) -%}
{%- if model.resource_type == 'unit_test' or not has_published_index() -%}
    {#- a unit test gives the source's rows itself -#}
    {%- if is_incremental() -%}
(select * from {{ src }} where {{ only_new_batches(src) }})
    {%- else -%}
{{ src }}
    {%- endif -%}
{%- else -%}
    {%- set feed = source_name ~ '/' ~ table_name -%}
    {%- set root = published_root() -%}
    {%- set found = run_query(
        "select batch_id, path from read_parquet(" ~ published_index() ~ ")"
        ~ " where feed = " ~ _quoted(feed)
        ~ (" and batch_id not in (select _batch_id from " ~ this ~ " where _batch_id is not null)"
           if is_incremental() else "")
        ~ " order by path, batch_id") -%}
    {%- set ids = found.columns[0].values() -%}
    {%- set paths = found.columns[1].values() -%}
    {%- set files = [root ~ '/' ~ feed ~ '/_schema.parquet'] -%}
    {%- for path in paths %}{% if loop.first or path != loop.previtem %}{% do files.append(root ~ '/' ~ path) %}{% endif %}{% endfor -%}
(select * exclude (_published_file)
 from read_parquet([{{ _quoted_list(files) }}], union_by_name = true, filename = '_published_file')
 where {% if ids | length == 0 %}false{% else %}(_published_file, _batch_id) in (values
    {%- for i in range(ids | length) %} ({{ _quoted(root ~ '/' ~ paths[i]) }}, {{ _quoted(ids[i]) }}){% if not loop.last %},{% endif %}{% endfor %}){% endif %})
{%- endif -%}
{%- endmacro %}

{% macro delete_unpublished_batches(upstreams) -%}
{#- A batch id names its file (`partner/feed/file@sha12`), so "this batch is no longer published"
    covers a replaced, emptied or withdrawn file alike. `upstreams`: the staging tables read. -#}
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

{#- The same for a staging model over source(source_name, table_name). -#}
{% macro delete_unpublished_source_batches(source_name, table_name) -%}
{%- if is_incremental() -%}
delete from {{ this }}
where _batch_id not in ({{ published_batch_ids(source_name, table_name) }})
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
_batch_id in ({{ _quoted_list(ids) }})
    {%- endif -%}
{%- else -%}
true
{%- endif -%}
{%- endmacro %}

{#- When a row was written into an incremental table: the start of the dbt invocation that wrote it.
    Every row of a file is written by the same build (delete+insert by `_source_file`), so a test
    of uniqueness within files need only look at the latest build's rows: `where:
    "_staged_at = __latest_build__"` (macros/where_subquery.sql). -#}
{% macro staged_at() -%}
cast('{{ run_started_at.isoformat() }}' as timestamptz)
{%- endmacro %}

{#- A deterministic surrogate key: md5 of the parts joined with '|' (NULL parts as ''). -#}
{% macro surrogate_key(parts) -%}
md5(concat_ws('|', {% for p in parts %}coalesce(cast({{ p }} as varchar), ''){% if not loop.last %}, {% endif %}{% endfor %}))
{%- endmacro %}
