"""dbtrun aws cloudfront invalidate against moto_server without signature
checks (moto cannot verify CloudFront signatures, aws-notes.md), results
cross-checked with boto3; the signature itself is compared with botocore's
signer on a request captured by a local server."""
import http.server
import os
import re
import threading
from unittest import mock

import pytest

from conftest import create_distribution, dbtrun

boto3 = pytest.importorskip("boto3")
LINE = re.compile(r"^invalidation ([A-Z0-9]+) (\S+)$")


def aws_env(**extra):
    env = {k: "" for k in os.environ if k.startswith("AWS_")}
    env.update({
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "eu-west-1", "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "DBTRUN_TEST_NO_BACKOFF": "1",
    })
    env.update(extra)
    return env


def invalidate(url, *args, **env):
    return dbtrun("aws", "--endpoint-url", url, "cloudfront", "invalidate", *args,
                  env=aws_env(**env))


@pytest.fixture
def cf(moto):
    return boto3.client("cloudfront", endpoint_url=moto, aws_access_key_id="testing",
                        aws_secret_access_key="testing", region_name="us-east-1")


@pytest.fixture
def dist(cf):
    return create_distribution(cf)


def test_invalidation_is_visible_to_boto3(moto, cf, dist):
    r = invalidate(moto, dist, "/*", "/index.html")
    assert r.returncode == 0, r.stderr
    m = LINE.match(r.stdout.strip())
    assert m, r.stdout
    inv_id = m.group(1)
    assert inv_id in [i["Id"] for i in cf.list_invalidations(DistributionId=dist)
                      ["InvalidationList"]["Items"]]
    batch = cf.get_invalidation(DistributionId=dist, Id=inv_id)["Invalidation"]["InvalidationBatch"]
    assert batch["Paths"] == {"Quantity": 2, "Items": ["/*", "/index.html"]}
    assert batch["CallerReference"].startswith("dbtrun-")


def test_two_invalidations_get_their_own_caller_reference(moto, cf, dist):
    ids = []
    for _ in range(2):
        r = invalidate(moto, dist, "/a&b<c>.html")
        assert r.returncode == 0, r.stderr
        ids.append(LINE.match(r.stdout.strip()).group(1))
    refs = {cf.get_invalidation(DistributionId=dist, Id=i)["Invalidation"]["InvalidationBatch"]
            ["CallerReference"] for i in ids}
    assert len(refs) == 2
    batch = cf.get_invalidation(DistributionId=dist, Id=ids[0])["Invalidation"]["InvalidationBatch"]
    assert batch["Paths"]["Items"] == ["/a&b<c>.html"]


def test_wait_ends_with_completed(moto, cf, dist):
    r = invalidate(moto, dist, "/*", "--wait", "--timeout", "30")
    assert r.returncode == 0, r.stderr
    first, second = r.stdout.strip().splitlines()
    inv_id = LINE.match(first).group(1)
    assert second == f"invalidation {inv_id} Completed"


def test_missing_distribution_is_no_such_distribution(moto):
    r = invalidate(moto, "EDOESNOTEXIST1", "/*")
    assert r.returncode == 1
    assert "CreateInvalidation EDOESNOTEXIST1: NoSuchDistribution (404)" in r.stderr
    assert r.stdout == ""


def test_bad_distribution_id_is_refused_before_sending(moto):
    r = invalidate("http://127.0.0.1:9", "e123/../x", "/*")  # nothing listens on port 9
    assert r.returncode == 1
    assert "InvalidArgument" in r.stderr and "NetworkError" not in r.stderr


@pytest.mark.parametrize("args", [
    [], ["E123"], ["E123", "--wait"], ["E123", "/*", "--timeout"],
    ["E123", "/*", "--wait", "--timeout", "soon"], ["E123", "/*", "--wait", "--timeout", "0"],
    ["E123", "/*", "--timeout", "5"], ["E123", "/*", "--frobnicate"],
])
def test_usage_errors(args):
    r = invalidate("http://127.0.0.1:9", *args)
    assert r.returncode == 2, (args, r.stderr)
    assert "see dbtrun aws --help" in r.stderr


def test_help_lists_the_command():
    assert "cloudfront invalidate DISTRIBUTION_ID PATH..." in dbtrun("aws", "--help").stdout


# ---- the signature, against botocore's signer --------------------------------

class Capture(http.server.BaseHTTPRequestHandler):
    seen = []
    answer = (b'<?xml version="1.0"?><Invalidation xmlns="http://cloudfront.amazonaws.com/doc/'
              b'2020-05-31/"><Id>I2J0I21PCUYOIK</Id><Status>InProgress</Status></Invalidation>')

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Capture.seen.append((self.command, self.path, dict(self.headers), body))
        self.send_response(201)
        self.send_header("Content-Length", str(len(self.answer)))
        self.end_headers()
        self.wfile.write(self.answer)

    def log_message(self, *args):
        pass


def test_signature_matches_botocore():
    import datetime

    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        Capture.seen.clear()
        r = invalidate(url, "E2QWRUHAPOMQZL", "/*", DBTRUN_TEST_CLOCK="20150830T123600Z")
    finally:
        server.shutdown()
        server.server_close()
    assert r.returncode == 0, r.stderr
    assert r.stdout == "invalidation I2J0I21PCUYOIK InProgress\n"
    method, path, headers, body = Capture.seen[0]
    assert (method, path) == ("POST", "/2020-05-31/distribution/E2QWRUHAPOMQZL/invalidation")
    req = AWSRequest(method=method, url=url + path, data=body,
                     headers={"Content-Type": headers["Content-Type"]})
    frozen = datetime.datetime(2015, 8, 30, 12, 36, 0)
    with mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: frozen):
        # a global service: us-east-1 although the client is in eu-west-1
        botocore.auth.SigV4Auth(Credentials("testing", "testing"), "cloudfront",
                                "us-east-1").add_auth(req)
    assert headers["authorization"] == req.headers["Authorization"]
