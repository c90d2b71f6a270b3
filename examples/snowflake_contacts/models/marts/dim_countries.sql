-- One row per country: not downstream of the contacts, so an edit of
-- stg_contacts leaves it out of slim CI.

select country_code, country_name, region, currency_code
from {{ ref('country_currencies') }}
