{#- Tables incremental by key with a fingerprint (int_daily_sales_netted by sales day,
    int_coupons_resolved by coupon). A key's fingerprint is the number and the XOR of the hashes of
    the record versions that make it up; every row carries its key's, in `_<records>` and
    `_<fingerprint>`. A nightly run
      1. pre-hook `delete_changed_keys(...)`: computes every key's fingerprint once, into a
         temporary table of the node's connection, and deletes the keys whose fingerprint changed
         (or that have no records any more);
      2. body: takes the fingerprints from there (`fingerprints_of(...)`: computed again only on a
         full refresh or in a unit test) and computes only the keys it does not hold
         (`not_held_yet`), which it appends;
      3. post-hook `drop_fingerprints()`: drops the temporary table.
    So a key is computed again exactly when a record of it is new, re-delivered or withdrawn. -#}

{#- The hash of one record version. DuckDB's hash(a, b) combines its arguments linearly, so in an
    XOR over records a part shared by an even number of them cancels out: two rows of one file
    would hide which version of the file they came from. Each part is folded in through hash()
    again instead. -#}
{% macro record_hash(parts) -%}
{%- set folded = namespace(sql='hash(' ~ parts[0] ~ ')') -%}
{%- for part in parts[1:] -%}
    {%- set folded.sql = 'hash(xor(' ~ folded.sql ~ ', hash(' ~ part ~ ')))' -%}
{%- endfor -%}
{{ folded.sql }}
{%- endmacro %}

{#- The temporary table holding a run's fingerprints for the model being built. -#}
{% macro _fingerprints_table() -%}
temp.main."{{ this.identifier }}__fingerprints"
{%- endmacro %}

{#- `fingerprints`: a query giving `keys`, `records` and `fingerprint` per key. -#}
{% macro delete_changed_keys(fingerprints, keys, records, fingerprint) -%}
{%- if is_incremental() -%}
create or replace temp table {{ _fingerprints_table() }} as {{ fingerprints }};
delete from {{ this }} as t
where not exists (
    select 1
    from {{ _fingerprints_table() }} as f
    where {% for k in keys %}f.{{ k }} is not distinct from t.{{ k }} and {% endfor -%}
      f.{{ records }} = t._{{ records }} and f.{{ fingerprint }} = t._{{ fingerprint }}
)
{%- else -%}
select 1 as no_op
{%- endif -%}
{%- endmacro %}

{#- The fingerprints the pre-hook computed (incremental), else `fingerprints` itself. -#}
{% macro fingerprints_of(fingerprints) -%}
{%- if is_incremental() -%}
select * from {{ _fingerprints_table() }}
{%- else -%}
{{ fingerprints }}
{%- endif -%}
{%- endmacro %}

{% macro drop_fingerprints() -%}
{%- if is_incremental() -%}
drop table if exists {{ _fingerprints_table() }}
{%- else -%}
select 1 as no_op
{%- endif -%}
{%- endmacro %}

{#- A condition on `alias`: its key is not in this table yet (true on a full refresh). -#}
{% macro not_held_yet(alias, keys) -%}
{%- if is_incremental() -%}
not exists (
    select 1 from {{ this }} as t
    where {% for k in keys %}t.{{ k }} is not distinct from {{ alias }}.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %}
)
{%- else -%}
true
{%- endif -%}
{%- endmacro %}
