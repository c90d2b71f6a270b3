-- One row per extracted contact row, cleaned and typed; duplicates stay
-- (see int_contacts__deduplicated).
-- The seed stands in for Airbyte; this line orders it before the model in a
-- full `dbt build`:  depends_on: {{ ref('contacts') }}

with source as (

    select * from {{ source('airbyte', 'contacts') }}

),

renamed as (

    select
        cast(id as integer)                         as contact_id,
        trim(first_name)                            as first_name,
        trim(last_name)                             as last_name,
        nullif(lower(trim(email)), '')              as email,
        upper(trim(country_code))                   as country_code,
        upper(trim(currency))                       as currency_code,
        {{ cents_to_dollars('lifetime_value_cents') }} as lifetime_value,
        cast(is_subscribed as boolean)              as is_subscribed,
        cast(created_at as timestamp)               as created_at,
        cast(_airbyte_extracted_at as timestamp)    as extracted_at,
        _airbyte_raw_id                             as airbyte_raw_id

    from source

)

select * from renamed
