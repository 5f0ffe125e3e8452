#!/usr/bin/python3
"""End-to-end test of the AWS backend of vpcdns-provision against the fake AWS endpoint.

Run:  /usr/bin/python3 tests/provision/test_provision_aws.py [--provision bin/vpcdns-provision]
                                                             [-k SUBSTRING] [-v] [--keep]

It starts tests/aws/fake_aws.py on loopback (a process of its own, with a state
file), points vpcdns-provision at it (AWS_ENDPOINT_URL, keys in the environment,
no AWS_REGION: the region comes from the network file) and provisions the
reference network (contrib/provision/examples/reference.ini): plan, apply,
plan and apply again (no change, no mutating call), what was built as the real
AWS CLI (/usr/bin/aws --endpoint-url) and the fake's state show it, a changed
network, a removed environment, an apply broken halfway and finished by the
next, a destroy that leaves nothing tagged, errors from AWS and from the file.

The tests run in order, each on what the one before left. Each prints
`ok NAME` or `FAIL NAME: reason`; the last line is `N passed, M failed`; exit
status 1 if anything failed.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
from reference import reference_text  # noqa: E402
REFERENCE = os.path.join(ROOT, "contrib", "provision", "examples", "reference.ini")
FAKE = os.path.join(ROOT, "tests", "aws", "fake_aws.py")
SANITIZER = ("AddressSanitizer", "runtime error:", "LeakSanitizer")

STACK = "vpcdns-ref"
REGION = "eu-west-1"
ACCESS_KEY = "AKIDVPCDNSTEST000001"
SECRET_KEY = "vpcdns/Test+Secret/Key0000000000000000000"
ENVS = {"management": ("10.0.0.0/16", "mgmt.internal", ["10.0.10.53"]),
        "production": ("10.1.0.0/16", "prod.internal", ["10.1.10.53"]),
        "development": ("10.2.0.0/16", "dev.internal", ["10.0.10.53"])}
# Describe calls answer with live resources; deleted NAT gateways and peering
# connections stay listed for an hour (as on AWS) and are not "left behind".
FINAL_STATES = ("deleted", "rejected", "failed", "expired")

ARGS = None
TMP = None
INI = None
URL = None
FAKE_PROC = None


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def vlog(msg):
    if ARGS.verbose:
        print("   " + msg.replace("\n", "\n   "))


# ---- the fake ----------------------------------------------------------------------

def start_fake():
    global FAKE_PROC, URL
    state = os.path.join(TMP, "state.json")
    with open(state, "w") as f:
        json.dump({"Account": "123456789012", "Region": REGION,
                   "Settings": {"NatGatewayPendingPolls": 1, "NatGatewayDeletingPolls": 1,
                                "VpcPeeringProvisioningPolls": 1}}, f)
    port_file = os.path.join(TMP, "port")
    log = open(os.path.join(TMP, "fake.log"), "w")
    FAKE_PROC = subprocess.Popen(["/usr/bin/python3", FAKE, "--port", "0", "--port-file", port_file,
                                  "--state", state], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    deadline = time.time() + 20
    while time.time() < deadline:
        if os.path.exists(port_file) and open(port_file).read().strip():
            URL = "http://127.0.0.1:%s" % open(port_file).read().strip()
            if control("GET", "/_fake/health").get("ok"):
                return
        if FAKE_PROC.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError("fake_aws did not start (see %s/fake.log)" % TMP)


def stop_fake():
    if FAKE_PROC is not None and FAKE_PROC.poll() is None:
        FAKE_PROC.terminate()
        try:
            FAKE_PROC.wait(timeout=10)
        except subprocess.TimeoutExpired:
            FAKE_PROC.kill()
            FAKE_PROC.wait()


def control(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(URL + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=20) as r:
        raw = r.read()
    return json.loads(raw) if raw else {}


def fake_state():
    return control("GET", "/_fake/state")


def fault(rule):
    control("POST", "/_fake/faults", rule)


def log_since(n):
    out = control("GET", "/_fake/log?since=%d" % n)
    return out if isinstance(out, list) else out.get("log", out.get("entries", []))


def log_mark():
    entries = log_since(0)
    return max([e.get("n", 0) for e in entries] + [0])


def mutating(entries):
    return [e for e in entries
            if e.get("action") and not re.match(r"(Describe|List|Get)", e["action"])]


# ---- the programs --------------------------------------------------------------------

def base_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.update({"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                "AWS_CONFIG_FILE": os.path.join(TMP, "no-config"),
                "AWS_SHARED_CREDENTIALS_FILE": os.path.join(TMP, "no-credentials"),
                "AWS_EC2_METADATA_DISABLED": "true", "HOME": TMP, "NO_PROXY": "127.0.0.1"})
    return env


def provision(cmd, expect=0, ini=None, timeout=120):
    env = base_env()
    env["AWS_ENDPOINT_URL"] = URL
    env["VPCDNS_PROVISION_POLL_MS"] = "50"
    argv = [ARGS.provision, cmd, "-f", ini or INI, "--backend", "aws", "--wait", "30"]
    t0 = time.time()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    vlog("$ %s -> %d (%.1fs)\n%s%s" % (" ".join(argv[1:]), p.returncode, time.time() - t0,
                                       p.stdout, p.stderr))
    for s in SANITIZER:
        check(s not in p.stderr, "sanitizer report from %s:\n%s" % (cmd, p.stderr))
    check(p.returncode >= 0, "%s died of signal %d:\n%s" % (cmd, -p.returncode, p.stderr))
    if expect is not None:
        check(p.returncode == expect, "%s exited %d (wanted %d):\n%s%s" %
              (cmd, p.returncode, expect, p.stdout, p.stderr))
    return p


def aws_cli(*args):
    env = base_env()
    env.update({"AWS_DEFAULT_REGION": REGION, "AWS_PAGER": ""})
    argv = ["/usr/bin/aws", "--endpoint-url", URL, "--output", "json"] + list(args)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    check(p.returncode == 0, "aws %s exited %d:\n%s" % (" ".join(args), p.returncode, p.stderr))
    return json.loads(p.stdout) if p.stdout.strip() else {}


def ec2_tagged(command, key):
    option = "--filter" if command == "describe-nat-gateways" else "--filters"  # the CLI's spelling
    out = aws_cli("ec2", command, option, "Name=tag:vpcdns:stack,Values=" + STACK)
    items = out.get(key, [])
    return [x for x in items
            if x.get("State") not in FINAL_STATES and x.get("Status", {}).get("Code") not in FINAL_STATES]


def tag(obj, key):
    for t in obj.get("Tags", []) or []:
        if t["Key"] == key:
            return t["Value"]
    return None


def write_ini(text=None, **subs):
    """The reference network under our stack name, with lines replaced ("old" -> "new")."""
    text, missing = reference_text(STACK, text, **subs)
    check(not missing, "reference.ini has no %r" % missing)
    with open(INI, "w") as f:
        f.write(text)


def steps(out, op=None):
    lines = [ln for ln in out.splitlines() if re.match(r"[+~-] (create|change|delete) ", ln)]
    return [ln for ln in lines if op is None or ln.startswith(op)]


def summary(out):
    m = re.search(r"(?m)^(\w+): (\d+) to create, (\d+) to change, (\d+) to delete\.$", out)
    if m is None:
        check("No changes." in out, "no summary line in:\n%s" % out)
        return (0, 0, 0)
    return tuple(int(x) for x in m.groups()[1:])


def zones_of_stack():
    out = aws_cli("route53", "list-hosted-zones")
    return [z for z in out.get("HostedZones", [])
            if z.get("CallerReference", "").startswith("vpcdns:%s:" % STACK)]


def ids_by_name(items, id_key):
    return {tag(x, "vpcdns:name"): x[id_key] for x in items}


def assert_nothing_left():
    left = {}
    for command, key in (("describe-vpcs", "Vpcs"), ("describe-subnets", "Subnets"),
                         ("describe-internet-gateways", "InternetGateways"),
                         ("describe-addresses", "Addresses"), ("describe-nat-gateways", "NatGateways"),
                         ("describe-route-tables", "RouteTables"),
                         ("describe-security-groups", "SecurityGroups"),
                         ("describe-dhcp-options", "DhcpOptions"),
                         ("describe-vpc-peering-connections", "VpcPeeringConnections")):
        items = ec2_tagged(command, key)
        if items:
            left[command] = [tag(x, "vpcdns:name") for x in items]
    zones = zones_of_stack()
    if zones:
        left["hosted zones"] = [z["Name"] for z in zones]
    check(not left, "left behind: %s" % left)


def assert_built():
    """The reference network as the fake holds it: counts, tags, no duplicates."""
    vpcs = ec2_tagged("describe-vpcs", "Vpcs")
    check(sorted(tag(v, "vpcdns:name") for v in vpcs) == sorted(ENVS), "vpcs: %s" %
          [tag(v, "vpcdns:name") for v in vpcs])
    subnets = ec2_tagged("describe-subnets", "Subnets")
    check(len(subnets) == 18, "%d subnets, wanted 18" % len(subnets))
    names = [tag(s, "vpcdns:name") for s in subnets]
    check(len(set(names)) == 18, "duplicate subnets: %s" % names)
    check(len(ec2_tagged("describe-nat-gateways", "NatGateways")) == 3, "NAT gateways")
    check(len(ec2_tagged("describe-route-tables", "RouteTables")) == 9, "route tables")
    check(len(ec2_tagged("describe-vpc-peering-connections", "VpcPeeringConnections")) == 2, "peering")
    check(len(zones_of_stack()) == 3, "hosted zones: %s" % [z["Name"] for z in zones_of_stack()])


# ---- tests ----------------------------------------------------------------------------

def test_broken_ini():
    bad = os.path.join(TMP, "broken.ini")
    with open(REFERENCE) as f:
        text = f.read().replace("cidr = 10.1.0.0/16", "cidr = 10.1.0.0/33")
    with open(bad, "w") as f:
        f.write(text)
    line = text.splitlines().index("cidr = 10.1.0.0/33") + 1
    mark = log_mark()
    p = provision("plan", expect=None, ini=bad)
    check(p.returncode != 0, "plan of a broken file exited 0")
    check("%s:%d:" % (bad, line) in p.stderr, "no %s:%d in:\n%s" % (bad, line, p.stderr))
    check(not log_since(mark), "a broken file still called AWS")


def test_plan_fresh():
    mark = log_mark()
    p = provision("plan")
    out = p.stdout
    for want in ("+ create vpc management (10.0.0.0/16)",
                 "+ create subnet production-public-1 (10.1.0.0/24 in eu-west-1a)",
                 "+ create internet-gateway production",
                 "+ create nat-gateway development",
                 "+ create dhcp-options development (domain-name-servers 10.0.10.53; "
                 "domain-name dev.internal)",
                 "+ create peering management-production",
                 "+ create route-table production-persistence-rt",
                 "+ create security-group management-vpcdnsd",
                 "+ create hosted-zone production (prod.internal"):
        check(want in out, "plan lacks %r:\n%s" % (want, out))
    check("security-group development-vpcdnsd" not in out,
          "development hosts no vpcdnsd but gets a vpcdnsd group")
    check(not steps(out, "-") and not steps(out, "~"), "a fresh plan changes or deletes:\n%s" % out)
    created, changed, deleted = summary(out)
    check(created == len(steps(out)) and created > 40, "summary %s vs %d steps" %
          ((created, changed, deleted), len(steps(out))))
    check(not mutating(log_since(mark)), "plan made changes: %s" %
          [e["action"] for e in mutating(log_since(mark))])


def test_apply_fresh():
    plan = provision("plan").stdout
    p = provision("apply")
    check(summary(p.stdout) == summary(plan), "apply did %s, plan said %s" %
          (summary(p.stdout), summary(plan)))
    check(steps(p.stdout) == steps(plan), "apply steps differ from the plan:\n%s" % p.stdout)
    for env in ENVS:
        check(re.search(r"(?m)^%s: vpc vpc-\w+, hosted zone Z\w+" % env, p.stdout),
              "no ids for %s:\n%s" % (env, p.stdout))
    assert_built()


def test_plan_no_changes():
    p = provision("plan")
    check(p.stdout.strip().endswith("No changes."), "second plan:\n%s" % p.stdout)
    check(not steps(p.stdout), "second plan has steps:\n%s" % p.stdout)


def test_apply_again_no_calls():
    mark = log_mark()
    p = provision("apply")
    check("No changes." in p.stdout and not steps(p.stdout), "second apply:\n%s" % p.stdout)
    calls = mutating(log_since(mark))
    check(not calls, "second apply made calls: %s" % [e["action"] for e in calls])


def test_cli_describe():
    vpcs = {tag(v, "vpcdns:name"): v for v in ec2_tagged("describe-vpcs", "Vpcs")}
    for env, (cidr, zone, dns) in ENVS.items():
        check(vpcs[env]["CidrBlock"] == cidr, "%s cidr %s" % (env, vpcs[env]["CidrBlock"]))
        check(tag(vpcs[env], "Name") == env, "%s Name tag" % env)
        for attr in ("enableDnsSupport", "enableDnsHostnames"):
            out = aws_cli("ec2", "describe-vpc-attribute", "--vpc-id", vpcs[env]["VpcId"],
                          "--attribute", attr)
            key = attr[0].upper() + attr[1:]
            check(out[key]["Value"] is True, "%s %s: %s" % (env, attr, out))
    subnets = {tag(s, "vpcdns:name"): s for s in ec2_tagged("describe-subnets", "Subnets")}
    s = subnets["production-persistence-2"]
    check(s["CidrBlock"] == "10.1.21.0/24" and s["AvailabilityZone"] == "eu-west-1b" and
          s["VpcId"] == vpcs["production"]["VpcId"], "production-persistence-2: %s" % s)
    opts = {o["DhcpOptionsId"]: o for o in ec2_tagged("describe-dhcp-options", "DhcpOptions")}
    check(len(opts) == 3, "%d DHCP option sets" % len(opts))
    for env, (cidr, zone, dns) in ENVS.items():
        o = opts.get(vpcs[env]["DhcpOptionsId"])
        check(o is not None, "%s is not on its DHCP options (%s)" % (env, vpcs[env]["DhcpOptionsId"]))
        conf = {c["Key"]: [v["Value"] for v in c["Values"]] for c in o["DhcpConfigurations"]}
        check(conf == {"domain-name-servers": dns, "domain-name": [zone]},
              "%s DHCP options %s" % (env, conf))


def test_routes_and_rules():
    st = fake_state()
    vpcs = {tag(v, "vpcdns:name"): v["VpcId"] for v in st["Vpcs"] if tag(v, "vpcdns:stack") == STACK}
    igws = {tag(g, "vpcdns:name"): g for g in st["InternetGateways"] if tag(g, "vpcdns:stack") == STACK}
    nats = {tag(n, "vpcdns:name"): n for n in st["NatGateways"]
            if tag(n, "vpcdns:stack") == STACK and n["State"] == "available"}
    pcx = {tag(p, "vpcdns:name"): p for p in st["VpcPeeringConnections"]
           if tag(p, "vpcdns:stack") == STACK and p["Status"]["Code"] == "active"}
    subnets = {tag(s, "vpcdns:name"): s["SubnetId"] for s in st["Subnets"]
               if tag(s, "vpcdns:stack") == STACK}
    check(set(pcx) == {"management-production", "management-development"}, "peering: %s" % list(pcx))
    for env in ENVS:
        check([a["VpcId"] for a in igws[env]["Attachments"]] == [vpcs[env]], "%s igw" % env)
        check(nats[env]["SubnetId"] == subnets[env + "-public-1"], "%s NAT subnet" % env)
    rts = {tag(r, "vpcdns:name"): r for r in st["RouteTables"] if tag(r, "vpcdns:stack") == STACK}

    def routes(name):
        return {r["DestinationCidrBlock"]: r.get("GatewayId") or r.get("NatGatewayId") or
                r.get("VpcPeeringConnectionId") for r in rts[name]["Routes"]}

    def assoc(name):
        return sorted(a["SubnetId"] for a in rts[name]["Associations"] if not a.get("Main"))

    pp = pcx["management-production"]["VpcPeeringConnectionId"]
    pd = pcx["management-development"]["VpcPeeringConnectionId"]
    check(routes("production-public-rt") == {"10.1.0.0/16": "local", "0.0.0.0/0":
                                             igws["production"]["InternetGatewayId"],
                                             "10.0.0.0/16": pp},
          "production-public-rt: %s" % routes("production-public-rt"))
    check(routes("production-private-rt")["0.0.0.0/0"] == nats["production"]["NatGatewayId"],
          "production-private-rt: %s" % routes("production-private-rt"))
    check("0.0.0.0/0" not in routes("production-persistence-rt"), "persistence has a default route")
    check(routes("management-persistence-rt") == {"10.0.0.0/16": "local", "10.1.0.0/16": pp,
                                                  "10.2.0.0/16": pd},
          "management-persistence-rt: %s" % routes("management-persistence-rt"))
    check(assoc("development-private-rt") == sorted([subnets["development-private-1"],
                                                    subnets["development-private-2"]]),
          "development-private-rt associations")
    sgs = {tag(g, "vpcdns:name"): g for g in st["SecurityGroups"] if tag(g, "vpcdns:stack") == STACK}
    check("development-vpcdnsd" not in sgs and "management-vpcdnsd" in sgs, "vpcdnsd groups: %s" %
          sorted(sgs))

    def rules(name):
        out = set()
        for p in sgs[name]["IpPermissions"]:
            for r in p.get("IpRanges", []):
                out.add((p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), r["CidrIp"]))
        return out

    want = {(proto, 53, 53, cidr) for proto in ("udp", "tcp")
            for cidr in ("10.0.0.0/16", "10.1.0.0/16", "10.2.0.0/16")}
    check(rules("management-vpcdnsd") == want, "management-vpcdnsd: %s" % rules("management-vpcdnsd"))
    # production's persistence: its private and persistence tiers, and management's (which sees it)
    want = {("tcp", 0, 65535, c) for c in ("10.1.10.0/24", "10.1.11.0/24", "10.1.20.0/24", "10.1.21.0/24",
                                           "10.0.10.0/24", "10.0.11.0/24", "10.0.20.0/24", "10.0.21.0/24")}
    check(rules("production-persistence") == want,
          "production-persistence: %s" % sorted(rules("production-persistence")))


def test_hosted_zones():
    zones = {z["Name"]: z for z in zones_of_stack()}
    check(set(zones) == {"mgmt.internal.", "prod.internal.", "dev.internal."}, "zones: %s" % list(zones))
    vpcs = {tag(v, "vpcdns:name"): v["VpcId"] for v in ec2_tagged("describe-vpcs", "Vpcs")}
    want = {"mgmt.internal.": {vpcs["management"]},
            "prod.internal.": {vpcs["production"], vpcs["management"]},
            "dev.internal.": {vpcs["development"], vpcs["management"]}}
    for name, z in zones.items():
        check(z["Config"]["PrivateZone"] is True, "%s is not private" % name)
        got = aws_cli("route53", "get-hosted-zone", "--id", z["Id"])
        check({v["VPCId"] for v in got.get("VPCs", [])} == want[name], "%s VPCs: %s" %
              (name, got.get("VPCs")))
        tags = aws_cli("route53", "list-tags-for-resource", "--resource-type", "hostedzone",
                       "--resource-id", z["Id"].split("/")[-1])
        kv = {t["Key"]: t["Value"] for t in tags["ResourceTagSet"].get("Tags", [])}
        check(kv.get("vpcdns:stack") == STACK, "%s tags: %s" % (name, kv))


def test_policy_sources():
    env = base_env()
    env["AWS_ENDPOINT_URL"] = URL
    p = subprocess.run([ARGS.provision, "policy", "-f", INI, "--backend", "aws"], capture_output=True,
                       text=True, timeout=60, env=env)
    check(p.returncode == 0, "policy exited %d:\n%s" % (p.returncode, p.stderr))
    for s in SANITIZER:
        check(s not in p.stderr, "sanitizer report from policy:\n%s" % p.stderr)
    for z in zones_of_stack():
        check(z["Id"].split("/")[-1] in p.stdout, "policy lacks zone id %s:\n%s" % (z["Id"], p.stdout))
    for v in ec2_tagged("describe-vpcs", "Vpcs"):
        check(v["VpcId"] in p.stdout, "policy lacks %s:\n%s" % (v["VpcId"], p.stdout))


def test_change_dns():
    write_ini(**{"dns = 10.1.10.53": "dns = 10.1.11.53"})
    plan = provision("plan").stdout
    check(any(s.startswith("~ change dhcp-options production") for s in steps(plan)),
          "no DHCP change in:\n%s" % plan)
    apply = provision("apply").stdout
    check(steps(apply) == steps(plan), "apply differs from plan:\n%s" % apply)
    check(provision("plan").stdout.strip().endswith("No changes."), "no convergence")
    vpc = [v for v in ec2_tagged("describe-vpcs", "Vpcs") if tag(v, "vpcdns:name") == "production"][0]
    opts = [o for o in ec2_tagged("describe-dhcp-options", "DhcpOptions")
            if tag(o, "vpcdns:name") == "production"]
    check(len(opts) == 1 and opts[0]["DhcpOptionsId"] == vpc["DhcpOptionsId"],
          "production DHCP options: %s, vpc on %s" % (opts, vpc["DhcpOptionsId"]))
    conf = {c["Key"]: [v["Value"] for v in c["Values"]] for c in opts[0]["DhcpConfigurations"]}
    check(conf["domain-name-servers"] == ["10.1.11.53"], "new options: %s" % conf)


def test_remove_env():
    with open(REFERENCE) as f:
        text = f.read()
    text = re.sub(r"(?ms)^\[env:development\].*?(?=^\[)", "", text)
    text = re.sub(r"(?ms)^\[host:app-1\].*", "", text)
    text = text.replace("peers = production, development", "peers = production")
    text = text.replace("sees = production, development", "sees = production")
    write_ini(text, **{"dns = 10.1.10.53": "dns = 10.1.11.53"})
    plan = provision("plan").stdout
    for want in ("- delete vpc development", "- delete peering management-development",
                 "- delete hosted-zone development", "- delete nat-gateway development",
                 "- delete route management-private-rt (10.2.0.0/16 via pcx-"):
        check(want in plan, "plan lacks %r:\n%s" % (want, plan))
    check(not steps(plan, "+"), "removing an env creates:\n%s" % plan)
    provision("apply")
    check(provision("plan").stdout.strip().endswith("No changes."), "no convergence")
    names = [tag(v, "vpcdns:name") for v in ec2_tagged("describe-vpcs", "Vpcs")]
    check(sorted(names) == ["management", "production"], "vpcs: %s" % names)
    check(len(zones_of_stack()) == 2, "zones: %s" % [z["Name"] for z in zones_of_stack()])
    sg = [g for g in ec2_tagged("describe-security-groups", "SecurityGroups")
          if tag(g, "vpcdns:name") == "management-vpcdnsd"][0]
    cidrs = {r["CidrIp"] for p in sg["IpPermissions"] for r in p.get("IpRanges", [])}
    check(cidrs == {"10.0.0.0/16", "10.1.0.0/16"}, "management-vpcdnsd still admits %s" % cidrs)


def test_destroy():
    # A record in a zone: destroy must empty the zone before deleting it.
    zone = [z for z in zones_of_stack() if z["Name"] == "prod.internal."][0]
    batch = {"Changes": [{"Action": "CREATE", "ResourceRecordSet": {
        "Name": "web.prod.internal.", "Type": "A", "TTL": 60,
        "ResourceRecords": [{"Value": "10.1.10.10"}]}}]}
    aws_cli("route53", "change-resource-record-sets", "--hosted-zone-id", zone["Id"],
            "--change-batch", json.dumps(batch))
    plan = provision("destroy").stdout
    check(steps(plan) and not steps(plan, "+"), "destroy:\n%s" % plan)
    assert_nothing_left()


def test_destroy_again():
    mark = log_mark()
    p = provision("destroy")
    check(p.stdout.strip() == "No changes.", "second destroy:\n%s" % p.stdout)
    check(not mutating(log_since(mark)), "second destroy made calls")


def test_interrupted_apply():
    write_ini()
    control("POST", "/_fake/reset", {})
    fault({"kind": "error", "service": "ec2", "action": "CreateSubnet", "skip": 2, "count": 1,
           "status": 400, "code": "InvalidParameterValue", "message": "injected by the test"})
    p = provision("apply", expect=None)
    check(p.returncode != 0, "apply with a failing CreateSubnet exited 0:\n%s" % p.stdout)
    check(re.search(r"CreateSubnet \S+: InvalidParameterValue: injected by the test", p.stderr),
          "error message: %r" % p.stderr)
    check("Apply:" not in p.stdout, "a failed apply printed a summary:\n%s" % p.stdout)
    plan = provision("plan").stdout
    check(not steps(plan, "-"), "after a broken apply the plan deletes:\n%s" % plan)
    check("+ create vpc management" not in plan, "the VPC made before the failure is planned again")
    provision("apply")
    check(provision("plan").stdout.strip().endswith("No changes."), "no convergence")
    assert_built()


def test_nat_failure_finished():
    provision("destroy")
    fault({"kind": "error", "service": "ec2", "action": "CreateNatGateway", "skip": 1, "count": 1,
           "status": 400, "code": "InsufficientFreeAddressesInSubnet", "message": "injected by the test"})
    p = provision("apply", expect=None)
    check(p.returncode == 1 and "CreateNatGateway production: InsufficientFreeAddressesInSubnet" in p.stderr,
          "apply did not fail at production's NAT gateway:\n%s" % p.stderr)
    plan = provision("plan").stdout
    check("+ create nat-gateway production" in plan, "plan does not finish the NAT gateway:\n%s" % plan)
    check("elastic-ip production-nat" not in plan, "the address allocated before is not reused:\n%s" % plan)
    provision("apply")
    check(provision("plan").stdout.strip().endswith("No changes."), "no convergence")
    assert_built()
    check(len(ec2_tagged("describe-addresses", "Addresses")) == 3, "addresses: %s" %
          [tag(a, "vpcdns:name") for a in ec2_tagged("describe-addresses", "Addresses")])


def test_destroy_after_failed_apply():
    provision("destroy")
    fault({"kind": "error", "service": "ec2", "action": "AcceptVpcPeeringConnection", "count": 1,
           "status": 400, "code": "OperationNotPermitted", "message": "injected by the test"})
    p = provision("apply", expect=None)
    check(p.returncode == 1 and "AcceptVpcPeeringConnection management-production" in p.stderr,
          "apply did not fail at the peering:\n%s" % p.stderr)
    plan = provision("plan").stdout
    check("~ change peering management-production (accept)" in plan, "plan:\n%s" % plan)
    check("+ create peering management-production" not in plan, "plan makes a second peering")
    provision("destroy")
    assert_nothing_left()


def test_malformed_answer():
    fault({"kind": "garbage", "service": "ec2", "action": "DescribeVpcs", "count": -1})
    try:
        p = provision("plan", expect=None)
    finally:
        control("DELETE", "/_fake/faults")
    check(p.returncode == 1, "plan on garbage exited %d" % p.returncode)
    check(re.search(r"DescribeVpcs: MalformedResponse: ", p.stderr), "message: %r" % p.stderr)


def test_aws_error_message():
    fault({"kind": "access_denied", "service": "ec2", "action": "CreateVpc", "count": 1})
    p = provision("apply", expect=None)
    check(p.returncode == 1, "apply exited %d" % p.returncode)
    check(re.search(r"CreateVpc management: UnauthorizedOperation: \S", p.stderr),
          "message: %r" % p.stderr)
    provision("destroy")
    assert_nothing_left()


TESTS = [test_broken_ini, test_plan_fresh, test_apply_fresh, test_plan_no_changes,
         test_apply_again_no_calls, test_cli_describe, test_routes_and_rules, test_hosted_zones,
         test_policy_sources, test_change_dns, test_remove_env, test_destroy, test_destroy_again,
         test_interrupted_apply, test_nat_failure_finished, test_destroy_after_failed_apply, test_malformed_answer,
         test_aws_error_message]


def main():
    global ARGS, TMP, INI
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--provision", default=os.path.join(ROOT, "bin", "vpcdns-provision"))
    ap.add_argument("-k", dest="filter", help="run only tests whose name contains this")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ARGS = ap.parse_args()
    ARGS.provision = os.path.abspath(ARGS.provision)
    TMP = tempfile.mkdtemp(prefix="vpcdns-prov-aws.")
    INI = os.path.join(TMP, "network.ini")
    passed = failed = 0
    try:
        start_fake()
        write_ini()
        for fn in TESTS:
            name = fn.__name__[len("test_"):]
            if ARGS.filter and ARGS.filter not in name:
                continue
            t0 = time.time()
            try:
                fn()
                passed += 1
                print("ok %s (%.1fs)" % (name, time.time() - t0), flush=True)
            except TestFailure as e:
                failed += 1
                print("FAIL %s: %s" % (name, e), flush=True)
            except Exception:
                failed += 1
                print("FAIL %s: %s" % (name, traceback.format_exc()), flush=True)
            control("DELETE", "/_fake/faults")
    finally:
        stop_fake()
        if ARGS.keep or failed:
            print("kept %s" % TMP)
        else:
            shutil.rmtree(TMP, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
