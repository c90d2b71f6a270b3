{#- From the seed document, unchanged: DuckDB accepts
    `drop schema if exists <database>.<schema> cascade`, where <database> is
    the DuckDB file's stem (target.database; "example" for example.duckdb).
    database_name defaults to the target's database.
      dbt run-operation drop_schema --args '{schema_name: CI_PR_12, database_name: example}' --target ci -#}
{% macro drop_schema(schema_name, database_name=target.database) %}
{% set drop_query %}
drop schema if exists {{ database_name }}.{{ schema_name }} cascade
{% endset %}
{% do run_query(drop_query) %}
{{ log("Dropped schema: " ~ database_name ~ "." ~ schema_name, info=True) }}
{% endmacro %}
