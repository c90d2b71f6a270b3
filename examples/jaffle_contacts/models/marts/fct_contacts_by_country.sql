{{ config(materialized='view') }}

-- Contacts and lifetime value (USD) per country.

select
    country_code,
    country_name,
    region,
    count(*)                                    as contacts,
    count(*) filter (where is_subscribed)       as subscribed_contacts,
    count(*) filter (where has_email)           as contacts_with_email,
    sum(lifetime_value_usd)                     as lifetime_value_usd
from {{ ref('fct_contacts') }}
group by country_code, country_name, region
