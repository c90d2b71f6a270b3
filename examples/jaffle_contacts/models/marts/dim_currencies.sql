-- One row per currency: its latest rate and the countries that use it.

with rates as (

    select * from {{ ref('int_exchange_rates__latest') }}

),

countries as (

    select
        currency_code,
        count(*)                                        as country_count,
        string_agg(country_code, ', ' order by country_code) as country_codes
    from {{ ref('country_currencies') }}
    group by currency_code

)

select
    rates.currency_code,
    rates.latest_rate_date,
    rates.usd_per_unit,
    rates.units_per_usd,
    coalesce(countries.country_count, 0)    as country_count,
    countries.country_codes
from rates
left join countries on rates.currency_code = countries.currency_code
