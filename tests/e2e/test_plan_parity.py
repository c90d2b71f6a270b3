"""Parity of `dbtrun plan` with dbt's own state selection, on the example
project with real dbt: for each kind of edit, the models that
`dbtrun plan --format json` puts in state:modified+ are exactly the models
`dbt ls --select state:modified+ --state ...` lists, and the plan names the
reason in dbt's terms."""
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Optional

import pytest

from conftest import DBTRUN, ROOT

EXAMPLE = ROOT / "examples" / "jaffle_contacts"
VENV_BIN = ROOT / ".venv" / "bin"
DBT = VENV_BIN / "dbt"

pytestmark = pytest.mark.skipif(not DBT.exists(), reason="needs the venv's dbt (tools/venv.sh)")


def replace(path: Path, old: str, new: str, count: int = 1):
    """Replaces text that must be there: a changed example fails loudly."""
    text = path.read_text()
    assert old in text, f"{path.name} no longer contains {old!r}"
    path.write_text(text.replace(old, new, count))


@dataclass
class Case:
    name: str
    edit: Callable[[Path], None]
    # unique id -> reason the plan must give it ({} when nothing may change)
    expect: Dict[str, str] = field(default_factory=dict)
    # applied before the production manifest is made (both sides share it)
    setup: Optional[Callable[[Path], None]] = None
    expect_models: bool = True  # whether dbt must select at least one model


P = "jaffle_contacts"
MARTS_YML = "models/marts/_marts__models.yml"
SOURCES_YML = "models/staging/airbyte/_airbyte__sources.yml"


def setup_persist_docs(p: Path):
    replace(p / "dbt_project.yml", "    marts:\n      +materialized: table",
            "    marts:\n      +materialized: table\n      +persist_docs: {relation: true, columns: true}")


def setup_macro_chain(p: Path):
    # cents_to_dollars -> money_scale: a model calling cents_to_dollars depends
    # on money_scale only through another macro.
    replace(p / "macros/currency.sql", "cast({{ column_name }} / 100.0 as decimal(18, {{ scale }}))",
            "cast({{ column_name }} / 100.0 as decimal(18, {{ money_scale(scale) }}))")
    (p / "macros/money_scale.sql").write_text(
        "{% macro money_scale(scale) -%}\n    {{ scale }}\n{%- endmacro %}\n")


CASES = [
    Case("body",
         lambda p: replace(p / "models/marts/dim_currencies.sql", "group by currency_code",
                           "group by 1"),
         {f"model.{P}.dim_currencies": "modified.body"}),
    # dbt strips a file's leading and trailing whitespace: only inner blanks count.
    Case("whitespace-only",
         lambda p: replace(p / "models/intermediate/int_exchange_rates__latest.sql", "\n", "\n\n  \n"),
         {f"model.{P}.int_exchange_rates__latest": "modified.body"}),
    Case("config",
         lambda p: replace(p / "dbt_project.yml", "    marts:\n      +materialized: table",
                           "    marts:\n      +materialized: table\n      +on_schema_change: append_new_columns"),
         {f"model.{P}.fct_contacts": "modified.configs"}),
    Case("materialization",
         lambda p: replace(p / "dbt_project.yml", "    intermediate:\n      +materialized: view",
                           "    intermediate:\n      +materialized: table"),
         {f"model.{P}.int_exchange_rates__latest": "modified.configs"}),
    Case("schema-alias",
         lambda p: replace(p / MARTS_YML, "  - name: fct_contacts_by_country\n",
                           "  - name: fct_contacts_by_country\n    config:\n      alias: contacts_by_country\n      schema: reporting\n"),
         {f"model.{P}.fct_contacts_by_country": "modified.relation"}),
    Case("tags-only (excluded key)",
         lambda p: replace(p / MARTS_YML, "  - name: fct_contacts_by_country\n",
                           "  - name: fct_contacts_by_country\n    config:\n      tags: [reporting]\n"),
         {}, expect_models=False),
    Case("description without persist_docs",
         lambda p: replace(p / MARTS_YML, "One row per contact with country", "Each contact with country"),
         {}, expect_models=False),
    Case("description with persist_docs",
         lambda p: replace(p / MARTS_YML, "One row per contact with country", "Each contact with country"),
         {f"model.{P}.fct_contacts": "modified.persisted_descriptions"},
         setup=setup_persist_docs),
    Case("column description with persist_docs",
         lambda p: replace(p / MARTS_YML, "description: First and last name.",
                           "description: Given name and family name."),
         {f"model.{P}.fct_contacts": "modified.persisted_descriptions"},
         setup=setup_persist_docs),
    Case("macro used directly",
         lambda p: replace(p / "macros/currency.sql", "cast({{ amount }} * {{ usd_per_unit }}",
                           "cast(({{ amount }}) * {{ usd_per_unit }}"),
         {f"model.{P}.int_contacts__enriched": "modified.macros"}),
    Case("macro used transitively",
         lambda p: replace(p / "macros/money_scale.sql", "{{ scale }}", "{{ scale | int }}"),
         {f"model.{P}.stg_airbyte__contacts": "modified.macros"},
         setup=setup_macro_chain),
    Case("new model",
         lambda p: (p / "models/marts/fct_currency_count.sql").write_text(
             "select count(*) as currencies from {{ ref('dim_currencies') }}\n"),
         {f"model.{P}.fct_currency_count": "new"}),
    Case("deleted model",
         lambda p: (p / "models/marts/fct_contacts_by_country.sql").unlink(),
         {f"model.{P}.fct_contacts_by_country": "removed"}, expect_models=False),
    Case("seed content",
         lambda p: replace(p / "seeds/reference/country_currencies.csv", "AT,Austria,Europe,EUR",
                           "AT,Republic of Austria,Europe,EUR"),
         {f"seed.{P}.country_currencies": "modified.body"}),
    Case("source freshness",
         lambda p: replace(p / SOURCES_YML, "warn_after: {count: 24, period: hour}",
                           "warn_after: {count: 12, period: hour}"),
         {f"source.{P}.airbyte.contacts": "modified.configs"}),
    Case("contract column type",
         lambda p: replace(p / MARTS_YML, "      - name: full_name\n        data_type: varchar",
                           "      - name: full_name\n        data_type: text"),
         {f"model.{P}.fct_contacts": "modified.contract"}),
    Case("test severity (no model)",
         lambda p: replace(p / MARTS_YML, "        data_tests:\n          - unique\n",
                           "        data_tests:\n          - unique:\n              config:\n                severity: warn\n"),
         {}, expect_models=False),
]


def dbt_env(project: Path, db: Path):
    """dbt-duckdb names the database after the file's stem, and dbt compares a
    source's rendered database: prod and dev files share one stem here, or
    every source (and so every model) would count as modified."""
    assert db.stem == "warehouse"
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    env["DBT_DUCKDB_PATH"] = str(db)
    env["DBT_PROFILES_DIR"] = str(project)
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    return env


def copy_project(dest: Path) -> Path:
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(
        "target", "logs", "dbt_packages", ".artifacts", ".dbtrun", "*.duckdb", "*.duckdb.wal", "dbtrun.lua"))
    return dest


def make_state(project: Path, env) -> Path:
    """dbt parse, then the manifest moves to <project>/.state as production state."""
    r = subprocess.run([str(DBT), "parse"], cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    state = project / ".state"
    state.mkdir()
    shutil.move(str(project / "target" / "manifest.json"), state / "manifest.json")
    shutil.rmtree(project / "target")
    return state


@pytest.fixture(scope="module")
def prod_state(tmp_path_factory):
    base = tmp_path_factory.mktemp("prod")
    project = copy_project(base / "project")
    return make_state(project, dbt_env(project, base / "warehouse.duckdb"))


def dbt_ls_models(project: Path, state: Path, env):
    r = subprocess.run(
        [str(DBT), "-q", "ls", "--select", "state:modified+", "--state", str(state),
         "--resource-type", "model", "--output", "json", "--output-keys", "unique_id"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return {json.loads(line)["unique_id"] for line in r.stdout.splitlines() if line.startswith("{")}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_plan_matches_dbt(case, prod_state, tmp_path):
    project = copy_project(tmp_path / "project")
    env = dbt_env(project, tmp_path / "warehouse.duckdb")
    state = prod_state
    if case.setup:
        case.setup(project)
        state = make_state(project, env)
    case.edit(project)

    # No target/manifest.json yet: the plan task runs dbt parse itself.
    r = subprocess.run([DBTRUN, "plan", "--state", str(state), "--format", "json"],
                       cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "dbt parse" in r.stderr
    plan = json.loads(r.stdout)
    plan_models = {s["unique_id"] for s in plan["selected"] if s["resource_type"] == "model"}

    dbt_models = dbt_ls_models(project, state, env)
    assert plan_models == dbt_models, (
        f"dbtrun plan: {sorted(plan_models)}\ndbt ls:      {sorted(dbt_models)}\n"
        f"changes: {json.dumps(plan['changes'], indent=1)}")
    print(f"\nparity[{case.name}]: {len(dbt_models)} models: "
          f"{', '.join(sorted(m.split('.')[-1] for m in dbt_models)) or '-'}")
    assert bool(dbt_models) == case.expect_models, f"the edit did not do what the case means: {dbt_models}"

    reasons = {c["unique_id"]: c["reasons"] for c in plan["changes"]}
    if not case.expect:
        assert not [c for c in plan["changes"] if c["status"] != "removed" and c["resource_type"] == "model"]
    for uid, reason in case.expect.items():
        assert reason in reasons.get(uid, []), f"{uid}: want {reason}, got {reasons.get(uid)}"


def test_plan_details_name_the_cause(prod_state, tmp_path):
    """One project with several edits at once: the details say what changed."""
    project = copy_project(tmp_path / "project")
    env = dbt_env(project, tmp_path / "warehouse.duckdb")
    replace(project / "dbt_project.yml", "    intermediate:\n      +materialized: view",
            "    intermediate:\n      +materialized: table")
    replace(project / MARTS_YML, "      - name: full_name\n        data_type: varchar",
            "      - name: full_name\n        data_type: text")
    replace(project / "macros/currency.sql", "cast({{ amount }} * {{ usd_per_unit }}",
            "cast(({{ amount }}) * {{ usd_per_unit }}")
    r = subprocess.run([DBTRUN, "plan", "--state", str(prod_state), "--format", "json"],
                       cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    changes = {c["unique_id"]: c for c in json.loads(r.stdout)["changes"]}
    inter = changes[f"model.{P}.int_exchange_rates__latest"]["details"]
    assert inter["config_keys"] == ["materialized"]
    assert '"view" -> "table"' in inter["configs"]
    fct = changes[f"model.{P}.fct_contacts"]
    assert fct["breaking"] is True
    assert "full_name" in fct["details"]["contract"]
    assert f"macro.{P}.convert_to_usd" in changes[f"model.{P}.int_contacts__enriched"]["details"]["macros"]

    # The text form carries the same, and the Markdown form is a table.
    text = subprocess.run([DBTRUN, "plan", "--state", str(prod_state)], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120)
    assert "modified.contract (breaking)" in text.stdout
    assert "modified.configs: materialized" in text.stdout
    md = subprocess.run([DBTRUN, "plan", "--state", str(prod_state), "--format", "markdown",
                         "--max-bytes", "1500"], cwd=project, env=env, capture_output=True, text=True,
                        timeout=120)
    assert md.returncode == 0, md.stderr
    assert md.stdout.startswith("### dbtrun plan")
    assert len(md.stdout.encode()) <= 1500
    assert "more not shown" in md.stdout


def test_plan_without_state_is_a_warning(tmp_path):
    project = copy_project(tmp_path / "project")
    env = dbt_env(project, tmp_path / "warehouse.duckdb")
    r = subprocess.run([DBTRUN, "plan", "--state", str(tmp_path / "nowhere")], cwd=project, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "no production manifest" in r.stderr


def test_plan_rejects_unknown_arguments(tmp_path):
    r = subprocess.run([DBTRUN, "plan", "--frobnicate"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2
    assert "unknown argument" in r.stderr
