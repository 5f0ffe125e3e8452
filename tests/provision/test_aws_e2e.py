#!/usr/bin/python3
"""One description, end to end on the AWS side: network, zone policy, names, answers.

Run:  /usr/bin/python3 tests/provision/test_aws_e2e.py [--provision bin/vpcdns-provision]
          [--sync bin/vpcdns-sync] [--vpcdnsd bin/vpcdnsd] [-v] [--keep] [--no-netns] [--timeout S]

It starts tests/aws/fake_aws.py (a process of its own, on loopback) and then, against it:

 1. `vpcdns-provision apply --backend aws` of the reference network
    (contrib/provision/examples/reference.ini, under a stack name of its own);
 2. puts EC2 instances (and RDS databases) into the subnets apply made, through the
    fake's control API (GET /_fake/state, add them, POST it back), and a record into
    production's private hosted zone with the real AWS CLI;
 3. builds one vpcdnsd/vpcdns-sync configuration: [server] listening on the vpcdnsd
    addresses the VPCs' DHCP options hand out, `allow` as the policy says, recursion
    off; [aws]; [sync]; then the output of `vpcdns-provision policy --backend aws`;
    `vpcdnsd -t` must accept it;
 4. `vpcdns-sync --once`: the snapshots hold each instance under its tier's zone only
    (no name of another tier, no ip-/id- names), the Route 53 record, the RDS CNAME;
 5. starts vpcdnsd and asks it, with dnspython, from source addresses inside the VPCs
    (each client asking the server its VPC's DHCP options name): every tier of every
    environment against every name, the answers or REFUSED the policy says; an
    address outside every VPC gets REFUSED;
 6. changes the network (an instance terminated, one launched, the last instance of a
    tier terminated), syncs again (vpcdns-sync signals vpcdnsd through the pidfile; the
    test sends SIGHUP as well) and checks the names follow;
 7. `vpcdns-provision destroy` (refused while an instance still sits in a subnet, then
    finished) and nothing of the stack is left (GET /_fake/resources?live=1&tag=...).

As root the run moves into a private network namespace (`unshare -n`, lo up) and puts the
client and server addresses on lo; without it (not root, or --no-netns) the steps that
need those addresses are skipped (and counted neither way).

Each step prints `ok NAME` or `FAIL NAME: reason` (`skip NAME: reason`); the last line is
`N passed, M failed`; exit status 1 if anything failed. stderr of every C program is checked
for sanitizer reports ("AddressSanitizer", "runtime error:", "LeakSanitizer").
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True

import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REFERENCE = os.path.join(ROOT, "contrib", "provision", "examples", "reference.ini")
FAKE = os.path.join(ROOT, "tests", "aws", "fake_aws.py")
SANITIZER = ("AddressSanitizer", "runtime error:", "LeakSanitizer")
NETNS_FLAG = "VPCDNS_E2E_NETNS"

REGION = "eu-west-1"
ACCESS_KEY = "AKIDVPCDNSTEST000001"
SECRET_KEY = "vpcdns/Test+Secret/Key0000000000000000000"
ENVS = {"management": "mgmt.internal", "production": "prod.internal", "development": "dev.internal"}
TIERS = ("public", "private", "persistence")

# The instances put into the network: name -> (subnet's vpcdns:name, address, state).
INSTANCES = {
    "lb-1": ("production-public-1", "10.1.0.10", "running"),
    "web-1": ("production-private-1", "10.1.10.10", "running"),
    "web-2": ("production-private-2", "10.1.11.10", "running"),
    "dns-1": ("production-private-1", "10.1.10.53", "running"),
    "old-1": ("production-private-1", "10.1.10.99", "stopped"),
    "db-1": ("production-persistence-1", "10.1.20.10", "running"),
    "bastion-1": ("management-public-1", "10.0.0.10", "running"),
    "ops-1": ("management-private-1", "10.0.10.10", "running"),
    "dns-1-mgmt": ("management-private-1", "10.0.10.53", "running"),
    "app-1": ("development-private-1", "10.2.10.10", "running"),
    "dev-db-1": ("development-persistence-1", "10.2.20.10", "running"),
}
# name tag of "dns-1-mgmt" is "dns-1" too (the same name in another VPC)
NAME_TAG = {"dns-1-mgmt": "dns-1"}
# RDS databases: identifier -> environment (subnets: its persistence tier)
DATABASES = {"orders": "production", "devorders": "development"}
# Route 53 records added with the AWS CLI to production's hosted zone
R53_RECORDS = [("api.prod.internal.", "A", "10.1.10.20"),
               ("dbalias.prod.internal.", "CNAME", "db-1.persistence.prod.internal."),
               # below a tier: served by the tier zone, with the tier's allow list
               ("legacy.persistence.prod.internal.", "A", "10.1.20.99")]
OUTSIDE = "198.51.100.7"

ARGS = None
TMP = None
STACK = None
INI = None
CONF = None
STATE_DIR = None
URL = None
FAKE_PROC = None
DAEMON = None
DAEMON_LOG = None
NETNS = False
W = {}  # what the steps learn: ids, subnets, dhcp servers, ...


class TestFailure(Exception):
    pass


class Skip(Exception):
    pass


class Timeout(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def vlog(msg):
    if ARGS.verbose:
        print("   " + str(msg).replace("\n", "\n   "), flush=True)


def no_sanitizer(what, text):
    for s in SANITIZER:
        check(s not in text, "sanitizer report (%s) from %s:\n%s" % (s, what, text[-4000:]))


# ---- the fake --------------------------------------------------------------------------

def start_fake():
    global FAKE_PROC, URL
    state = os.path.join(TMP, "fake-state.json")
    with open(state, "w") as f:
        json.dump({"Account": "123456789012", "Region": REGION,
                   "Settings": {"NatGatewayPendingPolls": 1, "NatGatewayDeletingPolls": 1,
                                "VpcPeeringProvisioningPolls": 1}}, f)
    port_file = os.path.join(TMP, "fake.port")
    log = open(os.path.join(TMP, "fake.log"), "w")
    FAKE_PROC = subprocess.Popen(["/usr/bin/python3", FAKE, "--port", "0", "--port-file", port_file,
                                  "--state", state], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    log.close()
    deadline = time.time() + 20
    while time.time() < deadline:
        if FAKE_PROC.poll() is not None:
            break
        if os.path.exists(port_file):
            port = open(port_file).read().strip()
            if port:
                URL = "http://127.0.0.1:%s" % port
                try:
                    if control("GET", "/_fake/health").get("ok"):
                        return
                except OSError:
                    pass
        time.sleep(0.05)
    raise RuntimeError("fake_aws did not start (see %s/fake.log)" % TMP)


def stop_proc(proc, sig=signal.SIGTERM, wait=10):
    """Stops a process this test started (by its own Popen object, never by name)."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(sig)
        proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def control(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(URL + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            raw = r.read()
    except urllib.error.HTTPError as e:
        raise TestFailure("fake control %s %s: HTTP %d %s" % (method, path, e.code, e.read()[:500]))
    return json.loads(raw) if raw else {}


def tags_of(obj):
    t = obj.get("Tags") or []
    if isinstance(t, dict):
        return dict(t)
    return {x["Key"]: x["Value"] for x in t}


def of_stack(items):
    return [x for x in items if tags_of(x).get("vpcdns:stack") == STACK]


# ---- the programs ----------------------------------------------------------------------

def base_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.update({"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                "AWS_CONFIG_FILE": os.path.join(TMP, "no-config"),
                "AWS_SHARED_CREDENTIALS_FILE": os.path.join(TMP, "no-credentials"),
                "AWS_EC2_METADATA_DISABLED": "true", "HOME": TMP, "NO_PROXY": "127.0.0.1",
                "AWS_ENDPOINT_URL": URL, "AWS_DEFAULT_REGION": REGION,
                "VPCDNS_PROVISION_POLL_MS": "50"})
    return env


def run(argv, what, expect=0, timeout=60):
    t0 = time.time()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=base_env(),
                       stdin=subprocess.DEVNULL)
    vlog("$ %s -> %d (%.1fs)\n%s%s" % (" ".join(argv), p.returncode, time.time() - t0,
                                       p.stdout, p.stderr))
    no_sanitizer(what, p.stderr)
    check(p.returncode >= 0, "%s died of signal %d:\n%s" % (what, -p.returncode, p.stderr[-3000:]))
    if expect is not None:
        check(p.returncode == expect, "%s exited %d (wanted %d):\n%s%s" %
              (what, p.returncode, expect, p.stdout[-3000:], p.stderr[-3000:]))
    return p


def provision(cmd, expect=0):
    return run([ARGS.provision, cmd, "-f", INI, "--backend", "aws", "--wait", "30"],
               "vpcdns-provision " + cmd, expect=expect, timeout=90)


def sync(*extra, expect=0):
    return run([ARGS.sync, "-c", CONF, "--once"] + list(extra), "vpcdns-sync", expect=expect)


def aws_cli(*args):
    env = base_env()
    env["AWS_PAGER"] = ""
    argv = ["/usr/bin/aws", "--endpoint-url", URL, "--region", REGION, "--output", "json"] + list(args)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env,
                       stdin=subprocess.DEVNULL)
    check(p.returncode == 0, "aws %s exited %d:\n%s" % (" ".join(args), p.returncode, p.stderr))
    return json.loads(p.stdout) if p.stdout.strip() else {}


def daemon_log():
    try:
        with open(DAEMON_LOG, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def start_daemon():
    global DAEMON
    pidfile = os.path.join(TMP, "vpcdnsd.pid")
    if os.path.exists(pidfile):
        os.unlink(pidfile)
    log = open(DAEMON_LOG, "a")
    DAEMON = subprocess.Popen([ARGS.vpcdnsd, "-c", CONF], stdin=subprocess.DEVNULL, stdout=log,
                              stderr=log)
    log.close()
    probe_src, probe_name = W["clients"]["production-private"], "api.prod.internal"
    deadline = time.time() + 15
    last = None
    while time.time() < deadline:
        check(DAEMON.poll() is None, "vpcdnsd exited %s:\n%s" % (DAEMON.returncode, daemon_log()[-3000:]))
        if os.path.exists(pidfile):
            try:
                r = ask(W["dns"]["production"][0], probe_name, probe_src, timeout=0.5)
                if r.rcode() == dns.rcode.NOERROR:
                    return
                last = dns.rcode.to_text(r.rcode())
            except Exception as e:  # not listening yet
                last = repr(e)
        time.sleep(0.1)
    raise TestFailure("vpcdnsd not answering after 15 s (last: %s):\n%s" % (last, daemon_log()[-3000:]))


def stop_daemon():
    stop_proc(DAEMON)
    if DAEMON is not None:
        no_sanitizer("vpcdnsd", daemon_log())
        check(DAEMON.returncode == 0, "vpcdnsd exited %s on SIGTERM:\n%s" %
              (DAEMON.returncode, daemon_log()[-3000:]))


# ---- DNS -------------------------------------------------------------------------------

def ask(server, name, source, rdtype="A", tcp=False, timeout=2.0):
    q = dns.message.make_query(name, rdtype)
    q.flags &= ~dns.flags.RD
    if tcp:
        return dns.query.tcp(q, server, port=W["port"], source=source, timeout=timeout)
    return dns.query.udp(q, server, port=W["port"], source=source, timeout=timeout)


def outcome(r):
    """REFUSED / NXDOMAIN / ... or the sorted answer data ("10.1.10.10", "CNAME x.")."""
    rc = r.rcode()
    if rc != dns.rcode.NOERROR:
        return dns.rcode.to_text(rc)
    out = []
    for rrset in r.answer:
        for rd in rrset:
            if rrset.rdtype == dns.rdatatype.A:
                out.append(rd.to_text())
            else:
                out.append("%s %s" % (dns.rdatatype.to_text(rrset.rdtype), rd.to_text()))
    return " ".join(sorted(out)) or "NODATA"


# ---- state of the fake -----------------------------------------------------------------

def iid(name):
    return "i-0" + hashlib.sha1(("%s/%s" % (STACK, name)).encode()).hexdigest()[:16]


def put_world(instances, databases):
    """The fake's state with these instances and databases (everything else as it is)."""
    st = control("GET", "/_fake/state")
    subnets = {tags_of(s).get("vpcdns:name"): s for s in of_stack(st["Subnets"])}
    vpcs = {tags_of(v).get("vpcdns:name"): v["VpcId"] for v in of_stack(st["Vpcs"])}
    st["Instances"] = []
    for name, (subnet, ip, state) in instances.items():
        check(subnet in subnets, "no subnet %s in the fake (have %s)" % (subnet, sorted(subnets)))
        st["Instances"].append({"InstanceId": iid(name), "SubnetId": subnets[subnet]["SubnetId"],
                                "PrivateIpAddress": ip, "State": state,
                                "Tags": {"Name": NAME_TAG.get(name, name), "vpcdns:test": STACK}})
    st["DBInstances"] = []
    for ident, env in databases.items():
        st["DBInstances"].append({
            "DBInstanceIdentifier": ident, "Engine": "postgres", "VpcId": vpcs[env],
            "DBSubnetGroupName": "%s-persistence" % env,
            "SubnetIds": [subnets["%s-persistence-%d" % (env, n)]["SubnetId"] for n in (1, 2)]})
    control("POST", "/_fake/state", st)
    got = control("GET", "/_fake/state")
    check(sorted(i["InstanceId"] for i in got.get("Instances", [])) ==
          sorted(iid(n) for n in instances), "the fake did not take the instances")


def read_snapshot(zone):
    """{(owner, type): set(rdata)} of STATE_DIR/zone.zone."""
    path = os.path.join(STATE_DIR, zone + ".zone")
    check(os.path.exists(path), "no snapshot %s (state_dir has %s)" % (path, sorted(os.listdir(STATE_DIR))))
    recs = {}
    with open(path) as f:
        for line in f:
            line = line.split(";", 1)[0].strip()
            if not line or line.startswith("$"):
                continue
            parts = line.split(None, 4)
            check(len(parts) == 5 and parts[2] == "IN", "%s: unexpected line %r" % (path, line))
            owner, _ttl, _cls, rtype, rdata = parts
            recs.setdefault((owner.lower(), rtype), set()).add(rdata)
    return recs


def status(zone):
    path = os.path.join(STATE_DIR, zone + ".status")
    check(os.path.exists(path), "no status file %s" % path)
    with open(path) as f:
        return dict(ln.rstrip("\n").split("=", 1) for ln in f if "=" in ln)


# ---- the configuration -----------------------------------------------------------------

def write_ini():
    with open(REFERENCE) as f:
        text = f.read()
    text, n = re.subn(r"(?m)^name = .*$", "name = " + STACK, text)
    check(n == 1, "reference.ini: no [stack] name line")
    with open(INI, "w") as f:
        f.write(text)


def server_allow(policy_text):
    """The [server] allow the policy suggests (a comment line, maybe continued)."""
    m = re.search(r"(?m)^; \[server\] allow: .*\n; allow = (.*)$", policy_text)
    check(m is not None, "policy names no [server] allow:\n%s" % policy_text[:1500])
    return m.group(1).strip()


def all_zones():
    out = []
    for zone in ENVS.values():
        out.append(zone)
        out.extend("%s.%s" % (t, zone) for t in TIERS)
    return out


# ---- the steps -------------------------------------------------------------------------

def test_apply():
    write_ini()
    p = provision("apply")
    check("Apply:" in p.stdout, "apply printed no summary:\n%s" % p.stdout)
    ids = {}
    for env, zone in ENVS.items():
        m = re.search(r"(?m)^%s: vpc (vpc-[0-9a-f]+), hosted zone (Z\w+) \(%s\)$" % (env, re.escape(zone)),
                      p.stdout)
        check(m, "apply printed no ids for %s:\n%s" % (env, p.stdout))
        ids[env] = m.groups()
    W["ids"] = ids
    again = provision("plan")
    check(again.stdout.strip().endswith("No changes."), "plan after apply:\n%s" % again.stdout)


def test_network_as_built():
    st = control("GET", "/_fake/state")
    vpcs = {tags_of(v)["vpcdns:name"]: v for v in of_stack(st["Vpcs"])}
    check(sorted(vpcs) == sorted(ENVS), "vpcs: %s" % sorted(vpcs))
    for env, (vpc, _zone) in W["ids"].items():
        check(vpcs[env]["VpcId"] == vpc, "%s: apply said %s, the fake has %s" % (env, vpc, vpcs[env]["VpcId"]))
    subnets = of_stack(st["Subnets"])
    check(len(subnets) == 18, "%d subnets" % len(subnets))
    for s in subnets:
        name, tier = tags_of(s).get("vpcdns:name", ""), tags_of(s).get("Tier")
        check(tier in TIERS and name.split("-")[1] == tier,
              "subnet %s has Tier tag %r (vpcdns-sync reads the tier from it)" % (name, tier))
    # The vpcdnsd each VPC's DHCP options hand out: clients ask those.
    opts = {o["DhcpOptionsId"]: o for o in st["DhcpOptions"]}
    W["dns"] = {}
    for env, zone in ENVS.items():
        o = opts.get(vpcs[env].get("DhcpOptionsId"))
        check(o is not None, "%s is not on DHCP options of its own" % env)
        conf = {c["Key"]: [v["Value"] if isinstance(v, dict) else v for v in c["Values"]]
                for c in o["DhcpConfigurations"]}
        check(conf.get("domain-name") == [zone], "%s domain-name %s" % (env, conf.get("domain-name")))
        W["dns"][env] = conf["domain-name-servers"]
    check(W["dns"]["development"] == ["10.0.10.53"] and W["dns"]["production"] == ["10.1.10.53"],
          "dns servers: %s" % W["dns"])


def test_instances():
    put_world(INSTANCES, DATABASES)
    # The inventory as any EC2 client sees it: the CLI, filtered to production's VPC.
    out = aws_cli("ec2", "describe-instances", "--filters",
                  "Name=vpc-id,Values=" + W["ids"]["production"][0],
                  "Name=instance-state-name,Values=running")
    names = sorted(tags_of(i)["Name"] for r in out["Reservations"] for i in r["Instances"])
    check(names == ["db-1", "dns-1", "lb-1", "web-1", "web-2"], "production's running instances: %s" % names)


def test_route53_record():
    zone_id = W["ids"]["production"][1]
    changes = [{"Action": "CREATE", "ResourceRecordSet": {"Name": n, "Type": t, "TTL": 60,
                                                          "ResourceRecords": [{"Value": v}]}}
               for n, t, v in R53_RECORDS]
    out = aws_cli("route53", "change-resource-record-sets", "--hosted-zone-id", zone_id,
                  "--change-batch", json.dumps({"Changes": changes}))
    check(out.get("ChangeInfo", {}).get("Status") in ("PENDING", "INSYNC"), "change: %s" % out)
    rrs = aws_cli("route53", "list-resource-record-sets", "--hosted-zone-id", zone_id)
    have = {(r["Name"], r["Type"]) for r in rrs["ResourceRecordSets"]}
    for n, t, _v in R53_RECORDS:
        check((n, t) in have, "Route 53 lacks %s %s: %s" % (n, t, sorted(have)))


def test_config():
    p = run([ARGS.provision, "policy", "-f", INI, "--backend", "aws"], "vpcdns-provision policy")
    policy = p.stdout
    with open(os.path.join(TMP, "policy.ini"), "w") as f:
        f.write(policy)
    # The policy names what apply made: each environment's hosted zone, each VPC.
    for env, (vpc, zone_id) in W["ids"].items():
        zone = ENVS[env]
        m = re.search(r"(?ms)^\[zone:%s\]\n(.*?)(?=^\[|\Z)" % re.escape(zone), policy)
        check(m and re.search(r"(?m)^route53 = %s$" % zone_id, m.group(1)),
              "[zone:%s] lacks route53 = %s:\n%s" % (zone, zone_id, policy))
        for tier in TIERS:
            m = re.search(r"(?ms)^\[zone:%s\.%s\]\n(.*?)(?=^\[|^;|\Z)" % (tier, re.escape(zone)), policy)
            check(m, "policy has no [zone:%s.%s]" % (tier, zone))
            body = m.group(1)
            check(re.search(r"(?m)^inventory = %s$" % vpc, body) and
                  re.search(r"(?m)^tiers = %s$" % tier, body),
                  "[zone:%s.%s] lacks inventory = %s / tiers = %s:\n%s" % (tier, zone, vpc, tier, body))
    W["port"] = 53 if NETNS else 15353
    listen = sorted({a for servers in W["dns"].values() for a in servers}) if NETNS else ["127.0.0.1"]
    W["listen"] = listen
    conf = """; made by tests/provision/test_aws_e2e.py
[server]
listen = %s
workers = 2
recursion = no
allow = %s
pidfile = %s

[aws]
region = %s
max_attempts = 3

[sync]
state_dir = %s
max_delete_ratio = 0.3
tier_tag = Tier

""" % (", ".join("%s:%d" % (a, W["port"]) for a in listen), server_allow(policy),
       os.path.join(TMP, "vpcdnsd.pid"), REGION, STATE_DIR)
    with open(CONF, "w") as f:
        f.write(conf + policy)
    p = run([ARGS.vpcdnsd, "-t", "-c", CONF], "vpcdnsd -t", expect=None)
    check(p.returncode == 0, "vpcdnsd -t rejects the configuration (%d):\n%s%s" %
          (p.returncode, p.stdout, p.stderr))


def test_sync_once():
    p = sync()
    for zone in all_zones():
        check(re.search(r"(?m)^zone %s: \d+ records, " % re.escape(zone), p.stdout),
              "sync printed no result for %s:\n%s" % (zone, p.stdout))
        st = status(zone)
        check(st.get("ok") == "yes" and st.get("last_error") == "", "%s status: %s" % (zone, st))
    check("skipped" not in p.stderr and "no Tier tag" not in p.stderr,
          "sync skipped records:\n%s" % p.stderr)


def names_in(zone):
    return {o for (o, t) in read_snapshot(zone) if t not in ("SOA", "NS")}


def test_snapshots():
    prod = read_snapshot("prod.internal")
    check(prod.get(("api.prod.internal.", "A")) == {"10.1.10.20"}, "api.prod.internal: %s" %
          prod.get(("api.prod.internal.", "A")))
    check(prod.get(("dbalias.prod.internal.", "CNAME")) == {"db-1.persistence.prod.internal."},
          "dbalias: %s" % prod.get(("dbalias.prod.internal.", "CNAME")))
    want = {
        "public.prod.internal": {("lb-1.public.prod.internal.", "A"): {"10.1.0.10"}},
        "private.prod.internal": {("web-1.private.prod.internal.", "A"): {"10.1.10.10"},
                                  ("web-2.private.prod.internal.", "A"): {"10.1.11.10"},
                                  ("dns-1.private.prod.internal.", "A"): {"10.1.10.53"}},
        "persistence.prod.internal": {("db-1.persistence.prod.internal.", "A"): {"10.1.20.10"},
                                      # a Route 53 record below the tier lands in the tier zone
                                      ("legacy.persistence.prod.internal.", "A"): {"10.1.20.99"},
                                      ("orders.persistence.prod.internal.", "CNAME"):
                                      {"orders.c0vpcdnsfake.%s.rds.amazonaws.com." % REGION}},
        "public.mgmt.internal": {("bastion-1.public.mgmt.internal.", "A"): {"10.0.0.10"}},
        "private.mgmt.internal": {("ops-1.private.mgmt.internal.", "A"): {"10.0.10.10"},
                                  ("dns-1.private.mgmt.internal.", "A"): {"10.0.10.53"}},
        "persistence.mgmt.internal": {},
        "public.dev.internal": {},
        "private.dev.internal": {("app-1.private.dev.internal.", "A"): {"10.2.10.10"}},
        "persistence.dev.internal": {("dev-db-1.persistence.dev.internal.", "A"): {"10.2.20.10"},
                                     ("devorders.persistence.dev.internal.", "CNAME"):
                                     {"devorders.c0vpcdnsfake.%s.rds.amazonaws.com." % REGION}},
    }
    for zone, records in want.items():
        got = {k: v for k, v in read_snapshot(zone).items() if k[1] not in ("SOA", "NS")}
        check(got == records, "snapshot %s:\n  got  %s\n  want %s" % (zone, sorted(got.items()),
                                                                     sorted(records.items())))
    # No name of another tier or environment, no ip-/id- names anywhere, no stopped instance.
    for zone in all_zones():
        for owner in names_in(zone):
            check(owner.endswith("." + zone + "."), "%s holds %s" % (zone, owner))
            first = owner.split(".")[0]
            check(not first.startswith("ip-") and not re.match(r"i-[0-9a-f]{8,}", first),
                  "%s publishes %s (an ip-/id- name lists every tier)" % (zone, owner))
            check(not first.startswith("old-"), "%s publishes the stopped instance: %s" % (zone, owner))
    for zone in ENVS.values():
        leaked = [o for o in names_in(zone) if any(o.startswith(h + ".") for h in INSTANCES)]
        check(not leaked, "environment zone %s holds instance names %s" % (zone, leaked))


def need_netns():
    if not NETNS:
        raise Skip("needs addresses inside the VPCs on lo (root and unshare -n)")


def clients():
    """Source address of a host per ENV-TIER (lb-1, web-1, db-1, ops-1, app-1, ...)."""
    return W["clients"]


def expected(client, name):
    """What the reference network's policy says client ENV-TIER gets for name (written out by hand
    from README "The zone policy", not from policy.c)."""
    sees_tier = {"public": {"public"}, "private": {"public", "private", "persistence"},
                 "persistence": {"private", "persistence"}}
    sees_env = {"management": {"management", "production", "development"},
                "production": {"production"}, "development": {"development"}}
    env, tier = client.rsplit("-", 1) if client != "outside" else (None, None)
    answers = {"web-1.private.prod.internal": "10.1.10.10", "db-1.persistence.prod.internal": "10.1.20.10",
               "lb-1.public.prod.internal": "10.1.0.10", "api.prod.internal": "10.1.10.20",
               "orders.persistence.prod.internal":
               "CNAME orders.c0vpcdnsfake.%s.rds.amazonaws.com." % REGION,
               "app-1.private.dev.internal": "10.2.10.10", "dev-db-1.persistence.dev.internal": "10.2.20.10",
               "ops-1.private.mgmt.internal": "10.0.10.10", "bastion-1.public.mgmt.internal": "10.0.0.10",
               "nosuch.persistence.prod.internal": "NXDOMAIN", "nosuch.prod.internal": "NXDOMAIN"}
    zone_env = {"prod.internal": "production", "dev.internal": "development", "mgmt.internal": "management"}
    labels = name.split(".")
    base = ".".join(labels[-2:])
    ztier = labels[-3] if len(labels) >= 4 and labels[-3] in TIERS else None
    if env is None or zone_env[base] not in sees_env[env]:
        return "REFUSED"
    if ztier is not None and ztier not in sees_tier[tier]:
        return "REFUSED"
    return answers[name]


QUESTIONS = ["web-1.private.prod.internal", "db-1.persistence.prod.internal", "lb-1.public.prod.internal",
             "api.prod.internal", "orders.persistence.prod.internal", "app-1.private.dev.internal",
             "dev-db-1.persistence.dev.internal", "ops-1.private.mgmt.internal",
             "bastion-1.public.mgmt.internal", "nosuch.persistence.prod.internal", "nosuch.prod.internal"]


def server_of(client):
    if client == "outside":
        return W["dns"]["production"][0]
    return W["dns"][client.rsplit("-", 1)[0]][0]


def test_start_vpcdnsd():
    need_netns()
    start_daemon()


def test_policy_matrix():
    need_netns()
    bad = []
    n = 0
    for client, src in sorted(clients().items()):
        for name in QUESTIONS:
            want = expected(client, name)
            try:
                got = outcome(ask(server_of(client), name, src))
            except Exception as e:
                got = "no answer (%r)" % e
            n += 1
            if got != want:
                bad.append("%s (%s) asks %s: got %s, policy says %s" % (client, src, name, got, want))
    check(not bad, "%d of %d answers differ from the policy:\n  %s" % (len(bad), n, "\n  ".join(bad)))
    vlog("%d questions, every answer as the policy says" % n)


def test_spot_checks():
    """The brief's cases, spelled out (the matrix covers them too)."""
    need_netns()
    c = clients()
    p = W["dns"]["production"][0]
    cases = [(c["production-private"], "web-1.private.prod.internal", "10.1.10.10"),
             (c["production-private"], "db-1.persistence.prod.internal", "10.1.20.10"),
             (c["production-private"], "lb-1.public.prod.internal", "10.1.0.10"),
             (c["production-private"], "api.prod.internal", "10.1.10.20"),
             (c["production-public"], "db-1.persistence.prod.internal", "REFUSED"),
             (c["production-private"], "legacy.persistence.prod.internal", "10.1.20.99"),
             (c["production-public"], "legacy.persistence.prod.internal", "REFUSED"),
             (c["production-public"], "web-1.private.prod.internal", "REFUSED"),
             (c["production-public"], "lb-1.public.prod.internal", "10.1.0.10"),
             (c["management-private"], "web-1.private.prod.internal", "10.1.10.10"),
             (c["development-private"], "web-1.private.prod.internal", "REFUSED"),
             (c["development-private"], "api.prod.internal", "REFUSED"),
             (c["development-private"], "app-1.private.dev.internal", "10.2.10.10"),
             (OUTSIDE, "lb-1.public.prod.internal", "REFUSED"),
             (OUTSIDE, "api.prod.internal", "REFUSED"),
             (OUTSIDE, "app-1.private.dev.internal", "REFUSED")]
    for src, name, want in cases:
        server = W["dns"]["development"][0] if src == c["development-private"] else p
        got = outcome(ask(server, name, src))
        check(got == want, "%s asks %s: got %s, wanted %s" % (src, name, got, want))
    # The same over TCP
    got = outcome(ask(p, "db-1.persistence.prod.internal", c["production-public"], tcp=True))
    check(got == "REFUSED", "public host over TCP gets %s for db-1.persistence" % got)
    got = outcome(ask(p, "db-1.persistence.prod.internal", c["production-private"], tcp=True))
    check(got == "10.1.20.10", "private host over TCP gets %s for db-1.persistence" % got)
    # Authoritative answers, no recursion
    r = ask(p, "web-1.private.prod.internal", c["production-private"])
    check(r.flags & dns.flags.AA and not r.flags & dns.flags.RA, "flags %s" % dns.flags.to_text(r.flags))
    r = ask(p, "www.example.com", c["production-private"])
    check(r.rcode() == dns.rcode.REFUSED, "a name outside the zones (recursion = no): %s" %
          dns.rcode.to_text(r.rcode()))


def test_no_leak_through_cname():
    """A Route 53 record in the environment zone (visible to the public tier) pointing at a
    persistence name must not hand the public tier the persistence address."""
    need_netns()
    c = clients()
    p = W["dns"]["production"][0]
    r = ask(p, "dbalias.prod.internal", c["production-public"])
    addrs = [rd.to_text() for rrset in r.answer if rrset.rdtype == dns.rdatatype.A for rd in rrset]
    vlog("dbalias.prod.internal from the public tier: %s %s" % (dns.rcode.to_text(r.rcode()), outcome(r)))
    check("10.1.20.10" not in addrs, "public host learns db-1's address through dbalias.prod.internal: %s" %
          outcome(r))
    # and the other record types of the hidden zone are hidden too
    for rdtype in ("SOA", "NS", "ANY"):
        r = ask(p, "persistence.prod.internal", c["production-public"], rdtype=rdtype)
        check(r.rcode() == dns.rcode.REFUSED, "public host gets %s for persistence.prod.internal %s" %
              (dns.rcode.to_text(r.rcode()), rdtype))


def test_change_network():
    """web-2 terminated, web-3 launched: sync, vpcdnsd reloads, the names follow."""
    world = dict(INSTANCES)
    del world["web-2"]
    world["web-3"] = ("production-private-2", "10.1.11.30", "running")
    W["world"] = world
    put_world(world, DATABASES)
    p = sync()
    check(re.search(r"(?m)^zone private\.prod\.internal: \d+ records, \+1 -1$", p.stdout),
          "sync of private.prod.internal:\n%s" % p.stdout)
    check(re.search(r"(?m)^-web-2\.private\.prod\.internal\.\s", p.stdout) and
          re.search(r"(?m)^\+web-3\.private\.prod\.internal\.\s", p.stdout), "diff:\n%s" % p.stdout)
    snap = read_snapshot("private.prod.internal")
    check(("web-2.private.prod.internal.", "A") not in snap and
          snap.get(("web-3.private.prod.internal.", "A")) == {"10.1.11.30"}, "snapshot: %s" % snap)
    for zone in all_zones():
        if zone != "private.prod.internal":
            check(re.search(r"(?m)^zone %s: \d+ records, \+0 -0, unchanged$" % re.escape(zone), p.stdout),
                  "%s changed:\n%s" % (zone, p.stdout))
    if not NETNS:
        return
    # vpcdns-sync told vpcdnsd through the pidfile; wait for it to show.
    src, server = clients()["production-private"], W["dns"]["production"][0]
    deadline = time.time() + 5
    while time.time() < deadline:
        if outcome(ask(server, "web-2.private.prod.internal", src)) == "NXDOMAIN":
            break
        time.sleep(0.1)
    check(outcome(ask(server, "web-2.private.prod.internal", src)) == "NXDOMAIN",
          "web-2 still answered 5 s after sync (vpcdns-sync did not get vpcdnsd to reload):\n%s" %
          daemon_log()[-2000:])
    os.kill(DAEMON.pid, signal.SIGHUP)
    time.sleep(0.3)
    check(DAEMON.poll() is None, "vpcdnsd died on SIGHUP:\n%s" % daemon_log()[-3000:])
    for name, want in (("web-2.private.prod.internal", "NXDOMAIN"), ("web-3.private.prod.internal", "10.1.11.30"),
                       ("web-1.private.prod.internal", "10.1.10.10")):
        got = outcome(ask(server, name, src))
        check(got == want, "after the reload %s: %s, wanted %s" % (name, got, want))
    got = outcome(ask(server, "web-3.private.prod.internal", clients()["production-public"]))
    check(got == "REFUSED", "public host gets %s for the new web-3.private" % got)


def test_last_of_a_tier():
    """lb-1, the only name of public.prod.internal, terminated: more than max_delete_ratio of the
    zone, so sync refuses (the old snapshot stays served) until --force."""
    world = dict(W["world"])
    del world["lb-1"]
    W["world"] = world
    put_world(world, DATABASES)
    before = read_snapshot("public.prod.internal")
    p = sync(expect=1)
    check("refusing to delete" in p.stderr, "sync did not refuse:\n%s%s" % (p.stdout, p.stderr))
    check(read_snapshot("public.prod.internal") == before, "the refused snapshot changed")
    check(status("public.prod.internal").get("ok") == "no", "status says ok after a refusal")
    if NETNS:
        got = outcome(ask(W["dns"]["production"][0], "lb-1.public.prod.internal", clients()["production-public"]))
        check(got == "10.1.0.10", "after the refused sync lb-1: %s" % got)
    p = sync("--force")
    check(("lb-1.public.prod.internal.", "A") not in read_snapshot("public.prod.internal"),
          "lb-1 still in the snapshot after --force")
    check(status("public.prod.internal").get("ok") == "yes", "status after --force: %s" %
          status("public.prod.internal"))
    if NETNS:
        src, server = clients()["production-public"], W["dns"]["production"][0]
        deadline = time.time() + 5
        while time.time() < deadline and outcome(ask(server, "lb-1.public.prod.internal", src)) != "NXDOMAIN":
            time.sleep(0.1)
        got = outcome(ask(server, "lb-1.public.prod.internal", src))
        check(got == "NXDOMAIN", "lb-1 after the forced sync: %s" % got)
        # an empty zone still answers (SOA, no names), and still REFUSES whom it should
        r = ask(server, "public.prod.internal", src, rdtype="SOA")
        check(r.rcode() == dns.rcode.NOERROR and r.answer, "SOA of the emptied zone: %s" % outcome(r))


def test_stop_vpcdnsd():
    need_netns()
    stop_daemon()


def test_destroy_with_instance_left():
    """The AWS backend builds the network, not instances: with one still in a subnet destroy
    refuses before deleting anything, and a later destroy, once it is gone, finishes."""
    put_world({"web-1": INSTANCES["web-1"]}, {})
    p = provision("destroy", expect=None)
    check(p.returncode == 1, "destroy with an instance in a subnet exited %d:\n%s%s" %
          (p.returncode, p.stdout, p.stderr))
    check("still has instances" in p.stderr and "Nothing was deleted" in p.stderr,
          "destroy's error does not name the instances:\n%s" % p.stderr)
    check("- delete" not in p.stdout, "destroy deleted things first:\n%s" % p.stdout)
    p = provision("plan")
    check(p.stdout.strip() == "No changes.", "the network changed:\n%s" % p.stdout)
    vlog("destroy with web-1 left: %s" % p.stderr.strip())


def test_destroy():
    put_world({}, {})
    provision("destroy")
    q = urllib.parse.urlencode([("live", "1"), ("tag", "vpcdns:stack=" + STACK)])
    left = control("GET", "/_fake/resources?" + q)
    left = {k: [r.get("Id") for r in v] for k, v in left.items() if v}
    check(not left, "left behind: %s" % left)
    p = provision("destroy")
    check(p.stdout.strip() == "No changes.", "a second destroy:\n%s" % p.stdout)


# name, function, a failure stops what follows (but the always steps)
TESTS = [("apply", test_apply, True), ("network_as_built", test_network_as_built, True),
         ("instances", test_instances, True), ("route53_record", test_route53_record, True),
         ("config", test_config, True), ("sync_once", test_sync_once, True),
         ("snapshots", test_snapshots, False), ("start_vpcdnsd", test_start_vpcdnsd, True),
         ("policy_matrix", test_policy_matrix, False), ("spot_checks", test_spot_checks, False),
         ("no_leak_through_cname", test_no_leak_through_cname, False),
         ("change_network", test_change_network, False), ("last_of_a_tier", test_last_of_a_tier, False),
         ("stop_vpcdnsd", test_stop_vpcdnsd, False),
         ("destroy_with_instance_left", test_destroy_with_instance_left, False),
         ("destroy", test_destroy, False)]
ALWAYS = {"stop_vpcdnsd", "destroy_with_instance_left", "destroy"}


def setup_addresses():
    """In the private namespace: the clients' and the servers' addresses on lo."""
    W["clients"] = {"production-public": "10.1.0.10", "production-private": "10.1.10.10",
                    "production-persistence": "10.1.20.10", "management-public": "10.0.0.10",
                    "management-private": "10.0.10.10", "development-private": "10.2.10.10",
                    "development-persistence": "10.2.20.10", "outside": OUTSIDE}
    if not NETNS:
        return
    addrs = set(W["clients"].values()) | {"10.0.10.53", "10.1.10.53"}
    for a in sorted(addrs):
        subprocess.run(["ip", "addr", "add", a + "/32", "dev", "lo"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def on_alarm(signum, frame):
    raise Timeout("the test ran longer than --timeout %d s" % ARGS.timeout)


def run_all():
    global TMP, STACK, INI, CONF, STATE_DIR, DAEMON_LOG
    TMP = tempfile.mkdtemp(prefix="vpcdns-e2e-aws.")
    STACK = "e2e-%d-%s" % (os.getpid(), hashlib.sha1(TMP.encode()).hexdigest()[:6])
    INI = os.path.join(TMP, "network.ini")
    CONF = os.path.join(TMP, "vpcdns.ini")
    STATE_DIR = os.path.join(TMP, "state")
    DAEMON_LOG = os.path.join(TMP, "vpcdnsd.log")
    passed = failed = skipped = 0
    t_all = time.time()
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(ARGS.timeout)
    stopped = None
    try:
        setup_addresses()
        start_fake()
        vlog("stack %s, fake %s, files in %s, netns %s" % (STACK, URL, TMP, NETNS))
        for name, fn, critical in TESTS:
            if stopped and name not in ALWAYS:
                print("skip %s: after %s failed" % (name, stopped), flush=True)
                skipped += 1
                continue
            t0 = time.time()
            try:
                fn()
                passed += 1
                print("ok %s (%.1fs)" % (name, time.time() - t0), flush=True)
            except Skip as e:
                skipped += 1
                print("skip %s: %s" % (name, e), flush=True)
            except TestFailure as e:
                failed += 1
                print("FAIL %s: %s" % (name, e), flush=True)
                stopped = stopped or (name if critical else None)
            except Timeout as e:
                failed += 1
                print("FAIL %s: %s" % (name, e), flush=True)
                break
            except Exception:
                failed += 1
                print("FAIL %s: %s" % (name, traceback.format_exc()), flush=True)
                stopped = stopped or (name if critical else None)
    except Exception:
        failed += 1
        print("FAIL setup: %s" % traceback.format_exc(), flush=True)
    finally:
        signal.alarm(0)
        if DAEMON is not None and DAEMON.poll() is None:
            stop_proc(DAEMON)
            log = daemon_log()
            if any(s in log for s in SANITIZER):
                failed += 1
                print("FAIL vpcdnsd_exit: sanitizer report in %s" % DAEMON_LOG, flush=True)
        stop_proc(FAKE_PROC)
        if ARGS.keep or failed:
            print("# files kept in %s" % TMP)
        else:
            shutil.rmtree(TMP, ignore_errors=True)
    if skipped:
        print("# %d skipped" % skipped)
    print("# total %.1fs" % (time.time() - t_all))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def main():
    global ARGS, NETNS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--provision", default=os.path.join(ROOT, "bin", "vpcdns-provision"))
    ap.add_argument("--sync", default=os.path.join(ROOT, "bin", "vpcdns-sync"))
    ap.add_argument("--vpcdnsd", default=os.path.join(ROOT, "bin", "vpcdnsd"))
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--no-netns", action="store_true", help="do not move into a network namespace")
    ap.add_argument("--timeout", type=int, default=170, help="seconds for the whole run")
    ARGS = ap.parse_args()
    for attr in ("provision", "sync", "vpcdnsd"):
        path = os.path.abspath(getattr(ARGS, attr))
        setattr(ARGS, attr, path)
        if not os.access(path, os.X_OK):
            print("FAIL setup: not executable: %s (run make)" % path)
            print("0 passed, 1 failed")
            return 1
    if os.environ.get(NETNS_FLAG) == "1":
        NETNS = True
    elif not ARGS.no_netns and os.geteuid() == 0 and shutil.which("unshare") and shutil.which("ip"):
        probe = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if probe.returncode == 0:
            env = dict(os.environ, **{NETNS_FLAG: "1"})
            argv = [sys.executable, os.path.abspath(__file__), "--provision", ARGS.provision,
                    "--sync", ARGS.sync, "--vpcdnsd", ARGS.vpcdnsd, "--timeout", str(ARGS.timeout)]
            argv += (["-v"] if ARGS.verbose else []) + (["--keep"] if ARGS.keep else [])
            sys.stdout.flush()
            return subprocess.call(["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"']
                                   + argv, env=env)
    return run_all()


if __name__ == "__main__":
    sys.exit(main())
