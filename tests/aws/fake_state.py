"""The world the fake AWS endpoint describes, and Route 53 name handling.

`State.load(doc)` takes the JSON document described in README.md (keys in the
AWS CLI's own spelling) and fills in what AWS would always report: instance
state codes, private DNS names, a primary network interface per instance, the
apex SOA and NS record sets of every hosted zone, and so on. Everything is kept
in the CLI/API shape, so fake_model can serialize it from the botocore model
and a test can compare the CLI's JSON output with the state directly.

Route 53 names (facts the client must get right):
  * names are returned lower case with a trailing dot;
  * every byte other than a-z 0-9 - _ comes back as a backslash and three
    OCTAL digits: "*.prod.internal" is listed as "\\052.prod.internal." (the
    RFC 1035 master-file form uses DECIMAL \\DDD, so \\052 there is "4");
  * record sets are ordered by the name with its labels reversed, compared as
    a string with the dots ("internal.prod.www."), then by type, then by
    SetIdentifier; so "a-b" sorts before "a" under the same parent.
"""

import copy
import ipaddress

import fake_network
from fake_common import hexid, tags_list  # noqa: F401 (tags_list is used by importers)

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "eu-west-1"
DEFAULT_ACCESS_KEY = "AKIDVPCDNSTEST000001"
# The secret holds "/" and "+" on purpose: they must survive config files.
DEFAULT_SECRET_KEY = "vpcdns/Test+Secret/Key0000000000000000000"

RR_TYPES = {"SOA", "A", "TXT", "NS", "CNAME", "MX", "NAPTR", "PTR", "SRV", "SPF",
            "AAAA", "CAA", "DS", "TLSA", "SSHFP", "SVCB", "HTTPS"}
STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48,
               "stopping": 64, "stopped": 80}
DEFAULT_NS = ["ns-1536.awsdns-00.co.uk.", "ns-0.awsdns-00.com.",
              "ns-1024.awsdns-00.org.", "ns-512.awsdns-00.net."]
DB_PORTS = {"postgres": 5432, "aurora-postgresql": 5432, "mysql": 3306,
            "aurora-mysql": 3306, "mariadb": 3306, "oracle-ee": 1521,
            "sqlserver-se": 1433, "docdb": 27017, "neptune": 8182}


class StateError(ValueError):
    pass


# ---- Route 53 names -----------------------------------------------------------

def r53_labels(text):
    """Labels (bytes, lower case) of a name as Route 53 accepts it: dots
    separate labels, "\\ooo" is an octal byte, "\\X" is X itself, the trailing
    dot is optional (names are always absolute)."""
    if text in (".", ""):
        return []
    data = text.encode("utf-8")
    labels, cur, i = [], bytearray(), 0
    while i < len(data):
        c = data[i]
        if c == 0x5C:  # backslash
            octal = data[i + 1:i + 4]
            if len(octal) == 3 and all(0x30 <= d <= 0x37 for d in octal):
                cur.append(int(octal, 8) & 0xFF)
                i += 4
                continue
            if i + 1 >= len(data):
                raise StateError("name %r ends with a backslash" % text)
            cur.append(data[i + 1])
            i += 2
            continue
        if c == 0x2E:
            if not cur:
                raise StateError("name %r has an empty label" % text)
            labels.append(bytes(cur).lower())
            cur = bytearray()
        else:
            cur.append(c)
        i += 1
    if cur:
        labels.append(bytes(cur).lower())
    return labels


def r53_escape(labels):
    """The text Route 53 lists for a name: lower case, trailing dot, octal escapes."""
    out = []
    for label in labels:
        s = []
        for b in label:
            ch = chr(b)
            if ch.isascii() and (ch.islower() or ch.isdigit() or ch in "-_"):
                s.append(ch)
            else:
                s.append("\\%03o" % b)
        out.append("".join(s))
    return ".".join(out) + "."


def r53_name(text):
    return r53_escape(r53_labels(text))


def r53_order(labels):
    """Sort key of a name: labels reversed, joined by dots, trailing dot."""
    return b".".join(reversed(labels)) + b"."


def record_key(rr):
    return (r53_order(r53_labels(rr["Name"])), rr["Type"], rr.get("SetIdentifier") or "")


def in_zone(name, zone):
    n, z = r53_labels(name), r53_labels(zone)
    return len(n) >= len(z) and (not z or n[-len(z):] == z)


ROUTING_FIELDS = ("Weight", "Region", "GeoLocation", "Failover", "MultiValueAnswer",
                  "CidrRoutingConfig")


def normalize_rrset(rr, zone_name):
    """Check a ResourceRecordSet (CLI form) and return it as Route 53 lists it."""
    if not isinstance(rr, dict):
        raise StateError("a record set must be an object: %r" % (rr,))
    rr = copy.deepcopy(rr)
    if "Name" not in rr or "Type" not in rr:
        raise StateError("record set without Name or Type: %r" % (rr,))
    rr["Name"] = r53_name(rr["Name"])
    rr["Type"] = str(rr["Type"]).upper()
    if rr["Type"] not in RR_TYPES:
        raise StateError("record %s: unknown type %s" % (rr["Name"], rr["Type"]))
    if not in_zone(rr["Name"], zone_name):
        raise StateError("record %s is not in zone %s" % (rr["Name"], zone_name))
    alias = rr.get("AliasTarget")
    if alias:
        if "TTL" in rr or rr.get("ResourceRecords"):
            raise StateError("alias record %s must not have TTL or ResourceRecords" % rr["Name"])
        alias = dict(alias)
        alias["DNSName"] = r53_name(alias.get("DNSName", ""))
        alias.setdefault("EvaluateTargetHealth", False)
        if "HostedZoneId" not in alias:
            raise StateError("alias record %s needs AliasTarget.HostedZoneId" % rr["Name"])
        rr["AliasTarget"] = alias
        rr.pop("ResourceRecords", None)
    else:
        if "TTL" not in rr or not rr.get("ResourceRecords"):
            raise StateError("record %s %s needs TTL and ResourceRecords" % (rr["Name"], rr["Type"]))
        rr["TTL"] = int(rr["TTL"])
        values = []
        for v in rr["ResourceRecords"]:
            values.append({"Value": v} if isinstance(v, str) else {"Value": v["Value"]})
        rr["ResourceRecords"] = values
    routed = any(f in rr for f in ROUTING_FIELDS)
    if routed and not rr.get("SetIdentifier"):
        raise StateError("record %s %s has a routing policy but no SetIdentifier" % (rr["Name"], rr["Type"]))
    if rr.get("SetIdentifier") and not routed:
        raise StateError("record %s %s has a SetIdentifier but no routing policy" % (rr["Name"], rr["Type"]))
    if "Weight" in rr:
        rr["Weight"] = int(rr["Weight"])
    return rr


def _generated(spec, zone_name):
    """Expand {"Pattern": "h{i}.bulk.zone.", "Type": "A", "TTL": 300,
    "Value": "10.1.{hi}.{lo}", "Count": 1200, "Start": 0} into record sets."""
    out = []
    start = int(spec.get("Start", 0))
    for i in range(start, start + int(spec["Count"])):
        fmt = {"i": i, "hi": (i // 256) % 256, "lo": i % 256}
        values = spec.get("Values") or [spec["Value"]]
        out.append(normalize_rrset({
            "Name": spec["Pattern"].format(**fmt), "Type": spec.get("Type", "A"),
            "TTL": spec.get("TTL", 300),
            "ResourceRecords": [v.format(**fmt) for v in values]}, zone_name))
    return out


# ---- EC2 / RDS helpers ----------------------------------------------------------

_hexid = hexid


def private_dns_name(ip, region):
    if not ip:
        return ""
    suffix = "ec2.internal" if region == "us-east-1" else region + ".compute.internal"
    return "ip-%s.%s" % (ip.replace(".", "-"), suffix)


def _mac(seed):
    h = _hexid(seed, n=10)
    return "02:" + ":".join(h[i:i + 2] for i in range(0, 10, 2))


class State:
    """A loaded, filled-in state. Lists are in API shape; use under the server's lock."""

    def __init__(self):
        self.doc = {}

    @classmethod
    def load(cls, doc):
        st = cls()
        st.doc = copy.deepcopy(doc)
        st.account = str(doc.get("Account", DEFAULT_ACCOUNT))
        st.region = doc.get("Region", DEFAULT_REGION)
        st.settings = dict(doc.get("Settings", {}))
        st.credentials = []
        for c in doc.get("Credentials") or [{"AccessKeyId": DEFAULT_ACCESS_KEY,
                                             "SecretAccessKey": DEFAULT_SECRET_KEY}]:
            c = dict(c)
            c.setdefault("Arn", "arn:aws:iam::%s:user/vpcdns-test" % st.account)
            c.setdefault("UserId", "AIDA" + _hexid(c["AccessKeyId"], n=16).upper())
            st.credentials.append(c)
        st.roles = doc.get("Roles")  # None: any role of the account may be assumed
        st.imds = dict({"RoleName": "vpcdns-sync", "AvailabilityZone": st.region + "a",
                        "InstanceId": "i-0fakeimds00000001", "RequireToken": True,
                        "CredentialSeconds": 21600}, **doc.get("Imds", {}))
        st.imds.setdefault("Region", st.region)
        st._load_vpcs(doc)
        st._load_enis_and_instances(doc)
        fake_network.load(st, doc)
        st.vpcs_known = bool(st.vpcs)  # Route 53 checks VPC ids once the state has VPCs
        st._load_dbs(doc)
        st._load_zones(doc)
        return st

    # -- VPC inventory
    def _load_vpcs(self, doc):
        self.vpcs = []
        for v in doc.get("Vpcs", []):
            v = copy.deepcopy(v)
            v.setdefault("Region", self.region)
            v.setdefault("State", "available")
            v.setdefault("IsDefault", False)
            v.setdefault("InstanceTenancy", "default")
            v.setdefault("OwnerId", self.account)
            v.setdefault("DhcpOptionsId", fake_network.default_dhcp_id(self, v["Region"]))
            v.setdefault("CidrBlockAssociationSet", [{
                "CidrBlock": v["CidrBlock"], "AssociationId": "vpc-cidr-assoc-" + _hexid(v["VpcId"]),
                "CidrBlockState": {"State": "associated"}}])
            v.setdefault("EnableDnsSupport", True)
            v.setdefault("EnableDnsHostnames", True)
            v["Tags"] = tags_list(v.get("Tags"))
            self.vpcs.append(v)
        self.subnets = []
        for s in doc.get("Subnets", []):
            s = copy.deepcopy(s)
            s.setdefault("Region", self.region)
            s.setdefault("State", "available")
            s.setdefault("AvailabilityZone", self.region + "a")
            s.setdefault("AvailabilityZoneId", fake_network.az_id(s["AvailabilityZone"]))
            s.setdefault("DefaultForAz", False)
            s.setdefault("MapPublicIpOnLaunch", False)
            s.setdefault("AssignIpv6AddressOnCreation", False)
            s.setdefault("OwnerId", self.account)
            s.setdefault("SubnetArn", "arn:aws:ec2:%s:%s:subnet/%s" % (s["Region"], self.account, s["SubnetId"]))
            if "AvailableIpAddressCount" not in s:
                net = ipaddress.ip_network(s["CidrBlock"])
                s["AvailableIpAddressCount"] = max(0, net.num_addresses - 5)
            if "Ipv6CidrBlocks" in s:
                s["Ipv6CidrBlockAssociationSet"] = [
                    {"Ipv6CidrBlock": c, "AssociationId": "subnet-cidr-assoc-" + _hexid(c),
                     "Ipv6CidrBlockState": {"State": "associated"}} for c in s.pop("Ipv6CidrBlocks")]
            s["Tags"] = tags_list(s.get("Tags"))
            self.subnets.append(s)
        self.subnet_by_id = {s["SubnetId"]: s for s in self.subnets}

    def _eni_defaults(self, e):
        sub = self.subnet_by_id.get(e.get("SubnetId"), {})
        e.setdefault("VpcId", sub.get("VpcId"))
        e.setdefault("AvailabilityZone", sub.get("AvailabilityZone", self.region + "a"))
        e.setdefault("Region", sub.get("Region", self.region))
        e.setdefault("Description", "")
        e.setdefault("InterfaceType", "interface")
        e.setdefault("OwnerId", self.account)
        e.setdefault("RequesterManaged", False)
        e.setdefault("SourceDestCheck", True)
        e.setdefault("MacAddress", _mac(e["NetworkInterfaceId"]))
        e.setdefault("Status", "in-use" if e.get("Attachment") else "available")
        e.setdefault("PrivateDnsName", private_dns_name(e.get("PrivateIpAddress"), e["Region"]))
        if "PrivateIpAddresses" not in e:
            ips = [{"PrivateIpAddress": e["PrivateIpAddress"], "Primary": True,
                    "PrivateDnsName": e["PrivateDnsName"]}] if e.get("PrivateIpAddress") else []
            for ip in e.pop("SecondaryPrivateIpAddresses", []):
                ips.append({"PrivateIpAddress": ip, "Primary": False,
                            "PrivateDnsName": private_dns_name(ip, e["Region"])})
            e["PrivateIpAddresses"] = ips
        e["Ipv6Addresses"] = [a if isinstance(a, dict) else {"Ipv6Address": a}
                              for a in e.get("Ipv6Addresses", [])]
        if not e.get("PublicIp"):
            e.pop("PublicIp", None)
            e.pop("PublicDnsName", None)
        else:
            e["Association"] = {"PublicIp": e.pop("PublicIp"), "IpOwnerId": "amazon",
                                "PublicDnsName": e.pop("PublicDnsName", "")}
        tags = e.pop("Tags", None)
        e["TagSet"] = tags_list(e.get("TagSet", tags))
        att = e.get("Attachment")
        if att:
            att.setdefault("AttachmentId", "eni-attach-" + _hexid(e["NetworkInterfaceId"]))
            att.setdefault("DeviceIndex", 0)
            att.setdefault("Status", "attached")
            att.setdefault("DeleteOnTermination", True)
            att.setdefault("InstanceOwnerId", self.account)
            att.setdefault("NetworkCardIndex", 0)
        return e

    def _load_enis_and_instances(self, doc):
        self.enis = [self._eni_defaults(copy.deepcopy(e)) for e in doc.get("NetworkInterfaces", [])]
        attached = {}
        for e in self.enis:
            iid = (e.get("Attachment") or {}).get("InstanceId")
            if iid:
                attached.setdefault(iid, []).append(e)
        self.instances = []
        for n, inst in enumerate(doc.get("Instances", [])):
            i = copy.deepcopy(inst)
            iid = i["InstanceId"]
            sub = self.subnet_by_id.get(i.get("SubnetId"), {})
            i.setdefault("VpcId", sub.get("VpcId"))
            i.setdefault("Region", sub.get("Region", self.region))
            region = i["Region"]
            st = i.get("State", "running")
            if isinstance(st, str):
                if st not in STATE_CODES:
                    raise StateError("instance %s: unknown state %s" % (iid, st))
                i["State"] = {"Code": STATE_CODES[st], "Name": st}
            if "AvailabilityZone" in i:
                i["Placement"] = {"AvailabilityZone": i.pop("AvailabilityZone"), "Tenancy": "default"}
            i.setdefault("Placement", {"AvailabilityZone": sub.get("AvailabilityZone", region + "a"),
                                       "Tenancy": "default"})
            i.setdefault("ReservationId", "r-" + _hexid(iid))
            i.setdefault("InstanceType", "t3.micro")
            i.setdefault("ImageId", "ami-0" + _hexid("ami", n=16))
            i.setdefault("LaunchTime", "2024-01-02T03:04:05.000Z")
            i.setdefault("AmiLaunchIndex", 0)
            i.setdefault("Architecture", "x86_64")
            i.setdefault("RootDeviceType", "ebs")
            i.setdefault("RootDeviceName", "/dev/xvda")
            i.setdefault("Hypervisor", "xen")
            i.setdefault("VirtualizationType", "hvm")
            i.setdefault("Monitoring", {"State": "disabled"})
            i.setdefault("PrivateDnsNameOptions", {"HostnameType": "ip-name",
                                                   "EnableResourceNameDnsARecord": False,
                                                   "EnableResourceNameDnsAAAARecord": False})
            i["Tags"] = tags_list(i.get("Tags"))
            enis = attached.get(iid)
            if not enis and i["State"]["Name"] != "terminated":
                e = {"NetworkInterfaceId": "eni-0" + _hexid(iid, n=16), "SubnetId": i.get("SubnetId"),
                     "VpcId": i["VpcId"], "Region": region,
                     "PrivateIpAddress": i.get("PrivateIpAddress"),
                     "SecondaryPrivateIpAddresses": i.pop("SecondaryPrivateIpAddresses", []),
                     "Ipv6Addresses": i.pop("Ipv6Addresses", []),
                     "Attachment": {"InstanceId": iid, "DeviceIndex": 0,
                                    "AttachTime": i["LaunchTime"]},
                     "RequesterId": None}
                if i.get("PublicIpAddress"):
                    e["PublicIp"] = i["PublicIpAddress"]
                    e["PublicDnsName"] = i.get("PublicDnsName", "")
                e = self._eni_defaults(e)
                self.enis.append(e)
                enis = [e]
            enis = sorted(enis or [], key=lambda e: e["Attachment"]["DeviceIndex"])
            i["NetworkInterfaces"] = enis
            if enis:
                i.setdefault("PrivateIpAddress", enis[0].get("PrivateIpAddress"))
                i.setdefault("SubnetId", enis[0].get("SubnetId"))
                v6 = enis[0].get("Ipv6Addresses")
                if v6 and "Ipv6Address" not in i:
                    i["Ipv6Address"] = v6[0]["Ipv6Address"]
            i.setdefault("PrivateDnsName", private_dns_name(i.get("PrivateIpAddress"), region))
            i.setdefault("PublicDnsName", "")
            self.instances.append(i)
        for e in self.enis:
            if e.get("RequesterId") is None:
                e.pop("RequesterId", None)

    def _load_dbs(self, doc):
        self.db_instances = []
        for d in doc.get("DBInstances", []):
            d = copy.deepcopy(d)
            ident = d["DBInstanceIdentifier"]
            d.setdefault("Region", self.region)
            d.setdefault("Engine", "postgres")
            d.setdefault("DBInstanceStatus", "available")
            d.setdefault("DBInstanceClass", "db.t3.micro")
            d.setdefault("MultiAZ", False)
            d.setdefault("PubliclyAccessible", False)
            d.setdefault("DBInstanceArn", "arn:aws:rds:%s:%s:db:%s" % (d["Region"], self.account, ident))
            d.setdefault("DbiResourceId", "db-" + _hexid(ident, n=26).upper())
            if "Endpoint" not in d and d["DBInstanceStatus"] != "creating":
                d["Endpoint"] = {"Address": "%s.c0vpcdnsfake.%s.rds.amazonaws.com" % (ident, d["Region"]),
                                 "Port": DB_PORTS.get(d["Engine"], 5432),
                                 "HostedZoneId": "Z29XKXDKYMONMX"}
            vpc = d.pop("VpcId", None)
            subnets = d.pop("SubnetIds", [])
            if "DBSubnetGroup" not in d:
                d["DBSubnetGroup"] = {
                    "DBSubnetGroupName": d.pop("DBSubnetGroupName", "default-" + str(vpc)),
                    "DBSubnetGroupDescription": "vpcdns test subnet group",
                    "VpcId": vpc, "SubnetGroupStatus": "Complete",
                    "Subnets": [{"SubnetIdentifier": s, "SubnetStatus": "Active",
                                 "SubnetAvailabilityZone": {"Name": self.subnet_by_id.get(s, {}).get(
                                     "AvailabilityZone", d["Region"] + "a")}} for s in subnets]}
            d["TagList"] = tags_list(d.get("TagList", d.pop("Tags", None)))
            self.db_instances.append(d)

    # -- Route 53
    def _load_zones(self, doc):
        self.zones = {}
        self.zone_order = []
        for z in doc.get("HostedZones", []):
            self.add_zone(z)

    def add_zone(self, z):
        z = copy.deepcopy(z)
        name = r53_name(z["Name"])
        zid = z.get("Id") or "Z" + _hexid(name, z.get("CallerReference", ""), n=20).upper()
        zid = zid.rsplit("/", 1)[-1]
        if zid in self.zones:
            raise StateError("hosted zone %s given twice" % zid)
        cfg = dict(z.get("Config", {}))
        vpcs = [{"VPCRegion": v.get("VPCRegion", self.region), "VPCId": v["VPCId"]}
                for v in z.get("VPCs", [])]
        cfg.setdefault("PrivateZone", bool(vpcs))
        zone = {"Id": zid, "Name": name, "CallerReference": z.get("CallerReference", "vpcdns-" + zid),
                "Config": cfg, "VPCs": vpcs,
                "Owner": z.get("Owner", {"OwningAccount": self.account}),
                "NameServers": z.get("NameServers", DEFAULT_NS), "Tags": tags_list(z.get("Tags")),
                "FakeSource": z.get("FakeSource", "state")}
        records = []
        if z.get("DefaultRecords", True):
            records.append({"Name": name, "Type": "SOA", "TTL": 900, "ResourceRecords": [
                {"Value": "%s awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400" % zone["NameServers"][0]}]})
            records.append({"Name": name, "Type": "NS", "TTL": 172800,
                            "ResourceRecords": [{"Value": ns} for ns in zone["NameServers"]]})
        for rr in z.get("ResourceRecordSets", []):
            records.append(normalize_rrset(rr, name))
        for spec in z.get("Generate", []):
            records.extend(_generated(spec, name))
        zone["records"] = {}
        for rr in records:
            k = record_key(rr)
            if k in zone["records"]:
                raise StateError("record set %s %s %s given twice" % (rr["Name"], rr["Type"], k[2]))
            zone["records"][k] = rr
        self.zones[zid] = zone
        self.zone_order.append(zid)
        return zone

    def sorted_records(self, zone):
        return [zone["records"][k] for k in sorted(zone["records"])]

    def zone_summary(self, zone):
        """The HostedZone element (API shape)."""
        hz = {"Id": "/hostedzone/" + zone["Id"], "Name": zone["Name"],
              "CallerReference": zone["CallerReference"],
              "Config": zone["Config"], "ResourceRecordSetCount": len(zone["records"])}
        return hz

    def find_credentials(self, access_key):
        for c in self.credentials:
            if c["AccessKeyId"] == access_key:
                return c
        return None

