{{
    config(
        materialized='incremental',
        unique_key=['currency_code', 'rate_date'],
        on_schema_change='fail'
    )
}}

-- Daily exchange rates with the change from the previous day. Incremental:
-- a run adds the days after the latest one already in the table.

with rates as (

    select
        currency_code,
        rate_date,
        usd_per_unit,
        units_per_usd,
        lag(usd_per_unit) over (partition by currency_code order by rate_date) as previous_usd_per_unit
    from {{ ref('stg_airbyte__exchange_rates') }}

)

select
    currency_code,
    rate_date,
    usd_per_unit,
    units_per_usd,
    previous_usd_per_unit,
    cast(usd_per_unit - previous_usd_per_unit as decimal(18, 6)) as day_over_day_change
from rates

{% if is_incremental() %}
where rate_date > (select max(rate_date) from {{ this }})
{% endif %}
