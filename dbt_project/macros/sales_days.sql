{#- int_daily_sales_netted is incremental by (partner, sales day) (macros/fingerprints.sql). A day's fingerprint is the
    number and the XOR of hashes of the record versions (batch id, row) that make it up; a K-deal
    취소 record counts towards the day of every order line it cancels, wherever it arrived. Any new,
    re-delivered or withdrawn record of a day, or a cancellation of one of its orders, changes it. -#}

{% macro sales_day_fingerprints(records) -%}
select partner_code, sales_date, count(*) as day_records, bit_xor({{ record_hash(['_batch_id', '_row_number']) }}) as day_fingerprint
from (
    select partner_code, sales_date, _batch_id, _row_number
    from {{ records }}
    where not is_cancellation
    union all
    select distinct o.partner_code, o.sales_date, c._batch_id, c._row_number
    from {{ records }} as c
    join {{ records }} as o
        on o.partner_code = 'kt' and not o.is_cancellation and o.order_id = c.order_id
    where c.partner_code = 'kt' and c.is_cancellation
)
group by partner_code, sales_date
{%- endmacro %}
