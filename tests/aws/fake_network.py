"""The EC2 network world of the fake: VPCs and what hangs off them.

Every resource is kept as the AWS CLI prints it (API member names), one list
per kind on the State (state.vpcs, state.subnets, state.internet_gateways,
state.addresses, state.nat_gateways, state.route_tables,
state.security_groups, state.dhcp_options, state.peerings), so fake_model can
serialize it from the botocore model and a test can compare CLI output with
GET /_fake/state. Fake-only keys (never in an answer, kept in the exported
state so it reloads the same):

  Region       the region the resource lives in (a peering connection is
               also visible in its accepter's region)
  FakeSource   "state" (from the state file), "api" (created through the API)
               or "auto" (made by AWS itself: a VPC's main route table and
               default security group, a region's default DHCP options, a NAT
               gateway's network interface)
  FakePolls, FakeSince   NAT gateway and peering state machines: Describe
               answers that showed the transitional state, and when it began
  FakeDoneAt   when a NAT gateway or peering connection reached a final state
               (deleted, failed, rejected); it stays listed for
               Settings.DeletedVisibleSeconds, as on AWS
  ClientToken  the idempotency token a NAT gateway or route table was made with

State machines (Settings, all optional):
  NatGatewayPendingPolls (2) / NatGatewayPendingSeconds (null)
      pending -> available (or failed) once DescribeNatGateways has shown the
      gateway as pending that many times, or that many seconds have passed;
      null turns a condition off, both null: at once.
  NatGatewayDeletingPolls (2) / NatGatewayDeletingSeconds (null)
      deleting -> deleted, the same way.
  VpcPeeringProvisioningPolls (0) / VpcPeeringProvisioningSeconds (null)
      an accepted peering connection: provisioning -> active.
  DeletedVisibleSeconds (3600)
      how long deleted/failed NAT gateways and deleted/rejected/failed peering
      connections stay visible in Describe calls.
  EventualConsistencyCalls (0)
      a just-created ID answers Invalid...ID.NotFound to that many calls that
      name it (not in filters), as EC2 may right after a create.
"""

import collections
import copy
import ipaddress
import re
import time

from fake_common import AwsError, hexid, iso_now, tags_list

Kind = collections.namedtuple("Kind", "name prefix attr key notfound message malformed tagkey")

# name (= TagSpecification ResourceType), id prefix, State attribute, id member,
# not-found code and message, malformed-id code, tag member.
KINDS = [
    Kind("vpc", "vpc", "vpcs", "VpcId", "InvalidVpcID.NotFound",
         "The vpc ID '%s' does not exist", "InvalidVpcID.Malformed", "Tags"),
    Kind("subnet", "subnet", "subnets", "SubnetId", "InvalidSubnetID.NotFound",
         "The subnet ID '%s' does not exist", "InvalidSubnetID.Malformed", "Tags"),
    Kind("internet-gateway", "igw", "internet_gateways", "InternetGatewayId", "InvalidInternetGatewayID.NotFound",
         "The internetGateway ID '%s' does not exist", "InvalidInternetGatewayId.Malformed", "Tags"),
    Kind("elastic-ip", "eipalloc", "addresses", "AllocationId", "InvalidAllocationID.NotFound",
         "The allocation ID '%s' does not exist", "InvalidAllocationID.Malformed", "Tags"),
    Kind("natgateway", "nat", "nat_gateways", "NatGatewayId", "NatGatewayNotFound",
         "NAT gateway %s was not found", "NatGatewayMalformed", "Tags"),
    Kind("route-table", "rtb", "route_tables", "RouteTableId", "InvalidRouteTableID.NotFound",
         "The routeTable ID '%s' does not exist", "InvalidRouteTableId.Malformed", "Tags"),
    Kind("security-group", "sg", "security_groups", "GroupId", "InvalidGroup.NotFound",
         "The security group '%s' does not exist", "InvalidGroupId.Malformed", "Tags"),
    Kind("dhcp-options", "dopt", "dhcp_options", "DhcpOptionsId", "InvalidDhcpOptionID.NotFound",
         "The dhcpOption ID '%s' does not exist", "InvalidDhcpOptionsId.Malformed", "Tags"),
    Kind("vpc-peering-connection", "pcx", "peerings", "VpcPeeringConnectionId",
         "InvalidVpcPeeringConnectionID.NotFound", "The vpcPeeringConnection ID '%s' does not exist",
         "InvalidVpcPeeringConnectionId.Malformed", "Tags"),
    Kind("instance", "i", "instances", "InstanceId", "InvalidInstanceID.NotFound",
         "The instance ID '%s' does not exist", "InvalidInstanceID.Malformed", "Tags"),
    Kind("network-interface", "eni", "enis", "NetworkInterfaceId", "InvalidNetworkInterfaceID.NotFound",
         "The networkInterface ID '%s' does not exist", "InvalidNetworkInterfaceID.Malformed", "TagSet"),
]
BY_NAME = {k.name: k for k in KINDS}
BY_PREFIX = {k.prefix: k for k in KINDS}
# The keys a state document uses for each kind (the CLI's output names).
DOC_KEYS = {"vpc": "Vpcs", "subnet": "Subnets", "internet-gateway": "InternetGateways",
            "elastic-ip": "Addresses", "natgateway": "NatGateways", "route-table": "RouteTables",
            "security-group": "SecurityGroups", "dhcp-options": "DhcpOptions",
            "vpc-peering-connection": "VpcPeeringConnections"}
NAT_LIVE = ("pending", "available", "deleting")
PEERING_LIVE = ("initiating-request", "pending-acceptance", "provisioning", "active")


# ---- lookups -----------------------------------------------------------------------

def visible(kind, obj, region):
    if kind.name == "vpc-peering-connection":
        return region in (obj["Region"], obj["AccepterVpcInfo"].get("Region"))
    return obj.get("Region") == region


def in_region(state, kind_name, region):
    kind = BY_NAME[kind_name]
    return [o for o in getattr(state, kind.attr) if visible(kind, o, region)]


def check_id(kind, rid):
    if not isinstance(rid, str) or not re.fullmatch(re.escape(kind.prefix) + r"-[0-9a-z]+", rid):
        if kind.name == "natgateway":
            raise AwsError(kind.notfound, kind.message % rid)
        raise AwsError(kind.malformed, 'Invalid id: "%s" (expecting "%s-...")' % (rid, kind.prefix))


def find(state, kind_name, rid, region, code=None, message=None):
    """The resource `rid` of that kind visible in `region`, or the AWS error
    (`code`/`message` override the not-found error, e.g. for a route target)."""
    kind = BY_NAME[kind_name]
    if code and kind.name == "natgateway" and not re.fullmatch(r"nat-[0-9a-z]+", rid or ""):
        raise AwsError(code, (message or kind.message) % rid)
    check_id(kind, rid)
    for o in getattr(state, kind.attr):
        if o[kind.key] == rid and visible(kind, o, region):
            return o
    raise AwsError(code or kind.notfound, (message or kind.message) % rid)


def kind_of_id(rid):
    m = re.fullmatch(r"([a-z]+)-[0-9a-z]+", rid or "")
    return BY_PREFIX.get(m.group(1)) if m else None


def remove(state, kind_name, obj):
    kind = BY_NAME[kind_name]
    setattr(state, kind.attr, [o for o in getattr(state, kind.attr) if o is not obj])


def tag_dict(obj, kind):
    return {t["Key"]: t["Value"] for t in obj.get(kind.tagkey) or []}


# ---- defaults ----------------------------------------------------------------------

def az_id(az):
    """"eu-west-1a" -> "euw1-az1" (AWS maps zone names to ids per account; this is one mapping)."""
    m = re.fullmatch(r"([a-z]{2})-([a-z]+)-(\d+)([a-z])", az or "")
    if not m:
        return None
    short = {"north": "n", "south": "s", "east": "e", "west": "w", "central": "c", "northeast": "ne",
             "southeast": "se", "northwest": "nw", "southwest": "sw"}.get(m.group(2), m.group(2)[:2])
    return "%s%s%s-az%d" % (m.group(1), short, m.group(3), ord(m.group(4)) - ord("a") + 1)


def default_dhcp_id(state, region):
    return "dopt-" + hexid("default-dhcp-options", state.account, region)


def default_dhcp_config(region):
    domain = "ec2.internal" if region == "us-east-1" else region + ".compute.internal"
    return [{"Key": "domain-name", "Values": [{"Value": domain}]},
            {"Key": "domain-name-servers", "Values": [{"Value": "AmazonProvidedDNS"}]}]


def local_route(cidr):
    return {"DestinationCidrBlock": cidr, "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"}


def _common(state, kind_name, obj, region=None):
    kind = BY_NAME[kind_name]
    obj = copy.deepcopy(obj)
    obj.setdefault("Region", region or state.region)
    obj.setdefault("FakeSource", "state")
    if kind_name not in ("elastic-ip", "natgateway", "vpc-peering-connection"):
        obj.setdefault("OwnerId", state.account)
    obj[kind.tagkey] = tags_list(obj.get(kind.tagkey))
    return obj


def _vpc_region(state, vpc_id):
    for v in state.vpcs:
        if v["VpcId"] == vpc_id:
            return v["Region"]
    return None


def fill_internet_gateway(state, g):
    region = next((_vpc_region(state, a["VpcId"]) for a in g.get("Attachments", [])), None)
    g = _common(state, "internet-gateway", g, region)
    g["Attachments"] = [{"State": a.get("State", "available"), "VpcId": a["VpcId"]}
                        for a in g.get("Attachments", [])]
    return g


def fill_address(state, a):
    a = _common(state, "elastic-ip", a)
    a.setdefault("Domain", "vpc")
    a.setdefault("PublicIpv4Pool", "amazon")
    a.setdefault("NetworkBorderGroup", a["Region"])
    return a


def fill_nat_gateway(state, n):
    sub = state.subnet_by_id.get(n.get("SubnetId"), {})
    n = _common(state, "natgateway", n, sub.get("Region"))
    n.setdefault("VpcId", sub.get("VpcId"))
    n.setdefault("State", "available")
    n.setdefault("ConnectivityType", "public")
    n.setdefault("CreateTime", iso_now())
    n.setdefault("NatGatewayAddresses", [])
    n.setdefault("FakePolls", 0)
    n.setdefault("FakeSince", time.time())
    return n


def fill_route_table(state, rt):
    rt = _common(state, "route-table", rt, _vpc_region(state, rt.get("VpcId")))
    vpc = next((v for v in state.vpcs if v["VpcId"] == rt["VpcId"]), None)
    if "Routes" not in rt:
        rt["Routes"] = [local_route(vpc["CidrBlock"])] if vpc else []
    for r in rt["Routes"]:
        r.setdefault("Origin", "CreateRoute")
        r.setdefault("State", "active")
    rt.setdefault("Associations", [])
    for a in rt["Associations"]:
        a.setdefault("Main", False)
        a.setdefault("RouteTableId", rt["RouteTableId"])
        a.setdefault("RouteTableAssociationId", "rtbassoc-" + hexid(rt["RouteTableId"], a.get("SubnetId", "main")))
        a.setdefault("AssociationState", {"State": "associated"})
    rt.setdefault("PropagatingVgws", [])
    return rt


def fill_security_group(state, g):
    g = _common(state, "security-group", g, _vpc_region(state, g.get("VpcId")))
    g.setdefault("Description", g.get("GroupName", ""))
    if "SecurityGroupRules" not in g:
        rules = []
        for egress, perms in ((False, g.get("IpPermissions", [])), (True, g.get("IpPermissionsEgress", []))):
            for p in perms:
                rules.extend(rules_of_permission(state, g, p, egress))
        g["SecurityGroupRules"] = rules
    rebuild_permissions(g)
    return g


def fill_dhcp_options(state, d):
    d = _common(state, "dhcp-options", d)
    d["DhcpConfigurations"] = [{"Key": c["Key"], "Values": [v if isinstance(v, dict) else {"Value": v}
                                                             for v in c.get("Values", [])]}
                               for c in d.get("DhcpConfigurations", [])]
    return d


def peering_info(state, vpc, full=True):
    info = {"OwnerId": state.account, "VpcId": vpc["VpcId"], "Region": vpc["Region"]}
    if full:
        info["CidrBlock"] = vpc["CidrBlock"]
        info["CidrBlockSet"] = [{"CidrBlock": a["CidrBlock"]} for a in vpc.get("CidrBlockAssociationSet", [])]
    return info


def fill_peering(state, p):
    p = _common(state, "vpc-peering-connection", p, _vpc_region(state, (p.get("RequesterVpcInfo") or {}).get("VpcId")))
    p.setdefault("Status", {"Code": "active", "Message": "Active"})
    if isinstance(p["Status"], str):
        p["Status"] = {"Code": p["Status"], "Message": p["Status"].replace("-", " ").capitalize()}
    for side in ("RequesterVpcInfo", "AccepterVpcInfo"):
        info = p.setdefault(side, {})
        vpc = next((v for v in state.vpcs if v["VpcId"] == info.get("VpcId")), None)
        if vpc:
            for k, v in peering_info(state, vpc, p["Status"]["Code"] == "active" or side == "RequesterVpcInfo").items():
                info.setdefault(k, v)
        info.setdefault("OwnerId", state.account)
        info.setdefault("Region", p["Region"])
    p.setdefault("FakePolls", 0)
    p.setdefault("FakeSince", time.time())
    return p


# ---- security group rules ------------------------------------------------------------

def rule_key(r):
    peer = r.get("CidrIpv4") or r.get("CidrIpv6") or (r.get("ReferencedGroupInfo") or {}).get("GroupId") \
        or r.get("PrefixListId")
    return (bool(r["IsEgress"]), r["IpProtocol"], r.get("FromPort"), r.get("ToPort"), peer)


def new_rule(state, group, egress, proto, from_port, to_port, peer_kind, peer, description=None):
    r = {"SecurityGroupRuleId": "sgr-" + hexid(group["GroupId"], str(egress), proto, str(from_port),
                                               str(to_port), str(peer)),
         "GroupId": group["GroupId"], "GroupOwnerId": state.account, "IsEgress": egress,
         "IpProtocol": proto, "Tags": []}
    r["FromPort"], r["ToPort"] = (from_port, to_port) if proto != "-1" else (-1, -1)
    if peer_kind == "cidr4":
        r["CidrIpv4"] = peer
    elif peer_kind == "cidr6":
        r["CidrIpv6"] = peer
    elif peer_kind == "prefix":
        r["PrefixListId"] = peer
    else:
        r["ReferencedGroupInfo"] = {"GroupId": peer, "UserId": state.account}
    if description:
        r["Description"] = description
    return r


def rules_of_permission(state, group, p, egress):
    """Rules (SecurityGroupRule shape) from an IpPermission in API shape."""
    proto = str(p.get("IpProtocol", "-1"))
    fp, tp = p.get("FromPort"), p.get("ToPort")
    out = []
    for r in p.get("IpRanges", []):
        out.append(new_rule(state, group, egress, proto, fp, tp, "cidr4", r["CidrIp"], r.get("Description")))
    for r in p.get("Ipv6Ranges", []):
        out.append(new_rule(state, group, egress, proto, fp, tp, "cidr6", r["CidrIpv6"], r.get("Description")))
    for r in p.get("PrefixListIds", []):
        out.append(new_rule(state, group, egress, proto, fp, tp, "prefix", r["PrefixListId"], r.get("Description")))
    for r in p.get("UserIdGroupPairs", []):
        gid = r.get("GroupId") or group["GroupId"]
        out.append(new_rule(state, group, egress, proto, fp, tp, "group", gid, r.get("Description")))
    return out


def rebuild_permissions(group):
    """IpPermissions / IpPermissionsEgress (grouped by protocol and ports) from the rules."""
    for egress, key in ((False, "IpPermissions"), (True, "IpPermissionsEgress")):
        perms = collections.OrderedDict()
        for r in group["SecurityGroupRules"]:
            if bool(r["IsEgress"]) != egress:
                continue
            k = (r["IpProtocol"], r.get("FromPort"), r.get("ToPort"))
            p = perms.get(k)
            if p is None:
                p = {"IpProtocol": r["IpProtocol"], "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
                     "UserIdGroupPairs": []}
                if r["IpProtocol"] != "-1":
                    p["FromPort"], p["ToPort"] = r.get("FromPort"), r.get("ToPort")
                perms[k] = p
            d = {"Description": r["Description"]} if r.get("Description") else {}
            if "CidrIpv4" in r:
                p["IpRanges"].append(dict({"CidrIp": r["CidrIpv4"]}, **d))
            elif "CidrIpv6" in r:
                p["Ipv6Ranges"].append(dict({"CidrIpv6": r["CidrIpv6"]}, **d))
            elif "PrefixListId" in r:
                p["PrefixListIds"].append(dict({"PrefixListId": r["PrefixListId"]}, **d))
            else:
                p["UserIdGroupPairs"].append(dict({"GroupId": r["ReferencedGroupInfo"]["GroupId"],
                                                   "UserId": r["ReferencedGroupInfo"]["UserId"]}, **d))
        group[key] = list(perms.values())


# ---- what AWS makes by itself ---------------------------------------------------------

def ensure_default_dhcp(state, region):
    did = default_dhcp_id(state, region)
    for d in state.dhcp_options:
        if d["DhcpOptionsId"] == did:
            return d
    d = fill_dhcp_options(state, {"DhcpOptionsId": did, "DhcpConfigurations": default_dhcp_config(region),
                                  "Region": region, "FakeSource": "auto"})
    state.dhcp_options.append(d)
    return d


def ensure_vpc_defaults(state, vpc):
    """A VPC's main route table, its default security group and its DHCP options set."""
    vid = vpc["VpcId"]
    if not any(rt["VpcId"] == vid and any(a.get("Main") for a in rt["Associations"]) for rt in state.route_tables):
        rtb = "rtb-" + hexid("main", vid)
        state.route_tables.append(fill_route_table(state, {
            "RouteTableId": rtb, "VpcId": vid, "FakeSource": "auto",
            "Associations": [{"Main": True, "RouteTableAssociationId": "rtbassoc-" + hexid("main", rtb)}]}))
    if not any(g["VpcId"] == vid and g["GroupName"] == "default" for g in state.security_groups):
        gid = "sg-" + hexid("default", vid)
        g = {"GroupId": gid, "GroupName": "default", "Description": "default VPC security group",
             "VpcId": vid, "FakeSource": "auto",
             "IpPermissions": [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": gid}]}],
             "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}
        state.security_groups.append(fill_security_group(state, g))
    did = vpc.get("DhcpOptionsId")
    if did == default_dhcp_id(state, vpc["Region"]):
        ensure_default_dhcp(state, vpc["Region"])
    elif did != "default" and not any(d["DhcpOptionsId"] == did for d in state.dhcp_options):
        state.dhcp_options.append(fill_dhcp_options(state, {
            "DhcpOptionsId": did, "DhcpConfigurations": default_dhcp_config(vpc["Region"]),
            "Region": vpc["Region"], "FakeSource": "auto"}))


def free_address(state, subnet):
    """The lowest free private address of a subnet (AWS keeps the first four and the last)."""
    net = ipaddress.ip_network(subnet["CidrBlock"])
    used = {e.get("PrivateIpAddress") for e in state.enis if e.get("SubnetId") == subnet["SubnetId"]}
    used |= {i.get("PrivateIpAddress") for i in state.instances if i.get("SubnetId") == subnet["SubnetId"]}
    for n in range(4, net.num_addresses - 1):
        ip = str(net.network_address + n)
        if ip not in used:
            return ip
    raise AwsError("InsufficientFreeAddressesInSubnet", "The specified subnet does not have enough free addresses "
                   "to satisfy the request.")


def add_nat_interface(state, nat):
    """The requester-managed network interface a NAT gateway has in its subnet."""
    addr = nat["NatGatewayAddresses"][0]
    if any(e["NetworkInterfaceId"] == addr["NetworkInterfaceId"] for e in state.enis):
        return
    e = {"NetworkInterfaceId": addr["NetworkInterfaceId"], "SubnetId": nat["SubnetId"], "VpcId": nat["VpcId"],
         "Region": nat["Region"], "PrivateIpAddress": addr["PrivateIp"],
         "Description": "Interface for NAT Gateway " + nat["NatGatewayId"], "InterfaceType": "nat_gateway",
         "RequesterManaged": True, "Status": "in-use", "FakeSource": "auto"}
    if addr.get("PublicIp"):
        e["PublicIp"] = addr["PublicIp"]
    state.enis.append(state._eni_defaults(e))


def release_nat(state, nat):
    """A NAT gateway that is gone gives back its interface and its Elastic IP association."""
    ids = {a.get("NetworkInterfaceId") for a in nat["NatGatewayAddresses"]}
    state.enis = [e for e in state.enis if e["NetworkInterfaceId"] not in ids]
    for a in state.addresses:
        if a.get("NetworkInterfaceId") in ids:
            for k in ("AssociationId", "NetworkInterfaceId", "NetworkInterfaceOwnerId", "PrivateIpAddress"):
                a.pop(k, None)


# ---- loading and exporting -------------------------------------------------------------

def load(state, doc):
    """Fill state's network lists from a state document (called after VPCs and ENIs are loaded)."""
    for v in state.vpcs:
        v.setdefault("FakeSource", "state")
    for s in state.subnets:
        s.setdefault("FakeSource", "state")
    state.dhcp_options = [fill_dhcp_options(state, d) for d in doc.get("DhcpOptions", [])]
    state.internet_gateways = [fill_internet_gateway(state, g) for g in doc.get("InternetGateways", [])]
    state.addresses = [fill_address(state, a) for a in doc.get("Addresses", [])]
    state.route_tables = [fill_route_table(state, rt) for rt in doc.get("RouteTables", [])]
    state.security_groups = [fill_security_group(state, g) for g in doc.get("SecurityGroups", [])]
    state.peerings = [fill_peering(state, p) for p in doc.get("VpcPeeringConnections", [])]
    state.nat_gateways = [fill_nat_gateway(state, n) for n in doc.get("NatGateways", [])]
    for n in state.nat_gateways:
        addrs = n["NatGatewayAddresses"]
        if n["State"] in NAT_LIVE and addrs and addrs[0].get("NetworkInterfaceId"):
            add_nat_interface(state, n)
    for v in state.vpcs:
        ensure_vpc_defaults(state, v)
    refresh_routes(state)
    state.fresh_ids = {}


def all_ids(state):
    return {o[k.key] for k in KINDS if k.name not in ("instance", "network-interface")
            for o in getattr(state, k.attr)}


def check_fresh(state, params):
    """EventualConsistencyCalls: a fresh ID named in a call (not in a filter) is not found yet."""
    for name, value in params.items():
        if name.startswith("Filter.") or state.fresh_ids.get(value, 0) <= 0:
            continue
        state.fresh_ids[value] -= 1
        kind = kind_of_id(value)
        raise AwsError(kind.notfound, kind.message % value)


def export(state, doc):
    """Put the live network resources into a state document (GET /_fake/state)."""
    for name, key in DOC_KEYS.items():
        doc[key] = copy.deepcopy(getattr(state, BY_NAME[name].attr))
    for s in doc["Subnets"]:
        s.pop("Ipv6CidrBlocks", None)
    return doc


# ---- time passing ------------------------------------------------------------------

def _setting(state, key, default):
    return state.settings[key] if key in state.settings else default


def due(state, obj, what, default_polls, now):
    """True when a transition `what` (e.g. "NatGatewayPending") may happen now."""
    polls = _setting(state, what + "Polls", default_polls)
    secs = _setting(state, what + "Seconds", None)
    if polls is None and secs is None:
        return True
    return (polls is not None and obj.get("FakePolls", 0) >= int(polls)) or \
        (secs is not None and now - obj.get("FakeSince", now) >= float(secs))


def start(obj, now=None):
    obj["FakePolls"] = 0
    obj["FakeSince"] = now if now is not None else time.time()


def tick(state, now=None):
    """Move NAT gateways and peering connections along; forget old deleted ones; route states."""
    now = now if now is not None else time.time()
    for n in state.nat_gateways:
        if n["State"] == "pending" and due(state, n, "NatGatewayPending", 2, now):
            if n.get("FakeFailure"):
                n["State"] = "failed"
                n["FailureCode"], n["FailureMessage"] = n.pop("FakeFailure")
                release_nat(state, n)
                for a in n["NatGatewayAddresses"]:
                    a.pop("NetworkInterfaceId", None)
                    a.pop("PrivateIp", None)
                    a.pop("PublicIp", None)
                n["FakeDoneAt"] = now
            else:
                n["State"] = "available"
        elif n["State"] == "deleting" and due(state, n, "NatGatewayDeleting", 2, now):
            n["State"] = "deleted"
            n["DeleteTime"] = iso_now()
            release_nat(state, n)
            n["FakeDoneAt"] = now
    for p in state.peerings:
        if p["Status"]["Code"] == "provisioning" and due(state, p, "VpcPeeringProvisioning", 0, now):
            p["Status"] = {"Code": "active", "Message": "Active"}
    keep = float(_setting(state, "DeletedVisibleSeconds", 3600))
    state.nat_gateways = [n for n in state.nat_gateways if now - n.get("FakeDoneAt", now) <= keep]
    state.peerings = [p for p in state.peerings if now - p.get("FakeDoneAt", now) <= keep]
    refresh_routes(state)


def route_state(state, rt, route):
    """active, or blackhole when the target is gone (detached, deleted)."""
    region = rt["Region"]
    gw = route.get("GatewayId")
    if gw and gw.startswith("igw-"):
        g = next((g for g in in_region(state, "internet-gateway", region) if g["InternetGatewayId"] == gw), None)
        return "active" if g and any(a["VpcId"] == rt["VpcId"] for a in g["Attachments"]) else "blackhole"
    if route.get("NatGatewayId"):
        n = next((n for n in in_region(state, "natgateway", region) if n["NatGatewayId"] == route["NatGatewayId"]),
                 None)
        return "active" if n and n["State"] in ("pending", "available") else "blackhole"
    if route.get("VpcPeeringConnectionId"):
        p = next((p for p in in_region(state, "vpc-peering-connection", region)
                  if p["VpcPeeringConnectionId"] == route["VpcPeeringConnectionId"]), None)
        return "active" if p and p["Status"]["Code"] == "active" else "blackhole"
    return "active"


def refresh_routes(state):
    for rt in state.route_tables:
        for r in rt["Routes"]:
            r["State"] = route_state(state, rt, r)


# ---- the inventory the control API shows ------------------------------------------------

def resource_state(kind, obj):
    if kind.name in ("vpc", "subnet", "natgateway"):
        return obj.get("State")
    if kind.name == "vpc-peering-connection":
        return obj["Status"]["Code"]
    if kind.name == "internet-gateway":
        return "attached" if obj["Attachments"] else "detached"
    if kind.name == "elastic-ip":
        return "associated" if obj.get("AssociationId") else "unassociated"
    return None


def is_live(kind, obj):
    if kind.name == "natgateway":
        return obj["State"] in NAT_LIVE
    if kind.name == "vpc-peering-connection":
        return obj["Status"]["Code"] in PEERING_LIVE
    return True


def inventory(state, tags=(), live=False, source=None, region=None):
    """{kind: [{Id, Region, State, VpcId, Source, Tags}]} for every EC2 network
    resource and hosted zone; `tags` is [(key, value or None)] that must all match."""
    out = {}
    for kind in KINDS:
        if kind.name in ("instance", "network-interface"):
            continue
        rows = []
        for obj in getattr(state, kind.attr):
            t = tag_dict(obj, kind)
            if live and not is_live(kind, obj):
                continue
            if source and obj.get("FakeSource", "state") != source:
                continue
            if region and not visible(kind, obj, region):
                continue
            if any(k not in t or (v is not None and t[k] != v) for k, v in tags):
                continue
            row = {"Id": obj[kind.key], "Region": obj.get("Region"), "Source": obj.get("FakeSource", "state"),
                   "Tags": t}
            st = resource_state(kind, obj)
            if st is not None:
                row["State"] = st
            vpc = obj.get("VpcId") or (obj.get("RequesterVpcInfo") or {}).get("VpcId")
            if vpc and kind.name != "vpc":
                row["VpcId"] = vpc
            if kind.name == "vpc-peering-connection":
                row["PeerVpcId"] = obj["AccepterVpcInfo"].get("VpcId")
            if kind.name == "elastic-ip":
                row["PublicIp"] = obj.get("PublicIp")
            if kind.name in ("vpc", "subnet"):
                row["CidrBlock"] = obj.get("CidrBlock")
            if kind.name == "route-table":
                row["Main"] = any(a.get("Main") for a in obj["Associations"])
            if kind.name == "security-group":
                row["GroupName"] = obj.get("GroupName")
            rows.append(row)
        out[kind.name] = rows
    zones = []
    for zid in state.zone_order:
        z = state.zones[zid]
        t = {x["Key"]: x["Value"] for x in z.get("Tags", [])}
        if source and z.get("FakeSource", "state") != source:
            continue
        if any(k not in t or (v is not None and t[k] != v) for k, v in tags):
            continue
        zones.append({"Id": zid, "Name": z["Name"], "Private": bool(z["Config"].get("PrivateZone")),
                      "VPCs": z["VPCs"], "Source": z.get("FakeSource", "state"), "Tags": t,
                      "RecordSets": len(z["records"])})
    out["hostedzone"] = zones
    return out
