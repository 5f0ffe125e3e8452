#!/usr/bin/python3
"""A fake AWS endpoint on loopback for the vpcdns-sync tests.

Run as a process:

    /usr/bin/python3 tests/aws/fake_aws.py --port 0 --state STATE.json --port-file F

(it writes the chosen port to F once it listens, reloads the state file when
the file changes or on SIGHUP, and stops on SIGTERM/SIGINT), or in-process:

    from fake_aws import FakeAWS
    fake = FakeAWS(state={...} or "STATE.json"); fake.start(); ... fake.stop()

One plain-HTTP port serves every service, told apart the way AWS's own front
ends would see them:
  /2013-04-01/...       Route 53 (REST-XML)
  POST / (form body)    EC2, RDS or STS (query protocols), chosen by the
                        service in the signature's credential scope (ec2, rds,
                        sts), else by Version (2016-11-15, 2014-10-31, 2011-06-15)
  /latest/...           IMDSv2 (token PUT, metadata GETs; not signed)
  /_fake/...            the control API (README.md), not signed

Every AWS request must carry a valid SigV4 signature made with one of the
state's credentials or with temporary credentials this fake issued (STS
AssumeRole, IMDS). The signature is recomputed with botocore's SigV4Auth from
the method, the path, the query, the signed headers and the body as received.
"""

import argparse
import copy
import datetime
import hashlib
import hmac
import http.server
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fake_ec2  # noqa: E402
import fake_ec2_routing  # noqa: E402
import fake_model  # noqa: E402
import fake_network  # noqa: E402
import fake_query  # noqa: E402
import fake_route53  # noqa: E402
from fake_common import AwsError, Request  # noqa: E402
from fake_state import State, StateError  # noqa: E402

SIGNING_NAMES = {"route53", "ec2", "rds", "sts"}
EC2_HANDLERS = dict(fake_query.EC2_HANDLERS, **fake_ec2.HANDLERS, **fake_ec2_routing.HANDLERS)
EC2_PAGED = fake_query.EC2_PAGED | fake_ec2.PAGED | fake_ec2_routing.PAGED
FAULT_KINDS = ("throttle", "prior_request", "error", "expired_token", "slow", "garbage", "disconnect",
               "access_denied")
THROTTLE = {  # service: (code, HTTP status, message)
    "route53": ("Throttling", 400, "Rate exceeded"),
    "ec2": ("RequestLimitExceeded", 503, "Request limit exceeded."),
    "rds": ("Throttling", 400, "Rate exceeded"),
    "sts": ("Throttling", 400, "Rate exceeded"),
}
MESSAGES = {
    "SignatureDoesNotMatch": "The request signature we calculated does not match the signature you "
                             "provided. Check your AWS Secret Access Key and signing method. Consult the "
                             "service documentation for details.",
    "InvalidClientTokenId": "The security token included in the request is invalid.",
    "ExpiredToken": "The security token included in the request is expired",
    "AuthFailure": "AWS was not able to validate the provided access credentials",
    "RequestExpired": "Request has expired.",
}


class _Verifier(SigV4Auth):
    """botocore's SigV4 canonicalisation, fed with the request exactly as received."""

    def __init__(self, credentials, service, region, signed, raw_headers, body):
        super().__init__(credentials, service, region)
        self._signed = signed
        self._raw_headers = raw_headers
        self._body = body

    def headers_to_sign(self, request):
        hm = HTTPHeaders()
        for name, value in self._raw_headers:
            if name.lower() in self._signed:
                hm[name.lower()] = value
        return hm

    def payload(self, request):
        return hashlib.sha256(self._body).hexdigest()


class FakeAWS:
    def __init__(self, state=None, port=0, host="127.0.0.1", log_limit=2000, quiet=True):
        self.host = host
        self.port = port
        self.quiet = quiet
        self.log_limit = log_limit
        self.lock = threading.RLock()
        self.state_path = None   # the file watched for changes (None: a POSTed dict is in force)
        self.file_path = None    # the last state file loaded (SIGHUP reads it again)
        self.state_mtime = None
        self.state_error = None
        self.temp_credentials = {}
        self.imds_tokens = {}
        self.changes = {}
        self.caller_refs = set()
        self.faults = []
        self.reset_stats()
        self.set_state(state if state is not None else {})
        self.httpd = None
        self.thread = None

    # ---- state -----------------------------------------------------------------
    def set_state(self, state):
        """Replace the state with a dict, or with a JSON file that is then watched."""
        with self.lock:
            if isinstance(state, (str, os.PathLike)):
                path = os.fspath(state)
                with open(path) as f:
                    doc = json.load(f)
                self.state = State.load(doc)
                self.state_path = self.file_path = path
                self.state_mtime = os.stat(path).st_mtime_ns
            else:
                self.state = State.load(state)
                self.state_path = None
            self.state_error = None
            self.caller_refs = {z["CallerReference"] for z in self.state.zones.values()}

    def reload_if_changed(self, force=False):
        """Re-read the watched file if it changed; force: re-read the last file loaded
        (SIGHUP), even after a POSTed state replaced it. A file that does not load
        leaves the old state in force and is reported as state_error in /_fake/stats."""
        with self.lock:
            path = self.file_path if force else self.state_path
            if not path:
                return
            try:
                mtime = os.stat(path).st_mtime_ns
                if force or mtime != self.state_mtime:
                    self.set_state(path)
            except (OSError, ValueError, KeyError, TypeError, StateError) as e:
                self.state_error = "%s: %s" % (path, e)
                self.state_mtime = mtime if "mtime" in locals() else None

    # ---- stats, log, faults ------------------------------------------------------
    def reset_stats(self):
        with self.lock:
            self.stats = {"total": 0, "actions": {}, "services": {}, "status": {}, "errors": {},
                          "errors_by_action": {}, "throttles": 0, "faults_fired": {}, "auth_failures": {},
                          "imds": {}}
            self.log = []
            self.seq = 0

    def _count(self, table, key, n=1):
        table[key] = table.get(key, 0) + n

    def add_faults(self, rules, replace=False):
        if isinstance(rules, dict):
            rules = rules.get("rules", [rules]) if "kind" not in rules else [rules]
        with self.lock:
            if replace:
                self.faults = []
            for r in rules:
                r = dict(r)
                if r.get("kind") not in FAULT_KINDS:
                    raise ValueError("unknown fault kind %r" % r.get("kind"))
                if "nth" in r:  # the Nth matching request (1-based) gets the fault
                    if int(r["nth"]) < 1:
                        raise ValueError("nth must be 1 or more")
                    r["skip"] = int(r["nth"]) - 1
                r.setdefault("count", 1)
                r.setdefault("skip", 0)
                r["fired"] = 0
                self.faults.append(r)

    def _take_fault(self, service, action, page, params=None):
        """The first fault rule that matches this request and still has shots left."""
        with self.lock:
            for r in self.faults:
                if r.get("service") not in (None, service):
                    continue
                if r.get("action") not in (None, action):
                    continue
                if r.get("page") is not None and r["page"] != page:
                    continue
                if r.get("params") and any((params or {}).get(k) != str(v) for k, v in r["params"].items()):
                    continue
                if r["skip"] > 0:
                    r["skip"] -= 1
                    continue
                if r["count"] == 0:
                    continue
                if r["count"] > 0:
                    r["count"] -= 1
                r["fired"] += 1
                self._count(self.stats["faults_fired"], r["kind"])
                return r
            return None

    # ---- server ------------------------------------------------------------------
    def start(self):
        fake = self

        class Handler(_Handler):
            pass
        Handler.fake = fake
        self.httpd = _Server((self.host, self.port), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- signature check ---------------------------------------------------------
    def lookup_credentials(self, akid):
        c = self.state.find_credentials(akid)
        if c is not None:
            return c
        return self.temp_credentials.get(akid)

    def authenticate(self, req, service):
        """Check SigV4 on `req`; sets req.region and req.identity or raises AwsError."""
        ec2 = service == "ec2"
        auth = req.headers.get("authorization")
        if not auth:
            if ec2:
                raise AwsError("AuthFailure", MESSAGES["AuthFailure"], 401)
            raise AwsError("MissingAuthenticationToken", "Missing Authentication Token", 403)
        m = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request,"
                         r"\s*SignedHeaders=([a-z0-9;._-]+),\s*Signature=([0-9a-f]{64})", auth.strip())
        if not m:
            raise AwsError("IncompleteSignature", "Authorization header requires 'Credential', "
                           "'SignedHeaders' and 'Signature' parameters (AWS4-HMAC-SHA256). Authorization=%s"
                           % auth, 400)
        akid, day, region, svc, signed, signature = m.groups()
        signed_list = signed.split(";")
        amz_date = req.headers.get("x-amz-date")
        if not amz_date or not re.fullmatch(r"\d{8}T\d{6}Z", amz_date):
            raise AwsError("IncompleteSignature", "Authorization header requires existence of either a "
                           "'X-Amz-Date' or a 'Date' header (in the form YYYYMMDDTHHMMSSZ).", 400)
        if "host" not in signed_list:
            raise AwsError("IncompleteSignature", "'Host' or ':authority' must be a 'SignedHeader' in the "
                           "AWS Authorization.", 400)
        if "x-amz-date" not in signed_list:
            raise AwsError("IncompleteSignature", "'X-Amz-Date' must be a 'SignedHeader' when it is used.", 400)
        if signed_list != sorted(set(signed_list)):
            raise AwsError("SignatureDoesNotMatch", "SignedHeaders must be lower case, sorted and unique: %s"
                           % signed, 403)
        for h in signed_list:
            if h not in req.headers:
                raise AwsError("SignatureDoesNotMatch", "Header %s is in SignedHeaders but not in the "
                               "request." % h, 403)
        if day != amz_date[:8]:
            raise AwsError("SignatureDoesNotMatch", "Date in Credential scope does not match YYYYMMDD from "
                           "ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'."
                           % (day, amz_date[:8], amz_date), 403)
        if svc != service:
            raise AwsError("SignatureDoesNotMatch", "Credential should be scoped to correct service: '%s'. "
                           % service, 403)
        if service == "route53" and self.state.settings.get("StrictRoute53Region") and region != "us-east-1":
            raise AwsError("SignatureDoesNotMatch", "Credential should be scoped to a valid region, not "
                           "'%s'. " % region, 403)
        skew = int(self.state.settings.get("MaxClockSkewSeconds", 300))
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        now = datetime.datetime.now(datetime.timezone.utc)
        if abs((now - when).total_seconds()) > skew:
            if ec2:
                raise AwsError("RequestExpired", "Request has expired. Timestamp date is %s" % amz_date, 400)
            raise AwsError("SignatureDoesNotMatch", "Signature expired: %s is now earlier than %s (%s - 5 min.)"
                           % (amz_date, (now - datetime.timedelta(seconds=skew)).strftime("%Y%m%dT%H%M%SZ"),
                              now.strftime("%Y%m%dT%H%M%SZ")), 403)
        cred = self.lookup_credentials(akid)
        if cred is None:
            if ec2:
                raise AwsError("AuthFailure", MESSAGES["AuthFailure"], 401)
            raise AwsError("InvalidClientTokenId", MESSAGES["InvalidClientTokenId"], 403)
        token = req.headers.get("x-amz-security-token")
        if token != cred.get("SessionToken"):
            if ec2:
                raise AwsError("AuthFailure", MESSAGES["AuthFailure"], 401)
            raise AwsError("InvalidClientTokenId", MESSAGES["InvalidClientTokenId"], 403)
        exp = cred.get("Expiration")
        if cred.get("Expired") or (isinstance(exp, datetime.datetime) and exp <= now):
            if ec2:
                raise AwsError("RequestExpired", MESSAGES["RequestExpired"], 400)
            raise AwsError("ExpiredToken", MESSAGES["ExpiredToken"], 403)
        body_hash = hashlib.sha256(req.body).hexdigest()
        claimed = req.headers.get("x-amz-content-sha256")
        if claimed is not None and claimed != body_hash:
            raise AwsError("SignatureDoesNotMatch", "x-amz-content-sha256 does not match the body", 403)
        creds = Credentials(akid, cred["SecretAccessKey"], cred.get("SessionToken"))
        verifier = _Verifier(creds, svc, region, set(signed_list), req.raw_headers, req.body)
        areq = AWSRequest(method=req.method, url="http://%s%s" % (req.headers["host"], req.path),
                          headers={})
        # The canonical query is built from the decoded parameters, each
        # re-encoded with the SigV4 alphabet (A-Z a-z 0-9 - _ . ~) and sorted.
        areq.params = req.query if req.query else {}
        areq.context["timestamp"] = amz_date
        canonical = verifier.canonical_request(areq)
        to_sign = verifier.string_to_sign(areq, canonical)
        expected = verifier.signature(to_sign, areq)
        req.canonical_request = canonical
        if not hmac.compare_digest(expected, signature):
            if ec2:
                raise AwsError("AuthFailure", MESSAGES["AuthFailure"], 401)
            raise AwsError("SignatureDoesNotMatch", MESSAGES["SignatureDoesNotMatch"] +
                           "\n\nThe Canonical String for this request should have been\n'%s'\n\n"
                           "The String-to-Sign should have been\n'%s'\n" % (canonical, to_sign), 403)
        req.region = region
        req.identity = cred


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _error_body(service, err, request_id):
    code, msg = fake_model.esc(err.code), fake_model.esc(err.message)
    if service == "ec2":
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>%s</Code>'
                '<Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>'
                % (code, msg, request_id)).encode()
    ns = fake_model.NAMESPACES.get(service, fake_model.NAMESPACES["route53"])
    return ('<?xml version="1.0"?>\n<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code>'
            '<Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>'
            % (ns, err.kind, code, msg, request_id)).encode()


def _fault_error(rule, service):
    if rule["kind"] == "throttle":
        code, status, msg = THROTTLE.get(service, ("Throttling", 400, "Rate exceeded"))
        return AwsError(code, msg, status)
    if rule["kind"] == "prior_request":
        return AwsError("PriorRequestNotComplete", "The request was rejected because Route 53 was still "
                        "processing a prior request.", 400)
    if rule["kind"] == "expired_token":
        if service == "ec2":
            return AwsError("RequestExpired", MESSAGES["RequestExpired"], 400)
        return AwsError("ExpiredToken", MESSAGES["ExpiredToken"], 403)
    if rule["kind"] == "access_denied":
        if service == "ec2":
            return AwsError("UnauthorizedOperation", "You are not authorized to perform this operation.", 403)
        return AwsError("AccessDenied", "User is not authorized to perform this action", 403)
    status = int(rule.get("status", 500))
    default = ("InternalError" if service == "ec2" else "InternalFailure") if status < 503 else \
        ("Unavailable" if service == "ec2" else "ServiceUnavailable")
    return AwsError(rule.get("code", default), rule.get("message", "An internal error has occurred"),
                    status, "Receiver" if status >= 500 else "Sender")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake = None

    def version_string(self):
        return getattr(self, "_server_name", "AmazonFake")

    def log_message(self, fmt, *args):
        if not self.fake.quiet:
            sys.stderr.write("fake_aws: " + (fmt % args) + "\n")

    def do_GET(self):
        self._handle()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_GET

    # ---- plumbing ----------------------------------------------------------------
    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, body, ctype="text/xml", headers=None, chunked=False):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if chunked and self.command != "HEAD":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 1000):
                part = body[i:i + 1000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        self.wfile.flush()

    def _json(self, status, obj):
        self._send(status, (json.dumps(obj, indent=1, default=str) + "\n").encode(), "application/json")

    def _handle(self):
        fake = self.fake
        self._server_name = "AmazonFake"
        body = self._read_body()
        raw_path, _, raw_query = self.path.partition("?")
        if raw_path.startswith("/_fake/"):
            return self._control(raw_path, raw_query, body)
        fake.reload_if_changed()
        query = []
        for piece in raw_query.split("&") if raw_query else []:
            k, _, v = piece.partition("=")
            query.append((urllib.parse.unquote(k), urllib.parse.unquote(v)))
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request(self.command, raw_path, raw_query, query, headers, list(self.headers.items()), body)
        if raw_path.startswith("/latest/"):
            return self._imds(req)
        if re.match(r"//+latest/", raw_path):
            # An IMDS endpoint with a trailing slash joined to "/latest/...": say so
            # plainly instead of treating it as an unsigned EC2 call.
            return self._send(404, b"IMDS path with a doubled slash: " + raw_path.encode(), "text/plain")
        return self._aws(req)

    # ---- AWS services --------------------------------------------------------------
    def _classify(self, req):
        """Sets req.service, req.action and route params; returns the route params."""
        if req.path.startswith(fake_route53.PREFIX):
            req.service = "route53"
            op, params = fake_route53.route(req.method, req.path)
            req.action = op or "Unknown"
            return params
        form = {}
        if req.method == "POST":
            ctype = req.headers.get("content-type", "")
            if "x-www-form-urlencoded" in ctype or not ctype:
                form = dict(urllib.parse.parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
        for k, v in urllib.parse.parse_qsl(req.raw_query, keep_blank_values=True):
            form.setdefault(k, v)
        req.params = form
        m = re.search(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/", req.headers.get("authorization", ""))
        svc = m.group(1) if m and m.group(1) in SIGNING_NAMES else fake_query.VERSIONS.get(form.get("Version"))
        req.service = svc or "ec2"
        req.action = form.get("Action") or "Unknown"
        return {}

    def _aws(self, req):
        fake = self.fake
        request_id = str(uuid.uuid4())
        params = self._classify(req)
        service = req.service
        entry = {"n": None, "time": time.time(), "service": service, "action": req.action,
                 "method": req.method, "path": req.path, "query": req.raw_query,
                 "headers": req.raw_headers, "body": req.body[:65536].decode("utf-8", "replace")}
        with fake.lock:
            fake.seq += 1
            entry["n"] = fake.seq
            st = fake.stats
            st["total"] += 1
            fake._count(st["actions"], req.action)
            fake._count(st["services"], service)
            fake.log.append(entry)
            del fake.log[:-fake.log_limit]
        status, out, extra = 200, b"", {}
        rule = None
        try:
            try:
                with fake.lock:
                    fake.authenticate(req, service)
            finally:
                entry["canonical_request"] = getattr(req, "canonical_request", None)
            if req.action == "Unknown":
                if service == "route53":
                    raise AwsError("UnknownOperationException", "No operation for %s %s" % (req.method, req.path),
                                   404)
                raise AwsError("MissingAction" if not req.params.get("Action") else "InvalidAction",
                               "The action %s is not valid for this web service." % req.params.get("Action"))
            with fake.lock:
                req.page = self._page(req, params)
                entry["page"] = req.page
            rule = fake._take_fault(service, req.action, req.page, dict(req.params, **params))
            after = rule is not None and bool(rule.get("after"))
            if rule is not None:
                entry["fault"] = rule["kind"] + (" after" if after else "")
                if rule.get("seconds"):
                    time.sleep(float(rule["seconds"]))
                if not after and self._fault_now(rule, service):
                    return
            with fake.lock:
                data = self._dispatch(req, params)
            if after and self._fault_now(rule, service):
                return  # the call took effect, but the client never hears of it
            out = fake_model.render(service, req.action, data, request_id)
            extra = fake_model.header_members(service, req.action, data)
            if service == "route53" and req.action == "CreateHostedZone":
                status = 201
            if rule is not None and rule["kind"] == "garbage":
                out = out[:len(out) // 2]
        except AwsError as err:
            status = err.status
            out = _error_body(service, err, request_id)
            entry["error"] = err.code
            with fake.lock:
                st = fake.stats
                fake._count(st["errors"], err.code)
                fake._count(st["errors_by_action"].setdefault(req.action, {}), err.code)
                if err.code in ("Throttling", "RequestLimitExceeded", "PriorRequestNotComplete"):
                    st["throttles"] += 1
                if err.code in ("SignatureDoesNotMatch", "InvalidClientTokenId", "AuthFailure", "ExpiredToken",
                                "RequestExpired", "IncompleteSignature", "MissingAuthenticationToken"):
                    fake._count(st["auth_failures"], err.code)
        entry["status"] = status
        with fake.lock:
            fake._count(fake.stats["status"], str(status))
        if service == "ec2":
            self._server_name = "AmazonEC2"  # as real EC2 answers say
        else:
            extra["x-amzn-RequestId"] = request_id
        ctype = "text/xml;charset=UTF-8" if service == "ec2" else "text/xml"
        chunked = bool(fake.state.settings.get("ChunkedResponses"))
        self._send(status, out, ctype, extra, chunked=chunked)

    def _fault_now(self, rule, service):
        """Carry out a fault rule: True when the connection was dropped, raises for error kinds."""
        if rule["kind"] == "disconnect":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if rule["kind"] not in ("slow", "garbage"):
            raise _fault_error(rule, service)
        return False

    def _page(self, req, params):
        if req.service == "route53":
            return fake_route53.page_of(self.fake, req, req.action, params)
        if req.service == "ec2" and req.action in EC2_PAGED:
            return fake_query.ec2_page_of(self.fake, req)
        if req.service == "rds" and req.action == "DescribeDBInstances":
            return fake_query.rds_page_of(self.fake, req)
        return None

    def _dispatch(self, req, params):
        fake = self.fake
        if req.service == "route53":
            return fake_route53.HANDLERS[req.action](fake, req, params)
        if req.service == "ec2":
            handler = EC2_HANDLERS.get(req.action)
        else:
            handler = fake_query.HANDLERS[req.service].get(req.action)
        if handler is None:
            raise AwsError("InvalidAction", "The action %s is not valid for this web service." % req.action)
        if req.service != "ec2":
            return handler(fake, req)
        if req.params.get("DryRun") == "true":
            raise AwsError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)
        st = fake.state
        fake_network.tick(st)
        lag = int(st.settings.get("EventualConsistencyCalls") or 0)
        if not lag:
            return handler(fake, req)
        fake_network.check_fresh(st, req.params)
        before = fake_network.all_ids(st)
        data = handler(fake, req)
        for rid in fake_network.all_ids(st) - before:
            st.fresh_ids[rid] = lag
        return data

    # ---- IMDSv2 --------------------------------------------------------------------
    def _imds(self, req):
        fake = self.fake
        with fake.lock:
            fake._count(fake.stats["imds"], req.method + " " + req.path)
        rule = fake._take_fault("imds", req.path, None)
        if rule is not None:
            if rule.get("seconds"):
                time.sleep(float(rule["seconds"]))
            if rule["kind"] == "throttle":
                return self._send(429, b"", "text/plain")
            if rule["kind"] == "error":
                return self._send(int(rule.get("status", 500)), b"", "text/plain")
        imds = fake.state.imds
        if req.path == "/latest/api/token":
            if req.method != "PUT":
                return self._send(405, b"", "text/plain")
            if "x-forwarded-for" in req.headers:
                return self._send(403, b"", "text/plain")
            ttl = req.headers.get("x-aws-ec2-metadata-token-ttl-seconds", "")
            if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return self._send(400, b"", "text/plain")
            token = "AQAEA" + uuid.uuid4().hex + uuid.uuid4().hex + "=="
            with fake.lock:
                fake.imds_tokens[token] = time.time() + int(ttl)
            return self._send(200, token.encode(), "text/plain",
                              {"X-aws-ec2-metadata-token-ttl-seconds": ttl})
        if req.method != "GET":
            return self._send(405, b"", "text/plain")
        token = req.headers.get("x-aws-ec2-metadata-token")
        with fake.lock:
            valid = token is not None and fake.imds_tokens.get(token, 0) > time.time()
        if not valid and (token is not None or imds.get("RequireToken", True)):
            return self._send(401, b"", "text/plain")
        tree = self._imds_tree(imds)
        path = req.path[len("/latest/"):]
        if path.rstrip("/") in tree:
            # A leaf asked for with a trailing slash is still the leaf: awscli v2
            # reads "placement/availability-zone/" for its region.
            value = tree[path.rstrip("/")]
        elif path.endswith("/") or path + "/" in {p[:len(path) + 1] for p in tree}:
            prefix = path.rstrip("/") + "/"
            names = sorted({p[len(prefix):].split("/")[0] + ("/" if "/" in p[len(prefix):] else "")
                            for p in tree if p.startswith(prefix)})
            if not names:
                return self._send(404, b"", "text/plain")
            value = "\n".join(names)
        else:
            return self._send(404, b"", "text/plain")
        if callable(value):
            value = value()
        ctype = "text/plain"
        return self._send(200, value.encode(), ctype)

    def _imds_tree(self, imds):
        fake = self.fake
        role = imds["RoleName"]

        def creds():
            seconds = int(imds.get("CredentialSeconds", 21600))
            with fake.lock:
                c = fake_query.issue_credentials(
                    fake, seconds, "arn:aws:sts::%s:assumed-role/%s/%s" % (fake.state.account, role,
                                                                           imds["InstanceId"]),
                    "AROAFAKEIMDSROLE0000:%s" % imds["InstanceId"])
            return json.dumps({"Code": "Success", "LastUpdated": fake_model.iso_time(
                datetime.datetime.now(datetime.timezone.utc))[:19] + "Z", "Type": "AWS-HMAC",
                "AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"],
                "Token": c["SessionToken"], "Expiration": fake_model.iso_time(c["Expiration"])[:19] + "Z"},
                indent=2)
        az = imds["AvailabilityZone"]
        doc = json.dumps({"accountId": fake.state.account, "region": imds["Region"], "availabilityZone": az,
                          "instanceId": imds["InstanceId"], "privateIp": imds.get("LocalIpv4", "10.0.0.10")},
                         indent=2)
        mac = imds.get("Mac", "02:00:00:00:00:01")
        tree = {"meta-data/iam/security-credentials/" + role: creds,
                "meta-data/placement/region": imds["Region"],
                "meta-data/placement/availability-zone": az,
                "meta-data/instance-id": imds["InstanceId"],
                "meta-data/local-ipv4": imds.get("LocalIpv4", "10.0.0.10"),
                "meta-data/local-hostname": imds.get("LocalHostname", "ip-10-0-0-10.%s.compute.internal"
                                                     % imds["Region"]),
                "meta-data/mac": mac,
                "meta-data/network/interfaces/macs/%s/vpc-id" % mac: imds.get("VpcId", "vpc-0fake"),
                "meta-data/network/interfaces/macs/%s/subnet-id" % mac: imds.get("SubnetId", "subnet-0fake"),
                "meta-data/network/interfaces/macs/%s/vpc-ipv4-cidr-block" % mac: imds.get("VpcCidr", "10.0.0.0/16"),
                "dynamic/instance-identity/document": doc}
        return tree

    # ---- control API -------------------------------------------------------------------
    def _control(self, path, raw_query, body):
        fake = self.fake
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError as e:
            return self._json(400, {"error": "bad JSON: %s" % e})
        cmd = path[len("/_fake/"):].rstrip("/")
        method = self.command
        try:
            if cmd == "health":
                return self._json(200, {"ok": True, "port": fake.port})
            if cmd == "stats" and method == "GET":
                with fake.lock:
                    out = copy.deepcopy(fake.stats)
                    out["state_error"] = fake.state_error
                return self._json(200, out)
            if cmd == "log" and method == "GET":
                since = int(dict(urllib.parse.parse_qsl(raw_query)).get("since", 0))
                with fake.lock:
                    return self._json(200, [e for e in fake.log if e["n"] > since])
            if cmd == "reset" and method == "POST":
                fake.reset_stats()
                if data.get("faults", True):
                    with fake.lock:
                        fake.faults = []
                return self._json(200, {"ok": True})
            if cmd == "faults":
                if method == "GET":
                    with fake.lock:
                        return self._json(200, fake.faults)
                if method == "DELETE" or (isinstance(data, dict) and data.get("clear")):
                    with fake.lock:
                        fake.faults = []
                    return self._json(200, {"ok": True})
                if method == "POST":
                    rules = data if isinstance(data, list) else data.get("rules", [data])
                    fake.add_faults(rules, replace=bool(isinstance(data, dict) and data.get("replace")))
                    return self._json(200, {"ok": True, "faults": len(fake.faults)})
            if cmd == "state":
                if method == "GET":
                    with fake.lock:
                        fake_network.tick(fake.state)
                        return self._json(200, export_state(fake.state))
                if method == "POST":
                    if "path" in data and len(data) == 1:
                        fake.set_state(data["path"])
                    elif data.get("reload"):
                        fake.reload_if_changed(force=True)
                        if fake.state_error:
                            return self._json(400, {"error": fake.state_error})
                    else:
                        fake.set_state(data)
                    return self._json(200, {"ok": True})
            if cmd == "settings":
                # Merge into the live Settings (null removes a key: its default applies again).
                with fake.lock:
                    if method == "POST":
                        for k, v in data.items():
                            if v is None:
                                fake.state.settings.pop(k, None)
                            else:
                                fake.state.settings[k] = v
                    return self._json(200, fake.state.settings)
            if cmd == "resources" and method == "GET":
                return self._json(200, resources(fake, raw_query))
            if cmd == "credentials" and method == "POST":
                # {"AccessKeyId": ..., "Expired": true}: expire (or revive) issued credentials.
                with fake.lock:
                    c = fake.lookup_credentials(data.get("AccessKeyId"))
                    if c is None:
                        return self._json(404, {"error": "unknown access key"})
                    c["Expired"] = bool(data.get("Expired", True))
                return self._json(200, {"ok": True})
        except (ValueError, KeyError, TypeError, AttributeError, OSError, StateError) as e:
            return self._json(400, {"error": "%s: %s" % (type(e).__name__, e)})
        return self._json(404, {"error": "unknown control request %s %s" % (method, path)})


def export_state(state):
    """The current state (after any API call) in the input format: POSTing it back
    to /_fake/state gives the same world."""
    doc = copy.deepcopy(state.doc)
    doc["Settings"] = copy.deepcopy(state.settings)
    fake_network.export(state, doc)
    zones = []
    for zid in state.zone_order:
        z = state.zones[zid]
        zones.append({"Id": z["Id"], "Name": z["Name"], "CallerReference": z["CallerReference"],
                      "Config": z["Config"], "VPCs": z["VPCs"], "Owner": z["Owner"],
                      "NameServers": z["NameServers"], "DefaultRecords": False, "Tags": z["Tags"],
                      "FakeSource": z["FakeSource"], "ResourceRecordSets": state.sorted_records(z)})
    doc["HostedZones"] = zones
    return doc


def resources(fake, raw_query):
    """GET /_fake/resources: every EC2 network resource and hosted zone, compactly.
    Query: tag=KEY or tag=KEY=VALUE (repeatable, all must match), live=1 (leave out
    deleted/failed NAT gateways and peering connections), source=api|auto|state,
    region=R."""
    q = urllib.parse.parse_qsl(raw_query, keep_blank_values=True)
    tags = []
    for k, v in q:
        if k == "tag":
            key, eq, value = v.partition("=")
            tags.append((key, value if eq else None))
    opts = dict(q)
    with fake.lock:
        fake_network.tick(fake.state)
        return fake_network.inventory(fake.state, tags, live=opts.get("live") in ("1", "true"),
                                      source=opts.get("source"), region=opts.get("region"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--state", help="state JSON file (watched for changes)")
    ap.add_argument("--port-file", help="write the listening port here")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    if not re.fullmatch(r"127\.\d+\.\d+\.\d+|::1|localhost", args.host):
        ap.error("--host must be a loopback address")
    fake = FakeAWS(state=args.state, port=args.port, host=args.host, quiet=not args.verbose)
    fake.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    signal.signal(signal.SIGHUP, lambda *a: fake.reload_if_changed(force=True))
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % fake.port)
        os.rename(tmp, args.port_file)
    print("fake_aws listening on %s" % fake.url, flush=True)
    while not stop.wait(0.5):
        pass
    fake.stop()


if __name__ == "__main__":
    main()
