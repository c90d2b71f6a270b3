#!/usr/bin/env python3
"""Generates tests/fixtures/sigv4_botocore.json: requests signed by botocore's
SigV4 signers (SigV4Auth for generic services, S3SigV4Auth for s3) at a frozen
time, for tests/unit/test_sigv4.c to replay against dr_sigv4_sign.

Run from the repository root:  .venv/bin/python tests/gen_sigv4_fixtures.py

Deterministic: fixed seed, fixed clock, sorted JSON keys. Requests are built
as botocore itself puts them on the wire: paths and queries percent-encoded
(S3 keys and query parts with quote(safe='-_.~') / '/~', the way botocore's
serializers do), so that the S3 signer, which signs the path and query as
sent, and ours, which re-encodes them canonically, see the same thing.
Generic services may get less canonical wire paths ('+', '=', encoded
unreserved characters), which both signers encode a second time.
"""

import datetime
import hashlib
import json
import os
import random
import sys
from urllib.parse import quote, urlsplit

import botocore
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SEED = 20150830
NCASES = 300
TIMESTAMP = "20150830T123600Z"
FROZEN = datetime.datetime(2015, 8, 30, 12, 36, 0)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "sigv4_botocore.json")

# botocore.auth imported get_current_datetime by name: freeze it there.
botocore.auth.get_current_datetime = lambda *a, **k: FROZEN

METHODS = ["GET", "PUT", "POST", "DELETE", "HEAD"]
SERVICES = {
    "s3": ["s3.us-east-1.amazonaws.com", "examplebucket.s3.eu-west-1.amazonaws.com"],
    "sts": ["sts.amazonaws.com", "sts.us-west-2.amazonaws.com"],
    "secretsmanager": ["secretsmanager.us-east-1.amazonaws.com"],
    "cloudfront": ["cloudfront.amazonaws.com"],
    "execute-api": ["abc123.execute-api.eu-central-1.amazonaws.com"],
}
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]
SEGMENTS = [
    "a", "b", "key", "my dir", "a b  c", "x+y", "a=b", "t~ilde", "100%", "50%25",
    "\u00fc", "\u20ac", "\u65e5\u672c", "emoji\U0001F600", "semi;colon", "at@sign",
    "dollar$", "paren(1)", "star*", "comma,", "bang!", "quote'", "UPPER", "a.b",
    "-_.~", "colon:x", "amp&er", "sp ace+plus=eq~t%p",
]
DOT_SEGMENTS = [".", "..", ""]  # "" makes a "//"
QUERY_WORDS = [
    "a", "b", "A", "Z", "a-b", "a.b", "a_b", "a~b", "prefix", "list-type", "max-keys",
    "key", "key2", "x y", "x+y", "a=b", "a&b", "\u00fc", "\u20ac", "/slash/", "%", "~",
    "", "1", "10", "2", "Action", "Version", "uploads", "versionId",
]
HEADER_NAMES = [
    "Content-Type", "X-Amz-Meta-Note", "x-amz-meta-UBER",
    "X-Custom-Header", "x-AMZ-target", "Range", "If-Match", "X-Amz-Meta-Empty", "Cache-Control",
    "Content-MD5-not", "X-Amz-Acl", "X-Amz-Storage-Class",
]
HEADER_VALUES = [
    "application/json", "  two   words  ", "a\tb", "\t lead and trail \t", "bytes=0-9",
    '"etag value"', "", "x,y , z", "private", "Mixed   Case\t\tValue", "STANDARD",
    "a  b   c    d", "no-cache",
]


def enc(s, safe):
    return quote(s, safe=safe)


def make_path(rng, s3):
    nseg = rng.randint(0, 5)
    segs = []
    for _ in range(nseg):
        r = rng.random()
        if r < 0.2:
            segs.append(rng.choice(DOT_SEGMENTS))
        else:
            segs.append(rng.choice(SEGMENTS))
    if s3:
        # What botocore sends for an S3 key: quote(key, safe='/~').
        wire = "/" + "/".join(enc(s, "~") for s in segs)
        category = "s3-key"
    else:
        style = rng.choice(["canonical", "loose", "encoded-unreserved"])
        if style == "canonical":
            wire = "/" + "/".join(enc(s, "~") for s in segs)
        elif style == "loose":
            # sub-delims left literal, as some clients send them
            wire = "/" + "/".join(enc(s, "~+=!$'()*,;:@&") for s in segs)
        else:
            wire = "/" + "/".join(
                "".join("%%%02X" % ord(c) if c.isalnum() and rng.random() < 0.3 else enc(c, "~")
                        for c in s)
                for s in segs
            )
        category = "path-" + style
    if rng.random() < 0.15:
        wire += "/"
    if nseg == 0 and rng.random() < 0.5:
        wire = "/"
    return wire, category


def make_query(rng):
    r = rng.random()
    if r < 0.3:
        return "", []
    cats = []
    pairs = []
    for _ in range(rng.randint(1, 6)):
        k = rng.choice(QUERY_WORDS)
        form = rng.random()
        if form < 0.15:
            pairs.append(enc(k, "-_.~") or "k")  # bare key: "k" signs as "k="
            cats.append("bare-key")
        elif form < 0.25:
            pairs.append(enc(k, "-_.~") + "=")
            cats.append("empty-value")
        else:
            v = rng.choice(QUERY_WORDS)
            pairs.append(enc(k, "-_.~") + "=" + enc(v, "-_.~"))
            if not k:
                cats.append("empty-key")
    if rng.random() < 0.3 and pairs:
        pairs.append(pairs[0].split("=")[0] + "=" + enc(rng.choice(QUERY_WORDS), "-_.~"))
        cats.append("repeated-key")
    if rng.random() < 0.15:
        # keys where one is a prefix of another: sort by key, then value
        pairs += ["a=2", "a-b=1", "a=1", "ab=0"]
        cats.append("prefix-keys")
    return "&".join(pairs), cats


def make_headers(rng, host):
    names = rng.sample(HEADER_NAMES, rng.randint(0, 4))
    headers = [["Host" if rng.random() < 0.5 else "host", host]]
    for n in names:
        if rng.random() < 0.3:
            n = "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in n)
        headers.append([n, rng.choice(HEADER_VALUES)])
    return headers


class Capture:
    """Wraps a botocore signer to keep its canonical request and string to sign."""

    def __init__(self, signer):
        self.signer = signer
        self.creq = self.sts = None
        orig_creq, orig_sts = signer.canonical_request, signer.string_to_sign

        def creq(request):
            self.creq = orig_creq(request)
            return self.creq

        def sts(request, canonical_request):
            self.sts = orig_sts(request, canonical_request)
            return self.sts

        signer.canonical_request = creq
        signer.string_to_sign = sts


def make_case(rng, i):
    service = rng.choice(sorted(SERVICES))
    s3 = service == "s3"
    host = rng.choice(SERVICES[service])
    region = rng.choice(REGIONS)
    method = rng.choice(METHODS)
    path, pcat = make_path(rng, s3)
    query, qcats = make_query(rng)
    headers = make_headers(rng, host)
    body = b""
    if method in ("PUT", "POST") and rng.random() < 0.7:
        body = rng.choice([b"{}", b"Action=GetCallerIdentity&Version=2011-06-15",
                           "h\u00e9llo w\u00f6rld\n".encode(), bytes(range(32))])
    token = None
    if rng.random() < 0.3:
        token = "FQoGZXIvYXdzE" + rng.choice(["//tok+en/with==", "abc123", "x" * 40])
    cred = {"access_key_id": "AKIDEXAMPLE%03d" % i,
            "secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" + str(i % 7),
            "session_token": token}
    url = "https://" + host + path + ("?" + query if query else "")
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    creds = Credentials(cred["access_key_id"], cred["secret_access_key"], token)
    cls = botocore.auth.S3SigV4Auth if s3 else botocore.auth.SigV4Auth
    cap = Capture(cls(creds, service, region))
    cap.signer.add_auth(req)
    parts = urlsplit(req.url)
    auth = req.headers["Authorization"]
    signature = auth.rsplit("Signature=", 1)[1]
    cats = sorted(set([service, pcat] + qcats + (["session-token"] if token else [])
                      + (["body"] if body else [])))
    return {
        "name": "case%03d" % i,
        "categories": cats,
        "method": method,
        "path": parts.path,
        "query": parts.query,
        "headers": headers,
        "body_hex": body.hex(),
        "payload_sha256": hashlib.sha256(body).hexdigest(),
        "credentials": cred,
        "region": region,
        "service": service,
        "timestamp": TIMESTAMP,
        "s3": s3,
        "canonical_request": cap.creq,
        "string_to_sign": cap.sts,
        "signature": signature,
        "authorization": auth,
    }


def main():
    rng = random.Random(SEED)
    cases = [make_case(rng, i) for i in range(NCASES)]
    doc = {"generator": "tests/gen_sigv4_fixtures.py", "botocore": botocore.__version__,
           "seed": SEED, "cases": cases}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(doc, f, sort_keys=True, indent=1, ensure_ascii=True)
        f.write("\n")
    print("%s: %d cases" % (OUT, len(cases)), file=sys.stderr)


if __name__ == "__main__":
    main()
