"""EC2 network calls a provisioner makes (protocol "ec2", Version=2016-11-15):
VPCs, subnets, internet gateways, Elastic IPs, NAT gateways, DHCP options
and tags. Route tables, peering and security groups are in fake_ec2_routing.

Request names are the wire names (see aws-api notes in README.md): lists are
flattened and numbered from 1 (`TagSpecification.1.Tag.1.Key`,
`DhcpConfiguration.1.Value.2`, `Filter.1.Value.1`). Every Describe call takes
its ID list (`VpcId.1`, `NatGatewayId.1`, ...; an unknown ID is the
Invalid...ID.NotFound error), `Filter.N.Name`/`Filter.N.Value.M` (with
`tag:KEY`, `tag-key`, `tag-value` and `*`/`?` wildcards) and, where AWS pages,
MaxResults/NextToken. Answers are built as the CLI prints them and rendered
from the botocore model; calls without an output shape answer
<return>true</return> as EC2 does.
"""

import copy
import ipaddress
import re

from fake_common import AwsError, iso_now, new_id, wildcard_match
from fake_network import (BY_NAME, NAT_LIVE, add_nat_interface, check_id, default_dhcp_id, ensure_default_dhcp,
                          ensure_vpc_defaults, find, free_address, in_region, kind_of_id, release_nat, remove,
                          start, az_id, visible)
from fake_query import _context, _ec2_filters, _ec2_page, _matches, _numbered

# ---- request helpers -------------------------------------------------------------------


def _lc(name):
    return name[0].lower() + name[1:]


def need(req, *names):
    """The values of required parameters (MissingParameter when one is absent)."""
    out = []
    for n in names:
        v = req.params.get(n)
        if v is None or v == "":
            raise AwsError("MissingParameter", "The request must contain the parameter %s" % _lc(n))
        out.append(v)
    return out[0] if len(names) == 1 else out


def boolean(value, name):
    if value not in ("true", "false"):
        raise AwsError("InvalidParameterValue", "Value (%s) for parameter %s is invalid. Expected: 'true' or "
                       "'false'." % (value, _lc(name)))
    return value == "true"


def integer(value, name, lo=None, hi=None):
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise AwsError("InvalidParameterValue", "Value (%s) for parameter %s is invalid." % (value, _lc(name)))
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        raise AwsError("InvalidParameterValue", "Value (%s) for parameter %s is invalid." % (value, _lc(name)))
    return n


def cidr4(value, name="cidrBlock"):
    try:
        return ipaddress.IPv4Network(value, strict=True)
    except (ValueError, TypeError):
        raise AwsError("InvalidParameterValue", "Value (%s) for parameter %s is invalid. This is not a valid "
                       "CIDR block." % (value, name))


def cidr6(value, name="ipv6CidrBlock"):
    try:
        return ipaddress.IPv6Network(value, strict=True)
    except (ValueError, TypeError):
        raise AwsError("InvalidParameterValue", "Value (%s) for parameter %s is invalid. This is not a valid "
                       "IPv6 CIDR block." % (value, name))


def structs(params, prefix):
    """[{rest: value}] for prefix.N.rest, in N order (IpPermissions.1.IpProtocol, ...)."""
    rx = re.compile(re.escape(prefix) + r"\.(\d+)\.(.+)$")
    groups = {}
    for k, v in params.items():
        m = rx.match(k)
        if m:
            groups.setdefault(int(m.group(1)), {})[m.group(2)] = v
    return [groups[n] for n in sorted(groups)]


def check_tags(tags):
    for t in tags:
        k, v = t.get("Key"), t.get("Value", "")
        if not k:
            raise AwsError("InvalidParameterValue", "Tag key must not be empty")
        if len(k) > 128:
            raise AwsError("InvalidParameterValue", "Tag key exceeds the maximum length of 128 characters")
        if v is not None and len(v) > 256:
            raise AwsError("InvalidParameterValue", "Tag value exceeds the maximum length of 256 characters")
        if k.lower().startswith("aws:"):
            raise AwsError("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")


def merge_tags(current, new):
    """current updated with new (same key: the new value), at most 50 tags."""
    out = [dict(t) for t in current]
    for t in new:
        for o in out:
            if o["Key"] == t["Key"]:
                o["Value"] = t["Value"]
                break
        else:
            out.append({"Key": t["Key"], "Value": t["Value"]})
    if len(out) > 50:
        raise AwsError("TagLimitExceeded", "The maximum number of Tags for a resource has been reached.")
    return out


def tag_specs(req, resource_type):
    """Tags of TagSpecification.N entries; each must name this call's resource type."""
    tags = []
    for spec in structs(req.params, "TagSpecification"):
        rt = spec.get("ResourceType")
        if rt != resource_type:
            raise AwsError("InvalidParameterValue", "'%s' is not a valid taggable resource type for this "
                           "operation." % rt)
        t = [{"Key": x.get("Key"), "Value": x.get("Value", "")} for x in structs(spec, "Tag")]
        if not t:
            raise AwsError("InvalidParameterValue", "Tag specification must have at least one tag")
        tags.extend(t)
    check_tags(tags)
    return merge_tags([], tags)


def describe(fake, req, kind_name, ids_param, table, token_kind, paged=True):
    """The resources of a Describe call: region, ID list, filters, then a page."""
    kind = BY_NAME[kind_name]
    ids = _numbered(req.params, ids_param)
    for x in ids:
        check_id(kind, x)
    filters = _ec2_filters(req.params, table)
    items = in_region(fake.state, kind_name, req.region)
    if ids:
        have = {i[kind.key] for i in items}
        missing = [x for x in ids if x not in have]
        if missing:
            raise AwsError(kind.notfound, kind.message % ", ".join(missing))
        items = [i for i in items if i[kind.key] in ids]
    items = [i for i in items if _matches(i, filters, table)]
    if not paged:
        return items, None
    return _ec2_page(fake, req, items, token_kind, _context(req), bool(ids))


def shown(obj):
    """A copy for an answer: it is rendered after the state lock is released."""
    return copy.deepcopy(obj)


def vpc_of(fake, req, vpc_id):
    return find(fake.state, "vpc", vpc_id, req.region)


def dependency(kind, rid):
    return AwsError("DependencyViolation", "The %s '%s' has dependencies and cannot be deleted." % (kind, rid))


# ---- VPCs ------------------------------------------------------------------------------------

def create_vpc(fake, req):
    st, p = fake.state, req.params
    if not p.get("CidrBlock"):
        raise AwsError("MissingParameter", "Either 'cidrBlock' or 'ipv4IpamPoolId' should be provided.")
    net = cidr4(p["CidrBlock"])
    if not 16 <= net.prefixlen <= 28:
        raise AwsError("InvalidVpc.Range", "The CIDR '%s' is invalid." % p["CidrBlock"])
    tenancy = p.get("InstanceTenancy", "default")
    if tenancy not in ("default", "dedicated"):
        raise AwsError("InvalidParameterValue", "Value (%s) for parameter instanceTenancy is invalid." % tenancy)
    tags = tag_specs(req, "vpc")
    limit = st.settings.get("VpcsPerRegionLimit")
    if limit is not None and len(in_region(st, "vpc", req.region)) >= int(limit):
        raise AwsError("VpcLimitExceeded", "The maximum number of VPCs has been reached.")
    ensure_default_dhcp(st, req.region)
    vid = new_id("vpc")
    vpc = {"VpcId": vid, "CidrBlock": str(net), "State": "available", "OwnerId": st.account,
           "InstanceTenancy": tenancy, "IsDefault": False, "DhcpOptionsId": default_dhcp_id(st, req.region),
           "CidrBlockAssociationSet": [{"AssociationId": new_id("vpc-cidr-assoc"), "CidrBlock": str(net),
                                        "CidrBlockState": {"State": "associated"}}],
           "Tags": tags, "Region": req.region, "EnableDnsSupport": True, "EnableDnsHostnames": False,
           "FakeSource": "api"}
    if p.get("AmazonProvidedIpv6CidrBlock") and boolean(p["AmazonProvidedIpv6CidrBlock"],
                                                        "amazonProvidedIpv6CidrBlock"):
        block = "2a05:d018:%x:%x00::/56" % (int(vid[-4:], 16), int(vid[-6:-4], 16))
        vpc["Ipv6CidrBlockAssociationSet"] = [{
            "AssociationId": new_id("vpc-cidr-assoc"), "Ipv6CidrBlock": block, "Ipv6Pool": "Amazon",
            "NetworkBorderGroup": req.region, "Ipv6CidrBlockState": {"State": "associated"}}]
    st.vpcs.append(vpc)
    st.vpcs_known = True
    ensure_vpc_defaults(st, vpc)
    out = shown(vpc)
    out["State"] = "pending"  # as CreateVpc answers; DescribeVpcs says available
    return {"Vpc": out}


def delete_vpc(fake, req):
    st = fake.state
    vpc = vpc_of(fake, req, need(req, "VpcId"))
    vid = vpc["VpcId"]
    busy = any(s["VpcId"] == vid for s in st.subnets) \
        or any(a["VpcId"] == vid for g in st.internet_gateways for a in g["Attachments"]) \
        or any(g["VpcId"] == vid and g["GroupName"] != "default" for g in st.security_groups) \
        or any(rt["VpcId"] == vid and not any(a.get("Main") for a in rt["Associations"])
               for rt in st.route_tables) \
        or any(p["Status"]["Code"] in ("pending-acceptance", "provisioning", "active") and
               vid in (p["RequesterVpcInfo"].get("VpcId"), p["AccepterVpcInfo"].get("VpcId"))
               for p in st.peerings) \
        or any(e.get("VpcId") == vid for e in st.enis)
    if busy:
        raise dependency("vpc", vid)
    st.route_tables = [rt for rt in st.route_tables if rt["VpcId"] != vid]
    st.security_groups = [g for g in st.security_groups if g["VpcId"] != vid]
    remove(st, "vpc", vpc)
    return {}


def modify_vpc_attribute(fake, req):
    vpc = vpc_of(fake, req, need(req, "VpcId"))
    given = [n for n in ("EnableDnsSupport", "EnableDnsHostnames", "EnableNetworkAddressUsageMetrics")
             if n + ".Value" in req.params]
    if not given:
        raise AwsError("MissingParameter", "The request must contain the parameter enableDnsSupport, "
                       "enableDnsHostnames or enableNetworkAddressUsageMetrics")
    if len(given) > 1:
        raise AwsError("InvalidParameterCombination", "Fields for multiple attribute types specified: %s"
                       % ", ".join(_lc(n) for n in given))
    vpc[given[0]] = boolean(req.params[given[0] + ".Value"], given[0])
    return {}


# ---- subnets ----------------------------------------------------------------------------------

def zones_of(region):
    letters = "abcdef" if region == "us-east-1" else "abc"
    return [region + c for c in letters]


def create_subnet(fake, req):
    st, p = fake.state, req.params
    vpc = vpc_of(fake, req, need(req, "VpcId"))
    raw = need(req, "CidrBlock")
    net = cidr4(raw)
    zones = zones_of(req.region)
    az = p.get("AvailabilityZone")
    if az is None and p.get("AvailabilityZoneId"):
        az = next((z for z in zones if az_id(z) == p["AvailabilityZoneId"]), None)
        if az is None:
            raise AwsError("InvalidParameterValue", "Value (%s) for parameter availabilityZoneId is invalid."
                           % p["AvailabilityZoneId"])
    az = az or zones[0]
    if az not in zones:
        raise AwsError("InvalidParameterValue", "Value (%s) for parameter availabilityZone is invalid. Subnets can "
                       "currently only be created in the following availability zones: %s."
                       % (az, ", ".join(zones)))
    vpc_nets = [ipaddress.IPv4Network(a["CidrBlock"]) for a in vpc["CidrBlockAssociationSet"]]
    if not 16 <= net.prefixlen <= 28 or not any(net.subnet_of(v) for v in vpc_nets):
        raise AwsError("InvalidSubnet.Range", "The CIDR '%s' is invalid." % raw)
    for s in st.subnets:
        if s["VpcId"] == vpc["VpcId"] and net.overlaps(ipaddress.IPv4Network(s["CidrBlock"])):
            raise AwsError("InvalidSubnet.Conflict", "The CIDR '%s' conflicts with another subnet" % raw)
    v6 = []
    if p.get("Ipv6CidrBlock"):
        n6 = cidr6(p["Ipv6CidrBlock"])
        blocks = [ipaddress.IPv6Network(a["Ipv6CidrBlock"]) for a in vpc.get("Ipv6CidrBlockAssociationSet", [])]
        if n6.prefixlen != 64 or not any(n6.subnet_of(b) for b in blocks):
            raise AwsError("InvalidSubnet.Range", "The CIDR '%s' is invalid." % p["Ipv6CidrBlock"])
        v6 = [{"AssociationId": new_id("subnet-cidr-assoc"), "Ipv6CidrBlock": str(n6),
               "Ipv6CidrBlockState": {"State": "associated"}}]
    tags = tag_specs(req, "subnet")
    sid = new_id("subnet")
    subnet = {"SubnetId": sid, "VpcId": vpc["VpcId"], "CidrBlock": str(net), "AvailabilityZone": az,
              "AvailabilityZoneId": az_id(az), "AvailableIpAddressCount": net.num_addresses - 5,
              "DefaultForAz": False, "MapPublicIpOnLaunch": False, "MapCustomerOwnedIpOnLaunch": False,
              "State": "available", "OwnerId": st.account, "AssignIpv6AddressOnCreation": False,
              "Ipv6CidrBlockAssociationSet": v6, "Tags": tags,
              "SubnetArn": "arn:aws:ec2:%s:%s:subnet/%s" % (req.region, st.account, sid),
              "EnableDns64": False, "Ipv6Native": False,
              "PrivateDnsNameOptionsOnLaunch": {"HostnameType": "ip-name", "EnableResourceNameDnsARecord": False,
                                                "EnableResourceNameDnsAAAARecord": False},
              "Region": req.region, "FakeSource": "api"}
    st.subnets.append(subnet)
    st.subnet_by_id[sid] = subnet
    return {"Subnet": shown(subnet)}


def delete_subnet(fake, req):
    st = fake.state
    sub = find(st, "subnet", need(req, "SubnetId"), req.region)
    sid = sub["SubnetId"]
    if any(n["SubnetId"] == sid and n["State"] in NAT_LIVE for n in st.nat_gateways) \
            or any(i.get("SubnetId") == sid and i["State"]["Name"] != "terminated" for i in st.instances) \
            or any(e.get("SubnetId") == sid for e in st.enis):
        raise dependency("subnet", sid)
    for rt in st.route_tables:  # the subnet's explicit association goes with it
        rt["Associations"] = [a for a in rt["Associations"] if a.get("SubnetId") != sid]
    remove(st, "subnet", sub)
    st.subnet_by_id.pop(sid, None)
    return {}


def modify_subnet_attribute(fake, req):
    sub = find(fake.state, "subnet", need(req, "SubnetId"), req.region)
    given = [n for n in ("MapPublicIpOnLaunch", "AssignIpv6AddressOnCreation", "EnableDns64")
             if n + ".Value" in req.params]
    if len(given) != 1:
        raise AwsError("InvalidParameterCombination" if given else "MissingParameter",
                       "Specify exactly one attribute (mapPublicIpOnLaunch, assignIpv6AddressOnCreation, "
                       "enableDns64)")
    sub[given[0]] = boolean(req.params[given[0] + ".Value"], given[0])
    return {}


# ---- internet gateways -------------------------------------------------------------------------

IGW_FILTERS = {
    "internet-gateway-id": lambda g: [g["InternetGatewayId"]],
    "attachment.vpc-id": lambda g: [a["VpcId"] for a in g["Attachments"]],
    "attachment.state": lambda g: [a["State"] for a in g["Attachments"]],
    "owner-id": lambda g: [g["OwnerId"]],
}


def create_internet_gateway(fake, req):
    g = {"InternetGatewayId": new_id("igw"), "Attachments": [], "OwnerId": fake.state.account,
         "Tags": tag_specs(req, "internet-gateway"), "Region": req.region, "FakeSource": "api"}
    fake.state.internet_gateways.append(g)
    return {"InternetGateway": shown(g)}


def attach_internet_gateway(fake, req):
    st = fake.state
    gid, vid = need(req, "InternetGatewayId", "VpcId")
    g = find(st, "internet-gateway", gid, req.region)
    vpc = vpc_of(fake, req, vid)
    if g["Attachments"]:
        raise AwsError("Resource.AlreadyAssociated", "resource %s is already attached to network %s"
                       % (gid, g["Attachments"][0]["VpcId"]))
    if any(a["VpcId"] == vid for o in st.internet_gateways for a in o["Attachments"]):
        raise AwsError("Resource.AlreadyAssociated", "resource %s already has an internet gateway attached" % vid)
    g["Attachments"] = [{"State": "available", "VpcId": vpc["VpcId"]}]
    return {}


def detach_internet_gateway(fake, req):
    st = fake.state
    gid, vid = need(req, "InternetGatewayId", "VpcId")
    g = find(st, "internet-gateway", gid, req.region)
    vpc_of(fake, req, vid)
    if not any(a["VpcId"] == vid for a in g["Attachments"]):
        raise AwsError("Gateway.NotAttached", "resource %s is not attached to network %s" % (gid, vid))
    mapped = any(n["VpcId"] == vid and n["State"] in NAT_LIVE and n["ConnectivityType"] == "public"
                 for n in st.nat_gateways) or \
        any(e.get("VpcId") == vid and e.get("Association") for e in st.enis)
    if mapped:
        raise AwsError("DependencyViolation", "Network %s has some mapped public address(es). Please unmap those "
                       "public address(es) before detaching the gateway." % vid)
    g["Attachments"] = []
    return {}


def delete_internet_gateway(fake, req):
    g = find(fake.state, "internet-gateway", need(req, "InternetGatewayId"), req.region)
    if g["Attachments"]:
        raise dependency("internetGateway", g["InternetGatewayId"])
    remove(fake.state, "internet-gateway", g)
    return {}


def describe_internet_gateways(fake, req):
    page, nxt = describe(fake, req, "internet-gateway", "InternetGatewayId", IGW_FILTERS, "igws")
    return {"InternetGateways": shown(page), "NextToken": nxt}


# ---- Elastic IP addresses ------------------------------------------------------------------------

ADDRESS_FILTERS = {
    "allocation-id": lambda a: [a["AllocationId"]],
    "association-id": lambda a: [a.get("AssociationId")],
    "domain": lambda a: [a["Domain"]],
    "instance-id": lambda a: [a.get("InstanceId")],
    "network-border-group": lambda a: [a.get("NetworkBorderGroup")],
    "network-interface-id": lambda a: [a.get("NetworkInterfaceId")],
    "network-interface-owner-id": lambda a: [a.get("NetworkInterfaceOwnerId")],
    "private-ip-address": lambda a: [a.get("PrivateIpAddress")],
    "public-ip": lambda a: [a["PublicIp"]],
    "public-ipv4-pool": lambda a: [a.get("PublicIpv4Pool")],
}
EIP_POOL = ipaddress.ip_network("198.18.0.0/15")


def allocate_address(fake, req):
    st, p = fake.state, req.params
    domain = p.get("Domain", "vpc")
    if domain != "vpc":
        raise AwsError("InvalidParameterValue", "Value (%s) for parameter domain is invalid. EC2-Classic is not "
                       "supported in this account." % domain)
    if p.get("Address") or p.get("PublicIpv4Pool", "amazon") != "amazon":
        raise AwsError("InvalidParameterValue", "Only addresses from the Amazon pool can be allocated here.")
    tags = tag_specs(req, "elastic-ip")
    limit = st.settings.get("AddressesPerRegionLimit")
    if limit is not None and len(in_region(st, "elastic-ip", req.region)) >= int(limit):
        raise AwsError("AddressLimitExceeded", "The maximum number of addresses has been reached.")
    used = {a["PublicIp"] for a in st.addresses}
    used |= {i.get("PublicIpAddress") for i in st.instances}
    ip = next(str(EIP_POOL.network_address + n) for n in range(1, EIP_POOL.num_addresses - 1)
              if str(EIP_POOL.network_address + n) not in used)
    a = {"AllocationId": new_id("eipalloc"), "PublicIp": ip, "Domain": "vpc", "PublicIpv4Pool": "amazon",
         "NetworkBorderGroup": req.region, "Tags": tags, "Region": req.region, "FakeSource": "api"}
    st.addresses.append(a)
    return {k: a[k] for k in ("PublicIp", "AllocationId", "PublicIpv4Pool", "NetworkBorderGroup", "Domain")}


def release_address(fake, req):
    st, p = fake.state, req.params
    if not p.get("AllocationId"):
        if p.get("PublicIp"):
            raise AwsError("InvalidParameterValue", "You must specify an allocation id when releasing a VPC "
                           "elastic IP address")
        raise AwsError("MissingParameter", "The request must contain the parameter allocationId")
    a = find(st, "elastic-ip", p["AllocationId"], req.region)
    if a.get("AssociationId"):
        raise AwsError("InvalidIPAddress.InUse", "Address %s is in use." % a["PublicIp"])
    remove(st, "elastic-ip", a)
    return {}


def describe_addresses(fake, req):
    items, _ = describe(fake, req, "elastic-ip", "AllocationId", ADDRESS_FILTERS, "addresses", paged=False)
    ips = _numbered(req.params, "PublicIp")
    if ips:
        have = {a["PublicIp"] for a in items}
        missing = [x for x in ips if x not in have]
        if missing:
            raise AwsError("InvalidAddress.NotFound", "Address '%s' not found." % missing[0])
        items = [a for a in items if a["PublicIp"] in ips]
    return {"Addresses": shown(items)}


# ---- NAT gateways ---------------------------------------------------------------------------------

NAT_FILTERS = {
    "nat-gateway-id": lambda n: [n["NatGatewayId"]],
    "state": lambda n: [n["State"]],
    "subnet-id": lambda n: [n["SubnetId"]],
    "vpc-id": lambda n: [n["VpcId"]],
}


def _nat_answer(nat):
    out = shown(nat)
    out["NatGatewayAddresses"] = [{k: v for k, v in a.items() if k in ("AllocationId", "NetworkInterfaceId")}
                                  for a in nat["NatGatewayAddresses"]]
    return out


def create_nat_gateway(fake, req):
    st, p = fake.state, req.params
    sub = find(st, "subnet", need(req, "SubnetId"), req.region)
    ctype = p.get("ConnectivityType", "public")
    if ctype not in ("public", "private"):
        raise AwsError("InvalidParameterValue", "Value (%s) for parameter connectivityType is invalid." % ctype)
    token = p.get("ClientToken")
    request = [sub["SubnetId"], p.get("AllocationId"), ctype, p.get("PrivateIpAddress")]
    if token:
        for n in in_region(st, "natgateway", req.region):
            if n.get("ClientToken") == token:
                if n.get("FakeRequest") != request:
                    raise AwsError("IdempotentParameterMismatch", "The client token you have provided is "
                                   "associated with a resource that has different parameters.")
                return {"ClientToken": token, "NatGateway": _nat_answer(n)}
    if ctype == "public" and not p.get("AllocationId"):
        raise AwsError("MissingParameter", "The request must contain the parameter allocationId for a public "
                       "NAT gateway")
    if ctype == "private" and p.get("AllocationId"):
        raise AwsError("InvalidParameterCombination", "A private NAT gateway cannot have an Elastic IP address")
    addr = find(st, "elastic-ip", p["AllocationId"], req.region) if ctype == "public" else None
    if p.get("PrivateIpAddress"):
        ip = p["PrivateIpAddress"]
        try:
            ok = ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(sub["CidrBlock"])
        except ValueError:
            ok = False
        if not ok:
            raise AwsError("InvalidParameterValue", "Address %s does not fall within the subnet's address range" % ip)
    else:
        ip = free_address(st, sub)
    tags = tag_specs(req, "natgateway")
    nid = new_id("nat")
    entry = {"NetworkInterfaceId": new_id("eni"), "PrivateIp": ip}
    failure = None
    if addr is not None:
        entry = dict({"AllocationId": addr["AllocationId"]}, **entry)
        entry["PublicIp"] = addr["PublicIp"]
        if addr.get("AssociationId"):
            failure = ("Resource.AlreadyAssociated", "Elastic IP address [%s] is already associated"
                       % addr["AllocationId"])
        elif not any(a["VpcId"] == sub["VpcId"] for g in st.internet_gateways for a in g["Attachments"]):
            failure = ("Gateway.NotAttached", "Network %s has no Internet gateway attached" % sub["VpcId"])
    nat = {"NatGatewayId": nid, "SubnetId": sub["SubnetId"], "VpcId": sub["VpcId"], "State": "pending",
           "ConnectivityType": ctype, "CreateTime": iso_now(), "NatGatewayAddresses": [entry], "Tags": tags,
           "Region": req.region, "FakeSource": "api", "FakeRequest": request}
    if token:
        nat["ClientToken"] = token
    if failure:
        nat["FakeFailure"] = failure
    else:
        add_nat_interface(st, nat)
        if addr is not None:
            addr.update({"AssociationId": new_id("eipassoc"), "NetworkInterfaceId": entry["NetworkInterfaceId"],
                         "NetworkInterfaceOwnerId": st.account, "PrivateIpAddress": ip})
    start(nat)
    st.nat_gateways.append(nat)
    return {"ClientToken": token, "NatGateway": _nat_answer(nat)}


def delete_nat_gateway(fake, req):
    st = fake.state
    nat = find(st, "natgateway", need(req, "NatGatewayId"), req.region)
    if nat["State"] == "deleted":
        raise AwsError("NatGatewayNotFound", "NAT gateway %s was not found" % nat["NatGatewayId"])
    if nat["State"] in ("pending", "available"):
        nat["State"] = "deleting"
        start(nat)
    elif nat["State"] == "failed":
        nat["State"] = "deleted"
        nat["DeleteTime"] = iso_now()
        release_nat(st, nat)
    return {"NatGatewayId": nat["NatGatewayId"]}


def describe_nat_gateways(fake, req):
    page, nxt = describe(fake, req, "natgateway", "NatGatewayId", NAT_FILTERS, "nat_gateways")
    out = []
    for n in page:
        out.append(shown(n))
        if n["State"] in ("pending", "deleting"):
            n["FakePolls"] = n.get("FakePolls", 0) + 1
    return {"NatGateways": out, "NextToken": nxt}


# ---- DHCP options -----------------------------------------------------------------------------------

DHCP_FILTERS = {
    "dhcp-options-id": lambda d: [d["DhcpOptionsId"]],
    "key": lambda d: [c["Key"] for c in d["DhcpConfigurations"]],
    "value": lambda d: [v["Value"] for c in d["DhcpConfigurations"] for v in c["Values"]],
    "owner-id": lambda d: [d.get("OwnerId")],
}
DHCP_MAX = {"domain-name-servers": 4, "domain-name": 1, "ntp-servers": 8, "netbios-name-servers": 4,
            "netbios-node-type": 1, "ipv6-address-preferred-lease-time": 1}


def _ip(value):
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def _check_dhcp(key, values):
    bad = AwsError("InvalidParameterValue", "Value (%s) for parameter value is invalid. Invalid %s"
                   % (",".join(values), key))
    if key not in DHCP_MAX:
        raise AwsError("InvalidParameterValue", "Value (%s) for parameter name is invalid. Unknown DHCP option"
                       % key)
    if not values or any(v == "" for v in values):
        raise AwsError("InvalidParameterValue", "Value () for parameter value is invalid. The option %s needs a "
                       "value" % key)
    if len(values) > DHCP_MAX[key]:
        raise AwsError("InvalidParameterValue", "Value (%s) for parameter value is invalid. The option %s takes at "
                       "most %d values" % (",".join(values), key, DHCP_MAX[key]))
    if key == "domain-name-servers" and not all(_ip(v) or v == "AmazonProvidedDNS" for v in values):
        raise bad
    if key in ("ntp-servers", "netbios-name-servers") and not all(_ip(v) for v in values):
        raise bad
    if key == "netbios-node-type" and values[0] not in ("1", "2", "4", "8"):
        raise bad
    if key == "ipv6-address-preferred-lease-time" and not (values[0].isdigit() and int(values[0]) >= 140):
        raise bad


def create_dhcp_options(fake, req):
    confs = structs(req.params, "DhcpConfiguration")
    if not confs:
        raise AwsError("MissingParameter", "The request must contain the parameter dhcpConfiguration")
    out, seen = [], set()
    for c in confs:
        key = c.get("Key")
        values = _numbered(c, "Value")
        if not key:
            raise AwsError("MissingParameter", "The request must contain the parameter dhcpConfiguration.key")
        if key in seen:
            raise AwsError("InvalidParameterValue", "Value (%s) for parameter name is invalid. Duplicate DHCP "
                           "option" % key)
        seen.add(key)
        _check_dhcp(key, values)
        out.append({"Key": key, "Values": [{"Value": v} for v in values]})
    d = {"DhcpOptionsId": new_id("dopt"), "DhcpConfigurations": out, "OwnerId": fake.state.account,
         "Tags": tag_specs(req, "dhcp-options"), "Region": req.region, "FakeSource": "api"}
    fake.state.dhcp_options.append(d)
    return {"DhcpOptions": shown(d)}


def associate_dhcp_options(fake, req):
    did, vid = need(req, "DhcpOptionsId", "VpcId")
    vpc = vpc_of(fake, req, vid)
    if did != "default":
        find(fake.state, "dhcp-options", did, req.region)
    vpc["DhcpOptionsId"] = did
    return {}


def delete_dhcp_options(fake, req):
    st = fake.state
    d = find(st, "dhcp-options", need(req, "DhcpOptionsId"), req.region)
    if any(v["DhcpOptionsId"] == d["DhcpOptionsId"] for v in st.vpcs):
        raise dependency("dhcpOptions", d["DhcpOptionsId"])
    remove(st, "dhcp-options", d)
    return {}


def describe_dhcp_options(fake, req):
    page, nxt = describe(fake, req, "dhcp-options", "DhcpOptionsId", DHCP_FILTERS, "dhcp_options")
    return {"DhcpOptions": shown(page), "NextToken": nxt}


# ---- tags ----------------------------------------------------------------------------------------------

def _tag_targets(fake, req):
    ids = _numbered(req.params, "ResourceId")
    if not ids:
        raise AwsError("MissingParameter", "The request must contain the parameter resourceIdSet")
    targets = []
    for rid in ids:
        kind = kind_of_id(rid)
        if kind is None:
            raise AwsError("InvalidID", "The ID '%s' is not valid" % rid)
        targets.append((kind, find(fake.state, kind.name, rid, req.region)))
    return targets


def create_tags(fake, req):
    targets = _tag_targets(fake, req)
    tags = [{"Key": t.get("Key"), "Value": t.get("Value", "")} for t in structs(req.params, "Tag")]
    if not tags:
        raise AwsError("MissingParameter", "The request must contain the parameter tagSet")
    check_tags(tags)
    merged = [(kind, obj, merge_tags(obj.get(kind.tagkey) or [], tags)) for kind, obj in targets]
    for kind, obj, new in merged:  # all or nothing
        obj[kind.tagkey] = new
    return {}


def delete_tags(fake, req):
    targets = _tag_targets(fake, req)
    tags = structs(req.params, "Tag")
    for kind, obj in targets:
        if not tags:
            obj[kind.tagkey] = []
            continue
        keep = []
        for t in obj.get(kind.tagkey) or []:
            gone = any(d.get("Key") == t["Key"] and ("Value" not in d or d["Value"] == t["Value"]) for d in tags)
            if not gone:
                keep.append(t)
        obj[kind.tagkey] = keep
    return {}


TAG_FILTERS = {
    "key": lambda t: [t["Key"]],
    "value": lambda t: [t["Value"]],
    "resource-id": lambda t: [t["ResourceId"]],
    "resource-type": lambda t: [t["ResourceType"]],
}


def describe_tags(fake, req):
    filters = _ec2_filters(req.params, TAG_FILTERS)
    on_resource = [f for f in filters if f[0] not in TAG_FILTERS]   # tag:KEY, tag-key, tag-value
    on_tag = [f for f in filters if f[0] in TAG_FILTERS]
    rows = []
    for kind_name in ("vpc", "subnet", "internet-gateway", "elastic-ip", "natgateway", "route-table",
                      "security-group", "dhcp-options", "vpc-peering-connection", "instance", "network-interface"):
        kind = BY_NAME[kind_name]
        for obj in getattr(fake.state, kind.attr):
            if not visible(kind, obj, req.region) or not _matches(obj, on_resource, {}):
                continue
            for t in obj.get(kind.tagkey) or []:
                row = {"Key": t["Key"], "Value": t["Value"], "ResourceId": obj[kind.key], "ResourceType": kind.name}
                if all(any(wildcard_match(p, h) for p in values for h in TAG_FILTERS[name](row))
                       for name, values in on_tag):
                    rows.append(row)
    page, nxt = _ec2_page(fake, req, rows, "tags", _context(req), False)
    return {"Tags": page, "NextToken": nxt}


HANDLERS = {
    "CreateVpc": create_vpc,
    "DeleteVpc": delete_vpc,
    "ModifyVpcAttribute": modify_vpc_attribute,
    "CreateSubnet": create_subnet,
    "DeleteSubnet": delete_subnet,
    "ModifySubnetAttribute": modify_subnet_attribute,
    "CreateInternetGateway": create_internet_gateway,
    "AttachInternetGateway": attach_internet_gateway,
    "DetachInternetGateway": detach_internet_gateway,
    "DeleteInternetGateway": delete_internet_gateway,
    "DescribeInternetGateways": describe_internet_gateways,
    "AllocateAddress": allocate_address,
    "ReleaseAddress": release_address,
    "DescribeAddresses": describe_addresses,
    "CreateNatGateway": create_nat_gateway,
    "DeleteNatGateway": delete_nat_gateway,
    "DescribeNatGateways": describe_nat_gateways,
    "CreateDhcpOptions": create_dhcp_options,
    "AssociateDhcpOptions": associate_dhcp_options,
    "DeleteDhcpOptions": delete_dhcp_options,
    "DescribeDhcpOptions": describe_dhcp_options,
    "CreateTags": create_tags,
    "DeleteTags": delete_tags,
    "DescribeTags": describe_tags,
}
PAGED = {"DescribeInternetGateways", "DescribeNatGateways", "DescribeDhcpOptions", "DescribeTags"}
