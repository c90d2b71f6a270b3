-- Daily exchange rates, typed. usd_per_unit: US dollars for one unit of currency_code.
-- The seed stands in for Airbyte:  depends_on: {{ ref('exchange_rates') }}

with source as (

    select * from {{ source('airbyte', 'exchange_rates') }}

)

select
    upper(trim(currency))                           as currency_code,
    cast(rate_date as date)                         as rate_date,
    cast(usd_per_unit as decimal(18, 6))            as usd_per_unit,
    cast(1 / usd_per_unit as decimal(18, 6))        as units_per_usd,
    cast(_airbyte_extracted_at as timestamp)        as extracted_at,
    _airbyte_raw_id                                 as airbyte_raw_id

from source
