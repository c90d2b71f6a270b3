{#- dbt's default naming (target schema, or <target schema>_<custom schema>),
    except for seeds with a custom schema: those stand in for a loader
    (Airbyte) and land in that schema verbatim, the same for every target, so
    source('airbyte', ...) resolves in dev, CI (CI_PR_<n>) and prod alike. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if node.resource_type == 'seed' and custom_schema_name is not none -%}
        {{ custom_schema_name | trim }}
    {%- else -%}
        {{ default__generate_schema_name(custom_schema_name, node) }}
    {%- endif -%}
{%- endmacro %}
