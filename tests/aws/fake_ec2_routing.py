"""EC2 route tables, routes, VPC peering connections and security groups for
the fake AWS endpoint (the rest of the network calls are in fake_ec2).

Routes: every route table has the implicit local route (GatewayId "local",
Origin CreateRouteTable) for each VPC CIDR. A route has exactly one target:
GatewayId (an internet gateway attached to the table's VPC), NatGatewayId,
VpcPeeringConnectionId, NetworkInterfaceId or InstanceId. Its State is
"blackhole" while the target is gone (detached gateway, deleted NAT gateway,
peering connection not active), else "active".

Peering: CreateVpcPeeringConnection answers initiating-request and the
connection is pending-acceptance; AcceptVpcPeeringConnection (in the
accepter's region) answers provisioning and the connection is active after
Settings.VpcPeeringProvisioningPolls Describe answers (default 0); deleted ones
stay listed (status deleted) for Settings.DeletedVisibleSeconds.

Security groups keep their rules as SecurityGroupRule entries (with sgr-
IDs); IpPermissions are grouped from them as DescribeSecurityGroups shows
them. A new group allows all egress; a VPC's "default" group also allows all
traffic from itself.
"""

import ipaddress
import time

from fake_common import AwsError, iso_now, new_id
from fake_ec2 import (boolean, cidr4, cidr6, dependency, describe, integer, need, shown, structs, tag_specs,
                      vpc_of)
from fake_network import (PEERING_LIVE, find, in_region, local_route, new_rule, peering_info, rebuild_permissions,
                          remove, route_state, rule_key, start)
from fake_query import _context, _ec2_filters, _ec2_page, _matches, _numbered

# ---- route tables --------------------------------------------------------------------------


def _main(rt):
    return any(a.get("Main") for a in rt["Associations"])


RT_FILTERS = {
    "route-table-id": lambda t: [t["RouteTableId"]],
    "vpc-id": lambda t: [t["VpcId"]],
    "owner-id": lambda t: [t.get("OwnerId")],
    "association.route-table-association-id": lambda t: [a["RouteTableAssociationId"] for a in t["Associations"]],
    "association.route-table-id": lambda t: [a["RouteTableId"] for a in t["Associations"]],
    "association.subnet-id": lambda t: [a.get("SubnetId") for a in t["Associations"]],
    "association.gateway-id": lambda t: [a.get("GatewayId") for a in t["Associations"]],
    "association.main": lambda t: ["true" if _main(t) else "false"],
    "route.destination-cidr-block": lambda t: [r.get("DestinationCidrBlock") for r in t["Routes"]],
    "route.destination-ipv6-cidr-block": lambda t: [r.get("DestinationIpv6CidrBlock") for r in t["Routes"]],
    "route.gateway-id": lambda t: [r.get("GatewayId") for r in t["Routes"]],
    "route.nat-gateway-id": lambda t: [r.get("NatGatewayId") for r in t["Routes"]],
    "route.vpc-peering-connection-id": lambda t: [r.get("VpcPeeringConnectionId") for r in t["Routes"]],
    "route.instance-id": lambda t: [r.get("InstanceId") for r in t["Routes"]],
    "route.origin": lambda t: [r.get("Origin") for r in t["Routes"]],
    "route.state": lambda t: [r.get("State") for r in t["Routes"]],
}
TARGETS = ("GatewayId", "NatGatewayId", "VpcPeeringConnectionId", "NetworkInterfaceId", "InstanceId",
           "TransitGatewayId", "VpcEndpointId", "EgressOnlyInternetGatewayId", "LocalGatewayId",
           "CarrierGatewayId", "CoreNetworkArn")


def create_route_table(fake, req):
    st = fake.state
    vpc = vpc_of(fake, req, need(req, "VpcId"))
    token = req.params.get("ClientToken")
    if token:
        for rt in in_region(st, "route-table", req.region):
            if rt.get("ClientToken") == token:
                if rt["VpcId"] != vpc["VpcId"]:
                    raise AwsError("IdempotentParameterMismatch", "The client token you have provided is "
                                   "associated with a resource that has different parameters.")
                return {"RouteTable": shown(rt), "ClientToken": token}
    routes = [local_route(a["CidrBlock"]) for a in vpc["CidrBlockAssociationSet"]]
    for a in vpc.get("Ipv6CidrBlockAssociationSet", []):
        routes.append({"DestinationIpv6CidrBlock": a["Ipv6CidrBlock"], "GatewayId": "local",
                       "Origin": "CreateRouteTable", "State": "active"})
    rt = {"RouteTableId": new_id("rtb"), "VpcId": vpc["VpcId"], "OwnerId": st.account, "Routes": routes,
          "Associations": [], "PropagatingVgws": [], "Tags": tag_specs(req, "route-table"),
          "Region": req.region, "FakeSource": "api"}
    if token:
        rt["ClientToken"] = token
    st.route_tables.append(rt)
    return {"RouteTable": shown(rt), "ClientToken": token}


def delete_route_table(fake, req):
    rt = find(fake.state, "route-table", need(req, "RouteTableId"), req.region)
    if rt["Associations"]:
        raise dependency("routeTable", rt["RouteTableId"])
    remove(fake.state, "route-table", rt)
    return {}


def _destination(req):
    p = req.params
    if p.get("DestinationCidrBlock"):
        return "DestinationCidrBlock", str(cidr4(p["DestinationCidrBlock"], "destinationCidrBlock"))
    if p.get("DestinationIpv6CidrBlock"):
        return "DestinationIpv6CidrBlock", str(cidr6(p["DestinationIpv6CidrBlock"], "destinationIpv6CidrBlock"))
    if p.get("DestinationPrefixListId"):
        raise AwsError("InvalidParameterValue", "Prefix list destinations are not supported by this fake")
    raise AwsError("MissingParameter", "The request must contain the parameter destinationCidrBlock or "
                   "destinationIpv6CidrBlock")


def _route_of(rt, dest):
    key, value = dest
    return next((r for r in rt["Routes"] if r.get(key) == value), None)


def _target(fake, req, rt):
    """{member: id} of the one route target in the request, checked against the table's VPC."""
    st, p, region = fake.state, req.params, req.region
    given = [t for t in TARGETS if p.get(t)]
    if not given:
        raise AwsError("MissingParameter", "The request must contain exactly one of gatewayId, natGatewayId, "
                       "vpcPeeringConnectionId, networkInterfaceId or instanceId")
    if len(given) > 1:
        raise AwsError("InvalidParameterCombination", "The parameter %s cannot be used with the parameter %s"
                       % (given[0][0].lower() + given[0][1:], given[1][0].lower() + given[1][1:]))
    name, value = given[0], p[given[0]]
    different = AwsError("InvalidParameterValue", "route table %s and network gateway %s belong to different "
                         "networks" % (rt["RouteTableId"], value))
    if name == "GatewayId":
        if not value.startswith("igw-"):
            raise AwsError("InvalidGatewayID.NotFound", "The gateway ID '%s' does not exist" % value)
        g = find(st, "internet-gateway", value, region, "InvalidGatewayID.NotFound",
                 "The gateway ID '%s' does not exist")
        if not any(a["VpcId"] == rt["VpcId"] for a in g["Attachments"]):
            raise different
    elif name == "NatGatewayId":
        n = find(st, "natgateway", value, region, "InvalidNatGatewayID.NotFound",
                 "The natGateway ID '%s' does not exist")
        if n["State"] not in ("pending", "available"):
            raise AwsError("InvalidNatGatewayID.NotFound", "The natGateway ID '%s' does not exist" % value)
        if n["VpcId"] != rt["VpcId"]:
            raise different
    elif name == "VpcPeeringConnectionId":
        pcx = find(st, "vpc-peering-connection", value, region)
        if pcx["Status"]["Code"] not in PEERING_LIVE:
            raise AwsError("InvalidVpcPeeringConnectionID.NotFound", "The vpcPeeringConnection ID '%s' does not "
                           "exist" % value)
        if rt["VpcId"] not in (pcx["RequesterVpcInfo"].get("VpcId"), pcx["AccepterVpcInfo"].get("VpcId")):
            raise different
    elif name == "NetworkInterfaceId":
        eni = find(st, "network-interface", value, region)
        if eni.get("VpcId") != rt["VpcId"]:
            raise different
    elif name == "InstanceId":
        inst = find(st, "instance", value, region)
        if inst.get("VpcId") != rt["VpcId"]:
            raise different
    else:
        raise AwsError("InvalidParameterValue", "Route targets of type %s are not supported by this fake" % name)
    return {name: value}


def create_route(fake, req):
    rt = find(fake.state, "route-table", need(req, "RouteTableId"), req.region)
    dest = _destination(req)
    if _route_of(rt, dest):
        raise AwsError("RouteAlreadyExists", "The route identified by %s already exists." % dest[1])
    route = {dest[0]: dest[1]}
    route.update(_target(fake, req, rt))
    route["Origin"] = "CreateRoute"
    route["State"] = route_state(fake.state, rt, route)
    rt["Routes"].append(route)
    return {"Return": True}


def replace_route(fake, req):
    rt = find(fake.state, "route-table", need(req, "RouteTableId"), req.region)
    dest = _destination(req)
    route = _route_of(rt, dest)
    if route is None:
        raise AwsError("InvalidParameterValue", "There is no route defined for '%s' in the route table. Use "
                       "CreateRoute instead." % dest[1])
    if route.get("GatewayId") == "local":
        raise AwsError("InvalidParameterValue", "cannot replace local route %s in route table %s"
                       % (dest[1], rt["RouteTableId"]))
    target = _target(fake, req, rt)
    for t in TARGETS:
        route.pop(t, None)
    route.update(target)
    route["State"] = route_state(fake.state, rt, route)
    return {}


def delete_route(fake, req):
    rt = find(fake.state, "route-table", need(req, "RouteTableId"), req.region)
    dest = _destination(req)
    route = _route_of(rt, dest)
    if route is None:
        raise AwsError("InvalidRoute.NotFound", "no route with destination-cidr-block %s in route table %s"
                       % (dest[1], rt["RouteTableId"]))
    if route.get("GatewayId") == "local":
        raise AwsError("InvalidParameterValue", "cannot remove local route %s in route table %s"
                       % (dest[1], rt["RouteTableId"]))
    rt["Routes"].remove(route)
    return {}


def associate_route_table(fake, req):
    st = fake.state
    rt = find(st, "route-table", need(req, "RouteTableId"), req.region)
    if req.params.get("GatewayId"):
        raise AwsError("InvalidParameterValue", "Gateway route table associations are not supported by this fake")
    sub = find(st, "subnet", need(req, "SubnetId"), req.region)
    if sub["VpcId"] != rt["VpcId"]:
        raise AwsError("InvalidParameterValue", "Route table %s and subnet %s belong to different networks"
                       % (rt["RouteTableId"], sub["SubnetId"]))
    if any(a.get("SubnetId") == sub["SubnetId"] for t in st.route_tables for a in t["Associations"]):
        raise AwsError("Resource.AlreadyAssociated", "the specified association for route table %s conflicts with "
                       "an existing association" % rt["RouteTableId"])
    assoc = {"Main": False, "RouteTableAssociationId": new_id("rtbassoc"), "RouteTableId": rt["RouteTableId"],
             "SubnetId": sub["SubnetId"], "AssociationState": {"State": "associated"}}
    rt["Associations"].append(assoc)
    return {"AssociationId": assoc["RouteTableAssociationId"], "AssociationState": {"State": "associated"}}


def _association(fake, req):
    aid = need(req, "AssociationId")
    for rt in in_region(fake.state, "route-table", req.region):
        for a in rt["Associations"]:
            if a["RouteTableAssociationId"] == aid:
                return rt, a
    raise AwsError("InvalidAssociationID.NotFound", "The association ID '%s' does not exist" % aid)


def disassociate_route_table(fake, req):
    rt, a = _association(fake, req)
    if a.get("Main"):
        raise AwsError("InvalidParameterValue", "cannot disassociate the main route table association %s"
                       % a["RouteTableAssociationId"])
    rt["Associations"].remove(a)
    return {}


def replace_route_table_association(fake, req):
    old, a = _association(fake, req)
    new = find(fake.state, "route-table", need(req, "RouteTableId"), req.region)
    if new["VpcId"] != old["VpcId"]:
        raise AwsError("InvalidParameterValue", "Route table %s and association %s belong to different networks"
                       % (new["RouteTableId"], a["RouteTableAssociationId"]))
    old["Associations"].remove(a)
    a = dict(a, RouteTableAssociationId=new_id("rtbassoc"), RouteTableId=new["RouteTableId"])
    new["Associations"].append(a)
    return {"NewAssociationId": a["RouteTableAssociationId"], "AssociationState": {"State": "associated"}}


def describe_route_tables(fake, req):
    page, nxt = describe(fake, req, "route-table", "RouteTableId", RT_FILTERS, "route_tables")
    return {"RouteTables": [shown(t) for t in page], "NextToken": nxt}


# ---- VPC peering ----------------------------------------------------------------------------------

PCX_FILTERS = {
    "vpc-peering-connection-id": lambda p: [p["VpcPeeringConnectionId"]],
    "status-code": lambda p: [p["Status"]["Code"]],
    "status-message": lambda p: [p["Status"].get("Message")],
    "expiration-time": lambda p: [p.get("ExpirationTime")],
    "requester-vpc-info.vpc-id": lambda p: [p["RequesterVpcInfo"].get("VpcId")],
    "requester-vpc-info.cidr-block": lambda p: [p["RequesterVpcInfo"].get("CidrBlock")],
    "requester-vpc-info.owner-id": lambda p: [p["RequesterVpcInfo"].get("OwnerId")],
    "accepter-vpc-info.vpc-id": lambda p: [p["AccepterVpcInfo"].get("VpcId")],
    "accepter-vpc-info.cidr-block": lambda p: [p["AccepterVpcInfo"].get("CidrBlock")],
    "accepter-vpc-info.owner-id": lambda p: [p["AccepterVpcInfo"].get("OwnerId")],
}
PEERING_OPTIONS = ("AllowDnsResolutionFromRemoteVpc", "AllowEgressFromLocalClassicLinkToRemoteVpc",
                   "AllowEgressFromLocalVpcToRemoteClassicLink")


def create_vpc_peering_connection(fake, req):
    st, p = fake.state, req.params
    vpc = vpc_of(fake, req, need(req, "VpcId"))
    peer_id = need(req, "PeerVpcId")
    owner = p.get("PeerOwnerId", st.account)
    region = p.get("PeerRegion", req.region)
    if owner == st.account:
        peer = find(st, "vpc", peer_id, region)
        accepter = peering_info(st, peer, full=False)
    else:
        accepter = {"OwnerId": owner, "VpcId": peer_id, "Region": region}
    if peer_id == vpc["VpcId"]:
        raise AwsError("InvalidParameterValue", "A VPC cannot be peered with itself")
    for o in st.peerings:
        pair = {o["RequesterVpcInfo"].get("VpcId"), o["AccepterVpcInfo"].get("VpcId")}
        if pair == {vpc["VpcId"], peer_id} and o["Status"]["Code"] in PEERING_LIVE:
            raise AwsError("VpcPeeringConnectionAlreadyExists", "A VPC peering connection already exists between "
                           "%s and %s (%s)" % (vpc["VpcId"], peer_id, o["VpcPeeringConnectionId"]))
    tags = tag_specs(req, "vpc-peering-connection")
    pcx = {"VpcPeeringConnectionId": new_id("pcx"), "RequesterVpcInfo": peering_info(st, vpc),
           "AccepterVpcInfo": accepter, "Status": {"Code": "pending-acceptance",
                                                   "Message": "Pending Acceptance by %s" % owner},
           "ExpirationTime": iso_now(7 * 86400), "Tags": tags, "Region": req.region, "FakeSource": "api"}
    if owner == st.account:
        mine = [ipaddress.IPv4Network(c["CidrBlock"]) for c in pcx["RequesterVpcInfo"]["CidrBlockSet"]]
        theirs = [ipaddress.IPv4Network(c["CidrBlock"]) for c in peer["CidrBlockAssociationSet"]]
        if any(a.overlaps(b) for a in mine for b in theirs):
            pcx["Status"] = {"Code": "failed", "Message": "Overlapping CIDRs"}
            pcx.pop("ExpirationTime")
            pcx["FakeDoneAt"] = time.time()
    st.peerings.append(pcx)
    out = shown(pcx)
    if pcx["Status"]["Code"] == "pending-acceptance":
        out["Status"] = {"Code": "initiating-request", "Message": "Initiating Request to %s" % owner}
    return {"VpcPeeringConnection": out}


def _peering(fake, req):
    return find(fake.state, "vpc-peering-connection", need(req, "VpcPeeringConnectionId"), req.region)


def _transition(pcx, to):
    return AwsError("InvalidStateTransition", "Invalid state transition for %s, attempted to transition from %s to "
                    "%s" % (pcx["VpcPeeringConnectionId"], pcx["Status"]["Code"], to))


def accept_vpc_peering_connection(fake, req):
    st = fake.state
    pcx = _peering(fake, req)
    acc = pcx["AccepterVpcInfo"]
    if acc.get("OwnerId") != st.account:
        raise AwsError("OperationNotPermitted", "User (%s) cannot accept peering %s"
                       % (st.account, pcx["VpcPeeringConnectionId"]))
    if acc.get("Region") != req.region:
        raise AwsError("OperationNotPermitted", "Incorrect region (%s) specified for this request. VPC peering "
                       "connection %s must be accepted in region %s"
                       % (req.region, pcx["VpcPeeringConnectionId"], acc.get("Region")))
    if pcx["Status"]["Code"] != "pending-acceptance":
        raise _transition(pcx, "active")
    peer = next((v for v in st.vpcs if v["VpcId"] == acc["VpcId"]), None)
    if peer is not None:
        acc.update(peering_info(st, peer))
    for side in ("RequesterVpcInfo", "AccepterVpcInfo"):
        pcx[side]["PeeringOptions"] = {k: False for k in PEERING_OPTIONS}
    pcx.pop("ExpirationTime", None)
    pcx["Status"] = {"Code": "provisioning", "Message": "Provisioning"}
    start(pcx)
    return {"VpcPeeringConnection": shown(pcx)}


def reject_vpc_peering_connection(fake, req):
    pcx = _peering(fake, req)
    if pcx["Status"]["Code"] != "pending-acceptance":
        raise _transition(pcx, "rejected")
    pcx["Status"] = {"Code": "rejected", "Message": "Rejected by %s" % fake.state.account}
    pcx["FakeDoneAt"] = time.time()
    return {"Return": True}


def delete_vpc_peering_connection(fake, req):
    pcx = _peering(fake, req)
    if pcx["Status"]["Code"] in ("deleted", "rejected", "expired", "deleting"):
        raise _transition(pcx, "deleted")
    pcx["Status"] = {"Code": "deleted", "Message": "Deleted by %s" % fake.state.account}
    pcx.pop("ExpirationTime", None)
    pcx["FakeDoneAt"] = time.time()
    return {"Return": True}


def modify_vpc_peering_connection_options(fake, req):
    pcx = _peering(fake, req)
    if pcx["Status"]["Code"] != "active":
        raise AwsError("OperationNotPermitted", "Peering %s is not active. Peering options can be added only to "
                       "active peerings." % pcx["VpcPeeringConnectionId"])
    out = {}
    for side, info in (("Requester", "RequesterVpcInfo"), ("Accepter", "AccepterVpcInfo")):
        prefix = side + "PeeringConnectionOptions."
        given = {k: boolean(req.params[prefix + k], k) for k in PEERING_OPTIONS if prefix + k in req.params}
        if given:
            pcx[info].setdefault("PeeringOptions", {}).update(given)
            out[side + "PeeringConnectionOptions"] = given
    if not out:
        raise AwsError("MissingParameter", "The request must contain the parameter accepterPeeringConnectionOptions "
                       "or requesterPeeringConnectionOptions")
    return out


def describe_vpc_peering_connections(fake, req):
    page, nxt = describe(fake, req, "vpc-peering-connection", "VpcPeeringConnectionId", PCX_FILTERS, "peerings")
    out = []
    for p in page:
        out.append(shown(p))
        if p["Status"]["Code"] == "provisioning":
            p["FakePolls"] = p.get("FakePolls", 0) + 1
    return {"VpcPeeringConnections": out, "NextToken": nxt}


# ---- security groups ------------------------------------------------------------------------------

def _rules(g, egress, pick):
    return [pick(r) for r in g["SecurityGroupRules"] if bool(r["IsEgress"]) == egress]


def _port(r, key):
    return None if r.get(key) is None else str(r[key])


SG_FILTERS = {
    "group-id": lambda g: [g["GroupId"]],
    "group-name": lambda g: [g["GroupName"]],
    "description": lambda g: [g.get("Description")],
    "vpc-id": lambda g: [g.get("VpcId")],
    "owner-id": lambda g: [g.get("OwnerId")],
    "ip-permission.cidr": lambda g: _rules(g, False, lambda r: r.get("CidrIpv4")),
    "ip-permission.ipv6-cidr": lambda g: _rules(g, False, lambda r: r.get("CidrIpv6")),
    "ip-permission.protocol": lambda g: _rules(g, False, lambda r: r["IpProtocol"]),
    "ip-permission.from-port": lambda g: _rules(g, False, lambda r: _port(r, "FromPort")),
    "ip-permission.to-port": lambda g: _rules(g, False, lambda r: _port(r, "ToPort")),
    "ip-permission.group-id": lambda g: _rules(g, False, lambda r: (r.get("ReferencedGroupInfo") or {}).get("GroupId")),
    "egress.ip-permission.cidr": lambda g: _rules(g, True, lambda r: r.get("CidrIpv4")),
    "egress.ip-permission.protocol": lambda g: _rules(g, True, lambda r: r["IpProtocol"]),
    "egress.ip-permission.from-port": lambda g: _rules(g, True, lambda r: _port(r, "FromPort")),
    "egress.ip-permission.to-port": lambda g: _rules(g, True, lambda r: _port(r, "ToPort")),
}
SGR_FILTERS = {
    "group-id": lambda r: [r["GroupId"]],
    "security-group-rule-id": lambda r: [r["SecurityGroupRuleId"]],
}
PROTOCOLS = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp",
             "icmpv6": "icmpv6", "58": "icmpv6", "-1": "-1", "all": "-1"}


def _default_vpc(fake, req):
    return next((v for v in in_region(fake.state, "vpc", req.region) if v.get("IsDefault")), None)


def _group(fake, req):
    """The group of GroupId, or of GroupName in the default VPC (as AWS resolves names)."""
    p = req.params
    if p.get("GroupId"):
        return find(fake.state, "security-group", p["GroupId"], req.region)
    if p.get("GroupName"):
        vpc = _default_vpc(fake, req)
        for g in in_region(fake.state, "security-group", req.region):
            if vpc and g["VpcId"] == vpc["VpcId"] and g["GroupName"] == p["GroupName"]:
                return g
        raise AwsError("InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC '%s'"
                       % (p["GroupName"], vpc["VpcId"] if vpc else "none"))
    raise AwsError("MissingParameter", "The request must contain the parameter groupId")


def create_security_group(fake, req):
    st, p = fake.state, req.params
    name = need(req, "GroupName")
    desc = need(req, "GroupDescription")
    if p.get("VpcId"):
        vpc = vpc_of(fake, req, p["VpcId"])
    else:
        vpc = _default_vpc(fake, req)
        if vpc is None:
            raise AwsError("VPCIdNotSpecified", "No default VPC for this user")
    if len(name) > 255 or len(desc) > 255:
        raise AwsError("InvalidParameterValue", "Group name and description may be at most 255 characters long.")
    if name.lower().startswith("sg-"):
        raise AwsError("InvalidParameterValue", "Group names may not be in the format sg-*.")
    if name == "default":
        raise AwsError("InvalidGroup.Reserved", "The security group 'default' is reserved")
    if any(g["VpcId"] == vpc["VpcId"] and g["GroupName"] == name for g in st.security_groups):
        raise AwsError("InvalidGroup.Duplicate", "The security group '%s' already exists for VPC '%s'"
                       % (name, vpc["VpcId"]))
    g = {"GroupId": new_id("sg"), "GroupName": name, "Description": desc, "VpcId": vpc["VpcId"],
         "OwnerId": st.account, "Tags": tag_specs(req, "security-group"), "Region": req.region,
         "FakeSource": "api", "SecurityGroupRules": []}
    g["SecurityGroupRules"].append(new_rule(st, g, True, "-1", None, None, "cidr4", "0.0.0.0/0"))
    rebuild_permissions(g)
    st.security_groups.append(g)
    return {"GroupId": g["GroupId"], "Tags": shown(g["Tags"])}


def _ports(perm, proto):
    if proto in ("tcp", "udp"):
        if perm.get("FromPort") is None or perm.get("ToPort") is None:
            raise AwsError("InvalidParameterValue", "Invalid value 'Must specify both from and to ports with "
                           "TCP/UDP.' for portRange")
        lo = integer(perm["FromPort"], "FromPort", -1, 65535)
        hi = integer(perm["ToPort"], "ToPort", -1, 65535)
        if lo == -1 and hi == -1:
            return 0, 65535
        if lo < 0 or hi < lo:
            raise AwsError("InvalidParameterValue", "Invalid value '%s-%s' for portRange" % (lo, hi))
        return lo, hi
    if proto in ("icmp", "icmpv6"):
        return (integer(perm.get("FromPort", "-1"), "FromPort", -1, 255),
                integer(perm.get("ToPort", "-1"), "ToPort", -1, 255))
    return None, None


def _permissions(fake, req, group, egress):
    """The rules a request's IpPermissions.N (or the legacy top-level form) describe."""
    p = req.params
    perms = structs(p, "IpPermissions")
    if not perms and (p.get("IpProtocol") or p.get("CidrIp")):
        legacy = {k: p[k] for k in ("IpProtocol", "FromPort", "ToPort") if k in p}
        if p.get("CidrIp"):
            legacy["IpRanges.1.CidrIp"] = p["CidrIp"]
        perms = [legacy]
    if not perms:
        raise AwsError("MissingParameter", "The request must contain the parameter ipPermissions")
    rules = []
    for perm in perms:
        raw = perm.get("IpProtocol")
        if raw is None:
            raise AwsError("MissingParameter", "The request must contain the parameter ipPermissions.ipProtocol")
        proto = PROTOCOLS.get(raw.lower())
        if proto is None:
            if not raw.isdigit() or int(raw) > 255:
                raise AwsError("InvalidParameterValue", "Invalid value '%s' for IP protocol. Unknown protocol." % raw)
            proto = raw
        lo, hi = _ports(perm, proto)
        peers = []
        for r in structs(perm, "IpRanges"):
            net = r.get("CidrIp", "")
            try:
                net = str(ipaddress.IPv4Network(net, strict=True))
            except ValueError:
                raise AwsError("InvalidParameterValue", "CIDR block %s is malformed" % net)
            peers.append(("cidr4", net, r.get("Description")))
        for r in structs(perm, "Ipv6Ranges"):
            net = r.get("CidrIpv6", "")
            try:
                net = str(ipaddress.IPv6Network(net, strict=True))
            except ValueError:
                raise AwsError("InvalidParameterValue", "CIDR block %s is malformed" % net)
            peers.append(("cidr6", net, r.get("Description")))
        for r in structs(perm, "PrefixListIds"):
            peers.append(("prefix", r.get("PrefixListId"), r.get("Description")))
        for r in structs(perm, "Groups"):
            gid = r.get("GroupId") or group["GroupId"]
            find(fake.state, "security-group", gid, req.region)
            peers.append(("group", gid, r.get("Description")))
        if not peers:
            raise AwsError("MissingParameter", "The request must contain a source or destination: ipRanges, "
                           "ipv6Ranges, prefixListIds or groups")
        for kind, peer, desc in peers:
            rules.append(new_rule(fake.state, group, egress, proto, lo, hi, kind, peer, desc))
    return rules


def _describe_rule(r):
    peer = r.get("CidrIpv4") or r.get("CidrIpv6") or r.get("PrefixListId") or \
        (r.get("ReferencedGroupInfo") or {}).get("GroupId")
    proto = {"-1": "ALL"}.get(r["IpProtocol"], r["IpProtocol"].upper())
    return 'peer: %s, %s, from port: %s, to port: %s, ALLOW' % (peer, proto, r.get("FromPort"), r.get("ToPort"))


def _authorize(fake, req, egress):
    g = _group(fake, req)
    rules = _permissions(fake, req, g, egress)
    tags = [] if not structs(req.params, "TagSpecification") else tag_specs(req, "security-group-rule")
    have = {rule_key(r) for r in g["SecurityGroupRules"]}
    for r in rules:
        if rule_key(r) in have:
            raise AwsError("InvalidPermission.Duplicate", 'the specified rule "%s" already exists' % _describe_rule(r))
        have.add(rule_key(r))
        r["SecurityGroupRuleId"] = new_id("sgr")
        r["Tags"] = list(tags)
    g["SecurityGroupRules"].extend(rules)
    rebuild_permissions(g)
    return {"Return": True, "SecurityGroupRules": shown(rules)}


def _revoke(fake, req, egress):
    g = _group(fake, req)
    ids = _numbered(req.params, "SecurityGroupRuleId")
    if ids:
        mine = {r["SecurityGroupRuleId"]: r for r in g["SecurityGroupRules"] if bool(r["IsEgress"]) == egress}
        for rid in ids:
            if rid not in mine:
                raise AwsError("InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '%s' does not "
                               "exist" % rid)
        g["SecurityGroupRules"] = [r for r in g["SecurityGroupRules"] if r["SecurityGroupRuleId"] not in ids]
        rebuild_permissions(g)
        return {"Return": True}
    wanted = _permissions(fake, req, g, egress)
    keys = {rule_key(r) for r in wanted}
    found = {rule_key(r) for r in g["SecurityGroupRules"]} & keys
    if not found:
        raise AwsError("InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
    g["SecurityGroupRules"] = [r for r in g["SecurityGroupRules"] if rule_key(r) not in keys]
    rebuild_permissions(g)
    unknown = {"SecurityGroupRules": [r for r in wanted if rule_key(r) not in found]}
    rebuild_permissions(unknown)
    out = {"Return": True}
    if unknown["SecurityGroupRules"]:
        out["UnknownIpPermissions"] = unknown["IpPermissionsEgress" if egress else "IpPermissions"]
    return out


def authorize_security_group_ingress(fake, req):
    return _authorize(fake, req, False)


def authorize_security_group_egress(fake, req):
    return _authorize(fake, req, True)


def revoke_security_group_ingress(fake, req):
    return _revoke(fake, req, False)


def revoke_security_group_egress(fake, req):
    return _revoke(fake, req, True)


def delete_security_group(fake, req):
    st = fake.state
    g = _group(fake, req)
    gid = g["GroupId"]
    if g["GroupName"] == "default":
        raise AwsError("CannotDelete", 'the specified group: "%s" name: "default" cannot be deleted by a user' % gid)
    if any(o is not g and any((r.get("ReferencedGroupInfo") or {}).get("GroupId") == gid
                              for r in o["SecurityGroupRules"]) for o in st.security_groups) \
            or any(gid in [x.get("GroupId") for x in e.get("Groups", [])] for e in st.enis):
        raise AwsError("DependencyViolation", "resource %s has a dependent object" % gid)
    remove(st, "security-group", g)
    return {}


def describe_security_groups(fake, req):
    names = _numbered(req.params, "GroupName")
    if names:
        vpc = _default_vpc(fake, req)
        have = {g["GroupName"]: g for g in in_region(fake.state, "security-group", req.region)
                if vpc and g["VpcId"] == vpc["VpcId"]}
        for n in names:
            if n not in have:
                raise AwsError("InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC '%s'"
                               % (n, vpc["VpcId"] if vpc else "none"))
    page, nxt = describe(fake, req, "security-group", "GroupId", SG_FILTERS, "security_groups")
    if names:
        page = [g for g in page if g["GroupName"] in names and g["VpcId"] == vpc["VpcId"]]
    return {"SecurityGroups": [shown(g) for g in page], "NextToken": nxt}


def describe_security_group_rules(fake, req):
    ids = _numbered(req.params, "SecurityGroupRuleId")
    filters = _ec2_filters(req.params, SGR_FILTERS)
    rules = [r for g in in_region(fake.state, "security-group", req.region) for r in g["SecurityGroupRules"]]
    if ids:
        have = {r["SecurityGroupRuleId"] for r in rules}
        missing = [x for x in ids if x not in have]
        if missing:
            raise AwsError("InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '%s' does not exist"
                           % missing[0])
        rules = [r for r in rules if r["SecurityGroupRuleId"] in ids]
    rules = [r for r in rules if _matches(r, filters, SGR_FILTERS)]
    page, nxt = _ec2_page(fake, req, rules, "sg_rules", _context(req), bool(ids))
    return {"SecurityGroupRules": shown(page), "NextToken": nxt}


HANDLERS = {
    "CreateRouteTable": create_route_table,
    "DeleteRouteTable": delete_route_table,
    "CreateRoute": create_route,
    "ReplaceRoute": replace_route,
    "DeleteRoute": delete_route,
    "AssociateRouteTable": associate_route_table,
    "DisassociateRouteTable": disassociate_route_table,
    "ReplaceRouteTableAssociation": replace_route_table_association,
    "DescribeRouteTables": describe_route_tables,
    "CreateVpcPeeringConnection": create_vpc_peering_connection,
    "AcceptVpcPeeringConnection": accept_vpc_peering_connection,
    "RejectVpcPeeringConnection": reject_vpc_peering_connection,
    "DeleteVpcPeeringConnection": delete_vpc_peering_connection,
    "ModifyVpcPeeringConnectionOptions": modify_vpc_peering_connection_options,
    "DescribeVpcPeeringConnections": describe_vpc_peering_connections,
    "CreateSecurityGroup": create_security_group,
    "DeleteSecurityGroup": delete_security_group,
    "AuthorizeSecurityGroupIngress": authorize_security_group_ingress,
    "AuthorizeSecurityGroupEgress": authorize_security_group_egress,
    "RevokeSecurityGroupIngress": revoke_security_group_ingress,
    "RevokeSecurityGroupEgress": revoke_security_group_egress,
    "DescribeSecurityGroups": describe_security_groups,
    "DescribeSecurityGroupRules": describe_security_group_rules,
}
PAGED = {"DescribeRouteTables", "DescribeVpcPeeringConnections", "DescribeSecurityGroups",
         "DescribeSecurityGroupRules"}
