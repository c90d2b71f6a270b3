{{ config(materialized='table') }}

-- Deduplicated contacts with their country, region and lifetime value in USD
-- at the latest rate.

with contacts as (

    select * from {{ ref('int_contacts__deduplicated') }}

),

countries as (

    select * from {{ ref('country_currencies') }}

),

rates as (

    select * from {{ ref('int_exchange_rates__latest') }}

)

select
    contacts.contact_id,
    contacts.first_name,
    contacts.last_name,
    contacts.first_name || ' ' || contacts.last_name         as full_name,
    contacts.email,
    contacts.email is not null                               as has_email,
    contacts.country_code,
    countries.country_name,
    countries.region,
    contacts.currency_code,
    contacts.lifetime_value,
    {{ convert_to_usd('contacts.lifetime_value', 'rates.usd_per_unit') }} as lifetime_value_usd,
    rates.latest_rate_date                                   as rate_date,
    contacts.is_subscribed,
    contacts.created_at,
    contacts.extracted_at

from contacts
left join countries on contacts.country_code = countries.country_code
left join rates on contacts.currency_code = rates.currency_code
