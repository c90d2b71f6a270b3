{#- Drops a CI schema and every schema it prefixes (CI_PR_12, CI_PR_12_staging,
    CI_PR_12_intermediate, ... but never CI_PR_123) through drop_schema, from
    the warehouse's own list of schemas, so schemas of models removed since
    are dropped too. `dbtrun ci` calls it when it ends, also after a failure
    or Ctrl-C:
      dbt run-operation drop_ci_schemas --args '{"prefix": "CI_PR_12"}' --target ci -#}
{% macro drop_ci_schemas(prefix, database_name=target.database) %}
{% set wanted = prefix | lower %}
{% for row in list_schemas(database_name) %}
  {% set name = row[0] %}
  {% if name | lower == wanted or (name | lower).startswith(wanted ~ '_') %}
    {% do drop_schema(name, database_name) %}
  {% endif %}
{% endfor %}
{% endmacro %}
