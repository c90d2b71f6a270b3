{#- Drops a CI schema and every schema it prefixes (CI_PR_12, CI_PR_12_staging,
    ... but never CI_PR_123) in one database, so schemas of models removed
    since are dropped too. Adapter-neutral: the candidates are the schemas
    this project's nodes use and every value of the adapter's list_schemas()
    that matches, whatever its column (row[0] of Snowflake's `show terse
    schemas` is created_on, not the name; adapter.list_schemas, which gives
    names, is not callable from Jinja); names match case-insensitively
    (Snowflake upper-cases them); adapter.check_schema_exists and the
    adapter's own drop_schema(relation) do the rest, quoting as the adapter
    does (called through dispatch: the seed's drop_schema(schema_name,
    database_name) shadows the name, so adapter.drop_schema would call it
    with the wrong arguments; hence the commit it would do, which DuckDB
    needs). Names are kept as spelled (Postgres may hold both CI_PR_1 and
    ci_pr_1); a spelling that is gone already is skipped by the check. A
    schema still there afterwards is an error: a clean-up is never silently
    undone.
    `dbtrun ci` calls it when it ends, also after a failure or Ctrl-C (and
    turns an error into a warning):
      dbt run-operation drop_ci_schemas --args '{"prefix": "CI_PR_12"}' --target ci -#}
{% macro drop_ci_schemas(prefix, database_name=target.database) %}
{% set wanted = prefix | lower %}
{% set names = [] %}
{% set seen = [] %}
{% set candidates = [] %}
{% for node in graph.nodes.values() %}
  {% do candidates.append(node.schema) %}
{% endfor %}
{% for row in list_schemas(database_name) %}
  {% for value in row %}
    {% do candidates.append(value) %}
  {% endfor %}
{% endfor %}
{% for name in candidates %}
  {% if name is string and (name | lower == wanted or (name | lower).startswith(wanted ~ '_'))
        and name not in seen %}
    {% do seen.append(name) %}
    {% do names.append(name) %}
  {% endif %}
{% endfor %}
{% set dropped = [] %}
{% for name in names %}
  {% if adapter.check_schema_exists(database_name, name) %}
    {% do adapter.dispatch('drop_schema', 'dbt')(api.Relation.create(database=database_name, schema=name)) %}
    {% do adapter.commit() %}
    {% do dropped.append(name) %}
  {% endif %}
{% endfor %}
{% set left = [] %}
{% for name in dropped %}
  {% if adapter.check_schema_exists(database_name, name) %}
    {% do left.append(name) %}
  {% endif %}
{% endfor %}
{% if left %}
  {% do exceptions.raise_compiler_error("drop_ci_schemas: still in " ~ database_name ~ " after the drop: " ~ left | join(", ")) %}
{% endif %}
{{ log("Dropped " ~ dropped | length ~ " schema(s) of " ~ prefix ~ " in " ~ database_name ~ (": " ~ dropped | join(", ") if dropped else ""), info=True) }}
{% endmacro %}
