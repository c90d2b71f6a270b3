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
    # A generic test's YAML config is compiled into its raw_code: dbt's
    # state:modified.body selects the test though state:modified (config
    # failure settings and fqn only) does not for tags.
    Case("test tags (body only)",
         lambda p: replace(p / MARTS_YML, "        data_tests:\n          - unique\n",
                           "        data_tests:\n          - unique:\n              config:\n                tags: [nightly]\n"),
         {}, expect_models=False),
    Case("test where",
         lambda p: replace(p / MARTS_YML, "        data_tests:\n          - unique\n",
                           "        data_tests:\n          - unique:\n              config:\n                where: \"1 = 1\"\n"),
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


# ---- dbt, in this process ----------------------------------------------------
# Each `dbt ls` as its own process costs seconds (imports, parse); dbt's own
# Python API parses once and lists against that manifest in ~0.1 s, so every
# selector can be asked separately. dbt runs in-process here only to observe
# it; dbtrun always runs as its real binary.

SUBSELECTORS = ("modified.body", "modified.configs", "modified.relation",
                "modified.persisted_descriptions", "modified.macros", "modified.contract")
# dbtrun's name for the part of state:modified no sub-selector sees (fqn,
# access, freshness, exposure fields, a unit test's given/expect), and for a
# deleted node: neither is a dbt selector.
NOT_SELECTORS = {"modified.properties", "removed"}


class Dbt:
    def __init__(self):
        from dbt.cli.main import dbtRunner  # the venv's dbt; imported once per module
        self.runner = dbtRunner
        self.env = {}  # more environment for the next invocations (a port's env_var values)

    def invoke(self, project: Path, db: Path, args, manifest=None):
        env = {"DBT_DUCKDB_PATH": str(db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **self.env}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            return self.runner(manifest=manifest).invoke(
                ["-q", *args, "--project-dir", str(project), "--profiles-dir", str(project)])
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def parse(self, project: Path, db: Path):
        """dbt parse: the manifest object, and target/manifest.json written."""
        r = self.invoke(project, db, ["parse", "--no-partial-parse"])
        assert r.success, f"dbt parse failed: {r.exception}"
        return r.result

    def ls(self, project: Path, db: Path, manifest, state: Path, select: str, indirect="empty"):
        r = self.invoke(project, db, ["ls", "--select", select, "--state", str(state),
                                      "--indirect-selection", indirect, "--output", "json",
                                      "--output-keys", "unique_id"], manifest=manifest)
        if not r.success:
            raise DbtFailed(select, r.exception)
        return {json.loads(line)["unique_id"] for line in r.result or []}


class DbtFailed(Exception):
    def __init__(self, select, exc):
        super().__init__(f"dbt ls --select {select}: {exc}")
        self.dbt_exception = exc


@pytest.fixture(scope="module")
def dbt():
    return Dbt()


def make_state(dbt: Dbt, project: Path, db: Path) -> Path:
    """dbt parse, then the manifest moves to <project>/.state as production state."""
    dbt.parse(project, db)
    state = project / ".state"
    state.mkdir()
    shutil.move(str(project / "target" / "manifest.json"), state / "manifest.json")
    shutil.rmtree(project / "target")
    return state


@pytest.fixture(scope="module")
def prod_state(dbt, tmp_path_factory):
    base = tmp_path_factory.mktemp("prod")
    project = copy_project(base / "project")
    return make_state(dbt, project, base / "warehouse.duckdb")


def dbt_selections(dbt: Dbt, project: Path, db: Path, state: Path):
    """What dbt selects with each state selector, on the current project
    (parsed once: target/manifest.json is then current for dbtrun too)."""
    manifest = dbt.parse(project, db)
    sel = {name: dbt.ls(project, db, manifest, state, f"state:{name}")
           for name in ("new", "modified", *SUBSELECTORS)}
    # state:modified+ as a build selects it (tests of the nodes indirectly too)
    sel["modified+"] = dbt.ls(project, db, manifest, state, "state:modified+", indirect="eager")
    return sel


def dbt_reasons(sel):
    """unique id -> the selectors (state:new, state:modified.<sub>) that select it."""
    reasons = {}
    for name in ("new", *SUBSELECTORS):
        for uid in sel[name]:
            reasons.setdefault(uid, set()).add(name)
    return reasons


def run_plan(project: Path, state: Path):
    r = subprocess.run([DBTRUN, "plan", "--state", str(state), "--target-manifest",
                        str(project / "target" / "manifest.json"), "--no-parse", "--format", "json"],
                       cwd=project, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def assert_parity(plan, sel, label):
    """The plan selects what dbt selects, and names for each node exactly the
    selectors that select it in dbt."""
    changes = {c["unique_id"]: c for c in plan["changes"]}
    show = f"[{label}] changes: {json.dumps(plan['changes'], indent=1)}"

    plan_all = {s["unique_id"] for s in plan["selected"]}
    assert plan_all == sel["modified+"], (
        f"state:modified+\n  dbtrun plan: {sorted(plan_all)}\n  dbt ls:      {sorted(sel['modified+'])}\n{show}")

    direct = {uid for uid, c in changes.items() if c["selected"]}
    assert direct == sel["modified"], (
        f"state:modified\n  dbtrun plan: {sorted(direct)}\n  dbt ls:      {sorted(sel['modified'])}\n{show}")

    want = dbt_reasons(sel)
    got = {uid: set(c["reasons"]) - NOT_SELECTORS for uid, c in changes.items()}
    got = {uid: r for uid, r in got.items() if r}
    diff = {uid: {"dbt": sorted(want.get(uid, ())), "dbtrun": sorted(got.get(uid, ()))}
            for uid in set(want) | set(got) if want.get(uid, set()) != got.get(uid, set())}
    assert not diff, f"reasons differ from dbt's selectors: {json.dumps(diff, indent=1)}\n{show}"

    # What state:modified selects and no sub-selector does, the plan calls
    # modified.properties (never a sub-selector name).
    for uid in sel["modified"] - set(want):
        assert "modified.properties" in changes[uid]["reasons"], f"{uid}: {changes[uid]}"
    return changes


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_plan_matches_dbt(case, dbt, prod_state, tmp_path):
    project = copy_project(tmp_path / "project")
    db = tmp_path / "warehouse.duckdb"
    state = prod_state
    if case.setup:
        case.setup(project)
        state = make_state(dbt, project, db)
    case.edit(project)

    sel = dbt_selections(dbt, project, db, state)
    plan = run_plan(project, state)
    changes = assert_parity(plan, sel, case.name)

    dbt_models = {u for u in sel["modified+"] if u.startswith("model.")}
    print(f"\nparity[{case.name}]: {len(dbt_models)} models: "
          f"{', '.join(sorted(m.split('.')[-1] for m in dbt_models)) or '-'}")
    assert bool(dbt_models) == case.expect_models, f"the edit did not do what the case means: {dbt_models}"
    if not case.expect:
        assert not [c for c in plan["changes"] if c["status"] != "removed" and c["resource_type"] == "model"]
    for uid, reason in case.expect.items():
        got = changes.get(uid, {}).get("reasons", [])
        assert reason in got, f"{uid}: want {reason}, got {got}"


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


# ---- dbt-core's own state scenarios, ported ----------------------------------
# The projects and edits of dbt-core's functional tests for state selection
# (tests/functional/defer_state and tests/functional/unit_testing at v1.11.14),
# restated as data: each case names the file and test it comes from. Besides
# parity (the same checks as above), `modified` is what that dbt-core test
# asserts `dbt ls --select state:modified` returns, so a port that drifted
# from its origin fails too.

PROFILES_YML = """\
test:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{{ env_var('DBT_DUCKDB_PATH') }}"
      schema: main
      threads: 1
"""


def project_yml(extra=""):
    return ("name: test\nprofile: test\nconfig-version: 2\nversion: '1.0'\n"
            "seeds:\n  test:\n    quote_columns: false\n" + extra)


# defer_state/test_modified_state.py::BaseModifiedState: a seed, a view on it,
# an ephemeral model on the view, a table on that (calling a macro), tests on
# the view, an exposure, and a macro that dispatches to itself.
DEFER_BASE = {
    "dbt_project.yml": project_yml(),
    "seeds/seed.csv": "id,name\n1,Alice\n2,Bob\n",
    "models/view_model.sql": ("select * from {{ ref('seed') }}\n"
                              "-- a self-dispatching macro: {{ my_infinitely_recursive_macro() }}\n"),
    "models/ephemeral_model.sql": "{{ config(materialized='ephemeral') }}\nselect * from {{ ref('view_model') }}\n",
    "models/table_model.sql": ("{{ config(materialized='table') }}\nselect * from {{ ref('ephemeral_model') }}\n"
                               "-- a macro dependency: {{ my_macro() }}\n"),
    "models/schema.yml": ("version: 2\nmodels:\n  - name: view_model\n    columns:\n      - name: id\n"
                          "        data_tests:\n          - unique:\n              config:\n"
                          "                severity: error\n          - not_null\n      - name: name\n"),
    "models/exposures.yml": ("version: 2\nexposures:\n  - name: my_exposure\n    type: application\n"
                             "    depends_on:\n      - ref('view_model')\n    owner:\n      email: test@example.com\n"),
    "macros/macros.sql": "{% macro my_macro() %}\n    {% do log('in a macro') %}\n{% endmacro %}\n",
    "macros/infinite_macros.sql": (
        "{% macro my_infinitely_recursive_macro() %}\n"
        "  {{ return(adapter.dispatch('my_infinitely_recursive_macro')()) }}\n{% endmacro %}\n"
        "{% macro default__my_infinitely_recursive_macro() %}\n"
        "  {% if unmet_condition %}{{ my_infinitely_recursive_macro() }}{% else %}{{ return('') }}{% endif %}\n"
        "{% endmacro %}\n"),
}

CONTRACT_YML = ("version: 2\nmodels:\n  - name: table_model\n    config:\n      contract:\n        enforced: true\n"
                "    columns:\n      - name: id\n        data_type: integer\n        data_tests:\n"
                "          - unique:\n              severity: error\n          - not_null\n"
                "      - name: name\n        data_type: text\n")

# unit_testing/test_state.py::UnitTestState: a model with vars, env_var and a
# macro call over two models, four unit tests, one reading a CSV fixture.
UNIT_MODEL_SQL = """\
select
a+b as c,
concat(string_a, string_b) as string_c,
not_testing, date_a,
{{ dbt.string_literal(type_numeric()) }} as macro_call,
{{ dbt.string_literal(var('my_test')) }} as var_call,
{{ dbt.string_literal(env_var('MY_TEST', 'default')) }} as env_var_call,
{{ dbt.string_literal(invocation_id) }} as invocation_id
from {{ ref('my_model_a') }} my_model_a
join {{ ref('my_model_b') }} my_model_b on my_model_a.id = my_model_b.id
"""
UNIT_TESTS_YML = """\
unit_tests:
  - name: test_my_model
    model: my_model
    given:
      - input: ref('my_model_a')
        rows: [{id: 1, a: 1}]
      - input: ref('my_model_b')
        rows: [{id: 1, b: 2}, {id: 2, b: 2}]
    expect:
      rows: [{c: 2}]
  - name: test_depends_on_fixture
    model: my_model
    given:
      - input: ref('my_model_a')
        rows: []
      - input: ref('my_model_b')
        format: csv
        fixture: test_my_model_fixture
    expect:
      rows: []
  - name: test_my_model_overrides
    model: my_model
    given:
      - input: ref('my_model_a')
        rows: [{id: 1, a: 1}]
      - input: ref('my_model_b')
        rows: [{id: 1, b: 2}, {id: 2, b: 2}]
    overrides:
      macros: {type_numeric: override, invocation_id: 123}
      vars: {my_test: var_override}
      env_vars: {MY_TEST: env_var_override}
    expect:
      rows: [{macro_call: override, var_call: var_override, env_var_call: env_var_override, invocation_id: 123}]
  - name: test_has_string_c_ab
    model: my_model
    given:
      - input: ref('my_model_a')
        rows: [{id: 1, string_a: a}]
      - input: ref('my_model_b')
        rows: [{id: 1, string_b: b}]
    expect:
      rows: [{string_c: ab}]
    config:
      tags: test_this
"""
UNIT_BASE = {
    "dbt_project.yml": project_yml("vars:\n  my_test: my_test_var\n"),
    "models/my_model.sql": UNIT_MODEL_SQL,
    "models/my_model_a.sql": "select 1 as a, 1 as id, 2 as not_testing, 'a' as string_a, date '2020-01-02' as date_a\n",
    "models/my_model_b.sql": "select 2 as b, 1 as id, 2 as c, 'b' as string_b\n",
    "models/test_my_model.yml": UNIT_TESTS_YML,
    "tests/fixtures/test_my_model_fixture.csv": "id,b\n1,2\n2,2\n",
}

# defer_state/test_modified_state_jinja.py and ..._environment_vars.py: one
# model whose materialization is jinja or an env_var, compared with dbt's flag
# state_modified_compare_more_unrendered_values.
MORE_UNRENDERED = "flags:\n  state_modified_compare_more_unrendered_values: true\n"
JINJA_SQL = "{{ config(materialized=('table' if execute else 'view')) }}\nselect 1 as id\n"
JINJA_YML = "models:\n  - name: model\n    config:\n      materialized: \"{{ ('table' if execute else 'view') }}\"\n"
ENV_SQL = "{{ config(materialized=env_var('DBT_TEST_STATE_MODIFIED')) }}\nselect 1 as id\n"
ENV_YML = "models:\n  - name: model\n    config:\n      materialized: \"{{ env_var('DBT_TEST_STATE_MODIFIED') }}\"\n"
ONE_MODEL = {"dbt_project.yml": project_yml(MORE_UNRENDERED), "models/model.sql": "select 1 as id\n"}
ENV_TABLE, ENV_VIEW = {"DBT_TEST_STATE_MODIFIED": "table"}, {"DBT_TEST_STATE_MODIFIED": "view"}

# defer_state/test_group_updates.py::GroupSetup: two models in a group.
GROUP_YML = ("groups:\n  - name: finance\n    owner:\n      email: finance@example.com\n"
             "models:\n  - name: model_1\n    config:\n      group: finance\n"
             "  - name: model_2\n    config:\n      group: finance\n")
GROUP_BASE = {
    "dbt_project.yml": project_yml(),
    "seeds/seed.csv": "id,name\n1,Alice\n2,Bob\n",
    "models/model_1.sql": "select * from {{ ref('seed') }}\n",
    "models/model_2.sql": "select * from {{ ref('model_1') }}\n",
    "models/schema.yml": GROUP_YML,
}

DS = "tests/functional/defer_state/test_modified_state.py"
DSJ = "tests/functional/defer_state/test_modified_state_jinja.py"
DSE = "tests/functional/defer_state/test_modified_state_environment_vars.py"
DSG = "tests/functional/defer_state/test_group_updates.py"
UT = "tests/functional/unit_testing/test_state.py"


@dataclass
class Port:
    origin: str  # dbt-core file::TestClass (the step)
    base: Dict[str, str]
    edits: list  # ("write", path, text) | ("append", path, text) | ("replace", path, old, new) | ("delete", path)
    modified: Optional[set] = None  # what the dbt-core test asserts state:modified selects
    setup: list = field(default_factory=list)  # edits made before the production state
    env: Dict[str, str] = field(default_factory=dict)  # environment of the production parse
    env_after: Dict[str, str] = field(default_factory=dict)  # ... and of the current one


PORTS = [
    Port(f"{DS}::TestChangedSeedContents (a row added)", DEFER_BASE,
         [("append", "seeds/seed.csv", "3,carl\n")], {"seed.test.seed"}),
    Port(f"{DS}::TestChangedSeedConfig (quote_columns)", DEFER_BASE,
         [("replace", "dbt_project.yml", "quote_columns: false", "quote_columns: true")], {"seed.test.seed"}),
    Port(f"{DS}::TestUnrenderedConfigSame (materialized set to its default)", DEFER_BASE,
         [("append", "dbt_project.yml", "models:\n  test:\n    +materialized: view\n")]),
    Port(f"{DS}::TestChangedModelContents", DEFER_BASE,
         [("write", "models/table_model.sql", "{{ config(materialized='table') }}\nselect * from {{ ref('seed') }}\n")],
         {"model.test.table_model"}),
    Port(f"{DS}::TestNewMacro (new file)", DEFER_BASE,
         [("write", "macros/second_macro.sql", "{% macro my_other_macro() %}\n{% endmacro %}\n")], set()),
    Port(f"{DS}::TestNewMacro (same file)", DEFER_BASE,
         [("append", "macros/macros.sql", "{% macro my_other_macro() %}\n{% endmacro %}\n")], set()),
    Port(f"{DS}::TestChangedMacroContents", DEFER_BASE,
         [("write", "macros/macros.sql", "{% macro my_macro() %}\n    {% do log('in a macro', info=True) %}\n{% endmacro %}\n")],
         {"model.test.table_model"}),
    Port(f"{DS}::TestChangedExposure (owner name added)", DEFER_BASE,
         [("append", "models/exposures.yml", "      name: John Doe\n")], {"exposure.test.my_exposure"}),
    Port(f"{DS}::TestChangedContractUnversioned (contract enforced)", DEFER_BASE,
         [("write", "models/schema.yml", CONTRACT_YML)], None),
    Port(f"{DS}::TestChangedContractUnversioned (column renamed)", DEFER_BASE,
         [("replace", "models/schema.yml", "- name: name\n", "- name: user_name\n")], None,
         setup=[("write", "models/schema.yml", CONTRACT_YML)]),
    Port(f"{DS}::TestDeleteUnversionedContractedModel", DEFER_BASE,
         [("delete", "models/table_model.sql")], set(),
         setup=[("write", "models/schema.yml", CONTRACT_YML)]),
    Port(f"{DS}::TestDisableUnversionedContractedModel", DEFER_BASE,
         [("replace", "models/schema.yml", "  - name: table_model\n    config:\n",
           "  - name: table_model\n    config:\n      enabled: false\n")], set(),
         setup=[("write", "models/schema.yml", CONTRACT_YML)]),
    Port(f"{DS}::TestModifiedAccess", DEFER_BASE,
         [("write", "models/schema.yml", "version: 2\nmodels:\n  - name: table_model\n    access: public\n")],
         {"model.test.table_model"},
         setup=[("write", "models/schema.yml", "version: 2\nmodels:\n  - name: table_model\n    access: protected\n")]),
    Port(f"{DS}::TestModifiedDeprecationDate", DEFER_BASE,
         [("write", "models/schema.yml", "version: 2\nmodels:\n  - name: table_model\n    deprecation_date: 2020-01-01\n")],
         {"model.test.table_model"},
         setup=[("write", "models/schema.yml", "version: 2\nmodels:\n  - name: table_model\n")]),
    Port(f"{DS}::TestModifiedVersion (null -> v1)", DEFER_BASE,
         [("write", "models/schema.yml",
           "version: 2\nmodels:\n  - name: table_model\n    versions:\n      - v: 1\n        defined_in: table_model\n")],
         {"model.test.table_model.v1"},
         setup=[("write", "models/schema.yml", "version: 2\nmodels:\n  - name: table_model\n")]),
    Port(f"{DS}::TestModifiedLatestVersion (1 -> 2)", DEFER_BASE,
         [("write", "models/table_model_v2.sql", "{{ config(materialized='table') }}\nselect * from {{ ref('ephemeral_model') }}\n"),
          ("write", "models/schema.yml",
           "version: 2\nmodels:\n  - name: table_model\n    latest_version: 2\n    versions:\n"
           "      - v: 1\n        defined_in: table_model\n      - v: 2\n")],
         {"model.test.table_model.v1", "model.test.table_model.v2"},
         setup=[("write", "models/schema.yml",
                 "version: 2\nmodels:\n  - name: table_model\n    latest_version: 1\n    versions:\n"
                 "      - v: 1\n        defined_in: table_model\n")]),
    Port(f"{DSJ}::TestModelNodeWithJinjaConfigInSqlFile (unchanged)", {**ONE_MODEL, "models/model.sql": JINJA_SQL},
         [], set()),
    Port(f"{DSJ}::TestModelNodeWithJinjaConfigInSqlFile (jinja changed)", {**ONE_MODEL, "models/model.sql": JINJA_SQL},
         [("replace", "models/model.sql", "('table' if execute else 'view')", "('view' if execute else 'table')")],
         {"model.test.model"}),
    Port(f"{DSJ}::TestModelNodeWithEnvVarConfigInSchemaYml (jinja changed)", {**ONE_MODEL, "models/schema.yml": JINJA_YML},
         [("replace", "models/schema.yml", "('table' if execute else 'view')", "('view' if execute else 'table')")],
         {"model.test.model"}),
    Port(f"{DSJ}::TestModelNodeWithJinjaConfigInProjectYml (jinja changed)", ONE_MODEL,
         [("append", "dbt_project.yml", "models:\n  test:\n    +materialized: \"{{ ('view' if execute else 'table') }}\"\n")],
         {"model.test.model"},
         setup=[("append", "dbt_project.yml", "models:\n  test:\n    +materialized: \"{{ ('table' if execute else 'view') }}\"\n")]),
    Port(f"{DSE}::TestModelNodeWithEnvVarConfigInSqlFile (value changed)", {**ONE_MODEL, "models/model.sql": ENV_SQL},
         [], set(), env=ENV_TABLE, env_after=ENV_VIEW),
    Port(f"{DSE}::TestModelNodeWithEnvVarConfigInSchemaYml (value changed)", {**ONE_MODEL, "models/schema.yml": ENV_YML},
         [], set(), env=ENV_TABLE, env_after=ENV_VIEW),
    Port(f"{DSE}::TestModelNodeWithEnvVarConfigInProjectYml (value changed)",
         {**ONE_MODEL, "dbt_project.yml": project_yml(MORE_UNRENDERED + "models:\n  test:\n    +materialized: \"{{ env_var('DBT_TEST_STATE_MODIFIED') }}\"\n")},
         [], set(), env=ENV_TABLE, env_after=ENV_VIEW),
    Port(f"{DSG}::TestFullyModifiedGroups (group renamed, models changed)", GROUP_BASE,
         [("replace", "models/schema.yml", "finance", "accounting", -1),
          ("append", "models/model_1.sql", "-- changed\n"), ("append", "models/model_2.sql", "-- changed\n")],
         {"model.test.model_1", "model.test.model_2"}),
    Port(f"{DSG}::TestFullyModifiedGroups (group renamed only)", GROUP_BASE,
         [("replace", "models/schema.yml", "finance", "accounting", -1)], None),
    Port(f"{UT}::TestUnitTestStateModified (fixture file changed)", UNIT_BASE,
         [("write", "tests/fixtures/test_my_model_fixture.csv", "id,string_b\n1,b\n")],
         {"unit_test.test.my_model.test_depends_on_fixture"}),
    Port(f"{UT}::TestUnitTestStateModified (unit test definition changed)", UNIT_BASE,
         [("replace", "models/test_my_model.yml", "{string_c: ab}", "{string_c: bc}")],
         {"unit_test.test.my_model.test_has_string_c_ab"}),
    Port(f"{UT}::TestUnitTestStateModified (model logic changed)", UNIT_BASE,
         [("replace", "models/my_model.sql", "a+b as c,", "a + b as c,")], {"model.test.my_model"}),
]


def apply_edits(project: Path, edits):
    for op, path, *args in edits:
        f = project / path
        if op == "write":
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(args[0])
        elif op == "append":
            f.write_text(f.read_text() + args[0])
        elif op == "replace":
            replace(f, *args)
        elif op == "delete":
            f.unlink()
        else:
            raise AssertionError(f"unknown edit {op}")


def write_project(dest: Path, files: Dict[str, str]) -> Path:
    apply_edits(dest, [("write", "profiles.yml", PROFILES_YML)] + [("write", p, t) for p, t in files.items()])
    return dest


@pytest.fixture(scope="module")
def port_states(dbt, tmp_path_factory):
    """Production states by (base, setup): ports that start alike share one
    dbt parse."""
    cache = {}

    def get(port: Port) -> Path:
        key = (id(port.base), repr(port.setup), repr(port.env))
        if key not in cache:
            base = tmp_path_factory.mktemp("port-state")
            project = write_project(base / "project", port.base)
            apply_edits(project, port.setup)
            dbt.env = port.env
            try:
                cache[key] = make_state(dbt, project, base / "warehouse.duckdb")
            finally:
                dbt.env = {}
        return cache[key]

    return get


@pytest.mark.parametrize("port", PORTS, ids=[p.origin.split("::")[1] for p in PORTS])
def test_dbt_core_state_scenario(port, dbt, port_states, tmp_path):
    state = port_states(port)
    project = write_project(tmp_path / "project", port.base)
    apply_edits(project, port.setup + port.edits)
    db = tmp_path / "warehouse.duckdb"
    dbt.env = port.env_after or port.env
    try:
        sel = dbt_selections(dbt, project, db, state)
    finally:
        dbt.env = {}
    if port.modified is not None:
        assert sel["modified"] == port.modified, f"the port no longer does what {port.origin} asserts"
    assert_parity(run_plan(project, state), sel, port.origin)


# ---- a generic test deleted while a model still uses it ----------------------
# dbt parse succeeds and writes null into the test's depends_on.macros; dbt's
# state selector then fails. The plan must fail too (exit 2), never report
# "no changes", and dev (like ci, through plan.before_build) must stop.

REMOVED_TEST_BASE = {  # defer_state/test_removed_test_state.py::TestRemovedGenericTest
    "dbt_project.yml": project_yml(),
    "models/model_a.sql": "select 1 as id\n",
    "models/schema.yml": ("version: 2\nmodels:\n  - name: model_a\n    columns:\n      - name: id\n"
                          "        data_tests:\n          - sample_test\n"),
    "tests/generic/sample_test.sql": ("{% test sample_test(model, column_name) %}\n"
                                      "    select * from {{ model }} where {{ column_name }} is null\n{% endtest %}\n"),
}


def removed_test_example(tmp_path):
    return copy_project(tmp_path / "project"), "tests/generic/unique_combination.sql", "unique_combination"


def removed_test_port(tmp_path):
    return write_project(tmp_path / "project", REMOVED_TEST_BASE), "tests/generic/sample_test.sql", "sample_test"


@pytest.mark.parametrize("make", [removed_test_example, removed_test_port],
                         ids=["example: unique_combination",
                              "tests/functional/defer_state/test_removed_test_state.py::TestRemovedGenericTest"])
def test_plan_fails_on_a_generic_test_dbt_lost(make, dbt, tmp_path):
    project, test_file, test_name = make(tmp_path)
    db = tmp_path / "warehouse.duckdb"
    state = make_state(dbt, project, db)
    (project / test_file).unlink()

    # dbt itself: parse succeeds, state:modified fails.
    manifest = dbt.parse(project, db)
    lost = [uid for uid, n in manifest.nodes.items() if None in getattr(n.depends_on, "macros", [])]
    assert lost, "dbt no longer leaves a null for the lost macro"
    with pytest.raises(DbtFailed) as failed:
        dbt.ls(project, db, manifest, state, "state:modified")
    assert "depends on a macro or test that does not exist" in str(failed.value)

    r = subprocess.run([DBTRUN, "plan", "--state", str(state), "--target-manifest",
                        str(project / "target" / "manifest.json"), "--no-parse"],
                       cwd=project, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "No changes" not in r.stdout and "selects" not in r.stdout
    assert any(f"plan: {uid} (in models/" in r.stderr for uid in lost), r.stderr
    assert f"uses the generic test '{test_name}', whose macro test_{test_name} does not exist" in r.stderr

    # dev stops before building (ci goes through the same plan.before_build).
    store = project / ".dbtrun" / "store" / "artifacts"
    store.mkdir(parents=True)
    shutil.copy(state / "manifest.json", store / "manifest.json")
    env = dbt_env(project, db)
    env.update({"GITHUB_ACTIONS": "", "GITHUB_EVENT_PATH": "", "GITHUB_STEP_SUMMARY": "", "GITHUB_TOKEN": ""})
    (project / "target" / "manifest.json").touch()  # newer than the inputs: no second dbt parse
    r = subprocess.run([DBTRUN, "dev"], cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr
    assert f"whose macro test_{test_name} does not exist" in r.stderr
    assert "building anyway" not in r.stderr
    assert not any(line.startswith("dbt build") for line in r.stderr.splitlines())
