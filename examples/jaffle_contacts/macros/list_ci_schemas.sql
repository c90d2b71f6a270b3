{#- Lists the CI schemas of every pull request for `dbtrun ci-cleanup`: the
    schemas of one database whose names start with `prefix` (the part of
    config ci.schema before {pr}, CI_PR_), compared case-insensitively, one
    line each on stdout:
      dbtrun-ci-schema {"name": "CI_PR_12_staging", "created": "2026-12-01T09:30:00-08:00"}
    Adapter-neutral, like drop_ci_schemas: the adapter's list_schemas() rows,
    whatever their columns; a row's name is its value with the prefix, its
    creation time a value that is a date-time (Snowflake's show terse schemas
    has created_on; DuckDB, Postgres and others give names only: "created"
    is then empty and only the closed-pull-request rule applies). ci-cleanup
    drops what it chooses with drop_ci_schemas.
      dbt run-operation list_ci_schemas --args '{"prefix": "CI_PR_"}' --target ci -#}
{% macro list_ci_schemas(prefix, database_name=target.database) %}
{% set wanted = prefix | lower %}
{% set seen = [] %}
{% for row in list_schemas(database_name) %}
  {% set found = namespace(name=none, created="") %}
  {% for value in row %}
    {% if value is string %}
      {% if found.name is none and (value | lower).startswith(wanted) %}
        {% set found.name = value %}
      {% endif %}
    {% elif value.isoformat is defined %}
      {% set found.created = value.isoformat() %}
    {% endif %}
  {% endfor %}
  {% if found.name is not none and found.name not in seen %}
    {% do seen.append(found.name) %}
    {% do print("dbtrun-ci-schema " ~ tojson({"name": found.name, "created": found.created})) %}
  {% endif %}
{% endfor %}
{% endmacro %}
