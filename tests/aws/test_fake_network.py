"""Tests of the fake's EC2 network and Route 53 provisioning calls, driven by
the AWS CLI the way a provisioner uses them. test_fake_aws.py runs them after
its own tests, against the same fake; they build on each other in the order
below (VPCs and subnets, gateways, routes, security groups, DHCP options and
peering, tags, a private zone, then the teardown), so run them together:

    /usr/bin/python3 tests/aws/test_fake_aws.py ec2_vpcs_and_subnets ec2_gateways_and_nat ...
"""

import concurrent.futures
import json
import re
import urllib.parse

import botocore.session

from fake_state import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
from fake_testlib import REGION, check, control, error_code, model_walk, signed

TESTS = []
STACK = "fake-net-test"


def test(fn):
    TESTS.append(fn)
    return fn


def tagspec(rtype, name, stack=STACK):
    return json.dumps([{"ResourceType": rtype, "Tags": [{"Key": "vpcdns:stack", "Value": stack},
                                                        {"Key": "vpcdns:name", "Value": name}]}])


def fails(cli, code, *args):
    """Runs a CLI command that must fail with the AWS error `code`; returns its stderr."""
    p = cli.run(*args, expect_ok=False)
    check(p.returncode == 254 and "(%s)" % code in p.stderr, "%s: expected %s, got rc %d: %s"
          % (" ".join(args[:2]), code, p.returncode, p.stderr.strip()))
    return p.stderr


def all_fail(cli, *cases):
    """Independent failing commands, each (code, *args), run side by side to save time."""
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for f in [pool.submit(fails, cli, case[0], *case[1:]) for case in cases]:
            f.result()


def ec2_call(fake, action, **params):
    """A raw signed EC2 query request (for what the CLI refuses to send); (status, body)."""
    body = urllib.parse.urlencode(dict({"Action": action, "Version": "2016-11-15"}, **params)).encode()
    return signed(fake, "ec2", "POST", "/", body=body,
                  headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})


def net(ctx):
    check("net" in ctx, "run ec2_vpcs_and_subnets first (these tests build on each other)")
    return ctx["net"]


def by_stack(cli, command, key, *more):
    return cli.run("ec2", command, "--filters", "Name=tag:vpcdns:stack,Values=" + STACK, *more)[key]


def tags_of(obj):
    return {t["Key"]: t["Value"] for t in obj.get("Tags", [])}


def poll_nat(cli, nat_id, until, limit=10):
    states = []
    for _ in range(limit):
        states.append(cli.run("ec2", "describe-nat-gateways", "--nat-gateway-ids", nat_id)["NatGateways"][0]["State"])
        if states[-1] == until:
            break
    return states


# ---- building a stack -----------------------------------------------------------------------

@test
def ec2_vpcs_and_subnets(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    n = ctx["net"] = {}
    out = cli.run("ec2", "create-vpc", "--cidr-block", "10.60.0.0/16", "--tag-specifications", tagspec("vpc", "prod"))
    vpc = out["Vpc"]
    check(vpc["State"] == "pending" and re.fullmatch(r"vpc-[0-9a-f]{17}", vpc["VpcId"]) and
          tags_of(vpc) == {"vpcdns:stack": STACK, "vpcdns:name": "prod"}, "create-vpc %r" % vpc)
    n["vpc"] = vpc["VpcId"]
    n["vpc2"] = cli.run("ec2", "create-vpc", "--cidr-block", "10.61.0.0/16", "--tag-specifications",
                        tagspec("vpc", "mgmt"))["Vpc"]["VpcId"]
    vpcs = by_stack(cli, "describe-vpcs", "Vpcs")
    check(sorted(v["VpcId"] for v in vpcs) == sorted([n["vpc"], n["vpc2"]]) and
          all(v["State"] == "available" and v["DhcpOptionsId"].startswith("dopt-") for v in vpcs), "vpcs %r" % vpcs)
    tagged = cli.run("ec2", "describe-vpcs", "--filters", "Name=tag-key,Values=vpcdns:stack")["Vpcs"]
    check({v["VpcId"] for v in tagged} == {n["vpc"], n["vpc2"]}, "tag-key filter %r" % tagged)
    # AWS made the main route table (local route only), the default group and the DHCP association.
    rts = cli.run("ec2", "describe-route-tables", "--filters", "Name=vpc-id,Values=" + n["vpc"],
                  "Name=association.main,Values=true")["RouteTables"]
    check(len(rts) == 1 and rts[0]["Routes"] == [{"DestinationCidrBlock": "10.60.0.0/16", "GatewayId": "local",
                                                  "Origin": "CreateRouteTable", "State": "active"}] and
          rts[0]["Associations"][0]["Main"] is True, "main route table %r" % rts)
    n["main_rtb"] = rts[0]["RouteTableId"]
    sgs = cli.run("ec2", "describe-security-groups", "--filters", "Name=vpc-id,Values=" + n["vpc"])["SecurityGroups"]
    check([g["GroupName"] for g in sgs] == ["default"], "default group %r" % sgs)
    n["default_sg"] = sgs[0]["GroupId"]
    dopt = cli.run("ec2", "describe-dhcp-options", "--dhcp-options-ids", vpcs[0]["DhcpOptionsId"])["DhcpOptions"][0]
    check({c["Key"]: [v["Value"] for v in c["Values"]] for c in dopt["DhcpConfigurations"]} ==
          {"domain-name": ["eu-west-1.compute.internal"], "domain-name-servers": ["AmazonProvidedDNS"]},
          "default DHCP options %r" % dopt)
    # DNS attributes, one per call.
    attr = lambda a: cli.run("ec2", "describe-vpc-attribute", "--vpc-id", n["vpc"],  # noqa: E731
                             "--attribute", a)
    check(attr("enableDnsSupport")["EnableDnsSupport"] == {"Value": True} and
          attr("enableDnsHostnames")["EnableDnsHostnames"] == {"Value": False}, "attribute defaults")
    cli.run("ec2", "modify-vpc-attribute", "--vpc-id", n["vpc"], "--enable-dns-support", '{"Value": true}')
    cli.run("ec2", "modify-vpc-attribute", "--vpc-id", n["vpc"], "--enable-dns-hostnames", '{"Value": true}')
    check(attr("enableDnsHostnames")["EnableDnsHostnames"] == {"Value": True}, "enableDnsHostnames now true")
    status, body = ec2_call(fake, "ModifyVpcAttribute", VpcId=n["vpc"], **{"EnableDnsSupport.Value": "true",
                                                                          "EnableDnsHostnames.Value": "true"})
    check(status == 400 and error_code(body) == "InvalidParameterCombination", "two attributes: %d %s"
          % (status, body))
    # Subnets: public, private, persistence; one in the second VPC.
    for tier, cidr, az, zone_id in (("public", "10.60.0.0/24", "eu-west-1a", "euw1-az1"),
                                    ("private", "10.60.10.0/24", "eu-west-1a", "euw1-az1"),
                                    ("persistence", "10.60.20.0/24", "eu-west-1b", "euw1-az2")):
        s = cli.run("ec2", "create-subnet", "--vpc-id", n["vpc"], "--cidr-block", cidr, "--availability-zone", az,
                    "--tag-specifications", tagspec("subnet", "prod-" + tier))["Subnet"]
        check(s["AvailableIpAddressCount"] == 251 and s["AvailabilityZone"] == az and
              s["AvailabilityZoneId"] == zone_id and s["State"] == "available" and s["VpcId"] == n["vpc"],
              "create-subnet %r" % s)
        n[tier] = s["SubnetId"]
    n["mgmt_private"] = cli.run("ec2", "create-subnet", "--vpc-id", n["vpc2"], "--cidr-block", "10.61.10.0/24",
                                "--tag-specifications", tagspec("subnet", "mgmt-private"))["Subnet"]["SubnetId"]
    all_fail(cli,
             ("InvalidSubnet.Range", "ec2", "create-subnet", "--vpc-id", n["vpc"], "--cidr-block", "10.70.0.0/24"),
             ("InvalidSubnet.Range", "ec2", "create-subnet", "--vpc-id", n["vpc"], "--cidr-block", "10.60.30.0/29"),
             ("InvalidSubnet.Conflict", "ec2", "create-subnet", "--vpc-id", n["vpc"], "--cidr-block",
              "10.60.0.128/25"),
             ("InvalidParameterValue", "ec2", "create-subnet", "--vpc-id", n["vpc"], "--cidr-block",
              "10.60.40.0/24", "--availability-zone", "eu-west-1z"),
             ("InvalidVpcID.NotFound", "ec2", "create-subnet", "--vpc-id", "vpc-0123456789abcdef0",
              "--cidr-block", "10.60.40.0/24"),
             ("InvalidVpc.Range", "ec2", "create-vpc", "--cidr-block", "10.0.0.0/8"))
    status, body = ec2_call(fake, "CreateSubnet", VpcId=n["vpc"])
    check(status == 400 and error_code(body) == "MissingParameter", "no CidrBlock: %d %s" % (status, body))
    subs = by_stack(cli, "describe-subnets", "Subnets")
    check(len(subs) == 4, "subnets by stack tag: %r" % subs)
    one = cli.run("ec2", "describe-subnets", "--filters", "Name=tag:vpcdns:name,Values=prod-priv*")["Subnets"]
    check([s["SubnetId"] for s in one] == [n["private"]], "tag filter with a wildcard %r" % one)


@test
def ec2_gateways_and_nat(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    n = net(ctx)
    igw = cli.run("ec2", "create-internet-gateway", "--tag-specifications",
                  tagspec("internet-gateway", "prod"))["InternetGateway"]
    check(re.fullmatch(r"igw-[0-9a-f]{17}", igw["InternetGatewayId"]) and igw["Attachments"] == [], "igw %r" % igw)
    n["igw"] = igw["InternetGatewayId"]
    cli.run("ec2", "attach-internet-gateway", "--internet-gateway-id", n["igw"], "--vpc-id", n["vpc"])
    other = cli.run("ec2", "create-internet-gateway")["InternetGateway"]["InternetGatewayId"]
    all_fail(cli,
             ("Resource.AlreadyAssociated", "ec2", "attach-internet-gateway", "--internet-gateway-id", n["igw"],
              "--vpc-id", n["vpc2"]),
             ("Resource.AlreadyAssociated", "ec2", "attach-internet-gateway", "--internet-gateway-id", other,
              "--vpc-id", n["vpc"]),
             ("Gateway.NotAttached", "ec2", "detach-internet-gateway", "--internet-gateway-id", n["igw"],
              "--vpc-id", n["vpc2"]))
    cli.run("ec2", "delete-internet-gateway", "--internet-gateway-id", other)
    got = cli.run("ec2", "describe-internet-gateways", "--filters",
                  "Name=attachment.vpc-id,Values=" + n["vpc"])["InternetGateways"]
    check([g["InternetGatewayId"] for g in got] == [n["igw"]] and
          got[0]["Attachments"] == [{"State": "available", "VpcId": n["vpc"]}], "attached igw %r" % got)
    # An Elastic IP and a NAT gateway in the public subnet: pending for two polls, then available.
    control(fake, "settings", {"NatGatewayPendingPolls": 2, "NatGatewayDeletingPolls": 2})
    eip = cli.run("ec2", "allocate-address", "--domain", "vpc", "--tag-specifications",
                  tagspec("elastic-ip", "prod-nat-1"))
    check(eip["Domain"] == "vpc" and eip["AllocationId"].startswith("eipalloc-") and
          eip["PublicIp"].startswith("198.1"), "allocate-address %r" % eip)
    n["eip"] = eip["AllocationId"]
    nat = cli.run("ec2", "create-nat-gateway", "--subnet-id", n["public"], "--allocation-id", n["eip"],
                  "--tag-specifications", tagspec("natgateway", "prod-nat-1"))["NatGateway"]
    check(nat["State"] == "pending" and nat["VpcId"] == n["vpc"] and re.fullmatch(r"nat-[0-9a-f]{17}",
                                                                                    nat["NatGatewayId"]),
          "create-nat-gateway %r" % nat)
    n["nat"] = nat["NatGatewayId"]
    states = poll_nat(cli, n["nat"], "available")
    check(states == ["pending", "pending", "available"], "NAT gateway states %r" % states)
    got = cli.run("ec2", "describe-nat-gateways", "--filter", "Name=tag:vpcdns:stack,Values=" + STACK,
                  "Name=state,Values=available")["NatGateways"]
    check([g["NatGatewayId"] for g in got] == [n["nat"]], "filters on state and tag %r" % got)
    addr = got[0]["NatGatewayAddresses"][0]
    check(addr["AllocationId"] == n["eip"] and addr["PublicIp"] == eip["PublicIp"] and
          addr["PrivateIp"] == "10.60.0.4", "NAT addresses %r" % addr)
    a = cli.run("ec2", "describe-addresses", "--allocation-ids", n["eip"])["Addresses"][0]
    check(a["NetworkInterfaceId"] == addr["NetworkInterfaceId"] and a["AssociationId"].startswith("eipassoc-"),
          "EIP associated with the NAT interface %r" % a)
    enis = cli.run("ec2", "describe-network-interfaces", "--filters",
                   "Name=subnet-id,Values=" + n["public"])["NetworkInterfaces"]
    check(len(enis) == 1 and enis[0]["InterfaceType"] == "nat_gateway" and enis[0]["RequesterManaged"] and
          enis[0]["Association"]["PublicIp"] == eip["PublicIp"], "NAT interface %r" % enis)
    all_fail(cli, ("InvalidIPAddress.InUse", "ec2", "release-address", "--allocation-id", n["eip"]),
             ("NatGatewayNotFound", "ec2", "describe-nat-gateways", "--nat-gateway-ids", "nat-0123456789abcdef0"))
    # The same Elastic IP again: the gateway is made, then fails as on AWS.
    control(fake, "settings", {"NatGatewayPendingPolls": 0})
    bad = cli.run("ec2", "create-nat-gateway", "--subnet-id", n["public"], "--allocation-id",
                  n["eip"])["NatGateway"]["NatGatewayId"]
    failed = cli.run("ec2", "describe-nat-gateways", "--nat-gateway-ids", bad)["NatGateways"][0]
    check(failed["State"] == "failed" and failed["FailureCode"] == "Resource.AlreadyAssociated",
          "second NAT gateway on one EIP %r" % failed)
    control(fake, "settings", {"NatGatewayPendingPolls": None})


@test
def ec2_route_tables_and_routes(ctx):
    cli = ctx["cli"]
    n = net(ctx)
    pub = cli.run("ec2", "create-route-table", "--vpc-id", n["vpc"], "--tag-specifications",
                  tagspec("route-table", "prod-public"))["RouteTable"]
    check(pub["Associations"] == [] and [r["GatewayId"] for r in pub["Routes"]] == ["local"], "new table %r" % pub)
    n["pub_rtb"] = pub["RouteTableId"]
    out = cli.run("ec2", "create-route", "--route-table-id", n["pub_rtb"], "--destination-cidr-block", "0.0.0.0/0",
                  "--gateway-id", n["igw"])
    check(out == {"Return": True}, "create-route %r" % out)
    loose = cli.run("ec2", "create-internet-gateway")["InternetGateway"]["InternetGatewayId"]
    all_fail(cli,
             ("RouteAlreadyExists", "ec2", "create-route", "--route-table-id", n["pub_rtb"],
              "--destination-cidr-block", "0.0.0.0/0", "--gateway-id", n["igw"]),
             ("InvalidGatewayID.NotFound", "ec2", "create-route", "--route-table-id", n["pub_rtb"],
              "--destination-cidr-block", "192.0.2.0/24", "--gateway-id", "igw-0123456789abcdef0"),
             ("InvalidNatGatewayID.NotFound", "ec2", "create-route", "--route-table-id", n["pub_rtb"],
              "--destination-cidr-block", "192.0.2.0/24", "--nat-gateway-id", "nat-0123456789abcdef0"),
             ("InvalidParameterValue", "ec2", "create-route", "--route-table-id", n["pub_rtb"],  # not attached
              "--destination-cidr-block", "192.0.2.0/24", "--gateway-id", loose))
    cli.run("ec2", "delete-internet-gateway", "--internet-gateway-id", loose)
    assoc = cli.run("ec2", "associate-route-table", "--route-table-id", n["pub_rtb"], "--subnet-id", n["public"])
    check(assoc["AssociationId"].startswith("rtbassoc-") and assoc["AssociationState"] == {"State": "associated"},
          "associate-route-table %r" % assoc)
    n["pub_assoc"] = assoc["AssociationId"]
    fails(cli, "Resource.AlreadyAssociated", "ec2", "associate-route-table", "--route-table-id", n["pub_rtb"],
          "--subnet-id", n["public"])
    priv = cli.run("ec2", "create-route-table", "--vpc-id", n["vpc"], "--tag-specifications",
                   tagspec("route-table", "prod-private"))["RouteTable"]["RouteTableId"]
    n["priv_rtb"] = priv
    cli.run("ec2", "create-route", "--route-table-id", priv, "--destination-cidr-block", "0.0.0.0/0",
            "--nat-gateway-id", n["nat"])
    n["priv_assoc"] = cli.run("ec2", "associate-route-table", "--route-table-id", priv, "--subnet-id",
                              n["private"])["AssociationId"]
    rts = cli.run("ec2", "describe-route-tables", "--filters",
                  "Name=association.subnet-id,Values=" + n["private"])["RouteTables"]
    check([t["RouteTableId"] for t in rts] == [priv] and rts[0]["Routes"][1] == {
        "DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": n["nat"], "Origin": "CreateRoute", "State": "active"},
        "private table %r" % rts)
    check(sorted(t["RouteTableId"] for t in by_stack(cli, "describe-route-tables", "RouteTables")) ==
          sorted([n["pub_rtb"], priv]), "tables by tag")
    cli.run("ec2", "replace-route", "--route-table-id", priv, "--destination-cidr-block", "0.0.0.0/0",
            "--gateway-id", n["igw"])
    r = cli.run("ec2", "describe-route-tables", "--route-table-ids", priv)["RouteTables"][0]["Routes"][1]
    check(r.get("GatewayId") == n["igw"] and "NatGatewayId" not in r, "replace-route %r" % r)
    cli.run("ec2", "replace-route", "--route-table-id", priv, "--destination-cidr-block", "0.0.0.0/0",
            "--nat-gateway-id", n["nat"])
    all_fail(cli,
             ("InvalidRoute.NotFound", "ec2", "delete-route", "--route-table-id", priv,
              "--destination-cidr-block", "192.0.2.0/24"),
             ("InvalidParameterValue", "ec2", "delete-route", "--route-table-id", priv,  # the local route
              "--destination-cidr-block", "10.60.0.0/16"),
             ("DependencyViolation", "ec2", "delete-route-table", "--route-table-id", n["pub_rtb"]),
             ("DependencyViolation", "ec2", "delete-route-table", "--route-table-id", n["main_rtb"]),
             ("InvalidRouteTableID.NotFound", "ec2", "describe-route-tables", "--route-table-ids",
              "rtb-0123456789abcdef0"))


@test
def ec2_security_groups(ctx):
    cli = ctx["cli"]
    n = net(ctx)
    sg = cli.run("ec2", "create-security-group", "--group-name", "vpcdns-dns", "--description", "DNS from the VPCs",
                 "--vpc-id", n["vpc"], "--tag-specifications", tagspec("security-group", "prod-dns"))
    check(re.fullmatch(r"sg-[0-9a-f]{17}", sg["GroupId"]) and tags_of(sg)["vpcdns:name"] == "prod-dns",
          "create-security-group %r" % sg)
    n["sg"] = sg["GroupId"]
    perms = [{"IpProtocol": "udp", "FromPort": 53, "ToPort": 53,
              "IpRanges": [{"CidrIp": "10.60.0.0/16", "Description": "prod"}, {"CidrIp": "10.61.0.0/16"}]},
             {"IpProtocol": "tcp", "FromPort": 53, "ToPort": 53,
              "IpRanges": [{"CidrIp": "10.60.0.0/16"}, {"CidrIp": "10.61.0.0/16"}]}]
    out = cli.run("ec2", "authorize-security-group-ingress", "--group-id", n["sg"], "--ip-permissions",
                  json.dumps(perms))
    check(out["Return"] is True and len(out["SecurityGroupRules"]) == 4 and
          all(r["SecurityGroupRuleId"].startswith("sgr-") and not r["IsEgress"] for r in out["SecurityGroupRules"]),
          "authorize %r" % out)
    all_fail(cli,
             ("InvalidPermission.Duplicate", "ec2", "authorize-security-group-ingress", "--group-id", n["sg"],
              "--ip-permissions", json.dumps(perms[:1])),
             ("InvalidGroup.Duplicate", "ec2", "create-security-group", "--group-name", "vpcdns-dns",
              "--description", "again", "--vpc-id", n["vpc"]))
    g = cli.run("ec2", "describe-security-groups", "--group-ids", n["sg"])["SecurityGroups"][0]
    got = {(p["IpProtocol"], p["FromPort"], p["ToPort"]): [(r["CidrIp"], r.get("Description")) for r in p["IpRanges"]]
           for p in g["IpPermissions"]}
    check(got == {("udp", 53, 53): [("10.60.0.0/16", "prod"), ("10.61.0.0/16", None)],
                  ("tcp", 53, 53): [("10.60.0.0/16", None), ("10.61.0.0/16", None)]}, "ingress %r" % got)
    check(g["IpPermissionsEgress"][0]["IpProtocol"] == "-1" and
          g["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}], "egress %r" % g)
    found = cli.run("ec2", "describe-security-groups", "--filters", "Name=tag:vpcdns:name,Values=prod-dns",
                    "Name=ip-permission.from-port,Values=53", "Name=ip-permission.cidr,Values=10.61.0.0/16")
    check([x["GroupId"] for x in found["SecurityGroups"]] == [n["sg"]], "filters %r" % found)
    revoke = [{"IpProtocol": "tcp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "10.61.0.0/16"}]}]
    cli.run("ec2", "revoke-security-group-ingress", "--group-id", n["sg"], "--ip-permissions", json.dumps(revoke))
    g = cli.run("ec2", "describe-security-groups", "--group-ids", n["sg"])["SecurityGroups"][0]
    tcp = [p for p in g["IpPermissions"] if p["IpProtocol"] == "tcp"][0]
    check(tcp["IpRanges"] == [{"CidrIp": "10.60.0.0/16"}], "after revoke %r" % tcp)
    all_fail(cli,
             ("InvalidPermission.NotFound", "ec2", "revoke-security-group-ingress", "--group-id", n["sg"],
              "--ip-permissions", json.dumps(revoke)),
             ("CannotDelete", "ec2", "delete-security-group", "--group-id", n["default_sg"]),
             # names only work for the default VPC; others need the group-name filter
             ("InvalidGroup.NotFound", "ec2", "describe-security-groups", "--group-names", "vpcdns-dns"),
             ("InvalidGroup.NotFound", "ec2", "describe-security-groups", "--group-ids", "sg-0123456789abcdef0"))


@test
def ec2_dhcp_options_and_peering(ctx):
    cli = ctx["cli"]
    n = net(ctx)
    conf = [{"Key": "domain-name-servers", "Values": ["10.60.10.53", "10.61.10.53"]},
            {"Key": "domain-name", "Values": ["prod.internal"]}]
    d = cli.run("ec2", "create-dhcp-options", "--dhcp-configurations", json.dumps(conf), "--tag-specifications",
                tagspec("dhcp-options", "prod"))["DhcpOptions"]
    check(d["DhcpConfigurations"] == [{"Key": "domain-name-servers", "Values": [{"Value": "10.60.10.53"},
                                                                               {"Value": "10.61.10.53"}]},
                                      {"Key": "domain-name", "Values": [{"Value": "prod.internal"}]}],
          "create-dhcp-options %r" % d)
    n["dopt"] = d["DhcpOptionsId"]
    cli.run("ec2", "associate-dhcp-options", "--dhcp-options-id", n["dopt"], "--vpc-id", n["vpc"])
    five = [{"Key": "domain-name-servers", "Values": ["10.60.10.%d" % i for i in range(1, 6)]}]
    all_fail(cli,
             ("InvalidParameterValue", "ec2", "create-dhcp-options", "--dhcp-configurations", json.dumps(five)),
             ("InvalidParameterValue", "ec2", "create-dhcp-options", "--dhcp-configurations",
              json.dumps([{"Key": "bogus-option", "Values": ["x"]}])),
             ("DependencyViolation", "ec2", "delete-dhcp-options", "--dhcp-options-id", n["dopt"]))
    check(cli.run("ec2", "describe-vpcs", "--vpc-ids", n["vpc"])["Vpcs"][0]["DhcpOptionsId"] == n["dopt"],
          "VPC uses the new options")
    check([x["DhcpOptionsId"] for x in by_stack(cli, "describe-dhcp-options", "DhcpOptions")] == [n["dopt"]],
          "DHCP options by tag")
    got = cli.run("ec2", "describe-dhcp-options", "--filters", "Name=key,Values=domain-name-servers",
                  "Name=value,Values=10.61.10.53")["DhcpOptions"]
    check([x["DhcpOptionsId"] for x in got] == [n["dopt"]], "key/value filters %r" % got)
    # Peering: management (requester) with production (accepter).
    pcx = cli.run("ec2", "create-vpc-peering-connection", "--vpc-id", n["vpc2"], "--peer-vpc-id", n["vpc"],
                  "--tag-specifications", tagspec("vpc-peering-connection", "mgmt-prod"))["VpcPeeringConnection"]
    check(pcx["Status"]["Code"] == "initiating-request" and pcx["RequesterVpcInfo"]["CidrBlock"] == "10.61.0.0/16"
          and pcx["AccepterVpcInfo"]["VpcId"] == n["vpc"], "create-vpc-peering-connection %r" % pcx)
    n["pcx"] = pcx["VpcPeeringConnectionId"]
    listed = cli.run("ec2", "describe-vpc-peering-connections", "--vpc-peering-connection-ids", n["pcx"])
    check(listed["VpcPeeringConnections"][0]["Status"]["Code"] == "pending-acceptance", "pending %r" % listed)
    fails(cli, "VpcPeeringConnectionAlreadyExists", "ec2", "create-vpc-peering-connection", "--vpc-id", n["vpc"],
          "--peer-vpc-id", n["vpc2"])
    acc = cli.run("ec2", "accept-vpc-peering-connection", "--vpc-peering-connection-id",
                  n["pcx"])["VpcPeeringConnection"]
    check(acc["Status"]["Code"] == "provisioning" and acc["AccepterVpcInfo"]["CidrBlock"] == "10.60.0.0/16",
          "accept %r" % acc)
    active = cli.run("ec2", "describe-vpc-peering-connections", "--filters", "Name=status-code,Values=active",
                     "Name=tag:vpcdns:stack,Values=" + STACK)["VpcPeeringConnections"]
    check([p["VpcPeeringConnectionId"] for p in active] == [n["pcx"]], "active peering %r" % active)
    fails(cli, "InvalidStateTransition", "ec2", "accept-vpc-peering-connection", "--vpc-peering-connection-id",
          n["pcx"])
    cli.run("ec2", "create-route", "--route-table-id", n["priv_rtb"], "--destination-cidr-block", "10.61.0.0/16",
            "--vpc-peering-connection-id", n["pcx"])
    # Overlapping CIDRs: the connection fails.
    twin = cli.run("ec2", "create-vpc", "--cidr-block", "10.60.0.0/16")["Vpc"]["VpcId"]
    bad = cli.run("ec2", "create-vpc-peering-connection", "--vpc-id", twin, "--peer-vpc-id",
                  n["vpc"])["VpcPeeringConnection"]
    check(bad["Status"]["Code"] == "failed", "overlapping peering %r" % bad)
    cli.run("ec2", "delete-vpc", "--vpc-id", twin)


@test
def ec2_tags_on_every_kind(ctx):
    cli = ctx["cli"]
    n = net(ctx)
    ids = [n[k] for k in ("vpc", "public", "igw", "eip", "nat", "pub_rtb", "sg", "dopt", "pcx")]
    cli.run("ec2", "create-tags", "--resources", *ids, "--tags", "Key=owner,Value=net-team")
    rows = cli.run("ec2", "describe-tags", "--filters", "Name=key,Values=owner")["Tags"]
    check(sorted(r["ResourceId"] for r in rows) == sorted(ids) and
          {r["ResourceType"] for r in rows} == {"vpc", "subnet", "internet-gateway", "elastic-ip", "natgateway",
                                                "route-table", "security-group", "dhcp-options",
                                                "vpc-peering-connection"}, "describe-tags %r" % rows)
    got = cli.run("ec2", "describe-vpcs", "--filters", "Name=tag:owner,Values=net-*")["Vpcs"]
    check([v["VpcId"] for v in got] == [n["vpc"]], "wildcard tag value %r" % got)
    cli.run("ec2", "delete-tags", "--resources", n["vpc"], "--tags", "Key=owner")
    check(cli.run("ec2", "describe-vpcs", "--filters", "Name=tag:owner,Values=net-team")["Vpcs"] == [],
          "delete-tags")
    all_fail(cli,
             ("InvalidVpcID.NotFound", "ec2", "create-tags", "--resources", "vpc-0123456789abcdef0",
              "--tags", "Key=a,Value=b"),
             ("InvalidID", "ec2", "create-tags", "--resources", "bogus-0123", "--tags", "Key=a,Value=b"),
             ("InvalidParameterValue", "ec2", "create-tags", "--resources", n["vpc"], "--tags", "Key=aws:x,Value=y"))


@test
def route53_private_zone_with_tags(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    n = net(ctx)
    name = "prod.fake-net.internal"
    z = cli.run("route53", "create-hosted-zone", "--name", name, "--caller-reference", "fake-net-1",
                "--vpc", "VPCRegion=%s,VPCId=%s" % (REGION, n["vpc"]), "--hosted-zone-config",
                "PrivateZone=true,Comment=prod")
    zid = z["HostedZone"]["Id"].split("/")[-1]
    check(z["HostedZone"]["Config"] == {"Comment": "prod", "PrivateZone": True} and
          z["VPC"] == {"VPCRegion": REGION, "VPCId": n["vpc"]} and z["Location"].endswith(zid), "zone %r" % z)
    all_fail(cli,
             ("HostedZoneAlreadyExists", "route53", "create-hosted-zone", "--name", name, "--caller-reference",
              "fake-net-1", "--vpc", "VPCRegion=%s,VPCId=%s" % (REGION, n["vpc"])),
             ("ConflictingDomainExists", "route53", "create-hosted-zone", "--name", name, "--caller-reference",
              "fake-net-2", "--vpc", "VPCRegion=%s,VPCId=%s" % (REGION, n["vpc"])),
             ("InvalidVPCId", "route53", "create-hosted-zone", "--name", "x." + name, "--caller-reference",
              "fake-net-3", "--vpc", "VPCRegion=%s,VPCId=vpc-0123456789abcdef0" % REGION))
    cli.run("route53", "associate-vpc-with-hosted-zone", "--hosted-zone-id", zid,
            "--vpc", "VPCRegion=%s,VPCId=%s" % (REGION, n["vpc2"]))
    got = cli.run("route53", "get-hosted-zone", "--id", zid)
    check(sorted(v["VPCId"] for v in got["VPCs"]) == sorted([n["vpc"], n["vpc2"]]), "get-hosted-zone %r" % got)
    cli.run("route53", "change-tags-for-resource", "--resource-type", "hostedzone", "--resource-id", zid,
            "--add-tags", "Key=vpcdns:stack,Value=" + STACK, "Key=vpcdns:name,Value=prod")
    tags = cli.run("route53", "list-tags-for-resource", "--resource-type", "hostedzone", "--resource-id", zid)
    check(tags["ResourceTagSet"] == {"ResourceType": "hostedzone", "ResourceId": zid, "Tags": [
        {"Key": "vpcdns:stack", "Value": STACK}, {"Key": "vpcdns:name", "Value": "prod"}]}, "tags %r" % tags)
    byname = cli.run("route53", "list-hosted-zones-by-name", "--dns-name", name, "--max-items", "1")
    check(byname["HostedZones"][0]["Id"] == "/hostedzone/" + zid, "list-hosted-zones-by-name %r" % byname)
    left = control(fake, "resources?tag=vpcdns:stack=" + STACK)["hostedzone"]
    check([x["Id"] for x in left] == [zid] and left[0]["Source"] == "api", "/_fake/resources %r" % left)
    rec = {"Changes": [{"Action": "CREATE", "ResourceRecordSet": {"Name": "ns1." + name, "Type": "A", "TTL": 60,
                                                                  "ResourceRecords": [{"Value": "10.60.10.53"}]}}]}
    cli.run("route53", "change-resource-record-sets", "--hosted-zone-id", zid, "--change-batch", json.dumps(rec))
    fails(cli, "HostedZoneNotEmpty", "route53", "delete-hosted-zone", "--id", zid)
    rec["Changes"][0]["Action"] = "DELETE"
    cli.run("route53", "change-resource-record-sets", "--hosted-zone-id", zid, "--change-batch", json.dumps(rec))
    cli.run("route53", "disassociate-vpc-from-hosted-zone", "--hosted-zone-id", zid,
            "--vpc", "VPCRegion=%s,VPCId=%s" % (REGION, n["vpc2"]))
    fails(cli, "LastVPCAssociation", "route53", "disassociate-vpc-from-hosted-zone", "--hosted-zone-id", zid,
          "--vpc", "VPCRegion=%s,VPCId=%s" % (REGION, n["vpc"]))
    cli.run("route53", "change-tags-for-resource", "--resource-type", "hostedzone", "--resource-id", zid,
            "--remove-tag-keys", "vpcdns:name")
    tags = cli.run("route53", "list-tags-for-resource", "--resource-type", "hostedzone", "--resource-id", zid)
    check([t["Key"] for t in tags["ResourceTagSet"]["Tags"]] == ["vpcdns:stack"], "remove tag %r" % tags)
    cli.run("route53", "delete-hosted-zone", "--id", zid)
    fails(cli, "NoSuchHostedZone", "route53", "get-hosted-zone", "--id", zid)


# ---- tearing it down ------------------------------------------------------------------------

@test
def ec2_teardown_in_dependency_order(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    n = net(ctx)
    # Too early: AWS refuses.
    all_fail(cli,
             ("DependencyViolation", "ec2", "delete-vpc", "--vpc-id", n["vpc"]),
             ("DependencyViolation", "ec2", "delete-subnet", "--subnet-id", n["public"]),  # the NAT gateway
             ("DependencyViolation", "ec2", "delete-internet-gateway", "--internet-gateway-id", n["igw"]),
             ("DependencyViolation", "ec2", "detach-internet-gateway", "--internet-gateway-id", n["igw"],
              "--vpc-id", n["vpc"]))  # the NAT gateway's public address
    # NAT gateway: deleting, then deleted (and still listed, as on AWS).
    check(cli.run("ec2", "delete-nat-gateway", "--nat-gateway-id", n["nat"]) == {"NatGatewayId": n["nat"]},
          "delete-nat-gateway")
    states = poll_nat(cli, n["nat"], "deleted")
    check(states == ["deleting", "deleting", "deleted"], "NAT gateway states %r" % states)
    gone = cli.run("ec2", "describe-nat-gateways", "--filter", "Name=tag:vpcdns:stack,Values=" + STACK,
                   "Name=state,Values=deleted")["NatGateways"]
    check([g["NatGatewayId"] for g in gone] == [n["nat"]] and gone[0]["DeleteTime"], "deleted NAT %r" % gone)
    live = cli.run("ec2", "describe-nat-gateways", "--filter", "Name=vpc-id,Values=" + n["vpc"],
                   "Name=state,Values=pending,available,deleting")["NatGateways"]
    check(live == [], "no live NAT gateway %r" % live)
    cli.run("ec2", "release-address", "--allocation-id", n["eip"])
    cli.run("ec2", "delete-vpc-peering-connection", "--vpc-peering-connection-id", n["pcx"])
    routes = cli.run("ec2", "describe-route-tables", "--route-table-ids", n["priv_rtb"])["RouteTables"][0]["Routes"]
    check({r["DestinationCidrBlock"]: r["State"] for r in routes} ==
          {"10.60.0.0/16": "active", "0.0.0.0/0": "blackhole", "10.61.0.0/16": "blackhole"}, "blackholes %r" % routes)
    pcx = cli.run("ec2", "describe-vpc-peering-connections", "--vpc-peering-connection-ids", n["pcx"])
    check(pcx["VpcPeeringConnections"][0]["Status"]["Code"] == "deleted", "deleted peering %r" % pcx)
    for assoc in (n["pub_assoc"], n["priv_assoc"]):
        cli.run("ec2", "disassociate-route-table", "--association-id", assoc)
    fails(cli, "InvalidAssociationID.NotFound", "ec2", "disassociate-route-table", "--association-id",
          n["pub_assoc"])
    for rtb in (n["pub_rtb"], n["priv_rtb"]):
        cli.run("ec2", "delete-route-table", "--route-table-id", rtb)
    cli.run("ec2", "delete-security-group", "--group-id", n["sg"])
    cli.run("ec2", "detach-internet-gateway", "--internet-gateway-id", n["igw"], "--vpc-id", n["vpc"])
    cli.run("ec2", "delete-internet-gateway", "--internet-gateway-id", n["igw"])
    cli.run("ec2", "associate-dhcp-options", "--dhcp-options-id", "default", "--vpc-id", n["vpc"])
    check(cli.run("ec2", "describe-vpcs", "--vpc-ids", n["vpc"])["Vpcs"][0]["DhcpOptionsId"] == "default",
          "DHCP options 'default'")
    cli.run("ec2", "delete-dhcp-options", "--dhcp-options-id", n["dopt"])
    fails(cli, "DependencyViolation", "ec2", "delete-vpc", "--vpc-id", n["vpc"])  # subnets are left
    for sub in (n["public"], n["private"], n["persistence"], n["mgmt_private"]):
        cli.run("ec2", "delete-subnet", "--subnet-id", sub)
    for vpc in (n["vpc"], n["vpc2"]):
        cli.run("ec2", "delete-vpc", "--vpc-id", vpc)
    # Nothing of the stack is left (the deleted NAT gateway and peering only linger as deleted).
    left = control(fake, "resources?live=1&tag=vpcdns:stack=" + STACK)
    check(all(rows == [] for rows in left.values()), "leftovers %r" % {k: v for k, v in left.items() if v})
    check(by_stack(cli, "describe-vpcs", "Vpcs") == [] and by_stack(cli, "describe-subnets", "Subnets") == [],
          "describe by tag after teardown")
    check(cli.run("ec2", "describe-route-tables", "--filters", "Name=vpc-id,Values=" + n["vpc"])["RouteTables"] ==
          [], "main route table went with the VPC")
    fails(cli, "InvalidVpcID.NotFound", "ec2", "describe-vpcs", "--vpc-ids", n["vpc"])


# ---- faults, model, state -------------------------------------------------------------------------

@test
def ec2_fault_on_nth_call_and_after_the_call(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    control(fake, "reset", {})
    vpc = cli.run("ec2", "create-vpc", "--cidr-block", "10.62.0.0/16", "--tag-specifications",
                  tagspec("vpc", "faults", "fault-test"))["Vpc"]["VpcId"]
    control(fake, "faults", {"kind": "error", "action": "CreateSubnet", "nth": 2, "status": 400,
                             "code": "UnauthorizedOperation", "message": "injected"})
    subs = [cli.run("ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", "10.62.1.0/24")["Subnet"]["SubnetId"]]
    fails(cli, "UnauthorizedOperation", "ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", "10.62.2.0/24")
    subs.append(cli.run("ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", "10.62.2.0/24")["Subnet"]["SubnetId"])
    st = control(fake, "stats")
    check(st["actions"]["CreateSubnet"] == 3 and st["errors_by_action"]["CreateSubnet"] == {"UnauthorizedOperation": 1},
          "second CreateSubnet failed once %r" % st)
    # "after": the gateway is made, the answer is a 500; the CLI retries with the same
    # ClientToken and gets the same gateway back.
    control(fake, "faults", {"kind": "error", "action": "CreateNatGateway", "after": True, "status": 500})
    eip = cli.run("ec2", "allocate-address")["AllocationId"]
    nat = cli.run("ec2", "create-nat-gateway", "--subnet-id", subs[0], "--allocation-id", eip)["NatGateway"]
    sent = [e for e in control(fake, "log") if e["action"] == "CreateNatGateway"]
    tokens = {urllib.parse.parse_qs(e["body"])["ClientToken"][0] for e in sent}
    check(len(sent) == 2 and len(tokens) == 1 and sent[0]["status"] == 500 and sent[1]["status"] == 200,
          "one retry with the same token %r" % [(e["status"], e.get("fault")) for e in sent])
    all_nats = cli.run("ec2", "describe-nat-gateways", "--filter", "Name=subnet-id,Values=" + subs[0])["NatGateways"]
    check([g["NatGatewayId"] for g in all_nats] == [nat["NatGatewayId"]], "one gateway %r" % all_nats)
    # No internet gateway in this VPC: the gateway fails as on AWS.
    control(fake, "settings", {"NatGatewayPendingPolls": 0, "NatGatewayDeletingPolls": 0})
    try:
        g = cli.run("ec2", "describe-nat-gateways", "--nat-gateway-ids", nat["NatGatewayId"])["NatGateways"][0]
        check(g["State"] == "failed" and g["FailureCode"] == "Gateway.NotAttached", "no IGW: %r" % g)
        cli.run("ec2", "delete-nat-gateway", "--nat-gateway-id", nat["NatGatewayId"])
        cli.run("ec2", "release-address", "--allocation-id", eip)
        for s in subs:
            cli.run("ec2", "delete-subnet", "--subnet-id", s)
        cli.run("ec2", "delete-vpc", "--vpc-id", vpc)
    finally:
        control(fake, "settings", {"NatGatewayPendingPolls": None, "NatGatewayDeletingPolls": None})
    left = control(fake, "resources?live=1&tag=vpcdns:stack=fault-test")
    check(all(rows == [] for rows in left.values()), "leftovers %r" % left)


@test
def ec2_dry_run_consistency_and_param_faults(ctx):
    fake, cli = ctx["fake"], ctx["cli"]
    before = len(fake.state.vpcs)
    fails(cli, "DryRunOperation", "ec2", "create-vpc", "--cidr-block", "10.63.0.0/16", "--dry-run")
    status, body = ec2_call(fake, "CreateVpc", CidrBlock="10.63.0.0/16", DryRun="true")
    check(status == 412 and error_code(body) == "DryRunOperation" and len(fake.state.vpcs) == before,
          "dry run: %d %s" % (status, body))
    # EventualConsistencyCalls: a new ID is not found at first.
    control(fake, "settings", {"EventualConsistencyCalls": 1})
    try:
        status, body = ec2_call(fake, "CreateVpc", CidrBlock="10.63.0.0/16")
        vpc = re.search(rb"<vpcId>(vpc-[0-9a-f]{17})</vpcId>", body).group(1).decode()
        first = ec2_call(fake, "DescribeVpcs", **{"VpcId.1": vpc})
        second = ec2_call(fake, "DescribeVpcs", **{"VpcId.1": vpc})
        check(first[0] == 400 and error_code(first[1]) == "InvalidVpcID.NotFound" and second[0] == 200 and
              vpc.encode() in second[1], "not found once, then found: %r %r" % (first, second[0]))
    finally:
        control(fake, "settings", {"EventualConsistencyCalls": None})
    # A fault for one parameter value only.
    control(fake, "faults", {"kind": "error", "action": "DeleteVpc", "params": {"VpcId": vpc}, "status": 400,
                             "code": "DependencyViolation", "message": "injected"})
    other = ec2_call(fake, "DeleteVpc", VpcId="vpc-0123456789abcdef0")
    check(error_code(other[1]) == "InvalidVpcID.NotFound", "rule must not match another VPC: %r" % (other,))
    status, body = ec2_call(fake, "DeleteVpc", VpcId=vpc)
    check(status == 400 and b"injected" in body, "fault on the matching call: %d %s" % (status, body))
    status, body = ec2_call(fake, "DeleteVpc", VpcId=vpc)
    check(status == 200 and b"<return>true</return>" in body, "then deleted: %d %s" % (status, body))


@test
def network_answers_match_the_botocore_model(ctx):
    fake = ctx["fake"]
    captured = []
    sess = botocore.session.get_session()

    def client(service):
        c = sess.create_client(service, region_name=REGION, endpoint_url=fake.url,
                               aws_access_key_id=DEFAULT_ACCESS_KEY, aws_secret_access_key=DEFAULT_SECRET_KEY)
        c.meta.events.register("response-received.*.*", lambda event_name, **kw: captured.append(
            (service, event_name.split(".")[-1], kw["response_dict"]["body"])) if kw.get("response_dict") else None)
        return c
    ec2, r53 = client("ec2"), client("route53")
    control(fake, "settings", {"NatGatewayPendingPolls": 0, "NatGatewayDeletingPolls": 0})
    try:
        ts = lambda t: [{"ResourceType": t, "Tags": [{"Key": "vpcdns:stack", "Value": "model"}]}]  # noqa: E731
        vpc = ec2.create_vpc(CidrBlock="10.64.0.0/16", TagSpecifications=ts("vpc"))["Vpc"]["VpcId"]
        peer = ec2.create_vpc(CidrBlock="10.65.0.0/16")["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.64.0.0/24", TagSpecifications=ts("subnet"))["Subnet"]
        igw = ec2.create_internet_gateway(TagSpecifications=ts("internet-gateway"))["InternetGateway"]
        ec2.attach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc)
        eip = ec2.allocate_address(Domain="vpc", TagSpecifications=ts("elastic-ip"))["AllocationId"]
        nat = ec2.create_nat_gateway(SubnetId=sub["SubnetId"], AllocationId=eip)["NatGateway"]["NatGatewayId"]
        rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
        assoc = ec2.associate_route_table(RouteTableId=rtb, SubnetId=sub["SubnetId"])["AssociationId"]
        sg = ec2.create_security_group(GroupName="m", Description="m", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
            {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
        dopt = ec2.create_dhcp_options(DhcpConfigurations=[{"Key": "domain-name-servers",
                                                             "Values": ["10.64.0.53"]}])["DhcpOptions"]
        ec2.associate_dhcp_options(DhcpOptionsId=dopt["DhcpOptionsId"], VpcId=vpc)
        pcx = ec2.create_vpc_peering_connection(VpcId=vpc, PeerVpcId=peer)["VpcPeeringConnection"]
        ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx["VpcPeeringConnectionId"])
        ec2.modify_vpc_peering_connection_options(VpcPeeringConnectionId=pcx["VpcPeeringConnectionId"],
                                                  AccepterPeeringConnectionOptions={
                                                      "AllowDnsResolutionFromRemoteVpc": True})
        ec2.create_tags(Resources=[vpc, sg], Tags=[{"Key": "k", "Value": "v"}])
        for method in ("describe_vpcs", "describe_subnets", "describe_internet_gateways", "describe_addresses",
                       "describe_nat_gateways", "describe_network_interfaces", "describe_route_tables",
                       "describe_security_groups", "describe_security_group_rules", "describe_dhcp_options",
                       "describe_vpc_peering_connections", "describe_tags"):
            getattr(ec2, method)()
        zid = r53.create_hosted_zone(Name="model.internal", CallerReference="model-1", VPC={
            "VPCRegion": REGION, "VPCId": vpc})["HostedZone"]["Id"].split("/")[-1]
        r53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zid, AddTags=[{"Key": "a", "Value": "b"}])
        r53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=zid)
        r53.list_tags_for_resources(ResourceType="hostedzone", ResourceIds=[zid])
        r53.list_hosted_zones_by_name(DNSName="model.internal")
        r53.delete_hosted_zone(Id=zid)
        # Teardown (every delete answers <return>true</return> or its model's shape).
        ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=pcx["VpcPeeringConnectionId"])
        ec2.delete_nat_gateway(NatGatewayId=nat)
        ec2.describe_nat_gateways(NatGatewayIds=[nat])
        ec2.release_address(AllocationId=eip)
        ec2.disassociate_route_table(AssociationId=assoc)
        ec2.delete_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0")
        ec2.delete_route_table(RouteTableId=rtb)
        ec2.revoke_security_group_ingress(GroupId=sg, IpPermissions=[
            {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
        ec2.delete_security_group(GroupId=sg)
        ec2.detach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc)
        ec2.delete_internet_gateway(InternetGatewayId=igw["InternetGatewayId"])
        ec2.associate_dhcp_options(DhcpOptionsId="default", VpcId=vpc)
        ec2.delete_dhcp_options(DhcpOptionsId=dopt["DhcpOptionsId"])
        ec2.delete_subnet(SubnetId=sub["SubnetId"])
        ec2.delete_vpc(VpcId=vpc)
        ec2.delete_vpc(VpcId=peer)
    finally:
        control(fake, "settings", {"NatGatewayPendingPolls": None, "NatGatewayDeletingPolls": None})
    problems = []
    for service, op, body in captured:
        problems += ["%s %s: %s" % (service, op, p) for p in model_walk(service, op, body)]
    check(len(captured) >= 50, "captured only %d answers" % len(captured))
    check(not problems, "; ".join(problems[:8]))
    left = control(fake, "resources?live=1&tag=vpcdns:stack=model")
    check(all(rows == [] for rows in left.values()), "leftovers %r" % left)


@test
def network_state_round_trip(ctx):
    """GET /_fake/state holds every network resource; POSTing it back changes nothing."""
    fake, cli = ctx["fake"], ctx["cli"]
    vpc = cli.run("ec2", "create-vpc", "--cidr-block", "10.66.0.0/16", "--tag-specifications",
                  tagspec("vpc", "round-trip", "round-trip"))["Vpc"]["VpcId"]
    sub = cli.run("ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", "10.66.1.0/24")["Subnet"]["SubnetId"]
    sg = cli.run("ec2", "create-security-group", "--group-name", "rt", "--description", "rt", "--vpc-id",
                 vpc)["GroupId"]
    cli.run("ec2", "authorize-security-group-ingress", "--group-id", sg, "--protocol", "udp", "--port", "53",
            "--cidr", "10.0.0.0/8")
    views = lambda: [cli.run("ec2", c, "--filters", "Name=vpc-id,Values=" + vpc)  # noqa: E731
                     for c in ("describe-subnets", "describe-route-tables", "describe-security-groups")]
    before = views()
    doc = control(fake, "state")
    check(any(v["VpcId"] == vpc and v["FakeSource"] == "api" for v in doc["Vpcs"]) and
          any(g["GroupId"] == sg for g in doc["SecurityGroups"]) and
          any(t["VpcId"] == vpc for t in doc["RouteTables"]), "state holds the new resources")
    control(fake, "state", doc)
    check(views() == before, "same answers after POST /_fake/state")
    check(control(fake, "state")["SecurityGroups"] == doc["SecurityGroups"], "same security groups")
    cli.run("ec2", "delete-security-group", "--group-id", sg)
    cli.run("ec2", "delete-subnet", "--subnet-id", sub)
    cli.run("ec2", "delete-vpc", "--vpc-id", vpc)
