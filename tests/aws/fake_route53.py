"""Route 53 (REST-XML, API 2013-04-01) for the fake AWS endpoint.

Routes (the zone ID in a path is bare: botocore strips "/hostedzone/"):
  GET    /2013-04-01/hostedzone                    ListHostedZones (marker, maxitems <= 100)
  POST   /2013-04-01/hostedzone                    CreateHostedZone (201 + Location)
  GET    /2013-04-01/hostedzone/{Id}               GetHostedZone
  DELETE /2013-04-01/hostedzone/{Id}               DeleteHostedZone
  GET    /2013-04-01/hostedzone/{Id}/rrset         ListResourceRecordSets
  POST   /2013-04-01/hostedzone/{Id}/rrset/        ChangeResourceRecordSets (with or without "/")
  POST   /2013-04-01/hostedzone/{Id}/associatevpc  AssociateVPCWithHostedZone
  POST   /2013-04-01/hostedzone/{Id}/disassociatevpc
  GET    /2013-04-01/hostedzonesbyvpc              ListHostedZonesByVPC (vpcid, vpcregion)
  GET    /2013-04-01/hostedzonesbyname             ListHostedZonesByName (dnsname, hostedzoneid, maxitems)
  GET    /2013-04-01/change/{Id}                   GetChange
  POST   /2013-04-01/tags/hostedzone/{Id}          ChangeTagsForResource (AddTags, RemoveTagKeys)
  GET    /2013-04-01/tags/hostedzone/{Id}          ListTagsForResource
  POST   /2013-04-01/tags/hostedzone               ListTagsForResources (up to 10 ResourceIds)

ListResourceRecordSets paging, as Route 53 does it: up to 300 record sets a
page (maxitems is a string; larger values are cut to 300); the next page
starts at name/type/identifier = NextRecordName/NextRecordType/
NextRecordIdentifier of the previous answer, passed back unchanged (the name is
in Route 53's escaped form, e.g. "\\052.prod.internal."). NextRecordIdentifier
is present only when the next record set has a SetIdentifier. Record sets of
several types (or several SetIdentifiers) at one name may be split across a
page boundary. `type` without `name`, or `identifier` without `type`, is
InvalidInput.
"""

import datetime
import re
import urllib.parse
import uuid

from fake_common import AwsError, make_token, read_token
from fake_state import (RR_TYPES, StateError, in_zone, normalize_rrset, r53_labels,
                        r53_name, r53_order, record_key)
import fake_model

PREFIX = "/2013-04-01/"

_ROUTES = [
    ("GET", r"hostedzone", "ListHostedZones"),
    ("POST", r"hostedzone", "CreateHostedZone"),
    ("GET", r"hostedzone/(?P<id>[^/]+)", "GetHostedZone"),
    ("DELETE", r"hostedzone/(?P<id>[^/]+)", "DeleteHostedZone"),
    ("GET", r"hostedzone/(?P<id>[^/]+)/rrset/?", "ListResourceRecordSets"),
    ("POST", r"hostedzone/(?P<id>[^/]+)/rrset/?", "ChangeResourceRecordSets"),
    ("POST", r"hostedzone/(?P<id>[^/]+)/associatevpc", "AssociateVPCWithHostedZone"),
    ("POST", r"hostedzone/(?P<id>[^/]+)/disassociatevpc", "DisassociateVPCFromHostedZone"),
    ("GET", r"hostedzonesbyvpc", "ListHostedZonesByVPC"),
    ("GET", r"hostedzonesbyname", "ListHostedZonesByName"),
    ("GET", r"change/(?P<id>[^/]+)", "GetChange"),
    ("POST", r"tags/(?P<type>[^/]+)/(?P<id>[^/]+)", "ChangeTagsForResource"),
    ("GET", r"tags/(?P<type>[^/]+)/(?P<id>[^/]+)", "ListTagsForResource"),
    ("POST", r"tags/(?P<type>[^/]+)", "ListTagsForResources"),
]


def route(method, path):
    """(operation, {"id": ...}) for a Route 53 request, or (None, {})."""
    rest = path[len(PREFIX):]
    for m, pattern, op in _ROUTES:
        if m == method:
            mt = re.fullmatch(pattern, rest)
            if mt:
                return op, {k: urllib.parse.unquote(v) for k, v in mt.groupdict().items()}
    return None, {}


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _zone(fake, zid):
    zone = fake.state.zones.get(zid)
    if zone is None:
        raise AwsError("NoSuchHostedZone", "No hosted zone found with ID: %s" % zid, 404)
    return zone


def _maxitems(req, default, cap):
    raw = req.q("maxitems")
    if raw is None:
        return default, str(default)
    if not raw.isdigit() or int(raw) < 1:
        raise AwsError("InvalidInput", "1 validation error detected: Value '%s' at 'maxItems' "
                       "failed to satisfy constraint: Member must be a positive integer" % raw)
    return min(int(raw), cap), str(min(int(raw), cap))


# ---- paging positions (also used to tell which page a request is) --------------

def _rrset_start(fake, req, zone):
    name, rtype, ident = req.q("name"), req.q("type"), req.q("identifier")
    if rtype is not None and name is None:
        raise AwsError("InvalidInput", "The input is not valid: StartRecordType requires StartRecordName")
    if ident is not None and rtype is None:
        raise AwsError("InvalidInput", "The input is not valid: StartRecordIdentifier requires StartRecordType")
    if rtype is not None and rtype not in RR_TYPES:
        raise AwsError("InvalidInput", "Invalid type %s" % rtype)
    if name is None:
        return 0
    try:
        start = (r53_order(r53_labels(name)), rtype or "", ident or "")
    except StateError as e:
        raise AwsError("InvalidInput", str(e))
    keys = sorted(zone["records"])
    for i, k in enumerate(keys):
        if k >= start:
            return i
    return len(keys)


def page_of(fake, req, op, params):
    """1-based page number of a listing request (for page-targeted faults)."""
    try:
        if op == "ListResourceRecordSets":
            zone = fake.state.zones.get(params["id"])
            if zone is None:
                return None
            per, _ = _maxitems(req, 300, 300)
            return _rrset_start(fake, req, zone) // per + 1
        if op == "ListHostedZones":
            per, _ = _maxitems(req, 100, 100)
            marker = req.q("marker")
            if marker is None:
                return 1
            order = fake.state.zone_order
            return (order.index(marker) // per + 1) if marker in order else None
        if op == "ListHostedZonesByVPC":
            token = req.q("nexttoken")
            if token is None:
                return 1
            pos = read_token("r53vpc", token, "%s/%s" % (req.q("vpcid"), req.q("vpcregion")))
            return pos[1] if pos else None
    except AwsError:
        return None
    return None


# ---- read operations -------------------------------------------------------------

def list_resource_record_sets(fake, req, params):
    zone = _zone(fake, params["id"])
    per, shown = _maxitems(req, 300, 300)
    start = _rrset_start(fake, req, zone)
    records = fake.state.sorted_records(zone)
    page = records[start:start + per]
    out = {"ResourceRecordSets": page, "IsTruncated": start + per < len(records), "MaxItems": shown}
    if out["IsTruncated"]:
        nxt = records[start + per]
        out["NextRecordName"] = nxt["Name"]
        out["NextRecordType"] = nxt["Type"]
        if nxt.get("SetIdentifier"):
            out["NextRecordIdentifier"] = nxt["SetIdentifier"]
    return out


def list_hosted_zones(fake, req, params):
    per, shown = _maxitems(req, 100, 100)
    st = fake.state
    zones = [st.zones[z] for z in st.zone_order]
    if req.q("hostedzonetype") == "PrivateHostedZone":
        zones = [z for z in zones if z["Config"].get("PrivateZone")]
    marker = req.q("marker")
    start = 0
    if marker is not None:
        ids = [z["Id"] for z in zones]
        if marker not in ids:
            raise AwsError("InvalidInput", "Invalid marker: %s" % marker)
        start = ids.index(marker)
    page = zones[start:start + per]
    out = {"HostedZones": [st.zone_summary(z) for z in page], "Marker": marker or "",
           "IsTruncated": start + per < len(zones), "MaxItems": shown}
    if out["IsTruncated"]:
        out["NextMarker"] = zones[start + per]["Id"]
    return out


def list_hosted_zones_by_vpc(fake, req, params):
    vpc, region = req.q("vpcid"), req.q("vpcregion")
    if not vpc or not region:
        raise AwsError("InvalidInput", "The input is not valid: vpcid and vpcregion are required")
    per, shown = _maxitems(req, 100, 100)
    st = fake.state
    zones = [st.zones[z] for z in st.zone_order
             if {"VPCRegion": region, "VPCId": vpc} in st.zones[z]["VPCs"]]
    ctx = "%s/%s" % (vpc, region)
    start, pageno = 0, 1
    token = req.q("nexttoken")
    if token is not None:
        pos = read_token("r53vpc", token, ctx)
        if pos is None:
            raise AwsError("InvalidPaginationToken", "The pagination token is invalid or has expired.")
        start, pageno = pos
    page = zones[start:start + per]
    out = {"HostedZoneSummaries": [{"HostedZoneId": z["Id"], "Name": z["Name"], "Owner": z["Owner"]}
                                   for z in page], "MaxItems": shown}
    if start + per < len(zones):
        out["NextToken"] = make_token("r53vpc", start + per, pageno + 1, ctx)
    return out


def get_hosted_zone(fake, req, params):
    zone = _zone(fake, params["id"])
    out = {"HostedZone": fake.state.zone_summary(zone)}
    if zone["Config"].get("PrivateZone"):
        out["VPCs"] = zone["VPCs"]
    else:
        out["DelegationSet"] = {"NameServers": [n.rstrip(".") for n in zone["NameServers"]]}
    return out


def get_change(fake, req, params):
    cid = params["id"].rsplit("/", 1)[-1]
    ch = fake.changes.get(cid)
    if ch is None:
        raise AwsError("NoSuchChange", "A change with the specified change ID does not exist: %s" % cid, 404)
    ch["polls"] += 1
    if ch["polls"] >= int(fake.state.settings.get("ChangeInsyncAfterPolls", 1)):
        ch["info"]["Status"] = "INSYNC"
    return {"ChangeInfo": ch["info"]}


# ---- write operations ------------------------------------------------------------

def _new_change(fake, comment=None):
    cid = "C" + uuid.uuid4().hex[:20].upper()
    info = {"Id": "/change/" + cid, "Status": "PENDING", "SubmittedAt": _now()}
    if comment:
        info["Comment"] = comment
    fake.changes[cid] = {"info": info, "polls": 0}
    return info


def _parse(op, req):
    try:
        return fake_model.parse_request("route53", op, req.body)
    except ValueError as e:
        raise AwsError("InvalidInput", "The XML document is not valid: %s" % e)


def _same_rrset(a, b):
    def canon(rr):
        c = dict(rr)
        if "ResourceRecords" in c:
            c["ResourceRecords"] = sorted(v["Value"] for v in c["ResourceRecords"])
        return c
    return canon(a) == canon(b)


def _describe(rr):
    text = "[name='%s', type='%s'" % (rr["Name"], rr["Type"])
    if rr.get("SetIdentifier"):
        text += ", set-identifier='%s'" % rr["SetIdentifier"]
    return text + "]"


def change_resource_record_sets(fake, req, params):
    zone = _zone(fake, params["id"])
    body = _parse("ChangeResourceRecordSets", req)
    batch = body.get("ChangeBatch") or {}
    changes = batch.get("Changes") or []
    if not changes:
        raise AwsError("InvalidInput", "The input is not valid: ChangeBatch.Changes must not be empty")
    records = dict(zone["records"])
    problems = []
    n_values = n_chars = 0
    seen = set()
    for ch in changes:
        action = ch.get("Action")
        raw = ch.get("ResourceRecordSet") or {}
        if action not in ("CREATE", "DELETE", "UPSERT"):
            raise AwsError("InvalidInput", "Invalid action %r" % action)
        if raw.get("Name") and not in_zone(raw["Name"], zone["Name"]):
            problems.append("RRSet with DNS name %s is not permitted in zone %s"
                            % (r53_name(raw["Name"]), zone["Name"]))
            continue
        try:
            rr = normalize_rrset(raw, zone["Name"])
        except StateError as e:
            raise AwsError("InvalidInput", "Invalid request: %s" % e)
        values = [v["Value"] for v in rr.get("ResourceRecords", [])]
        weight = 2 if action == "UPSERT" else 1
        n_values += weight * len(values)
        n_chars += weight * sum(len(v) for v in values)
        key = record_key(rr)
        if (action, key) in seen:
            problems.append("Duplicate Resource Record Set %s in change batch" % _describe(rr))
        seen.add((action, key))
        apex = rr["Name"] == zone["Name"]
        if rr["Type"] == "SOA" and action != "UPSERT" or (apex and rr["Type"] == "NS" and action == "DELETE"):
            problems.append("A HostedZone must contain at least one NS record for the zone itself "
                            "and exactly one SOA record." if apex else "Tried to change SOA outside apex")
            continue
        if action == "CREATE":
            if key in records:
                problems.append("Tried to create resource record set %s but it already exists" % _describe(rr))
                continue
            records[key] = rr
        elif action == "DELETE":
            cur = records.get(key)
            if cur is None:
                problems.append("Tried to delete resource record set %s but it was not found" % _describe(rr))
            elif not _same_rrset(cur, rr):
                problems.append("Tried to delete resource record set %s but the values provided do not "
                                "match the current values" % _describe(rr))
            else:
                del records[key]
        else:
            records[key] = rr
    if n_values > 1000:
        problems.append("Number of records limit of 1000 exceeded.")
    if n_chars > 32000:
        problems.append("Number of characters limit of 32000 exceeded.")
    # CNAME may not share a name with anything else (nor sit at the apex).
    by_name = {}
    for k, rr in records.items():
        by_name.setdefault(k[0], set()).add(rr["Type"])
    for k, rr in records.items():
        if rr["Type"] == "CNAME" and (len(by_name[k[0]]) > 1 or rr["Name"] == zone["Name"]) \
                and k not in zone["records"]:
            problems.append("RRSet of type CNAME with DNS name %s is not permitted as it conflicts "
                            "with other records with the same DNS name in zone %s" % (rr["Name"], zone["Name"]))
    if problems:
        raise AwsError("InvalidChangeBatch", "[" + ", ".join(problems) + "]")
    zone["records"] = records
    return {"ChangeInfo": _new_change(fake, batch.get("Comment"))}


def create_hosted_zone(fake, req, params):
    body = _parse("CreateHostedZone", req)
    st = fake.state
    if not body.get("Name") or not body.get("CallerReference"):
        raise AwsError("InvalidInput", "The input is not valid: Name and CallerReference are required")
    if body["CallerReference"] in fake.caller_refs:
        raise AwsError("HostedZoneAlreadyExists", "A hosted zone has already been created with the "
                       "specified caller reference.", 409)
    cfg = body.get("HostedZoneConfig") or {}
    vpc = body.get("VPC")
    if cfg.get("PrivateZone") and not vpc:
        raise AwsError("InvalidInput", "When you're creating a private hosted zone, you must specify a VPC.")
    try:
        name = r53_name(body["Name"])
    except StateError as e:
        raise AwsError("InvalidDomainName", str(e))
    if vpc:
        vpc = {"VPCRegion": vpc.get("VPCRegion", st.region), "VPCId": vpc.get("VPCId")}
        _check_vpc(fake, vpc)
        for z in st.zones.values():
            if z["Name"] == name and vpc in z["VPCs"]:
                raise AwsError("ConflictingDomainExists", "The VPC %s is already associated with a hosted "
                               "zone named %s" % (vpc["VPCId"], name))
    zone = st.add_zone({"Name": name, "CallerReference": body["CallerReference"],
                        "Config": {"Comment": cfg.get("Comment", ""), "PrivateZone": bool(vpc)},
                        "VPCs": [vpc] if vpc else [], "FakeSource": "api"})
    fake.caller_refs.add(body["CallerReference"])
    out = {"HostedZone": st.zone_summary(zone), "ChangeInfo": _new_change(fake),
           "Location": "https://route53.amazonaws.com/2013-04-01/hostedzone/" + zone["Id"]}
    # The model requires DelegationSet here, private zone or not (a private zone
    # gets Route 53's fixed ns-0/512/1024/1536.awsdns-00 set).
    out["DelegationSet"] = {"NameServers": [n.rstrip(".") for n in zone["NameServers"]]}
    if vpc:
        out["VPC"] = vpc
    return out


def _check_vpc(fake, vpc):
    """A VPC must exist in the fake's EC2 state once that state has (or had) VPCs."""
    if not vpc.get("VPCId"):
        raise AwsError("InvalidInput", "The input is not valid: VPC.VPCId is required")
    known = {(v["VpcId"], v["Region"]) for v in fake.state.vpcs}
    if fake.state.vpcs_known and (vpc["VPCId"], vpc["VPCRegion"]) not in known:
        raise AwsError("InvalidVPCId", "The VPC ID '%s' is not valid in region %s"
                       % (vpc["VPCId"], vpc["VPCRegion"]))


def associate_vpc(fake, req, params):
    zone = _zone(fake, params["id"])
    body = _parse("AssociateVPCWithHostedZone", req)
    vpc = body.get("VPC") or {}
    vpc = {"VPCRegion": vpc.get("VPCRegion", fake.state.region), "VPCId": vpc.get("VPCId")}
    if not zone["Config"].get("PrivateZone"):
        raise AwsError("PublicZoneVPCAssociation", "You're trying to associate a VPC with a public hosted zone.")
    _check_vpc(fake, vpc)
    for z in fake.state.zones.values():
        if z["Name"] == zone["Name"] and vpc in z["VPCs"]:
            raise AwsError("ConflictingDomainExists", "The VPC %s is already associated with a hosted zone "
                           "named %s" % (vpc["VPCId"], zone["Name"]))
    zone["VPCs"].append(vpc)
    return {"ChangeInfo": _new_change(fake, body.get("Comment"))}


def disassociate_vpc(fake, req, params):
    zone = _zone(fake, params["id"])
    body = _parse("DisassociateVPCFromHostedZone", req)
    vpc = body.get("VPC") or {}
    vpc = {"VPCRegion": vpc.get("VPCRegion", fake.state.region), "VPCId": vpc.get("VPCId")}
    if vpc not in zone["VPCs"]:
        raise AwsError("VPCAssociationNotFound", "The specified VPC %s isn't associated with the hosted "
                       "zone %s" % (vpc["VPCId"], zone["Id"]), 404)
    if len(zone["VPCs"]) == 1:
        raise AwsError("LastVPCAssociation", "The VPC that you're trying to disassociate from the private "
                       "hosted zone is the last VPC that is associated with the hosted zone.")
    zone["VPCs"].remove(vpc)
    return {"ChangeInfo": _new_change(fake, body.get("Comment"))}


def delete_hosted_zone(fake, req, params):
    zone = _zone(fake, params["id"])
    if any(rr["Type"] not in ("SOA", "NS") or rr["Name"] != zone["Name"] for rr in zone["records"].values()):
        raise AwsError("HostedZoneNotEmpty", "The hosted zone contains resource records that are not SOA "
                       "or NS records.")
    del fake.state.zones[zone["Id"]]
    fake.state.zone_order.remove(zone["Id"])
    return {"ChangeInfo": _new_change(fake)}


def list_hosted_zones_by_name(fake, req, params):
    """Zones ordered by name with the labels reversed (com.example.www.), then by ID."""
    per, shown = _maxitems(req, 100, 100)
    name, zid = req.q("dnsname"), req.q("hostedzoneid")
    if zid is not None and name is None:
        raise AwsError("InvalidInput", "The input is not valid: HostedZoneId requires DNSName")
    st = fake.state
    zones = sorted((st.zones[z] for z in st.zone_order), key=lambda z: (r53_order(r53_labels(z["Name"])), z["Id"]))
    start = 0
    if name is not None:
        try:
            key = (r53_order(r53_labels(name)), zid or "")
        except StateError as e:
            raise AwsError("InvalidDomainName", str(e))
        start = next((i for i, z in enumerate(zones) if (r53_order(r53_labels(z["Name"])), z["Id"]) >= key),
                     len(zones))
    page = zones[start:start + per]
    out = {"HostedZones": [st.zone_summary(z) for z in page], "IsTruncated": start + per < len(zones),
           "MaxItems": shown}
    if name is not None:
        out["DNSName"] = name
    if zid is not None:
        out["HostedZoneId"] = zid
    if out["IsTruncated"]:
        out["NextDNSName"] = zones[start + per]["Name"]
        out["NextHostedZoneId"] = zones[start + per]["Id"]
    return out


# ---- tags (hosted zones) ------------------------------------------------------------

def _tagged_zone(fake, params):
    rtype = params["type"]
    if rtype == "healthcheck":
        raise AwsError("NoSuchHealthCheck", "No health check exists with the specified ID %s"
                       % params.get("id"), 404)
    if rtype != "hostedzone":
        raise AwsError("InvalidInput", "The input is not valid: ResourceType %s is not hostedzone or healthcheck"
                       % rtype)
    return _zone(fake, params["id"].rsplit("/", 1)[-1])


def change_tags_for_resource(fake, req, params):
    zone = _tagged_zone(fake, params)
    body = _parse("ChangeTagsForResource", req)
    add = body.get("AddTags") or []
    remove = body.get("RemoveTagKeys") or []
    if not add and not remove:
        raise AwsError("InvalidInput", "The input is not valid: AddTags or RemoveTagKeys is required")
    if len(add) > 10 or len(remove) > 10:
        raise AwsError("InvalidInput", "The input is not valid: at most 10 tags can be added or removed at once")
    tags = [t for t in zone["Tags"] if t["Key"] not in remove]
    for t in add:
        key, value = t.get("Key"), t.get("Value", "")
        if not key or len(key) > 128 or len(value) > 256:
            raise AwsError("InvalidInput", "The input is not valid: tag key must be 1 to 128 characters and the "
                           "value at most 256")
        for o in tags:
            if o["Key"] == key:
                o["Value"] = value
                break
        else:
            tags.append({"Key": key, "Value": value})
    if len(tags) > 50:
        raise AwsError("InvalidInput", "The input is not valid: a resource can have at most 50 tags")
    zone["Tags"] = tags
    return {}


def _tag_set(zone):
    return {"ResourceType": "hostedzone", "ResourceId": zone["Id"], "Tags": [dict(t) for t in zone["Tags"]]}


def list_tags_for_resource(fake, req, params):
    return {"ResourceTagSet": _tag_set(_tagged_zone(fake, params))}


def list_tags_for_resources(fake, req, params):
    body = _parse("ListTagsForResources", req)
    ids = body.get("ResourceIds") or []
    if not 1 <= len(ids) <= 10:
        raise AwsError("InvalidInput", "The input is not valid: give 1 to 10 ResourceIds")
    return {"ResourceTagSets": [_tag_set(_tagged_zone(fake, dict(params, id=i))) for i in ids]}


HANDLERS = {
    "ListHostedZonesByName": list_hosted_zones_by_name,
    "ChangeTagsForResource": change_tags_for_resource,
    "ListTagsForResource": list_tags_for_resource,
    "ListTagsForResources": list_tags_for_resources,
    "ListResourceRecordSets": list_resource_record_sets,
    "ListHostedZones": list_hosted_zones,
    "ListHostedZonesByVPC": list_hosted_zones_by_vpc,
    "GetHostedZone": get_hosted_zone,
    "GetChange": get_change,
    "ChangeResourceRecordSets": change_resource_record_sets,
    "CreateHostedZone": create_hosted_zone,
    "AssociateVPCWithHostedZone": associate_vpc,
    "DisassociateVPCFromHostedZone": disassociate_vpc,
    "DeleteHostedZone": delete_hosted_zone,
}
