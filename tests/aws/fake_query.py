"""EC2 (protocol "ec2", Version=2016-11-15), RDS (query, 2014-10-31) and STS
(query, 2011-06-15) for the fake AWS endpoint.

Requests are POST / with a form body (Action=...&Version=...; "+" is a space)
or GET /?Action=... . Request-side names (what the client must send):
  EC2 lists are flattened and numbered from 1: Filter.1.Name=vpc-id,
      Filter.1.Value.1=vpc-..., InstanceId.1=..., SubnetId.1, VpcId.1,
      NetworkInterfaceId.1; MaxResults (5..1000, not with an ID list) and
      NextToken. The values of one filter are ORed, filters are ANDed, and
      "*", "?" are wildcards ("\\" escapes them).
  RDS lists are NOT flattened: Filters.Filter.1.Name=engine,
      Filters.Filter.1.Values.Value.1=postgres; MaxRecords (20..100), Marker.
  STS: AssumeRole RoleArn, RoleSessionName, DurationSeconds (900..43200).
Only resources whose region equals the region of the request's signature
(credential scope) are listed.
"""

import base64
import datetime
import hashlib
import json
import os
import re

from fake_common import AwsError, make_token, read_token, wildcard_match


def _tag_values(obj, key):
    tags = obj.get("Tags") if "Tags" in obj else obj.get("TagSet", obj.get("TagList", []))
    return [t["Value"] for t in tags or [] if t["Key"] == key]


def _tag_keys(obj):
    tags = obj.get("Tags") if "Tags" in obj else obj.get("TagSet", obj.get("TagList", []))
    return [t["Key"] for t in tags or []]


def _all_tag_values(obj):
    tags = obj.get("Tags") if "Tags" in obj else obj.get("TagSet", obj.get("TagList", []))
    return [t["Value"] for t in tags or []]


def _b(v):
    return "true" if v else "false"


def _eni_ips(e):
    return [p["PrivateIpAddress"] for p in e.get("PrivateIpAddresses", [])]


def _eni_v6(e):
    return [a["Ipv6Address"] for a in e.get("Ipv6Addresses", [])]


INSTANCE_FILTERS = {
    "instance-id": lambda i: [i["InstanceId"]],
    "vpc-id": lambda i: [i.get("VpcId")],
    "subnet-id": lambda i: [i.get("SubnetId")],
    "instance-state-name": lambda i: [i["State"]["Name"]],
    "instance-state-code": lambda i: [str(i["State"]["Code"])],
    "private-ip-address": lambda i: [i.get("PrivateIpAddress")],
    "private-dns-name": lambda i: [i.get("PrivateDnsName")],
    "ip-address": lambda i: [i.get("PublicIpAddress")],
    "dns-name": lambda i: [i.get("PublicDnsName")],
    "availability-zone": lambda i: [i["Placement"]["AvailabilityZone"]],
    "instance-type": lambda i: [i.get("InstanceType")],
    "image-id": lambda i: [i.get("ImageId")],
    "reservation-id": lambda i: [i.get("ReservationId")],
    "ipv6-address": lambda i: [a for e in i["NetworkInterfaces"] for a in _eni_v6(e)],
    "network-interface.network-interface-id": lambda i: [e["NetworkInterfaceId"] for e in i["NetworkInterfaces"]],
    "network-interface.vpc-id": lambda i: [e.get("VpcId") for e in i["NetworkInterfaces"]],
    "network-interface.subnet-id": lambda i: [e.get("SubnetId") for e in i["NetworkInterfaces"]],
    "network-interface.addresses.private-ip-address":
        lambda i: [a for e in i["NetworkInterfaces"] for a in _eni_ips(e)],
    "network-interface.ipv6-addresses.ipv6-address":
        lambda i: [a for e in i["NetworkInterfaces"] for a in _eni_v6(e)],
}

SUBNET_FILTERS = {
    "subnet-id": lambda s: [s["SubnetId"]],
    "vpc-id": lambda s: [s["VpcId"]],
    "cidr-block": lambda s: [s["CidrBlock"]],
    "cidr": lambda s: [s["CidrBlock"]],
    "cidrBlock": lambda s: [s["CidrBlock"]],
    "availability-zone": lambda s: [s["AvailabilityZone"]],
    "availability-zone-id": lambda s: [s.get("AvailabilityZoneId")],
    "state": lambda s: [s["State"]],
    "default-for-az": lambda s: [_b(s["DefaultForAz"])],
    "map-public-ip-on-launch": lambda s: [_b(s["MapPublicIpOnLaunch"])],
    "owner-id": lambda s: [s["OwnerId"]],
    "ipv6-cidr-block-association.ipv6-cidr-block":
        lambda s: [a["Ipv6CidrBlock"] for a in s.get("Ipv6CidrBlockAssociationSet", [])],
}

VPC_FILTERS = {
    "vpc-id": lambda v: [v["VpcId"]],
    "cidr": lambda v: [v["CidrBlock"]],
    "cidr-block-association.cidr-block": lambda v: [a["CidrBlock"] for a in v["CidrBlockAssociationSet"]],
    "state": lambda v: [v["State"]],
    "is-default": lambda v: [_b(v["IsDefault"])],
    "dhcp-options-id": lambda v: [v["DhcpOptionsId"]],
    "owner-id": lambda v: [v["OwnerId"]],
}

ENI_FILTERS = {
    "network-interface-id": lambda e: [e["NetworkInterfaceId"]],
    "vpc-id": lambda e: [e.get("VpcId")],
    "subnet-id": lambda e: [e.get("SubnetId")],
    "availability-zone": lambda e: [e.get("AvailabilityZone")],
    "description": lambda e: [e.get("Description")],
    "interface-type": lambda e: [e.get("InterfaceType")],
    "requester-id": lambda e: [e.get("RequesterId")],
    "requester-managed": lambda e: [_b(e.get("RequesterManaged"))],
    "status": lambda e: [e.get("Status")],
    "mac-address": lambda e: [e.get("MacAddress")],
    "owner-id": lambda e: [e.get("OwnerId")],
    "private-ip-address": lambda e: _eni_ips(e),
    "addresses.private-ip-address": lambda e: _eni_ips(e),
    "private-dns-name": lambda e: [e.get("PrivateDnsName")],
    "ipv6-addresses.ipv6-address": lambda e: _eni_v6(e),
    "association.public-ip": lambda e: [(e.get("Association") or {}).get("PublicIp")],
    "attachment.instance-id": lambda e: [(e.get("Attachment") or {}).get("InstanceId")],
    "attachment.status": lambda e: [(e.get("Attachment") or {}).get("Status")],
    "attachment.device-index": lambda e: [str((e.get("Attachment") or {}).get("DeviceIndex", ""))],
}


def _numbered(params, prefix):
    """Values of prefix.1, prefix.2, ... in numeric order."""
    found = []
    rx = re.compile(re.escape(prefix) + r"\.(\d+)$")
    for k, v in params.items():
        m = rx.match(k)
        if m:
            found.append((int(m.group(1)), v))
    return [v for _, v in sorted(found)]


def _ec2_filters(params, table):
    """[(name, [values])] from Filter.N.Name / Filter.N.Value.M, checked against `table`."""
    idx = sorted({int(m.group(1)) for k in params for m in [re.match(r"Filter\.(\d+)\.", k)] if m})
    out = []
    for n in idx:
        name = params.get("Filter.%d.Name" % n)
        values = _numbered(params, "Filter.%d.Value" % n)
        if name is None:
            raise AwsError("InvalidParameterValue", "The filter 'null' is invalid")
        if not (name in table or name.startswith("tag:") or name in ("tag-key", "tag-value")):
            raise AwsError("InvalidParameterValue", "The filter '%s' is invalid" % name)
        out.append((name, values))
    return out


def _matches(obj, filters, table):
    for name, values in filters:
        if name.startswith("tag:"):
            have = _tag_values(obj, name[4:])
        elif name == "tag-key":
            have = _tag_keys(obj)
        elif name == "tag-value":
            have = _all_tag_values(obj)
        else:
            have = table[name](obj)
        if not any(wildcard_match(p, h) for p in values for h in have):
            return False
    return True


def _ec2_page(fake, req, items, kind, context, ids_given):
    """Apply MaxResults/NextToken to `items`; returns (page, next_token)."""
    p = req.params
    raw_max = p.get("MaxResults")
    if raw_max is not None and ids_given:
        raise AwsError("InvalidParameterCombination", "The parameter %s cannot be used with the parameter "
                       "maxResults" % {"instance": "instancesSet"}.get(kind, kind + "Ids"))
    if raw_max is not None:
        if not raw_max.isdigit() or not 5 <= int(raw_max) <= 1000:
            raise AwsError("InvalidParameterValue", "Value ( %s ) for parameter maxResults is invalid. "
                           "Expecting a value between 5 and 1000." % raw_max)
        per = int(raw_max)
    else:
        per = fake.state.settings.get("Ec2DefaultPageSize") or len(items) or 1
    if fake.state.settings.get("ShortPages") and per > 1:
        per = (per + 1) // 2  # AWS may return fewer items than asked for
    start, pageno = 0, 1
    token = p.get("NextToken")
    if token:
        pos = read_token(kind, token, context)
        if pos is None:
            raise AwsError("InvalidPaginationToken", "The specified pagination token is not valid or is expired.")
        start, pageno = pos
    page = items[start:start + per]
    nxt = make_token(kind, start + per, pageno + 1, context) if start + per < len(items) else None
    return page, nxt


def ec2_page_of(fake, req):
    token = req.params.get("NextToken")
    if not token:
        return 1
    try:
        raw = base64.b64decode(token.encode())
        return int(json.loads(raw[6:].decode())["p"])
    except Exception:
        return None


def _context(req):
    return "&".join("%s=%s" % kv for kv in sorted(req.params.items())
                    if kv[0] not in ("NextToken", "Marker"))


def _by_ids(items, ids, key, code, noun):
    if not ids:
        return items
    have = {i[key] for i in items}
    missing = [x for x in ids if x not in have]
    if missing:
        if len(missing) == 1:
            raise AwsError(code, "The %s ID '%s' does not exist" % (noun, missing[0]))
        raise AwsError(code, "The %s IDs '%s' do not exist" % (noun, ", ".join(missing)))
    return [i for i in items if i[key] in ids]


def _check_ids(ids, prefix, code):
    for x in ids:
        if not re.fullmatch(prefix + r"-[0-9a-z]+", x):
            raise AwsError(code, 'Invalid id: "%s"' % x)


def describe_instances(fake, req):
    p = req.params
    ids = _numbered(p, "InstanceId")
    _check_ids(ids, "i", "InvalidInstanceID.Malformed")
    filters = _ec2_filters(p, INSTANCE_FILTERS)
    items = [i for i in fake.state.instances if i["Region"] == req.region]
    items = _by_ids(items, ids, "InstanceId", "InvalidInstanceID.NotFound", "instance")
    items = [i for i in items if _matches(i, filters, INSTANCE_FILTERS)]
    page, nxt = _ec2_page(fake, req, items, "instances", _context(req), bool(ids))
    reservations = []
    for inst in page:
        if reservations and reservations[-1]["ReservationId"] == inst["ReservationId"]:
            reservations[-1]["Instances"].append(inst)
        else:
            reservations.append({"ReservationId": inst["ReservationId"], "OwnerId": fake.state.account,
                                 "Groups": [], "Instances": [inst]})
    return {"Reservations": reservations, "NextToken": nxt}


def describe_subnets(fake, req):
    ids = _numbered(req.params, "SubnetId")
    _check_ids(ids, "subnet", "InvalidSubnetID.Malformed")
    filters = _ec2_filters(req.params, SUBNET_FILTERS)
    items = [s for s in fake.state.subnets if s["Region"] == req.region]
    items = _by_ids(items, ids, "SubnetId", "InvalidSubnetID.NotFound", "subnet")
    items = [s for s in items if _matches(s, filters, SUBNET_FILTERS)]
    page, nxt = _ec2_page(fake, req, items, "subnets", _context(req), bool(ids))
    return {"Subnets": page, "NextToken": nxt}


def describe_vpcs(fake, req):
    ids = _numbered(req.params, "VpcId")
    _check_ids(ids, "vpc", "InvalidVpcID.Malformed")
    filters = _ec2_filters(req.params, VPC_FILTERS)
    items = [v for v in fake.state.vpcs if v["Region"] == req.region]
    items = _by_ids(items, ids, "VpcId", "InvalidVpcID.NotFound", "vpc")
    items = [v for v in items if _matches(v, filters, VPC_FILTERS)]
    page, nxt = _ec2_page(fake, req, items, "vpcs", _context(req), bool(ids))
    return {"Vpcs": page, "NextToken": nxt}


def describe_network_interfaces(fake, req):
    ids = _numbered(req.params, "NetworkInterfaceId")
    _check_ids(ids, "eni", "InvalidNetworkInterfaceID.Malformed")
    filters = _ec2_filters(req.params, ENI_FILTERS)
    items = [e for e in fake.state.enis if e["Region"] == req.region]
    items = _by_ids(items, ids, "NetworkInterfaceId", "InvalidNetworkInterfaceID.NotFound", "networkInterface")
    items = [e for e in items if _matches(e, filters, ENI_FILTERS)]
    page, nxt = _ec2_page(fake, req, items, "enis", _context(req), bool(ids))
    return {"NetworkInterfaces": page, "NextToken": nxt}


def describe_vpc_attribute(fake, req):
    vpc_id, attr = req.params.get("VpcId"), req.params.get("Attribute")
    if not vpc_id or not attr:
        raise AwsError("MissingParameter", "The request must contain the parameter %s"
                       % ("vpcId" if not vpc_id else "attribute"))
    vpcs = [v for v in fake.state.vpcs if v["VpcId"] == vpc_id and v["Region"] == req.region]
    if not vpcs:
        raise AwsError("InvalidVpcID.NotFound", "The vpc ID '%s' does not exist" % vpc_id)
    if attr not in ("enableDnsSupport", "enableDnsHostnames"):
        raise AwsError("InvalidParameterValue", "Value (%s) for parameter attribute is invalid." % attr)
    key = attr[0].upper() + attr[1:]
    return {"VpcId": vpc_id, key: {"Value": bool(vpcs[0][key])}}


EC2_HANDLERS = {
    "DescribeInstances": describe_instances,
    "DescribeSubnets": describe_subnets,
    "DescribeVpcs": describe_vpcs,
    "DescribeNetworkInterfaces": describe_network_interfaces,
    "DescribeVpcAttribute": describe_vpc_attribute,
}
EC2_PAGED = {"DescribeInstances", "DescribeSubnets", "DescribeVpcs", "DescribeNetworkInterfaces"}


# ---- RDS ------------------------------------------------------------------------

RDS_FILTERS = {
    "db-instance-id": lambda d: [d["DBInstanceIdentifier"], d["DBInstanceArn"]],
    "engine": lambda d: [d["Engine"]],
    "db-cluster-id": lambda d: [d.get("DBClusterIdentifier")],
    "dbi-resource-id": lambda d: [d.get("DbiResourceId")],
    "domain": lambda d: [],
}


def describe_db_instances(fake, req):
    p = req.params
    ident = p.get("DBInstanceIdentifier")
    items = [d for d in fake.state.db_instances if d["Region"] == req.region]
    if ident:
        items = [d for d in items if ident in (d["DBInstanceIdentifier"], d["DBInstanceArn"])]
        if not items:
            raise AwsError("DBInstanceNotFound", "DBInstance %s not found." % ident, 404)
    idx = sorted({int(m.group(1)) for k in p for m in [re.match(r"Filters\.Filter\.(\d+)\.", k)] if m})
    for n in idx:
        name = p.get("Filters.Filter.%d.Name" % n)
        values = _numbered(p, "Filters.Filter.%d.Values.Value" % n)
        if name not in RDS_FILTERS:
            raise AwsError("InvalidParameterValue", "Unrecognized filter name: %s" % name)
        items = [d for d in items if set(values) & set(RDS_FILTERS[name](d))]
    raw = p.get("MaxRecords")
    per = 100
    if raw is not None:
        if not raw.isdigit() or not 20 <= int(raw) <= 100:
            raise AwsError("InvalidParameterValue", "Invalid value %s for MaxRecords. Must be between 20 and 100"
                           % raw)
        per = int(raw)
    if fake.state.settings.get("ShortPages"):
        per = (per + 1) // 2
    start, pageno = 0, 1
    if p.get("Marker"):
        pos = read_token("rds", p["Marker"], _context(req))
        if pos is None:
            raise AwsError("InvalidParameterValue", "Invalid Marker: %s" % p["Marker"])
        start, pageno = pos
    out = {"DBInstances": items[start:start + per]}
    if start + per < len(items):
        out["Marker"] = make_token("rds", start + per, pageno + 1, _context(req))
    return out


def rds_page_of(fake, req):
    marker = req.params.get("Marker")
    if not marker:
        return 1
    pos = read_token("rds", marker, _context(req))
    return pos[1] if pos else None


RDS_HANDLERS = {"DescribeDBInstances": describe_db_instances}


# ---- STS ------------------------------------------------------------------------

def _utc(seconds_from_now=0):
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds_from_now)


def issue_credentials(fake, seconds, arn, user_id):
    """New temporary credentials (ASIA... key + session token) the fake will accept."""
    akid = "ASIA" + os.urandom(8).hex().upper()
    secret = base64.b64encode(os.urandom(30)).decode()
    # Real session tokens are long base64 with "/", "+" and "="; so is this one.
    token = "IQoJb3JpZ2luX2VjE/+" + base64.b64encode(os.urandom(120)).decode() + "=="
    cred = {"AccessKeyId": akid, "SecretAccessKey": secret, "SessionToken": token,
            "Expiration": _utc(seconds), "Arn": arn, "UserId": user_id}
    fake.temp_credentials[akid] = cred
    return cred


def get_caller_identity(fake, req):
    ident = req.identity
    return {"UserId": ident["UserId"], "Account": fake.state.account, "Arn": ident["Arn"]}


def assume_role(fake, req):
    p = req.params
    arn, session = p.get("RoleArn"), p.get("RoleSessionName")
    if not arn or not session:
        raise AwsError("ValidationError", "1 validation error detected: Value null at '%s' failed to satisfy "
                       "constraint: Member must not be null" % ("roleArn" if not arn else "roleSessionName"))
    if not re.fullmatch(r"[\w+=,.@-]{2,64}", session):
        raise AwsError("ValidationError", "1 validation error detected: Value '%s' at 'roleSessionName' "
                       "failed to satisfy constraint" % session)
    m = re.fullmatch(r"arn:aws:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)", arn)
    if not m:
        raise AwsError("ValidationError", "%s is invalid" % arn)
    duration = int(p.get("DurationSeconds", "3600"))
    if not 900 <= duration <= 43200:
        raise AwsError("ValidationError", "1 validation error detected: Value '%d' at 'durationSeconds' "
                       "failed to satisfy constraint: Member must have value between 900 and 43200" % duration)
    roles = fake.state.roles
    if (roles is not None and arn not in roles) or m.group(1) != fake.state.account:
        raise AwsError("AccessDenied", "User: %s is not authorized to perform: sts:AssumeRole on resource: %s"
                       % (req.identity["Arn"], arn), 403)
    role_id = "AROA" + hashlib.sha256(arn.encode()).hexdigest()[:17].upper()
    assumed = "arn:aws:sts::%s:assumed-role/%s/%s" % (m.group(1), m.group(2), session)
    cred = issue_credentials(fake, duration, assumed, "%s:%s" % (role_id, session))
    return {"Credentials": {k: cred[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")},
            "AssumedRoleUser": {"AssumedRoleId": "%s:%s" % (role_id, session), "Arn": assumed}}


STS_HANDLERS = {"GetCallerIdentity": get_caller_identity, "AssumeRole": assume_role}

VERSIONS = {"2016-11-15": "ec2", "2014-10-31": "rds", "2011-06-15": "sts"}
HANDLERS = {"ec2": EC2_HANDLERS, "rds": RDS_HANDLERS, "sts": STS_HANDLERS}
