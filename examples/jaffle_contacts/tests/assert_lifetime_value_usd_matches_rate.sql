-- Singular test: lifetime_value_usd is lifetime_value at dim_currencies' rate
-- (to the cent). Returns the contacts where it is not.

select
    contacts.contact_id,
    contacts.lifetime_value,
    contacts.lifetime_value_usd,
    currencies.usd_per_unit
from {{ ref('fct_contacts') }} as contacts
join {{ ref('dim_currencies') }} as currencies using (currency_code)
where abs(contacts.lifetime_value * currencies.usd_per_unit - contacts.lifetime_value_usd) > 0.01
