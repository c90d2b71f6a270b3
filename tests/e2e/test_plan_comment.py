"""The sticky pull-request comment of `dbtrun plan`, against a loopback fake
of the GitHub REST endpoints it uses (list, create, update comments): one
comment, created once and then updated in place, found across pages, never
touching other comments, and a failure that warns without failing."""
import json
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import DBTRUN

MARKER = "<!-- dbtrun-plan -->"


class FakeGitHub:
    """Comments of one pull request, and the requests that reached them."""

    def __init__(self, others=0, fail_with=None):
        self.comments = [{"id": 1000 + i, "body": f"someone else's comment {i}"} for i in range(others)]
        self.requests = []
        self.fail_with = fail_with
        self.next_id = 5000
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, doc):
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def body(self):
                n = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(n) or b"{}")

            def record(self, doc=None):
                fake.requests.append({"method": self.command, "path": self.path,
                                      "auth": self.headers.get("Authorization"), "body": doc})

            def do_GET(self):
                self.record()
                if fake.fail_with:
                    return self.reply(fake.fail_with, {"message": "Resource not accessible by integration"})
                path, _, query = self.path.partition("?")
                assert path == "/repos/acme/warehouse/issues/42/comments", path
                params = dict(p.split("=") for p in query.split("&"))
                page, per = int(params["page"]), int(params["per_page"])
                self.reply(200, fake.comments[(page - 1) * per: page * per])

            def do_POST(self):
                doc = self.body()
                self.record(doc)
                assert self.path == "/repos/acme/warehouse/issues/42/comments", self.path
                fake.next_id += 1
                fake.comments.append({"id": fake.next_id, "body": doc["body"]})
                self.reply(201, fake.comments[-1])

            def do_PATCH(self):
                doc = self.body()
                self.record(doc)
                cid = int(self.path.rsplit("/", 1)[1])
                assert self.path == f"/repos/acme/warehouse/issues/comments/{cid}", self.path
                for c in fake.comments:
                    if c["id"] == cid:
                        c["body"] = doc["body"]
                        return self.reply(200, c)
                self.reply(404, {"message": "Not Found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()

    def ours(self):
        return [c for c in self.comments if MARKER in c["body"]]


MANIFEST = """{"metadata": {"dbt_version": "1.11.0"}, "nodes": {
  "model.p.a": {"resource_type": "model", "raw_code": "%s", "unrendered_config": {}},
  "model.p.b": {"resource_type": "model", "raw_code": "x", "unrendered_config": {}}},
  "child_map": {"model.p.a": ["model.p.b"], "model.p.b": []}}"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "state").mkdir()
    (tmp_path / "target").mkdir()
    (tmp_path / "state" / "manifest.json").write_text(MANIFEST % "select 1")
    (tmp_path / "target" / "manifest.json").write_text(MANIFEST % "select 2")
    (tmp_path / "event.json").write_text(json.dumps({"pull_request": {"number": 42}}))
    return tmp_path


def plan(project, url, token="ghs_secret_token_value", extra=()):
    env = {"PATH": "/usr/bin:/bin", "GITHUB_TOKEN": token, "GITHUB_REPOSITORY": "acme/warehouse",
           "GITHUB_EVENT_PATH": str(project / "event.json"), "GITHUB_API_URL": url}
    return subprocess.run([DBTRUN, "plan", "--state", "state", "--no-parse", *extra], cwd=project,
                          env=env, capture_output=True, text=True, timeout=60)


def test_created_then_updated(project):
    gh = FakeGitHub(others=150)  # two pages of someone else's comments
    try:
        r = plan(project, gh.url)
        assert r.returncode == 0, r.stderr
        assert [q["method"] for q in gh.requests] == ["GET", "GET", "POST"]
        assert gh.requests[0]["auth"] == "Bearer ghs_secret_token_value"
        assert len(gh.ours()) == 1
        first = gh.ours()[0]
        assert first["body"].startswith(MARKER)
        assert "modified.body" in first["body"] and "`model.p.a`" in first["body"]
        assert "ghs_secret_token_value" not in r.stderr + r.stdout
        # the evidence of each change, collapsed, in the comment only
        assert "<details><summary><code>model.p.a</code> (modified)</summary>" in first["body"]
        assert "```diff\n@@ -1,1 +1,1 @@\n-select 1\n+select 2\n```" in first["body"]
        assert "Why (--explain)" not in r.stdout

        (project / "target" / "manifest.json").write_text(MANIFEST % "select 3")
        gh.requests.clear()
        r = plan(project, gh.url)
        assert r.returncode == 0, r.stderr
        assert [q["method"] for q in gh.requests] == ["GET", "GET", "PATCH"]
        assert gh.requests[-1]["path"] == f"/repos/acme/warehouse/issues/comments/{first['id']}"
        assert len(gh.ours()) == 1 and len(gh.comments) == 151
        assert all("someone else" in c["body"] for c in gh.comments if c["id"] != first["id"])
    finally:
        gh.close()


def test_no_token_no_comment(project):
    gh = FakeGitHub()
    try:
        r = plan(project, gh.url, token="")
        assert r.returncode == 0, r.stderr
        assert gh.requests == []
        r = plan(project, gh.url, extra=("--no-comment",))
        assert r.returncode == 0, r.stderr
        assert gh.requests == []
    finally:
        gh.close()


def test_failure_warns(project):
    gh = FakeGitHub(fail_with=403)
    try:
        r = plan(project, gh.url)
        assert r.returncode == 0, r.stderr
        assert "Resource not accessible by integration" in r.stderr
        assert "HTTP 403" in r.stderr
    finally:
        gh.close()


def test_long_plans_fit_in_a_comment(project):
    nodes = {f"model.p.m{i:05d}": {"resource_type": "model", "raw_code": "x", "unrendered_config": {}}
             for i in range(3000)}
    state = {"nodes": nodes}
    current = {"nodes": {k: dict(v, raw_code="y") for k, v in nodes.items()}}
    (project / "state" / "manifest.json").write_text(json.dumps(state))
    (project / "target" / "manifest.json").write_text(json.dumps(current))
    gh = FakeGitHub()
    try:
        r = plan(project, gh.url)
        assert r.returncode == 0, r.stderr
        body = gh.ours()[0]["body"]
        assert len(body) <= 65536
        assert "more not shown (GitHub size limit)" in body
        assert body.count("<details>") == body.count("</details>") > 1
    finally:
        gh.close()


def test_markdown_is_appended_to_the_step_summary(project):
    summary = project / "summary.md"
    summary.write_text("earlier step\n")
    env = {"PATH": "/usr/bin:/bin", "GITHUB_STEP_SUMMARY": str(summary)}
    for _ in range(2):
        r = subprocess.run([DBTRUN, "plan", "--state", "state", "--no-parse"], cwd=project, env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    text = summary.read_text()
    assert text.startswith("earlier step\n")
    assert text.count("`model.p.a`") == 2 and "modified.body" in text
