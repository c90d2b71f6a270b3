"""The text plan is capped per section like the Markdown one: the first 200
changes, downstream nodes and warnings, then "... and N more; see --format
json" — on a generated manifest large enough, while the JSON has them all."""
import json

from conftest import dbtrun

CAP = 200
HEAD = {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json", "dbt_version": "1.9.0"}


def model(name, code, parents=()):
    return {"resource_type": "model", "name": name, "package_name": "p", "original_file_path": f"models/{name}.sql",
            "raw_code": code, "checksum": {"name": "sha256", "checksum": code},
            "depends_on": {"nodes": [f"model.p.{x}" for x in parents], "macros": []}, "config": {"materialized": "view"}}


def manifest(tag, nchanged, ndown):
    nodes = {f"model.p.m{i:04d}": model(f"m{i:04d}", f"select '{tag}{i}'") for i in range(nchanged)}
    nodes.update({f"model.p.d{i:04d}": model(f"d{i:04d}", "select 1", [f"m{i:04d}"]) for i in range(ndown)})
    return {"metadata": HEAD, "nodes": nodes, "sources": {}, "exposures": {}, "macros": {}}


def plan(tmp_path, nchanged, ndown, *args):
    (tmp_path / "st").mkdir(exist_ok=True)
    (tmp_path / "st" / "manifest.json").write_text(json.dumps(manifest("old", nchanged, ndown)))
    (tmp_path / "cur.json").write_text(json.dumps(manifest("new", nchanged, ndown)))
    r = dbtrun("plan", "--state", "st", "--target-manifest", "cur.json", "--no-parse", *args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_text_plan_lists_the_first_nodes_of_each_section_then_points_to_json(tmp_path):
    out = plan(tmp_path, CAP + 57, CAP + 31)
    changes, downstream = out.split("\nDownstream, selected as children of the changes:")
    assert "257 modified" in changes
    assert changes.count("\n  ~ model.p.m") == CAP
    assert f"  ~ model.p.m{CAP - 1:04d}\n" in changes and f"model.p.m{CAP:04d}" not in changes
    assert changes.rstrip().endswith("... and 57 more; see --format json")
    assert downstream.count("\n    model.p.d") == CAP
    assert downstream.rstrip().endswith("... and 31 more; see --format json")
    full = json.loads(plan(tmp_path, CAP + 57, CAP + 31, "--format", "json"))
    assert len(full["changes"]) == CAP + 57


def test_text_plan_at_the_cap_has_no_note(tmp_path):
    out = plan(tmp_path, CAP, CAP)
    assert out.count("\n  ~ model.p.m") == CAP
    assert out.count("\n    model.p.d") == CAP
    assert "more; see --format json" not in out
