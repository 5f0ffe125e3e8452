#!/usr/bin/python3
"""Fidelity tests of the fake AWS endpoint, driven by the real AWS CLI
(Debian's /usr/bin/aws, v2) and botocore.

    /usr/bin/python3 tests/aws/test_fake_aws.py [NAME ...]

Prints "ok NAME" or "FAIL NAME: why" per test and finally "N passed, M failed";
exits non-zero when a test failed. The CLI only ever sees temporary config
and credential files, a temporary HOME and --endpoint-url pointing at the fake
on 127.0.0.1; nothing leaves the machine.
"""

import json
import math
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
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import botocore.session  # noqa: E402

import fake_model  # noqa: E402
from fake_aws import FakeAWS  # noqa: E402
from fake_state import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY  # noqa: E402
from fake_testlib import (REGION, Cli, _local, check, control, error_code, model_walk,  # noqa: E402
                          signed)
import test_fake_network  # noqa: E402

EXAMPLE = os.path.join(HERE, "example_state.json")
BIG_ZONE = "Z0BIG000000000000000001"
N_BULK = 1200
N_INSTANCES = 23
N_DBS = 45

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


# ---- fixtures ---------------------------------------------------------------------

def big_state():
    """The example state plus a zone of 1200+ record sets, 23 more instances and 45 databases."""
    with open(EXAMPLE) as f:
        st = json.load(f)
    st["HostedZones"].append({
        "Id": BIG_ZONE, "Name": "big.internal.",
        "VPCs": [{"VPCRegion": REGION, "VPCId": "vpc-0prod00000000001"}],
        "Generate": [{"Pattern": "host-{i}.bulk.big.internal.", "Type": "A", "TTL": 300,
                      "Value": "10.40.{hi}.{lo}", "Count": N_BULK}],
        "ResourceRecordSets": [
            {"Name": "*.big.internal", "Type": "A", "TTL": 60, "ResourceRecords": ["10.40.200.1"]},
            {"Name": "*.big.internal", "Type": "AAAA", "TTL": 60, "ResourceRecords": ["fd00::1"]},
            {"Name": "Mixed.Case.big.internal.", "Type": "A", "TTL": 60, "ResourceRecords": ["10.40.200.2"]},
            {"Name": "odd\\100name.big.internal.", "Type": "TXT", "TTL": 60, "ResourceRecords": ["\"at sign\""]},
            {"Name": "a-b.big.internal.", "Type": "A", "TTL": 60, "ResourceRecords": ["10.40.200.3"]},
            {"Name": "a.big.internal.", "Type": "A", "TTL": 60, "ResourceRecords": ["10.40.200.4"]},
            {"Name": "multi.big.internal.", "Type": "A", "TTL": 60, "ResourceRecords": ["10.40.201.1"]},
            {"Name": "multi.big.internal.", "Type": "AAAA", "TTL": 60, "ResourceRecords": ["fd00::2"]},
            {"Name": "multi.big.internal.", "Type": "MX", "TTL": 60, "ResourceRecords": ["10 mail.big.internal."]},
            {"Name": "multi.big.internal.", "Type": "TXT", "TTL": 60, "ResourceRecords": ["\"one\"", "\"two\""]},
            {"Name": "w.big.internal.", "Type": "A", "SetIdentifier": "blue side/1", "Weight": 1, "TTL": 60,
             "ResourceRecords": ["10.40.202.1"]},
            {"Name": "w.big.internal.", "Type": "A", "SetIdentifier": "green+2", "Weight": 2, "TTL": 60,
             "ResourceRecords": ["10.40.202.2"]},
            {"Name": "w.big.internal.", "Type": "A", "SetIdentifier": "red=3", "Weight": 0, "TTL": 60,
             "ResourceRecords": ["10.40.202.3"]},
            {"Name": "fo.big.internal.", "Type": "A", "SetIdentifier": "primary", "Failover": "PRIMARY",
             "TTL": 60, "ResourceRecords": ["10.40.203.1"]},
            {"Name": "fo.big.internal.", "Type": "A", "SetIdentifier": "secondary", "Failover": "SECONDARY",
             "AliasTarget": {"HostedZoneId": BIG_ZONE, "DNSName": "a.big.internal", "EvaluateTargetHealth": False}},
            {"Name": "lat.big.internal.", "Type": "A", "SetIdentifier": "eu", "Region": "eu-west-1", "TTL": 60,
             "ResourceRecords": ["10.40.204.1"]},
            {"Name": "geo.big.internal.", "Type": "A", "SetIdentifier": "default",
             "GeoLocation": {"CountryCode": "*"}, "TTL": 60, "ResourceRecords": ["10.40.205.1"]},
            {"Name": "geo.big.internal.", "Type": "A", "SetIdentifier": "europe",
             "GeoLocation": {"ContinentCode": "EU"}, "TTL": 60, "ResourceRecords": ["10.40.205.2"]},
            {"Name": "mv.big.internal.", "Type": "A", "SetIdentifier": "mv-1", "MultiValueAnswer": True,
             "TTL": 60, "ResourceRecords": ["10.40.206.1"]},
        ]})
    for n in range(N_INSTANCES):
        st["Instances"].append({
            "InstanceId": "i-0bulk%012d" % n, "SubnetId": "subnet-0priv00000000001",
            "State": "stopped" if n % 7 == 3 else "running", "PrivateIpAddress": "10.20.1.%d" % (100 + n),
            "Ipv6Addresses": ["2a05:d018:1:2201::%x" % (0x100 + n)] if n % 2 else [],
            "Tags": {"Name": "bulk-%d" % (n // 2), "Tier": "private"}})
    for n in range(N_DBS):
        st["DBInstances"].append({"DBInstanceIdentifier": "bulk-db-%02d" % n,
                                  "Engine": "mysql" if n % 3 else "postgres",
                                  "VpcId": "vpc-0prod00000000001", "SubnetIds": ["subnet-0pers00000000001"]})
    return st


# ---- tests: Route 53 ----------------------------------------------------------------

@test
def route53_list_big_zone_paginates(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    control(fake, "reset", {})
    out = cli.run("route53", "list-resource-record-sets", "--hosted-zone-id", BIG_ZONE)
    expected = fake.state.sorted_records(fake.state.zones[BIG_ZONE])
    check(len(expected) > 1000, "zone too small: %d" % len(expected))
    got = out["ResourceRecordSets"]
    check(len(got) == len(expected), "CLI listed %d record sets, state has %d" % (len(got), len(expected)))
    for g, e in zip(got, expected):
        e = json.loads(json.dumps(e))
        check(g == e, "record differs: CLI %r, state %r" % (g, e))
    n = control(fake, "stats")["actions"].get("ListResourceRecordSets")
    check(n == math.ceil(len(expected) / 300), "expected %d page requests, fake saw %s"
          % (math.ceil(len(expected) / 300), n))


@test
def route53_small_pages_cross_types_and_identifiers(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    control(fake, "reset", {})
    out = cli.run("route53", "list-resource-record-sets", "--hosted-zone-id", BIG_ZONE, "--page-size", "7")
    expected = json.loads(json.dumps(fake.state.sorted_records(fake.state.zones[BIG_ZONE])))
    check(out["ResourceRecordSets"] == expected, "page-size 7 listing differs from the state")
    n = control(fake, "stats")["actions"]["ListResourceRecordSets"]
    check(n == math.ceil(len(expected) / 7), "expected %d requests, saw %d" % (math.ceil(len(expected) / 7), n))


@test
def route53_next_record_fields(ctx):
    fake = ctx["fake"]
    # Walk multi.big.internal. (A, AAAA, MX, TXT) and w.big.internal. (3 weighted A) one record a page.
    seen = []
    name, rtype, ident = "multi.big.internal.", None, None
    for _ in range(20):
        q = {"maxitems": "1", "name": name}
        if rtype:
            q["type"] = rtype
        if ident:
            q["identifier"] = ident
        status, body = signed(fake, "route53", "GET", "/2013-04-01/hostedzone/%s/rrset" % BIG_ZONE,
                              urllib.parse.urlencode(q, quote_via=urllib.parse.quote))
        check(status == 200, "status %d: %s" % (status, body[:300]))
        root = ET.fromstring(body)
        ns = {"r": fake_model.NAMESPACES["route53"]}
        rr = root.find("r:ResourceRecordSets/r:ResourceRecordSet", ns)
        seen.append((rr.findtext("r:Name", None, ns), rr.findtext("r:Type", None, ns),
                     rr.findtext("r:SetIdentifier", None, ns)))
        name = root.findtext("r:NextRecordName", None, ns)
        rtype = root.findtext("r:NextRecordType", None, ns)
        ident = root.findtext("r:NextRecordIdentifier", None, ns)
        if seen[-1][0] == "w.big.internal." and seen[-1][2] == "red=3":
            break
    want_multi = [("multi.big.internal.", t, None) for t in ("A", "AAAA", "MX", "TXT")]
    check(seen[:4] == want_multi, "types at one name across pages: %r" % seen[:4])
    tail = seen[-3:]
    check(tail == [("w.big.internal.", "A", "blue side/1"), ("w.big.internal.", "A", "green+2"),
                   ("w.big.internal.", "A", "red=3")], "weighted set across pages: %r" % tail)


@test
def route53_name_escaping(ctx):
    cli = ctx["cli"]
    out = cli.run("route53", "list-resource-record-sets", "--hosted-zone-id", BIG_ZONE,
                  "--query", "ResourceRecordSets[?!starts_with(Name, 'host-')].[Name,Type]")
    names = [n for n, _ in out]
    for want in ("\\052.big.internal.", "mixed.case.big.internal.", "odd\\100name.big.internal."):
        check(want in names, "%r not listed (got %r)" % (want, names[:12]))
    check(names.index("a-b.big.internal.") < names.index("a.big.internal."),
          "'a-b' must sort before 'a' (reversed-name string order)")
    # The escaped name works as a start name; the wildcard's A and AAAA come back.
    out = cli.run("route53", "list-resource-record-sets", "--hosted-zone-id", BIG_ZONE,
                  "--start-record-name", "\\052.big.internal.", "--max-items", "2")
    got = [(r["Name"], r["Type"]) for r in out["ResourceRecordSets"]]
    check(got == [("\\052.big.internal.", "A"), ("\\052.big.internal.", "AAAA")], "start at wildcard: %r" % got)
    alias = [r for r in cli.run("route53", "list-resource-record-sets", "--hosted-zone-id",
                                "Z0PROD0000000000000001")["ResourceRecordSets"] if "AliasTarget" in r]
    check(alias and alias[0]["AliasTarget"] == {
        "HostedZoneId": "Z32O12XQLNTSW2", "DNSName": "internal-app-lb-123456.eu-west-1.elb.amazonaws.com.",
        "EvaluateTargetHealth": True} and "TTL" not in alias[0], "alias record: %r" % alias)


@test
def route53_hosted_zones_by_vpc(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    out = cli.run("route53", "list-hosted-zones-by-vpc", "--vpc-id", "vpc-0prod00000000001",
                  "--vpc-region", REGION)
    got = sorted((z["HostedZoneId"], z["Name"]) for z in out["HostedZoneSummaries"])
    want = sorted((z["Id"], z["Name"]) for z in fake.state.zones.values()
                  if {"VPCRegion": REGION, "VPCId": "vpc-0prod00000000001"} in z["VPCs"])
    check(got == want, "by-vpc %r != %r" % (got, want))
    check(all(z["Owner"] == {"OwningAccount": "123456789012"} for z in out["HostedZoneSummaries"]), "owner")
    out = cli.run("route53", "list-hosted-zones-by-vpc", "--vpc-id", "vpc-0stage0000000001",
                  "--vpc-region", REGION)
    check([z["Name"] for z in out["HostedZoneSummaries"]] == ["shared.internal."], "stage VPC: %r" % out)
    # nexttoken paging (tokens hold "+", "/", "="): raw, two per page.
    status, body = signed(fake, "route53", "GET", "/2013-04-01/hostedzonesbyvpc",
                          "maxitems=2&vpcid=vpc-0prod00000000001&vpcregion=eu-west-1")
    token = ET.fromstring(body).findtext("{%s}NextToken" % fake_model.NAMESPACES["route53"])
    check(status == 200 and token and re.search(r"[+/=]", token), "first page: %s" % body[:300])
    status, body = signed(fake, "route53", "GET", "/2013-04-01/hostedzonesbyvpc",
                          "maxitems=2&nexttoken=%s&vpcid=vpc-0prod00000000001&vpcregion=eu-west-1"
                          % urllib.parse.quote(token, safe=""))
    check(status == 200 and b"HostedZoneSummary" in body, "second page: %s" % body[:300])


@test
def route53_list_and_get_hosted_zones(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    control(fake, "reset", {})
    out = cli.run("route53", "list-hosted-zones", "--page-size", "1")
    check([z["Id"] for z in out["HostedZones"]] == ["/hostedzone/" + z for z in fake.state.zone_order],
          "list-hosted-zones: %r" % out)
    n = control(fake, "stats")["actions"]["ListHostedZones"]
    check(n == len(fake.state.zone_order), "marker paging: %d requests" % n)
    hz = cli.run("route53", "get-hosted-zone", "--id", "/hostedzone/Z0PROD0000000000000001")
    check(hz["HostedZone"]["Config"]["PrivateZone"] is True and
          hz["VPCs"] == [{"VPCRegion": REGION, "VPCId": "vpc-0prod00000000001"}], "get-hosted-zone %r" % hz)
    hz = cli.run("route53", "get-hosted-zone", "--id", "Z0PUBLIC000000000000001")
    check(len(hz["DelegationSet"]["NameServers"]) == 4, "public zone delegation set %r" % hz)


@test
def route53_errors(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    p = cli.run("route53", "get-hosted-zone", "--id", "ZNOSUCHZONE", expect_ok=False)
    check(p.returncode == 254 and "(NoSuchHostedZone)" in p.stderr, "NoSuchHostedZone: %s" % p.stderr)
    p = cli.run("route53", "list-resource-record-sets", "--hosted-zone-id", BIG_ZONE,
                "--start-record-type", "A", expect_ok=False)
    check(p.returncode != 0, "type without name must fail")
    status, body = signed(fake, "route53", "GET", "/2013-04-01/hostedzone/%s/rrset" % BIG_ZONE, "type=A")
    check(status == 400 and error_code(body) == "InvalidInput", "type without name: %d %s" % (status, body))
    control(fake, "faults", {"kind": "access_denied", "action": "GetHostedZone"})
    p = cli.run("route53", "get-hosted-zone", "--id", BIG_ZONE, expect_ok=False)
    check("(AccessDenied)" in p.stderr, "AccessDenied: %s" % p.stderr)


@test
def route53_change_and_provision(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    batch = {"Comment": "test", "Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": {"Name": "new.prod.internal", "Type": "A", "TTL": 30,
                                                   "ResourceRecords": [{"Value": "10.20.1.77"}]}},
        {"Action": "DELETE", "ResourceRecordSet": {"Name": "db.prod.internal.", "Type": "CNAME", "TTL": 300,
                                                   "ResourceRecords": [{"Value":
                                                       "orders-db.c0vpcdnsfake.eu-west-1.rds.amazonaws.com"}]}}]}
    out = cli.run("route53", "change-resource-record-sets", "--hosted-zone-id", "Z0PROD0000000000000001",
                  "--change-batch", json.dumps(batch))
    check(out["ChangeInfo"]["Status"] == "PENDING" and out["ChangeInfo"]["Id"].startswith("/change/C"), "%r" % out)
    ch = cli.run("route53", "get-change", "--id", out["ChangeInfo"]["Id"])
    check(ch["ChangeInfo"]["Status"] == "INSYNC", "get-change %r" % ch)
    names = [(r["Name"], r["Type"]) for r in cli.run("route53", "list-resource-record-sets", "--hosted-zone-id",
                                                      "Z0PROD0000000000000001")["ResourceRecordSets"]]
    check(("new.prod.internal.", "A") in names and ("db.prod.internal.", "CNAME") not in names, "%r" % names)
    p = cli.run("route53", "change-resource-record-sets", "--hosted-zone-id", "Z0PROD0000000000000001",
                "--change-batch", json.dumps({"Changes": [batch["Changes"][0] | {"Action": "CREATE"}]}),
                expect_ok=False)
    check("(InvalidChangeBatch)" in p.stderr and "already exists" in p.stderr, "CREATE twice: %s" % p.stderr)
    out = cli.run("route53", "create-hosted-zone", "--name", "new.internal", "--caller-reference", "ref-1",
                  "--vpc", "VPCRegion=%s,VPCId=vpc-0stage0000000001" % REGION,
                  "--hosted-zone-config", "PrivateZone=true,Comment=x")
    zid = out["HostedZone"]["Id"]
    check(out["Location"].endswith(zid.split("/")[-1]) and out["VPC"]["VPCId"] == "vpc-0stage0000000001",
          "create-hosted-zone %r" % out)
    p = cli.run("route53", "create-hosted-zone", "--name", "new.internal", "--caller-reference", "ref-1",
                "--vpc", "VPCRegion=%s,VPCId=vpc-0stage0000000001" % REGION, expect_ok=False)
    check("(HostedZoneAlreadyExists)" in p.stderr, "same caller reference: %s" % p.stderr)
    cli.run("route53", "associate-vpc-with-hosted-zone", "--hosted-zone-id", zid,
            "--vpc", "VPCRegion=%s,VPCId=vpc-0prod00000000001" % REGION)
    out = cli.run("route53", "list-hosted-zones-by-vpc", "--vpc-id", "vpc-0prod00000000001", "--vpc-region", REGION)
    check("new.internal." in [z["Name"] for z in out["HostedZoneSummaries"]], "association %r" % out)
    p = cli.run("route53", "associate-vpc-with-hosted-zone", "--hosted-zone-id", zid,
                "--vpc", "VPCRegion=%s,VPCId=vpc-0nosuchvpc0000001" % REGION, expect_ok=False)
    check("(InvalidVPCId)" in p.stderr, "unknown VPC: %s" % p.stderr)
    state = control(fake, "state")
    check(any(z["Name"] == "new.internal." for z in state["HostedZones"]), "GET /_fake/state shows the new zone")


@test
def route53_prior_request_and_throttle_retried(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    control(fake, "reset", {})
    control(fake, "faults", [{"kind": "throttle", "action": "ListHostedZonesByVPC", "count": 1},
                             {"kind": "prior_request", "action": "ListHostedZonesByVPC", "count": 1}])
    cli.run("route53", "list-hosted-zones-by-vpc", "--vpc-id", "vpc-0prod00000000001", "--vpc-region", REGION)
    st = control(fake, "stats")
    check(st["actions"]["ListHostedZonesByVPC"] == 3, "expected 3 attempts, saw %r" % st["actions"])
    check(st["errors"] == {"Throttling": 1, "PriorRequestNotComplete": 1} and st["throttles"] == 2,
          "errors %r" % st["errors"])


@test
def route53_broken_page_in_the_middle(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    control(fake, "reset", {})
    control(fake, "faults", {"kind": "error", "action": "ListResourceRecordSets", "page": 3, "count": 1})
    out = cli.run("route53", "list-resource-record-sets", "--hosted-zone-id", BIG_ZONE)
    st = control(fake, "stats")
    pages = math.ceil(len(fake.state.zones[BIG_ZONE]["records"]) / 300)
    check(len(out["ResourceRecordSets"]) == len(fake.state.zones[BIG_ZONE]["records"]), "listing incomplete")
    check(st["actions"]["ListResourceRecordSets"] == pages + 1 and st["errors"] == {"InternalFailure": 1},
          "one 500 on page 3 then a retry: %r %r" % (st["actions"], st["errors"]))
    control(fake, "reset", {})
    control(fake, "faults", {"kind": "error", "action": "ListResourceRecordSets", "page": 2, "count": -1})
    p = cli.run("route53", "list-resource-record-sets", "--hosted-zone-id", BIG_ZONE, expect_ok=False)
    check(p.returncode == 254 and "(InternalFailure)" in p.stderr and "reached max retries" in p.stderr,
          "page 2 always broken: rc %d %s" % (p.returncode, p.stderr))
    control(fake, "faults", method="DELETE")


# ---- tests: EC2, RDS, STS ---------------------------------------------------------------

@test
def ec2_describe_instances_paginates(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    control(fake, "reset", {})
    out = cli.run("ec2", "describe-instances", "--page-size", "5")
    got = [i for r in out["Reservations"] for i in r["Instances"]]
    want = fake.state.instances
    check([i["InstanceId"] for i in got] == [i["InstanceId"] for i in want], "instance ids differ")
    n = control(fake, "stats")["actions"]["DescribeInstances"]
    check(n == math.ceil(len(want) / 5), "expected %d pages, saw %d" % (math.ceil(len(want) / 5), n))
    by_id = {i["InstanceId"]: i for i in got}
    app = by_id["i-0app0000000000001"]
    check(app["PrivateIpAddress"] == "10.20.1.11" and app["State"] == {"Code": 16, "Name": "running"}, "%r" % app)
    check(app["NetworkInterfaces"][0]["Ipv6Addresses"] == [{"Ipv6Address": "2a05:d018:1:2201::11"}], "ipv6")
    check(app["Ipv6Address"] == "2a05:d018:1:2201::11", "primary ipv6 %r" % app.get("Ipv6Address"))
    check({"Key": "Name", "Value": "app"} in app["Tags"] and
          {"Key": "Name", "Value": "app"} in by_id["i-0app0000000000002"]["Tags"], "duplicate Name tags")
    check(by_id["i-0wrk0000000000001"]["State"] == {"Code": 80, "Name": "stopped"}, "stopped instance")
    check(by_id["i-0web0000000000001"]["PublicIpAddress"] == "198.51.100.10", "public ip")
    res = [r for r in out["Reservations"] if r["ReservationId"] == "r-0app00000000000001"]
    check(len(res) == 1 and len(res[0]["Instances"]) == 2, "two instances in one reservation: %r" % res)


@test
def ec2_describe_instances_filters(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    out = cli.run("ec2", "describe-instances", "--filters", "Name=vpc-id,Values=vpc-0prod00000000001",
                  "Name=instance-state-name,Values=running,pending", "--page-size", "6")
    ids = {i["InstanceId"] for r in out["Reservations"] for i in r["Instances"]}
    want = {i["InstanceId"] for i in fake.state.instances
            if i["VpcId"] == "vpc-0prod00000000001" and i["State"]["Name"] in ("running", "pending")}
    check(ids == want, "filtered ids %r != %r" % (sorted(ids), sorted(want)))
    out = cli.run("ec2", "describe-instances", "--filters", "Name=tag:Name,Values=bulk-1*")
    names = {t["Value"] for r in out["Reservations"] for i in r["Instances"] for t in i["Tags"] if t["Key"] == "Name"}
    check(names and all(n.startswith("bulk-1") for n in names), "wildcard tag filter %r" % names)
    p = cli.run("ec2", "describe-instances", "--instance-ids", "i-0nosuch000000001", expect_ok=False)
    check("(InvalidInstanceID.NotFound)" in p.stderr, "not found: %s" % p.stderr)
    p = cli.run("ec2", "describe-instances", "--filters", "Name=bogus,Values=x", expect_ok=False)
    check("(InvalidParameterValue)" in p.stderr, "bad filter: %s" % p.stderr)


@test
def ec2_describe_subnets_vpcs_enis(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    out = cli.run("ec2", "describe-subnets", "--filters", "Name=vpc-id,Values=vpc-0prod00000000001")
    tiers = {s["SubnetId"]: {t["Key"]: t["Value"] for t in s["Tags"]}.get("Tier") for s in out["Subnets"]}
    check(tiers == {"subnet-0pub000000000001": "public", "subnet-0priv00000000001": "private",
                    "subnet-0pers00000000001": "persistence"}, "tiers %r" % tiers)
    priv = [s for s in out["Subnets"] if s["SubnetId"] == "subnet-0priv00000000001"][0]
    check(priv["CidrBlock"] == "10.20.1.0/24" and
          priv["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"] == "2a05:d018:1:2201::/64", "%r" % priv)
    out = cli.run("ec2", "describe-vpcs")
    check({v["VpcId"] for v in out["Vpcs"]} == {v["VpcId"] for v in fake.state.vpcs}, "vpcs %r" % out)
    out = cli.run("ec2", "describe-vpc-attribute", "--vpc-id", "vpc-0stage0000000001",
                  "--attribute", "enableDnsHostnames")
    check(out["EnableDnsHostnames"] == {"Value": False}, "vpc attribute %r" % out)
    out = cli.run("ec2", "describe-network-interfaces", "--filters", "Name=requester-id,Values=amazon-rds")
    check([e["NetworkInterfaceId"] for e in out["NetworkInterfaces"]] == ["eni-0rds000000000001"] and
          out["NetworkInterfaces"][0]["RequesterManaged"] is True, "rds eni %r" % out)
    control(fake, "reset", {})
    out = cli.run("ec2", "describe-network-interfaces", "--page-size", "5")
    check(len(out["NetworkInterfaces"]) == len(fake.state.enis), "all ENIs")
    n = control(fake, "stats")["actions"]["DescribeNetworkInterfaces"]
    check(n == math.ceil(len(fake.state.enis) / 5), "ENI pages: %d" % n)


@test
def ec2_throttle_retried(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    control(fake, "reset", {})
    control(fake, "faults", {"kind": "throttle", "service": "ec2", "count": 2})
    cli.run("ec2", "describe-subnets")
    st = control(fake, "stats")
    check(st["actions"]["DescribeSubnets"] == 3 and st["errors"] == {"RequestLimitExceeded": 2}
          and st["status"].get("503") == 2, "stats %r" % st)


@test
def rds_describe_db_instances(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    control(fake, "reset", {})
    out = cli.run("rds", "describe-db-instances", "--page-size", "20")
    got = out["DBInstances"]
    check([d["DBInstanceIdentifier"] for d in got] == [d["DBInstanceIdentifier"] for d in fake.state.db_instances],
          "db ids")
    n = control(fake, "stats")["actions"]["DescribeDBInstances"]
    check(n == math.ceil(len(got) / 20), "RDS pages: %d" % n)
    orders = got[0]
    check(orders["Endpoint"]["Address"] == "orders-db.c0vpcdnsfake.eu-west-1.rds.amazonaws.com" and
          orders["Endpoint"]["Port"] == 5432 and orders["DBSubnetGroup"]["VpcId"] == "vpc-0prod00000000001",
          "%r" % orders)
    out = cli.run("rds", "describe-db-instances", "--filters", "Name=engine,Values=postgres")
    check(all(d["Engine"] == "postgres" for d in out["DBInstances"]) and out["DBInstances"], "engine filter")
    p = cli.run("rds", "describe-db-instances", "--db-instance-identifier", "nope", expect_ok=False)
    check("(DBInstanceNotFound)" in p.stderr, "not found: %s" % p.stderr)


@test
def sts_identity_and_assume_role_session_token(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    out = cli.run("sts", "get-caller-identity")
    check(out["Account"] == "123456789012" and out["Arn"].endswith(":user/vpcdns-test"), "%r" % out)
    out = cli.run("sts", "assume-role", "--role-arn", "arn:aws:iam::123456789012:role/vpcdns-sync",
                  "--role-session-name", "t1")
    c = out["Credentials"]
    check(c["AccessKeyId"].startswith("ASIA") and re.search(r"[+/=]", c["SessionToken"]), "%r" % c)
    env = cli.env(AWS_ACCESS_KEY_ID=c["AccessKeyId"], AWS_SECRET_ACCESS_KEY=c["SecretAccessKey"],
                  AWS_SESSION_TOKEN=c["SessionToken"])
    who = cli.run("sts", "get-caller-identity", env=env)
    check(who["Arn"] == "arn:aws:sts::123456789012:assumed-role/vpcdns-sync/t1", "%r" % who)
    control(fake, "reset", {})
    cli.run("ec2", "describe-vpcs", env=env)
    cli.run("route53", "list-hosted-zones", env=env)
    heads = [dict(e["headers"]) for e in control(fake, "log")]
    for h in heads:
        auth = {k.lower(): v for k, v in h.items()}
        check("x-amz-security-token" in auth["authorization"], "token not signed: %s" % auth["authorization"])
    # The token is part of the identity: a wrong one is rejected.
    bad = cli.env(AWS_ACCESS_KEY_ID=c["AccessKeyId"], AWS_SECRET_ACCESS_KEY=c["SecretAccessKey"],
                  AWS_SESSION_TOKEN=c["SessionToken"][:-4] + "AAAA")
    p = cli.run("sts", "get-caller-identity", env=bad, expect_ok=False)
    check("(InvalidClientTokenId)" in p.stderr, "wrong token: %s" % p.stderr)
    # Expired temporary credentials: ExpiredToken (Route 53), RequestExpired (EC2).
    control(fake, "credentials", {"AccessKeyId": c["AccessKeyId"], "Expired": True})
    p = cli.run("route53", "list-hosted-zones", env=env, expect_ok=False)
    check("(ExpiredToken)" in p.stderr, "expired: %s" % p.stderr)
    p = cli.run("ec2", "describe-vpcs", env=env, expect_ok=False)
    check("(RequestExpired)" in p.stderr, "expired ec2: %s" % p.stderr)
    p = cli.run("sts", "assume-role", "--role-arn", "arn:aws:iam::999999999999:role/other",
                "--role-session-name", "t1", expect_ok=False)
    check("(AccessDenied)" in p.stderr, "foreign role: %s" % p.stderr)


@test
def botocore_session_token_signing(ctx):
    fake = ctx["fake"]
    out = botocore.session.get_session().create_client(
        "sts", region_name=REGION, endpoint_url=fake.url, aws_access_key_id=DEFAULT_ACCESS_KEY,
        aws_secret_access_key=DEFAULT_SECRET_KEY).assume_role(
        RoleArn="arn:aws:iam::123456789012:role/vpcdns-sync", RoleSessionName="boto")["Credentials"]
    sess = botocore.session.get_session()
    for svc in ("route53", "ec2", "rds", "sts"):
        client = sess.create_client(svc, region_name=REGION, endpoint_url=fake.url,
                                    aws_access_key_id=out["AccessKeyId"],
                                    aws_secret_access_key=out["SecretAccessKey"],
                                    aws_session_token=out["SessionToken"])
        {"route53": lambda: client.list_hosted_zones(), "ec2": lambda: client.describe_vpcs(),
         "rds": lambda: client.describe_db_instances(), "sts": lambda: client.get_caller_identity()}[svc]()
    # Raw SigV4 (botocore signer, urllib transport) with the token, and odd query bytes.
    status, body = signed(fake, "route53", "GET", "/2013-04-01/hostedzone/%s/rrset" % BIG_ZONE,
                          "identifier=blue%20side%2F1&maxitems=1&name=w.big.internal.&type=A",
                          akid=out["AccessKeyId"], secret=out["SecretAccessKey"], token=out["SessionToken"])
    check(status == 200 and b"blue side/1" in body, "raw signed with token: %d %s" % (status, body[:300]))
    status, body = signed(fake, "ec2", "POST", "/", body=b"Action=DescribeVpcs&Version=2016-11-15",
                          headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                          akid=out["AccessKeyId"], secret=out["SecretAccessKey"], token=out["SessionToken"])
    check(status == 200 and b"vpc-0prod00000000001" in body, "ec2 form POST with token: %d" % status)
    status, body = signed(fake, "ec2", "POST", "/", body=b"Action=DescribeVpcs&Version=2016-11-15",
                          headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                          akid=out["AccessKeyId"], secret=out["SecretAccessKey"])
    check(status == 401 and error_code(body) == "AuthFailure", "token missing: %d %s" % (status, body))


@test
def wrong_credentials_rejected(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    control(fake, "reset", {})
    wrong_secret = cli.env(AWS_SECRET_ACCESS_KEY="not-the-secret")
    p = cli.run("route53", "list-hosted-zones", env=wrong_secret, expect_ok=False)
    check(p.returncode == 254 and "(SignatureDoesNotMatch)" in p.stderr, "route53: %s" % p.stderr)
    p = cli.run("sts", "get-caller-identity", env=wrong_secret, expect_ok=False)
    check("(SignatureDoesNotMatch)" in p.stderr, "sts: %s" % p.stderr)
    p = cli.run("ec2", "describe-instances", env=wrong_secret, expect_ok=False)
    check("(AuthFailure)" in p.stderr, "ec2: %s" % p.stderr)
    p = cli.run("rds", "describe-db-instances", env=wrong_secret, expect_ok=False)
    check("(SignatureDoesNotMatch)" in p.stderr, "rds: %s" % p.stderr)
    unknown = cli.env(AWS_ACCESS_KEY_ID="AKIDUNKNOWN000000000")
    p = cli.run("sts", "get-caller-identity", env=unknown, expect_ok=False)
    check("(InvalidClientTokenId)" in p.stderr, "unknown key sts: %s" % p.stderr)
    p = cli.run("route53", "list-hosted-zones", env=unknown, expect_ok=False)
    check("(InvalidClientTokenId)" in p.stderr, "unknown key route53: %s" % p.stderr)
    p = cli.run("ec2", "describe-vpcs", env=unknown, expect_ok=False)
    check("(AuthFailure)" in p.stderr, "unknown key ec2: %s" % p.stderr)
    st = control(fake, "stats")
    check(st["auth_failures"].get("SignatureDoesNotMatch", 0) >= 3, "auth failures %r" % st["auth_failures"])
    # Not retried (one request per command), and the body tells the canonical request.
    check(st["actions"].get("ListHostedZones") == 2, "auth errors must not be retried: %r" % st["actions"])
    status, body = signed(fake, "route53", "GET", "/2013-04-01/hostedzone", secret="wrong")
    check(status == 403 and b"Canonical String" in body, "explains the canonical request")
    # Unsigned and stale requests.
    r = urllib.request.Request(fake.url + "/2013-04-01/hostedzone")
    try:
        urllib.request.urlopen(r, timeout=5)
        check(False, "unsigned request accepted")
    except urllib.error.HTTPError as e:
        check(e.code == 403 and error_code(e.read()) == "MissingAuthenticationToken", "unsigned: %d" % e.code)


@test
def expired_token_fault(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    control(fake, "faults", {"kind": "expired_token", "service": "route53"})
    p = cli.run("route53", "list-hosted-zones", expect_ok=False)
    check("(ExpiredToken)" in p.stderr, "route53: %s" % p.stderr)
    control(fake, "faults", {"kind": "expired_token", "service": "ec2"})
    p = cli.run("ec2", "describe-vpcs", expect_ok=False)
    check("(RequestExpired)" in p.stderr, "ec2: %s" % p.stderr)


@test
def imds_credentials_for_cli(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    control(fake, "reset", {})
    env = cli.env(AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None, AWS_EC2_METADATA_DISABLED=None,
                  AWS_EC2_METADATA_SERVICE_ENDPOINT=fake.url + "/", AWS_REGION=None, AWS_DEFAULT_REGION=None)
    who = cli.run("sts", "get-caller-identity", env=env)
    check(who["Arn"] == "arn:aws:sts::123456789012:assumed-role/vpcdns-sync/i-0dns000000000001", "%r" % who)
    out = cli.run("ec2", "describe-vpcs", env=env)
    check(len(out["Vpcs"]) == 2, "region from IMDS: %r" % out)
    st = control(fake, "stats")
    check(st["imds"].get("PUT /latest/api/token", 0) >= 1 and
          st["imds"].get("GET /latest/meta-data/iam/security-credentials/vpcdns-sync", 0) >= 1, "imds %r" % st["imds"])
    # IMDSv2 rules: a GET without a token is 401; a bad TTL 400.
    for method, path, headers, want in [
            ("GET", "/latest/meta-data/placement/region", {}, 401),
            ("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "0"}, 400),
            ("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"}, 200)]:
        r = urllib.request.Request(fake.url + path, method=method, headers=headers,
                                   data=b"" if method == "PUT" else None)
        try:
            with urllib.request.urlopen(r, timeout=5) as resp:
                status, token = resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            status = e.code
        check(status == want, "%s %s: %d, expected %d" % (method, path, status, want))
    r = urllib.request.Request(fake.url + "/latest/meta-data/placement/region",
                               headers={"X-aws-ec2-metadata-token": token})
    with urllib.request.urlopen(r, timeout=5) as resp:
        check(resp.read() == b"eu-west-1", "placement/region")
    r = urllib.request.Request(fake.url + "/latest/meta-data/iam/security-credentials/",
                               headers={"X-aws-ec2-metadata-token": token})
    with urllib.request.urlopen(r, timeout=5) as resp:
        check(resp.read() == b"vpcdns-sync", "role listing")


@test
def answers_match_the_botocore_model(ctx):
    fake = ctx["fake"]
    captured = []
    sess = botocore.session.get_session()

    def grab(service):
        def hook(event_name, **kw):
            if kw.get("response_dict"):
                captured.append((service, event_name.split(".")[-1], kw["response_dict"]["body"]))
        return hook
    calls = {
        "route53": [("list_resource_record_sets", {"HostedZoneId": BIG_ZONE, "StartRecordName": "fo.big.internal",
                                                   "MaxItems": "40"}),
                    ("list_resource_record_sets", {"HostedZoneId": "Z0PROD0000000000000001"}),
                    ("list_hosted_zones", {"MaxItems": "1"}),
                    ("list_hosted_zones_by_vpc", {"VPCId": "vpc-0prod00000000001", "VPCRegion": REGION,
                                                 "MaxItems": "1"}),
                    ("get_hosted_zone", {"Id": "Z0PROD0000000000000001"}),
                    ("get_hosted_zone", {"Id": "Z0PUBLIC000000000000001"})],
        "ec2": [("describe_instances", {"MaxResults": 5}), ("describe_subnets", {}),
                ("describe_vpcs", {}), ("describe_network_interfaces", {}),
                ("describe_vpc_attribute", {"VpcId": "vpc-0prod00000000001", "Attribute": "enableDnsSupport"})],
        "rds": [("describe_db_instances", {"MaxRecords": 20})],
        "sts": [("get_caller_identity", {}),
                ("assume_role", {"RoleArn": "arn:aws:iam::123456789012:role/x", "RoleSessionName": "model"})],
    }
    for service, ops in calls.items():
        client = sess.create_client(service, region_name=REGION, endpoint_url=fake.url,
                                    aws_access_key_id=DEFAULT_ACCESS_KEY, aws_secret_access_key=DEFAULT_SECRET_KEY)
        client.meta.events.register("response-received.*.*", grab(service))
        for method, kwargs in ops:
            getattr(client, method)(**kwargs)
    problems = []
    for service, op, body in captured:
        problems += ["%s %s: %s" % (service, op, p) for p in model_walk(service, op, body)]
    check(len(captured) >= 14, "captured only %d answers" % len(captured))
    check(not problems, "; ".join(problems[:8]))


@test
def error_envelopes(ctx):
    fake = ctx["fake"]
    status, body = signed(fake, "route53", "GET", "/2013-04-01/hostedzone/ZNOPE")
    root = ET.fromstring(body)
    ns = "{%s}" % fake_model.NAMESPACES["route53"]
    check(status == 404 and root.tag == ns + "ErrorResponse" and root.findtext(ns + "Error/" + ns + "Type") ==
          "Sender" and root.findtext(ns + "RequestId"), "route53 envelope: %s" % body)
    status, body = signed(fake, "ec2", "POST", "/", body=b"Action=DescribeInstances&Version=2016-11-15&"
                          b"InstanceId.1=i-0nope00000000001",
                          headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    root = ET.fromstring(body)
    check(status == 400 and root.tag == "Response" and root.findtext("Errors/Error/Code") ==
          "InvalidInstanceID.NotFound" and root.findtext("RequestID"), "ec2 envelope: %s" % body)
    control(fake, "faults", {"kind": "throttle", "service": "ec2"})
    status, body = signed(fake, "ec2", "POST", "/", body=b"Action=DescribeVpcs&Version=2016-11-15",
                          headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    check(status == 503 and error_code(body) == "RequestLimitExceeded", "ec2 throttle: %d" % status)
    control(fake, "faults", {"kind": "throttle", "service": "route53"})
    status, body = signed(fake, "route53", "GET", "/2013-04-01/hostedzone")
    check(status == 400 and error_code(body) == "Throttling" and b"Rate exceeded" in body, "r53 throttle")
    status, body = signed(fake, "rds", "POST", "/", body=b"Action=DescribeDBInstances&Version=2014-10-31&"
                          b"DBInstanceIdentifier=none",
                          headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    root = ET.fromstring(body)
    check(status == 404 and _local(root.tag) == "ErrorResponse" and error_code(body) == "DBInstanceNotFound",
          "rds envelope: %s" % body)


@test
def region_scoping_and_strict_route53_region(ctx):
    fake = ctx["fake"]
    status, body = signed(fake, "ec2", "POST", "/", body=b"Action=DescribeVpcs&Version=2016-11-15",
                          headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                          region="us-west-2")
    check(status == 200 and b"vpc-0" not in body, "other region lists nothing")
    fake.state.settings["StrictRoute53Region"] = True
    try:
        status, body = signed(fake, "route53", "GET", "/2013-04-01/hostedzone")
        check(status == 403 and error_code(body) == "SignatureDoesNotMatch", "strict: eu-west-1 rejected")
        status, body = signed(fake, "route53", "GET", "/2013-04-01/hostedzone", region="us-east-1")
        check(status == 200, "strict: us-east-1 accepted")
    finally:
        fake.state.settings["StrictRoute53Region"] = False


@test
def faults_slow_garbage_chunked(ctx):
    fake = ctx["fake"]
    control(fake, "faults", {"kind": "slow", "seconds": 0.6, "action": "DescribeVpcs"})
    t = time.time()
    status, _ = signed(fake, "ec2", "POST", "/", body=b"Action=DescribeVpcs&Version=2016-11-15",
                       headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    check(status == 200 and time.time() - t >= 0.5, "slow answer")
    control(fake, "faults", {"kind": "garbage", "action": "GetHostedZone"})
    status, body = signed(fake, "route53", "GET", "/2013-04-01/hostedzone/Z0PROD0000000000000001")
    try:
        ET.fromstring(body)
        check(False, "garbage answer parsed")
    except ET.ParseError:
        pass
    fake.state.settings["ChunkedResponses"] = True
    try:
        client = botocore.session.get_session().create_client(
            "ec2", region_name=REGION, endpoint_url=fake.url, aws_access_key_id=DEFAULT_ACCESS_KEY,
            aws_secret_access_key=DEFAULT_SECRET_KEY)
        r = client.describe_instances()
        check(r["ResponseMetadata"]["HTTPHeaders"].get("transfer-encoding") == "chunked" and r["Reservations"],
              "chunked answer")
    finally:
        fake.state.settings["ChunkedResponses"] = False


@test
def process_mode_and_state_reload(ctx):
    tmp = tempfile.mkdtemp(prefix="fakeaws-proc-")
    state_path = os.path.join(tmp, "state.json")
    port_file = os.path.join(tmp, "port")
    shutil.copy(EXAMPLE, state_path)
    proc = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "fake_aws.py"), "--port", "0",
                             "--state", state_path, "--port-file", port_file],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            if os.path.exists(port_file) or proc.poll() is not None:
                break
            time.sleep(0.1)
        check(os.path.exists(port_file), "no port file (%s)" % (proc.stderr.read() if proc.poll() is not None else ""))

        class Remote:
            url = "http://127.0.0.1:%d" % int(open(port_file).read())
        cli = Cli(Remote)
        try:
            tags = lambda: {t["Key"]: t["Value"] for t in cli.run(  # noqa: E731
                "ec2", "describe-subnets", "--subnet-ids", "subnet-0pers00000000001")["Subnets"][0]["Tags"]}
            check(tags()["Tier"] == "persistence", "before")
            with open(state_path) as f:
                doc = json.load(f)
            doc["Subnets"][2]["Tags"]["Tier"] = "private"
            with open(state_path + ".new", "w") as f:
                json.dump(doc, f)
            os.rename(state_path + ".new", state_path)
            check(tags()["Tier"] == "private", "a changed state file is picked up on the next request")
            doc["Subnets"][2]["Tags"]["Tier"] = "public"
            control(Remote, "state", doc)
            check(tags()["Tier"] == "public", "POST /_fake/state")
            os.kill(proc.pid, signal.SIGHUP)
            time.sleep(0.3)
            check(tags()["Tier"] == "private", "SIGHUP reloads the file")
        finally:
            cli.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


# Known answers from AWS's SigV4 test suite ("AWS Signature Version 4 Test Suite",
# Copyright 2019 Amazon.com, Inc. or its affiliates, Apache-2.0): access key AKIDEXAMPLE,
# the secret below, region us-east-1, service "service", X-Amz-Date 20150830T123600Z.
# Each case: (method, path as the server sees it, query, headers, body, signature).
SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE = [
    ("get-vanilla", "GET", "/", "", [], b"",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31", "host;x-amz-date"),
    ("get-utf8", "GET", "/\u1234", "", [], b"",
     "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85", "host;x-amz-date"),
    ("get-vanilla-query-order-key-case", "GET", "/", "Param2=value2&Param1=value1", [], b"",
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500", "host;x-amz-date"),
    ("get-header-value-trim", "GET", "/", "", [("My-Header1", " value1"), ("My-Header2", ' "a   b   c"')], b"",
     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736", "host;my-header1;my-header2;x-amz-date"),
    ("post-x-www-form-urlencoded", "POST", "/", "", [("Content-Type", "application/x-www-form-urlencoded")],
     b"Param1=value1", "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
     "content-type;host;x-amz-date"),
]


@test
def verifier_agrees_with_aws_test_suite(ctx):
    from fake_common import AwsError, Request
    fake = FakeAWS(state={"Credentials": [{"AccessKeyId": "AKIDEXAMPLE", "SecretAccessKey": SUITE_SECRET}],
                          "Settings": {"MaxClockSkewSeconds": 10 ** 10}})
    for name, method, path, query, extra, body, sig, signed_headers in SUITE:
        for good in (True, False):
            s = sig if good else sig[:-1] + ("0" if sig[-1] != "0" else "1")
            raw = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")] + extra + [
                ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                                  "aws4_request, SignedHeaders=%s, Signature=%s" % (signed_headers, s))]
            qpairs = [(urllib.parse.unquote(k), urllib.parse.unquote(v))
                      for k, _, v in (p.partition("=") for p in query.split("&") if p)]
            req = Request(method, path, query, qpairs, {k.lower(): v for k, v in raw}, raw, body)
            try:
                fake.authenticate(req, "service")
                check(good, "%s: a wrong signature was accepted" % name)
            except AwsError as e:
                check(not good and e.code == "SignatureDoesNotMatch", "%s: %s" % (name, e))


@test
def example_state_loads(ctx):
    with open(EXAMPLE) as f:
        doc = json.load(f)
    fake = FakeAWS(state=doc)
    st = fake.state
    zone = st.zones["Z0PROD0000000000000001"]
    names = {(r["Name"], r["Type"]) for r in zone["records"].values()}
    check(("\\052.prod.internal.", "A") in names, "wildcard in example")
    check(any("AliasTarget" in r for r in zone["records"].values()), "alias in example")
    check(any(r.get("Weight") is not None for r in zone["records"].values()), "weighted in example")
    check(sum(1 for i in st.instances if i["State"]["Name"] == "stopped") == 1, "one stopped instance")


def main():
    only = set(sys.argv[1:])
    fake = FakeAWS(state=big_state()).start()
    cli = Cli(fake)
    ctx = {"fake": fake, "cli": cli}
    passed = failed = 0
    try:
        for fn in TESTS + test_fake_network.TESTS:
            if only and fn.__name__ not in only:
                continue
            try:
                with fake.lock:
                    fake.faults = []
                fn(ctx)
                print("ok %s" % fn.__name__, flush=True)
                passed += 1
            except Exception as e:
                why = str(e) if isinstance(e, AssertionError) else traceback.format_exc(limit=3)
                print("FAIL %s: %s" % (fn.__name__, why.strip().replace("\n", " | ")[:2000]), flush=True)
                failed += 1
    finally:
        cli.close()
        fake.stop()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
