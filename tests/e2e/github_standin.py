"""A loopback stand-in for GitHub's REST API as ci-cleanup calls it:
GET /repos/{owner}/{repo}/pulls/{n} answering each pull request's state from
a table, 401 for another token, 404 for a number it does not know. Keeps the
paths asked, for the tests."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class GitHubStandin:
    def __init__(self, token, repo, states):
        self.token, self.repo, self.states = token, repo, dict(states)
        self.seen = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                code, body = standin.answer(self.path, self.headers.get("Authorization"))
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path, authorization):
        self.seen.append(path)
        n = path.rsplit("/", 1)[-1]
        state = self.states.get(int(n)) if path.startswith(f"/repos/{self.repo}/pulls/") and n.isdigit() else None
        if authorization != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials"}
        if state is None:
            return 404, {"message": "Not Found"}
        return 200, {"number": int(n), "state": state, "merged": state == "closed"}

    def close(self):
        self.server.shutdown()
        self.server.server_close()
