"""A SigV4-checking reverse proxy for S3 servers that check no signatures
(gofakes3, s3rver: aws-notes.md). Every request is signed again with
botocore's own S3 signers from what arrived on the wire: the signed headers,
the raw path and query, the payload hash. A mismatch, an unknown key id or a
body whose SHA-256 differs from x-amz-content-sha256 is answered 403
SignatureDoesNotMatch (and recorded); a match is forwarded unchanged.
UNSIGNED-PAYLOAD is accepted only over TLS (tls=(certfile, keyfile)), as S3
does; an x-amz-checksum-crc32 header must be the body's CRC32. So is
STREAMING-UNSIGNED-PAYLOAD-TRAILER: the aws-chunked body is decoded as S3
decodes it (strictly: chunk sizes, CRLFs, the decoded length, Content-Length
the encoded length, the trailer x-amz-trailer names) and its CRC32 trailer
must be the decoded bytes' CRC32; with decode=True what goes upstream is the
decoded body, for servers that know no aws-chunked (gofakes3), else the body
as it came (moto decodes it itself).

    proxy = SigCheckProxy(upstream_port, {"AKID": "secret"}); proxy.start()
    ... proxy.url, proxy.failures, proxy.checked, proxy.seen ...; proxy.stop()
"""
import base64
import hashlib
import http.client
import http.server
import re
import socket
import ssl
import struct
import subprocess
import threading
import zlib
from urllib.parse import parse_qsl, urlsplit

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AUTH_RE = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,"
                     r"\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


def decode_aws_chunked(body):
    """(payload, {trailer name: value}) of an aws-chunked body; raises
    ValueError on anything S3 would refuse to parse."""
    out, pos = [], 0
    while True:
        eol = body.index(b"\r\n", pos)
        size_text = body[pos:eol].split(b";")[0]
        if not size_text or size_text.strip(b"0123456789abcdefABCDEF"):
            raise ValueError(f"bad chunk size {size_text!r}")
        size, pos = int(size_text, 16), eol + 2
        if size == 0:
            break
        out.append(body[pos:pos + size])
        if len(out[-1]) != size or body[pos + size:pos + size + 2] != b"\r\n":
            raise ValueError("chunk shorter than its size or not ended by CRLF")
        pos += size + 2
    trailers = {}
    while True:
        eol = body.index(b"\r\n", pos)
        line, pos = body[pos:eol], eol + 2
        if not line:
            break
        name, _, value = line.decode().partition(":")
        trailers[name.strip().lower()] = value.strip()
    if pos != len(body):
        raise ValueError(f"{len(body) - pos} bytes after the trailer")
    return b"".join(out), trailers


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def _trailer_body(headers, body, tls):
    """None when a STREAMING-UNSIGNED-PAYLOAD-TRAILER body is right, else why not."""
    if not tls:
        return "STREAMING-UNSIGNED-PAYLOAD-TRAILER over plain HTTP"
    if "aws-chunked" not in [e.strip() for e in headers.get("Content-Encoding", "").split(",")]:
        return "a trailer body without Content-Encoding: aws-chunked"
    if headers.get("Transfer-Encoding") or headers.get("Content-Length") != str(len(body)):
        return "the aws-chunked body's Content-Length is not its encoded length"
    try:
        payload, trailers = decode_aws_chunked(body)
    except ValueError as e:
        return f"bad aws-chunked body: {e}"
    if headers.get("x-amz-decoded-content-length") != str(len(payload)):
        return "x-amz-decoded-content-length is not the decoded length"
    name = headers.get("x-amz-trailer", "").lower()
    if not name or list(trailers) != [name]:
        return f"x-amz-trailer {name!r} but the trailer holds {list(trailers)}"
    if name == "x-amz-checksum-crc32" and trailers[name] != crc32_b64(payload):
        return "the x-amz-checksum-crc32 trailer is not the body's CRC32"
    return None


def _header_signature(secrets, method, raw_path, headers, body, tls=False):
    """None when the Authorization header is right, else why not."""
    m = AUTH_RE.match(headers.get("Authorization", ""))
    if not m:
        return "no SigV4 Authorization header"
    akid, _date, region, service, signed, got = m.groups()
    if akid not in secrets:
        return f"unknown access key {akid}"
    names = signed.split(";")
    request = AWSRequest(method=method, url="http://" + headers["Host"] + raw_path,
                         headers={n: headers.get(n, "") for n in names if n != "host"})
    request.context["timestamp"] = headers.get("X-Amz-Date", "")
    signer = botocore.auth.S3SigV4Auth(Credentials(akid, secrets[akid]), service, region)
    want = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if want != got:
        return "signature differs from botocore's"
    declared = headers.get("X-Amz-Content-SHA256", "")
    if declared == TRAILER:
        return _trailer_body(headers, body, tls)
    if declared == "UNSIGNED-PAYLOAD" and not tls:
        return "UNSIGNED-PAYLOAD over plain HTTP"
    if declared != "UNSIGNED-PAYLOAD" and declared != hashlib.sha256(body).hexdigest():
        return "x-amz-content-sha256 is not the body's SHA-256"
    crc = headers.get("x-amz-checksum-crc32")
    if crc is not None and crc != crc32_b64(body):
        return "x-amz-checksum-crc32 is not the body's CRC32"
    return None


def _query_signature(secrets, method, raw_path, headers):
    """None when the presigned query is right, else why not."""
    parts = urlsplit(raw_path)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    akid, _date, region, service, _ = query.get("X-Amz-Credential", "////").split("/", 4)
    if akid not in secrets:
        return f"unknown access key {akid}"
    kept = "&".join(p for p in parts.query.split("&") if not p.startswith("X-Amz-Signature="))
    request = AWSRequest(method=method, url="http://" + headers["Host"] + parts.path + "?" + kept)
    request.context["timestamp"] = query.get("X-Amz-Date", "")
    signer = botocore.auth.S3SigV4QueryAuth(Credentials(akid, secrets[akid]), service, region,
                                            expires=int(query.get("X-Amz-Expires", "0")))
    canonical = signer.canonical_request(request)
    want = signer.signature(signer.string_to_sign(request, canonical), request)
    return None if want == query.get("X-Amz-Signature") else "presigned signature differs"


def self_signed(directory):
    """(certfile, keyfile): a certificate for 127.0.0.1 made in directory,
    to trust through AWS_CA_BUNDLE."""
    cert, key = f"{directory}/cert.pem", f"{directory}/key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


class SigCheckProxy:
    def __init__(self, upstream_port, secrets, tls=None, decode=False):
        self.upstream_port = upstream_port
        self.secrets = secrets
        self.tls = tls
        self.decode = decode
        self.fault = None  # fault(method, path, headers) -> bytes to read before a reset, or None
        self.failures = []  # (method, path, why)
        self.seen = []  # (method, path, headers with lower-case names) of every request
        self.checked = 0
        self.before_forward = None  # (method, path, headers): called before a request goes on
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                cut = proxy.fault and proxy.fault(self.command, self.path, self.headers)
                if cut is not None:  # read some of the body, then reset the connection
                    self.rfile.read(min(cut, n))
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                body = self.rfile.read(n) if n else b""
                proxy.seen.append((self.command, self.path,
                                   {k.lower(): v for k, v in self.headers.items()}))
                why = proxy.verify(self.command, self.path, self.headers, body)
                if why:
                    proxy.failures.append((self.command, self.path, why))
                    msg = (f"<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>"
                           f"<Message>{why}</Message></Error>").encode()
                    self.send_response(403)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(msg)))
                    self.end_headers()
                    self.wfile.write(msg)
                    return
                self._forward(body)

            def _forward(self, body):
                if proxy.before_forward:
                    proxy.before_forward(self.command, self.path, self.headers)
                up = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                if proxy.decode and self.headers.get("X-Amz-Content-SHA256") == TRAILER:
                    body = decode_aws_chunked(body)[0]
                    drop = {"content-length", "content-encoding", "x-amz-decoded-content-length",
                            "x-amz-trailer"}
                    headers = {k: v for k, v in headers.items() if k.lower() not in drop}
                    kept = [e.strip() for e in self.headers.get("Content-Encoding", "").split(",")
                            if e.strip() and e.strip() != "aws-chunked"]
                    if kept:
                        headers["Content-Encoding"] = ",".join(kept)
                up.request(self.command, self.path, body=body, headers=headers)
                r = up.getresponse()
                data = r.read()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in HOP_BY_HOP | {"content-length"}:
                        self.send_header(k, v)
                # a HEAD's Content-Length is the object's, not of the (empty) body
                length = r.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                up.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"

    def verify(self, method, raw_path, headers, body):
        self.checked += 1
        try:
            if "X-Amz-Signature=" in raw_path:
                return _query_signature(self.secrets, method, raw_path, headers)
            return _header_signature(self.secrets, method, raw_path, headers, body, bool(self.tls))
        except Exception as e:  # a request we cannot even parse is a failure too
            return f"unparsable request: {e!r}"

    def start(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
