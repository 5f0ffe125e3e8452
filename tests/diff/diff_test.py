#!/usr/bin/python3
"""Differential test: vpcdnsd against Knot DNS (reference) and, optionally, NSD.

Usage:
    /usr/bin/python3 tests/diff/diff_test.py --vpcdnsd bin/vpcdnsd
    /usr/bin/python3 tests/diff/diff_test.py --self-check   # NSD vs Knot only
  --filter TEXT      only queries whose name/type contains TEXT
  --dump             print every query with Knot's reply (reference data)
  --show-permitted   list each query with an RFC-permitted difference
  --show-nsd         list the queries where NSD and Knot disagree
  --no-nsd           do not start NSD (the cross-zone CNAME alternative,
                     which is NSD's answer, is then not available)
  --keep             keep the temp dir (zones, configs, server logs)

The test writes two zones into a temporary directory, starts knotd (and nsd if
it is installed) and vpcdnsd on free loopback ports, all serving the same zone
files, sends every query of a deterministic (seeded) list to each server with
identical wire bytes (same message ID and flags), and compares the answers:

  * rcode (including the extended rcode carried in OPT), opcode,
  * the header flags QR AA TC RD RA AD CD (and the Z bit),
  * the question section, byte for byte (so 0x20 case is preserved),
  * the answer, authority and additional sections as sets of RRs, TTLs
    included, OPT excluded,
  * the OPT record: presence, EDNS version and the DO bit.

One line block is printed per mismatch; the last line is exactly
"N passed, M failed" and the exit status is non-zero if anything failed.

Knot is the reference.  Where Knot and NSD disagree on something the RFCs
leave open, the comparison is restricted to the RFC-mandated part; every such
relaxation is in compare() / specials() below with the reason next to it.
Where Knot and NSD agree the comparison is strict.  Observations about
Knot 3.2.6 (checked by running it):

  * QTYPE=ANY: Knot 3.2 and NSD 4.6 both answer minimally (RFC 8482: one
    RRset of the node) over UDP *and* TCP, but they pick different RRsets (at
    the apex Knot returns A, NSD SOA).  So for ANY we require rcode/flags/
    question/authority to match Knot and the answer to be a non-empty set of
    complete RRsets (correct TTLs) that really exist at the name, checked
    against the zone file parsed by dnspython.  A full ANY answer is fine.
  * Referrals: AA=0, NS RRset in authority, in-bailiwick glue (A and AAAA)
    in additional; sibling glue (an NS target elsewhere in the same zone) is
    also added by both Knot and NSD; out-of-zone targets get nothing.
  * Positive answers carry no NS RRset in the authority section (Knot;
    NSD needs minimal-responses: yes for the same).
  * CNAME to a nonexistent in-zone name: NXDOMAIN (RFC 6604), CNAME in
    answer, SOA in authority with TTL = min(SOA TTL, MINIMUM).
  * CNAME into another zone served by the same server: Knot does not chase
    it, NSD does.  Both are allowed (RFC 1034 4.3.2 step 3a restarts the
    lookup, RFC 6604 and every resolver cope with a partial chain), so the
    harness accepts Knot's answer or the fully chased one (see compare()).
  * DNAME: DNAME RR + synthesized CNAME (TTL of the DNAME, owner = qname as
    sent) + the chased target if it is in the zone; YXDOMAIN if the
    substituted name would be longer than 255 octets (answer: the DNAME
    only, no CNAME, no SOA).  A query for the DNAME owner itself is not
    redirected (NODATA for A, the DNAME for qtype DNAME).
  * Header bits: RD copied; AD, CD, Z and TC of the query are cleared in
    the reply (NSD does the same); RA never set.  OPT: always version 0,
    UDP size 1232, DO copied (also on BADVERS, RFC 3225; NSD forgets it
    there over TCP).  FORMERR replies carry no OPT.
  * Truncation: TC=1 with empty answer/authority/additional (only the
    question and OPT), for answers over 512 octets without EDNS, over the
    client's size (a size below 512 counts as 512) or over 1232.
  * Not served / other classes: REFUSED, AA=0, question echoed, no RRs.
"""

import argparse
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.zone

SEED = 20261126
UDP_TIMEOUT = 1.0
TCP_TIMEOUT = 2.0
SPECIAL_TIMEOUT = 0.4
TIME_BUDGET = 50.0          # seconds for the query phase

# ---------------------------------------------------------------------------
# Zones
# ---------------------------------------------------------------------------

# SOA TTL (7200) > MINIMUM (300): negative answers must carry TTL 300.
ZONE_DIFF = r"""
$ORIGIN diff.test.
$TTL 3600
@               7200 IN SOA ns1.diff.test. hostmaster.diff.test. 2026112601 3600 600 1209600 300
@               IN NS    ns1
@               IN NS    ns2
@               IN MX    10 mail
@               IN MX    20 mail2
@               IN TXT   "v=spf1 -all"
@               IN A     192.0.2.80
@               IN AAAA  2001:db8::80
ns1             IN A     192.0.2.1
ns1             IN AAAA  2001:db8::1
ns2             IN A     192.0.2.2
mail            IN A     192.0.2.25
mail            IN AAAA  2001:db8::25
mail2           IN A     192.0.2.26
host            900 IN A 192.0.2.10
host            900 IN A 192.0.2.11
host            IN AAAA  2001:db8::10
host            IN TXT   "hello world" "second string"
host            IN TXT   "another txt"
host            60 IN MX 5 mail
v6only          IN AAAA  2001:db8::66
multi.label.deep IN A    192.0.2.90
_sip._tcp       IN SRV   10 60 5060 sipsrv
_sip._tcp       IN SRV   20 40 5060 sipsrv2
_ext._udp       IN SRV   0 0 53 ext.example.net.
sipsrv          IN A     192.0.2.50
sipsrv          IN AAAA  2001:db8::50
sipsrv2         IN AAAA  2001:db8::51
mxonly          IN MX    0 .
; CNAME chains of length 1, 2, 3
c1              IN CNAME host
c2              IN CNAME c1
c3              IN CNAME c2
cext            IN CNAME www.example.com.
cnx             IN CNAME nonexistent
cnx2            IN CNAME cnx
cnodata         IN CNAME v6only
csecond         IN CNAME www.second.test.
csecondnx       IN CNAME nope.second.test.
loop1           IN CNAME loop2
loop2           IN CNAME loop1
self            IN CNAME self
cwild           IN CNAME foo.w
cdname          IN CNAME x.dn
cdeleg          IN CNAME host.sub
cent            IN CNAME b.c
; wildcards
*.w             IN A     192.0.2.100
*.w             IN TXT   "wildcard"
host.w          IN A     192.0.2.101
*.wc            IN CNAME host
*.wcx           IN CNAME nowhere
*.wmx           IN MX    10 mail
; empty non-terminals b.c and c; *.c must not match below b.c
a.b.c           IN A     192.0.2.30
*.c             IN A     192.0.2.31
; delegation with in-bailiwick glue and an out-of-bailiwick NS
sub             IN NS    ns1.sub
sub             IN NS    ns2.sub
sub             IN NS    ns.example.net.
ns1.sub         IN A     192.0.2.53
ns1.sub         IN AAAA  2001:db8::53
ns2.sub         IN A     192.0.2.54
; delegation whose glue does not fit in 512 octets (RFC 9471)
fat             IN NS    nameserver-number-1.fat
fat             IN NS    nameserver-number-2.fat
fat             IN NS    nameserver-number-3.fat
fat             IN NS    nameserver-number-4.fat
fat             IN NS    nameserver-number-5.fat
fat             IN NS    nameserver-number-6.fat
fat             IN NS    nameserver-number-7.fat
fat             IN NS    nameserver-number-8.fat
nameserver-number-1.fat IN A 192.0.2.201
nameserver-number-1.fat IN AAAA 2001:db8::201
nameserver-number-2.fat IN A 192.0.2.202
nameserver-number-2.fat IN AAAA 2001:db8::202
nameserver-number-3.fat IN A 192.0.2.203
nameserver-number-3.fat IN AAAA 2001:db8::203
nameserver-number-4.fat IN A 192.0.2.204
nameserver-number-4.fat IN AAAA 2001:db8::204
nameserver-number-5.fat IN A 192.0.2.205
nameserver-number-5.fat IN AAAA 2001:db8::205
nameserver-number-6.fat IN A 192.0.2.206
nameserver-number-6.fat IN AAAA 2001:db8::206
nameserver-number-7.fat IN A 192.0.2.207
nameserver-number-7.fat IN AAAA 2001:db8::207
nameserver-number-8.fat IN A 192.0.2.208
nameserver-number-8.fat IN AAAA 2001:db8::208
; delegation to a sibling name of the zone and an out-of-zone name
sib             IN NS    ns2.diff.test.
sib             IN NS    ns.example.org.
; DNAMEs: in-zone target, out-of-zone target, long target (YXDOMAIN)
dn              IN DNAME target.diff.test.
www.target      IN A     192.0.2.60
www.target      IN AAAA  2001:db8::60
target          IN TXT   "dname target"
dnx             600 IN DNAME example.org.
dnlong          IN DNAME a-rather-long-target-label-to-overflow-the-name-limit-of-255.example.org.
; RFC 3597 unknown type
unk             IN TYPE65280 \# 4 01020304
; RRsets too big for 512 octets / 1232 octets over UDP
big             IN TXT   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
big             IN TXT   "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
big             IN TXT   "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
big             IN TXT   "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
big             IN TXT   "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
big             IN TXT   "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
"""

HUGE_TXT = "".join(
    'huge            IN TXT   "%s"\n' % (chr(ord("a") + i) * 200) for i in range(8))

ZONE_DIFF += HUGE_TXT

ZONE_SECOND = r"""
$ORIGIN second.test.
$TTL 600
@       IN SOA ns.second.test. admin.second.test. 7 3600 600 86400 120
@       IN NS  ns
ns      IN A   198.51.100.1
www     IN A   198.51.100.80
www     IN AAAA 2001:db8:5::80
alias   IN CNAME www
back    IN CNAME host.diff.test.
"""

ZONES = {"diff.test": ZONE_DIFF, "second.test": ZONE_SECOND}

# Names that exist in diff.test (relative), used to build the query list.
DIFF_NAMES = [
    "@", "ns1", "ns2", "mail", "mail2", "host", "v6only", "multi.label.deep",
    "_sip._tcp", "_ext._udp", "sipsrv", "sipsrv2", "mxonly", "c1", "c2", "c3",
    "cext", "cnx", "cnx2", "cnodata", "csecond", "csecondnx", "loop1", "loop2",
    "self", "cwild", "cdname", "cdeleg", "cent", "*.w", "host.w", "*.wc",
    "*.wcx", "*.wmx", "a.b.c", "*.c", "sub", "ns1.sub", "ns2.sub", "sib", "dn",
    "fat", "nameserver-number-1.fat",
    "www.target", "target", "dnx", "dnlong", "unk", "big", "huge",
]
SECOND_NAMES = ["@", "ns", "www", "alias", "back"]

QTYPES = ["A", "AAAA", "TXT", "MX", "SRV", "NS", "SOA", "CNAME", "DNAME",
          "TYPE65280", "DS"]

# Query names that are not in the zones (relative to diff.test unless they
# end with a dot), with what they exercise.
EXTRA_NAMES = [
    "nonexistent", "nx.host", "deep.nx.host", "x.multi.label.deep",
    "label.deep", "deep",                         # ENTs on the way to multi
    "b.c", "c", "x.b.c", "y.x.b.c", "z.c", "q.z.c",  # ENT + wildcard blocking
    "foo.w", "a.b.x.w", "1.2.3.4.5.w", "x.host.w", "w",
    "foo.wc", "a.b.wc", "foo.wcx", "foo.wmx",
    "host.sub", "a.b.sub", "ns1.sub", "x.ns1.sub",  # below the delegation
    "www.fat",
    "x.sib",
    "www.dn", "nx.dn", "a.b.dn", "target.dn", "www.target.dn",
    "foo.dnx", "a.b.foo.dnx",
    "x.target", "www.x.target",
    "_tcp", "_udp", "_nope._tcp",
    "nx.second.test.", "a.www.second.test.", "x.alias.second.test.",
    "diff.test.second.test.", "second.test.diff.test.",
]
OUTSIDE_NAMES = [
    ".", "test.", "xdiff.test.", "ff.test.", "iff.test.", "example.com.",
    "third.test.", "www.example.org.", "diff.test.example.", "dtest.",
    "sub.diff.tes.", "second.tests.",
]


# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------

def free_port(used):
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(200):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            t.close()
            u.close()
            continue
        t.close()
        u.close()
        if port not in used:
            used.add(port)
            return port
    raise RuntimeError("no free port")


class Server:
    def __init__(self, name, argv, port, logpath, cwd):
        self.name = name
        self.argv = argv
        self.port = port
        self.logpath = logpath
        self.cwd = cwd
        self.proc = None
        self.dead = False

    def start(self):
        log = open(self.logpath, "wb")
        self.proc = subprocess.Popen(self.argv, stdout=log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.cwd)
        log.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=30):
        try:
            with open(self.logpath, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join("    " + l for l in lines[-n:])
        except OSError:
            return "    (no log)"

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.kill(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=5)

    def wait_loaded(self, zones, timeout=10.0):
        """Poll SOA of every zone until all answer authoritatively."""
        deadline = time.monotonic() + timeout
        pending = list(zones)
        while time.monotonic() < deadline:
            if not self.alive():
                return "exited with status %s" % self.proc.returncode
            still = []
            for z in pending:
                q = dns.message.make_query(z, "SOA")
                r = udp_exchange(self.port, q.to_wire(), 0.3)
                ok = False
                if isinstance(r, bytes):
                    try:
                        m = dns.message.from_wire(r)
                        ok = (m.rcode() == dns.rcode.NOERROR
                              and m.flags & dns.flags.AA
                              and any(rr.rdtype == dns.rdatatype.SOA
                                      for rr in m.answer))
                    except dns.exception.DNSException:
                        pass
                if not ok:
                    still.append(z)
            pending = still
            if not pending:
                return None
            time.sleep(0.1)
        return "zones not loaded after %.0fs: %s" % (timeout, ", ".join(pending))


def write_zones(tmp):
    paths = {}
    for z, text in ZONES.items():
        p = os.path.join(tmp, z + ".zone")
        with open(p, "w") as f:
            f.write(text.lstrip("\n"))
        paths[z] = p
    return paths


def knot_server(tmp, port):
    d = os.path.join(tmp, "knot")
    os.makedirs(d)
    conf = os.path.join(d, "knot.conf")
    with open(conf, "w") as f:
        f.write("""server:
    rundir: "{d}"
    pidfile: "{d}/knot.pid"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: notice
database:
    storage: "{d}"
control:
    listen: "{d}/knot.sock"
template:
  - id: default
    storage: "{tmp}"
    file: "{tmp}/%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
zone:
""".format(d=d, port=port, tmp=tmp))
        for z in ZONES:
            f.write("  - domain: %s\n" % z)
    return Server("knot", ["knotd", "-c", conf], port,
                  os.path.join(d, "knotd.log"), d)


def nsd_server(tmp, port):
    d = os.path.join(tmp, "nsd")
    os.makedirs(d)
    conf = os.path.join(d, "nsd.conf")
    # minimal-responses: yes makes NSD leave the NS RRset out of the
    # authority section of positive answers, as Knot does.
    with open(conf, "w") as f:
        f.write("""server:
    ip-address: 127.0.0.1@{port}
    port: {port}
    zonesdir: "{tmp}"
    pidfile: "{d}/nsd.pid"
    database: ""
    xfrdfile: "{d}/xfrd.state"
    zonelistfile: "{d}/zone.list"
    username: ""
    chroot: ""
    server-count: 1
    tcp-count: 10
    verbosity: 1
    minimal-responses: yes
    refuse-any: no
    hide-version: yes
remote-control:
    control-enable: no
""".format(d=d, port=port, tmp=tmp))
        for z in ZONES:
            f.write("zone:\n    name: %s\n    zonefile: %s.zone\n" % (z, z))
    return Server("nsd", ["nsd", "-d", "-c", conf], port,
                  os.path.join(d, "nsd.log"), d)


def vpc_server(tmp, port, binary, paths):
    d = os.path.join(tmp, "vpcdnsd")
    os.makedirs(d)
    conf = os.path.join(d, "vpcdnsd.ini")
    with open(conf, "w") as f:
        # An authoritative-only server, like Knot and NSD: no forwarding (and
        # so no RA bit), names outside the zones REFUSED.
        f.write("[server]\nlisten = 127.0.0.1:%d\nworkers = 1\nrecursion = no\n" % port)
        for z, p in paths.items():
            f.write("[zone:%s]\nfile = %s\n" % (z, p))
    return Server("vpcdnsd", [binary, "-c", conf], port,
                  os.path.join(d, "vpcdnsd.log"), d)


# ---------------------------------------------------------------------------
# Transport
# ---------------------------------------------------------------------------

def udp_exchange(port, wire, timeout):
    """Send one datagram; return the reply bytes, or "TIMEOUT"."""
    qid = wire[:2]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("127.0.0.1", port))
        s.send(wire)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "TIMEOUT"
            s.settimeout(left)
            try:
                data = s.recv(65535)
            except socket.timeout:
                return "TIMEOUT"
            except ConnectionRefusedError:
                return "ICMP port unreachable"
            if data[:2] == qid:
                return data
    finally:
        s.close()


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def tcp_multi(port, wires, timeout, split=False):
    """Several queries on one TCP connection, written back to back (RFC
    7766 6.2.1.1 pipelining); with split, the first length octet is sent
    alone first.  Returns {message id: reply bytes} or an error string."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    out = {}
    try:
        try:
            s.connect(("127.0.0.1", port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            data = b"".join(struct.pack("!H", len(w)) + w for w in wires)
            if split:
                s.sendall(data[:1])
                time.sleep(0.05)
                data = data[1:]
            s.sendall(data)
            for _ in wires:
                hdr = recv_exact(s, 2)
                if hdr is None:
                    break
                msg = recv_exact(s, struct.unpack("!H", hdr)[0])
                if msg is None:
                    break
                out[struct.unpack("!H", msg[:2])[0]] = msg
        except socket.timeout:
            pass
        except OSError as e:
            return "TCP error: %s" % e
    finally:
        s.close()
    return out


def tcp_exchange(port, wire, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(struct.pack("!H", len(wire)) + wire)
            hdr = recv_exact(s, 2)
            if hdr is None:
                return "TCP connection closed without an answer"
            data = recv_exact(s, struct.unpack("!H", hdr)[0])
            if data is None:
                return "TCP connection closed mid-answer"
            return data
        except socket.timeout:
            return "TIMEOUT"
        except OSError as e:
            return "TCP error: %s" % e
    finally:
        s.close()


# ---------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------

class Query:
    __slots__ = ("qname", "qtype", "qclass", "rd", "cd", "ad", "edns",
                 "do", "payload", "tcp", "kind", "wire", "desc", "opcode",
                 "raw", "allowed", "label")

    def __init__(self, qname, qtype, kind="normal", rd=False, cd=False,
                 ad=False, edns=None, do=False, payload=1232, tcp=False,
                 qclass="IN", opcode=0):
        self.qname = qname
        self.qtype = qtype
        self.qclass = qclass
        self.kind = kind
        self.rd, self.cd, self.ad = rd, cd, ad
        self.edns, self.do, self.payload = edns, do, payload
        self.tcp = tcp
        self.opcode = opcode
        self.wire = None
        self.desc = None
        self.raw = None         # callable(base wire) -> wire, for specials
        self.allowed = ()       # special: outcomes accepted besides Knot's
        self.label = None

    def build(self, qid):
        if self.raw is not None:
            base = Query(self.qname, self.qtype, edns=self.edns,
                         rd=self.rd, qclass=self.qclass)
            base.build(qid)
            self.wire = self.raw(base.wire)
            self.desc = "%s [%s] (%s %s %s) id=%d" % (
                self.label, "TCP" if self.tcp else "UDP", self.qname,
                self.qclass, self.qtype, qid)
            return
        name = dns.name.from_text(self.qname)
        m = dns.message.Message(id=qid)
        m.flags = 0
        if self.rd:
            m.flags |= dns.flags.RD
        if self.cd:
            m.flags |= dns.flags.CD
        if self.ad:
            m.flags |= dns.flags.AD
        m.set_opcode(self.opcode)
        m.find_rrset(m.question, name, dns.rdataclass.from_text(self.qclass),
                     dns.rdatatype.from_text(self.qtype), create=True,
                     force_unique=True)
        if self.edns is not None:
            m.use_edns(self.edns, dns.flags.DO if self.do else 0,
                       self.payload)
        self.wire = m.to_wire()
        fl = [f for f, b in (("rd", self.rd), ("cd", self.cd), ("ad", self.ad)) if b]
        e = "noedns" if self.edns is None else "edns%d/%d%s" % (
            self.edns, self.payload, "/DO" if self.do else "")
        op = "" if self.opcode == 0 else " opcode=%d" % self.opcode
        self.desc = "%s %s %s [%s %s%s%s] id=%d%s" % (
            self.qname, self.qclass, self.qtype, "TCP" if self.tcp else "UDP",
            e, " " if fl else "", ",".join(fl), qid, op)


def random_case(rng, s):
    return "".join(c.upper() if c.isalpha() and rng.random() < 0.5 else c.lower()
                   for c in s)


def absolute(rel, origin="diff.test."):
    if rel.endswith("."):
        return rel
    if rel == "@":
        return origin
    return rel + "." + origin


def random_opts(rng):
    """Random header flags / EDNS for one query."""
    o = {"rd": rng.random() < 0.5, "cd": rng.random() < 0.15,
         "ad": rng.random() < 0.1}
    r = rng.random()
    if r < 0.3:
        o["edns"] = None
    else:
        o["edns"] = 0
        o["do"] = rng.random() < 0.35
        o["payload"] = rng.choice([512, 1232, 1232, 1400, 4096])
    return o


def generate(rng):
    qs = []

    def add(name, qtype, kind="normal", tcp_share=0.12, **fixed):
        o = random_opts(rng)
        o.update(fixed)
        if "tcp" not in o:
            o["tcp"] = rng.random() < tcp_share
        qs.append(Query(name, qtype, kind=kind, **o))

    diff_abs = [absolute(n) for n in DIFF_NAMES]
    second_abs = [absolute(n, "second.test.") for n in SECOND_NAMES]
    extra_abs = [absolute(n) for n in EXTRA_NAMES]

    # every existing name x every qtype
    for n in diff_abs + second_abs:
        for t in QTYPES:
            add(n, t)
    # nonexistent / wildcard / ENT / referral / DNAME names x a few types
    for n in extra_abs:
        for t in ["A", "AAAA", "TXT", "MX", "NS", "CNAME", "DS", "SOA"]:
            add(n, t)
    # outside both zones: REFUSED
    for n in OUTSIDE_NAMES:
        for t in ["A", "NS", "SOA"]:
            add(n, t)
    # random mixed case versions of every name
    for n in diff_abs + second_abs + extra_abs + OUTSIDE_NAMES:
        for t in rng.sample(["A", "AAAA", "TXT", "MX", "NS", "CNAME", "SRV"], 2):
            add(random_case(rng, n), t)
    # ANY: minimal (RFC 8482) or full both accepted, see compare()
    for n in diff_abs + second_abs + extra_abs:
        add(random_case(rng, n) if rng.random() < 0.3 else n, "ANY",
            kind="any", tcp_share=0.5)
    # flag / EDNS matrix on a few representative queries
    reps = [("host.diff.test.", "A"), ("cnx.diff.test.", "A"),
            ("nonexistent.diff.test.", "A"), ("host.sub.diff.test.", "A"),
            ("www.dn.diff.test.", "A"), ("foo.w.diff.test.", "TXT"),
            ("x.b.c.diff.test.", "A"), ("example.com.", "A"),
            ("diff.test.", "NS"), ("_sip._tcp.diff.test.", "SRV")]
    for n, t in reps:
        for edns, do in ((None, False), (0, False), (0, True)):
            for tcp in (False, True):
                add(n, t, rd=True, cd=True, ad=True, edns=edns, do=do,
                    payload=1232, tcp=tcp)
                add(n, t, rd=False, cd=False, ad=False, edns=edns, do=do,
                    payload=4096, tcp=tcp)
    # truncation: 512 without EDNS, small EDNS buffers, > 1232 (server max)
    for n, t in (("big.diff.test.", "TXT"), ("huge.diff.test.", "TXT"),
                 ("diff.test.", "ANY"), ("big.diff.test.", "ANY")):
        k = "any" if t == "ANY" else "normal"
        for edns, payload in ((None, 512), (0, 512), (0, 100), (0, 1232),
                              (0, 4096), (0, 65535)):
            for tcp in (False, True):
                add(n, t, kind=k, edns=edns, payload=payload, tcp=tcp,
                    do=False)
    # small buffers: below 512 counts as 512 (RFC 6891 6.2.5); referral
    # glue that does not fit sets TC (RFC 9471), other additional data is
    # just left out
    for n, t in (("diff.test.", "MX"), ("diff.test.", "NS"),
                 ("_sip._tcp.diff.test.", "SRV"), ("host.sub.diff.test.", "A"),
                 ("www.fat.diff.test.", "A"), ("fat.diff.test.", "NS")):
        for edns, payload in ((None, 512), (0, 100), (0, 512), (0, 1232)):
            add(n, t, edns=edns, payload=payload, tcp=False, do=False)
        add(n, t, edns=None, tcp=True)
    # EDNS version 1: BADVERS (RFC 6891 6.1.3)
    for n, t in (("host.diff.test.", "A"), ("nonexistent.diff.test.", "A"),
                 ("example.com.", "A")):
        add(n, t, edns=1, do=False, tcp=False)
        add(n, t, edns=1, do=True, tcp=True)
    # odd but valid label contents
    for n in ("a\\000b.diff.test.", "\\@.diff.test.", "\\195\\137.diff.test.",
              "a\\.b.diff.test.", "HoSt\\.w.diff.test.", "-.w.diff.test.",
              "\\042.w.diff.test.", "\\*.c.diff.test.",
              ".".join(["a" * 63] * 3) + ".diff.test.",
              ".".join(["b" * 40] * 5) + ".dnlong.diff.test.",
              ".".join(["c" * 40] * 4) + ".dnlong.diff.test.",
              ".".join(["d" * 50] * 4) + ".dn.diff.test."):
        add(n, "A")
        add(n, "TXT")
    # meta / obscure qtypes and classes
    for n, t in (("host.diff.test.", "RRSIG"), ("host.diff.test.", "NSEC"),
                 ("diff.test.", "DNSKEY"),
                 ("host.diff.test.", "HINFO"), ("host.diff.test.", "PTR"),
                 ("host.diff.test.", "TYPE65535"),
                 ("nonexistent.diff.test.", "RRSIG")):
        add(n, t)
    for t in ("MAILB", "OPT", "NULL"):
        add("diff.test.", t)
    qs += specials()
    return qs


def with_flags(w, hi_or=0, lo_or=0, hi_and=0xFF, lo_and=0xFF):
    return w[:2] + bytes([(w[2] & hi_and) | hi_or, (w[3] & lo_and) | lo_or]) + w[4:]


def with_count(w, idx, n):
    """Set header count idx (0=QD 1=AN 2=NS 3=AR)."""
    o = 4 + 2 * idx
    return w[:o] + struct.pack("!H", n) + w[o + 2:]


def specials():
    """Malformed / unusual messages, built from the wire of a plain query.

    Compared on the outcome only (rcode, opcode echo, QR, no answer RRs on
    errors, or no reply at all), see compare_special().  `allowed` lists
    the outcomes accepted besides Knot's where Knot and NSD differ and no
    RFC decides; every such case says why.
    """
    out = []

    def sp(label, raw, tcp=False, allowed=(), qname="host.diff.test.",
           qtype="A", qclass="IN", edns=None, kind="special", rd=True):
        q = Query(qname, qtype, kind=kind, tcp=tcp, qclass=qclass,
                  edns=edns, rd=rd)
        q.raw, q.allowed, q.label = raw, tuple(allowed), label
        out.append(q)

    for tcp in (False, True):
        # RFC 1035 4.1.2 needs a question to answer: FORMERR (Knot and NSD
        # over UDP; NSD resets the TCP connection instead).
        sp("QDCOUNT=0", lambda w: with_count(w, 0, 0)[:12], tcp,
           allowed=("no reply",) if tcp else ())
        # Two questions: Knot drops, NSD says FORMERR.  Either.
        sp("QDCOUNT=2", lambda w: with_count(w, 0, 2) + w[12:], tcp,
           allowed=("no reply", "FORMERR"))
        # A response (QR=1) must never be answered (loops).
        sp("QR=1 in query", lambda w: with_flags(w, hi_or=0x80), tcp)
        # Opcodes other than QUERY: NOTIMP (RFC 1035 4.1.1; Knot = NSD).
        for op, name in ((2, "STATUS"), (3, "opcode 3"), (6, "DSO/6"),
                         (15, "opcode 15")):
            sp(name, (lambda op: lambda w: with_flags(
                w, hi_or=op << 3, hi_and=0x87))(op), tcp)
        # NOTIFY / UPDATE for a zone we serve without being configured for
        # them: Knot NOTAUTH, NSD NXDOMAIN (NOTIFY) or NOTIMP (UPDATE);
        # RFC 1996/2136 leave the refusal code open.  Any refusal is fine,
        # but never NOERROR.
        sp("NOTIFY", lambda w: with_flags(w, hi_or=4 << 3 | 4, hi_and=0x87),
           tcp, qname="diff.test.", qtype="SOA",
           allowed=("NOTAUTH", "REFUSED", "NOTIMP", "NXDOMAIN"))
        sp("UPDATE", lambda w: with_flags(w, hi_or=5 << 3, hi_and=0x87),
           tcp, qname="diff.test.", qtype="SOA",
           allowed=("NOTAUTH", "REFUSED", "NOTIMP", "FORMERR"))
        # Zone transfers are not offered: Knot NOTIMP over UDP, NOTAUTH
        # over TCP; NSD REFUSED over TCP.  Any refusal, no zone data.
        for t in ("AXFR", "IXFR"):
            sp(t, lambda w: w, tcp, qname="diff.test.", qtype=t,
               allowed=("NOTAUTH", "REFUSED", "NOTIMP", "FORMERR"))
        # Classes other than IN for names in our IN zones: REFUSED (Knot =
        # NSD).  CH is included (vpcdnsd default chaos = no).
        for c in ("CH", "NONE", "HS", "CLASS42"):
            sp("class %s" % c, lambda w: w, tcp, qclass=c)
        # Malformed: counts that do not match the data, trailing junk.
        sp("ANCOUNT=1 without data", lambda w: with_count(w, 1, 1), tcp)
        sp("ARCOUNT=1 without data", lambda w: with_count(w, 3, 1), tcp)
        # Trailing bytes: Knot FORMERR, NSD ignores them and answers.
        sp("trailing garbage", lambda w: w + b"\x01\x02\x03", tcp,
           allowed=("NOERROR",))
        # Question cut short: Knot drops, NSD FORMERR.
        sp("truncated question", lambda w: w[:-2], tcp,
           allowed=("FORMERR",))
        sp("11-byte header", lambda w: w[:11], tcp,
           allowed=("FORMERR",))
        # RFC 6891 6.1.1: more than one OPT is FORMERR.
        sp("two OPT RRs", lambda w: with_count(w, 3, 2) + w[-11:], tcp,
           edns=0)
        # OPT anywhere but additional: FORMERR (Knot = NSD).
        sp("OPT in answer section",
           lambda w: with_count(with_count(w, 1, 1), 3, 0), tcp, edns=0)
        # Query header bits that must be ignored: TC and Z; compared in
        # full like a normal query (Knot and NSD clear both in the reply).
        sp("TC=1 in query", lambda w: with_flags(w, hi_or=0x02), tcp,
           kind="normal")
        sp("Z=1 in query", lambda w: with_flags(w, lo_or=0x40), tcp,
           kind="normal")
        sp("unknown EDNS option", lambda w: with_count(w, 3, 1) + (
            b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x06"
            b"\xfd\xe9\x00\x02xy"), tcp, kind="normal")
        sp("EDNS option length overrun", lambda w: with_count(w, 3, 1) + (
            b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x06"
            b"\xfd\xe9\x00\x09xy"), tcp)
    return out


# ---------------------------------------------------------------------------
# Normalisation and comparison
# ---------------------------------------------------------------------------

FLAG_BITS = [("QR", dns.flags.QR), ("AA", dns.flags.AA), ("TC", dns.flags.TC),
             ("RD", dns.flags.RD), ("RA", dns.flags.RA), ("AD", dns.flags.AD),
             ("CD", dns.flags.CD), ("Z", 0x0040)]


def rr_key(name, rrset, rd):
    return (name.to_text().lower(), rrset.ttl, rrset.rdclass, rrset.rdtype,
            rd.to_digestable())


class Resp:
    """A normalised response (or the reason there is none)."""

    def __init__(self, raw):
        self.error = None
        self.raw = raw
        if not isinstance(raw, bytes):
            self.error = raw
            return
        try:
            m = dns.message.from_wire(raw, ignore_trailing=True)
        except Exception as e:              # noqa: BLE001 - report anything
            self.error = "unparseable reply (%d bytes): %s: %s" % (
                len(raw), type(e).__name__, e)
            return
        self.msg = m
        self.rcode = m.rcode()
        self.opcode = m.opcode()
        self.flags = tuple(n for n, b in FLAG_BITS if m.flags & b)
        self.question = question_bytes(raw)
        self.sections = {}
        self.texts = {}
        for sec, rrsets in (("answer", m.answer), ("authority", m.authority),
                            ("additional", m.additional)):
            keys = {}
            for rrset in rrsets:
                for rd in rrset:
                    k = rr_key(rrset.name, rrset, rd)
                    keys[k] = "%s %d %s %s %s" % (
                        rrset.name.to_text(), rrset.ttl,
                        dns.rdataclass.to_text(rrset.rdclass),
                        dns.rdatatype.to_text(rrset.rdtype), rd.to_text())
            self.sections[sec] = keys
        if m.edns < 0:
            self.opt = None
        else:
            self.opt = (m.edns, bool(m.ednsflags & dns.flags.DO))
        self.payload = m.payload if m.edns >= 0 else None

    def owner_case(self, sec):
        return sorted({t.split()[0] for t in self.sections[sec].values()},
                      key=str.lower)

    def rcode_text(self):
        return dns.rcode.to_text(self.rcode)

    def dump(self, indent="      "):
        if self.error:
            return indent + self.error
        out = [indent + "rcode=%s flags=%s opt=%s" % (
            self.rcode_text(), " ".join(self.flags) or "-",
            "none" if self.opt is None else "v%d%s udp=%d" % (
                self.opt[0], " DO" if self.opt[1] else "", self.payload))]
        for sec in ("answer", "authority", "additional"):
            for t in sorted(self.sections[sec].values(), key=str.lower):
                out.append(indent + "%-10s %s" % (sec[:4].upper(), t))
        return "\n".join(out)


def question_bytes(raw):
    """The question section exactly as sent back (no decompression)."""
    if len(raw) < 12:
        return None
    qd = struct.unpack("!H", raw[4:6])[0]
    off = 12
    for _ in range(qd):
        while True:
            if off >= len(raw):
                return raw[12:]
            ln = raw[off]
            if ln & 0xC0:
                off += 2
                break
            off += 1 + ln
            if ln == 0:
                break
        off += 4
    return raw[12:off]


def node_rrsets(zones, name):
    """The RRsets at a name in the parsed zones, as sets of rr keys, by type."""
    for origin, z in zones.items():
        if name.is_subdomain(origin):
            node = z.get_node(name)
            if node is None:
                return {}
            out = {}
            for rds in node.rdatasets:
                out[rds.rdtype] = {
                    (name.to_text().lower(), rds.ttl, rds.rdclass, rds.rdtype,
                     rd.to_digestable()) for rd in rds}
            return out
    return {}


def diff_sets(a, b):
    """Readable lines for the RRs only in a (ref) and only in b (test)."""
    lines = []
    for k in sorted(set(a) - set(b), key=lambda k: a[k].lower()):
        lines.append("      - " + a[k])
    for k in sorted(set(b) - set(a), key=lambda k: b[k].lower()):
        lines.append("      + " + b[k])
    return lines


def check_any(q, ref, test, zones):
    name = dns.name.from_text(q.qname)
    node = node_rrsets(zones, name)
    got = set(test.sections["answer"])
    if not ref.sections["answer"]:
        if got:
            return ["ANY: ref has an empty answer, test has:"] + [
                "      + " + test.sections["answer"][k] for k in got]
        return []
    if not got:
        return ["ANY: empty answer, ref has:"] + [
            "      - " + t for t in ref.sections["answer"].values()]
    probs = []
    groups, refgroups = {}, {}
    for k in got:
        groups.setdefault((k[0], k[3]), set()).add(k)
    for k in ref.sections["answer"]:
        refgroups.setdefault((k[0], k[3]), set()).add(k)
    for (owner, t), part in sorted(groups.items()):
        # The same RRset as the reference, or else the RRset in the zone
        # data at that owner, or what the covering wildcard synthesizes.
        want = refgroups.get((owner, t))
        if want is None:
            n = dns.name.from_text(owner)
            want = node_rrsets(zones, n).get(t) or wildcard_rrset(zones, n, t)
        if want is None or part != want:
            probs.append("ANY: %s %s RRset not complete/exact vs zone data:"
                         % (owner, dns.rdatatype.to_text(t)))
            probs += ["      + " + test.sections["answer"][k]
                      for k in sorted(part)]
            if want:
                probs += ["      zone: %r" % (sorted(want),)]
    types = {k[3] for k in got if k[0] == name.to_text().lower()}
    if dns.rdatatype.CNAME in node and (
            types != {dns.rdatatype.CNAME}
            or {k[0] for k in got} != {name.to_text().lower()}):
        # RFC 1034 4.3.2 step 3a: QTYPE * matches the CNAME, so the chain
        # is not followed (Knot and NSD: the CNAME only).
        probs.append("ANY at a CNAME owner must return only that CNAME "
                     "(no chasing)")
    return probs


def wildcard_rrset(zones, name, rdtype):
    """RRs of the wildcard that synthesizes name (closest-encloser rule)."""
    for origin, z in zones.items():
        if not name.is_subdomain(origin):
            continue
        # closest encloser: the longest existing ancestor (ENTs count)
        existing = set()
        for n in z.nodes:
            a = n
            while True:
                existing.add(a)
                if a == origin:
                    break
                a = a.parent()
        ce = name.parent()
        while ce not in existing:
            ce = ce.parent()
        wname = dns.name.from_text("*", ce)
        node = z.get_node(wname)
        if node is None:
            return None
        rds = node.get_rdataset(dns.rdataclass.IN, rdtype)
        if rds is None:
            return None
        return {(name.to_text().lower(), rds.ttl, rds.rdclass, rds.rdtype,
                 rd.to_digestable()) for rd in rds}
    return None


def is_referral(r, zones):
    """A referral (possibly after a CNAME chain): NOERROR with the NS RRset
    of a delegation (an owner that is not a zone apex) in authority."""
    if r.error or r.rcode != dns.rcode.NOERROR:
        return False
    return any(k[3] == dns.rdatatype.NS
               and dns.name.from_text(k[0]) not in zones
               for k in r.sections["authority"])


def apex_ns_keys(zones):
    out = []
    for origin, z in zones.items():
        rds = z.get_rdataset(origin, dns.rdatatype.NS)
        if rds is not None:
            out.append({(origin.to_text().lower(), rds.ttl, rds.rdclass,
                         rds.rdtype, rd.to_digestable()) for rd in rds})
    return out


def address_keys(zones, names):
    """A/AAAA RRs (from the zone files) of the given owner names."""
    out = set()
    for n in names:
        node = node_rrsets(zones, n)
        for t in (dns.rdatatype.A, dns.rdatatype.AAAA):
            out |= node.get(t, set())
    return out


def incomplete_rrsets(keys, zones):
    """RRs whose RRset (owner, type) is only partly present."""
    bad = []
    groups = {}
    for k in keys:
        groups.setdefault((k[0], k[3]), set()).add(k)
    for (owner, t), part in groups.items():
        full = node_rrsets(zones, dns.name.from_text(owner)).get(t)
        if full is not None and part != full:
            bad.append((owner, t))
    return bad


def compare(q, ref, test, zones):
    """Compare a test reply with the reference reply.

    Returns (problems, notes): problems are failures, notes are differences
    the RFCs permit (printed only with --show-permitted).
    """
    notes = []
    if ref.error or test.error:
        if ref.error and test.error and (ref.error == test.error):
            return [], notes
        return ["reply: ref=%s test=%s" % (ref.error or "ok",
                                           test.error or "ok")], notes
    probs = []
    if ref.rcode != test.rcode:
        probs.append("rcode: ref=%s test=%s" % (ref.rcode_text(),
                                                 test.rcode_text()))
    if ref.opcode != test.opcode:
        probs.append("opcode: ref=%d test=%d" % (ref.opcode, test.opcode))
    if ref.flags != test.flags:
        extra = [f for f in test.flags if f not in ref.flags]
        missing = [f for f in ref.flags if f not in test.flags]
        probs.append("flags%s%s: ref=%s test=%s" % (
            " +" + "+".join(extra) if extra else "",
            " -" + "-".join(missing) if missing else "",
            " ".join(ref.flags), " ".join(test.flags)))
    if ref.question != test.question:
        probs.append("question bytes: ref=%r test=%r" % (ref.question,
                                                          test.question))
    # RFC 6891: OPT present iff the query had one (also on errors), version
    # 0, and RFC 3225: DO copied from the query (also on BADVERS).
    if ref.opt != test.opt:
        probs.append("OPT (version, DO): ref=%s test=%s" % (ref.opt, test.opt))

    rc, tc = ref.owner_case("answer"), test.owner_case("answer")
    if (not probs and rc != tc and q.kind != "any"
            and [n.lower() for n in rc] == [n.lower() for n in tc]):
        # Names compare case-insensitively; Knot writes the answer owner
        # names as a pointer to the question (query's case).  Noted only.
        notes.append("answer owner names not in the query's case (noted)")

    sections = ["answer", "authority", "additional"]
    if "TC" in ref.flags and "TC" in test.flags:
        # RFC 2181 9 / RFC 1035: with TC set the sections may hold any
        # prefix of complete RRsets; Knot and NSD send them empty.  Only the
        # header (rcode, flags), question and OPT are mandated.
        sections = []
    if q.kind == "any":
        # RFC 8482: the answer to ANY may be every RRset or any non-empty
        # subset of them (Knot and NSD each return a single, different,
        # RRset, over UDP and TCP).  Require each RR returned to be a real
        # RR of the node with its TTL, complete RRsets, and non-empty if the
        # name has data.  Additional depends on the RRsets picked, so it is
        # not compared; authority is.
        sections = [s for s in sections if s == "authority"]
        if "TC" not in test.flags and ref.rcode == test.rcode:
            probs += check_any(q, ref, test, zones)
    positive = (not ref.error and ref.rcode == dns.rcode.NOERROR
                and "AA" in ref.flags and ref.sections["answer"]
                and not any(k[3] == dns.rdatatype.SOA
                            for k in ref.sections["authority"]))
    referral = is_referral(ref, zones)
    for sec in sections:
        a, b = ref.sections[sec], test.sections[sec]
        if set(a) == set(b):
            continue
        if sec == "authority" and positive and q.kind != "any":
            # Knot sends no authority on positive answers; NSD (default
            # minimal-responses: no), BIND and others add the zone's apex NS
            # RRset.  RFC 1034 4.3.2 makes it optional.  Accept exactly
            # the reference plus one complete apex NS RRset.
            extra = set(b) - set(a)
            if set(a) <= set(b) and extra in apex_ns_keys(zones):
                notes.append("authority: apex NS RRset added (permitted)")
                continue
        if sec == "additional" and not referral:
            # Additional data for MX/SRV/NS targets is optional (RFC 1035
            # 4.1, RFC 2782): Knot adds A/AAAA of in-zone targets, NSD with
            # minimal-responses adds them only for NS.  For non-referrals
            # accept any subset of complete RRsets of: Knot's additional
            # plus the addresses of NS targets in the test's authority.
            # Referral glue (below) is mandatory (RFC 9471) and compared
            # exactly; Knot and NSD agree on it, sibling glue included.
            ns_targets = [dns.name.from_text(t.split()[-1])
                          for k, t in test.sections["authority"].items()
                          if k[3] == dns.rdatatype.NS]
            allowed = set(a) | address_keys(zones, ns_targets)
            bad = set(b) - allowed
            inc = incomplete_rrsets(set(b), zones)
            if not bad and not inc:
                notes.append("additional: differs from Knot (permitted)")
                continue
            probs.append("additional has RRs not allowed here or split "
                         "RRsets %s (- ref only, + test only):" % (
                             ["%s/%s" % (o, dns.rdatatype.to_text(t))
                              for o, t in inc]))
            probs += diff_sets(a, b)
            continue
        probs.append("%s differs (- ref only, + test only):" % sec)
        probs += diff_sets(a, b)
    return probs, notes


def outcome(raw):
    """(summary, problems) of a reply to a special query, from raw bytes."""
    if not isinstance(raw, bytes):
        return "no reply", None
    if len(raw) < 12:
        return "short reply (%d bytes)" % len(raw), None
    return dns.rcode.to_text(raw[3] & 0x0F), raw


def compare_special(q, ref, test):
    rsum, rraw = outcome(ref.raw)
    tsum, traw = outcome(test.raw)
    probs = []
    if tsum != rsum and tsum not in q.allowed:
        probs.append("outcome: ref=%s test=%s (also accepted: %s)" % (
            rsum, tsum, ", ".join(q.allowed) or "nothing else"))
    if traw is not None:
        qop = (q.wire[2] >> 3) & 0x0F
        if not traw[2] & 0x80:
            probs.append("reply without QR")
        if (traw[2] >> 3) & 0x0F != qop:
            probs.append("opcode not echoed: query %d reply %d" % (
                qop, (traw[2] >> 3) & 0x0F))
        if traw[:2] != q.wire[:2]:
            probs.append("message ID not echoed")
        an = struct.unpack("!H", traw[6:8])[0]
        if tsum != "NOERROR" and an:
            probs.append("error reply carries %d answer RRs" % an)
    return probs


def crosses_zone(q, ref, zones):
    """True if the reference answer's CNAME/DNAME chain leaves the qname's
    zone for another zone served here (see cross-zone rule in main)."""
    if ref.error:
        return False
    qn = dns.name.from_text(q.qname)
    origin = next((o for o in zones if qn.is_subdomain(o)), None)
    if origin is None:
        return False
    for k, t in ref.sections["answer"].items():
        if k[3] == dns.rdatatype.CNAME:
            target = dns.name.from_text(t.split()[-1])
            if not target.is_subdomain(origin) and any(
                    target.is_subdomain(o) for o in zones):
                return True
    return False


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vpcdnsd", help="path of the vpcdnsd binary")
    ap.add_argument("--self-check", action="store_true",
                    help="compare NSD against Knot (harness check)")
    ap.add_argument("--no-nsd", action="store_true", help="do not start NSD")
    ap.add_argument("--show-nsd", action="store_true",
                    help="list Knot/NSD disagreements too")
    ap.add_argument("--show-permitted", action="store_true",
                    help="list every query with an RFC-permitted difference")
    ap.add_argument("--dump", action="store_true",
                    help="print every query with Knot's reply")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--filter", help="only queries whose text contains this")
    args = ap.parse_args()
    if not args.vpcdnsd and not args.self_check:
        ap.error("--vpcdnsd PATH is required (or --self-check)")
    use_nsd = (not args.no_nsd) and shutil.which("nsd") is not None
    if args.self_check and not use_nsd:
        ap.error("--self-check needs nsd")

    if shutil.which("knotd") is None:
        print("knotd not found (apt-get install knot)")
        print("0 passed, 1 failed")
        return 1

    def on_term(signum, frame):
        raise SystemExit("terminated by signal %d" % signum)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    tmp = tempfile.mkdtemp(prefix="vpcdns-diff-")
    servers = []
    failed_setup = False
    try:
        paths = write_zones(tmp)
        zones = {}
        for z, p in paths.items():
            origin = dns.name.from_text(z)
            zones[origin] = dns.zone.from_file(p, origin=origin,
                                               relativize=False,
                                               check_origin=True)
        used = set()
        knot = knot_server(tmp, free_port(used))
        servers.append(knot)
        nsd = nsd_server(tmp, free_port(used)) if use_nsd else None
        if nsd:
            servers.append(nsd)
        vpc = None
        if args.vpcdnsd:
            binary = os.path.abspath(args.vpcdnsd)
            if not os.access(binary, os.X_OK):
                print("vpcdnsd binary not found or not executable: %s" % binary)
                print("0 passed, 1 failed")
                return 1
            vpc = vpc_server(tmp, free_port(used), binary, paths)
            servers.append(vpc)
        for s in servers:
            s.start()
        for s in servers:
            err = s.wait_loaded(list(ZONES))
            if err:
                if s is nsd:
                    print("note: NSD did not start (%s); continuing without it"
                          % err)
                    print(s.log_tail())
                    s.stop()
                    nsd = None
                    continue
                print("%s failed to start: %s" % (s.name, err))
                print(s.log_tail())
                failed_setup = True
        if failed_setup:
            print("0 passed, 1 failed")
            return 1
        test = vpc if vpc else nsd

        rng = random.Random(args.seed)
        queries = generate(rng)
        if args.filter:
            queries = [q for q in queries if args.filter.lower() in
                       (q.qname + " " + q.qtype).lower()]
        for q in queries:
            q.build(rng.randrange(1, 65536))

        passed = failed = 0
        nsd_diffs = []
        permitted = {}
        classes = {}
        start = time.monotonic()
        for i, q in enumerate(queries):
            if time.monotonic() - start > TIME_BUDGET:
                left = len(queries) - i
                print("FAIL time budget of %.0fs exceeded; %d queries not run"
                      % (TIME_BUDGET, left))
                failed += left
                break
            ex = tcp_exchange if q.tcp else udp_exchange
            tmo = TCP_TIMEOUT if q.tcp else UDP_TIMEOUT
            if q.kind == "special":
                tmo = SPECIAL_TIMEOUT       # "no reply" is often expected
            ref = Resp(ex(knot.port, q.wire, tmo))
            nres = None
            if nsd and test is not nsd:
                nres = Resp(ex(nsd.port, q.wire, tmo))
            if not test.alive():
                res = Resp("%s is not running (exit status %s)" % (
                    test.name, test.proc.returncode))
            else:
                res = Resp(ex(test.port, q.wire, tmo))
            if q.kind == "special":
                probs, notes = compare_special(q, ref, res), []
            else:
                probs, notes = compare(q, ref, res, zones)
            if probs and test is nsd and crosses_zone(q, ref, zones):
                # --self-check: NSD is itself the alternative reference.
                probs, notes = [], ["cross-zone CNAME chased like NSD"]
            if probs and nres is not None and crosses_zone(q, ref, zones):
                # CNAME into another zone served here: Knot stops at the
                # zone boundary, NSD chases into the other zone (and then
                # rcode/authority are those of the final name).  RFC 1034
                # 4.3.2 step 3a allows the chase, and stopping is what
                # RFC 6604 / every resolver copes with, so either reference
                # is accepted.
                alt, alt_notes = compare(q, nres, res, zones)
                if not alt:
                    probs = []
                    notes = alt_notes + ["cross-zone CNAME chased like NSD"]
            if args.dump:
                print("QUERY %s\n%s" % (q.desc, ref.dump()))
            for n in notes:
                permitted.setdefault(n, []).append(q.desc)
            if probs:
                failed += 1
                for p in probs:
                    if not p.startswith("      "):
                        key = p.split(" (")[0].split(":")[0]
                        classes.setdefault(key, []).append(q.desc)
                print("FAIL %s" % q.desc)
                for p in probs:
                    print("    " + p)
                print("    knot:")
                print(ref.dump())
                print("    %s:" % test.name)
                print(res.dump())
            else:
                passed += 1
            if nres is not None:
                if q.kind == "special":
                    nprobs = compare_special(q, ref, nres)
                else:
                    nprobs, _ = compare(q, ref, nres, zones)
                if nprobs and not crosses_zone(q, ref, zones):
                    nsd_diffs.append((q, ref, nres, nprobs))
        # TCP framing: pipelined queries on one connection, and a length
        # prefix split over two segments.  Each is compared per message.
        pipes = [("pipelined x3", [0, 1, 2], False),
                 ("pipelined x12", list(range(3, 15)), False),
                 ("length prefix split", [15], True),
                 ("split + pipelined x4", [16, 17, 18, 19], True)]
        prng = random.Random(args.seed + 1)
        pool = [q for q in queries if q.kind == "normal" and not q.raw]
        for label, idxs, split in pipes:
            if time.monotonic() - start > TIME_BUDGET:
                break
            subs = [pool[prng.randrange(len(pool))] for _ in idxs]
            wires = []
            for i, sq in enumerate(subs):
                sq2 = Query(sq.qname, sq.qtype, rd=sq.rd, cd=sq.cd, ad=sq.ad,
                            edns=sq.edns, do=sq.do, payload=sq.payload,
                            tcp=True, kind=sq.kind)
                sq2.build(60000 + 100 * len(idxs) + i)
                subs[i] = sq2
                wires.append(sq2.wire)
            rr = tcp_multi(knot.port, wires, TCP_TIMEOUT, split)
            tr = (tcp_multi(test.port, wires, TCP_TIMEOUT, split)
                  if test.alive() else "not running")
            probs = []
            if isinstance(tr, str) or isinstance(rr, str):
                if rr != tr:
                    probs.append("ref=%s test=%s" % (
                        rr if isinstance(rr, str) else "ok",
                        tr if isinstance(tr, str) else "ok"))
            else:
                for sq in subs:
                    qid = struct.unpack("!H", sq.wire[:2])[0]
                    a = Resp(rr.get(qid, "no reply"))
                    b = Resp(tr.get(qid, "no reply"))
                    p_, _ = compare(sq, a, b, zones)
                    probs += ["%s: %s" % (sq.desc, x) for x in p_]
            desc = "TCP %s: %s" % (label, ", ".join(
                "%s %s" % (sq.qname, sq.qtype) for sq in subs))
            if probs:
                failed += 1
                for x in probs:
                    key = x.split(": ", 1)[1].split(" (")[0].split(":")[0]
                    classes.setdefault(key + " (TCP %s)" % label,
                                       []).append(desc)
                print("FAIL %s" % desc)
                for x in probs:
                    print("    " + x)
            else:
                passed += 1

        if classes:
            print("summary of mismatches by kind (query count, first query):")
            for k, descs in sorted(classes.items(), key=lambda kv: -len(kv[1])):
                print("    %4d x %s, e.g. %s" % (len(descs), k, descs[0]))
        if permitted:
            print("note: RFC-permitted differences from Knot (not failures):")
            for n, descs in sorted(permitted.items()):
                print("    %4d x %s%s" % (len(descs), n, "" if
                                       args.show_permitted else
                                       ", e.g. " + descs[0]))
                if args.show_permitted:
                    for d in descs:
                        print("           " + d)
        if nsd and test is not nsd:
            print("note: Knot and NSD disagree on %d of %d queries "
                  "(cross-zone CNAMEs not counted)%s" % (
                      len(nsd_diffs), len(queries),
                      "" if args.show_nsd or not nsd_diffs else
                      " (--show-nsd lists them)"))
            if args.show_nsd:
                for q, ref, nres, nprobs in nsd_diffs:
                    print("NSD-DIFF %s" % q.desc)
                    for p in nprobs:
                        print("    " + p)
        for s in servers:
            if s.proc is not None and not s.alive() and s is not nsd:
                print("FAIL %s exited during the test (status %s)" % (
                    s.name, s.proc.returncode))
                print(s.log_tail())
                failed += 1
        print("%d passed, %d failed" % (passed, failed))
        return 1 if failed else 0
    finally:
        for s in servers:
            s.stop()
        if args.keep:
            print("temp dir kept: %s" % tmp, file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
