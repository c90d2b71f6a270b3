"""A loopback stand-in for IAM Identity Center: the SSO portal's
GetRoleCredentials and SSO OIDC's RegisterClient, StartDeviceAuthorization and
CreateToken (device code and refresh token grants), as the AWS CLI and the
SDKs call them. It checks what it receives (paths, the bearer header, JSON
fields, client secrets, device codes) and keeps every request for the tests;
a request it does not expect gets a 400 naming what was wrong, which the
tests then see in `problems`."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class SsoStandin:
    def __init__(self, akid, secret, session_token=None, account="111122223333",
                 role="DataEngineer", access_tokens=("at-valid",), pending=1):
        self.akid, self.secret, self.session_token = akid, secret, session_token
        self.account, self.role = account, role
        self.access_tokens = set(access_tokens)  # bearer tokens the portal accepts
        self.refresh_tokens = {"rt-valid"}
        self.clients = {"cid-known": "cs-known"}  # clientId -> clientSecret
        self.devices = {}  # deviceCode -> polls left answering authorization_pending
        self.pending = pending
        self.requests = []  # (method, path, headers, parsed JSON body or None)
        self.problems = []
        self.issued = 0
        self.expires_in_ms = 3600 * 1000
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, doc, headers=None):
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                standin.handle(self, None)

            def do_POST(self):
                n = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(n).decode() if n else ""
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                standin.handle(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.lock = threading.Lock()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def paths(self):
        return [(m, urlsplit(p).path) for m, p, _, _ in self.requests]

    # ---- the handlers -----------------------------------------------------------

    def handle(self, h, body):
        headers = {k.lower(): v for k, v in h.headers.items()}
        with self.lock:
            self.requests.append((h.command, h.path, headers, body))
            route = {
                ("GET", "/federation/credentials"): self.role_credentials,
                ("POST", "/client/register"): self.register_client,
                ("POST", "/device_authorization"): self.device_authorization,
                ("POST", "/token"): self.create_token,
            }.get((h.command, urlsplit(h.path).path))
            if route is None:
                return self.bad(h, f"unexpected {h.command} {h.path}")
            if h.command == "POST":
                if not isinstance(body, dict):
                    return self.bad(h, f"{h.path}: body is not a JSON object")
                if not headers.get("content-type", "").startswith("application/json"):
                    return self.bad(h, f"{h.path}: content-type is not JSON")
            if "authorization" in headers:
                return self.bad(h, f"{h.path}: SSO calls are unsigned")
            return route(h, headers, body)

    def bad(self, h, why):
        self.problems.append(why)
        h.reply(400, {"error": "invalid_request", "error_description": why})

    def role_credentials(self, h, headers, _):
        q = parse_qs(urlsplit(h.path).query)
        if q.get("account_id") != [self.account] or q.get("role_name") != [self.role]:
            return self.bad(h, f"GetRoleCredentials for the wrong account/role: {q}")
        if headers.get("x-amz-sso_bearer_token") not in self.access_tokens:
            return h.reply(401, {"message": "Session token not found or invalid"},
                           {"x-amzn-ErrorType": "UnauthorizedException"})
        creds = {"accessKeyId": self.akid, "secretAccessKey": self.secret,
                 "expiration": int(time.time() * 1000) + self.expires_in_ms}
        if self.session_token:
            creds["sessionToken"] = self.session_token
        h.reply(200, {"roleCredentials": creds})

    def register_client(self, h, _, body):
        if body.get("clientType") != "public" or not body.get("clientName"):
            return self.bad(h, f"RegisterClient without clientType public / clientName: {body}")
        cid, secret = f"cid-{len(self.clients)}", f"cs-secret-{len(self.clients)}"
        self.clients[cid] = secret
        h.reply(200, {"clientId": cid, "clientSecret": secret,
                      "clientIdIssuedAt": int(time.time()),
                      "clientSecretExpiresAt": int(time.time()) + 90 * 86400})

    def client_ok(self, h, body):
        if self.clients.get(body.get("clientId")) != body.get("clientSecret"):
            self.bad(h, "unknown clientId or wrong clientSecret")
            return False
        return True

    def device_authorization(self, h, _, body):
        if not self.client_ok(h, body):
            return
        if not body.get("startUrl"):
            return self.bad(h, "StartDeviceAuthorization without startUrl")
        self.start_url = body["startUrl"]
        code = f"device-code-secret-{len(self.devices)}"
        self.devices[code] = self.pending
        h.reply(200, {"deviceCode": code, "userCode": "WXYZ-1234",
                      "verificationUri": "https://device.sso.example/",
                      "verificationUriComplete": "https://device.sso.example/?user_code=WXYZ-1234",
                      "expiresIn": 600, "interval": 1})

    def new_token(self, h):
        self.issued += 1
        access, refresh = f"at-new-{self.issued}", f"rt-new-{self.issued}"
        self.access_tokens.add(access)
        self.refresh_tokens.add(refresh)
        h.reply(200, {"accessToken": access, "tokenType": "Bearer", "expiresIn": 28800,
                      "refreshToken": refresh})

    def create_token(self, h, _, body):
        if not self.client_ok(h, body):
            return
        grant = body.get("grantType")
        if grant == "refresh_token":
            if body.get("refreshToken") not in self.refresh_tokens:
                return h.reply(400, {"error": "invalid_grant"})
            return self.new_token(h)
        if grant == DEVICE_GRANT:
            code = body.get("deviceCode")
            if code not in self.devices:
                return self.bad(h, "CreateToken with an unknown deviceCode")
            if self.devices[code] > 0:
                self.devices[code] -= 1
                return h.reply(400, {"error": "authorization_pending"},
                               {"x-amzn-ErrorType": "AuthorizationPendingException"})
            del self.devices[code]
            return self.new_token(h)
        return self.bad(h, f"CreateToken with grantType {grant!r}")
