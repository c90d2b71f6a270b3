-- One row per contact with its country and region.

select
    contacts.contact_id,
    contacts.first_name || ' ' || contacts.last_name as full_name,
    contacts.email,
    contacts.country_code,
    countries.country_name,
    countries.region,
    contacts.lifetime_value,
    contacts.created_at
from {{ ref('stg_contacts') }} as contacts
left join {{ ref('country_currencies') }} as countries
    on contacts.country_code = countries.country_code
