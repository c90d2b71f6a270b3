-- The latest extraction of each contact.

select *
from {{ ref('stg_airbyte__contacts') }}
qualify row_number() over (
    partition by contact_id
    order by extracted_at desc, airbyte_raw_id desc
) = 1
