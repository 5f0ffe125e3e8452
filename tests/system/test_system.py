#!/usr/bin/python3
"""System tests for vpcdnsd.

Run:  /usr/bin/python3 tests/system/test_system.py --vpcdnsd bin/vpcdnsd [-k SUBSTRING] [-v] [--keep]

The runner is self-contained (no pytest): it writes its own zone files and INI
configs into a temporary directory, picks free loopback ports, starts vpcdnsd
in the foreground with `vpcdnsd -c FILE` (stderr captured to a file in the temp
dir), waits until it answers, runs the tests, then stops it with SIGTERM and
checks that it exits 0 promptly.  Clients are dig (bind9-dnsutils), kdig
(knot-dnsutils) and dnspython.

Every test prints `ok NAME` or `FAIL NAME: reason`; the last line is
`N passed, M failed`; the exit status is 1 if anything failed.

Daemon instances (each one is started only if one of its tests is selected):
  main    the zones most tests query (sys.test, neg.test, secret.test and two
          synthesize_ptr reverse zones), on 127.0.0.1 and [::1]
  syntax  master-file syntax variants (own instance: a parser gap fails only these)
  aux     chaos = yes, workers = 1, tcp_idle_timeout = 2, tcp_max_connections = 4,
          default allow
  priv    user = nobody, workers = 0 (privilege drop)
  reload  zones and config rewritten and reloaded with SIGHUP (started with a
          relative -c path)
  term    SIGTERM while under query load
  forward recursion = yes with [forward] upstreams played by fake loopback servers
          in this script; only when the binary knows the `recursion` key (newer than
          the original spec), otherwise skipped
Tests named config_* / zonecheck_* / zonesyntax_* only run `vpcdnsd -t` / `vpcdnsd -c`.
Each instance has a final `shutdown_<instance>` test (SIGTERM -> exit 0 within 5 s, no
sanitizer report, no crash during its tests).

The original spec makes vpcdnsd authoritative only (names under no zone: REFUSED, RA=0).
A vpcdnsd that knows `recursion` (default yes: forward such names) gets `recursion = no`
in every instance config except forward's, so those expectations still apply.

When run as root the suite re-executes itself inside a private network namespace
(`unshare -n`, only lo up): traffic cannot leave the machine and ports cannot clash.
--no-netns disables that; without unshare permission it silently runs in place.

Options: -k SUBSTRING selects tests by name, -v prints timings, --keep keeps the temp
dir, --list lists the tests.  A daemon that dies during a test fails that test (and its
instance's shutdown_ test) and is restarted for the tests after it.

--external-main HOST:PORT runs the `main` tests against an already running
server (e.g. a reference Knot DNS serving the zone files written with --keep)
instead of starting vpcdnsd; used to validate the expectations themselves.
"""

import argparse
import atexit
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

try:
    import dns.edns
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.opcode
    import dns.query
    import dns.rcode
    import dns.rdataclass
    import dns.rdatatype
    import dns.rrset
except ImportError:  # pragma: no cover
    sys.stderr.write("dnspython is required: run with /usr/bin/python3 (python3-dnspython)\n")
    sys.exit(2)

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0

ARGS = None
TMP = None
HAVE_V6 = True
# Extra [server] lines for every generated instance config.  The brief's spec has vpcdnsd
# authoritative only; newer vpcdnsd has `recursion` (forwarding names outside the zones,
# default yes).  When the binary knows the key the suite sets `recursion = no`, the mode in
# which the spec's REFUSED / RA=0 expectations hold (see probe_extra_server_lines()).
EXTRA_SERVER = ""


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


# ---------------------------------------------------------------------------
# Environment helpers
# ---------------------------------------------------------------------------

def v6_available():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


def free_port(used=set()):
    """A port free for UDP and TCP on 127.0.0.1 (and ::1 when available)."""
    for _ in range(200):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port in used or port < 1024:
            continue
        ok = True
        fams = [(socket.AF_INET, "127.0.0.1")]
        if HAVE_V6:
            fams.append((socket.AF_INET6, "::1"))
        for fam, addr in fams:
            for typ in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                t = socket.socket(fam, typ)
                try:
                    t.bind((addr, port))
                except OSError:
                    ok = False
                finally:
                    t.close()
        if ok:
            used.add(port)
            return port
    raise RuntimeError("no free port found")


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def with_extra(ini_text):
    return ini_text.replace("[server]\n", "[server]\n" + EXTRA_SERVER, 1)


def probe_extra_server_lines():
    global EXTRA_SERVER
    d = os.path.join(TMP, "probe")
    write(os.path.join(d, "ok.test.zone"), GOOD_SMALL_ZONE)
    ini = os.path.join(d, "probe.ini")
    write(ini, "[server]\nlisten = 127.0.0.1:53539\nrecursion = no\n\n[zone:ok.test]\nfile = ok.test.zone\n")
    p = subprocess.run([ARGS.vpcdnsd, "-t", "-c", ini], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, timeout=10)
    if p.returncode == 0:
        EXTRA_SERVER = "recursion = no\n"
        print("# this vpcdnsd knows `recursion`: instances run with recursion = no")


def line_of(text, marker):
    """1-based number of the first line of text containing marker."""
    for i, l in enumerate(text.split("\n"), 1):
        if marker in l:
            return i
    raise RuntimeError("marker %r not in text" % marker)


# ---------------------------------------------------------------------------
# Daemon control
# ---------------------------------------------------------------------------

STARTED = []   # every Daemon started, for the atexit safety net


def _cleanup_daemons():
    for d in STARTED:
        d.kill()


class Daemon:
    def __init__(self, name, ini, port, probe_name, external=None, relative=False):
        self.name = name
        self.ini = ini
        self.port = port
        self.addr = "127.0.0.1"
        self.probe_name = probe_name
        self.logpath = os.path.join(TMP, "%s.stderr.log" % name)
        self.proc = None
        self.external = external
        self.start_error = None
        self.leftovers = []   # sockets a test leaves open until after shutdown
        self.relative = relative  # start as `cd DIR; vpcdnsd -c NAME.ini`
        self.fd_baseline = None
        self.stopped = False   # a test stopped it on purpose

    def start(self):
        if self.external:
            self.addr, self.port = self.external
            return self._wait_ready(None)
        self.logf = open(self.logpath, "ab")   # appended to when restarted after a crash
        # cwd = / so that relative paths can only work relative to the INI file; the reload
        # instance is started with a relative -c path instead (SIGHUP must still find it).
        if self.relative:
            cmd, cwd = [ARGS.vpcdnsd, "-c", os.path.basename(self.ini)], os.path.dirname(self.ini)
        else:
            cmd, cwd = [ARGS.vpcdnsd, "-c", self.ini], "/"
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf,
                                     cwd=cwd, start_new_session=True)
        STARTED.append(self)
        ok = self._wait_ready(self.proc)
        time.sleep(0.2)
        self.fd_baseline = self.fd_count()
        return ok

    def _wait_ready(self, proc):
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if proc is not None and proc.poll() is not None:
                self.start_error = "vpcdnsd exited with status %s during startup" % proc.returncode
                return False
            try:
                q = dns.message.make_query(self.probe_name, "SOA", use_edns=0)
                dns.query.udp(q, self.addr, port=self.port, timeout=0.3)
                return True
            except Exception:
                time.sleep(0.1)
        self.start_error = "no answer to %s SOA within %.0fs" % (self.probe_name, START_TIMEOUT)
        return False

    def fd_count(self):
        try:
            return len(os.listdir("/proc/%d/fd" % self.proc.pid))
        except (OSError, AttributeError):
            return None

    def alive(self):
        return self.proc is None or self.proc.poll() is None

    def pid(self):
        return self.proc.pid

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_size(self):
        try:
            return os.path.getsize(self.logpath)
        except OSError:
            return 0

    def log_since(self, offset):
        try:
            with open(self.logpath, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        """SIGTERM; returns (exit status or None, seconds taken)."""
        if self.proc is None:
            return 0, 0.0
        if self.proc.poll() is not None:
            return self.proc.returncode, 0.0
        self.stopped = True
        t0 = time.time()
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            rc = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            rc = None
        return rc, time.time() - t0

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass


# ---------------------------------------------------------------------------
# DNS client helpers
# ---------------------------------------------------------------------------

class Ctx:
    """What a test gets: the daemon it talks to plus helpers."""

    def __init__(self, daemon):
        self.d = daemon

    @property
    def port(self):
        return self.d.port

    @property
    def addr(self):
        return self.d.addr

    # dnspython -------------------------------------------------------------
    def q(self, name, rdtype="A", proto="udp", addr=None, source=None, edns=0, payload=1232,
          rdclass="IN", want_dnssec=False, options=None, timeout=3.0, flags=None):
        m = dns.message.make_query(name, rdtype, rdclass, use_edns=False)
        if edns is not None and edns is not False and edns >= 0:
            m.use_edns(edns, ednsflags=dns.flags.DO if want_dnssec else 0, payload=payload,
                       options=options)
        if flags is not None:
            m.flags = flags
        addr = addr or self.addr
        if proto == "udp":
            return dns.query.udp(m, addr, port=self.port, timeout=timeout, source=source,
                                 ignore_unexpected=True)
        return dns.query.tcp(m, addr, port=self.port, timeout=timeout, source=source)

    def raw_udp(self, wire, timeout=1.0, source=None, addr=None):
        """Send raw bytes, return the reply bytes or None when nothing arrives."""
        addr = addr or self.addr
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM)
        try:
            if source:
                s.bind((source, 0))
            s.settimeout(timeout)
            s.sendto(wire, (addr, self.port))
            try:
                data, _ = s.recvfrom(65535)
                return data
            except socket.timeout:
                return None
        finally:
            s.close()

    def tcp_connect(self, timeout=3.0, addr=None):
        addr = addr or self.addr
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect((addr, self.port))
        return s

    # dig / kdig -------------------------------------------------------------
    def dig(self, *args, tool="dig", addr=None, timeout=15):
        addr = addr or self.addr
        if tool == "dig":
            cmd = ["dig", "-p", str(self.port), "@" + addr, "+time=2", "+tries=1"] + list(args)
        else:
            cmd = ["kdig", "-p", str(self.port), "@" + addr, "+time=2", "+retry=0"] + list(args)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        out = p.stdout.decode("utf-8", "replace")
        res = parse_dig(out)
        res["cmd"] = " ".join(cmd)
        res["rc"] = p.returncode
        check(res["status"] is not None,
              "%s: no DNS answer parsed (exit %d):\n%s" % (" ".join(cmd), p.returncode, out))
        return res

    def kdig(self, *args, **kw):
        return self.dig(*args, tool="kdig", **kw)


def parse_dig(out):
    """Parse dig or kdig presentation output."""
    res = {"status": None, "flags": set(), "answer": [], "authority": [], "additional": [],
           "question": [], "raw": out}
    m = re.search(r"status: (\w+)", out)
    if m:
        res["status"] = m.group(1)
    m = re.search(r"[Ff]lags: ([a-z ]*);", out)
    if m:
        res["flags"] = set(m.group(1).split())
    sect = None
    for line in out.split("\n"):
        ms = re.match(r";; (\w+) SECTION:", line)
        if ms:
            sect = ms.group(1).lower()
            continue
        if not line.strip():
            sect = None
            continue
        if sect in ("answer", "authority", "additional") and not line.startswith(";"):
            f = line.split(None, 4)
            if len(f) >= 4:
                res[sect].append({"name": f[0].lower(), "ttl": int(f[1]), "class": f[2],
                                  "type": f[3], "rdata": f[4] if len(f) > 4 else ""})
    return res


def dig_summary(r):
    return "status=%s flags=%s\n%s" % (r["status"], " ".join(sorted(r["flags"])), r["raw"])


def rr_types(section):
    return sorted(set(r["type"] for r in section))


def rrs(msg, section, rdtype=None, name=None):
    """Flatten a dnspython section into (name, type, ttl, rdata text) tuples."""
    out = []
    for rrset in getattr(msg, section):
        if rdtype is not None and rrset.rdtype != dns.rdatatype.from_text(rdtype):
            continue
        if name is not None and rrset.name != dns.name.from_text(name):
            continue
        for rd in rrset:
            out.append((rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype),
                        rrset.ttl, rd.to_text()))
    return out


def describe(msg):
    return "\n" + msg.to_text()


def hdr(qid=0x1234, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def qwire(name, rdtype=1, rdclass=1):
    return dns.name.from_text(name).to_wire() + struct.pack("!HH", rdtype, rdclass)


def opt_rr(payload=1232, ext_rcode=0, version=0, flags=0, rdata=b""):
    return b"\x00" + struct.pack("!HHBBHH", 41, payload, ext_rcode, version, flags, len(rdata)) + rdata


def reply_rcode(wire):
    """rcode (4 low bits) of a raw reply."""
    return struct.unpack("!H", wire[2:4])[0] & 0xF


def frame(wire):
    return struct.pack("!H", len(wire)) + wire


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def recv_msg(s):
    ln = struct.unpack("!H", recv_exact(s, 2))[0]
    return recv_exact(s, ln)


def wait_closed(s, timeout):
    """True when the peer closes (EOF or reset) within timeout; data read is discarded."""
    deadline = time.time() + timeout
    while True:
        left = deadline - time.time()
        if left <= 0:
            return False
        s.settimeout(left)
        try:
            d = s.recv(4096)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        if not d:
            return True


# ---------------------------------------------------------------------------
# Test registry
# ---------------------------------------------------------------------------

TESTS = []
GROUP_ORDER = ["static", "main", "syntax", "aux", "priv", "reload", "term", "forward"]


def test(group):
    def deco(f):
        TESTS.append((f.__name__[len("test_"):], group, f))
        return f
    return deco


# ---------------------------------------------------------------------------
# Fixtures: zone files and configs
# ---------------------------------------------------------------------------

Z = "sys.test."
MAIN_ZONES = ["sys.test", "neg.test", "secret.test", "10.in-addr.arpa", "d.f.ip6.arpa"]

# DNAME target long enough that <80 octets of prefix> + target exceeds 255 octets.
LONG_TARGET = "%s.%s.%s.sys.test." % ("a" * 63, "b" * 63, "c" * 40)


def sys_zone_text():
    lines = """; sys.test: main system test zone
$ORIGIN sys.test.
$TTL 300
@ 3600 IN SOA ns1 hostmaster ( 2024010101 ; serial
        3600       ; refresh
        600        ; retry
        1209600    ; expire
        60 )       ; minimum: negative TTL = min(3600, 60) = 60
   IN NS ns1
   IN NS ns2.sys.test.
   IN MX 10 mail
   IN TXT "apex"
ns1 IN A 10.20.0.1
    IN AAAA fd00:20::1
ns2 A 10.20.0.2
mail IN A 10.20.0.25
mail IN AAAA fd00:20::25
host 300 IN A 10.20.1.1
host IN AAAA fd00:20::1:1
host TXT "host text" "second string"
host MX 5 mail
multi A 10.20.1.2
alias2 A 10.20.1.2
UPPER A 10.20.8.1
\\200bin A 10.20.8.2
www CNAME host
app CNAME www
c1 CNAME c2
c2 CNAME c3
c3 CNAME c4
c4 CNAME c5
c5 CNAME host
ext CNAME target.example.com.
dangling CNAME nowhere
loop1 CNAME loop2
loop2 CNAME loop1
self CNAME self
_sip._tcp SRV 10 60 5060 host
_ext._tcp SRV 10 60 5060 srv.example.com.
*.wild A 10.20.2.1
*.wild TXT "wildcard"
explicit.wild A 10.20.2.2
sub.ent2.wild A 10.20.2.3
*.cn CNAME host
b.a.ent A 10.20.3.1
deleg NS ns.deleg
deleg NS ns.elsewhere.example.
ns.deleg A 10.20.4.53
ns.deleg AAAA fd00:20::4:53
todeleg CNAME www.deleg
tosecret CNAME db.secret.test.
toneg CNAME ns.neg.test.
mxsecret MX 10 db.secret.test.
old DNAME new
host.new A 10.20.5.1
alias.new CNAME host
todname CNAME host.old
extd DNAME example.org.
long DNAME %(long)s
unk TYPE65280 \\# 4 0A0B0C0D
unk TYPE65281 \\# 0
ttl60 60 A 10.20.7.1
$INCLUDE inc/sys-inc.zone
$INCLUDE inc/sub-inc.zone inc2.sys.test.
afterinc A 10.20.6.3
$TTL 120
ttl120 A 10.20.7.2
""" % {"long": LONG_TARGET}
    mxmany = "".join("mxmany MX %d mx%02d\nmx%02d A 10.20.102.%d\nmx%02d AAAA fd00:20::102:%d\n"
                     % (i, i, i, i, i, i) for i in range(1, 21))
    big = "".join("big A 10.20.100.%d\n" % i for i in range(1, 101))
    mid = "".join("mid A 10.20.101.%d\n" % i for i in range(1, 41))
    mid += "bigcname CNAME big\n"
    bigtxt = "".join('bigtxt TXT "txt record number %02d padding-padding"\n' % i for i in range(60))
    return lines + mxmany + big + mid + bigtxt


NEG_ZONE = """; neg.test: no $ORIGIN (defaults to the zone name); SOA TTL 30 < MINIMUM 600
$TTL 300
@ 30 IN SOA ns hostmaster 7 3600 600 86400 600
@ IN NS ns
ns IN A 10.40.0.1
"""

SECRET_ZONE = """$ORIGIN secret.test.
$TTL 300
@ IN SOA ns1.sys.test. hostmaster.sys.test. 1 3600 600 86400 60
@ IN NS ns1.sys.test.
db IN A 10.30.0.1
"""

SYS_INC = """; included from sys.test.zone (origin sys.test.)
inc A 10.20.6.1
"""

SUB_INC = """; included with origin inc2.sys.test.
@ A 10.20.6.2
deeper A 10.20.6.4
"""


def write_main(tmp, port):
    write(os.path.join(tmp, "sys.test.zone"), sys_zone_text())
    write(os.path.join(tmp, "inc", "sys-inc.zone"), SYS_INC)
    write(os.path.join(tmp, "inc", "sub-inc.zone"), SUB_INC)
    write(os.path.join(tmp, "zones", "neg.test.zone"), NEG_ZONE)
    write(os.path.join(tmp, "secret.test.zone"), SECRET_ZONE)
    listen = "127.0.0.1:%d" % port + (", [::1]:%d" % port if HAVE_V6 else "")
    ini = """; main test instance
[server]
listen = %s
workers = 2
user =
edns_udp_size = 1232
tcp_idle_timeout = 10
tcp_max_connections = 64
allow = 127.0.0.1/32, 127.0.0.2/32, ::1/128   ; 127.0.0.3 is not allowed
chaos = no

[zone:sys.test]
file = sys.test.zone

[zone:neg.test]
file = zones/neg.test.zone

[zone:secret.test]
file = secret.test.zone
allow = 127.0.0.1/32

[zone:10.in-addr.arpa]
synthesize_ptr = yes

[zone:d.f.ip6.arpa]
synthesize_ptr = yes
""" % listen
    path = os.path.join(tmp, "main.ini")
    write(path, with_extra(ini))
    return path


SYN_ZONE = r"""; syn.test: master file syntax beyond the basics (RFC 1035 5.1, RFC 3597)
$ORIGIN syn.test.
$TTL 3600
@ IN SOA ns hostmaster ( 1 3600 600 86400 60 )
@ IN NS ns
ns IN A 10.100.0.1
tbc 300 IN AAAA fd00:100::2          ; TTL before class
units 5400 IN A 10.100.0.3
unk2 A \# 4 0A141E28                 ; known type, generic rdata
unk3 TYPE1 10.100.0.4                ; known type by number
esc TXT "semi;colon" "quote\"d" "back\\slash" "\065\066C"
multiline TXT ( "first"              ; comment inside parentheses
                "second" )
spaced    IN    A    10.100.0.5
name\.with\.dots A 10.100.0.6
MiXeD.CaSe A 10.100.0.7
fq.syn.test. A 10.100.0.8
"""


def write_syntax(tmp, port):
    d = os.path.join(tmp, "syntax")
    write(os.path.join(d, "syn.test.zone"), SYN_ZONE)
    ini = """[server]
listen = 127.0.0.1:%d
workers = 1

[zone:syn.test]
file = syn.test.zone
""" % port
    path = os.path.join(d, "syntax.ini")
    write(path, with_extra(ini))
    return path


AUX_ZONE = """$ORIGIN aux.test.
$TTL 300
@ IN SOA ns hostmaster 1 3600 600 86400 60
@ IN NS ns
ns IN A 10.50.0.1
"""


def write_aux(tmp, port):
    d = os.path.join(tmp, "aux")
    write(os.path.join(d, "aux.test.zone"), AUX_ZONE)
    listen = "127.0.0.1:%d" % port + (", [::1]:%d" % port if HAVE_V6 else "")
    ini = """[server]
listen = %s
workers = 1
edns_udp_size = 1232
tcp_idle_timeout = 2
tcp_max_connections = 4
chaos = yes
; no allow: default (loopback + RFC 1918 + fc00::/7)

[zone:aux.test]
file = aux.test.zone
""" % listen
    path = os.path.join(d, "aux.ini")
    write(path, with_extra(ini))
    return path


PRIV_ZONE = """$ORIGIN priv.test.
$TTL 300
@ IN SOA ns hostmaster 1 3600 600 86400 60
@ IN NS ns
ns IN A 10.60.0.1
"""


def write_priv(tmp, port):
    d = os.path.join(tmp, "priv")
    write(os.path.join(d, "priv.test.zone"), PRIV_ZONE)
    ini = """[server]
listen = 127.0.0.1:%d
workers = 0
user = nobody

[zone:priv.test]
file = priv.test.zone
""" % port
    path = os.path.join(d, "priv.ini")
    write(path, with_extra(ini))
    return path


def reload_zone(serial, extra=""):
    return """$ORIGIN reload.test.
$TTL 300
@ IN SOA ns hostmaster %d 3600 600 86400 60
@ IN NS ns
ns IN A 10.70.0.1
%s""" % (serial, extra)


ADDED_ZONE = """$ORIGIN added.test.
$TTL 300
@ IN SOA ns hostmaster 5 3600 600 86400 60
@ IN NS ns
ns IN A 10.71.0.1
"""


def reload_ini(port, with_added=False):
    s = """[server]
listen = 127.0.0.1:%d
workers = 2

[zone:reload.test]
file = reload.test.zone

[zone:70.10.in-addr.arpa]
synthesize_ptr = yes
""" % port
    if with_added:
        s += "\n[zone:added.test]\nfile = added.test.zone\n"
    return with_extra(s)


def write_reload(tmp, port):
    d = os.path.join(tmp, "reload")
    write(os.path.join(d, "reload.test.zone"), reload_zone(1))
    write(os.path.join(d, "added.test.zone"), ADDED_ZONE)
    path = os.path.join(d, "reload.ini")
    write(path, reload_ini(port))
    return path


# ===========================================================================
# static: vpcdnsd -t and refusal to start on bad input
# ===========================================================================

def run_vpcdnsd(args, timeout=10):
    p = subprocess.run([ARGS.vpcdnsd] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout, cwd="/")
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def check_sanitizer_text(text):
    for m in SANITIZER_MARKERS:
        check(m not in text, "sanitizer report in output:\n" + text[-3000:])


def static_dir(name):
    d = os.path.join(TMP, "static", name)
    os.makedirs(d, exist_ok=True)
    return d


GOOD_SMALL_ZONE = """$ORIGIN ok.test.
$TTL 300
@ IN SOA ns hostmaster 1 3600 600 86400 60
@ IN NS ns
ns IN A 10.80.0.1
"""


def expect_check_error(name, ini_text, files, want_file, want_line=None, alt_lines=()):
    """Write ini + files, run `-t` (must exit 1 naming file:line) and `-c` (must refuse to start)."""
    d = static_dir(name)
    for fn, txt in files.items():
        write(os.path.join(d, fn), txt)
    ini = os.path.join(d, "t.ini")
    write(ini, ini_text)
    rc, out, err = run_vpcdnsd(["-t", "-c", ini])
    check_sanitizer_text(out + err)
    check(rc == 1, "`vpcdnsd -t -c %s` exited %s, want 1; stderr:\n%s" % (ini, rc, err))
    if want_line is None:
        check(want_file in err, "stderr does not name %s:\n%s" % (want_file, err))
    else:
        lines = [want_line] + list(alt_lines)
        pats = ["%s:%d" % (want_file, l) for l in lines]
        check(any(p in err for p in pats), "stderr does not name %s:\n%s" % (" or ".join(pats), err))
    # Refuses to start without -t.
    p = subprocess.Popen([ARGS.vpcdnsd, "-c", ini], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, cwd="/", start_new_session=True)
    try:
        out2, err2 = p.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        p.communicate()
        raise TestFailure("`vpcdnsd -c %s` still running after 5s with a broken config" % ini)
    check_sanitizer_text((out2 + err2).decode("utf-8", "replace"))
    check(p.returncode != 0, "`vpcdnsd -c %s` exited 0 with a broken config" % ini)


def cfg(server_extra="", zones=None, port=None):
    port = port or 53530
    s = "[server]\nlisten = 127.0.0.1:%d\n%s\n" % (port, server_extra)
    for z in (zones if zones is not None else ["[zone:ok.test]\nfile = ok.test.zone\n"]):
        s += z + "\n"
    return s


@test("static")
def test_check_good_config(ctx):
    # The main config: -t exits 0 and prints a summary of zones, records and listeners.
    d = static_dir("good")
    port = 53531
    ini = write_main(d, port)
    rc, out, err = run_vpcdnsd(["-t", "-c", ini])
    check_sanitizer_text(out + err)
    check(rc == 0, "`vpcdnsd -t -c %s` exited %s; stderr:\n%s" % (ini, rc, err))
    check(out.strip(), "`-t` printed nothing on stdout")
    names_ok = all(z in out for z in MAIN_ZONES)
    count_ok = re.search(r"\b5\b", out) and "zone" in out.lower()
    check(names_ok or count_ok, "summary names neither the 5 zones nor their count:\n" + out)
    check(str(port) in out or "listen" in out.lower(), "summary does not mention the listeners:\n" + out)


@test("static")
def test_check_example_config(ctx):
    # The shipped example configuration must pass -t.
    ini = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "conf",
                                        "vpcdns.example.ini"))
    if not os.path.exists(ini):
        return
    rc, out, err = run_vpcdnsd(["-t", "-c", ini])
    check_sanitizer_text(out + err)
    check(rc == 0, "`vpcdnsd -t -c %s` exited %s; stderr:\n%s" % (ini, rc, err))


@test("static")
def test_check_does_not_need_free_port(ctx):
    # -t only checks: it must work even when the listen port is taken.
    d = static_dir("busy")
    write(os.path.join(d, "ok.test.zone"), GOOD_SMALL_ZONE)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    try:
        ini = os.path.join(d, "t.ini")
        write(ini, cfg(port=port))
        rc, out, err = run_vpcdnsd(["-t", "-c", ini])
        check(rc == 0, "-t exited %s while port busy; stderr:\n%s" % (rc, err))
    finally:
        s.close()


@test("static")
def test_config_missing_file(ctx):
    rc, out, err = run_vpcdnsd(["-t", "-c", os.path.join(TMP, "does-not-exist.ini")])
    check(rc == 1, "exit %s for a missing config file, want 1" % rc)
    check("does-not-exist.ini" in err, "stderr does not name the missing file:\n" + err)


@test("static")
def test_config_unknown_section(ctx):
    t = cfg() + "[bogus]\nkey = 1\n"
    expect_check_error("unknown_section", t, {"ok.test.zone": GOOD_SMALL_ZONE}, "t.ini",
                       line_of(t, "[bogus]"))


@test("static")
def test_config_unknown_key(ctx):
    t = cfg("colour = blue")
    expect_check_error("unknown_key", t, {"ok.test.zone": GOOD_SMALL_ZONE}, "t.ini",
                       line_of(t, "colour"))


@test("static")
def test_config_unknown_zone_key(ctx):
    t = cfg(zones=["[zone:ok.test]\nfile = ok.test.zone\nflavour = vanilla\n"])
    expect_check_error("unknown_zone_key", t, {"ok.test.zone": GOOD_SMALL_ZONE}, "t.ini",
                       line_of(t, "flavour"))


@test("static")
def test_config_bad_workers(ctx):
    t = cfg("workers = lots")
    expect_check_error("bad_workers", t, {"ok.test.zone": GOOD_SMALL_ZONE}, "t.ini",
                       line_of(t, "workers"))


@test("static")
def test_config_bad_listen_port(ctx):
    t = "[server]\nlisten = 127.0.0.1:70000\n\n[zone:ok.test]\nfile = ok.test.zone\n"
    expect_check_error("bad_listen", t, {"ok.test.zone": GOOD_SMALL_ZONE}, "t.ini", 2)


@test("static")
def test_config_bad_listen_addr(ctx):
    t = "[server]\nlisten = 127.0.0.1:5353, 300.1.2.3:5353\n\n[zone:ok.test]\nfile = ok.test.zone\n"
    expect_check_error("bad_listen_addr", t, {"ok.test.zone": GOOD_SMALL_ZONE}, "t.ini", 2)


@test("static")
def test_config_bad_allow(ctx):
    t = cfg("allow = 127.0.0.0/8, 10.0.0.0/33")
    expect_check_error("bad_allow", t, {"ok.test.zone": GOOD_SMALL_ZONE}, "t.ini",
                       line_of(t, "allow"))


@test("static")
def test_config_bad_zone_allow(ctx):
    t = cfg(zones=["[zone:ok.test]\nfile = ok.test.zone\nallow = 127.0.0.1/32, nonsense\n"])
    expect_check_error("bad_zone_allow", t, {"ok.test.zone": GOOD_SMALL_ZONE}, "t.ini",
                       line_of(t, "nonsense"))


@test("static")
def test_config_bad_bool(ctx):
    t = cfg("chaos = maybe")
    expect_check_error("bad_bool", t, {"ok.test.zone": GOOD_SMALL_ZONE}, "t.ini",
                       line_of(t, "chaos"))


@test("static")
def test_config_bad_edns_size(ctx):
    t = cfg("edns_udp_size = huge")
    expect_check_error("bad_edns", t, {"ok.test.zone": GOOD_SMALL_ZONE}, "t.ini",
                       line_of(t, "edns_udp_size"))


@test("static")
def test_config_duplicate_zone(ctx):
    t = cfg(zones=["[zone:ok.test]\nfile = ok.test.zone\n", "[zone:ok.test]\nfile = ok.test.zone\n"])
    second = [i for i, l in enumerate(t.split("\n"), 1) if l.startswith("[zone:ok.test]")][1]
    expect_check_error("dup_zone", t, {"ok.test.zone": GOOD_SMALL_ZONE}, "t.ini", second)


@test("static")
def test_config_key_before_section(ctx):
    t = "workers = 2\n" + cfg()
    expect_check_error("key_before_section", t, {"ok.test.zone": GOOD_SMALL_ZONE}, "t.ini", 1)


@test("static")
def test_config_line_without_equals(ctx):
    t = cfg("just some words")
    expect_check_error("no_equals", t, {"ok.test.zone": GOOD_SMALL_ZONE}, "t.ini",
                       line_of(t, "just some words"))


@test("static")
def test_config_bad_zone_name(ctx):
    t = cfg(zones=["[zone:bad..name]\nfile = ok.test.zone\n"])
    expect_check_error("bad_zone_name", t, {"ok.test.zone": GOOD_SMALL_ZONE}, "t.ini",
                       line_of(t, "bad..name"), alt_lines=[line_of(t, "bad..name") + 1])


@test("static")
def test_config_negative_timeout(ctx):
    t = cfg("tcp_idle_timeout = -1")
    expect_check_error("neg_timeout", t, {"ok.test.zone": GOOD_SMALL_ZONE}, "t.ini",
                       line_of(t, "tcp_idle_timeout"))


@test("static")
def test_config_unknown_user(ctx):
    # -t may accept it (the user may exist only where the daemon runs), but the daemon
    # must refuse to start as root and name the user.
    d = static_dir("unknown_user")
    write(os.path.join(d, "ok.test.zone"), GOOD_SMALL_ZONE)
    ini = os.path.join(d, "t.ini")
    write(ini, cfg("user = no-such-user-vpcdnsd", port=free_port()))
    if os.geteuid() != 0:
        return
    p = subprocess.Popen([ARGS.vpcdnsd, "-c", ini], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, cwd="/", start_new_session=True)
    try:
        out, err = p.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        p.communicate()
        raise TestFailure("still running as root after 5s with user = no-such-user-vpcdnsd")
    err = (out + err).decode("utf-8", "replace")
    check_sanitizer_text(err)
    check(p.returncode != 0, "exit 0 with an unknown user")
    check("no-such-user-vpcdnsd" in err, "error does not name the user:\n" + err)


@test("static")
def test_config_missing_zone_file(ctx):
    t = cfg(zones=["[zone:ok.test]\nfile = nothere.zone\n"])
    expect_check_error("missing_zone_file", t, {}, "nothere.zone")


def zone_error_case(name, zone_text, want_line=None, alt_lines=(), extra_files=None, want_file="z.zone"):
    files = {"z.zone": zone_text}
    files.update(extra_files or {})
    t = cfg(zones=["[zone:z.test]\nfile = z.zone\n"])
    expect_check_error(name, t, files, want_file, want_line, alt_lines)


ZHEAD = """$ORIGIN z.test.
$TTL 300
@ IN SOA ns hostmaster 1 3600 600 86400 60
@ IN NS ns
ns IN A 10.90.0.1
"""


@test("static")
def test_zonecheck_no_soa(ctx):
    zone_error_case("no_soa", "$ORIGIN z.test.\n$TTL 300\n@ IN NS ns\nns IN A 10.90.0.1\n")


@test("static")
def test_zonecheck_no_ns(ctx):
    zone_error_case("no_ns", "$ORIGIN z.test.\n$TTL 300\n@ IN SOA ns hm 1 3600 600 86400 60\n"
                    "ns IN A 10.90.0.1\n")


@test("static")
def test_zonecheck_out_of_zone(ctx):
    t = ZHEAD + "www A 10.90.0.2\nforeign.example. IN A 10.90.0.3\n"
    zone_error_case("out_of_zone", t, line_of(t, "foreign.example."))


@test("static")
def test_zonecheck_cname_and_other(ctx):
    t = ZHEAD + "x CNAME ns\nfiller A 10.90.0.9\nx A 10.90.0.4\n"
    zone_error_case("cname_other", t, line_of(t, "x A"), alt_lines=[line_of(t, "x CNAME")])


@test("static")
def test_zonecheck_bad_ipv4(ctx):
    t = ZHEAD + "ok2 A 10.90.0.5\nbad A 300.1.1.1\n"
    zone_error_case("bad_ipv4", t, line_of(t, "300.1.1.1"))


@test("static")
def test_zonecheck_unknown_type(ctx):
    t = ZHEAD + "bad IN FROBNICATE something\n"
    zone_error_case("unknown_type", t, line_of(t, "FROBNICATE"))


@test("static")
def test_zonecheck_bad_generic_rdata(ctx):
    # RFC 3597: \# length must match the hex data.
    t = ZHEAD + "bad TYPE65280 \\# 4 0A0B\n"
    zone_error_case("bad_generic", t, line_of(t, "TYPE65280"))


@test("static")
def test_zonecheck_error_in_include(ctx):
    inc = "; included\nok A 10.90.0.6\nbroken A not-an-address\n"
    t = ZHEAD + "$INCLUDE inc.zone\n"
    zone_error_case("include_err", t, line_of(inc, "broken"), extra_files={"inc.zone": inc},
                    want_file="inc.zone")


@test("static")
def test_zonecheck_missing_include(ctx):
    t = ZHEAD + "$INCLUDE missing-include.zone\n"
    zone_error_case("include_missing", t, want_file="missing-include.zone")


SYNTAX_LINES = {
    # name: one RR line (valid RFC 1035 / RFC 3597 syntax) appended to ZHEAD; -t must accept it.
    "class_before_ttl": "cbt IN 300 AAAA fd00:100::1",
    "ttl_before_class": "tbc 300 IN AAAA fd00:100::2",
    "generic_rdata_known_type": "unk2 A \\# 4 0A141E28",
    "type_by_number": "unk3 TYPE1 10.100.0.4",
    "generic_unknown_type": "unk TYPE65280 \\# 4 0A0B0C0D",
    "generic_empty": "unk TYPE65281 \\# 0",
    "txt_escapes": 'esc TXT "semi;colon" "quote\\"d" "back\\\\slash" "\\065\\066C"',
    "multiline_parens_comment": 'multi TXT ( "first" ; comment\n   "second" )',
    "escaped_dot_owner": "name\\.with\\.dots A 10.100.0.6",
    "tabs_and_spaces": "spaced \t IN \t A \t 10.100.0.5",
    "dollar_ttl_midfile": "$TTL 120\nlate A 10.100.0.9",
}


def syntax_case(line):
    d = static_dir("syntax_" + re.sub(r"\W", "_", line)[:40])
    write(os.path.join(d, "z.zone"), ZHEAD + line + "\n")
    ini = os.path.join(d, "t.ini")
    write(ini, cfg(zones=["[zone:z.test]\nfile = z.zone\n"]))
    rc, out, err = run_vpcdnsd(["-t", "-c", ini])
    check_sanitizer_text(out + err)
    check(rc == 0, "`-t` rejects valid zone line %r (exit %s):\n%s" % (line, rc, err))


def _make_syntax_test(key, line):
    def f(ctx):
        syntax_case(line)
    f.__name__ = "test_zonesyntax_" + key
    return f


for _k, _l in SYNTAX_LINES.items():
    test("static")(_make_syntax_test(_k, _l))


@test("static")
def test_zonecheck_include_loop(ctx):
    # A file that includes itself must fail (depth limit), not hang or crash.
    t = ZHEAD + "$INCLUDE z.zone\n"
    zone_error_case("include_loop", t, want_file="z.zone")


@test("static")
def test_zonecheck_label_too_long(ctx):
    t = ZHEAD + "%s A 10.90.0.7\n" % ("l" * 64)
    zone_error_case("label_too_long", t, line_of(t, "l" * 64))


@test("static")
def test_zonecheck_name_too_long(ctx):
    t = ZHEAD + "%s A 10.90.0.7\n" % ".".join(["n" * 60] * 5)
    zone_error_case("name_too_long", t, line_of(t, "n" * 60))


@test("static")
def test_zonecheck_txt_string_too_long(ctx):
    t = ZHEAD + 'long TXT "%s"\n' % ("t" * 256)
    zone_error_case("txt_too_long", t, line_of(t, "long TXT"))


@test("static")
def test_zonecheck_cname_at_apex(ctx):
    t = ZHEAD + "@ CNAME elsewhere.example.\n"
    zone_error_case("cname_apex", t, line_of(t, "@ CNAME"), alt_lines=[3, 4])


@test("static")
def test_zonecheck_origin_out_of_zone(ctx):
    t = ZHEAD + "$ORIGIN other.test.\nstray A 10.90.0.8\n"
    zone_error_case("origin_out", t, line_of(t, "stray"))


@test("static")
def test_zonecheck_empty_file(ctx):
    zone_error_case("empty", "")


@test("static")
def test_zonecheck_unbalanced_paren(ctx):
    t = ZHEAD + "txt TXT ( \"never closed\"\n"
    zone_error_case("paren", t)


# ===========================================================================
# main: answers
# ===========================================================================

def want_rdatas(msg, section, rdtype, name, expected):
    got = sorted(r[3].lower() for r in rrs(msg, section, rdtype, name))
    exp = sorted(e.lower() for e in expected)
    check(got == exp, "%s %s %s: got %s, want %s%s" % (section, name, rdtype, got, exp, describe(msg)))


def want_rcode(msg, rcode):
    check(msg.rcode() == rcode, "rcode %s, want %s%s" % (dns.rcode.to_text(msg.rcode()),
                                                        dns.rcode.to_text(rcode), describe(msg)))


def want_aa(msg, aa=True):
    got = bool(msg.flags & dns.flags.AA)
    check(got == aa, "AA=%d, want %d%s" % (got, aa, describe(msg)))


def want_neg_soa(msg, zone, ttl):
    soa = [r for r in msg.authority if r.rdtype == dns.rdatatype.SOA]
    check(len(soa) == 1, "want one SOA in authority%s" % describe(msg))
    check(soa[0].name == dns.name.from_text(zone), "SOA owner %s, want %s" % (soa[0].name, zone))
    check(soa[0].ttl == ttl, "negative SOA TTL %d, want %d (RFC 2308 min(SOA TTL, MINIMUM))%s"
          % (soa[0].ttl, ttl, describe(msg)))


@test("main")
def test_a_exact_dig_udp(ctx):
    r = ctx.dig("+norec", "host.sys.test", "A")
    check(r["status"] == "NOERROR" and "rd" not in r["flags"], "RD=0 not copied\n" + dig_summary(r))
    r = ctx.dig("host.sys.test", "A")
    check(r["status"] == "NOERROR", dig_summary(r))
    check("aa" in r["flags"], "AA not set\n" + dig_summary(r))
    check("rd" in r["flags"] and "ra" not in r["flags"], "want RD copied and RA clear\n" + dig_summary(r))
    got = [(a["name"], a["ttl"], a["type"], a["rdata"]) for a in r["answer"]]
    check(got == [("host.sys.test.", 300, "A", "10.20.1.1")], "answer %s\n%s" % (got, r["raw"]))


@test("main")
def test_a_exact_kdig_tcp(ctx):
    r = ctx.kdig("+tcp", "multi.sys.test", "A")
    check(r["status"] == "NOERROR" and "aa" in r["flags"], dig_summary(r))
    got = sorted(a["rdata"] for a in r["answer"] if a["type"] == "A")
    check(got == ["10.20.1.2"], "answer %s\n%s" % (got, r["raw"]))


@test("main")
def test_aaaa_dig_tcp(ctx):
    r = ctx.dig("+tcp", "host.sys.test", "AAAA")
    check(r["status"] == "NOERROR" and "aa" in r["flags"], dig_summary(r))
    check([a["rdata"] for a in r["answer"]] == ["fd00:20::1:1"], dig_summary(r))


@test("main")
def test_blank_owner_and_omitted_class(ctx):
    m = ctx.q("ns1.sys.test", "AAAA")
    want_rdatas(m, "answer", "AAAA", "ns1.sys.test.", ["fd00:20::1"])
    m = ctx.q("ns2.sys.test", "A")
    want_rdatas(m, "answer", "A", "ns2.sys.test.", ["10.20.0.2"])


@test("main")
def test_soa_apex_kdig(ctx):
    r = ctx.kdig("sys.test", "SOA")
    check(r["status"] == "NOERROR" and "aa" in r["flags"], dig_summary(r))
    check(len(r["answer"]) == 1 and r["answer"][0]["type"] == "SOA", dig_summary(r))
    f = r["answer"][0]["rdata"].split()
    check(f[0] == "ns1.sys.test." and f[1] == "hostmaster.sys.test." and f[2] == "2024010101"
          and f[-1] == "60", "SOA rdata %r" % r["answer"][0]["rdata"])
    check(r["answer"][0]["ttl"] == 3600, "SOA TTL %d, want 3600" % r["answer"][0]["ttl"])


@test("main")
def test_ns_apex_additional(ctx):
    m = ctx.q("sys.test", "NS")
    want_rcode(m, dns.rcode.NOERROR)
    want_aa(m)
    want_rdatas(m, "answer", "NS", "sys.test.", ["ns1.sys.test.", "ns2.sys.test."])
    want_rdatas(m, "additional", "A", "ns1.sys.test.", ["10.20.0.1"])
    want_rdatas(m, "additional", "AAAA", "ns1.sys.test.", ["fd00:20::1"])
    want_rdatas(m, "additional", "A", "ns2.sys.test.", ["10.20.0.2"])


@test("main")
def test_mx_additional_dig(ctx):
    r = ctx.dig("sys.test", "MX")
    check(r["status"] == "NOERROR" and "aa" in r["flags"], dig_summary(r))
    check([a["rdata"] for a in r["answer"]] == ["10 mail.sys.test."], dig_summary(r))
    add = sorted((a["name"], a["type"], a["rdata"]) for a in r["additional"])
    check(("mail.sys.test.", "A", "10.20.0.25") in add and ("mail.sys.test.", "AAAA", "fd00:20::25") in add,
          "additional for MX target missing\n" + r["raw"])


@test("main")
def test_srv_additional(ctx):
    m = ctx.q("_sip._tcp.sys.test", "SRV")
    want_aa(m)
    want_rdatas(m, "answer", "SRV", "_sip._tcp.sys.test.", ["10 60 5060 host.sys.test."])
    want_rdatas(m, "additional", "A", "host.sys.test.", ["10.20.1.1"])
    want_rdatas(m, "additional", "AAAA", "host.sys.test.", ["fd00:20::1:1"])
    m = ctx.q("_ext._tcp.sys.test", "SRV")
    want_rdatas(m, "answer", "SRV", "_ext._tcp.sys.test.", ["10 60 5060 srv.example.com."])
    check(len(m.additional) == 0, "no additional expected for an out-of-zone SRV target%s" % describe(m))


@test("main")
def test_txt_multi_string(ctx):
    m = ctx.q("host.sys.test", "TXT")
    rd = [r for s in m.answer for r in s]
    check(len(rd) == 1 and rd[0].strings == (b"host text", b"second string"), describe(m))


@test("main")
def test_ttls(ctx):
    m = ctx.q("ttl60.sys.test", "A")
    check(rrs(m, "answer") == [("ttl60.sys.test.", "A", 60, "10.20.7.1")], describe(m))
    m = ctx.q("ttl120.sys.test", "A")
    check(rrs(m, "answer") == [("ttl120.sys.test.", "A", 120, "10.20.7.2")], "$TTL 120 not applied" + describe(m))
    m = ctx.q("afterinc.sys.test", "A")
    check(rrs(m, "answer") == [("afterinc.sys.test.", "A", 300, "10.20.6.3")], describe(m))


@test("main")
def test_include(ctx):
    m = ctx.q("inc.sys.test", "A")
    want_rdatas(m, "answer", "A", "inc.sys.test.", ["10.20.6.1"])
    m = ctx.q("inc2.sys.test", "A")
    want_rdatas(m, "answer", "A", "inc2.sys.test.", ["10.20.6.2"])
    m = ctx.q("deeper.inc2.sys.test", "A")
    want_rdatas(m, "answer", "A", "deeper.inc2.sys.test.", ["10.20.6.4"])
    # $INCLUDE with an origin must not change the origin of the including file.
    m = ctx.q("afterinc.sys.test", "A")
    want_rdatas(m, "answer", "A", "afterinc.sys.test.", ["10.20.6.3"])


@test("main")
def test_zone_without_origin(ctx):
    m = ctx.q("ns.neg.test", "A")
    want_aa(m)
    want_rdatas(m, "answer", "A", "ns.neg.test.", ["10.40.0.1"])


@test("main")
def test_case_insensitive(ctx):
    m = ctx.q("HOST.SYS.TEST", "A")
    check(sorted(r[3] for r in rrs(m, "answer")) == ["10.20.1.1"], describe(m))
    m = ctx.q("upper.sys.test", "A")
    check(sorted(r[3] for r in rrs(m, "answer")) == ["10.20.8.1"], "owner written UPPER in zone" + describe(m))


@test("main")
def test_case_folding_ascii_only(ctx):
    # Only A-Z fold (RFC 4343): octet 200 (0xC8) and 232 (0xE8) are different labels.
    m = ctx.q("\\200bin.sys.test", "A")
    want_rdatas(m, "answer", "A", "\\200bin.sys.test.", ["10.20.8.2"])
    m = ctx.q("\\232bin.sys.test", "A")
    want_rcode(m, dns.rcode.NXDOMAIN)
    m = ctx.q("\\200BIN.sys.test", "A")
    want_rcode(m, dns.rcode.NOERROR)
    # Binary octets in labels are echoed and handled like any other.
    m = ctx.q("\\000\\255\\046.sys.test", "A")
    want_rcode(m, dns.rcode.NXDOMAIN)


@test("main")
def test_max_length_names(ctx):
    # 255-octet qnames through the paths that build names: wildcard owner rewrite, NXDOMAIN,
    # DNAME (YXDOMAIN path is tested separately).
    def longname(suffix):
        left = 255 - len(dns.name.from_text(suffix).to_wire())
        labels = []
        while left > 1:
            n = min(63, left - 1)
            labels.append("x" * n)
            left -= n + 1
        name = ".".join(labels) + "." + suffix
        check(len(dns.name.from_text(name).to_wire()) <= 255, "test bug")
        return name
    name = longname("wild.sys.test.")
    for proto in ("udp", "tcp"):
        m = ctx.q(name, "A", proto=proto)
        want_rdatas(m, "answer", "A", name, ["10.20.2.1"])
    name = longname("sys.test.")
    m = ctx.q(name, "A")
    want_rcode(m, dns.rcode.NXDOMAIN)
    want_neg_soa(m, Z, 60)
    name = longname("new.sys.test.")
    m = ctx.q(name, "TXT", proto="tcp")
    want_rcode(m, dns.rcode.NXDOMAIN)
    check(ctx.d.alive(), "daemon died")


@test("main")
def test_question_case_echoed(ctx):
    for name in ("HoSt.SyS.tEsT.", "NoWhErE.sYs.TeSt.", "WWW.sys.TEST."):
        qn = dns.name.from_text(name).to_wire()
        wire = hdr(0x4242) + qn + struct.pack("!HH", 1, 1)
        rep = ctx.raw_udp(wire)
        check(rep is not None, "no reply to %s" % name)
        check(rep[:2] == b"\x42\x42", "ID not echoed")
        check(rep[12:12 + len(qn) + 4] == qn + struct.pack("!HH", 1, 1),
              "question not echoed byte for byte for %s: %r" % (name, rep[12:12 + len(qn) + 4]))


@test("main")
def test_compression(ctx):
    m = dns.message.make_query("sys.test", "NS", use_edns=0)
    rep = ctx.raw_udp(m.to_wire())
    check(rep is not None, "no reply")
    qend = 12 + len(dns.name.from_text("sys.test").to_wire()) + 4
    check(rep[qend] & 0xC0 == 0xC0, "first answer owner is not a compression pointer: %r" % rep[qend:qend + 4])
    # Over TCP, 100 A records with owner big.sys.test. (14 octets) must use pointers.
    s = ctx.tcp_connect()
    try:
        s.sendall(frame(dns.message.make_query("big.sys.test", "A").to_wire()))
        raw = recv_msg(s)
    finally:
        s.close()
    check(len(raw) < 100 * (14 + 14), "uncompressed answer (%d octets for 100 A records)" % len(raw))


@test("main")
def test_cname_chain(ctx):
    r = ctx.dig("app.sys.test", "A")
    check(r["status"] == "NOERROR" and "aa" in r["flags"], dig_summary(r))
    got = [(a["name"], a["type"], a["rdata"]) for a in r["answer"]]
    want = [("app.sys.test.", "CNAME", "www.sys.test."), ("www.sys.test.", "CNAME", "host.sys.test."),
            ("host.sys.test.", "A", "10.20.1.1")]
    check(got == want, "answer %s, want %s\n%s" % (got, want, r["raw"]))


@test("main")
def test_cname_chain_long(ctx):
    m = ctx.q("c1.sys.test", "A", proto="tcp")
    want_rcode(m, dns.rcode.NOERROR)
    names = [(r[0], r[1]) for r in rrs(m, "answer")]
    want = [("c%d.sys.test." % i, "CNAME") for i in range(1, 6)] + [("host.sys.test.", "A")]
    check(sorted(names) == sorted(want), "answer %s%s" % (names, describe(m)))


@test("main")
def test_cname_qtype_cname(ctx):
    m = ctx.q("www.sys.test", "CNAME")
    want_aa(m)
    check(rrs(m, "answer") == [("www.sys.test.", "CNAME", 300, "host.sys.test.")], describe(m))


@test("main")
def test_cname_out_of_zone(ctx):
    r = ctx.kdig("ext.sys.test", "A")
    check(r["status"] == "NOERROR" and "aa" in r["flags"], dig_summary(r))
    got = [(a["name"], a["type"], a["rdata"]) for a in r["answer"]]
    check(got == [("ext.sys.test.", "CNAME", "target.example.com.")], dig_summary(r))


@test("main")
def test_cname_cross_zone_no_acl_leak(ctx):
    # Chains are followed in-zone only; in no case may data of secret.test (allow 127.0.0.1/32)
    # reach 127.0.0.2 through a CNAME or additional data from sys.test.
    for src in ("127.0.0.2", "127.0.0.1"):
        m = ctx.q("tosecret.sys.test", "A", source=src)
        want_rcode(m, dns.rcode.NOERROR)
        check(rrs(m, "answer") == [("tosecret.sys.test.", "CNAME", 300, "db.secret.test.")],
              "from %s: answer must be the CNAME only%s" % (src, describe(m)))
        m = ctx.q("mxsecret.sys.test", "MX", source=src)
        want_rdatas(m, "answer", "MX", "mxsecret.sys.test.", ["10 db.secret.test."])
        check(not rrs(m, "additional", name="db.secret.test."),
              "from %s: additional data from another zone%s" % (src, describe(m)))
    m = ctx.q("toneg.sys.test", "A")
    want_rcode(m, dns.rcode.NOERROR)
    want_aa(m)
    check(rrs(m, "answer")[0] == ("toneg.sys.test.", "CNAME", 300, "ns.neg.test."), describe(m))


@test("main")
def test_cname_dangling_nxdomain(ctx):
    # RFC 6604: the rcode reflects the last name in the chain.
    m = ctx.q("dangling.sys.test", "A")
    want_rcode(m, dns.rcode.NXDOMAIN)
    want_aa(m)
    check(rrs(m, "answer") == [("dangling.sys.test.", "CNAME", 300, "nowhere.sys.test.")], describe(m))
    want_neg_soa(m, Z, 60)


@test("main")
def test_cname_loop_bounded(ctx):
    for name in ("loop1.sys.test", "self.sys.test"):
        for proto in ("udp", "tcp"):
            t0 = time.time()
            m = ctx.q(name, "A", proto=proto, timeout=3)
            check(time.time() - t0 < 2.5, "slow answer to a CNAME loop")
            check(m.rcode() in (dns.rcode.NOERROR, dns.rcode.SERVFAIL),
                  "rcode %s for CNAME loop" % dns.rcode.to_text(m.rcode()))
            n = len(rrs(m, "answer"))
            check(1 <= n <= 20, "%d answer records for a CNAME loop%s" % (n, describe(m)))
    check(ctx.d.alive(), "daemon died")


@test("main")
def test_nxdomain_dig(ctx):
    r = ctx.dig("nosuchname.sys.test", "A")
    check(r["status"] == "NXDOMAIN" and "aa" in r["flags"], dig_summary(r))
    check(not r["answer"], dig_summary(r))
    soa = [a for a in r["authority"] if a["type"] == "SOA"]
    check(len(soa) == 1 and soa[0]["name"] == "sys.test." and soa[0]["ttl"] == 60,
          "want SOA sys.test. TTL 60 in authority\n" + r["raw"])


@test("main")
def test_nxdomain_soa_ttl_min(ctx):
    m = ctx.q("nosuchname.sys.test", "A")
    want_rcode(m, dns.rcode.NXDOMAIN)
    want_neg_soa(m, Z, 60)       # SOA TTL 3600, MINIMUM 60
    m = ctx.q("nosuchname.neg.test", "A")
    want_rcode(m, dns.rcode.NXDOMAIN)
    want_aa(m)
    want_neg_soa(m, "neg.test.", 30)   # SOA TTL 30, MINIMUM 600


@test("main")
def test_nodata(ctx):
    r = ctx.kdig("+tcp", "mail.sys.test", "TXT")
    check(r["status"] == "NOERROR" and "aa" in r["flags"] and not r["answer"], dig_summary(r))
    soa = [a for a in r["authority"] if a["type"] == "SOA"]
    check(len(soa) == 1 and soa[0]["ttl"] == 60, "want SOA TTL 60 in authority\n" + r["raw"])
    m = ctx.q("ns.neg.test", "MX")
    want_rcode(m, dns.rcode.NOERROR)
    check(not m.answer, describe(m))
    want_neg_soa(m, "neg.test.", 30)


@test("main")
def test_nodata_other_types(ctx):
    # SOA/NS below the apex, DNSSEC types in an unsigned zone: NODATA with the SOA.
    for name, qt in (("host.sys.test", "SOA"), ("host.sys.test", "NS"), ("host.sys.test", "RRSIG"),
                     ("host.sys.test", "NSEC"), ("sys.test", "DS"), ("sys.test", "DNSKEY"),
                     ("www.sys.test", "TXT")):
        m = ctx.q(name, qt)
        want_rcode(m, dns.rcode.NOERROR)
        want_aa(m)
        if qt == "TXT":   # www is a CNAME: the CNAME is the answer
            check(rrs(m, "answer", "CNAME") != [], describe(m))
            continue
        check(not m.answer, "%s %s: want NODATA%s" % (name, qt, describe(m)))
        want_neg_soa(m, Z, 60)
    # Nothing lives below a CNAME owner.
    m = ctx.q("x.www.sys.test", "A")
    want_rcode(m, dns.rcode.NXDOMAIN)


@test("main")
def test_empty_non_terminal_nodata(ctx):
    for name in ("ent.sys.test", "a.ent.sys.test", "_tcp.sys.test"):
        m = ctx.q(name, "A")
        want_rcode(m, dns.rcode.NOERROR)
        want_aa(m)
        check(not m.answer, "ENT %s must be NODATA%s" % (name, describe(m)))
        want_neg_soa(m, Z, 60)


@test("main")
def test_wildcard_dig(ctx):
    r = ctx.dig("foo.wild.sys.test", "A")
    check(r["status"] == "NOERROR" and "aa" in r["flags"], dig_summary(r))
    got = [(a["name"], a["type"], a["rdata"]) for a in r["answer"]]
    check(got == [("foo.wild.sys.test.", "A", "10.20.2.1")], "owner must be rewritten to qname\n" + r["raw"])


@test("main")
def test_wildcard_types_and_depth(ctx):
    m = ctx.q("Bar.wild.sys.test", "TXT")
    want_aa(m)
    check(rrs(m, "answer") == [("bar.wild.sys.test.", "TXT", 300, '"wildcard"')], describe(m))
    # More than one label below the closest encloser still matches *.wild.
    m = ctx.q("a.b.wild.sys.test", "A")
    want_rdatas(m, "answer", "A", "a.b.wild.sys.test.", ["10.20.2.1"])
    # Wildcard owner exists, type does not: NODATA.
    m = ctx.q("foo.wild.sys.test", "MX")
    want_rcode(m, dns.rcode.NOERROR)
    check(not m.answer, describe(m))
    want_neg_soa(m, Z, 60)
    # The wildcard itself queried literally.
    m = ctx.q("*.wild.sys.test", "A")
    want_rdatas(m, "answer", "A", "*.wild.sys.test.", ["10.20.2.1"])


@test("main")
def test_wildcard_not_for_existing_names(ctx):
    # explicit.wild exists: its missing TXT is NODATA, not the wildcard TXT.
    m = ctx.q("explicit.wild.sys.test", "TXT")
    want_rcode(m, dns.rcode.NOERROR)
    check(not m.answer, "wildcard applied to an existing name%s" % describe(m))
    m = ctx.q("explicit.wild.sys.test", "A")
    want_rdatas(m, "answer", "A", "explicit.wild.sys.test.", ["10.20.2.2"])


@test("main")
def test_wildcard_blocked_by_ent(ctx):
    # ent2.wild is an empty non-terminal (sub.ent2.wild exists): RFC 4592 2.2.2.
    m = ctx.q("ent2.wild.sys.test", "A")
    want_rcode(m, dns.rcode.NOERROR)
    check(not m.answer, "ENT ent2.wild matched the wildcard%s" % describe(m))
    want_neg_soa(m, Z, 60)
    m = ctx.q("x.ent2.wild.sys.test", "A")
    want_rcode(m, dns.rcode.NXDOMAIN)
    check(not m.answer, "name below ENT matched the wildcard%s" % describe(m))
    want_neg_soa(m, Z, 60)
    m = ctx.q("sub.ent2.wild.sys.test", "A")
    want_rdatas(m, "answer", "A", "sub.ent2.wild.sys.test.", ["10.20.2.3"])


@test("main")
def test_wildcard_cname(ctx):
    m = ctx.q("anything.cn.sys.test", "A")
    want_rcode(m, dns.rcode.NOERROR)
    want_aa(m)
    got = [(r[0], r[1], r[3]) for r in rrs(m, "answer")]
    check(sorted(got) == sorted([("anything.cn.sys.test.", "CNAME", "host.sys.test."),
                                 ("host.sys.test.", "A", "10.20.1.1")]), describe(m))


@test("main")
def test_referral_dig(ctx):
    r = ctx.dig("www.deleg.sys.test", "A")
    check(r["status"] == "NOERROR", dig_summary(r))
    check("aa" not in r["flags"], "referral must have AA=0\n" + dig_summary(r))
    check(not r["answer"], "referral has an answer\n" + r["raw"])
    ns = sorted((a["name"], a["rdata"]) for a in r["authority"] if a["type"] == "NS")
    check(ns == [("deleg.sys.test.", "ns.deleg.sys.test."), ("deleg.sys.test.", "ns.elsewhere.example.")],
          "authority NS %s\n%s" % (ns, r["raw"]))
    check(not [a for a in r["authority"] if a["type"] == "SOA"], "SOA in a referral\n" + r["raw"])
    glue = sorted((a["name"], a["type"], a["rdata"]) for a in r["additional"])
    check(glue == [("ns.deleg.sys.test.", "A", "10.20.4.53"), ("ns.deleg.sys.test.", "AAAA", "fd00:20::4:53")],
          "glue %s\n%s" % (glue, r["raw"]))


@test("main")
def test_referral_tcp_and_cut(ctx):
    for name, qt in (("deleg.sys.test", "NS"), ("deleg.sys.test", "A"), ("ns.deleg.sys.test", "A"),
                     ("a.b.deleg.sys.test", "MX")):
        m = ctx.q(name, qt, proto="tcp")
        want_rcode(m, dns.rcode.NOERROR)
        want_aa(m, False)
        check(not m.answer, "%s %s: referral expected%s" % (name, qt, describe(m)))
        want_rdatas(m, "authority", "NS", "deleg.sys.test.", ["ns.deleg.sys.test.", "ns.elsewhere.example."])
        want_rdatas(m, "additional", "A", "ns.deleg.sys.test.", ["10.20.4.53"])


@test("main")
def test_referral_ds_at_cut(ctx):
    # DS lives on the parent side of the cut (RFC 4035 3.1.4.1): authoritative NODATA, not a referral.
    m = ctx.q("deleg.sys.test", "DS")
    want_rcode(m, dns.rcode.NOERROR)
    want_aa(m)
    check(not m.answer, describe(m))
    want_neg_soa(m, Z, 60)


@test("main")
def test_cname_into_delegation(ctx):
    # CNAME whose target is below a zone cut: the CNAME, then a referral (as Knot DNS answers).
    m = ctx.q("todeleg.sys.test", "A")
    want_rcode(m, dns.rcode.NOERROR)
    want_aa(m)
    check(rrs(m, "answer") == [("todeleg.sys.test.", "CNAME", 300, "www.deleg.sys.test.")], describe(m))
    want_rdatas(m, "authority", "NS", "deleg.sys.test.", ["ns.deleg.sys.test.", "ns.elsewhere.example."])
    want_rdatas(m, "additional", "A", "ns.deleg.sys.test.", ["10.20.4.53"])


@test("main")
def test_dname_dig(ctx):
    r = ctx.dig("host.old.sys.test", "A")
    check(r["status"] == "NOERROR" and "aa" in r["flags"], dig_summary(r))
    got = [(a["name"], a["type"], a["rdata"]) for a in r["answer"]]
    want = [("old.sys.test.", "DNAME", "new.sys.test."),
            ("host.old.sys.test.", "CNAME", "host.new.sys.test."),
            ("host.new.sys.test.", "A", "10.20.5.1")]
    check(got == want, "answer %s, want %s\n%s" % (got, want, r["raw"]))


@test("main")
def test_dname_details(ctx):
    # Synthesized CNAME TTL = DNAME TTL (RFC 6672 3.1).
    m = ctx.q("host.old.sys.test", "A", proto="tcp")
    cn = rrs(m, "answer", "CNAME")
    check(cn == [("host.old.sys.test.", "CNAME", 300, "host.new.sys.test.")], describe(m))
    # The DNAME owner itself is not redirected.
    m = ctx.q("old.sys.test", "DNAME")
    check(rrs(m, "answer") == [("old.sys.test.", "DNAME", 300, "new.sys.test.")], describe(m))
    m = ctx.q("old.sys.test", "A")
    want_rcode(m, dns.rcode.NOERROR)
    check(not m.answer, describe(m))
    # Target missing in the zone: DNAME + CNAME, rcode NXDOMAIN.
    m = ctx.q("nothere.old.sys.test", "A")
    want_rcode(m, dns.rcode.NXDOMAIN)
    types = sorted(r[1] for r in rrs(m, "answer"))
    check(types == ["CNAME", "DNAME"], describe(m))
    # Out-of-zone DNAME target: DNAME + CNAME only.
    m = ctx.q("x.y.extd.sys.test", "A")
    want_rcode(m, dns.rcode.NOERROR)
    got = sorted((r[0], r[1], r[3]) for r in rrs(m, "answer"))
    check(got == [("extd.sys.test.", "DNAME", "example.org."), ("x.y.extd.sys.test.", "CNAME", "x.y.example.org.")],
          describe(m))


@test("main")
def test_dname_and_cname_chains(ctx):
    # CNAME into a DNAME'd name.
    m = ctx.q("todname.sys.test", "A")
    want_rcode(m, dns.rcode.NOERROR)
    want_aa(m)
    got = sorted((r[0], r[1], r[3]) for r in rrs(m, "answer"))
    want = sorted([("todname.sys.test.", "CNAME", "host.old.sys.test."),
                   ("old.sys.test.", "DNAME", "new.sys.test."),
                   ("host.old.sys.test.", "CNAME", "host.new.sys.test."),
                   ("host.new.sys.test.", "A", "10.20.5.1")])
    check(got == want, "answer %s, want %s%s" % (got, want, describe(m)))
    # DNAME whose target is a CNAME.
    m = ctx.q("alias.old.sys.test", "A", proto="tcp")
    want_rcode(m, dns.rcode.NOERROR)
    got = sorted((r[0], r[1], r[3]) for r in rrs(m, "answer"))
    want = sorted([("old.sys.test.", "DNAME", "new.sys.test."),
                   ("alias.old.sys.test.", "CNAME", "alias.new.sys.test."),
                   ("alias.new.sys.test.", "CNAME", "host.sys.test."),
                   ("host.sys.test.", "A", "10.20.1.1")])
    check(got == want, "answer %s, want %s%s" % (got, want, describe(m)))


@test("main")
def test_dname_yxdomain(ctx):
    # RFC 6672 2.2: substitution result longer than 255 octets -> YXDOMAIN.
    qname = "%s.%s.long.sys.test." % ("q" * 63, "r" * 20)
    check(len(dns.name.from_text(qname).to_wire()) <= 255, "test bug: qname too long")
    m = ctx.q(qname, "A")
    # RFC 6672 says YXDOMAIN; Knot DNS 3.2 answers NXDOMAIN (with the DNAME): accept both,
    # but no CNAME may be synthesized.
    check(m.rcode() in (dns.rcode.YXDOMAIN, dns.rcode.NXDOMAIN),
          "rcode %s, want YXDOMAIN%s" % (dns.rcode.to_text(m.rcode()), describe(m)))
    check(rrs(m, "answer", "DNAME") != [], "DNAME expected in the answer%s" % describe(m))
    check(rrs(m, "answer", "CNAME") == [], "CNAME synthesized past 255 octets%s" % describe(m))


@test("main")
def test_unknown_type_rfc3597(ctx):
    r = ctx.dig("unk.sys.test", "TYPE65280")
    check(r["status"] == "NOERROR" and "aa" in r["flags"], dig_summary(r))
    check([a["rdata"] for a in r["answer"]] == ["\\# 4 0A0B0C0D"], dig_summary(r))
    m = ctx.q("unk.sys.test", 65281)
    rd = [r for s in m.answer for r in s]
    check(len(rd) == 1 and rd[0].to_wire() == b"", "empty TYPE65281 rdata%s" % describe(m))
    m = ctx.q("unk.sys.test", "A")
    want_rcode(m, dns.rcode.NOERROR)
    check(not m.answer, describe(m))


@test("main")
def test_any_udp_minimal(ctx):
    # host has A, AAAA, TXT and MX: RFC 8482 forbids dumping them all over UDP.
    m = ctx.q("host.sys.test", "ANY")
    want_rcode(m, dns.rcode.NOERROR)
    types = set(r[1] for r in rrs(m, "answer"))
    truncated = bool(m.flags & dns.flags.TC)
    check(types or truncated, "empty non-truncated ANY answer%s" % describe(m))
    check(not {"A", "AAAA", "TXT", "MX"} <= types, "ANY over UDP returned all RRsets%s" % describe(m))
    # dig 9.18 sends ANY over TCP by default: +notcp forces UDP, +ignore keeps it there.
    r = ctx.dig("+notcp", "+ignore", "sys.test", "ANY")
    check(r["status"] == "NOERROR", dig_summary(r))
    check(not {"SOA", "NS", "MX", "TXT"} <= set(rr_types(r["answer"])), "ANY over UDP returned all RRsets\n" + r["raw"])


@test("main")
def test_any_tcp(ctx):
    m = ctx.q("host.sys.test", "ANY", proto="tcp")
    want_rcode(m, dns.rcode.NOERROR)
    want_aa(m)
    check(len(m.answer) >= 1, "empty ANY answer over TCP%s" % describe(m))
    m = ctx.q("nosuch.sys.test", "ANY", proto="tcp")
    want_rcode(m, dns.rcode.NXDOMAIN)


@test("main")
def test_refused_outside_zones(ctx):
    r = ctx.dig("www.example.com", "A")
    check(r["status"] == "REFUSED", dig_summary(r))
    check("aa" not in r["flags"] and not r["answer"], dig_summary(r))
    for name in ("test.", ".", "xsys.test.", "internal."):
        m = ctx.q(name, "A")
        want_rcode(m, dns.rcode.REFUSED)


@test("main")
def test_server_acl_refused(ctx):
    m = ctx.q("host.sys.test", "A", source="127.0.0.3")
    want_rcode(m, dns.rcode.REFUSED)
    check(not m.answer, describe(m))
    r = ctx.dig("-b", "127.0.0.3", "+tcp", "host.sys.test", "A")
    check(r["status"] == "REFUSED" and not r["answer"], dig_summary(r))
    m = ctx.q("host.sys.test", "A", source="127.0.0.2")
    want_rdatas(m, "answer", "A", "host.sys.test.", ["10.20.1.1"])


@test("main")
def test_zone_acl(ctx):
    r = ctx.dig("-b", "127.0.0.2", "db.secret.test", "A")
    check(r["status"] == "REFUSED" and not r["answer"], "from 127.0.0.2\n" + dig_summary(r))
    r = ctx.kdig("-b", "127.0.0.2", "+tcp", "db.secret.test", "A")
    check(r["status"] == "REFUSED" and not r["answer"], "from 127.0.0.2 over TCP\n" + dig_summary(r))
    r = ctx.dig("-b", "127.0.0.1", "db.secret.test", "A")
    check(r["status"] == "NOERROR" and [a["rdata"] for a in r["answer"]] == ["10.30.0.1"],
          "from 127.0.0.1\n" + dig_summary(r))
    # Also no leak through NXDOMAIN/SOA.
    m = ctx.q("nothere.secret.test", "A", source="127.0.0.2")
    want_rcode(m, dns.rcode.REFUSED)
    check(not m.authority, "REFUSED reply leaks zone data%s" % describe(m))
    if HAVE_V6:
        m = ctx.q("db.secret.test", "A", addr="::1")
        want_rcode(m, dns.rcode.REFUSED)
    # Other zones still answer 127.0.0.2.
    m = ctx.q("host.sys.test", "A", source="127.0.0.2")
    want_rcode(m, dns.rcode.NOERROR)


@test("main")
def test_ipv6_listener(ctx):
    if not HAVE_V6:
        return
    r = ctx.dig("host.sys.test", "A", addr="::1")
    check(r["status"] == "NOERROR" and [a["rdata"] for a in r["answer"]] == ["10.20.1.1"], dig_summary(r))
    r = ctx.kdig("+tcp", "host.sys.test", "AAAA", addr="::1")
    check(r["status"] == "NOERROR" and [a["rdata"] for a in r["answer"]] == ["fd00:20::1:1"], dig_summary(r))


# --- reverse ----------------------------------------------------------------

@test("main")
def test_ptr_synth_dig(ctx):
    r = ctx.dig("-x", "10.20.1.1")
    check(r["status"] == "NOERROR" and "aa" in r["flags"], dig_summary(r))
    got = [(a["name"], a["type"], a["rdata"]) for a in r["answer"]]
    check(got == [("1.1.20.10.in-addr.arpa.", "PTR", "host.sys.test.")], dig_summary(r))


@test("main")
def test_ptr_synth_multiple_and_other_zone(ctx):
    r = ctx.kdig("+tcp", "-x", "10.20.1.2")
    check(r["status"] == "NOERROR", dig_summary(r))
    got = sorted(a["rdata"] for a in r["answer"] if a["type"] == "PTR")
    check(got == ["alias2.sys.test.", "multi.sys.test."], dig_summary(r))
    m = ctx.q("1.0.40.10.in-addr.arpa", "PTR")
    want_rdatas(m, "answer", "PTR", "1.0.40.10.in-addr.arpa.", ["ns.neg.test."])


@test("main")
def test_ptr_synth_ipv6(ctx):
    r = ctx.dig("-x", "fd00:20::1:1")
    check(r["status"] == "NOERROR" and "aa" in r["flags"], dig_summary(r))
    check([a["rdata"] for a in r["answer"]] == ["host.sys.test."], dig_summary(r))


@test("main")
def test_ptr_unknown_nxdomain(ctx):
    r = ctx.dig("-x", "10.99.99.99")
    check(r["status"] == "NXDOMAIN" and "aa" in r["flags"] and not r["answer"], dig_summary(r))
    soa = [a for a in r["authority"] if a["type"] == "SOA"]
    check(len(soa) == 1 and soa[0]["name"] == "10.in-addr.arpa.",
          "want the reverse zone's SOA in authority\n" + r["raw"])
    m = ctx.q("9.9.9.9.9.9.9.9.9.9.9.9.9.9.9.9.9.9.9.9.9.9.9.9.9.9.9.9.d.f.ip6.arpa", "PTR")
    want_rcode(m, dns.rcode.NXDOMAIN)
    soa = [s for s in m.authority if s.rdtype == dns.rdatatype.SOA]
    check(len(soa) == 1 and soa[0].name == dns.name.from_text("d.f.ip6.arpa"), describe(m))


@test("main")
def test_ptr_malformed_reverse_names(ctx):
    bad = ["1.2.3.4.5.10.in-addr.arpa", "300.1.20.10.in-addr.arpa", "01.1.20.10.in-addr.arpa",
           "a.1.20.10.in-addr.arpa", "-1.1.20.10.in-addr.arpa", "1.1.020.10.in-addr.arpa",
           "256.1.20.10.in-addr.arpa", "\\000.1.20.10.in-addr.arpa", "1.1.20.10.in-addr.arpa.extra.10.in-addr.arpa",
           "g." + "0." * 27 + "d.f.ip6.arpa", "10." + "0." * 26 + "d.f.ip6.arpa",
           "1." * 31 + "0.d.f.ip6.arpa", "x.1.0.0.0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.0.d.f.ip6.arpa"]
    problems = []
    for name in bad:
        for proto in ("udp", "tcp"):
            try:
                m = ctx.q(name, "PTR", proto=proto, timeout=2)
            except Exception as e:
                problems.append("%s/%s: %s" % (name, proto, type(e).__name__))
                continue
            if m.rcode() != dns.rcode.NXDOMAIN or m.answer:
                problems.append("%s/%s: %s with %d answers" % (name, proto, dns.rcode.to_text(m.rcode()),
                                                              len(m.answer)))
    check(ctx.d.alive(), "daemon died")
    check(not problems, "want NXDOMAIN: " + "; ".join(problems))
    # A well-formed, padded-out IPv6 name of an address with an AAAA record does answer.
    m = ctx.q("1.0.0.0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.0.d.f.ip6.arpa", "PTR")
    want_rdatas(m, "answer", "PTR", "1.0.0.0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.0.d.f.ip6.arpa.",
                ["host.sys.test."])


@test("main")
def test_ptr_respects_zone_acl(ctx):
    # 10.30.0.1 is db.secret.test (allow 127.0.0.1/32): a client the zone refuses must not learn
    # the name through the reverse zone either.
    m = ctx.q("1.0.30.10.in-addr.arpa", "PTR", source="127.0.0.1")
    want_rdatas(m, "answer", "PTR", "1.0.30.10.in-addr.arpa.", ["db.secret.test."])
    for proto in ("udp", "tcp"):
        m = ctx.q("1.0.30.10.in-addr.arpa", "PTR", source="127.0.0.2", proto=proto)
        check(m.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.REFUSED), describe(m))
        check("secret" not in m.to_text().lower(), "PTR leaks a name of an ACL'd zone%s" % describe(m))


@test("main")
def test_ptr_zone_apex(ctx):
    m = ctx.q("10.in-addr.arpa", "SOA")
    want_rcode(m, dns.rcode.NOERROR)
    want_aa(m)
    check(len(rrs(m, "answer", "SOA", "10.in-addr.arpa.")) == 1, describe(m))
    m = ctx.q("10.in-addr.arpa", "NS")
    want_rcode(m, dns.rcode.NOERROR)
    check(len(rrs(m, "answer", "NS", "10.in-addr.arpa.")) >= 1, describe(m))
    # A PTR name that exists, other type: NODATA.
    m = ctx.q("1.1.20.10.in-addr.arpa", "A")
    want_rcode(m, dns.rcode.NOERROR)
    check(not m.answer, describe(m))
    # PTR for an address outside the zone's reach is still refused.
    m = ctx.q("1.1.20.11.in-addr.arpa", "PTR")
    want_rcode(m, dns.rcode.REFUSED)


# --- EDNS ---------------------------------------------------------------------

@test("main")
def test_edns_opt_echoed(ctx):
    m = ctx.q("host.sys.test", "A", edns=0, payload=4096)
    check(m.edns == 0, "no OPT in reply to an EDNS query%s" % describe(m))
    check(512 <= m.payload <= 1232, "advertised UDP size %d, want 512..1232" % m.payload)
    m = ctx.q("nosuch.sys.test", "A", edns=0)
    check(m.edns == 0, "no OPT in NXDOMAIN reply%s" % describe(m))
    m = ctx.q("host.sys.test", "A", edns=-1)
    check(m.edns == -1, "OPT in reply to a query without EDNS%s" % describe(m))
    r = ctx.dig("host.sys.test", "A")
    check("OPT PSEUDOSECTION" in r["raw"], "dig sees no OPT\n" + r["raw"])
    m = ctx.q("host.sys.test", "A", proto="tcp", edns=0)
    check(m.edns == 0, "no OPT in TCP reply to an EDNS query%s" % describe(m))


@test("main")
def test_edns_do_bit_and_unknown_option(ctx):
    m = ctx.q("host.sys.test", "A", want_dnssec=True)
    want_rcode(m, dns.rcode.NOERROR)
    check(m.ednsflags & dns.flags.DO, "DO bit not copied into the reply (RFC 3225)%s" % describe(m))
    opt = dns.edns.GenericOption(65001, b"\x01\x02\x03")
    m = ctx.q("host.sys.test", "A", options=[opt])
    want_rcode(m, dns.rcode.NOERROR)
    want_rdatas(m, "answer", "A", "host.sys.test.", ["10.20.1.1"])
    check(not any(o.otype == 65001 for o in m.options), "unknown option echoed")


@test("main")
def test_large_queries(ctx):
    # Queries bigger than 512 octets (EDNS padding, RFC 7830) are fine over UDP and TCP.
    pad = dns.edns.GenericOption(12, b"\x00" * 900)
    for proto in ("udp", "tcp"):
        m = ctx.q("host.sys.test", "A", proto=proto, options=[pad])
        want_rcode(m, dns.rcode.NOERROR)
        want_rdatas(m, "answer", "A", "host.sys.test.", ["10.20.1.1"])
    pad = dns.edns.GenericOption(12, b"\x00" * 4000)
    m = ctx.q("host.sys.test", "A", proto="tcp", options=[pad], payload=8192)
    want_rdatas(m, "answer", "A", "host.sys.test.", ["10.20.1.1"])


@test("main")
def test_edns_badvers(ctx):
    m = ctx.q("host.sys.test", "A", edns=1)
    check(m.rcode() == dns.rcode.BADVERS, "rcode %s, want BADVERS%s" % (dns.rcode.to_text(m.rcode()), describe(m)))
    check(m.edns == 0, "BADVERS reply must carry OPT version 0%s" % describe(m))
    check(not m.answer, describe(m))
    r = ctx.kdig("+edns=3", "host.sys.test", "A")
    check(r["status"] == "BADVERS", dig_summary(r))


@test("main")
def test_edns_two_opt_formerr(ctx):
    wire = hdr(0x2222, ar=2) + qwire("host.sys.test.") + opt_rr() + opt_rr()
    rep = ctx.raw_udp(wire)
    check(rep is not None, "no reply to a query with two OPT records")
    check(rep[:2] == b"\x22\x22", "ID not echoed")
    check(reply_rcode(rep) == dns.rcode.FORMERR, "rcode %d, want FORMERR" % reply_rcode(rep))


@test("main")
def test_udp_limit_no_edns_512(ctx):
    # mid: 40 A records (~700 octets): over 512 without EDNS, fits 1232 with EDNS.
    m = dns.message.make_query("mid.sys.test", "A", use_edns=False)
    rep = ctx.raw_udp(m.to_wire())
    check(rep is not None, "no reply")
    check(len(rep) <= 512, "UDP reply of %d octets without EDNS" % len(rep))
    r = dns.message.from_wire(rep)
    check(r.flags & dns.flags.TC, "TC not set though the answer does not fit 512%s" % describe(r))
    r = ctx.q("mid.sys.test", "A", edns=0, payload=1232)
    check(not (r.flags & dns.flags.TC), "TC set though 40 A fit in 1232%s" % describe(r))
    check(len(rrs(r, "answer")) == 40, "want 40 A%s" % describe(r))


@test("main")
def test_udp_limit_small_edns_size_means_512(ctx):
    # RFC 6891 6.2.5: values below 512 are treated as 512. The NS answer with additional data
    # (~150 octets) fits in 512 and must not be truncated for a client offering 100.
    m = dns.message.make_query("sys.test", "NS", use_edns=0, payload=100)
    rep = ctx.raw_udp(m.to_wire())
    check(rep is not None, "no reply")
    r = dns.message.from_wire(rep)
    check(len(rep) <= 512, "reply of %d octets" % len(rep))
    check(not (r.flags & dns.flags.TC), "TC set for a %d-octet answer to EDNS size 100%s" % (len(rep), describe(r)))
    want_rdatas(r, "answer", "NS", "sys.test.", ["ns1.sys.test.", "ns2.sys.test."])


@test("main")
def test_additional_overflow_no_tc(ctx):
    # 20 MX fit in 512 octets, their 40 A/AAAA additional records do not: drop additional
    # data, do not set TC (RFC 2181 9).
    for edns in (False, 0):
        m = dns.message.make_query("mxmany.sys.test", "MX", use_edns=edns)
        rep = ctx.raw_udp(m.to_wire())
        check(rep is not None, "no reply")
        r = dns.message.from_wire(rep)
        check(len(rep) <= (512 if edns is False else 1232), "reply of %d octets" % len(rep))
        check(not (r.flags & dns.flags.TC), "TC set only because additional data did not fit "
              "(EDNS %s)%s" % (edns, describe(r)))
        check(len(rrs(r, "answer", "MX")) == 20, "want 20 MX%s" % describe(r))


@test("main")
def test_udp_limit_client_size_honoured(ctx):
    m = dns.message.make_query("mid.sys.test", "A", use_edns=0, payload=600)
    rep = ctx.raw_udp(m.to_wire())
    check(rep is not None and len(rep) <= 600, "reply %s octets to EDNS size 600" % (len(rep) if rep else None))
    r = dns.message.from_wire(rep)
    check(r.flags & dns.flags.TC, "TC not set%s" % describe(r))
    check(r.edns == 0, "OPT missing in truncated reply%s" % describe(r))


@test("main")
def test_udp_limit_capped_by_server(ctx):
    # Client offers 4096, server caps at edns_udp_size = 1232; big (100 A) is ~1650 octets.
    m = dns.message.make_query("big.sys.test", "A", use_edns=0, payload=4096)
    rep = ctx.raw_udp(m.to_wire())
    check(rep is not None, "no reply")
    check(len(rep) <= 1232, "UDP reply of %d octets, edns_udp_size is 1232" % len(rep))
    r = dns.message.from_wire(rep)
    check(r.flags & dns.flags.TC, "TC not set%s" % describe(r))


@test("main")
def test_truncation_no_partial_rrsets(ctx):
    for name, full in (("big.sys.test", 100), ("bigtxt.sys.test", 60), ("mid.sys.test", 40),
                       ("bigcname.sys.test", 100)):
        for payload in (None, 512, 800, 1232):
            qt = "TXT" if "txt" in name else "A"
            if payload is None:
                m = dns.message.make_query(name, qt, use_edns=False)
            else:
                m = dns.message.make_query(name, qt, use_edns=0, payload=payload)
            rep = ctx.raw_udp(m.to_wire())
            check(rep is not None, "no reply for %s size %s" % (name, payload))
            r = dns.message.from_wire(rep)
            if r.flags & dns.flags.TC:
                for rrset in r.answer:
                    if rrset.rdtype == dns.rdatatype.CNAME:
                        continue
                    check(len(rrset) == full, "%s size %s: truncated reply carries a partial RRset "
                          "(%d of %d)" % (name, payload, len(rrset), full))
            else:
                n = len([x for x in rrs(r, "answer") if x[1] != "CNAME"])
                check(n == full, "%s: no TC but %d of %d records" % (name, n, full))


@test("main")
def test_truncation_dig_retries_tcp(ctx):
    r = ctx.dig("big.sys.test", "A")
    check("Truncated, retrying in TCP" in r["raw"], "dig did not see TC over UDP\n" + r["raw"])
    check(r["status"] == "NOERROR", dig_summary(r))
    got = sorted(a["rdata"] for a in r["answer"] if a["type"] == "A")
    check(got == sorted("10.20.100.%d" % i for i in range(1, 101)), "want 100 A after TCP retry, got %d" % len(got))
    r = ctx.dig("bigcname.sys.test", "A")
    check(len([a for a in r["answer"] if a["type"] == "A"]) == 100 and
          [a for a in r["answer"] if a["type"] == "CNAME"], "CNAME + 100 A after TCP retry\n" + dig_summary(r))
    r = ctx.dig("+noedns", "mid.sys.test", "A")
    check("Truncated, retrying in TCP" in r["raw"], "no TC without EDNS\n" + r["raw"])
    check(len([a for a in r["answer"] if a["type"] == "A"]) == 40, dig_summary(r))


@test("main")
def test_large_answers_tcp(ctx):
    r = ctx.kdig("+tcp", "bigtxt.sys.test", "TXT")
    check(r["status"] == "NOERROR" and "tc" not in r["flags"], dig_summary(r))
    check(len([a for a in r["answer"] if a["type"] == "TXT"]) == 60, "want 60 TXT over TCP\n" + r["raw"])
    r = ctx.dig("+tcp", "big.sys.test", "A")
    check(len([a for a in r["answer"] if a["type"] == "A"]) == 100, "want 100 A over TCP\n" + r["raw"])


# --- bad packets ----------------------------------------------------------------

@test("main")
def test_formerr_broken_body(ctx):
    qn = dns.name.from_text("host.sys.test.").to_wire()
    cases = {
        "truncated qname": hdr(0x3001) + qn[:6],
        "missing qtype/qclass": hdr(0x3002) + qn + b"\x00",
        "label runs past end": hdr(0x3003) + b"\x3fabc",
        "reserved label type 01": hdr(0x3004) + b"\x45abcde\x00\x00\x01\x00\x01",
        "pointer loop to itself": hdr(0x3005) + b"\xc0\x0c\x00\x01\x00\x01",
        "two-step pointer loop": hdr(0x3006) + b"\x03foo\xc0\x0c\x00\x01\x00\x01",
        "forward pointer": hdr(0x3007) + b"\xc0\x40\x00\x01\x00\x01",
        "name over 255 octets": hdr(0x3008) + (b"\x3f" + b"x" * 63) * 5 + b"\x00\x00\x01\x00\x01",
        "qdcount=0": hdr(0x3009, qd=0),
        "qdcount=2": hdr(0x300A, qd=2) + qwire("host.sys.test.") + qwire("mail.sys.test."),
        "ancount=65535 without data": hdr(0x300B, an=65535) + qwire("host.sys.test."),
        "arcount=1 truncated OPT": hdr(0x300C, ar=1) + qwire("host.sys.test.") + b"\x00\x00\x29\x04",
        "OPT in answer section": hdr(0x300D, an=1) + qwire("host.sys.test.") + opt_rr(),
        "OPT in authority section": hdr(0x300E, ns=1) + qwire("host.sys.test.") + opt_rr(),
        "OPT option overruns rdata": hdr(0x300F, ar=1) + qwire("host.sys.test.") + opt_rr(rdata=b"\x00\x0a\x00\x20abc"),
    }
    problems = []
    for what, wire in cases.items():
        rep = ctx.raw_udp(wire, timeout=1.0)
        if rep is None:
            problems.append("%s: no reply" % what)
        elif len(rep) < 12 or rep[:2] != wire[:2]:
            problems.append("%s: reply without the query ID: %r" % (what, rep[:12]))
        elif not rep[2] & 0x80:
            problems.append("%s: reply without QR" % what)
        elif reply_rcode(rep) != dns.rcode.FORMERR:
            problems.append("%s: rcode %d, want FORMERR(1)" % (what, reply_rcode(rep)))
    check(ctx.d.alive(), "daemon died")
    check(not problems, "; ".join(problems))


@test("main")
def test_short_and_response_packets_dropped(ctx):
    good = dns.message.make_query("host.sys.test", "A", use_edns=False).to_wire()
    cases = {
        "empty": b"",
        "1 octet": b"\x00",
        "11 octets": good[:11],
        "QR=1 response": good[:2] + bytes([good[2] | 0x80]) + good[3:],
        "QR=1 formerr response": hdr(0x5151, flags=0x8001, qd=0),
    }
    problems = []
    for what, wire in cases.items():
        rep = ctx.raw_udp(wire, timeout=0.7)
        if rep is not None:
            problems.append("%s: got a %d-octet reply, want none" % (what, len(rep)))
    check(not problems, "; ".join(problems))
    m = ctx.q("host.sys.test", "A")
    want_rcode(m, dns.rcode.NOERROR)


@test("main")
def test_notimp_opcodes(ctx):
    problems = []
    for opcode in (1, 2, 4, 5):
        wire = hdr(0x6000 + opcode, flags=(opcode << 11)) + qwire("sys.test.", 6)
        rep = ctx.raw_udp(wire)
        if rep is None:
            problems.append("opcode %d: no reply" % opcode)
        elif rep[:2] != wire[:2]:
            problems.append("opcode %d: ID not echoed" % opcode)
        elif reply_rcode(rep) != dns.rcode.NOTIMP:
            problems.append("opcode %d: rcode %d, want NOTIMP(4)" % (opcode, reply_rcode(rep)))
        elif (struct.unpack("!H", rep[2:4])[0] >> 11) & 0xF != opcode:
            problems.append("opcode %d: opcode not echoed" % opcode)
    check(not problems, "; ".join(problems))


@test("main")
def test_class_not_in_refused(ctx):
    r = ctx.dig("-c", "CH", "-t", "TXT", "version.bind")
    check(r["status"] == "REFUSED" and not r["answer"], "CH TXT version.bind with chaos = no\n" + dig_summary(r))
    m = ctx.q("id.server", "TXT", rdclass="CH", proto="tcp")
    want_rcode(m, dns.rcode.REFUSED)
    m = ctx.q("host.sys.test", "A", rdclass="HS")
    want_rcode(m, dns.rcode.REFUSED)
    m = ctx.q("host.sys.test", "A", rdclass="CH")
    want_rcode(m, dns.rcode.REFUSED)


@test("main")
def test_malformed_flood_then_ok(ctx):
    rnd = random.Random(1035)
    qn = dns.name.from_text("host.sys.test.").to_wire()
    pkts = []
    for i in range(14):  # random bytes of assorted lengths
        pkts.append(bytes(rnd.getrandbits(8) for _ in range(rnd.choice([1, 5, 11, 12, 13, 30, 100, 512, 1400]))))
    for i in range(6):  # truncated questions
        pkts.append(hdr(rnd.getrandbits(16)) + qn[:rnd.randint(0, len(qn) + 3)])
    for i in range(6):  # bad label lengths
        pkts.append(hdr(rnd.getrandbits(16)) + bytes([rnd.choice([0x40, 0x7f, 0x80, 0xbf, 0x3f, 0x20])])
                    + b"abc\x00\x00\x01\x00\x01")
    for target in (12, 13, 14, 16, 20):  # compression pointers in the question
        pkts.append(hdr(rnd.getrandbits(16)) + b"\x03abc\xc0" + bytes([target]) + b"\x00\x01\x00\x01")
    pkts.append(hdr(rnd.getrandbits(16)) + b"\xc0\x0c\x00\x01\x00\x01")
    pkts.append(hdr(rnd.getrandbits(16)) + b"\x01a\xc0\x0e\x01b\xc0\x0c\x00\x01\x00\x01")
    for i in range(3):
        pkts.append(hdr(rnd.getrandbits(16), qd=0) + bytes(rnd.getrandbits(8) for _ in range(i * 7)))
    for i in range(3):
        pkts.append(hdr(rnd.getrandbits(16), qd=2) + qwire("host.sys.test.") + qwire("www.sys.test.", 28))
    for counts in ((65535, 0, 0, 0), (1, 65535, 65535, 65535), (65535, 65535, 65535, 65535), (1, 0, 0, 65535),
                   (1, 0, 65535, 0)):
        pkts.append(hdr(rnd.getrandbits(16), qd=counts[0], an=counts[1], ns=counts[2], ar=counts[3])
                    + qwire("host.sys.test."))
    pkts.append(hdr(rnd.getrandbits(16), ar=1) + qwire("host.sys.test.") + b"\x00\x00\x29\xff\xff\x00\x00\x00\x00\xff\xff")
    pkts.append(hdr(rnd.getrandbits(16), ar=1) + qwire("host.sys.test.") + opt_rr(rdata=b"\x00\x0a\x00\x20abc"))
    pkts.append(hdr(rnd.getrandbits(16)) + qwire("host.sys.test.", 0, 0))
    pkts.append(hdr(rnd.getrandbits(16)) + b"\x00" + struct.pack("!HH", 1, 1))  # root name
    pkts.append(hdr(rnd.getrandbits(16), flags=0xffff & ~0x8000) + qwire("host.sys.test."))  # every flag but QR
    pkts.append(hdr(rnd.getrandbits(16)) + qwire("host.sys.test.") + b"trailing garbage")
    while len(pkts) < 50:
        pkts.append(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(12, 60))))
    pkts = pkts[:50]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.05)
    try:
        for p in pkts:
            s.sendto(p, (ctx.addr, ctx.port))
            try:
                while True:
                    data = s.recv(65535)
                    check(len(data) >= 12 and data[2] & 0x80, "reply without QR: %r" % data[:12])
            except socket.timeout:
                pass
        # Also over TCP, each on its own connection.
        for p in pkts[:10]:
            c = ctx.tcp_connect()
            try:
                c.sendall(frame(p))
                wait_closed(c, 0.3)
            except OSError:
                pass
            finally:
                c.close()
    finally:
        s.close()
    time.sleep(0.2)
    check(ctx.d.alive(), "daemon died after malformed packets")
    m = ctx.q("host.sys.test", "A")
    want_rdatas(m, "answer", "A", "host.sys.test.", ["10.20.1.1"])
    m = ctx.q("host.sys.test", "A", proto="tcp")
    want_rdatas(m, "answer", "A", "host.sys.test.", ["10.20.1.1"])


@test("main")
def test_repeated_queries_each_answered_for_itself(ctx):
    # The same question asked repeatedly with different transports, EDNS sizes, flags, case and
    # sources must get an answer built for that query each time (nothing reused across clients).
    problems = []

    def udp(name, rdtype, edns, payload=1232, flags=0x0100, do=False, source=None, qid=None):
        m = dns.message.make_query(name, rdtype, use_edns=False)
        if edns:
            m.use_edns(0, ednsflags=dns.flags.DO if do else 0, payload=payload)
        m.flags = flags
        if qid is not None:
            m.id = qid
        wire = m.to_wire()
        rep = ctx.raw_udp(wire, source=source)
        if rep is None:
            raise TestFailure("no reply to %s %s" % (name, rdtype))
        if rep[:2] != wire[:2]:
            problems.append("%s: ID %r for %r" % (name, rep[:2], wire[:2]))
        qlen = len(dns.name.from_text(name).to_wire()) + 4
        if rep[12:12 + qlen] != wire[12:12 + qlen]:
            problems.append("%s: question not echoed as sent" % name)
        return wire, rep, dns.message.from_wire(rep)

    for rnd in range(3):
        # ACL: an answer given to 127.0.0.1 is never handed to 127.0.0.2.
        _, _, r = udp("db.secret.test.", "A", True, source="127.0.0.1")
        if r.rcode() != dns.rcode.NOERROR or not r.answer:
            problems.append("secret from 127.0.0.1: %s" % dns.rcode.to_text(r.rcode()))
        _, _, r = udp("db.secret.test.", "A", True, source="127.0.0.2")
        if r.rcode() != dns.rcode.REFUSED or r.answer:
            problems.append("secret from 127.0.0.2 round %d: %s, %d answers" % (rnd, dns.rcode.to_text(r.rcode()),
                                                                              len(r.answer)))
        # Sizes: mid (40 A) fits 1232, not 512 nor 600.
        for edns, payload, want_tc, limit in ((True, 1232, False, 1232), (False, 0, True, 512),
                                              (True, 600, True, 600), (True, 4096, False, 1232)):
            _, rep, r = udp("mid.sys.test.", "A", edns, payload)
            tc = bool(r.flags & dns.flags.TC)
            if tc != want_tc or len(rep) > limit or (r.edns >= 0) != edns:
                problems.append("mid edns=%s size=%d: TC=%d len=%d opt=%d" % (edns, payload, tc, len(rep), r.edns >= 0))
        m = ctx.q("big.sys.test", "A", proto="tcp")
        if len(rrs(m, "answer")) != 100 or m.flags & dns.flags.TC:
            problems.append("big over TCP after UDP: %d records TC=%d" % (len(rrs(m, "answer")),
                                                                      bool(m.flags & dns.flags.TC)))
        # Flags and case.
        for name in ("host.sys.test.", "HoSt.SyS.TeSt.", "HOST.SYS.TEST."):
            for flags, do in ((0x0100, False), (0x0000, True), (0x0110, False)):
                _, rep, r = udp(name, "A", True, flags=flags, do=do)
                if (r.flags & dns.flags.RD) != (flags & 0x0100):
                    problems.append("%s: RD not copied" % name)
                if bool(r.ednsflags & dns.flags.DO) != do:
                    problems.append("%s: DO %d, query DO %d" % (name, bool(r.ednsflags & dns.flags.DO), do))
                if [x[3] for x in rrs(r, "answer")] != ["10.20.1.1"]:
                    problems.append("%s: answer %s" % (name, rrs(r, "answer")))
    check(not problems, "; ".join(sorted(set(problems))))


# --- TCP ------------------------------------------------------------------------

@test("main")
def test_tcp_several_queries_one_connection(ctx):
    s = ctx.tcp_connect()
    try:
        for i, (name, want) in enumerate([("host", "10.20.1.1"), ("mail", "10.20.0.25"), ("ns1", "10.20.0.1"),
                                          ("ns2", "10.20.0.2"), ("inc", "10.20.6.1")]):
            q = dns.message.make_query(name + ".sys.test", "A", id=1000 + i)
            s.sendall(frame(q.to_wire()))
            r = dns.message.from_wire(recv_msg(s))
            check(r.id == 1000 + i, "ID mismatch")
            want_rdatas(r, "answer", "A", name + ".sys.test.", [want])
    finally:
        s.close()


@test("main")
def test_tcp_pipelined(ctx):
    names = ["host", "mail", "ns1", "ns2", "multi", "alias2", "inc", "afterinc", "ttl60", "inc2"]
    want = {"host": "10.20.1.1", "mail": "10.20.0.25", "ns1": "10.20.0.1", "ns2": "10.20.0.2",
            "multi": "10.20.1.2", "alias2": "10.20.1.2", "inc": "10.20.6.1", "afterinc": "10.20.6.3",
            "ttl60": "10.20.7.1", "inc2": "10.20.6.2"}
    s = ctx.tcp_connect(timeout=5)
    try:
        buf = b""
        ids = {}
        for i, n in enumerate(names):
            q = dns.message.make_query(n + ".sys.test", "A", id=2000 + i)
            ids[2000 + i] = n
            buf += frame(q.to_wire())
        s.sendall(buf)   # all 10 back-to-back in one write
        seen = set()
        for _ in names:
            r = dns.message.from_wire(recv_msg(s))
            check(r.id in ids and r.id not in seen, "unexpected or duplicate ID %d" % r.id)
            seen.add(r.id)
            n = ids[r.id]
            check(r.question[0].name == dns.name.from_text(n + ".sys.test"), "question/ID mismatch")
            want_rdatas(r, "answer", "A", n + ".sys.test.", [want[n]])
        check(len(seen) == 10, "got %d of 10 answers" % len(seen))
    finally:
        s.close()


@test("main")
def test_tcp_split_frames(ctx):
    # Length prefix and message arrive in separate segments, one byte at a time at first.
    s = ctx.tcp_connect(timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        data = frame(dns.message.make_query("host.sys.test", "A", id=77).to_wire())
        for i in range(4):
            s.sendall(data[i:i + 1])
            time.sleep(0.05)
        s.sendall(data[4:])
        r = dns.message.from_wire(recv_msg(s))
        check(r.id == 77, "ID mismatch")
        want_rdatas(r, "answer", "A", "host.sys.test.", ["10.20.1.1"])
        # Two messages in one segment, the second split across two writes.
        d2 = frame(dns.message.make_query("mail.sys.test", "A", id=78).to_wire())
        d3 = frame(dns.message.make_query("ns1.sys.test", "A", id=79).to_wire())
        s.sendall(d2 + d3[:5])
        time.sleep(0.1)
        s.sendall(d3[5:])
        ids = sorted(dns.message.from_wire(recv_msg(s)).id for _ in range(2))
        check(ids == [78, 79], "ids %s" % ids)
    finally:
        s.close()


@test("main")
def test_tcp_garbage_disconnects_only_that_peer(ctx):
    good = ctx.tcp_connect(timeout=5)
    try:
        q = dns.message.make_query("host.sys.test", "A", id=500)
        good.sendall(frame(q.to_wire()))
        check(dns.message.from_wire(recv_msg(good)).id == 500, "ID mismatch")
        for what, junk in (("length 0", b"\x00\x00"), ("5-octet message", b"\x00\x05hello"),
                           ("11-octet message", b"\x00\x0b" + b"\x01" * 11)):
            bad = ctx.tcp_connect()
            try:
                bad.sendall(junk)
                check(wait_closed(bad, 3.0), "server kept the connection after %s" % what)
            finally:
                bad.close()
            q = dns.message.make_query("mail.sys.test", "A", id=501)
            good.sendall(frame(q.to_wire()))
            r = dns.message.from_wire(recv_msg(good))
            check(r.id == 501, "ID mismatch")
            want_rdatas(r, "answer", "A", "mail.sys.test.", ["10.20.0.25"])
        # Random garbage of reasonable length: connection closed or FORMERR, others unaffected.
        bad = ctx.tcp_connect()
        try:
            bad.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            wait_closed(bad, 1.0)
        finally:
            bad.close()
        q = dns.message.make_query("ns1.sys.test", "A", id=502)
        good.sendall(frame(q.to_wire()))
        check(dns.message.from_wire(recv_msg(good)).id == 502, "ID mismatch")
    finally:
        good.close()


@test("main")
def test_tcp_unread_answers_do_not_block_others(ctx):
    # One client pipelines 300 queries with ~2.6 KB answers and never reads: the server's
    # writes to it back up, but other clients must still be answered promptly.
    hog = ctx.tcp_connect(timeout=5)
    try:
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        q = frame(dns.message.make_query("bigtxt.sys.test", "TXT").to_wire())
        hog.settimeout(2)
        try:
            hog.sendall(q * 300)
        except (socket.timeout, OSError):
            pass  # the server may stop reading from (or close) a client that does not read
        time.sleep(0.3)
        for i in range(5):
            t0 = time.time()
            m = ctx.q("host.sys.test", "A", proto="tcp" if i % 2 else "udp", timeout=2)
            want_rdatas(m, "answer", "A", "host.sys.test.", ["10.20.1.1"])
            check(time.time() - t0 < 1.0, "answer took %.1fs while another client was not reading"
                  % (time.time() - t0))
    finally:
        hog.close()
    time.sleep(0.2)
    check(ctx.d.alive(), "daemon died")


@test("main")
def test_tcp_client_half_close(ctx):
    # A client that sends its query and shuts down its write side still gets the answer.
    s = ctx.tcp_connect()
    try:
        s.sendall(frame(dns.message.make_query("host.sys.test", "A", id=600).to_wire()))
        s.shutdown(socket.SHUT_WR)
        r = dns.message.from_wire(recv_msg(s))
        want_rdatas(r, "answer", "A", "host.sys.test.", ["10.20.1.1"])
    finally:
        s.close()


@test("main")
def test_concurrent_clients(ctx):
    # 20 TCP connections open at once, each asking twice, interleaved.
    conns = [ctx.tcp_connect(timeout=5) for _ in range(20)]
    try:
        for rnd in range(2):
            for i, c in enumerate(conns):
                c.sendall(frame(dns.message.make_query("host.sys.test", "A", id=i * 2 + rnd).to_wire()))
            for i, c in enumerate(conns):
                r = dns.message.from_wire(recv_msg(c))
                check(r.id == i * 2 + rnd, "ID mismatch on connection %d" % i)
    finally:
        for c in conns:
            c.close()
    # 300 UDP queries in bursts of 30 (bounded: the client reads each burst before the next),
    # at least 95% answered.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    got = set()
    try:
        for b in range(10):
            for i in range(b * 30, b * 30 + 30):
                s.sendto(dns.message.make_query("www.sys.test", "A", id=i).to_wire(), (ctx.addr, ctx.port))
            s.settimeout(1.0)
            n = 0
            while n < 30:
                try:
                    got.add(dns.message.from_wire(s.recv(65535)).id)
                    n += 1
                except socket.timeout:
                    break
    finally:
        s.close()
    check(len(got) >= 285, "only %d of 300 UDP queries answered" % len(got))


@test("main")
def test_tcp_connection_flood(ctx):
    # 150 idle connections (limit: 64 per worker, 2 workers): the daemon survives, closes the
    # oldest idle ones and keeps answering new clients.
    conns = []
    try:
        for _ in range(150):
            conns.append(ctx.tcp_connect(timeout=3))
        time.sleep(0.3)
        t0 = time.time()
        m = ctx.q("host.sys.test", "A", proto="tcp", timeout=3)
        want_rdatas(m, "answer", "A", "host.sys.test.", ["10.20.1.1"])
        check(time.time() - t0 < 2, "new client waited %.1fs" % (time.time() - t0))
        closed = sum(1 for c in conns[:40] if wait_closed(c, 0.05))
        check(closed > 0, "no idle connection closed with 150 open and tcp_max_connections = 64 x 2")
    finally:
        for c in conns:
            c.close()
    check(ctx.d.alive(), "daemon died")


@test("main")
def test_no_fd_leak(ctx):
    # After all the connection tests above, the daemon's descriptor count is back near where it
    # started (run with the whole main group; alone it is trivially true).
    if ctx.d.proc is None or ctx.d.fd_baseline is None:
        return
    deadline = time.time() + 3
    n = ctx.d.fd_count()
    while time.time() < deadline and n > ctx.d.fd_baseline + 8:
        time.sleep(0.2)
        n = ctx.d.fd_count()
    check(n <= ctx.d.fd_baseline + 8, "%d open descriptors, %d after startup" % (n, ctx.d.fd_baseline))


@test("main")
def test_open_connections_at_shutdown(ctx):
    # Leave an idle TCP connection and a half-sent query open: shutdown_main must still be prompt.
    a = ctx.tcp_connect()
    a.sendall(frame(dns.message.make_query("host.sys.test", "A", id=1).to_wire()))
    recv_msg(a)
    b = ctx.tcp_connect()
    b.sendall(b"\x00\x40\x12\x34")
    ctx.d.leftovers += [a, b]


# ===========================================================================
# syntax: master file syntax variants, in their own instance so that a parser gap
# does not take the main tests down
# ===========================================================================

def syn_a(ctx, name, rdtype, want, ttl=None):
    m = ctx.q(name, rdtype)
    want_rcode(m, dns.rcode.NOERROR)
    want_rdatas(m, "answer", rdtype, name, want)
    if ttl is not None:
        got = [r[2] for r in rrs(m, "answer")]
        check(got == [ttl] * len(want), "%s TTL %s, want %d" % (name, got, ttl))


@test("syntax")
def test_syntax_ttl_before_class(ctx):
    # (class before TTL is checked by zonesyntax_class_before_ttl)
    syn_a(ctx, "tbc.syn.test.", "AAAA", ["fd00:100::2"], 300)


@test("syntax")
def test_syntax_ttls(ctx):
    syn_a(ctx, "units.syn.test.", "A", ["10.100.0.3"], 5400)
    syn_a(ctx, "ns.syn.test.", "A", ["10.100.0.1"], 3600)


@test("syntax")
def test_syntax_generic_rdata_known_type(ctx):
    syn_a(ctx, "unk2.syn.test.", "A", ["10.20.30.40"])
    syn_a(ctx, "unk3.syn.test.", "A", ["10.100.0.4"])


@test("syntax")
def test_syntax_txt_escapes_and_parens(ctx):
    m = ctx.q("esc.syn.test", "TXT")
    rd = [r for s in m.answer for r in s]
    check(len(rd) == 1 and rd[0].strings == (b"semi;colon", b'quote"d', b"back\\slash", b"ABC"), describe(m))
    m = ctx.q("multiline.syn.test", "TXT")
    rd = [r for s in m.answer for r in s]
    check(len(rd) == 1 and rd[0].strings == (b"first", b"second"), describe(m))


@test("syntax")
def test_syntax_names(ctx):
    syn_a(ctx, "spaced.syn.test.", "A", ["10.100.0.5"])
    syn_a(ctx, "name\\.with\\.dots.syn.test.", "A", ["10.100.0.6"])
    m = ctx.q("name.with.dots.syn.test", "A")
    want_rcode(m, dns.rcode.NXDOMAIN)
    syn_a(ctx, "mixed.case.syn.test.", "A", ["10.100.0.7"])
    syn_a(ctx, "fq.syn.test.", "A", ["10.100.0.8"])


# ===========================================================================
# aux: chaos = yes, idle timeout 2 s, tcp_max_connections 4, default allow
# ===========================================================================

@test("aux")
def test_chaos_answers(ctx):
    for name in ("version.bind", "id.server", "hostname.bind"):
        r = ctx.dig("-c", "CH", "-t", "TXT", name)
        check(r["status"] == "NOERROR", dig_summary(r))
        txt = [a for a in r["answer"] if a["type"] == "TXT" and a["class"] == "CH"]
        check(len(txt) == 1 and txt[0]["name"] == name + ".", "want one CH TXT for %s\n%s" % (name, r["raw"]))
    m = ctx.q("version.bind", "TXT", rdclass="CH", proto="tcp")
    want_rcode(m, dns.rcode.NOERROR)
    check(len(m.answer) == 1, describe(m))
    # Other CHAOS names are still refused; IN answers still work.
    m = ctx.q("something.else", "TXT", rdclass="CH")
    check(m.rcode() in (dns.rcode.REFUSED, dns.rcode.NXDOMAIN), describe(m))
    check(not m.answer, describe(m))
    m = ctx.q("ns.aux.test", "A")
    want_rdatas(m, "answer", "A", "ns.aux.test.", ["10.50.0.1"])


@test("aux")
def test_default_allow_loopback(ctx):
    for src in ("127.0.0.1", "127.0.0.5", "127.9.9.9"):
        m = ctx.q("ns.aux.test", "A", source=src)
        want_rcode(m, dns.rcode.NOERROR)


@test("aux")
def test_default_allow_private_ranges(ctx):
    # Only inside the suite's private network namespace may we add addresses to lo.
    if os.environ.get("VPCDNSD_SYSTEST_NETNS") != "1":
        print("    # skipped: needs the private network namespace")
        return
    allowed = ["10.1.2.3", "172.16.5.5", "172.31.255.254", "192.168.7.7"]
    # (100.64.0.0/10 is left out: the README documents it as a default, the spec does not)
    refused = ["192.0.2.1", "172.32.0.1", "11.0.0.1", "198.18.0.1", "9.9.9.9"]
    if HAVE_V6:
        allowed6, refused6 = ["fd00::5", "fc12::7"], ["2001:db8::5", "fe80::1"]
    else:
        allowed6 = refused6 = []
    for a in allowed + refused:
        subprocess.run(["ip", "addr", "add", a + "/32", "dev", "lo"], stderr=subprocess.DEVNULL)
    for a in allowed6 + refused6:
        if not a.startswith("fe80"):
            subprocess.run(["ip", "-6", "addr", "add", a + "/128", "dev", "lo", "nodad"],
                           stderr=subprocess.DEVNULL)
    refused6 = [a for a in refused6 if not a.startswith("fe80")]
    time.sleep(0.2)
    problems = []
    for src in allowed + refused:
        m = ctx.q("ns.aux.test", "A", source=src)
        want = dns.rcode.NOERROR if src in allowed else dns.rcode.REFUSED
        if m.rcode() != want:
            problems.append("%s: %s, want %s" % (src, dns.rcode.to_text(m.rcode()), dns.rcode.to_text(want)))
    for src in allowed6 + refused6:
        m = ctx.q("ns.aux.test", "A", source=src, addr="::1")
        want = dns.rcode.NOERROR if src in allowed6 else dns.rcode.REFUSED
        if m.rcode() != want:
            problems.append("%s: %s, want %s" % (src, dns.rcode.to_text(m.rcode()), dns.rcode.to_text(want)))
    check(not problems, "default allow (loopback + RFC 1918 + fc00::/7): " + "; ".join(problems))


@test("aux")
def test_tcp_idle_timeout(ctx):
    s = ctx.tcp_connect()
    try:
        s.sendall(frame(dns.message.make_query("ns.aux.test", "A", id=9).to_wire()))
        check(dns.message.from_wire(recv_msg(s)).id == 9, "ID mismatch")
        t0 = time.time()
        closed = wait_closed(s, 5.0)
        dt = time.time() - t0
        check(closed, "idle connection still open after 5s (tcp_idle_timeout = 2)")
        check(dt > 1.0, "idle connection closed after %.1fs, tcp_idle_timeout = 2" % dt)
    finally:
        s.close()
    # An idle connection that never sent anything is closed too, and so is one stuck
    # in the middle of a message (slowloris).
    s = ctx.tcp_connect()
    try:
        check(wait_closed(s, 5.0), "silent connection still open after 5s")
    finally:
        s.close()
    s = ctx.tcp_connect()
    try:
        s.sendall(b"\x00\x30\x12\x34\x01")
        check(wait_closed(s, 5.0), "connection with a half-sent message still open after 5s")
    finally:
        s.close()


@test("aux")
def test_tcp_max_connections_oldest_idle_closed(ctx):
    conns = []
    try:
        for i in range(4):
            c = ctx.tcp_connect()
            c.sendall(frame(dns.message.make_query("ns.aux.test", "A", id=100 + i).to_wire()))
            check(dns.message.from_wire(recv_msg(c)).id == 100 + i, "ID mismatch")
            conns.append(c)
            time.sleep(0.05)
        c5 = ctx.tcp_connect()
        conns.append(c5)
        c5.sendall(frame(dns.message.make_query("ns.aux.test", "A", id=200).to_wire()))
        r = dns.message.from_wire(recv_msg(c5))
        check(r.id == 200, "5th connection not answered with tcp_max_connections = 4")
        check(wait_closed(conns[0], 1.0), "oldest idle connection not closed when the 5th arrived")
        # The newest of the old ones must still work.
        conns[3].sendall(frame(dns.message.make_query("ns.aux.test", "A", id=201).to_wire()))
        check(dns.message.from_wire(recv_msg(conns[3])).id == 201, "ID mismatch")
    finally:
        for c in conns:
            c.close()


# ===========================================================================
# priv: user = nobody
# ===========================================================================

@test("priv")
def test_privileges_dropped(ctx):
    if os.geteuid() != 0:
        return
    m = ctx.q("ns.priv.test", "A")
    want_rdatas(m, "answer", "A", "ns.priv.test.", ["10.60.0.1"])
    pid = ctx.d.pid()
    bad = []
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            st = f.read()
        uids = re.search(r"^Uid:\s+(.*)$", st, re.M).group(1).split()
        gids = re.search(r"^Gid:\s+(.*)$", st, re.M).group(1).split()
        if set(uids) != {"65534"} or "0" in gids:
            bad.append("task %s Uid %s Gid %s" % (tid, uids, gids))
    check(not bad, "not running as nobody: " + "; ".join(bad))
    m = ctx.q("ns.priv.test", "A", proto="tcp")
    want_rcode(m, dns.rcode.NOERROR)


@test("priv")
def test_privileges_dropped_reload(ctx):
    # SIGHUP after the privilege drop still reloads (files are world-readable).
    d = os.path.dirname(ctx.d.ini)
    write(os.path.join(d, "priv.test.zone"), PRIV_ZONE.replace("hostmaster 1 ", "hostmaster 2 ")
          + "new IN A 10.60.0.2\n")
    hup_and_wait(ctx, lambda: soa_serial(ctx, "priv.test") == 2, "serial 2 not served after reload as nobody")
    m = ctx.q("new.priv.test", "A", proto="tcp")
    want_rdatas(m, "answer", "A", "new.priv.test.", ["10.60.0.2"])


# ===========================================================================
# reload: SIGHUP
# ===========================================================================

def hup_and_wait(ctx, pred, what, timeout=5.0):
    os.kill(ctx.d.pid(), signal.SIGHUP)
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = pred()
            if last is True:
                return
        except Exception as e:  # noqa
            last = e
        time.sleep(0.1)
    raise TestFailure("after SIGHUP: %s (last: %s)" % (what, last))


def soa_serial(ctx, zone):
    m = ctx.q(zone, "SOA")
    s = [r for r in m.answer if r.rdtype == dns.rdatatype.SOA]
    return s[0][0].serial if s else None


@test("reload")
def test_reload_new_serial(ctx):
    d = os.path.dirname(ctx.d.ini)
    check(soa_serial(ctx, "reload.test") == 1, "initial serial not 1")
    m = ctx.q("2.0.70.10.in-addr.arpa", "PTR")
    want_rcode(m, dns.rcode.NXDOMAIN)
    write(os.path.join(d, "reload.test.zone"), reload_zone(2, "new IN A 10.70.0.2\n"))
    hup_and_wait(ctx, lambda: soa_serial(ctx, "reload.test") == 2, "serial 2 not served")
    m = ctx.dig("new.reload.test", "A")
    check(m["status"] == "NOERROR" and [a["rdata"] for a in m["answer"]] == ["10.70.0.2"], dig_summary(m))
    # Synthesized PTRs follow the reloaded data.
    r = ctx.dig("-x", "10.70.0.2")
    check(r["status"] == "NOERROR" and [a["rdata"] for a in r["answer"]] == ["new.reload.test."],
          "PTR after reload\n" + dig_summary(r))
    check(ctx.d.alive(), "daemon died")


@test("reload")
def test_reload_open_tcp_connection_sees_new_data(ctx):
    d = os.path.dirname(ctx.d.ini)
    s = ctx.tcp_connect(timeout=3)
    try:
        def serial_on_conn(qid):
            s.sendall(frame(dns.message.make_query("reload.test", "SOA", id=qid).to_wire()))
            r = dns.message.from_wire(recv_msg(s))
            return [x for x in r.answer if x.rdtype == dns.rdatatype.SOA][0][0].serial
        before = serial_on_conn(1)
        write(os.path.join(d, "reload.test.zone"), reload_zone(before + 1, "new IN A 10.70.0.2\n"))
        hup_and_wait(ctx, lambda: soa_serial(ctx, "reload.test") == before + 1, "new serial not served")
        check(serial_on_conn(2) == before + 1, "connection opened before the reload sees old data")
    finally:
        s.close()


@test("reload")
def test_reload_broken_zone_keeps_old(ctx):
    d = os.path.dirname(ctx.d.ini)
    before = soa_serial(ctx, "reload.test")
    text = reload_zone(99, "ok2 IN A 10.70.0.3\nbroken IN A 10.70.0.999\n")
    write(os.path.join(d, "reload.test.zone"), text)
    off = ctx.d.log_size()
    os.kill(ctx.d.pid(), signal.SIGHUP)
    want = "reload.test.zone:%d" % line_of(text, "broken")
    deadline = time.time() + 5
    while time.time() < deadline and want not in ctx.d.log_since(off):
        time.sleep(0.1)
    check(ctx.d.alive(), "daemon died on a broken zone at reload")
    check(want in ctx.d.log_since(off), "log does not name %s:\n%s" % (want, ctx.d.log_since(off)))
    check(soa_serial(ctx, "reload.test") == before, "serial changed after a failed reload")
    m = ctx.q("ns.reload.test", "A")
    want_rdatas(m, "answer", "A", "ns.reload.test.", ["10.70.0.1"])
    m = ctx.q("ok2.reload.test", "A")
    want_rcode(m, dns.rcode.NXDOMAIN)
    # Fixed again: served.
    write(os.path.join(d, "reload.test.zone"), reload_zone(3, "ok2 IN A 10.70.0.3\n"))
    hup_and_wait(ctx, lambda: soa_serial(ctx, "reload.test") == 3, "serial 3 not served after fixing")


@test("reload")
def test_reload_missing_zone_file_keeps_old(ctx):
    d = os.path.dirname(ctx.d.ini)
    path = os.path.join(d, "reload.test.zone")
    before = soa_serial(ctx, "reload.test")
    saved = open(path).read()
    os.rename(path, path + ".moved")
    try:
        off = ctx.d.log_size()
        os.kill(ctx.d.pid(), signal.SIGHUP)
        deadline = time.time() + 5
        while time.time() < deadline and "reload.test.zone" not in ctx.d.log_since(off):
            time.sleep(0.1)
        check(ctx.d.alive(), "daemon died when a zone file vanished before reload")
        check("reload.test.zone" in ctx.d.log_since(off), "no log naming the missing zone file")
        check(soa_serial(ctx, "reload.test") == before, "zone not served from the previous data")
    finally:
        os.rename(path + ".moved", path)
    check(open(path).read() == saved, "test bug")


@test("reload")
def test_reload_config_adds_and_removes_zone(ctx):
    m = ctx.q("ns.added.test", "A")
    want_rcode(m, dns.rcode.REFUSED)
    write(ctx.d.ini, reload_ini(ctx.port, with_added=True))
    hup_and_wait(ctx, lambda: soa_serial(ctx, "added.test") == 5, "added zone not served")
    m = ctx.q("ns.added.test", "A", proto="tcp")
    want_rdatas(m, "answer", "A", "ns.added.test.", ["10.71.0.1"])
    write(ctx.d.ini, reload_ini(ctx.port, with_added=False))
    hup_and_wait(ctx, lambda: ctx.q("ns.added.test", "A").rcode() == dns.rcode.REFUSED,
                 "removed zone still served")
    want_rcode(ctx.q("ns.reload.test", "A"), dns.rcode.NOERROR)


@test("reload")
def test_reload_broken_config_keeps_serving(ctx):
    good = reload_ini(ctx.port)
    bad = good + "\n[server2]\nbogus = 1\n"
    off = ctx.d.log_size()
    write(ctx.d.ini, bad)
    os.kill(ctx.d.pid(), signal.SIGHUP)
    want = "reload.ini:%d" % line_of(bad, "[server2]")
    deadline = time.time() + 5
    while time.time() < deadline and want not in ctx.d.log_since(off):
        time.sleep(0.1)
    write(ctx.d.ini, good)
    check(ctx.d.alive(), "daemon died on a broken config at reload")
    check(want in ctx.d.log_since(off), "log does not name %s:\n%s" % (want, ctx.d.log_since(off)))
    want_rcode(ctx.q("ns.reload.test", "A"), dns.rcode.NOERROR)


@test("reload")
def test_reload_under_load(ctx):
    # Queries keep being answered while SIGHUP reloads repeatedly.
    d = os.path.dirname(ctx.d.ini)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    answered = 0
    try:
        for i in range(5):
            write(os.path.join(d, "reload.test.zone"), reload_zone(10 + i, "ok2 IN A 10.70.0.3\n"))
            os.kill(ctx.d.pid(), signal.SIGHUP)
            for j in range(20):
                s.sendto(dns.message.make_query("ns.reload.test", "A", id=i * 100 + j).to_wire(),
                         (ctx.addr, ctx.port))
                try:
                    r = dns.message.from_wire(s.recv(65535))
                    if r.rcode() == dns.rcode.NOERROR and r.answer:
                        answered += 1
                except socket.timeout:
                    pass
    finally:
        s.close()
    check(ctx.d.alive(), "daemon died during reloads")
    check(answered >= 95, "only %d of 100 queries answered during reloads" % answered)
    hup_and_wait(ctx, lambda: soa_serial(ctx, "reload.test") == 14, "final serial 14 not served", timeout=3)


class Hammer:
    """Background UDP + TCP query load from a few threads, bounded by a deadline."""

    def __init__(self, ctx, names, seconds, threads=3):
        self.ctx, self.names, self.deadline = ctx, names, time.time() + seconds
        self.sent = self.answered = self.errors = 0
        self.lock = threading.Lock()
        self.stop_flag = False
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *a):
        self.stop_flag = True
        for t in self.threads:
            t.join(10)

    def run(self, i):
        n = 0
        while not self.stop_flag and time.time() < self.deadline:
            name = self.names[n % len(self.names)]
            proto = "tcp" if (n + i) % 3 == 0 else "udp"
            n += 1
            try:
                m = self.ctx.q(name, "A", proto=proto, timeout=1.0)
                ok = m.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.REFUSED)
                with self.lock:
                    self.sent += 1
                    self.answered += ok
            except Exception:
                with self.lock:
                    self.sent += 1
                    self.errors += 1
                time.sleep(0.05)


@test("reload")
def test_reload_storm_with_concurrent_queries(ctx):
    # 15 reloads (zones and config alternating) while three threads query over UDP and TCP.
    d = os.path.dirname(ctx.d.ini)
    with Hammer(ctx, ["ns.reload.test", "ns.added.test", "new.reload.test", "nx.reload.test"], 4.0) as h:
        for i in range(15):
            write(os.path.join(d, "reload.test.zone"), reload_zone(100 + i, "new IN A 10.70.0.%d\n" % (i + 1)))
            write(ctx.d.ini, reload_ini(ctx.port, with_added=bool(i % 2)))
            os.kill(ctx.d.pid(), signal.SIGHUP)
            time.sleep(0.15)
    write(ctx.d.ini, reload_ini(ctx.port))
    check(ctx.d.alive(), "daemon died during the reload storm")
    check(h.sent > 50, "only %d queries sent" % h.sent)
    check(h.errors <= h.sent // 20, "%d of %d queries unanswered during reloads" % (h.errors, h.sent))
    hup_and_wait(ctx, lambda: soa_serial(ctx, "reload.test") == 114, "final serial 114 not served")


# ===========================================================================
# term: SIGTERM while busy
# ===========================================================================

@test("term")
def test_sigterm_under_load(ctx):
    with Hammer(ctx, ["host.sys.test", "big.sys.test", "nx.sys.test"], 3.0, threads=4):
        time.sleep(0.7)
        idle = ctx.tcp_connect()
        half = ctx.tcp_connect()
        half.sendall(b"\x00\x40\x00")
        try:
            rc, dt = ctx.d.stop()
        finally:
            idle.close()
            half.close()
    check(rc is not None, "still running %.0fs after SIGTERM under load" % STOP_TIMEOUT)
    check(rc == 0, "exit status %s after SIGTERM under load" % rc)
    check(dt < 3.0, "took %.1fs to stop" % dt)


# ===========================================================================
# forward: recursion = yes with [forward] / [forward:DOMAIN] upstreams (only for a vpcdnsd that
# knows `recursion`; the upstreams are fake servers on loopback run by this suite)
# ===========================================================================

class FakeUpstream:
    """A tiny loopback DNS server (UDP + TCP) that logs what it is asked.

    Names (relative to the upstream's domain):
      nx.*     NXDOMAIN with a SOA
      slow.*   never answered
      tc.*     UDP: empty reply with TC=1; TCP: the answer
      spoof.*  UDP: first a reply with a wrong ID (A 6.6.6.6), then the real one
      delay.*  answered after 0.05 s; delay4.* after 0.4 s
      short.*  A with TTL 1
    While .down is set nothing is answered.
      else     A <prefix>.N with TTL 60 (N counts queries, so a cache hit is visible)
    """

    def __init__(self, prefix):
        self.prefix = prefix
        self.log = []   # (transport, qname lowercased, qtype text)
        self.lock = threading.Lock()
        # A port free for both UDP and TCP: the UDP one the kernel picks may
        # be taken for TCP (a connection of an earlier test), so try again.
        for _ in range(100):
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("127.0.0.1", 0))
            self.port = self.udp.getsockname()[1]
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.tcp.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.tcp.close()
                self.udp.close()
        self.tcp.listen(16)
        self.udp.settimeout(0.2)
        self.tcp.settimeout(0.2)
        self.stop_flag = False
        self.down = False
        self.n = 0
        self.threads = [threading.Thread(target=self._udp_loop, daemon=True),
                        threading.Thread(target=self._tcp_loop, daemon=True)]
        for t in self.threads:
            t.start()

    def close(self):
        self.stop_flag = True
        for t in self.threads:
            t.join(2)
        self.udp.close()
        self.tcp.close()

    def queries(self, transport=None):
        with self.lock:
            return [q for q in self.log if transport is None or q[0] == transport]

    def _answer(self, q, transport):
        name = q.question[0].name.to_text().lower()
        qtype = dns.rdatatype.to_text(q.question[0].rdtype)
        with self.lock:
            self.log.append((transport, name, qtype))
            self.n += 1
            n = self.n
        r = dns.message.make_response(q)
        r.flags &= ~dns.flags.AA
        r.flags |= dns.flags.RA
        first = name.split(".")[0]
        if first == "slow" or self.down:
            return None
        if first == "delay":
            time.sleep(0.05)
        if first == "delay4":
            time.sleep(0.4)
        if first == "nx":
            r.set_rcode(dns.rcode.NXDOMAIN)
            zone = dns.name.from_text(name).parent()
            r.authority.append(dns.rrset.from_text(zone, 300, "IN", "SOA", "ns.%s h.%s 1 3600 600 86400 60"
                                                   % (zone, zone)))
            return r
        if first == "tc" and transport == "udp":
            r.flags |= dns.flags.TC
            return r
        if q.question[0].rdtype == dns.rdatatype.A:
            r.answer.append(dns.rrset.from_text(q.question[0].name, 1 if first == "short" else 60, "IN", "A",
                                                "%s.%d" % (self.prefix, n % 250)))
        return r

    def _udp_loop(self):
        while not self.stop_flag:
            try:
                data, peer = self.udp.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                q = dns.message.from_wire(data)
            except Exception:
                continue
            if q.question and q.question[0].name.to_text().lower().startswith("delay"):
                threading.Thread(target=self._udp_reply, args=(q, peer), daemon=True).start()
                continue
            r = self._answer(q, "udp")
            if r is None:
                continue
            if q.question[0].name.to_text().lower().startswith("spoof."):
                bogus = dns.message.make_response(q)
                bogus.id = (q.id + 1) & 0xFFFF
                bogus.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN", "A", "6.6.6.6"))
                self.udp.sendto(bogus.to_wire(), peer)
                time.sleep(0.05)
            self.udp.sendto(r.to_wire(), peer)

    def _udp_reply(self, q, peer):
        r = self._answer(q, "udp")
        if r is not None and not self.stop_flag:
            try:
                self.udp.sendto(r.to_wire(), peer)
            except OSError:
                pass

    def _tcp_loop(self):
        while not self.stop_flag:
            try:
                c, _ = self.tcp.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(2)
            try:
                while True:
                    q = dns.message.from_wire(recv_msg(c))
                    r = self._answer(q, "tcp")
                    if r is not None:
                        c.sendall(frame(r.to_wire()))
            except Exception:
                pass
            finally:
                c.close()


FWD_ZONE = """$ORIGIN fwdzone.test.
$TTL 300
@ IN SOA ns hostmaster 1 3600 600 86400 60
@ IN NS ns
ns IN A 10.110.0.1
"""


def write_forward(tmp, port, up1, up2, dead):
    d = os.path.join(tmp, "forward")
    write(os.path.join(d, "fwdzone.test.zone"), FWD_ZONE)
    ini = """[server]
listen = 127.0.0.1:%d
workers = 2
recursion = yes
upstream_timeout = 1000
allow = 127.0.0.1/32, 127.0.0.5/32

[forward]
upstream = 127.0.0.1:%d

[forward:corp.example]
upstream = 127.0.0.1:%d

[forward:failover.example]
upstream = 127.0.0.1:%d, 127.0.0.1:%d
policy = ordered

[forward:stale.example]
upstream = 127.0.0.1:%d

[zone:fwdzone.test]
file = fwdzone.test.zone
""" % (port, up1, up2, dead, up1, up2)
    path = os.path.join(d, "forward.ini")
    write(path, ini)
    return path


@test("forward")
def test_forward_basic(ctx):
    r = ctx.dig("www.fwd.example", "A")
    check(r["status"] == "NOERROR", dig_summary(r))
    check("ra" in r["flags"] and "aa" not in r["flags"], "forwarded answer: want RA=1 AA=0\n" + dig_summary(r))
    check([a["rdata"].startswith("192.0.2.") for a in r["answer"]] == [True], dig_summary(r))
    check(("udp", "www.fwd.example.", "A") in ctx.up1.queries(), "upstream not asked: %s" % ctx.up1.queries())
    r = ctx.kdig("+tcp", "tcpclient.fwd.example", "A")
    check(r["status"] == "NOERROR" and len(r["answer"]) == 1, dig_summary(r))


@test("forward")
def test_forward_cached(ctx):
    m1 = ctx.q("cached.fwd.example", "A")
    m2 = ctx.q("CACHED.fwd.example", "A")
    n = len([q for q in ctx.up1.queries() if q[1] == "cached.fwd.example."])
    check(n == 1, "asked upstream %d times for one name within its TTL" % n)
    check(rrs(m1, "answer")[0][3] == rrs(m2, "answer")[0][3], "second answer differs%s%s" % (describe(m1), describe(m2)))
    check(m2.question[0].name.to_text() == "CACHED.fwd.example.", "question case not echoed from cache")
    check(rrs(m2, "answer")[0][2] <= 60, "TTL grew")


@test("forward")
def test_forward_served_zones_and_private_reverse_stay_local(ctx):
    before = len(ctx.up1.queries()) + len(ctx.up2.queries())
    m = ctx.q("ns.fwdzone.test", "A")
    want_rdatas(m, "answer", "A", "ns.fwdzone.test.", ["10.110.0.1"])
    want_aa(m)
    m = ctx.q("nothere.fwdzone.test", "A")
    want_rcode(m, dns.rcode.NXDOMAIN)
    # RFC 6303: private reverse ranges are answered here.
    for name in ("1.1.168.192.in-addr.arpa", "1.0.16.172.in-addr.arpa", "4.3.2.10.in-addr.arpa"):
        m = ctx.q(name, "PTR")
        want_rcode(m, dns.rcode.NXDOMAIN)
    after = len(ctx.up1.queries()) + len(ctx.up2.queries())
    check(after == before, "local names sent upstream: %s" % (ctx.up1.queries() + ctx.up2.queries())[before:])


@test("forward")
def test_forward_conditional(ctx):
    m = ctx.q("host.corp.example", "A")
    want_rcode(m, dns.rcode.NOERROR)
    check(rrs(m, "answer") and rrs(m, "answer")[0][3].startswith("198.51.100."), describe(m))
    check(any(q[1] == "host.corp.example." for q in ctx.up2.queries()), "corp upstream not asked")
    check(not any("corp.example" in q[1] for q in ctx.up1.queries()), "default upstream asked for corp.example")


@test("forward")
def test_forward_nxdomain_relayed(ctx):
    m = ctx.q("nx.fwd.example", "A")
    want_rcode(m, dns.rcode.NXDOMAIN)
    check(m.flags & dns.flags.RA, "RA not set%s" % describe(m))
    check([x for x in m.authority if x.rdtype == dns.rdatatype.SOA], "SOA not relayed%s" % describe(m))


@test("forward")
def test_forward_timeout_servfail(ctx):
    t0 = time.time()
    m = ctx.q("slow.fwd.example", "A", timeout=4)
    dt = time.time() - t0
    want_rcode(m, dns.rcode.SERVFAIL)
    check(dt < 2.5, "SERVFAIL after %.1fs with upstream_timeout = 1000" % dt)


@test("forward")
def test_forward_upstream_tc_retried_over_tcp(ctx):
    m = ctx.q("tc.fwd.example", "A")
    want_rcode(m, dns.rcode.NOERROR)
    check(len(rrs(m, "answer", "A")) == 1, "no answer after upstream TC%s" % describe(m))
    check(("tcp", "tc.fwd.example.", "A") in ctx.up1.queries(), "upstream not retried over TCP: %s"
          % ctx.up1.queries())


@test("forward")
def test_forward_spoofed_reply_ignored(ctx):
    m = ctx.q("spoof.fwd.example", "A")
    want_rcode(m, dns.rcode.NOERROR)
    got = [r[3] for r in rrs(m, "answer", "A")]
    check(got and "6.6.6.6" not in got, "reply with the wrong ID accepted: %s" % got)


@test("forward")
def test_forward_acl(ctx):
    before = len(ctx.up1.queries())
    m = ctx.q("acl.fwd.example", "A", source="127.0.0.2")
    want_rcode(m, dns.rcode.REFUSED)
    check(len(ctx.up1.queries()) == before, "query from a refused source was forwarded")
    m = ctx.q("acl.fwd.example", "A", source="127.0.0.5")
    want_rcode(m, dns.rcode.NOERROR)


@test("forward")
def test_forward_identical_questions_coalesced(ctx):
    # 8 clients ask the same question while the upstream takes 0.4 s: it goes upstream once.
    socks = []
    try:
        for i in range(8):
            c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            c.settimeout(3)
            c.sendto(dns.message.make_query("delay.fwd.example", "A", id=900 + i).to_wire(), (ctx.addr, ctx.port))
            socks.append(c)
        answers = [dns.message.from_wire(c.recv(65535)) for c in socks]
    finally:
        for c in socks:
            c.close()
    check(all(a.rcode() == dns.rcode.NOERROR and a.answer for a in answers),
          "not every client got the answer: %s" % [(a.id, dns.rcode.to_text(a.rcode()), len(a.answer))
                                                    for a in answers])
    check(sorted(a.id for a in answers) == list(range(900, 908)), "IDs mixed up between clients")
    n = len([q for q in ctx.up1.queries() if q[1] == "delay.fwd.example."])
    # Once per worker at most (the instance has 2 workers, each with its own sockets).
    check(n <= 2, "identical in-flight questions went upstream %d times" % n)


@test("forward")
def test_forward_failover(ctx):
    # [forward:failover.example] lists a silent upstream first (policy ordered): the answer still
    # comes, from the second, within upstream_timeout.
    t0 = time.time()
    m = ctx.q("www.failover.example", "A", timeout=4)
    want_rcode(m, dns.rcode.NOERROR)
    check(rrs(m, "answer") and rrs(m, "answer")[0][3].startswith("192.0.2."), describe(m))
    check(time.time() - t0 < 2.0, "failover took %.1fs" % (time.time() - t0))


@test("forward")
def test_forward_serve_stale(ctx):
    # An answer with TTL 1: once it has expired and the upstream is down, the stale answer is
    # served with TTL 30 (RFC 8767; README: serve_stale = yes by default) rather than SERVFAIL.
    m = ctx.q("short.stale.example", "A")
    want_rcode(m, dns.rcode.NOERROR)
    first = rrs(m, "answer")[0][3]
    ctx.up2.down = True
    try:
        time.sleep(1.5)
        m = ctx.q("short.stale.example", "A", timeout=4)
    finally:
        ctx.up2.down = False
    want_rcode(m, dns.rcode.NOERROR)
    got = rrs(m, "answer")
    check(got and got[0][3] == first and got[0][2] == 30, "want the stale A %s with TTL 30%s" % (first, describe(m)))


@test("forward")
def test_forward_slow_upstream_answered(ctx):
    # After fast answers taught the daemon a ~1 ms RTT, the upstream takes 0.4 s for a while:
    # with upstream_timeout = 1000 the answer must still get through (late replies accepted or
    # retransmission backing off), not SERVFAIL.
    for i in range(5):
        m = ctx.q("warm%d.fwd.example" % i, "A")
        want_rcode(m, dns.rcode.NOERROR)
    t0 = time.time()
    m = ctx.q("delay4.fwd.example", "A", timeout=4)
    dt = time.time() - t0
    asked = len([q for q in ctx.up1.queries() if q[1] == "delay4.fwd.example."])
    check(m.rcode() == dns.rcode.NOERROR and m.answer,
          "%s after %.2fs (upstream asked %d times, answers each after 0.4 s; upstream_timeout = 1000)%s"
          % (dns.rcode.to_text(m.rcode()), dt, asked, describe(m)))


@test("forward")
def test_forward_sigusr1_counters(ctx):
    off = ctx.d.log_size()
    os.kill(ctx.d.pid(), signal.SIGUSR1)
    deadline = time.time() + 3
    while time.time() < deadline and not ctx.d.log_since(off).strip():
        time.sleep(0.1)
    check(ctx.d.alive(), "SIGUSR1 killed the daemon")
    check("quer" in ctx.d.log_since(off).lower(), "no counters logged on SIGUSR1:\n" + ctx.d.log_since(off))


@test("forward")
def test_forward_flood_bounded(ctx):
    # 200 distinct names at once (bounded), some never answered upstream: every client gets an
    # answer or SERVFAIL, and the daemon stays up.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3.0)
    try:
        for i in range(200):
            name = "slow.s%d.fwd.example" % i if i % 4 == 0 else "n%d.fwd.example" % i
            s.sendto(dns.message.make_query(name, "A", id=i).to_wire(), (ctx.addr, ctx.port))
        got = {}
        deadline = time.time() + 4
        while len(got) < 200 and time.time() < deadline:
            try:
                r = dns.message.from_wire(s.recv(65535))
                got[r.id] = r.rcode()
            except socket.timeout:
                break
    finally:
        s.close()
    check(ctx.d.alive(), "daemon died")
    check(len(got) >= 190, "only %d of 200 forwarded queries answered (answer or SERVFAIL)" % len(got))


# ===========================================================================
# Runner
# ===========================================================================

def make_daemon(group):
    if group == "main":
        port = free_port()
        ini = write_main(TMP, port)
        ext = None
        if ARGS.external_main:
            h, p = ARGS.external_main.rsplit(":", 1)
            ext = (h.strip("[]"), int(p))
        return Daemon("main", ini, port, "sys.test", external=ext)
    if group == "syntax":
        port = free_port()
        return Daemon("syntax", write_syntax(TMP, port), port, "syn.test")
    if group == "aux":
        port = free_port()
        return Daemon("aux", write_aux(TMP, port), port, "aux.test")
    if group == "priv":
        port = free_port()
        return Daemon("priv", write_priv(TMP, port), port, "priv.test")
    if group == "forward":
        if not EXTRA_SERVER:
            return "skip"
        port = free_port()
        up1, up2 = FakeUpstream("192.0.2"), FakeUpstream("198.51.100")
        dead = FakeUpstream("203.0.113")
        dead.down = True
        d = Daemon("forward", write_forward(TMP, port, up1.port, up2.port, dead.port), port, "fwdzone.test")
        d.upstreams = (up1, up2, dead)
        return d
    if group == "term":
        port = free_port()
        return Daemon("term", write_main(os.path.join(TMP, "term"), port), port, "sys.test")
    if group == "reload":
        port = free_port()
        return Daemon("reload", write_reload(TMP, port), port, "reload.test", relative=True)
    return None


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, name):
        self.passed += 1
        print("ok %s" % name, flush=True)

    def fail(self, name, reason, daemon=None):
        self.failed += 1
        reason = str(reason).rstrip()
        first, _, rest = reason.partition("\n")
        print("FAIL %s: %s" % (name, first), flush=True)
        for l in rest.split("\n") if rest else []:
            print("    " + l)
        if daemon is not None and daemon.proc is not None:
            log = daemon.log()
            tail = log.split("\n")[-40:]
            print("    --- vpcdnsd (%s) stderr, last %d lines (%s) ---" % (daemon.name, len(tail), daemon.logpath))
            for l in tail:
                print("    | " + l)
        sys.stdout.flush()


def run_group(group, tests, res):
    daemon = make_daemon(group)
    if daemon == "skip":
        for name, _, _ in tests:
            print("ok %s # skipped: this vpcdnsd has no `recursion` key" % name)
            res.passed += 1
        return
    ctx = Ctx(daemon) if daemon else None
    if ctx and getattr(daemon, "upstreams", None):
        ctx.up1, ctx.up2, ctx.up_dead = daemon.upstreams
    if daemon:
        if not daemon.start():
            for name, _, _ in tests:
                res.fail(name, "daemon did not start: " + daemon.start_error, daemon)
            daemon.kill()
            res.fail("shutdown_" + group, "daemon did not start", daemon)
            return
    crashes = []
    for name, _, fn in tests:
        if daemon and daemon.proc is not None and not daemon.alive() and not daemon.stopped:
            # It died in an earlier test (already failed there): restart it so that one crash
            # does not fail every later test.
            if not daemon.start():
                res.fail(name, "daemon died earlier and did not restart: %s" % daemon.start_error, daemon)
                continue
        off = daemon.log_size() if daemon else 0
        t0 = time.time()
        try:
            fn(ctx)
            if daemon:
                new = daemon.log_since(off)
                for mk in SANITIZER_MARKERS:
                    check(mk not in new, "sanitizer report in vpcdnsd stderr during this test")
                check(daemon.alive() or daemon.stopped, "daemon died during this test (exit %s)" %
                      (daemon.proc.returncode if daemon.proc else "?"))
            res.ok(name)
        except TestFailure as e:
            res.fail(name, e, daemon)
        except (dns.exception.Timeout, socket.timeout, ConnectionError, EOFError) as e:
            where = traceback.extract_tb(e.__traceback__)
            line = [f for f in where if f.filename == os.path.abspath(__file__) and f.name.startswith("test_")] \
                or [f for f in where if f.filename == os.path.abspath(__file__)]
            res.fail(name, "%s: %s (at line %s)" % (type(e).__name__, e, line[-1].lineno if line else "?"), daemon)
        except Exception as e:  # unexpected exception: a test bug or a client-side surprise
            res.fail(name, "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc(limit=3)), daemon)
        if daemon and daemon.proc is not None:
            new = daemon.log_since(off)
            if not daemon.alive() and not daemon.stopped:
                crashes.append("%s (exit %s)" % (name, daemon.proc.returncode))
                print("    # vpcdnsd (%s) died during %s (exit %s); restarting it for the next tests"
                      % (group, name, daemon.proc.returncode))
            elif any(mk in new for mk in SANITIZER_MARKERS):
                crashes.append("%s (sanitizer report)" % name)
        if ARGS.verbose:
            print("    (%.2fs)" % (time.time() - t0))
    if daemon and daemon.proc is not None:
        name = "shutdown_" + group
        try:
            rc, dt = daemon.stop()
            check(rc is not None, "still running %.0fs after SIGTERM" % STOP_TIMEOUT)
            check(rc == 0, "exit status %s after SIGTERM, want 0" % rc)
            check(not crashes, "vpcdnsd crashed or reported errors during: " + ", ".join(crashes))
            log = daemon.log()
            for mk in SANITIZER_MARKERS:
                check(mk not in log, "sanitizer report in vpcdnsd stderr")
            res.ok(name)
        except TestFailure as e:
            res.fail(name, e, daemon)
        finally:
            daemon.kill()
    if daemon:
        for sock in daemon.leftovers:
            sock.close()
        daemon.kill()
        for up in getattr(daemon, "upstreams", ()):
            up.close()


def main():
    global ARGS, TMP, HAVE_V6
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vpcdnsd", required=True, help="path to the vpcdnsd binary")
    ap.add_argument("-k", dest="select", default=None, help="run only tests whose name contains this")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--external-main", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--list", action="store_true", help="list test names and exit")
    ap.add_argument("--write-fixtures", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--no-netns", action="store_true",
                    help="do not run inside a private network namespace (see below)")
    ARGS = ap.parse_args()
    # Loopback only, guaranteed: when possible (root, unshare(1) allowed) the whole run moves
    # into a new network namespace whose only interface is lo, so nothing the daemon does
    # (e.g. forwarding to a resolv.conf upstream) can leave the machine, and ports cannot clash
    # with anything else running.  Falls back to the host namespace silently.
    if (not ARGS.no_netns and not ARGS.list and not ARGS.write_fixtures and not ARGS.external_main
            and os.environ.get("VPCDNSD_SYSTEST_NETNS") != "1" and os.geteuid() == 0
            and shutil.which("unshare") and shutil.which("ip")):
        probe = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if probe.returncode == 0:
            env = dict(os.environ, VPCDNSD_SYSTEST_NETNS="1")
            cmd = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"',
                   sys.executable, os.path.abspath(__file__)] + sys.argv[1:]
            sys.stdout.flush()
            return subprocess.call(cmd, env=env)
    if ARGS.write_fixtures:
        HAVE_V6 = v6_available()
        TMP = ARGS.write_fixtures
        os.makedirs(TMP, exist_ok=True)
        for fn, port in ((write_main, 53000), (write_syntax, 53004), (write_aux, 53001), (write_priv, 53002), (write_reload, 53003)):
            print(fn(TMP, port))
        return 0
    if ARGS.list:
        for name, group, _ in TESTS:
            print("%-8s %s" % (group, name))
        for g in GROUP_ORDER[1:]:
            print("%-8s shutdown_%s" % (g, g))
        return 0
    ARGS.vpcdnsd = os.path.abspath(ARGS.vpcdnsd)
    if not os.access(ARGS.vpcdnsd, os.X_OK):
        print("FAIL setup: %s is not an executable" % ARGS.vpcdnsd)
        print("0 passed, 1 failed")
        return 1
    for tool in ("dig", "kdig"):
        if shutil.which(tool) is None:
            print("FAIL setup: %s not found (apt-get install bind9-dnsutils knot-dnsutils)" % tool)
            print("0 passed, 1 failed")
            return 1
    HAVE_V6 = v6_available()
    atexit.register(_cleanup_daemons)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(3))
    TMP = tempfile.mkdtemp(prefix="vpcdnsd-system-")
    os.chmod(TMP, 0o755)   # the priv instance runs as nobody
    probe_extra_server_lines()
    res = Results()
    t0 = time.time()
    try:
        for group in GROUP_ORDER:
            if ARGS.external_main and group != "main":
                continue
            tests = [t for t in TESTS if t[1] == group and (not ARGS.select or ARGS.select in t[0])]
            if tests or (group != "static" and ARGS.select and ARGS.select in "shutdown_" + group):
                run_group(group, tests, res)
    finally:
        if ARGS.keep or ARGS.external_main:
            print("# temp dir kept: %s" % TMP)
        else:
            shutil.rmtree(TMP, ignore_errors=True)
    if ARGS.verbose:
        print("# %.1fs" % (time.time() - t0))
    print("%d passed, %d failed" % (res.passed, res.failed))
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
