#!/usr/bin/python3
"""End-to-end tests of vpcdns-sync (with vpcdnsd serving what it writes).

Run:  /usr/bin/python3 tests/sync/test_sync.py [--sync bin/vpcdns-sync] [--vpcdnsd bin/vpcdnsd]
                                               [-k SUBSTRING] [-v] [--keep] [--list] [--no-netns]

Self-contained (no pytest). Everything runs on loopback:
  * the fake AWS endpoint (tests/aws/fake_aws.py) in this process, driven through its
    HTTP control API (/_fake/state, /_fake/faults, /_fake/reset, /_fake/stats, /_fake/log);
  * a tiny dnspython DNS server standing in for `[sync] resolver` (it answers A records for
    the fake's load-balancer names, so alias targets resolve without /etc/resolv.conf);
  * vpcdnsd (`-c FILE`, pidfile) per test environment, queried with dnspython;
  * vpcdns-sync with HOME, AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE pointing into the temp dir.
When run as root the whole run moves into a private network namespace (`unshare -n`, only lo).

Each test prints `ok NAME` or `FAIL NAME: reason`; the last line is `N passed, M failed`;
exit status 1 if anything failed. Any captured stderr containing "AddressSanitizer" or
"runtime error:" fails the test that produced it.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in tests/aws or tests/sync
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "aws"))
sys.path.insert(0, HERE)

import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.rrset  # noqa: E402

from fake_aws import FakeAWS  # noqa: E402
import states  # noqa: E402

ARGS = None
TMP = None
FAKE = None
RESOLVER = None
SANITIZER = ("AddressSanitizer", "runtime error:", "LeakSanitizer")

ZONE = "prod.internal"
ZONE_ID = states.PROD_ID


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def vlog(*a):
    if ARGS.verbose:
        print("   ", *a, flush=True)


# ---------------------------------------------------------------------------------
# fake AWS control API (HTTP, as another process would use it)

def ctl(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(FAKE.url + "/_fake/" + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raise TestFailure("fake control %s %s: HTTP %s %s" % (method, path, e.code, e.read()[:300]))


def set_state(doc):
    ctl("POST", "state", doc)


def set_faults(rules):
    ctl("POST", "faults", {"rules": rules, "replace": True})


def clear_faults():
    ctl("DELETE", "faults")


def reset_stats():
    ctl("POST", "reset", {"faults": True})


def stats():
    return ctl("GET", "stats")


def fake_log():
    return ctl("GET", "log")


def fresh(doc):
    """Fake state := doc, no faults, stats zeroed."""
    set_state(doc)
    reset_stats()


# ---------------------------------------------------------------------------------
# the alias-target resolver: a loopback DNS server answering for the fake's LB names

class TestResolver:
    def __init__(self, answers):
        self.answers = answers  # {name.: {"A": [...], "AAAA": [...]}}
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                q = dns.message.from_wire(data)
                r = dns.message.make_response(q)
                r.flags |= dns.flags.RA
                qname = q.question[0].name.to_text().lower()
                qtype = dns.rdatatype.to_text(q.question[0].rdtype)
                self.queries.append((qname, qtype))
                names = self.answers.get(qname)
                if names is None:
                    r.set_rcode(dns.rcode.NXDOMAIN)
                elif names.get(qtype):
                    r.answer.append(dns.rrset.from_text_list(qname, 60, "IN", qtype, names[qtype]))
                self.sock.sendto(r.to_wire(), peer)
            except Exception:  # a broken query: no answer
                pass

    def close(self):
        self.stop = True
        self.sock.close()


# ---------------------------------------------------------------------------------
# DNS client

def query(port, name, rtype="A", timeout=2.0):
    q = dns.message.make_query(name, rtype)
    q.flags &= ~dns.flags.RD
    last = None
    for _ in range(3):
        try:
            return dns.query.udp(q, "127.0.0.1", port=port, timeout=timeout)
        except dns.exception.Timeout as e:
            last = e
    raise TestFailure("no answer from vpcdnsd for %s %s (%s)" % (name, rtype, last))


def values(resp, name=None, rtype=None):
    out = []
    for rr in resp.answer:
        if name is not None and rr.name.to_text().lower() != name.lower():
            continue
        if rtype is not None and rr.rdtype != dns.rdatatype.from_text(rtype):
            continue
        out.extend(r.to_text() for r in rr)
    return sorted(out)


def answer(port, name, rtype="A"):
    r = query(port, name, rtype)
    check(r.rcode() == dns.rcode.NOERROR, "%s %s: rcode %s, want NOERROR"
          % (name, rtype, dns.rcode.to_text(r.rcode())))
    return values(r, name, rtype)


def expect(port, name, rtype, want):
    got = answer(port, name, rtype)
    check(got == sorted(want), "%s %s: answers %s, want %s" % (name, rtype, got, sorted(want)))


def expect_weighted(port, name, rtype, sets, tries=200):
    """Weighted routing: each answer is one live set, heavier sets more often.

    sets: [(weight, [values]), ...]; weight 0 sets must never be answered
    (unless every weight is 0)."""
    live = [(w, sorted(v)) for w, v in sets if w > 0] or [(1, sorted(v)) for w, v in sets]
    counts = {tuple(v): 0 for _, v in live}
    for _ in range(tries):
        got = tuple(answer(port, name, rtype))
        check(got in counts, "%s %s: answer %s is not one weighted set of %s"
              % (name, rtype, list(got), [v for _, v in live]))
        counts[got] += 1
    for w, v in live:
        check(counts[tuple(v)] > 0, "%s %s: set %s (weight %d) never answered in %d tries: %s"
              % (name, rtype, v, w, tries, counts))
    heavy = max(live, key=lambda x: x[0])
    light = min(live, key=lambda x: x[0])
    if heavy[0] > 2 * light[0]:
        check(counts[tuple(heavy[1])] > counts[tuple(light[1])],
              "%s %s: weights not followed: %s" % (name, rtype, counts))


def wait_for(fn, timeout, what):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            if fn():
                return
        except TestFailure as e:
            last = e
        time.sleep(0.1)
    raise TestFailure("timed out after %.1fs waiting for %s%s" % (timeout, what,
                                                                   " (%s)" % last if last else ""))


# ---------------------------------------------------------------------------------
# a test environment: config, state dir, AWS files, optional vpcdnsd

_handed_out = set()


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1, not handed out before."""
    for _ in range(200):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port in _handed_out:
            continue
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            t.close()
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port")


class Env:
    count = 0

    def __init__(self, name, zones=None, aws=None, sync=None, file_records=None):
        Env.count += 1
        self.name = name
        self.dir = os.path.join(TMP, "%02d-%s" % (Env.count, name))
        os.makedirs(self.dir)
        self.state_dir = os.path.join(self.dir, "state")
        self.home = os.path.join(self.dir, "home")
        os.makedirs(self.home)
        self.aws_config = os.path.join(self.dir, "aws-config")
        self.aws_credentials = os.path.join(self.dir, "aws-credentials")
        for p in (self.aws_config, self.aws_credentials):
            open(p, "w").close()
        self.port = free_port()
        self.pidfile = os.path.join(self.dir, "vpcdnsd.pid")
        self.ini = os.path.join(self.dir, "vpcdns.ini")
        self.aws = {"region": "eu-west-1", "endpoint_url": FAKE.url, "imds_endpoint_url": FAKE.url,
                    "max_attempts": "3", "route53_rate": "100"}
        self.aws.update(aws or {})
        self.sync = {"state_dir": self.state_dir, "interval": "60", "max_delete_ratio": "0.3",
                     "vpc": states.PROD_VPC, "resolver": "127.0.0.1:%d" % RESOLVER.port}
        self.sync.update(sync or {})
        self.zones = zones if zones is not None else {ZONE: {"route53": "auto", "negative_ttl": "30"}}
        self.proc = None
        self.logs = []
        self.write_config()

    def write_config(self):
        lines = ["[server]", "listen = 127.0.0.1:%d" % self.port, "recursion = no",
                 "pidfile = %s" % self.pidfile, "", "[aws]"]
        lines += ["%s = %s" % kv for kv in self.aws.items() if kv[1] is not None]
        lines += ["", "[sync]"]
        lines += ["%s = %s" % kv for kv in self.sync.items() if kv[1] is not None]
        for z, keys in self.zones.items():
            lines += ["", "[zone:%s]" % z] + ["%s = %s" % kv for kv in keys.items()]
        with open(self.ini, "w") as f:
            f.write("\n".join(lines) + "\n")

    # ---- paths
    def zone_path(self, zone=ZONE):
        return os.path.join(self.state_dir, zone + ".zone")

    def status_path(self, zone=ZONE):
        return os.path.join(self.state_dir, zone + ".status")

    def snapshot(self, zone=ZONE):
        try:
            with open(self.zone_path(zone), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def status(self, zone=ZONE):
        out = {}
        with open(self.status_path(zone)) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("=")
                out[k] = v
        return out

    def serial(self, zone=ZONE):
        data = self.snapshot(zone)
        check(data is not None, "no snapshot %s" % self.zone_path(zone))
        m = re.search(rb"\tSOA\t\S+ \S+ (\d+) ", data)
        check(m is not None, "no SOA in snapshot:\n%s" % data.decode(errors="replace"))
        return int(m.group(1))

    # ---- processes
    def base_env(self, creds="default"):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("AWS_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy",
                                                                  "no_proxy")}
        env["HOME"] = self.home
        env["AWS_CONFIG_FILE"] = self.aws_config
        env["AWS_SHARED_CREDENTIALS_FILE"] = self.aws_credentials
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "detect_leaks=1")
        if creds == "default":
            env["AWS_ACCESS_KEY_ID"] = states.ACCESS_KEY
            env["AWS_SECRET_ACCESS_KEY"] = states.SECRET_KEY
        elif isinstance(creds, dict):
            env.update(creds)
        return env

    def run_sync(self, *args, creds="default", extra_env=None, timeout=40):
        env = self.base_env(creds)
        env.update(extra_env or {})
        cmd = [ARGS.sync, "-c", self.ini] + list(args)
        t0 = time.time()
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, timeout=timeout)
        out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        vlog("$ %s -> %d (%.2fs)" % (" ".join(cmd[1:]), p.returncode, time.time() - t0))
        if ARGS.verbose:
            for line in out.splitlines()[:40]:
                vlog("  out| " + line)
            for line in err.splitlines()[:40]:
                vlog("  err| " + line)
        self.logs.append(("vpcdns-sync %s" % " ".join(args), err))
        for s in SANITIZER:
            check(s not in err, "vpcdns-sync %s: sanitizer report in stderr:\n%s" % (" ".join(args), err))
        return p.returncode, out, err

    def reloads(self):
        """Reloads vpcdnsd has finished (done or failed), from its log."""
        text = self.daemon_log()
        return text.count("reload: done") + text.count("reload failed")

    def sync_ok(self, *args, **kw):
        before = self.reloads()
        rc, out, err = self.run_sync("--once", *args, **kw)
        check(rc == 0, "vpcdns-sync --once %s exited %d, want 0\nstdout:\n%s\nstderr:\n%s"
              % (" ".join(args), rc, out, err))
        # The sync only signals vpcdnsd; on a busy machine the reload may still be running.
        if "told vpcdnsd" in out + err and getattr(self, "proc", None) is not None:
            wait_for(lambda: self.reloads() > before, 10, "vpcdnsd to reload after the sync")
        return out, err

    def sync_fail(self, *args, **kw):
        rc, out, err = self.run_sync("--once", *args, **kw)
        check(rc == 1, "vpcdns-sync --once %s exited %d, want 1\nstdout:\n%s\nstderr:\n%s"
              % (" ".join(args), rc, out, err))
        return out, err

    def start_vpcdnsd(self):
        self.dlog = os.path.join(self.dir, "vpcdnsd.log")
        logf = open(self.dlog, "ab")
        env = self.base_env(creds=None)
        self.proc = subprocess.Popen([ARGS.vpcdnsd, "-c", self.ini], stdin=subprocess.DEVNULL, stdout=logf,
                                     stderr=logf, env=env, cwd="/")
        logf.close()

        def up():
            check(self.proc.poll() is None, "vpcdnsd exited with %s:\n%s" % (self.proc.returncode,
                                                                              self.daemon_log()))
            try:
                q = dns.message.make_query("version.bind", "TXT", "CH")
                dns.query.udp(q, "127.0.0.1", port=self.port, timeout=0.2)
                return True
            except dns.exception.Timeout:
                return False
        wait_for(up, 5, "vpcdnsd on port %d" % self.port)

    def daemon_log(self):
        try:
            with open(self.dlog, errors="replace") as f:
                return f.read()
        except (OSError, AttributeError):
            return ""

    def stop(self):
        problems = []
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
                    problems.append("vpcdnsd did not exit within 5 s of SIGTERM")
            elif self.proc.returncode != 0:
                problems.append("vpcdnsd died with %s" % self.proc.returncode)
            self.proc = None
        log = self.daemon_log()
        for s in SANITIZER:
            if s in log:
                problems.append("vpcdnsd sanitizer report:\n" + log)
                break
        return problems


# ---------------------------------------------------------------------------------
# the synced main environment, shared by several tests (built on first use)

_MAIN = {}


def main_env():
    """vpcdnsd + a first good snapshot of prod.internal from states.base()."""
    env = _MAIN.get("env")
    if env is not None and env.proc is not None and env.proc.poll() is None:
        fresh(states.base())
        return env
    env = Env("main")
    fresh(states.base())
    env.start_vpcdnsd()
    out, _ = env.sync_ok()
    _MAIN["env"] = env
    _MAIN["first_out"] = out
    ENVS.append(env)
    return env


ENVS = []


def new_env(*a, **kw):
    env = Env(*a, **kw)
    ENVS.append(env)
    return env


def summary(out, zone=ZONE):
    m = re.search(r"^zone %s: (\d+) records, \+(\d+) -(\d+)(.*)$" % re.escape(zone), out, re.M)
    check(m is not None, "no summary line `zone %s: N records, +A -R` in:\n%s" % (zone, out))
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)


def diff_lines(out):
    return sorted(l for l in out.splitlines() if l[:1] in "+-" and not l.startswith("zone "))


def snapshot_records(data):
    """The record lines of a snapshot, as (owner, type, rdata) tuples (SOA left out)."""
    out = set()
    for line in data.decode().splitlines():
        if not line or line[0] in ";$":
            continue
        f = line.split(None, 4)
        if len(f) == 5 and f[3] != "SOA":
            out.add((f[0].lower(), f[3], f[4]))
    return out


# ---------------------------------------------------------------------------------
# tests

TESTS = []


def test(fn):
    TESTS.append((fn.__name__[len("test_"):], fn))
    return fn


def expect_main_answers(env):
    p = env.port
    expect(p, "api.prod.internal.", "A", ["10.20.1.11", "10.20.1.12"])
    # wildcard: Route 53 lists it as \052.prod.internal.
    expect(p, "anything.prod.internal.", "A", ["10.20.1.100"])
    expect(p, "deep.er.prod.internal.", "A", ["10.20.1.100"])
    # alias to a load balancer, resolved through [sync] resolver
    expect(p, "app.prod.internal.", "A", states.LB_ADDRS)
    ttl = query(p, "app.prod.internal.", "A").answer[0].ttl
    check(ttl <= 60, "load-balancer alias TTL %d, want at most 60" % ttl)
    # alias to a record set in the same zone
    expect(p, "web.prod.internal.", "A", ["10.20.1.11", "10.20.1.12"])
    # weighted: one set per query by weight (blue 90, green 10), weight 0 never
    expect_weighted(p, "www.prod.internal.", "A",
                    [(90, ["10.20.1.11"]), (10, ["10.20.1.12"]), (0, ["10.20.1.13"])])
    # failover: PRIMARY only
    expect(p, "svc.prod.internal.", "A", ["10.20.3.1"])
    # TXT with quotes inside
    expect(p, "prod.internal.", "TXT", ['"v=spf1 -all"'])
    expect(p, "say.prod.internal.", "TXT", ['"say \\"hi\\""', '"two" "strings"'])
    # CNAME
    r = query(p, "db.prod.internal.", "CNAME")
    check(values(r, "db.prod.internal.", "CNAME") == ["orders-db.c0vpcdnsfake.eu-west-1.rds.amazonaws.com."],
          "db CNAME: %s" % r)
    expect(p, "v6.prod.internal.", "AAAA", ["2001:db8::1"])


@test
def test_first_sync_answers():
    env = main_env()
    out = _MAIN["first_out"]
    total, added, removed, _ = summary(out)
    check(removed == 0 and added == total, "first sync: summary +%d -%d of %d" % (added, removed, total))
    check(len([l for l in diff_lines(out) if l.startswith("+")]) == added,
          "first sync: %d `+` lines, summary says +%d:\n%s" % (len(diff_lines(out)), added, out))
    check(any(re.match(r"^\+\*\.prod\.internal\.\s+300\s+IN\s+A\s+10\.20\.1\.100$", l) for l in out.splitlines()),
          "no `+*.prod.internal. 300 IN A 10.20.1.100` line (wildcard \\052 unescaped):\n%s" % out)
    st = env.status()
    check(st.get("ok") == "yes", "status ok=%s" % st.get("ok"))
    check(st.get("records") == str(total), "status records=%s, summary %d" % (st.get("records"), total))
    check(st.get("serial") == str(env.serial()), "status serial %s, snapshot %d" % (st.get("serial"), env.serial()))
    check(st.get("last_error", "") == "", "status last_error=%r" % st.get("last_error"))
    wait_for(lambda: answer(env.port, "api.prod.internal.") != [], 3, "vpcdnsd to load the snapshot")
    expect_main_answers(env)
    check(any(q[0] == states.LB_NAME for q in RESOLVER.queries),
          "the test resolver was never asked for %s" % states.LB_NAME)


@test
def test_soa_and_nxdomain():
    env = main_env()
    r = query(env.port, "prod.internal.", "SOA")
    check(r.rcode() == dns.rcode.NOERROR and r.answer, "apex SOA: %s" % r)
    soa = r.answer[0]
    check(soa.ttl == 30, "SOA TTL %d, want negative_ttl 30" % soa.ttl)
    check(soa[0].minimum == 30, "SOA MINIMUM %d, want 30" % soa[0].minimum)
    check(soa[0].serial == env.serial(), "SOA serial %d, snapshot %d" % (soa[0].serial, env.serial()))
    # *.prod.internal covers every name under the apex, but not under api (its own closest encloser)
    r = query(env.port, "nothere.api.prod.internal.", "A")
    check(r.rcode() == dns.rcode.NXDOMAIN, "nothere.api.prod.internal.: rcode %s, want NXDOMAIN"
          % dns.rcode.to_text(r.rcode()))
    auth = [rr for rr in r.authority if rr.rdtype == dns.rdatatype.SOA]
    check(auth, "NXDOMAIN without SOA in authority: %s" % r)
    check(auth[0].ttl == 30, "negative answer SOA TTL %d, want 30" % auth[0].ttl)
    check(r.flags & dns.flags.AA, "NXDOMAIN without AA")
    r = query(env.port, "api.prod.internal.", "MX")
    check(r.rcode() == dns.rcode.NOERROR and not r.answer, "api MX: want NODATA, got %s" % r)
    check(any(rr.rdtype == dns.rdatatype.SOA and rr.ttl == 30 for rr in r.authority), "NODATA without SOA: %s" % r)


@test
def test_routing_policies():
    env = main_env()
    # latency: our region's record
    expect(env.port, "lat.prod.internal.", "A", ["10.20.4.1"])
    # latency, our region absent: the first one listed
    expect(env.port, "lat2.prod.internal.", "A", ["10.20.4.11"])
    # geolocation: the default location '*'
    expect(env.port, "geo.prod.internal.", "A", ["10.20.5.1"])
    # multivalue: all values
    expect(env.port, "mv.prod.internal.", "A", ["10.20.6.1", "10.20.6.2"])
    # weighted alias with weight 0 to the LB is left out; the other weighted alias stays
    expect(env.port, "walias.prod.internal.", "A", ["10.20.1.11", "10.20.1.12"])


@test
def test_servfail_before_first_snapshot():
    env = new_env("servfail")
    fresh(states.base())
    env.start_vpcdnsd()
    r = query(env.port, "api.prod.internal.", "A")
    check(r.rcode() == dns.rcode.SERVFAIL, "before any snapshot: rcode %s, want SERVFAIL"
          % dns.rcode.to_text(r.rcode()))
    r = query(env.port, "nothere.api.prod.internal.", "A")
    check(r.rcode() == dns.rcode.SERVFAIL, "before any snapshot (missing name): rcode %s, want SERVFAIL"
          % dns.rcode.to_text(r.rcode()))
    env.sync_ok()
    wait_for(lambda: answer(env.port, "api.prod.internal.") == ["10.20.1.11", "10.20.1.12"], 3,
             "vpcdnsd to answer after the sync's SIGHUP")
    check(env.proc.poll() is None, "vpcdnsd died after SIGHUP")


@test
def test_route53_auto_picks_private_zone():
    env = new_env("auto")
    doc = states.with_decoys(states.base())
    fresh(doc)
    env.start_vpcdnsd()
    env.sync_ok()
    wait_for(lambda: answer(env.port, "api.prod.internal.") != [], 3, "answers")
    expect(env.port, "api.prod.internal.", "A", ["10.20.1.11", "10.20.1.12"])
    recs = snapshot_records(env.snapshot())
    check(not any("198.51.100" in r[2] or "10.30." in r[2] for r in recs),
          "snapshot has records of the public / other VPC zone: %s"
          % [r for r in recs if "198.51.100" in r[2] or "10.30." in r[2]])
    acts = stats()["actions"]
    check(acts.get("ListHostedZonesByVPC", 0) >= 1, "ListHostedZonesByVPC not called: %s" % acts)
    lrrs = [e for e in fake_log() if e["action"] == "ListResourceRecordSets"]
    check(lrrs and all("/hostedzone/%s/rrset" % ZONE_ID in e["path"] for e in lrrs),
          "listed the wrong zone: %s" % [e["path"] for e in lrrs])


@test
def test_route53_explicit_zone_id():
    # the stage VPC's private prod.internal, named by id: its records, whatever [sync] vpc says
    env = new_env("explicit", zones={ZONE: {"route53": states.STAGE_PROD_ID, "negative_ttl": "30"}})
    fresh(states.with_decoys(states.base()))
    env.start_vpcdnsd()
    env.sync_ok()
    wait_for(lambda: answer(env.port, "api.prod.internal.") != [], 3, "answers")
    expect(env.port, "api.prod.internal.", "A", ["10.30.1.50"])
    acts = stats()["actions"]
    check(acts.get("ListHostedZonesByVPC", 0) == 0, "explicit id still looked the zone up: %s" % acts)
    # "/hostedzone/ID" form works as well
    env.zones[ZONE]["route53"] = "/hostedzone/" + states.STAGE_PROD_ID
    env.write_config()
    out, _ = env.sync_ok()
    check(summary(out)[3] == ", unchanged", "same zone by /hostedzone/ID: %s" % out)


@test
def test_pagination():
    env = new_env("paging")
    doc = states.big()
    fresh(doc)
    exported = ctl("GET", "state")
    recs = [z for z in exported["HostedZones"] if z["Id"] == ZONE_ID][0]["ResourceRecordSets"]
    check(len(recs) > 1000, "precondition: only %d record sets" % len(recs))
    split = [i for i in range(300, len(recs), 300) if recs[i]["Name"] == recs[i - 1]["Name"]]
    check(split, "precondition: no page boundary falls between two types of one name")
    env.start_vpcdnsd()
    out, _ = env.sync_ok()
    pages = stats()["actions"].get("ListResourceRecordSets", 0)
    want_pages = (len(recs) + 299) // 300
    check(pages == want_pages, "ListResourceRecordSets called %d times, want %d pages" % (pages, want_pages))
    log = [e for e in fake_log() if e["action"] == "ListResourceRecordSets"]
    check(sorted(e.get("page") for e in log) == list(range(1, want_pages + 1)),
          "pages fetched: %s" % [e.get("page") for e in log])
    want = set()
    for rr in recs:
        if rr["Type"] == "SOA":
            continue
        for v in rr["ResourceRecords"]:
            want.add((rr["Name"].replace("\\052", "*"), rr["Type"], v["Value"]))
    got = snapshot_records(env.snapshot())
    got_norm = {(o, t, d) for (o, t, d) in got}
    # Weighted sets are written as the private TYPE65432 records vpcdnsd chooses from per query.
    missing = [w for w in want
               if not any(g[0] == w[0] and g[1] in (w[1], "TYPE65432") for g in got_norm)]
    check(not missing, "%d record sets missing from the snapshot, e.g. %s" % (len(missing), missing[:5]))
    total = summary(out)[0]
    nvals = len(want)
    check(total == nvals, "summary says %d records, the zone has %d values" % (total, nvals))
    wait_for(lambda: answer(env.port, "h0000.bulk.prod.internal.") != [], 3, "answers")
    for i in split:
        name = recs[i]["Name"]
        for rr in recs:
            if rr["Name"] == name:
                got_v = answer(env.port, name, rr["Type"])
                check(got_v, "%s %s (at a page boundary): no answer" % (name, rr["Type"]))
    expect(env.port, "h0349.bulk.prod.internal.", "A", ["10.1.1.93"])


@test
def test_change_shows_up():
    env = main_env()
    s0 = env.serial()
    before = env.snapshot()
    # unchanged
    out, _ = env.sync_ok()
    total, a, r, tail = summary(out)
    check((a, r) == (0, 0) and tail == ", unchanged", "unchanged sync: %s" % out)
    check(env.serial() == s0, "unchanged sync moved the serial %d -> %d" % (s0, env.serial()))
    check(env.snapshot() == before, "unchanged sync rewrote the snapshot")
    check(not diff_lines(out), "unchanged sync printed diff lines: %s" % diff_lines(out))
    # added + removed
    doc = states.base()
    zone = states.zone_of(doc, ZONE_ID)
    zone["ResourceRecordSets"].append({"Name": "new.prod.internal.", "Type": "A", "TTL": 120,
                                       "ResourceRecords": [{"Value": "10.20.9.9"}]})
    zone["ResourceRecordSets"] = [rr for rr in zone["ResourceRecordSets"] if rr["Name"] != "v6.prod.internal."]
    set_state(doc)
    out, _ = env.sync_ok()
    d = diff_lines(out)
    want = ["+new.prod.internal.\t120\tIN\tA\t10.20.9.9", "-v6.prod.internal.\t300\tIN\tAAAA\t2001:db8::1"]
    norm = [re.sub(r"\s+", "\t", l) for l in d]
    check(norm == want, "diff lines %s, want %s" % (d, want))
    total2, a, r, tail = summary(out)
    check((a, r) == (1, 1) and total2 == total, "summary %s" % out)
    s1 = env.serial()
    check(s1 > s0, "serial %d after a change, was %d" % (s1, s0))
    check(env.status()["serial"] == str(s1), "status serial %s" % env.status()["serial"])
    wait_for(lambda: answer(env.port, "new.prod.internal.") == ["10.20.9.9"], 3, "new record answered")
    wait_for(lambda: answer(env.port, "v6.prod.internal.", "AAAA") == [], 3, "removed AAAA gone")
    # and back
    set_state(states.base())
    out, _ = env.sync_ok()
    check(env.serial() > s1, "serial did not grow on the change back")


def _fault_case(env, rules, code, args=(), creds="default", state=None, extra_env=None):
    before = env.snapshot()
    s0 = env.status()
    check(before is not None, "precondition: no snapshot")
    if state is not None:
        set_state(state)
    if rules:
        set_faults(rules)
    try:
        out, err = env.sync_fail(*args, creds=creds, extra_env=extra_env)
    finally:
        clear_faults()
        set_state(states.base())
    check(env.snapshot() == before, "the snapshot changed after a failed sync")
    st = env.status()
    check(st.get("ok") == "no", "status ok=%s, want no" % st.get("ok"))
    check(code in st.get("last_error", ""), "status last_error=%r, want the code %s" % (st.get("last_error"), code))
    check(code in err, "stderr does not mention %s:\n%s" % (code, err))
    check(st.get("serial", "0") in (s0.get("serial"), "0"), "status serial %s (was %s)" % (st.get("serial"), s0.get("serial")))
    check(st.get("last_success") == s0.get("last_success"),
          "last_success moved on a failure: %s -> %s" % (s0.get("last_success"), st.get("last_success")))
    expect(env.port, "api.prod.internal.", "A", ["10.20.1.11", "10.20.1.12"])
    return st, out, err


@test
def test_fault_throttle_retried():
    env = main_env()
    set_faults([{"kind": "throttle", "service": "route53", "count": 2}])
    out, err = env.sync_ok()
    st = env.status()
    check(st.get("ok") == "yes", "status ok=%s (%s)" % (st.get("ok"), st.get("last_error")))
    check(int(st.get("api_throttles", 0)) >= 2, "status api_throttles=%s, want >= 2" % st.get("api_throttles"))
    check(int(st.get("api_retries", 0)) >= 2, "status api_retries=%s, want >= 2" % st.get("api_retries"))
    s = stats()
    check(s["throttles"] == 2, "fake throttled %d requests, want 2" % s["throttles"])
    check(int(st.get("api_calls", 0)) >= 2, "status api_calls=%s" % st.get("api_calls"))


@test
def test_fault_500_past_max_attempts():
    env = main_env()
    st, out, err = _fault_case(env, [{"kind": "error", "status": 500, "service": "route53",
                                      "action": "ListResourceRecordSets", "count": -1}], "InternalFailure")
    n = stats()["errors"].get("InternalFailure", 0)
    check(n == 3, "the fake answered 500 %d times, want max_attempts = 3 tries" % n)


@test
def test_fault_503_then_ok():
    env = main_env()
    set_faults([{"kind": "error", "status": 503, "service": "route53", "count": 2}])
    env.sync_ok()
    check(env.status().get("ok") == "yes", "503 twice then ok: status %s" % env.status())


@test
def test_fault_disconnect_and_prior_request_retried():
    env = main_env()
    set_faults([{"kind": "disconnect", "service": "route53", "action": "ListHostedZonesByVPC", "count": 1},
                {"kind": "prior_request", "service": "route53", "action": "ListResourceRecordSets", "count": 1}])
    env.sync_ok()
    st = env.status()
    check(st.get("ok") == "yes" and int(st.get("api_retries", 0)) >= 2, "status %s" % st)
    fired = stats()["faults_fired"]
    check(fired.get("disconnect") == 1 and fired.get("prior_request") == 1, "faults fired: %s" % fired)


@test
def test_fault_broken_middle_page():
    env = new_env("brokenpage")
    fresh(states.big())
    env.start_vpcdnsd()
    env.sync_ok()
    wait_for(lambda: answer(env.port, "h0000.bulk.prod.internal.") != [], 3, "answers")
    before = env.snapshot()
    # the 2nd page (of 4) comes back cut in half, every time
    doc = states.big()
    states.zone_of(doc, ZONE_ID)["ResourceRecordSets"].append(
        {"Name": "late.prod.internal.", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "10.20.8.8"}]})
    set_state(doc)
    set_faults([{"kind": "garbage", "service": "route53", "action": "ListResourceRecordSets", "page": 2,
                 "count": -1}])
    try:
        out, err = env.sync_fail()
    finally:
        clear_faults()
    check(env.snapshot() == before, "a broken page changed the snapshot")
    st = env.status()
    check(st.get("ok") == "no" and st.get("last_error"), "status after a broken page: %s" % st)
    expect(env.port, "h0000.bulk.prod.internal.", "A", ["10.1.0.0"])
    r = query(env.port, "late.prod.internal.", "A")
    check(not r.answer, "late.prod.internal answered from a failed sync")
    # a record set without a name (well-formed XML) is a broken page too: no partial zone
    out, err = env.sync_ok()
    expect(env.port, "h0000.bulk.prod.internal.", "A", ["10.1.0.0"])


@test
def test_fault_expired_token():
    env = main_env()
    # session credentials the fake knows as expired
    creds = {"AWS_ACCESS_KEY_ID": states.EXPIRED_KEY, "AWS_SECRET_ACCESS_KEY": states.EXPIRED_SECRET,
             "AWS_SESSION_TOKEN": states.EXPIRED_TOKEN}
    _fault_case(env, None, "ExpiredToken", creds=creds)
    # and the fault kind: good credentials, the service says the token expired
    _fault_case(env, [{"kind": "expired_token", "service": "route53", "count": -1}], "ExpiredToken")


@test
def test_fault_bad_credentials():
    env = main_env()
    _fault_case(env, None, "SignatureDoesNotMatch",
                creds={"AWS_ACCESS_KEY_ID": states.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": "wrong" + states.SECRET_KEY})
    _fault_case(env, None, "InvalidClientTokenId",
                creds={"AWS_ACCESS_KEY_ID": "AKIDUNKNOWN000000000", "AWS_SECRET_ACCESS_KEY": states.SECRET_KEY})
    af = stats()["auth_failures"]
    check(af.get("InvalidClientTokenId", 0) >= 1, "fake auth failures: %s" % af)


@test
def test_fault_no_such_hosted_zone():
    env = main_env()
    # the zone is gone from the account: route53 = auto finds no private zone
    doc = states.base()
    doc["HostedZones"] = [z for z in doc["HostedZones"] if z["Id"] != ZONE_ID]
    _fault_case(env, None, "NoSuchHostedZone", state=doc)
    # an explicit id that does not exist: the API's own NoSuchHostedZone
    env.zones[ZONE]["route53"] = "Z0GONE00000000000000001"
    env.write_config()
    try:
        _fault_case(env, None, "NoSuchHostedZone")
        n = stats()["errors"].get("NoSuchHostedZone", 0)
        check(n == 1, "NoSuchHostedZone asked %d times; a 404 should not be retried" % n)
    finally:
        env.zones[ZONE]["route53"] = "auto"
        env.write_config()
    env.sync_ok()
    check(env.status().get("ok") == "yes", "recovered sync: %s" % env.status())



def inventory_state(extra_hosts=0):
    """states.base() plus the VPC inventory: tiered subnets, instances, a database."""
    doc = states.base()
    vpc = states.PROD_VPC
    doc["Subnets"] = [
        {"SubnetId": "subnet-0pub000000000001", "VpcId": vpc, "CidrBlock": "10.20.0.0/24",
         "AvailabilityZone": "eu-west-1a", "Tags": {"Tier": "public"}},
        {"SubnetId": "subnet-0priv00000000001", "VpcId": vpc, "CidrBlock": "10.20.1.0/24",
         "AvailabilityZone": "eu-west-1a", "Tags": {"Tier": "Private"}},
        {"SubnetId": "subnet-0pers00000000001", "VpcId": vpc, "CidrBlock": "10.20.2.0/24",
         "AvailabilityZone": "eu-west-1b", "Tags": {"Tier": "persistence"}},
        {"SubnetId": "subnet-0stage0000000001", "VpcId": states.STAGE_VPC, "CidrBlock": "10.30.1.0/24",
         "Tags": {"Tier": "private"}},
    ]
    doc["Instances"] = [
        {"InstanceId": "i-0web0000000000001", "SubnetId": "subnet-0pub000000000001", "State": "running",
         "PrivateIpAddress": "10.20.0.10", "Tags": {"Name": "web-1"}},
        {"InstanceId": "i-0app0000000000001", "SubnetId": "subnet-0priv00000000001", "State": "running",
         "PrivateIpAddress": "10.20.1.11", "Ipv6Addresses": ["2a05:d018:1:2201::11"],
         "Tags": {"Name": "App Server"}},
        {"InstanceId": "i-0app0000000000002", "SubnetId": "subnet-0priv00000000001", "State": "running",
         "PrivateIpAddress": "10.20.1.12", "Tags": {"Name": "App Server"}},
        {"InstanceId": "i-0wrk0000000000001", "SubnetId": "subnet-0priv00000000001", "State": "stopped",
         "PrivateIpAddress": "10.20.1.20", "Tags": {"Name": "worker-1"}},
        {"InstanceId": "i-0dbh0000000000001", "SubnetId": "subnet-0pers00000000001", "State": "running",
         "PrivateIpAddress": "10.20.2.7", "Tags": {"Name": "cache-1"}},
        {"InstanceId": "i-0stg0000000000001", "SubnetId": "subnet-0stage0000000001", "State": "running",
         "PrivateIpAddress": "10.30.1.5", "Tags": {"Name": "stage-app"}},
    ]
    for i in range(extra_hosts):
        doc["Instances"].append({"InstanceId": "i-0bulk%012d" % i, "SubnetId": "subnet-0priv00000000001",
                                 "State": "running", "PrivateIpAddress": "10.21.%d.%d" % (i // 250, i % 250 + 1),
                                 "Tags": {"Name": "bulk-%d" % i}})
    doc["DBInstances"] = [
        {"DBInstanceIdentifier": "orders-db", "Engine": "postgres", "VpcId": vpc,
         "DBSubnetGroupName": "prod-persistence", "SubnetIds": ["subnet-0pers00000000001"]},
        {"DBInstanceIdentifier": "stage-db", "Engine": "postgres", "VpcId": states.STAGE_VPC,
         "DBSubnetGroupName": "stage", "SubnetIds": ["subnet-0stage0000000001"]},
    ]
    return doc


@test
def test_inventory_names():
    env = new_env("inventory", zones={ZONE: {"route53": "auto", "inventory": states.PROD_VPC}})
    fresh(inventory_state())
    env.start_vpcdnsd()
    env.sync_ok()
    p = env.port
    # NAME.TIER from the Name tag (sanitized), only in the published tiers (private, persistence)
    expect(p, "app-server.private.prod.internal.", "A", ["10.20.1.11", "10.20.1.12"])
    expect(p, "app-server.private.prod.internal.", "AAAA", ["2a05:d018:1:2201::11"])
    expect(p, "cache-1.persistence.prod.internal.", "A", ["10.20.2.7"])
    # (the zone's wildcard answers any other name; the instance's own address must not show up)
    r = query(p, "web-1.public.prod.internal.", "A")
    check("10.20.0.10" not in values(r), "a public-tier name was published: %s" % r)
    # ip-A-B-C-D and the instance id for every running instance of the VPC
    expect(p, "ip-10-20-0-10.prod.internal.", "A", ["10.20.0.10"])
    expect(p, "i-0app0000000000001.prod.internal.", "AAAA", ["2a05:d018:1:2201::11"])
    # stopped instances and other VPCs are left out
    for name, addr in (("worker-1.private.prod.internal.", "10.20.1.20"),
                       ("ip-10-20-1-20.prod.internal.", "10.20.1.20"),
                       ("stage-app.private.prod.internal.", "10.30.1.5"),
                       ("ip-10-30-1-5.prod.internal.", "10.30.1.5")):
        r = query(p, name, "A")
        check(addr not in values(r), "%s published: %s" % (name, r))
    r = query(p, "stage-db.db.prod.internal.", "CNAME")
    check(not values(r, rtype="CNAME"), "a database of another VPC was published: %s" % r)
    # databases: IDENTIFIER.db as a CNAME to the endpoint
    r = query(p, "orders-db.db.prod.internal.", "CNAME")
    got = values(r, "orders-db.db.prod.internal.", "CNAME")
    check(len(got) == 1 and "rds.amazonaws.com" in got[0], "orders-db CNAME: %s" % got)
    st = env.status()
    check(st.get("inventory_state") == "ok", "status inventory_state=%s" % st.get("inventory_state"))
    check(int(st.get("inventory_api_calls", 0)) >= 3, "status inventory_api_calls=%s" % st.get("inventory_api_calls"))


@test
def test_inventory_paging_and_failure():
    env = new_env("inventory-paging", zones={ZONE: {"route53": "auto", "inventory": states.PROD_VPC}})
    doc = inventory_state(extra_hosts=1200)
    doc["Settings"]["ShortPages"] = True  # AWS may return fewer than asked: 500 a page here
    fresh(doc)
    env.start_vpcdnsd()
    env.sync_ok()
    pages = stats()["actions"].get("DescribeInstances", 0)
    check(pages >= 3, "DescribeInstances called %d times, want every page (>= 3)" % pages)
    # vpcdnsd reloads on the SIGHUP the sync sent; a bigger zone takes a moment.
    wait_for(lambda: answer(env.port, "bulk-1199.private.prod.internal.") == ["10.21.4.200"], 5,
             "the paged inventory served")
    expect(env.port, "bulk-0.private.prod.internal.", "A", ["10.21.0.1"])
    before = env.snapshot()
    # A failure on the second page keeps the previous snapshot whole.
    set_faults([{"kind": "error", "status": 500, "service": "ec2", "action": "DescribeInstances",
                 "page": 2, "count": -1}])
    try:
        out, err = env.sync_fail()
    finally:
        clear_faults()
    check(env.snapshot() == before, "the snapshot changed after a failed inventory page")
    st = env.status()
    check(st.get("ok") == "no" and st.get("inventory_state") == "failed",
          "status ok=%s inventory_state=%s" % (st.get("ok"), st.get("inventory_state")))
    expect(env.port, "bulk-1199.private.prod.internal.", "A", ["10.21.4.200"])


@test
def test_deletion_guard():
    env = main_env()
    env.sync_ok()
    before = env.snapshot()
    n_before = len(snapshot_records(before))
    doc = states.base()
    zone = states.zone_of(doc, ZONE_ID)
    keep = zone["ResourceRecordSets"][: len(zone["ResourceRecordSets"]) // 3]
    zone["ResourceRecordSets"] = keep
    set_state(doc)
    out, err = env.sync_fail()
    check(env.snapshot() == before, "the guard let the snapshot change")
    st = env.status()
    check(st.get("ok") == "no" and ("max_delete_ratio" in st.get("last_error", "")
                                    or "refus" in st.get("last_error", "")),
          "status after refusal: %s" % st)
    expect(env.port, "api.prod.internal.", "A", ["10.20.1.11", "10.20.1.12"])
    out, err = env.sync_ok("--force")
    total, a, r, _ = summary(out)
    check(r * 2 >= n_before - 1, "--force removed only %d of %d" % (r, n_before))
    after = env.snapshot()
    check(after != before and len(snapshot_records(after)) == total, "--force did not write the snapshot")
    check(env.status().get("ok") == "yes", "status after --force: %s" % env.status())
    wait_for(lambda: query(env.port, "svc.prod.internal.").answer == [] or
             answer(env.port, "svc.prod.internal.") == ["10.20.1.100"], 3, "removed record gone after --force")
    set_state(states.base())
    env.sync_ok()  # back to the full zone: only additions, no guard


@test
def test_dry_run_and_status():
    env = main_env()
    env.sync_ok()
    before, st_before = env.snapshot(), open(env.status_path()).read()
    doc = states.base()
    states.zone_of(doc, ZONE_ID)["ResourceRecordSets"].append(
        {"Name": "dry.prod.internal.", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "10.20.7.7"}]})
    set_state(doc)
    time.sleep(1.1)  # a status rewrite would show in last_attempt
    out, err = env.sync_ok("--dry-run")
    d = [re.sub(r"\s+", "\t", l) for l in diff_lines(out)]
    check(d == ["+dry.prod.internal.\t60\tIN\tA\t10.20.7.7"], "dry run diff %s:\n%s" % (d, out))
    check(summary(out)[1:3] == (1, 0), "dry-run summary: %s" % out)
    check(env.snapshot() == before, "--dry-run wrote the snapshot")
    check(open(env.status_path()).read() == st_before, "--dry-run rewrote the status file")
    leftovers = [f for f in os.listdir(env.state_dir) if f.endswith(".tmp") or ".tmp." in f]
    check(not leftovers, "temp files left in state_dir: %s" % leftovers)
    r = query(env.port, "dry.prod.internal.", "A")
    check(values(r) == ["10.20.1.100"], "dry-run record is served: %s" % r)  # only the wildcard
    rc, out, err = env.run_sync("--status")
    check(rc == 0, "--status exited %d: %s" % (rc, err))
    check("[%s]" % ZONE in out, "--status output lacks [%s]:\n%s" % (ZONE, out))
    for line in st_before.splitlines():
        check(line in out.splitlines(), "--status lacks the status line %r:\n%s" % (line, out))
    set_state(states.base())


def _cred_sync(name, creds, aws=None, files=None, check_key=None):
    env = new_env(name, aws=aws)
    for path, text in (files or {}).items():
        with open(getattr(env, path), "w") as f:
            f.write(text)
    fresh(states.base())
    env.sync_ok(creds=creds)
    check(env.status().get("ok") == "yes", "status: %s" % env.status())
    log = fake_log()
    r53 = [e for e in log if e["service"] == "route53"]
    check(r53, "no Route 53 request reached the fake")
    s = stats()
    check(not s["auth_failures"], "fake auth failures: %s" % s["auth_failures"])
    keys = set()
    for e in r53:
        hdr = {k.lower(): v for k, v in e["headers"]}
        m = re.search(r"Credential=([^/]+)/", hdr.get("authorization", ""))
        keys.add((m.group(1) if m else None, hdr.get("x-amz-security-token")))
    if check_key is not None:
        check_key(keys, log, s)
    return env, keys


@test
def test_credentials_profile_file():
    files = {"aws_credentials": "[default]\naws_access_key_id = AKIDWRONGDEFAULT0000\n"
                                "aws_secret_access_key = nope\n\n"
                                "[ci]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                                % (states.PROFILE_KEY, states.PROFILE_SECRET)}

    def ck(keys, log, s):
        check(keys == {(states.PROFILE_KEY, None)}, "signed with %s, want the [ci] profile's key" % keys)
    _cred_sync("cred-profile", {"AWS_PROFILE": "ci"}, files=files, check_key=ck)


@test
def test_credentials_session_token():
    creds = {"AWS_ACCESS_KEY_ID": states.SESSION_KEY, "AWS_SECRET_ACCESS_KEY": states.SESSION_SECRET,
             "AWS_SESSION_TOKEN": states.SESSION_TOKEN}

    def ck(keys, log, s):
        check(keys == {(states.SESSION_KEY, states.SESSION_TOKEN)},
              "signed with %s, want the session key + X-Amz-Security-Token" % keys)
    _cred_sync("cred-session", creds, check_key=ck)


@test
def test_credentials_imds():
    def ck(keys, log, s):
        check(len(keys) == 1 and list(keys)[0][0].startswith("ASIA") and list(keys)[0][1],
              "signed with %s, want IMDS temporary credentials" % keys)
        check(s["imds"].get("PUT /latest/api/token", 0) >= 1, "no IMDSv2 token PUT: %s" % s["imds"])
        check(any(k.startswith("GET /latest/meta-data/iam/security-credentials/") for k in s["imds"]),
              "no credentials GET: %s" % s["imds"])
    _cred_sync("cred-imds", None, check_key=ck)


@test
def test_credentials_assume_role():
    def ck(keys, log, s):
        check(s["actions"].get("AssumeRole", 0) >= 1, "no STS AssumeRole: %s" % s["actions"])
        ar = [e for e in log if e["action"] == "AssumeRole"][0]
        hdr = {k.lower(): v for k, v in ar["headers"]}
        check("Credential=%s/" % states.ACCESS_KEY in hdr.get("authorization", ""),
              "AssumeRole not signed with the base key: %s" % hdr.get("authorization"))
        check("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fvpcdns-reader" in ar["body"],
              "AssumeRole body: %s" % ar["body"])
        check(len(keys) == 1 and list(keys)[0][0].startswith("ASIA") and list(keys)[0][1],
              "Route 53 signed with %s, want the role's temporary credentials" % keys)
    _cred_sync("cred-role", "default", aws={"role_arn": states.ROLE_ARN}, check_key=ck)


@test
def test_credentials_assume_role_denied():
    env = new_env("cred-role-denied", aws={"role_arn": "arn:aws:iam::123456789012:role/not-allowed"})
    fresh(states.base())
    out, err = env.sync_fail()
    st = env.status()
    check(st.get("ok") == "no" and "AccessDenied" in st.get("last_error", ""), "status: %s" % st)
    check(env.snapshot() is None, "a snapshot was written without data")


@test
def test_loop_mode():
    env = new_env("loop", sync={"interval": "5"})
    fresh(states.base())
    env.start_vpcdnsd()
    penv = env.base_env()
    errf = open(os.path.join(env.dir, "loop.stderr"), "wb")
    proc = subprocess.Popen([ARGS.sync, "-c", env.ini], stdin=subprocess.DEVNULL, stdout=errf, stderr=errf,
                            env=penv)
    errf.close()
    try:
        wait_for(lambda: answer(env.port, "api.prod.internal.") == ["10.20.1.11", "10.20.1.12"], 6,
                 "the first loop sync to be served")
        doc = states.base()
        states.zone_of(doc, ZONE_ID)["ResourceRecordSets"].append(
            {"Name": "loop.prod.internal.", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "10.20.5.55"}]})
        t0 = time.time()
        set_state(doc)
        wait_for(lambda: answer(env.port, "loop.prod.internal.") == ["10.20.5.55"], 8,
                 "the loop to pick up the new record")
        vlog("new record served after %.1fs" % (time.time() - t0))
        check(proc.poll() is None, "vpcdns-sync exited during the loop: %s" % proc.returncode)
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(5)
        except subprocess.TimeoutExpired:
            raise TestFailure("vpcdns-sync still running 5 s after SIGTERM")
        check(rc == 0, "vpcdns-sync exited %d after SIGTERM, want 0" % rc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err = open(os.path.join(env.dir, "loop.stderr"), errors="replace").read()
        env.logs.append(("loop", err))
    for s in SANITIZER:
        check(s not in err, "sanitizer report from the loop:\n%s" % err)


@test
def test_pagination_escaped_boundary():
    env = new_env("paging-escaped")
    fresh(states.escaped_boundary())
    exported = ctl("GET", "state")
    recs = [z for z in exported["HostedZones"] if z["Id"] == ZONE_ID][0]["ResourceRecordSets"]
    check(recs[300]["Name"] == "\\052.y.prod.internal." and recs[600]["Name"] == "odd\\041name.z.prod.internal.",
          "precondition: pages start at %s / %s" % (recs[300]["Name"], recs[600]["Name"]))
    env.start_vpcdnsd()
    out, _ = env.sync_ok()
    log = [e for e in fake_log() if e["action"] == "ListResourceRecordSets"]
    check([e.get("page") for e in log] == [1, 2, 3], "pages fetched: %s" % [(e.get("page"), e["query"]) for e in log])
    check(all(e.get("status") == 200 for e in log), "page requests failed: %s" % [(e["query"], e.get("error")) for e in log])
    total = summary(out)[0]
    check(total == len(recs) - 1 + 3, "summary %d records, want %d" % (total, len(recs) + 2))
    wait_for(lambda: answer(env.port, "a000.x.prod.internal.") != [], 3, "answers")
    expect(env.port, "anything.y.prod.internal.", "A", ["10.3.0.1"])
    expect(env.port, "anything.y.prod.internal.", "TXT", ['"wild"'])
    expect(env.port, "odd!name.z.prod.internal.", "A", ["10.3.0.2"])
    expect(env.port, "zz.z.prod.internal.", "A", ["10.3.0.3"])
    expect(env.port, "b297.y.prod.internal.", "A", ["10.5.1.41"])


@test
def test_alias_to_routed_and_alias_targets():
    env = new_env("alias-extra")
    fresh(states.alias_extra())
    env.start_vpcdnsd()
    out, err = env.sync_ok()
    wait_for(lambda: answer(env.port, "api.prod.internal.") != [], 3, "answers")
    problems = []
    for name, want in (("towww", ["10.20.1.11", "10.20.1.12"]), ("tomv", ["10.20.6.1", "10.20.6.2"]),
                       ("tosvc", ["10.20.3.1"]), ("tolat", ["10.20.4.1"]),
                       ("chain", ["10.20.1.11", "10.20.1.12"])):
        r = query(env.port, name + ".prod.internal.", "A")
        got = values(r, name + ".prod.internal.", "A")
        if got != want:
            problems.append("%s (alias to %s) answers %s, want %s" % (
                name, {"towww": "weighted www", "tomv": "multivalue mv", "tosvc": "failover svc",
                       "tolat": "latency lat", "chain": "alias web -> api"}[name], got or r.rcode(), want))
    st = env.status()
    check(not problems, "; ".join(problems) + " (status skipped_records=%s; stderr: %s)"
          % (st.get("skipped_records"), " | ".join(l for l in err.splitlines() if "skipped" in l)))


@test
def test_bad_record_skipped():
    env = new_env("bad-records")
    fresh(states.bad_records())
    env.start_vpcdnsd()
    out, err = env.sync_ok()
    st = env.status()
    check(st.get("ok") == "yes", "status %s" % st)
    check(st.get("skipped_records") == "2", "skipped_records=%s, want 2 (badip, badmx)" % st.get("skipped_records"))
    check("badip.prod.internal" in err and "badmx.prod.internal" in err, "stderr does not name the bad records:\n%s" % err)
    wait_for(lambda: answer(env.port, "api.prod.internal.") != [], 3, "answers")
    expect_main_answers(env)
    expect(env.port, "goodmx.prod.internal.", "MX", ["10 mail.prod.internal."])
    expect(env.port, "srv._tcp.prod.internal.", "SRV", ["1 10 5432 db.prod.internal."])
    r = query(env.port, "badip.prod.internal.", "A")
    check(values(r, "badip.prod.internal.", "A") in ([], ["10.20.1.100"]), "badip answered %s" % r)


@test
def test_negative_ttl_change_applies():
    env = new_env("negttl")
    fresh(states.base())
    env.start_vpcdnsd()
    env.sync_ok()
    s0 = env.serial()
    env.zones[ZONE]["negative_ttl"] = "45"
    env.write_config()
    out, err = env.sync_ok()
    data = env.snapshot().decode()
    soa = [l for l in data.splitlines() if "\tSOA\t" in l]
    check(soa and soa[0].split("\t")[1] == "45" and soa[0].split()[-1] == "45",
          "negative_ttl 30 -> 45 in the config, sync says %r; snapshot SOA still %r (serial %d -> %d)"
          % (summary(out)[3] or "changed", soa[0] if soa else None, s0, env.serial()))
    check(env.serial() > s0, "SOA changed without a new serial")


@test
def test_file_merged():
    zfile = os.path.join(TMP, "prod.internal.file.zone")
    with open(zfile, "w") as f:
        f.write("$ORIGIN prod.internal.\n$TTL 300\n"
                "@ IN SOA ns.prod.internal. hostmaster.prod.internal. 1 3600 600 1209600 30\n"
                "@ IN NS ns.prod.internal.\n"
                "ns IN A 10.99.0.53\n"
                "static IN A 10.99.0.2\n"
                "db IN A 10.99.0.3\n"
                "v6 IN CNAME api.prod.internal.\n")
    env = new_env("file", zones={ZONE: {"route53": "auto", "file": zfile, "negative_ttl": "30"}})
    fresh(states.base())
    env.start_vpcdnsd()
    # before any snapshot: the file alone
    expect(env.port, "static.prod.internal.", "A", ["10.99.0.2"])
    out, err = env.sync_ok()
    wait_for(lambda: answer(env.port, "api.prod.internal.") != [], 3, "answers")
    expect(env.port, "static.prod.internal.", "A", ["10.99.0.2"])
    expect(env.port, "api.prod.internal.", "A", ["10.20.1.11", "10.20.1.12"])
    # db: A in the file, CNAME in Route 53 -> the file's A
    r = query(env.port, "db.prod.internal.", "A")
    check(values(r, "db.prod.internal.", "A") == ["10.99.0.3"] and not values(r, "db.prod.internal.", "CNAME"),
          "db: file A vs Route 53 CNAME: %s" % r)
    # v6: CNAME in the file, AAAA in Route 53 -> the file's CNAME
    r = query(env.port, "v6.prod.internal.", "AAAA")
    check(values(r, "v6.prod.internal.", "CNAME") == ["api.prod.internal."], "v6: file CNAME vs Route 53 AAAA: %s" % r)
    check(int(env.status().get("skipped_records", 0)) >= 2, "conflicts not reported: %s" % env.status())


@test
def test_chunked_responses():
    env = new_env("chunked")
    doc = states.big()
    doc["Settings"]["ChunkedResponses"] = True
    fresh(doc)
    out, _ = env.sync_ok()
    check(summary(out)[0] == 1060, "chunked: summary %s" % summary(out)[0])


@test
def test_restart_serves_snapshot():
    env = main_env()
    env.sync_ok()
    problems = env.stop()
    check(not problems, "; ".join(problems))
    set_faults([{"kind": "error", "status": 500, "count": -1}])  # AWS is down; vpcdnsd must not care
    env.start_vpcdnsd()
    expect_main_answers(env)
    clear_faults()


def _r53_keys():
    keys = set()
    for e in fake_log():
        if e["service"] == "route53":
            m = re.search(r"Credential=([^/]+)/", dict((k.lower(), v) for k, v in e["headers"]).get("authorization", ""))
            keys.add(m.group(1) if m else None)
    return keys


@test
def test_credentials_config_file_profile():
    # [profile ci] in the config file, chosen by [aws] profile in the INI (no AWS_PROFILE)
    env = new_env("cred-config-profile", aws={"profile": "ci"})
    with open(env.aws_config, "w") as f:
        f.write("[default]\nregion = us-west-2\naws_access_key_id = AKIDWRONGDEFAULT0000\n"
                "aws_secret_access_key = nope\n\n[profile ci]\naws_access_key_id = %s\n"
                "aws_secret_access_key = %s\n" % (states.PROFILE_KEY, states.PROFILE_SECRET))
    fresh(states.base())
    env.sync_ok(creds=None)
    check(_r53_keys() == {states.PROFILE_KEY}, "config-file profile: signed with %s" % _r53_keys())


@test
def test_credentials_session_token_in_file():
    # a session token as long as real ones (several hundred characters) in the credentials file
    env = new_env("cred-token-file")
    with open(env.aws_credentials, "w") as f:
        f.write("# comment\n[default]\naws_access_key_id=%s\naws_secret_access_key=%s\naws_session_token = %s\n"
                % (states.SESSION_KEY, states.SESSION_SECRET, states.SESSION_TOKEN))
    fresh(states.base())
    rc, out, err = env.run_sync("--once", creds=None)
    sent = {dict((k.lower(), v) for k, v in e["headers"]).get("x-amz-security-token") for e in fake_log()
            if e["service"] == "route53"}
    check(rc == 0, "exit %d with aws_session_token (%d characters) in the shared credentials file; the token "
          "sent was %s characters long; stderr: %s" % (rc, len(states.SESSION_TOKEN),
                                                       sorted(len(t or "") for t in sent), err.strip()))
    check(sent == {states.SESSION_TOKEN}, "token sent: %s" % sent)


@test
def test_credentials_env_beats_files():
    env = new_env("cred-env-first")
    with open(env.aws_credentials, "w") as f:
        f.write("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                % (states.PROFILE_KEY, states.PROFILE_SECRET))
    fresh(states.base())
    env.sync_ok(creds="default")
    check(_r53_keys() == {states.ACCESS_KEY}, "env credentials did not win over the files: %s" % _r53_keys())


@test
def test_route53_auto_many_zones():
    # 150 private zones in the VPC, ours last: ListHostedZonesByVPC has to page (NextToken)
    env = new_env("auto-many")
    doc = states.base()
    extra = [{"Id": "Z0MANY%016d" % i, "Name": "z%03d.internal." % i,
              "VPCs": [{"VPCRegion": "eu-west-1", "VPCId": states.PROD_VPC}]} for i in range(150)]
    doc["HostedZones"] = extra + doc["HostedZones"]
    fresh(doc)
    env.sync_ok()
    n = stats()["actions"].get("ListHostedZonesByVPC", 0)
    check(n == 2, "ListHostedZonesByVPC called %d times, want 2 pages" % n)
    check(len(snapshot_records(env.snapshot())) > 20, "wrong zone synced")


# ---------------------------------------------------------------------------------

def run():
    global TMP, FAKE, RESOLVER
    TMP = tempfile.mkdtemp(prefix="vpcdns-sync-test.")
    FAKE = FakeAWS(state=states.base()).start()
    RESOLVER = TestResolver(states.RESOLVER_ANSWERS)
    selected = [(n, f) for n, f in TESTS if not ARGS.k or any(k in n for k in ARGS.k)]
    passed = failed = 0
    t_all = time.time()
    for name, fn in selected:
        t0 = time.time()
        try:
            clear_faults()
            fn()
            print("ok %s" % name + (" (%.1fs)" % (time.time() - t0) if ARGS.verbose else ""), flush=True)
            passed += 1
        except TestFailure as e:
            print("FAIL %s: %s" % (name, e), flush=True)
            failed += 1
        except Exception as e:
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e), flush=True)
            if ARGS.verbose:
                traceback.print_exc()
            failed += 1
    problems = []
    for env in ENVS:
        problems += ["%s: %s" % (env.name, p) for p in env.stop()]
    if problems:
        print("FAIL shutdown: %s" % "; ".join(problems), flush=True)
        failed += 1
    FAKE.stop()
    RESOLVER.close()
    if ARGS.verbose:
        print("   total %.1fs" % (time.time() - t_all))
    if ARGS.keep or failed:
        print("# files kept in %s" % TMP) if ARGS.keep else None
    if not ARGS.keep:
        shutil.rmtree(TMP, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def main():
    global ARGS
    ap = argparse.ArgumentParser(description="end-to-end tests of vpcdns-sync")
    ap.add_argument("--sync", default=os.path.join(ROOT, "bin", "vpcdns-sync"))
    ap.add_argument("--vpcdnsd", default=os.path.join(ROOT, "bin", "vpcdnsd"))
    ap.add_argument("-k", action="append", help="run tests whose name contains this (repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--no-netns", action="store_true")
    ARGS = ap.parse_args()
    if ARGS.list:
        for n, _ in TESTS:
            print(n)
        return 0
    if (not ARGS.no_netns and os.environ.get("VPCDNS_SYNCTEST_NETNS") != "1" and os.geteuid() == 0
            and shutil.which("unshare") and shutil.which("ip")):
        probe = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if probe.returncode == 0:
            env = dict(os.environ, VPCDNS_SYNCTEST_NETNS="1")
            cmd = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"',
                   sys.executable, os.path.abspath(__file__)] + sys.argv[1:]
            sys.stdout.flush()
            return subprocess.call(cmd, env=env)
    ARGS.sync = os.path.abspath(ARGS.sync)
    ARGS.vpcdnsd = os.path.abspath(ARGS.vpcdnsd)
    for b in (ARGS.sync, ARGS.vpcdnsd):
        if not os.access(b, os.X_OK):
            print("not executable: %s (run make)" % b)
            print("0 passed, 1 failed")
            return 1
    return run()


if __name__ == "__main__":
    sys.exit(main())
