"""Model-driven XML for the fake AWS endpoint.

The fake keeps every resource in the shape the AWS CLI prints (API member
names: "InstanceId", "ResourceRecords", "Tags": [{"Key", "Value"}], ...).
This module turns such a dict into the XML that the real service sends, using
the botocore service model (Debian's python3-botocore) for element names,
element order, list member names and flattening, so a misspelt element cannot
creep in by hand:

  * EC2 answers use lowerCamel element names (the model's locationName, e.g.
    "privateIpAddress", "reservationSet"), every list is a wrapper with <item>
    children, and the root is <OpResponse> with a <requestId> first.
  * Query answers (RDS, STS) wrap the output in <OpResult> and end with
    <ResponseMetadata><RequestId>.
  * Route 53 (REST-XML) answers have the root <OpResponse>; list members carry
    the member's own name (<ResourceRecordSet>, <HostedZone>, <VPC>); members
    bound to HTTP headers (Location) are not in the body.

It also reads a Route 53 request body back into a dict using the input shape.
"""

import datetime
import threading
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape as _xml_escape

import botocore.session

NAMESPACES = {
    "route53": "https://route53.amazonaws.com/doc/2013-04-01/",
    "ec2": "http://ec2.amazonaws.com/doc/2016-11-15/",
    "rds": "http://rds.amazonaws.com/doc/2014-10-31/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}

_lock = threading.Lock()
_models = {}


def service_model(service):
    with _lock:
        if service not in _models:
            _models[service] = botocore.session.get_session().get_service_model(service)
        return _models[service]


def operation_model(service, op):
    return service_model(service).operation_model(op)


def esc(text):
    return _xml_escape(str(text), {'"': "&quot;"})


def iso_time(value):
    """Timestamps go out as 2024-01-02T03:04:05.000Z, as AWS writes them."""
    if isinstance(value, (int, float)):
        value = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (value.microsecond // 1000)
    return str(value)


def _scalar(shape, value):
    t = shape.type_name
    if t == "boolean":
        return "true" if value else "false"
    if t == "timestamp":
        return iso_time(value)
    return esc(value)


def _member_name(shape, member_name):
    # Same rule as botocore's XML parser: a flattened list is named after its
    # member's locationName; otherwise the member's locationName, else its key.
    if shape.type_name == "list" and shape.serialization.get("flattened"):
        name = shape.member.serialization.get("name")
        if name:
            return name
    return shape.serialization.get("name", member_name)


def _emit(out, name, shape, value):
    t = shape.type_name
    if t == "structure":
        out.append("<%s>" % name)
        _emit_members(out, shape, value)
        out.append("</%s>" % name)
    elif t == "list":
        member = shape.member
        child = member.serialization.get("name", "member")
        if shape.serialization.get("flattened"):
            for item in value:
                _emit(out, name, member, item)
        else:
            out.append("<%s>" % name)
            for item in value:
                _emit(out, child, member, item)
            out.append("</%s>" % name)
    elif t == "map":
        out.append("<%s>" % name)
        kname = shape.key.serialization.get("name", "key")
        vname = shape.value.serialization.get("name", "value")
        for k, v in value.items():
            out.append("<entry>")
            _emit(out, kname, shape.key, k)
            _emit(out, vname, shape.value, v)
            out.append("</entry>")
        out.append("</%s>" % name)
    else:
        if value is None:
            return
        out.append("<%s>%s</%s>" % (name, _scalar(shape, value), name))


def _emit_members(out, shape, data):
    for mname, mshape in shape.members.items():
        if mname not in data or data[mname] is None:
            continue
        if mshape.serialization.get("location") in ("header", "headers", "statusCode"):
            continue
        _emit(out, _member_name(mshape, mname), mshape, data[mname])


def render(service, op, data, request_id):
    """The full XML body of a successful answer to `op` carrying `data`."""
    opm = operation_model(service, op)
    shape = opm.output_shape
    ns = NAMESPACES[service]
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<%sResponse xmlns="%s">' % (op, ns)]
    if service == "ec2":
        out.append("<requestId>%s</requestId>" % request_id)
        if shape is not None:
            _emit_members(out, shape, data)
        else:
            out.append("<return>true</return>")  # as EC2 answers calls the model gives no output
    elif service in ("rds", "sts"):
        wrapper = shape.serialization.get("resultWrapper") if shape is not None else None
        if wrapper:
            out.append("<%s>" % wrapper)
            _emit_members(out, shape, data)
            out.append("</%s>" % wrapper)
        out.append("<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata>" % request_id)
    else:
        if shape is not None:
            _emit_members(out, shape, data)
    out.append("</%sResponse>" % op)
    return "".join(out).encode("utf-8")


def header_members(service, op, data):
    """Output members that travel as HTTP headers (e.g. CreateHostedZone's Location)."""
    shape = operation_model(service, op).output_shape
    headers = {}
    if shape is None:
        return headers
    for mname, mshape in shape.members.items():
        if mshape.serialization.get("location") == "header" and data.get(mname) is not None:
            headers[mshape.serialization.get("name", mname)] = str(data[mname])
    return headers


# ---- request bodies (Route 53) ------------------------------------------------

def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _read(node, shape):
    t = shape.type_name
    if t == "structure":
        result = {}
        by_name = {}
        for mname, mshape in shape.members.items():
            by_name[_member_name(mshape, mname)] = (mname, mshape)
        for child in node:
            key = _local(child.tag)
            if key not in by_name:
                continue  # unknown elements are ignored, as AWS's parsers do
            mname, mshape = by_name[key]
            if mshape.type_name == "list" and mshape.serialization.get("flattened"):
                result.setdefault(mname, []).append(_read(child, mshape.member))
            else:
                result[mname] = _read(child, mshape)
        return result
    if t == "list":
        return [_read(child, shape.member) for child in node]
    text = node.text or ""
    if t == "boolean":
        if text not in ("true", "false"):
            raise ValueError("invalid boolean %r" % text)
        return text == "true"
    if t in ("integer", "long"):
        return int(text)
    return text


def parse_request(service, op, body):
    """The dict for a REST-XML request body; raises ValueError on bad XML."""
    shape = operation_model(service, op).input_shape
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        raise ValueError("malformed XML: %s" % e)
    expected = shape.serialization.get("name", shape.name)
    if _local(root.tag) != expected:
        raise ValueError("root element is <%s>, expected <%s>" % (_local(root.tag), expected))
    return _read(root, shape)
