"""Small pieces shared by the fake's service handlers."""

import base64
import datetime
import hashlib
import json
import os
import re


class AwsError(Exception):
    """An error answer. `status` is the HTTP status AWS uses for `code`."""

    def __init__(self, code, message, status=400, kind="Sender"):
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message
        self.status = status
        self.kind = kind


class Request:
    """One parsed HTTP request as the handlers see it."""

    def __init__(self, method, path, raw_query, query, headers, raw_headers, body):
        self.method = method
        self.path = path            # raw path, still percent-encoded
        self.raw_query = raw_query  # raw query string, without "?"
        self.query = query          # [(name, value)] percent-decoded ("+" stays "+")
        self.headers = headers      # {lower-case name: value} (last one wins)
        self.raw_headers = raw_headers  # [(name, value)] as received
        self.body = body            # bytes
        self.service = None
        self.action = None
        self.region = None          # from the signature's credential scope
        self.identity = None        # the credentials that signed the request
        self.params = {}            # query-protocol parameters, or route53 query
        self.page = None            # 1-based page of a paginated listing

    def q(self, name, default=None):
        for k, v in self.query:
            if k == name:
                return v
        return default


def make_token(kind, offset, page, context):
    """An opaque continuation token. It deliberately contains "+", "/" and "="
    (as real EC2/RDS tokens do), so a client that does not percent-encode it
    in a form body or a query string breaks here as it would against AWS."""
    blob = json.dumps({"k": kind, "o": offset, "p": page,
                       "c": hashlib.sha256(context.encode()).hexdigest()[:12]}).encode()
    while (len(blob) + 6) % 3 != 1:
        blob += b" "
    # b"\xfb\xff" encodes as "+/", and a length of 1 (mod 3) ends in "==".
    return base64.b64encode(b"\xfb\xff" + os.urandom(4) + blob).decode()


def read_token(kind, token, context):
    """(offset, page) of a token made by make_token, or None when it is not ours."""
    try:
        raw = base64.b64decode(token.encode(), validate=True)
        d = json.loads(raw[6:].decode())
    except Exception:
        return None
    if d.get("k") != kind or d.get("c") != hashlib.sha256(context.encode()).hexdigest()[:12]:
        return None
    return int(d["o"]), int(d["p"])


def wildcard_match(pattern, value):
    """EC2 filter values: "*" any run, "?" one character, "\\" escapes."""
    if value is None:
        return False
    value = str(value)
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
        i += 1
    return re.fullmatch("".join(out), value, re.S) is not None


def hexid(*parts, n=17):
    """A stable hex id made from `parts` (state files reload to the same ids)."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


def new_id(prefix, n=17):
    """A fresh AWS-style id: "vpc-" and 17 lower-case hex digits."""
    return "%s-%s" % (prefix, os.urandom((n + 1) // 2).hex()[:n])


def iso_now(offset_seconds=0):
    """Now (plus an offset) as AWS writes timestamps: 2024-01-02T03:04:05.000Z."""
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def tags_list(tags):
    """Tags may be given as {"Name": "x"} or as the CLI's [{"Key", "Value"}]."""
    if tags is None:
        return []
    if isinstance(tags, dict):
        return [{"Key": k, "Value": v} for k, v in tags.items()]
    return [{"Key": t["Key"], "Value": t.get("Value", "")} for t in tags]
