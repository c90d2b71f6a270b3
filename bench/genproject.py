"""bench/genproject.py ROOT MODELS: a synthetic dbt project (duckdb) for the
benchmarks: 10 layers, each model refs 1-3 models of earlier layers, one test
per model, descriptions, a few macros calling each other. Deterministic."""
import os, random, sys
root, total = sys.argv[1], int(sys.argv[2])
random.seed(7)
layers, per = 10, total // 10
os.makedirs(f"{root}/macros")
open(f"{root}/dbt_project.yml", "w").write(
    "name: bench\nversion: '1.0'\nconfig-version: 2\nprofile: bench\n"
    "flags:\n  send_anonymous_usage_stats: false\n"
    "models:\n  bench:\n    +materialized: view\n    l9:\n      +materialized: table\n")
open(f"{root}/profiles.yml", "w").write(
    "bench:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
    "      path: \"{{ env_var('DBT_DUCKDB_PATH') }}\"\n      schema: main\n")
for i in range(20):
    inner = f"{{{{ helper_{i - 1}(x) }}}}" if i else "{{ x }}"
    open(f"{root}/macros/helper_{i}.sql", "w").write(
        f"{{% macro helper_{i}(x) -%}}\n    ({inner} + {i})\n{{%- endmacro %}}\n")
os.makedirs(f"{root}/models/l0")
src = ["version: 2", "sources:", "  - name: raw", "    schema: raw", "    tables:"]
src += [f"      - name: t{t}" for t in range(50)]
open(f"{root}/models/l0/_sources.yml", "w").write("\n".join(src) + "\n")
for layer in range(layers):
    d = f"{root}/models/l{layer}"
    os.makedirs(d, exist_ok=True)
    yml = ["version: 2", "models:"]
    for k in range(per):
        name = f"m{layer}_{k:04d}"
        if layer == 0:
            deps = [f"{{{{ source('raw', 't{k % 50}') }}}}"]
        else:
            deps = [f"{{{{ ref('m{random.randrange(layer)}_{random.randrange(per):04d}') }}}}"
                    for _ in range(random.randint(1, 3))]
        expr = f"{{{{ helper_{k % 20}('id') }}}}" if k % 10 == 0 else "id"
        body = f"-- model {name}\nselect {expr} as id, {k} as k\nfrom {deps[0]}\n"
        for j, dep in enumerate(deps[1:]):
            body += f"join {dep} as d{j} using (id)\n"
        open(f"{d}/{name}.sql", "w").write(body)
        yml += [f"  - name: {name}", f"    description: Model {name} of layer {layer}.",
                "    columns:", "      - name: id", "        description: The key.",
                "        data_tests: [not_null]", "      - name: k", "        description: A number."]
    open(f"{d}/_models.yml", "w").write("\n".join(yml) + "\n")
