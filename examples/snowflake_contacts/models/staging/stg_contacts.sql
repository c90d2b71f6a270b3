-- One row per contact, cleaned and typed.

select
    cast(id as integer)                         as contact_id,
    trim(first_name)                            as first_name,
    trim(last_name)                             as last_name,
    nullif(lower(trim(email)), '')              as email,
    upper(trim(country_code))                   as country_code,
    cast(lifetime_value_cents / 100.0 as decimal(18, 2)) as lifetime_value,
    cast(created_at as timestamp)               as created_at
from {{ ref('contacts') }}
