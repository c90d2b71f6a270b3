-- The most recent rate of each currency.

select
    currency_code,
    rate_date as latest_rate_date,
    usd_per_unit,
    units_per_usd
from {{ ref('stg_airbyte__exchange_rates') }}
qualify row_number() over (partition by currency_code order by rate_date desc) = 1
