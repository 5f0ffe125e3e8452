"""Helpers shared by the fake endpoint's tests (test_fake_aws.py, test_fake_network.py):
the AWS CLI runner, the control API, raw SigV4-signed requests, and the walk of
an answer against the botocore model."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import fake_model
from fake_state import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY

AWS = "/usr/bin/aws"
REGION = "eu-west-1"
# Values AWS sends outside the model's enums: an attached internet gateway's
# attachment state, a NAT gateway's network interface type.
OFF_ENUM = {("attachmentSet/item/state", "available"), ("interfaceType", "nat_gateway")}


def check(cond, why):
    if not cond:
        raise AssertionError(why)


class Cli:
    """Runs /usr/bin/aws against the fake with throw-away config files."""

    def __init__(self, fake):
        self.fake = fake
        self.dir = tempfile.mkdtemp(prefix="fakeaws-cli-")
        self.config = os.path.join(self.dir, "config")
        self.creds = os.path.join(self.dir, "credentials")
        with open(self.config, "w") as f:
            f.write("[default]\noutput = json\ncli_pager =\n")
        with open(self.creds, "w") as f:
            f.write("")

    def env(self, **over):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({"HOME": self.dir, "AWS_CONFIG_FILE": self.config, "AWS_SHARED_CREDENTIALS_FILE": self.creds,
                    "AWS_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": DEFAULT_SECRET_KEY,
                    "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_PAGER": "",
                    "AWS_EC2_METADATA_DISABLED": "true", "AWS_RETRY_MODE": "standard",
                    "AWS_MAX_ATTEMPTS": "3"})
        for k, v in over.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def run(self, *args, env=None, expect_ok=True, timeout=120):
        cmd = [AWS, "--endpoint-url", self.fake.url, "--output", "json"] + list(args)
        p = subprocess.run(cmd, env=env or self.env(), capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if expect_ok:
            check(p.returncode == 0, "%s exited %d: %s" % (" ".join(args[:2]), p.returncode, p.stderr.strip()))
            return json.loads(p.stdout) if p.stdout.strip() else None
        return p

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def control(fake, path, body=None, method=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(fake.url + "/_fake/" + path, data=data,
                                 method=method or ("POST" if data is not None else "GET"))
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def signed(fake, service, method, path, query=None, body=b"", headers=None, akid=DEFAULT_ACCESS_KEY,
           secret=DEFAULT_SECRET_KEY, token=None, region=REGION):
    """Send one request signed by botocore's SigV4Auth; returns (status, body bytes)."""
    url = fake.url + path + ("?" + query if query else "")
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(akid, secret, token), service, region).add_auth(req)
    prepared = req.prepare()
    r = urllib.request.Request(prepared.url, data=body if body else None, method=method,
                               headers=dict(prepared.headers.items()))
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def error_code(body):
    m = re.search(rb"<Code>([^<]+)</Code>", body)
    return m.group(1).decode() if m else None


# ---- model walk: every element of an answer must be in the botocore output shape ---

def _local(tag):
    return tag.rsplit("}", 1)[-1]


def model_walk(service, op, body):
    """Problems found walking an answer against the botocore model (empty list: clean)."""
    problems = []
    root = ET.fromstring(body)
    if _local(root.tag) != op + "Response":
        problems.append("root <%s>, expected <%sResponse>" % (_local(root.tag), op))
    ns = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
    if ns != fake_model.NAMESPACES[service]:
        problems.append("namespace %r" % ns)
    shape = fake_model.operation_model(service, op).output_shape
    children = list(root)
    if shape is None:
        names = [(_local(c.tag), c.text) for c in children]
        if service != "ec2" or [n for n, _ in names] != ["requestId", "return"] or names[1][1] != "true":
            problems.append("answer without an output shape: %r" % names)
        return problems
    if service in ("rds", "sts"):
        names = [_local(c.tag) for c in children]
        if names != [op + "Result", "ResponseMetadata"]:
            problems.append("query envelope %r" % names)
        node = children[0]
    elif service == "ec2":
        if not children or _local(children[0].tag) != "requestId":
            problems.append("EC2 answer does not start with <requestId>")
        node = root
    else:
        node = root
    _walk_struct(node, shape, op, problems, skip={"requestId"} if service == "ec2" else set())
    return problems


def _walk_struct(node, shape, path, problems, skip=()):
    members = {}
    for mname, mshape in shape.members.items():
        if mshape.serialization.get("location"):
            continue
        key = mshape.serialization.get("name", mname)
        if mshape.type_name == "list" and mshape.serialization.get("flattened"):
            key = mshape.member.serialization.get("name", key)
        members[key] = mshape
    seen = set()
    for child in node:
        name = _local(child.tag)
        if name in skip:
            continue
        if name not in members:
            problems.append("%s/%s: not in the model" % (path, name))
            continue
        seen.add(name)
        mshape = members[name]
        if mshape.type_name == "list" and mshape.serialization.get("flattened"):
            _walk_value(child, mshape.member, path + "/" + name, problems)
        else:
            _walk_value(child, mshape, path + "/" + name, problems)
    for req in getattr(shape, "required_members", []):
        key = shape.members[req].serialization.get("name", req)
        if shape.members[req].serialization.get("location"):
            continue
        if key not in seen:
            problems.append("%s: required <%s> missing" % (path, key))


def _walk_value(node, shape, path, problems):
    t = shape.type_name
    if t == "structure":
        _walk_struct(node, shape, path, problems)
    elif t == "list":
        want = shape.member.serialization.get("name", "member")
        for child in node:
            if _local(child.tag) != want:
                problems.append("%s: list member <%s>, expected <%s>" % (path, _local(child.tag), want))
            _walk_value(child, shape.member, path + "/" + want, problems)
    else:
        if len(node):
            problems.append("%s: scalar with children" % path)
        text = node.text or ""
        if t == "boolean" and text not in ("true", "false"):
            problems.append("%s: boolean %r" % (path, text))
        if t in ("integer", "long") and not re.fullmatch(r"-?\d+", text):
            problems.append("%s: integer %r" % (path, text))
        if t == "timestamp" and not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text):
            problems.append("%s: timestamp %r" % (path, text))
        if t == "string" and shape.enum and text not in shape.enum and \
                not any(path.endswith(p) and text == v for p, v in OFF_ENUM):
            problems.append("%s: %r not in enum" % (path, text))
