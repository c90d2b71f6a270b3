-- One row per contact: the mart the seed document's developer works on.
-- Its columns and types are a contract (see _marts__models.yml).

select
    cast(contact_id as integer)              as contact_id,
    cast(full_name as varchar)               as full_name,
    cast(email as varchar)                   as email,
    cast(has_email as boolean)               as has_email,
    cast(country_code as varchar)            as country_code,
    cast(country_name as varchar)            as country_name,
    cast(region as varchar)                  as region,
    cast(currency_code as varchar)           as currency_code,
    cast(lifetime_value as decimal(18, 2))   as lifetime_value,
    cast(lifetime_value_usd as decimal(18, 2)) as lifetime_value_usd,
    cast(is_subscribed as boolean)           as is_subscribed,
    cast(created_at as timestamp)            as created_at
from {{ ref('int_contacts__enriched') }}
