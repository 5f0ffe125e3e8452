"""Fake-AWS states (tests/aws state format) for tests/sync/test_sync.py."""

import copy

ACCOUNT = "123456789012"
ACCESS_KEY = "AKIDVPCDNSTEST000001"
SECRET_KEY = "vpcdns/Test+Secret/Key0000000000000000000"
PROFILE_KEY = "AKIDVPCDNSPROFILE001"
PROFILE_SECRET = "profile/Secret+With/Slashes000000000000"
SESSION_KEY = "ASIAVPCDNSSESSION001"
SESSION_SECRET = "session+Secret/0000000000000000000000000"
SESSION_TOKEN = ("IQoJb3JpZ2luX2VjEFake/Session+Token/" + "A" * 200 + "/+" + "B" * 600 + "==")  # ~840 chars, like real ones
EXPIRED_KEY = "ASIAVPCDNSEXPIRED001"
EXPIRED_SECRET = "expired+Secret/0000000000000000000000000"
EXPIRED_TOKEN = "IQoJb3JpZ2luX2VjEExpired/Token+" + "B" * 120 + "=="
ROLE_ARN = "arn:aws:iam::123456789012:role/vpcdns-reader"

PROD_VPC = "vpc-0prod00000000001"
STAGE_VPC = "vpc-0stage0000000001"
PROD_ID = "Z0PROD0000000000000001"
STAGE_PROD_ID = "Z0STAGEPROD0000000001"
PUBLIC_PROD_ID = "Z0PUBPROD000000000001"
OTHER_ID = "Z0OTHER0000000000000001"

LB_NAME = "internal-app-lb-123456.eu-west-1.elb.amazonaws.com."
LB_ADDRS = ["10.20.0.201", "10.20.0.202"]
RESOLVER_ANSWERS = {LB_NAME: {"A": LB_ADDRS}}


def _a(name, value, ttl=300, **kw):
    rr = {"Name": name, "Type": "A", "TTL": ttl,
          "ResourceRecords": [{"Value": v} for v in (value if isinstance(value, list) else [value])]}
    rr.update(kw)
    return rr


def prod_records():
    z = "prod.internal."
    return [
        _a("api." + z, ["10.20.1.11", "10.20.1.12"], 60),
        _a("*." + z, "10.20.1.100"),
        {"Name": "app." + z, "Type": "A",
         "AliasTarget": {"HostedZoneId": "Z32O12XQLNTSW2", "DNSName": LB_NAME, "EvaluateTargetHealth": True}},
        {"Name": "web." + z, "Type": "A",
         "AliasTarget": {"HostedZoneId": PROD_ID, "DNSName": "api." + z, "EvaluateTargetHealth": False}},
        _a("www." + z, "10.20.1.11", 60, SetIdentifier="blue", Weight=90),
        _a("www." + z, "10.20.1.12", 60, SetIdentifier="green", Weight=10),
        _a("www." + z, "10.20.1.13", 60, SetIdentifier="grey", Weight=0),
        {"Name": "db." + z, "Type": "CNAME", "TTL": 300,
         "ResourceRecords": [{"Value": "orders-db.c0vpcdnsfake.eu-west-1.rds.amazonaws.com"}]},
        {"Name": z, "Type": "TXT", "TTL": 300, "ResourceRecords": [{"Value": "\"v=spf1 -all\""}]},
        {"Name": "say." + z, "Type": "TXT", "TTL": 300,
         "ResourceRecords": [{"Value": "\"say \\\"hi\\\"\""}, {"Value": "\"two\" \"strings\""}]},
        {"Name": "v6." + z, "Type": "AAAA", "TTL": 300, "ResourceRecords": [{"Value": "2001:db8::1"}]},
        # the second half (the deletion-guard test drops it)
        _a("svc." + z, "10.20.3.1", 60, SetIdentifier="p", Failover="PRIMARY"),
        _a("svc." + z, "10.20.3.2", 60, SetIdentifier="s", Failover="SECONDARY"),
        _a("lat." + z, "10.20.4.1", 60, SetIdentifier="eu", Region="eu-west-1"),
        _a("lat." + z, "10.20.4.2", 60, SetIdentifier="us", Region="us-east-1"),
        _a("lat2." + z, "10.20.4.11", 60, SetIdentifier="a-us", Region="us-east-1"),
        _a("lat2." + z, "10.20.4.12", 60, SetIdentifier="b-ap", Region="ap-south-1"),
        _a("geo." + z, "10.20.5.1", 60, SetIdentifier="default", GeoLocation={"CountryCode": "*"}),
        _a("geo." + z, "10.20.5.2", 60, SetIdentifier="de", GeoLocation={"CountryCode": "DE"}),
        _a("mv." + z, "10.20.6.1", 60, SetIdentifier="m1", MultiValueAnswer=True),
        _a("mv." + z, "10.20.6.2", 60, SetIdentifier="m2", MultiValueAnswer=True),
        {"Name": "walias." + z, "Type": "A", "SetIdentifier": "a", "Weight": 1,
         "AliasTarget": {"HostedZoneId": PROD_ID, "DNSName": "api." + z, "EvaluateTargetHealth": False}},
        {"Name": "walias." + z, "Type": "A", "SetIdentifier": "b", "Weight": 0,
         "AliasTarget": {"HostedZoneId": "Z32O12XQLNTSW2", "DNSName": LB_NAME, "EvaluateTargetHealth": False}},
    ]


def base():
    return {
        "Account": ACCOUNT,
        "Region": "eu-west-1",
        "Credentials": [
            {"AccessKeyId": ACCESS_KEY, "SecretAccessKey": SECRET_KEY},
            {"AccessKeyId": PROFILE_KEY, "SecretAccessKey": PROFILE_SECRET},
            {"AccessKeyId": SESSION_KEY, "SecretAccessKey": SESSION_SECRET, "SessionToken": SESSION_TOKEN},
            {"AccessKeyId": EXPIRED_KEY, "SecretAccessKey": EXPIRED_SECRET, "SessionToken": EXPIRED_TOKEN,
             "Expired": True},
        ],
        "Roles": [ROLE_ARN],
        "Imds": {"RoleName": "vpcdns-sync", "AvailabilityZone": "eu-west-1a",
                 "InstanceId": "i-0dns000000000001", "VpcId": PROD_VPC},
        "Settings": {"StrictRoute53Region": True},
        "Vpcs": [
            {"VpcId": PROD_VPC, "CidrBlock": "10.20.0.0/16"},
            {"VpcId": STAGE_VPC, "CidrBlock": "10.30.0.0/16"},
        ],
        "HostedZones": [
            {"Id": PROD_ID, "Name": "prod.internal.", "Config": {"Comment": "prod private zone"},
             "VPCs": [{"VPCRegion": "eu-west-1", "VPCId": PROD_VPC}],
             "ResourceRecordSets": prod_records()},
            {"Id": "Z0SHARED000000000000001", "Name": "shared.internal.",
             "VPCs": [{"VPCRegion": "eu-west-1", "VPCId": PROD_VPC},
                      {"VPCRegion": "eu-west-1", "VPCId": STAGE_VPC}],
             "ResourceRecordSets": [_a("ntp.shared.internal.", "10.20.0.5", 3600)]},
        ],
    }


def with_decoys(doc):
    """Zones named prod.internal that are not ours, listed before ours: a public one, a
    private one of the stage VPC; and another private zone of our VPC."""
    doc = copy.deepcopy(doc)
    decoys = [
        {"Id": PUBLIC_PROD_ID, "Name": "prod.internal.", "Config": {"PrivateZone": False},
         "ResourceRecordSets": [_a("api.prod.internal.", "198.51.100.99")]},
        {"Id": STAGE_PROD_ID, "Name": "prod.internal.",
         "VPCs": [{"VPCRegion": "eu-west-1", "VPCId": STAGE_VPC}],
         "ResourceRecordSets": [_a("api.prod.internal.", "10.30.1.50")]},
        {"Id": OTHER_ID, "Name": "internal.", "VPCs": [{"VPCRegion": "eu-west-1", "VPCId": PROD_VPC}],
         "ResourceRecordSets": [_a("api.prod.internal.", "10.30.9.9")]},
    ]
    doc["HostedZones"] = decoys + doc["HostedZones"]
    return doc


def big():
    """prod.internal with 350 names x (A, AAAA, TXT) + a weighted group: 1058 record sets,
    4 pages; page boundaries split the types of one name and the identifiers of one group."""
    doc = base()
    z = zone_of(doc, PROD_ID)
    pattern = "h{i:04d}.bulk.prod.internal."
    z["ResourceRecordSets"] = [
        _a("h0198w.bulk.prod.internal.", "10.2.0.%d" % n, 60, SetIdentifier="w%d" % n, Weight=n)
        for n in range(1, 7)]
    z["Generate"] = [
        {"Pattern": pattern, "Type": "A", "TTL": 300, "Value": "10.1.{hi}.{lo}", "Count": 350},
        {"Pattern": pattern, "Type": "AAAA", "TTL": 300, "Value": "2001:db8:1::{i}", "Count": 350},
        {"Pattern": pattern, "Type": "TXT", "TTL": 300, "Value": "\"rec {i}\"", "Count": 350},
    ]
    return doc


def zone_of(doc, zid):
    for z in doc["HostedZones"]:
        if z["Id"] == zid:
            return z
    raise KeyError(zid)


def escaped_boundary():
    """Three pages whose 2nd and 3rd start at escaped names: NextRecordName is
    "\\052.y.prod.internal." and then "odd\\041name.z.prod.internal."."""
    doc = base()
    z = zone_of(doc, PROD_ID)
    z["ResourceRecordSets"] = [
        _a("*.y.prod.internal.", "10.3.0.1"),
        {"Name": "*.y.prod.internal.", "Type": "TXT", "TTL": 300, "ResourceRecords": [{"Value": "\"wild\""}]},
        _a("odd!name.z.prod.internal.", "10.3.0.2"),
        _a("zz.z.prod.internal.", "10.3.0.3"),
    ]
    z["Generate"] = [
        {"Pattern": "a{i:03d}.x.prod.internal.", "Type": "A", "Value": "10.4.{hi}.{lo}", "Count": 298},
        {"Pattern": "b{i:03d}.y.prod.internal.", "Type": "A", "Value": "10.5.{hi}.{lo}", "Count": 298},
    ]
    return doc


def alias_extra():
    """base() plus same-zone aliases to routed record sets and to another alias."""
    doc = base()
    z = zone_of(doc, PROD_ID)
    for name, target in (("towww", "www"), ("tomv", "mv"), ("tosvc", "svc"), ("chain", "web"),
                         ("tolat", "lat")):
        z["ResourceRecordSets"].append(
            {"Name": "%s.prod.internal." % name, "Type": "A",
             "AliasTarget": {"HostedZoneId": PROD_ID, "DNSName": "%s.prod.internal." % target,
                             "EvaluateTargetHealth": False}})
    return doc


def bad_records():
    doc = base()
    z = zone_of(doc, PROD_ID)
    z["ResourceRecordSets"] += [
        _a("badip.prod.internal.", "10.20.1.300"),
        {"Name": "badmx.prod.internal.", "Type": "MX", "TTL": 300,
         "ResourceRecords": [{"Value": "mail.example.com."}]},
        {"Name": "goodmx.prod.internal.", "Type": "MX", "TTL": 300,
         "ResourceRecords": [{"Value": "10 mail.prod.internal"}]},
        {"Name": "srv._tcp.prod.internal.", "Type": "SRV", "TTL": 300,
         "ResourceRecords": [{"Value": "1 10 5432 db.prod.internal"}]},
    ]
    return doc
