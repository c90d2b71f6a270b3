{{ config(materialized='view') }}

-- Contacts and lifetime value per country.

select
    country_code,
    country_name,
    region,
    count(*)                as contacts,
    sum(lifetime_value)     as lifetime_value
from {{ ref('fct_contacts') }}
group by country_code, country_name, region
