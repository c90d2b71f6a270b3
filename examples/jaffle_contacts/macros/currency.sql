{#- Money helpers used by the staging and intermediate models. Changing one
    marks every model that calls it as modified (state:modified.macros). -#}

{% macro cents_to_dollars(column_name, scale=2) -%}
    cast({{ column_name }} / 100.0 as decimal(18, {{ scale }}))
{%- endmacro %}

{% macro convert_to_usd(amount, usd_per_unit, scale=2) -%}
    cast({{ amount }} * {{ usd_per_unit }} as decimal(18, {{ scale }}))
{%- endmacro %}
