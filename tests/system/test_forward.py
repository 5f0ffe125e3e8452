#!/usr/bin/python3
"""Forwarding and cache system tests for vpcdnsd.

Run:  /usr/bin/python3 tests/system/test_forward.py --vpcdnsd bin/vpcdnsd [-k SUBSTRING] [-v] [--keep]

Self-contained (no pytest). Upstreams are fake_upstream.py processes (scriptable
dnspython servers with a JSON control port, see that file) and, for the
knot_* tests, a knotd serving a test zone; all on loopback. Every vpcdnsd
config written here has an explicit [forward] section pointing at upstreams
started by this file, so nothing is ever sent to the resolvers of
/etc/resolv.conf.

Each test starts its own vpcdnsd (fresh cache) with its own INI, runs, then
stops it with SIGTERM by PID and checks that it exits 0 and that its stderr
holds no sanitizer report. The fake upstreams are shared and reset before
every test.

Every test prints `ok NAME` or `FAIL NAME: reason` (with the daemon's stderr
tail); the last line is `N passed, M failed`; exit status 1 if any failed.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

try:
    import dns.edns
    import dns.flags
    import dns.message
    import dns.name
    import dns.query
    import dns.rcode
    import dns.rdatatype
    import dns.reversename
    import dns.rrset
except ImportError:  # pragma: no cover
    sys.stderr.write("dnspython is required: run with /usr/bin/python3 (python3-dnspython)\n")
    sys.exit(2)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_upstream  # noqa: E402

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0

ARGS = None
TMP = None
HAVE_V6 = True

NOERROR, NXDOMAIN, SERVFAIL, REFUSED = (dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.SERVFAIL,
                                        dns.rcode.REFUSED)


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def vlog(msg):
    if ARGS.verbose:
        sys.stdout.write("    %s\n" % msg)
        sys.stdout.flush()


# ---------------------------------------------------------------------------
# Environment
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
    """A port free for UDP and TCP on 127.0.0.1."""
    for _ in range(200):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port in used or port < 1024:
            continue
        ok = True
        for typ in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            t = socket.socket(socket.AF_INET, typ)
            try:
                t.bind(("127.0.0.1", port))
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


CORP_ZONE = """$ORIGIN corp.internal.
$TTL 300
@       IN SOA ns hostmaster 2024010101 3600 600 86400 300
@       IN NS  ns
ns      IN A   10.0.0.1
www     IN A   10.0.0.2
"""


# ---------------------------------------------------------------------------
# Fake upstreams (shared, reset for every test)
# ---------------------------------------------------------------------------

UPSTREAMS = []      # 127.0.0.1 fake upstreams, started on demand
UPSTREAM6 = None    # one on ::1


def upstreams(n):
    """n fake upstreams on 127.0.0.1, each reset (empty table, normal mode, log cleared)."""
    while len(UPSTREAMS) < n:
        UPSTREAMS.append(fake_upstream.spawn("127.0.0.1", python=sys.executable))
    for u in UPSTREAMS:
        u.set()
    return UPSTREAMS[:n]


def upstream6():
    global UPSTREAM6
    if UPSTREAM6 is None:
        UPSTREAM6 = fake_upstream.spawn("::1", python=sys.executable)
    UPSTREAM6.set()
    return UPSTREAM6


def stop_upstreams():
    for u in UPSTREAMS + ([UPSTREAM6] if UPSTREAM6 else []):
        rc = u.stop()
        if rc not in (0, None):
            sys.stdout.write("# fake upstream %d exited with %s\n" % (u.port, rc))


# ---------------------------------------------------------------------------
# vpcdnsd control
# ---------------------------------------------------------------------------

DAEMONS = []   # started by the running test


class Daemon:
    def __init__(self, name, ini_text, port):
        self.name = name
        self.port = port
        self.addr = "127.0.0.1"
        self.dir = os.path.join(TMP, name)
        os.makedirs(self.dir, exist_ok=True)
        write(os.path.join(self.dir, "corp.zone"), CORP_ZONE)
        self.ini = os.path.join(self.dir, "vpcdnsd.ini")
        write(self.ini, ini_text)
        self.logpath = os.path.join(self.dir, "stderr.log")
        self.proc = None
        self.stopped = False

    def start(self):
        self.logf = open(self.logpath, "wb")
        self.proc = subprocess.Popen([ARGS.vpcdnsd, "-c", self.ini], stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf, cwd="/",
                                     start_new_session=True)
        DAEMONS.append(self)
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise TestFailure("vpcdnsd exited with status %s during startup"
                                  % self.proc.returncode)
            try:
                q = dns.message.make_query("corp.internal", "SOA", use_edns=0)
                r = dns.query.udp(q, self.addr, port=self.port, timeout=0.3)
                if r.rcode() == NOERROR:
                    return self
            except Exception:  # noqa: BLE001
                pass
            time.sleep(0.05)
        raise TestFailure("vpcdnsd did not answer corp.internal SOA within %.0fs" % START_TIMEOUT)

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        """SIGTERM by PID; returns a problem description or None."""
        if self.stopped or self.proc is None:
            return None
        self.stopped = True
        if self.proc.poll() is not None:
            return "vpcdnsd died before the end of the test (status %s)" % self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            return "vpcdnsd did not exit within %.0fs of SIGTERM" % STOP_TIMEOUT
        finally:
            self.logf.close()
        if rc != 0:
            return "vpcdnsd exited with status %s after SIGTERM" % rc
        return None

    def sanitizer_report(self):
        text = self.log()
        for m in SANITIZER_MARKERS:
            if m in text:
                return m
        return None

    def stats(self):
        """SIGUSR1, then the counters of the new `stats:` lines as a dict."""
        marker = "stats: cache entries"
        before = self.log().count(marker)
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.time() + 3
        while time.time() < deadline:
            text = self.log()
            if text.count(marker) > before:
                break
            time.sleep(0.05)
        else:
            raise TestFailure("no `vpcdnsd[info]: stats:` lines after SIGUSR1")
        time.sleep(0.05)
        lines = [l for l in self.log().split("\n") if l.startswith("vpcdnsd[info]: stats:")]
        # the last group: from the last line holding "queries" on
        last = [i for i, l in enumerate(lines) if "stats: queries" in l]
        group = lines[last[-1]:] if last else lines[-3:]
        out = {}
        for l in group:
            body = l.split("stats:", 1)[1]
            for key, val in re.findall(r"([a-z][a-z ]*?) (\d+)", body):
                out[key.strip()] = int(val)
        vlog("stats: %s" % out)
        return out


def ini(ups, server="", forward_extra="", cache="", workers=1, policy="ordered", zones=True,
        default_forward=True):
    """An INI: [server] on a fresh port, corp.internal served, [forward] to ups."""
    port = free_port()
    text = "[server]\nlisten = 127.0.0.1:%d\nworkers = %d\nallow = 127.0.0.1/32\n" % (port, workers)
    text += server
    if zones:
        text += "\n[zone:corp.internal]\nfile = corp.zone\n"
    if default_forward:
        text += "\n[forward]\nupstream = %s\npolicy = %s\n" % (
            ", ".join(u.hostport if hasattr(u, "hostport") else u for u in ups), policy)
    text += forward_extra
    text += "\n[cache]\n" + cache
    return text, port


def daemon(ups, name=None, **kw):
    text, port = ini(ups, **kw)
    name = name or "%s-%d" % (CURRENT[0], len(DAEMONS))
    vlog("config %s:\n%s" % (name, text))
    return Daemon(name, text, port).start()


# ---------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------

def mkq(name, rdtype="A", rd=True, do=False, edns=True, payload=1232, qid=None):
    if edns:
        q = dns.message.make_query(name, rdtype, use_edns=0, payload=payload, want_dnssec=do)
    else:
        q = dns.message.make_query(name, rdtype, use_edns=False)
    if not rd:
        q.flags &= ~dns.flags.RD
    if qid is not None:
        q.id = qid
    return q


def query(d, name, rdtype="A", timeout=5.0, tcp=False, source=None, **kw):
    """One query to d; returns (reply, seconds). Raises TestFailure on timeout."""
    q = mkq(name, rdtype, **kw)
    t0 = time.time()
    try:
        if tcp:
            r = dns.query.tcp(q, d.addr, port=d.port, timeout=timeout, source=source)
        else:
            r = dns.query.udp(q, d.addr, port=d.port, timeout=timeout, source=source,
                              ignore_trailing=False)
    except dns.exception.Timeout:
        raise TestFailure("no reply to %s %s within %.1fs" % (name, rdtype, timeout))
    return r, time.time() - t0


def burst(d, qs, timeout=5.0):
    """Sends every query of qs at once, each from its own UDP socket; returns a
    list of (reply or None, seconds) in the order of qs."""
    socks = []
    for q in qs:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)
        socks.append(s)
    wires = [q.to_wire() for q in qs]
    t0 = time.time()
    for s, w in zip(socks, wires):
        s.sendto(w, (d.addr, d.port))
    out = [None] * len(qs)
    pending = {s.fileno(): i for i, s in enumerate(socks)}
    import select
    p = select.poll()
    for s in socks:
        p.register(s, select.POLLIN)
    while pending and time.time() - t0 < timeout:
        for fd, _ in p.poll(50):
            i = pending.get(fd)
            if i is None:
                continue
            try:
                data = socks[i].recv(65535)
            except OSError:
                continue
            try:
                out[i] = (dns.message.from_wire(data), time.time() - t0)
            except Exception as ex:  # noqa: BLE001
                out[i] = (ex, time.time() - t0)
            del pending[fd]
            p.unregister(socks[i])
    for s in socks:
        s.close()
    return [o if o is not None else (None, None) for o in out]


def rc_name(r):
    return dns.rcode.to_text(r.rcode())


def answer_rdatas(r, rdtype=None):
    out = []
    for rr in r.answer:
        if rdtype is None or rr.rdtype == dns.rdatatype.from_text(rdtype):
            out.extend(rd.to_text() for rd in rr)
    return sorted(out)


def answer_ttl(r, rdtype="A"):
    for rr in r.answer:
        if rr.rdtype == dns.rdatatype.from_text(rdtype):
            return rr.ttl
    raise TestFailure("no %s record in the answer: %s" % (rdtype, r.answer))


def soa_of(r):
    for rr in r.authority:
        if rr.rdtype == dns.rdatatype.SOA:
            return rr
    return None


def check_forwarded(r, q_name=None, rd=True):
    """The header of an answer that came from the forwarder / the cache."""
    check(r.flags & dns.flags.RA, "RA is 0 in a forwarded answer")
    check(not r.flags & dns.flags.AA, "AA is 1 in a forwarded answer")
    check(bool(r.flags & dns.flags.RD) == rd, "RD %d, the client sent %d"
          % (bool(r.flags & dns.flags.RD), rd))
    if q_name is not None:
        check(r.question and r.question[0].name.to_text() == dns.name.from_text(q_name).to_text(),
              "question %s, expected %s (client's case)"
              % (r.question[0].name if r.question else None, q_name))


def check_answer(r, rdtype, expected, what=""):
    check(r.rcode() == NOERROR, "%s: rcode %s, expected NOERROR" % (what, rc_name(r)))
    got = answer_rdatas(r, rdtype)
    check(got == sorted(expected), "%s: answer %s, expected %s" % (what, got, sorted(expected)))


def wait_for(cond, timeout, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------

TESTS = []
CURRENT = [""]


def test(fn):
    TESTS.append(fn)
    return fn


def recs(*lines):
    return list(lines)


# ---------------------------------------------------------------------------
# Basic forwarding
# ---------------------------------------------------------------------------

@test
def forward_basic_header():
    """RA=1, AA=0, RD and ID copied, question in the client's case, answer intact."""
    (u,) = upstreams(1)
    u.set(records=recs("www.example.test. 300 IN A 192.0.2.10"))
    d = daemon([u])
    r, _ = query(d, "WwW.ExAmple.TEST", "A", qid=0x1234)
    check(r.id == 0x1234, "reply ID %#x, expected 0x1234" % r.id)
    check_forwarded(r, "WwW.ExAmple.TEST")
    check_answer(r, "A", ["192.0.2.10"])
    check(r.edns >= 0, "the client sent EDNS, the reply has no OPT")
    r, _ = query(d, "www.example.test", "A", edns=False)
    check(r.edns < 0, "the client sent no EDNS, the reply has an OPT record")
    check_answer(r, "A", ["192.0.2.10"], "no-EDNS client")
    check(u.count("www.example.test") == 1, "upstream asked %d times, expected 1 (cache)"
          % u.count("www.example.test"))


@test
def forward_upstream_query_shape():
    """Upstream queries: RD=1, EDNS 1232, random IDs and source ports, DO passed on."""
    (u,) = upstreams(1)
    u.set(default={"mode": "synth"})
    d = daemon([u])
    names = ["n%d.shape.test" % i for i in range(12)]
    for i, n in enumerate(names):
        r, _ = query(d, n, qid=1000 + i, rd=True)
        check_answer(r, "A", ["192.0.2.1"], n)
    log = u.queries()
    check(len(log) == len(names), "upstream saw %d queries, expected %d" % (len(log), len(names)))
    for e in log:
        check(e["transport"] == "udp", "query went over %s" % e["transport"])
        check(e["rd"], "upstream query with RD=0: %s" % e)
        check(e["edns"] == 0, "upstream query without EDNS0: %s" % e)
        check(e["payload"] == 1232, "upstream EDNS buffer %d, expected 1232" % e["payload"])
        check(not e["do"], "DO=1 upstream for a client query without DO")
    sports = {e["sport"] for e in log}
    ids = {e["id"] for e in log}
    check(len(sports) >= len(names) - 1, "source ports not fresh: %s" % sorted(sports))
    check(len(ids) >= len(names) - 1, "IDs not random: %s" % sorted(ids))
    # Each upstream ID against its own client's: a random 16-bit ID matches one by chance
    # once in 65536 queries, a copied one every time.
    client_id = {n + ".": 1000 + i for i, n in enumerate(names)}
    copied = [e["qname"] for e in log if e["id"] == client_id.get(e["qname"])]
    check(len(copied) <= 1, "upstream IDs copy the client IDs: %s" % copied)
    # DO bit passed on
    r, _ = query(d, "do.shape.test", do=True)
    check_answer(r, "A", ["192.0.2.1"], "DO query")
    e = u.queries("do.shape.test")
    check(len(e) == 1 and e[0]["do"], "client DO=1, upstream query %s" % e)
    # a client without EDNS: the upstream query still has EDNS 1232, DO=0
    r, _ = query(d, "noedns.shape.test", edns=False)
    e = u.queries("noedns.shape.test")
    check(len(e) == 1 and e[0]["edns"] == 0 and e[0]["payload"] == 1232 and not e[0]["do"],
          "client without EDNS, upstream query %s" % e)


@test
def forward_rd_copied_from_cache():
    (u,) = upstreams(1)
    u.set(records=recs("rd.example.test. 300 IN A 192.0.2.11"))
    d = daemon([u])
    r, _ = query(d, "rd.example.test")
    check_answer(r, "A", ["192.0.2.11"])
    r, _ = query(d, "rd.example.test", rd=False)
    check_forwarded(r, "rd.example.test", rd=False)
    check_answer(r, "A", ["192.0.2.11"], "RD=0 cached")
    check(u.count() == 1, "upstream asked %d times" % u.count())
    # not cached: forwarded all the same (RD=1 upstream), RD=0 in the reply
    u.update(default={"mode": "synth"})
    r, _ = query(d, "rd0.example.test", rd=False)
    check_forwarded(r, "rd0.example.test", rd=False)
    check_answer(r, "A", ["192.0.2.1"], "RD=0 not cached")
    e = u.queries("rd0.example.test")
    check(len(e) == 1 and e[0]["rd"], "RD=0 client: upstream queries %s" % e)


@test
def forward_tcp_client():
    (u,) = upstreams(1)
    u.set(records=recs("tcp.example.test. 300 IN A 192.0.2.12"))
    d = daemon([u])
    r, _ = query(d, "Tcp.Example.Test", tcp=True, qid=777)
    check(r.id == 777, "ID not copied over TCP")
    check_forwarded(r, "Tcp.Example.Test")
    check_answer(r, "A", ["192.0.2.12"])
    check(u.count(transport="udp") == 1, "upstream log %s" % u.log())


@test
def forward_cname_chain():
    (u,) = upstreams(1)
    u.set(records=recs("a.chain.test. 300 IN CNAME b.chain.test.",
                       "b.chain.test. 300 IN CNAME c.chain.test.",
                       "c.chain.test. 300 IN A 192.0.2.13"))
    d = daemon([u])
    for _ in range(2):
        r, _ = query(d, "a.chain.test")
        check(r.rcode() == NOERROR, "rcode %s" % rc_name(r))
        got = [(rr.name.to_text(), dns.rdatatype.to_text(rr.rdtype), [x.to_text() for x in rr])
               for rr in r.answer]
        check(got == [("a.chain.test.", "CNAME", ["b.chain.test."]),
                      ("b.chain.test.", "CNAME", ["c.chain.test."]),
                      ("c.chain.test.", "A", ["192.0.2.13"])], "answer %s" % got)
    check(u.count() == 1, "upstream asked %d times" % u.count())


@test
def forward_ipv6_upstream():
    if not HAVE_V6:
        vlog("no IPv6 on loopback: skipped")
        return
    u6 = upstream6()
    u6.set(records=recs("v6.example.test. 300 IN AAAA 2001:db8::6"))
    (u,) = upstreams(1)   # not in the config; must see nothing
    d = daemon([u6])
    r, _ = query(d, "v6.example.test", "AAAA")
    check_forwarded(r)
    check_answer(r, "AAAA", ["2001:db8::6"])
    e = u6.queries("v6.example.test")
    check(len(e) == 1 and e[0]["src"] == "::1", "IPv6 upstream log %s" % e)
    check(u.count() == 0, "an upstream not in the config was asked")


# ---------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------

@test
def cache_ttl_counts_down():
    (u,) = upstreams(1)
    u.set(records=recs("ttl.example.test. 300 IN A 192.0.2.20"))
    d = daemon([u])
    r1, _ = query(d, "ttl.example.test")
    t1 = answer_ttl(r1)
    check(298 <= t1 <= 300, "first TTL %d, expected ~300" % t1)
    time.sleep(2.2)
    r2, _ = query(d, "TTL.example.test")
    check_forwarded(r2, "TTL.example.test")
    check_answer(r2, "A", ["192.0.2.20"])
    t2 = answer_ttl(r2)
    check(t2 <= t1 - 2 and t2 >= 294, "TTL %d then %d 2.2 s later" % (t1, t2))
    check(u.count() == 1, "upstream asked %d times, expected 1" % u.count())


@test
def cache_ttl_zero_not_cached():
    (u,) = upstreams(1)
    u.set(records=recs("zero.example.test. 0 IN A 192.0.2.21"))
    d = daemon([u])
    for _ in range(2):
        r, _ = query(d, "zero.example.test")
        check_answer(r, "A", ["192.0.2.21"])
        check(answer_ttl(r) == 0, "TTL %d, expected 0" % answer_ttl(r))
    check(u.count() == 2, "TTL 0: upstream asked %d times, expected 2" % u.count())


@test
def cache_max_ttl_lifetime():
    """max_ttl = 1: a 1-day record is asked again after 1.5 s."""
    (u,) = upstreams(1)
    u.set(records=recs("long.example.test. 86400 IN A 192.0.2.22"))
    d = daemon([u], cache="max_ttl = 1\n")
    query(d, "long.example.test")
    query(d, "long.example.test")
    check(u.count() == 1, "within max_ttl: upstream asked %d times" % u.count())
    time.sleep(1.5)
    r, _ = query(d, "long.example.test")
    check_answer(r, "A", ["192.0.2.22"])
    check(u.count() == 2, "max_ttl 1: upstream asked %d times after 1.5 s, expected 2" % u.count())


@test
def cache_max_ttl_in_answers():
    """max_ttl = 60: neither the first nor a cached answer carries a TTL over 60."""
    (u,) = upstreams(1)
    u.set(records=recs("long.example.test. 86400 IN A 192.0.2.22"))
    d = daemon([u], cache="max_ttl = 60\n")
    ttls = []
    for _ in range(2):
        r, _ = query(d, "long.example.test")
        check_answer(r, "A", ["192.0.2.22"])
        ttls.append(answer_ttl(r))
    check(max(ttls) <= 60, "max_ttl 60, record TTL 86400: answers with TTL %s (upstream, cache)"
          % ttls)


@test
def cache_min_ttl():
    """min_ttl = 5: a TTL-1 record stays cached (and is shown with the clamped TTL)."""
    (u,) = upstreams(1)
    u.set(records=recs("short.example.test. 1 IN A 192.0.2.23"))
    d = daemon([u], cache="min_ttl = 5\n")
    query(d, "short.example.test")
    time.sleep(1.5)
    r, _ = query(d, "short.example.test")
    check_answer(r, "A", ["192.0.2.23"])
    check(u.count() == 1, "min_ttl 5, record TTL 1: upstream asked %d times within 1.5 s"
          % u.count())
    check(3 <= answer_ttl(r) <= 5, "min_ttl 5, record TTL 1, cached 1.5 s: TTL %d, expected 3..5"
          % answer_ttl(r))


@test
def cache_negative_nxdomain_nodata():
    """NXDOMAIN / NODATA cached for min(SOA TTL, MINIMUM), clamped by max_negative_ttl."""
    (u,) = upstreams(1)
    u.set(records=recs("data.neg.test. 300 IN A 192.0.2.30"),
          soa="neg.test. 60 IN SOA ns.neg.test. h.neg.test. 1 3600 600 86400 2",
          names={"clamp.neg.test.": {"mode": "nxdomain",
                                     "soa": "neg.test. 3600 IN SOA ns.neg.test. h.neg.test. "
                                            "1 3600 600 86400 3600"}})
    d = daemon([u], cache="max_negative_ttl = 2\n")
    qs = [("nx.neg.test", "A", NXDOMAIN), ("data.neg.test", "AAAA", NOERROR),
          ("clamp.neg.test", "A", NXDOMAIN)]
    for n, t, rc in qs:
        for i in range(2):
            r, _ = query(d, n, t)
            check(r.rcode() == rc, "%s %s: rcode %s, expected %s" % (n, t, rc_name(r),
                                                                   dns.rcode.to_text(rc)))
            check(not r.answer, "%s %s: answer %s" % (n, t, r.answer))
            check(soa_of(r) is not None, "%s %s (query %d): no SOA in the authority section"
                  % (n, t, i + 1))
            check_forwarded(r)
        check(u.count(n, t) == 1, "%s %s: upstream asked %d times within the negative TTL"
              % (n, t, u.count(n, t)))
    time.sleep(2.6)
    for n, t, rc in qs:
        r, _ = query(d, n, t)
        check(r.rcode() == rc, "%s %s after expiry: rcode %s" % (n, t, rc_name(r)))
        check(u.count(n, t) == 2, "%s %s: negative TTL 2 s, upstream asked %d times after 2.6 s"
              % (n, t, u.count(n, t)))


@test
def cache_negative_soa_ttl():
    """The SOA of a cached negative answer carries at most the negative TTL (RFC 2308 3, 5)."""
    (u,) = upstreams(1)
    u.set(soa="neg.test. 600 IN SOA ns.neg.test. h.neg.test. 1 3600 600 86400 30",
          names={"clamp.neg.test.": {"mode": "nxdomain",
                                     "soa": "neg.test. 3600 IN SOA ns.neg.test. h.neg.test. "
                                            "1 3600 600 86400 3600"}})
    d = daemon([u], cache="max_negative_ttl = 10\n")
    for n, lim in (("nx.neg.test", 30), ("clamp.neg.test", 10)):
        query(d, n)
        r, _ = query(d, n)
        s = soa_of(r)
        check(s is not None, "%s: no SOA" % n)
        check(s.ttl <= lim, "%s: cached negative answer's SOA TTL %d, negative TTL %d"
              % (n, s.ttl, lim))


@test
def cache_negative_without_soa_not_cached():
    """An NXDOMAIN without an SOA has no negative TTL: not cached (RFC 2308 5)."""
    (u,) = upstreams(1)
    u.set(default={"mode": "nxdomain", "nosoa": True})
    d = daemon([u])
    for i in range(2):
        r, _ = query(d, "nosoa.example.test")
        check(r.rcode() == NXDOMAIN, "rcode %s" % rc_name(r))
    check(u.count() == 2, "NXDOMAIN without SOA: upstream asked %d times for 2 queries"
          % u.count())


@test
def cache_case_insensitive_hit():
    (u,) = upstreams(1)
    u.set(records=recs("case.example.test. 300 IN A 192.0.2.24"))
    d = daemon([u])
    query(d, "case.example.test")
    for n in ("CASE.EXAMPLE.TEST", "cAsE.eXaMpLe.TeSt"):
        r, _ = query(d, n)
        check_forwarded(r, n)
        check_answer(r, "A", ["192.0.2.24"], n)
    check(u.count() == 1, "upstream asked %d times" % u.count())


@test
def cache_do_bit_separate():
    """A DO=1 query does not get the cached answer of a DO=0 upstream query."""
    (u,) = upstreams(1)
    u.set(records=recs("do.example.test. 300 IN A 192.0.2.25"))
    d = daemon([u])
    query(d, "do.example.test")
    r, _ = query(d, "do.example.test", do=True)
    check_answer(r, "A", ["192.0.2.25"])
    e = u.queries("do.example.test")
    check(any(x["do"] for x in e), "a DO=1 client was answered from a DO=0 upstream reply: %s"
          % [(x["do"],) for x in e])


@test
def cache_servfail_cached_briefly():
    u1, u2 = upstreams(2)
    for u in (u1, u2):
        u.set(records=recs("sf.example.test. 300 IN A 192.0.2.26"), default={"mode": "servfail"})
    d = daemon([u1, u2], cache="servfail_ttl = 2\n")
    r, el = query(d, "sf.example.test")
    check(r.rcode() == SERVFAIL, "both upstreams SERVFAIL: rcode %s" % rc_name(r))
    check(u1.count() >= 1 and u2.count() >= 1, "SERVFAIL from the first upstream: the second "
          "was not tried (%d, %d)" % (u1.count(), u2.count()))
    n = u1.count() + u2.count()
    r, _ = query(d, "sf.example.test")
    check(r.rcode() == SERVFAIL, "second query: rcode %s" % rc_name(r))
    check(u1.count() + u2.count() == n, "SERVFAIL not cached: upstreams asked again")
    for u in (u1, u2):
        u.update(default={"mode": "normal"})
    time.sleep(2.3)
    r, _ = query(d, "sf.example.test")
    check_answer(r, "A", ["192.0.2.26"], "after servfail_ttl")


@test
def cache_size_bound():
    """[cache] size = 1M, 3000 names with ~1 KB TXT each: bytes stay <= 1 MiB, evictions."""
    (u,) = upstreams(1)
    u.set(default={"mode": "bigtxt", "txt_size": 1000, "ttl": 3600})
    d = daemon([u], cache="size = 1M\n", server="upstream_timeout = 3000\n")
    total, nthreads = 3000, 6
    errors = []
    answered = [0] * nthreads

    def run(k):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(3)
        try:
            for i in range(k, total, nthreads):
                q = mkq("n%d.big.test" % i, "TXT")
                s.sendto(q.to_wire(), (d.addr, d.port))
                while True:
                    data = s.recv(65535)
                    r = dns.message.from_wire(data)
                    if r.id == q.id:
                        break
                if r.rcode() == NOERROR and r.answer:
                    answered[k] += 1
        except Exception as ex:  # noqa: BLE001
            errors.append(repr(ex))
        finally:
            s.close()
    t0 = time.time()
    th = [threading.Thread(target=run, args=(k,)) for k in range(nthreads)]
    for t in th:
        t.start()
    for t in th:
        t.join(60)
    vlog("%d queries in %.1fs" % (total, time.time() - t0))
    check(not errors, "client errors: %s" % errors[:3])
    check(sum(answered) == total, "%d of %d answered" % (sum(answered), total))
    st = d.stats()
    check("bytes" in st and "evictions" in st, "stats without bytes / evictions: %s" % st)
    check(st["bytes"] <= 1048576, "cache bytes %d > 1048576 with size = 1M" % st["bytes"])
    check(st["evictions"] > 0, "no evictions after %d ~1 KB answers in a 1M cache" % total)
    check(0 < st["cache entries"] < total, "cache entries %d" % st["cache entries"])
    # still answering, from the cache for a recent name
    r, _ = query(d, "n%d.big.test" % (total - 1), "TXT")
    check(r.rcode() == NOERROR and r.answer, "after the load: %s" % rc_name(r))


@test
def stats_counters():
    """SIGUSR1 counters after 10 distinct names and 4 repeats."""
    (u,) = upstreams(1)
    u.set(default={"mode": "synth"})
    d = daemon([u], workers=1)
    for i in range(10):
        query(d, "s%d.stats.test" % i)
    for i in range(4):
        query(d, "s%d.stats.test" % i)
    st = d.stats()
    want = {"forwarded": 10, "upstream packets": 10, "coalesced": 0, "cache hits": 4,
            "cache entries": 10, "inserts": 10, "servfail": 0, "timeouts": 0, "spoofed": 0}
    bad = {k: (st.get(k), v) for k, v in want.items() if st.get(k) != v}
    check(not bad, "counters (got, expected): %s" % bad)
    # the cache's own hit / miss counters agree with what the clients saw
    check(st.get("hits") == 4 and st.get("misses") == 10,
          "cache hits %s, misses %s after 10 misses and 4 hits"
          % (st.get("hits"), st.get("misses")))


# ---------------------------------------------------------------------------
# Upstream failures# ---------------------------------------------------------------------------
# Upstream failures
# ---------------------------------------------------------------------------

@test
def upstream_servfail_refused_next():
    u1, u2 = upstreams(2)
    u1.set(records=recs("sf.example.test. 300 IN A 192.0.2.1", "rf.example.test. 300 IN A 192.0.2.1"),
           names={"sf.example.test.": {"mode": "servfail"}, "rf.example.test.": {"mode": "refused"}})
    u2.set(records=recs("sf.example.test. 300 IN A 192.0.2.2", "rf.example.test. 300 IN A 192.0.2.2"))
    d = daemon([u1, u2])
    for n in ("sf.example.test", "rf.example.test"):
        r, el = query(d, n)
        check_forwarded(r)
        check_answer(r, "A", ["192.0.2.2"], n)
        check(u1.count(n) >= 1 and u2.count(n) == 1, "%s: upstream counts %d, %d"
              % (n, u1.count(n), u2.count(n)))


@test
def upstream_nxdomain_is_an_answer():
    u1, u2 = upstreams(2)
    u1.set(default={"mode": "nxdomain"})
    u2.set(default={"mode": "synth"})
    d = daemon([u1, u2])
    r, _ = query(d, "gone.example.test")
    check(r.rcode() == NXDOMAIN, "rcode %s, expected NXDOMAIN from the first upstream"
          % rc_name(r))
    check(u2.count() == 0, "NXDOMAIN from the first upstream: the second was asked too")


@test
def upstream_timeout_next():
    u1, u2 = upstreams(2)
    u1.set(default={"mode": "silent"})
    u2.set(records=recs("slow.example.test. 300 IN A 192.0.2.2"))
    d = daemon([u1, u2], server="upstream_timeout = 3000\n")
    r, el = query(d, "slow.example.test", timeout=6)
    check_forwarded(r)
    check_answer(r, "A", ["192.0.2.2"])
    check(el < 3.2, "answer after %.2fs, budget 3 s" % el)
    check(u1.count() >= 1 and u2.count() == 1, "upstream counts %d, %d" % (u1.count(), u2.count()))
    vlog("answer after %.2fs" % el)


@test
def upstream_all_silent_servfail_in_budget():
    u1, u2 = upstreams(2)
    for u in (u1, u2):
        u.set(default={"mode": "silent"})
    d = daemon([u1, u2], server="upstream_timeout = 1000\n")
    r, el = query(d, "silent.example.test", timeout=5)
    check(r.rcode() == SERVFAIL, "rcode %s, expected SERVFAIL" % rc_name(r))
    check(0.5 <= el <= 1.6, "SERVFAIL after %.2fs, upstream_timeout 1000 ms" % el)
    check(u1.count() >= 1 and u2.count() >= 1, "upstream counts %d, %d (both should be tried)"
          % (u1.count(), u2.count()))
    st = d.stats()
    check(st.get("timeouts", 0) >= 1, "stats timeouts %s" % st.get("timeouts"))


@test
def upstream_slow_within_budget():
    """A single upstream that answers after 800 ms, within the 3 s budget."""
    (u,) = upstreams(1)
    u.set(records=recs("slow.example.test. 300 IN A 192.0.2.31"),
          default={"mode": "normal", "delay_ms": 800})
    d = daemon([u], server="upstream_timeout = 3000\n")
    r, el = query(d, "slow.example.test", timeout=6)
    check_forwarded(r)
    check_answer(r, "A", ["192.0.2.31"])
    check(0.7 <= el <= 2.5, "answer after %.2fs (upstream delay 0.8 s)" % el)


@test
def upstream_closed_port_next():
    """The first upstream has nothing listening (ICMP port unreachable): the next answers."""
    (u,) = upstreams(1)
    u.set(records=recs("closed.example.test. 300 IN A 192.0.2.32"))
    dead = "127.0.0.1:%d" % free_port()
    d = daemon([dead, u], server="upstream_timeout = 3000\n")
    for i in range(3):
        n = "c%d.closed.example.test" % i if i else "closed.example.test"
        r, el = query(d, n, timeout=6)
        check(r.rcode() in (NOERROR, NXDOMAIN), "%s: rcode %s" % (n, rc_name(r)))
        check(el < 3.1, "%s: answer after %.2fs" % (n, el))
    check_answer(query(d, "closed.example.test")[0], "A", ["192.0.2.32"])


def _spoof_case(mode, followup=None, two=True, count_spoofed=False):
    """The first upstream misbehaves (mode) with 192.0.2.1; the right answer is 192.0.2.2."""
    ups = upstreams(2 if two else 1)
    u1 = ups[0]
    beh = {"mode": mode}
    if followup is not None:
        beh["followup"] = followup
    good = "192.0.2.2"
    if two:
        u1.set(records=recs("spoof.example.test. 300 IN A 192.0.2.1"), default=beh)
        ups[1].set(records=recs("spoof.example.test. 300 IN A 192.0.2.2"))
    else:
        # the same upstream sends the bad reply, then the right one
        u1.set(records=recs("spoof.example.test. 300 IN A 192.0.2.2"), default=beh)
    d = daemon(ups, server="upstream_timeout = 2000\n")
    r, el = query(d, "spoof.example.test", timeout=5)
    check_forwarded(r, "spoof.example.test")
    check(r.rcode() == NOERROR, "rcode %s" % rc_name(r))
    got = answer_rdatas(r, "A")
    check(got == [good], "answer %s, expected %s (a %s reply was taken?)" % (got, good, mode))
    check(el < 2.2, "answer after %.2fs" % el)
    # the right answer is cached, the bad reply is not
    r, _ = query(d, "spoof.example.test")
    check(answer_rdatas(r, "A") == [good], "cached answer %s" % answer_rdatas(r, "A"))
    if count_spoofed:
        st = d.stats()
        check(st.get("spoofed", 0) >= 1, "stats spoofed %s after a %s reply"
              % (st.get("spoofed"), mode))
    return d


@test
def spoof_wrong_id_next_upstream():
    _spoof_case("wrongid", count_spoofed=True)


@test
def spoof_wrong_id_then_right_reply():
    _spoof_case("wrongid", followup=100, two=False, count_spoofed=True)


@test
def spoof_wrong_question_next_upstream():
    _spoof_case("wrongq")


@test
def spoof_wrong_question_then_right_reply():
    _spoof_case("wrongq", followup=100, two=False)


@test
def spoof_wrong_port():
    _spoof_case("wrongport")


@test
def spoof_wrong_port_then_right_reply():
    _spoof_case("wrongport", followup=100, two=False)


@test
def spoof_wrong_address():
    _spoof_case("wrongaddr")


@test
def upstream_garbage_next():
    _spoof_case("garbage")


@test
def upstream_malformed_next():
    _spoof_case("malformed")


@test
def upstream_malformed_not_cached():
    (u,) = upstreams(1)
    for mode in ("malformed", "garbage"):
        name = "%s.example.test" % mode
        u.set(records=recs("%s. 300 IN A 192.0.2.27" % name), default={"mode": mode})
        d = daemon([u], server="upstream_timeout = 1000\n", cache="servfail_ttl = 0\n")
        r, el = query(d, name, timeout=4)
        check(r.rcode() == SERVFAIL, "%s reply from the only upstream: rcode %s, answer %s"
              % (mode, rc_name(r), r.answer))
        u.update(default={"mode": "normal"})
        r, _ = query(d, name, timeout=4)
        check_answer(r, "A", ["192.0.2.27"], "after the upstream was fixed (%s)" % mode)
        err = d.stop()
        check(err is None, err or "")


@test
def upstream_tc_then_tcp():
    (u,) = upstreams(1)
    u.set(records=recs("tc.example.test. 300 IN A 192.0.2.28", "tc.example.test. 300 IN A 192.0.2.29"),
          default={"mode": "tc"})
    d = daemon([u])
    r, _ = query(d, "tc.example.test")
    check_forwarded(r)
    check_answer(r, "A", ["192.0.2.28", "192.0.2.29"])
    check(not r.flags & dns.flags.TC, "TC set on the client's answer")
    check(u.count(transport="udp") == 1 and u.count(transport="tcp") == 1,
          "upstream log: %s" % [(e["transport"], e["qname"]) for e in u.log()])
    st = d.stats()
    check(st.get("tcp", 0) >= 1, "stats tcp %s" % st.get("tcp"))


@test
def upstream_large_txt():
    (u,) = upstreams(1)
    u.set(default={"mode": "bigtxt", "txt_size": 3000})
    d = daemon([u])
    r, _ = query(d, "large.example.test", "TXT", tcp=True)
    check_forwarded(r)
    check(r.rcode() == NOERROR and len(r.answer) == 1, "TCP: %s %s" % (rc_name(r), r.answer))
    text = b"".join(r.answer[0][0].strings)
    check(len(text) == 3000, "TXT of %d bytes, expected 3000" % len(text))
    check(u.count(transport="tcp") == 1, "the upstream's TC=1 was not retried over TCP: %s"
          % [(e["transport"]) for e in u.log()])
    # UDP client without EDNS: TC=1, at most 512 bytes
    q = mkq("large.example.test", "TXT", edns=False)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(q.to_wire(), (d.addr, d.port))
    data = s.recv(65535)
    s.close()
    check(len(data) <= 512, "UDP reply of %d bytes to a client without EDNS" % len(data))
    r = dns.message.from_wire(data)
    check(r.flags & dns.flags.TC, "no TC on a 3 KB answer to a client without EDNS")
    # UDP client with 4096: the whole answer or TC within our edns_udp_size
    r, _ = query(d, "large.example.test", "TXT", payload=4096)
    if not r.flags & dns.flags.TC:
        check(len(b"".join(r.answer[0][0].strings)) == 3000, "UDP 4096: truncated text")
    check(u.count() == 2, "cached large answer: upstream asked %d times" % u.count())


# ---------------------------------------------------------------------------
# Coalescing, limits
# ---------------------------------------------------------------------------

@test
def coalesce_identical_questions():
    (u,) = upstreams(1)
    u.set(records=recs("co.example.test. 300 IN A 192.0.2.40"),
          default={"mode": "normal", "delay_ms": 300})
    d = daemon([u], workers=1)
    qs = [mkq("co.example.test", qid=i + 1) for i in range(50)]
    res = burst(d, qs, timeout=4)
    bad = []
    for q, (r, el) in zip(qs, res):
        if not isinstance(r, dns.message.Message):
            bad.append((q.id, repr(r)))
        elif r.id != q.id or r.rcode() != NOERROR or answer_rdatas(r, "A") != ["192.0.2.40"]:
            bad.append((q.id, r.id, rc_name(r), answer_rdatas(r)))
    check(not bad, "%d of 50 clients without the right answer: %s" % (len(bad), bad[:5]))
    n = u.count("co.example.test")
    check(n == 1, "50 identical questions in flight: %d upstream queries, expected 1" % n)
    st = d.stats()
    check(st.get("coalesced", 0) == 49, "stats coalesced %s, expected 49" % st.get("coalesced"))


@test
def coalesce_keeps_client_case_and_id():
    """Coalesced clients asking in different letter case each get their own question back."""
    (u,) = upstreams(1)
    u.set(records=recs("mixed.example.test. 300 IN A 192.0.2.41"),
          default={"mode": "normal", "delay_ms": 300})
    d = daemon([u], workers=1)
    names = ["mixed.example.test", "MIXED.EXAMPLE.TEST", "MiXeD.eXaMpLe.TeSt",
             "mixed.EXAMPLE.test", "Mixed.Example.Test"] * 2
    qs = [mkq(n, qid=100 + i) for i, n in enumerate(names)]
    res = burst(d, qs, timeout=4)
    for q, n, (r, _) in zip(qs, names, res):
        check(isinstance(r, dns.message.Message), "%s: no answer (%r)" % (n, r))
        check(r.id == q.id, "ID %d for a query with ID %d" % (r.id, q.id))
        check(r.question and r.question[0].name.to_text() == n + ".",
              "asked %s, question in the reply %s" % (n, r.question[0].name if r.question
                                                       else None))
        check_answer(r, "A", ["192.0.2.41"], n)
    check(u.count() == 1, "upstream asked %d times, expected 1" % u.count())


@test
def coalesce_separates_do():
    """DO=0 and DO=1 clients in flight together: the DO bit of each reaches the upstream."""
    (u,) = upstreams(1)
    u.set(records=recs("dnssec.example.test. 300 IN A 192.0.2.42"),
          default={"mode": "normal", "delay_ms": 300})
    d = daemon([u], workers=1)
    qs = [mkq("dnssec.example.test", qid=1 + i, do=bool(i % 2)) for i in range(10)]
    for q, (r, _) in zip(qs, burst(d, qs, timeout=4)):
        check(isinstance(r, dns.message.Message), "client %d: no answer" % q.id)
        check_answer(r, "A", ["192.0.2.42"], "client %d" % q.id)
        check(bool(r.ednsflags & dns.flags.DO) == bool(q.ednsflags & dns.flags.DO),
              "client %d: DO %d in the reply" % (q.id, bool(r.ednsflags & dns.flags.DO)))
    dos = sorted(e["do"] for e in u.log())
    check(dos == [False, True], "upstream queries' DO bits: %s, expected one of each" % dos)


@test
def forward_parallel_distinct():
    """300 distinct names, 50 at a time, two workers: every client answered correctly."""
    (u,) = upstreams(1)
    u.set(default={"mode": "synth", "ttl": 60})
    d = daemon([u], workers=2)
    missing = []
    for b in range(6):
        qs = [mkq("p%d.par.test" % (b * 50 + i), qid=b * 50 + i) for i in range(50)]
        for q, (r, _) in zip(qs, burst(d, qs, timeout=4)):
            if not isinstance(r, dns.message.Message) or r.id != q.id or \
                    answer_rdatas(r, "A") != ["192.0.2.1"] or \
                    r.question[0].name != q.question[0].name:
                missing.append(q.question[0].name.to_text())
    check(not missing, "%d of 300 without the right answer: %s" % (len(missing), missing[:5]))
    # Every name went upstream on its own. A slow shared machine may delay the fake upstream
    # past the retry interval, so a few names can be asked twice: only timing, not coalescing.
    names = [e["qname"].lower() for e in u.log()]
    check(len(set(names)) == 300, "upstream saw %d distinct names of 300" % len(set(names)))
    check(len(names) <= 330, "upstream got %d queries for 300 names" % len(names))


@test
def busy_udp_serves_tcp_and_misses():
    """A flood of cache hits (dnsperf at full speed: the socket busy, received from outside
    epoll) does not stall TCP or new names that go upstream, and loses no query."""
    (u,) = upstreams(1)
    u.set(default={"mode": "synth", "ttl": 300})
    d = daemon([u], workers=1)
    hot = [mkq("h%d.busy.test" % i, qid=i) for i in range(100)]
    for q, (r, _) in zip(hot, burst(d, hot, timeout=4)):
        check(isinstance(r, dns.message.Message) and answer_rdatas(r, "A") == ["192.0.2.1"],
              "warm-up of %s" % q.question[0].name)
    qfile = os.path.join(d.dir, "flood.txt")
    with open(qfile, "w") as f:
        f.write("".join("h%d.busy.test A\n" % i for i in range(100)))
    flood = subprocess.Popen(["dnsperf", "-s", d.addr, "-p", str(d.port), "-d", qfile, "-l", "2",
                              "-c", "4", "-q", "100"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    tcp_times, miss_times = [], []
    try:
        time.sleep(0.4)
        for i in range(5):
            r, secs = query(d, "h%d.busy.test" % i, tcp=True, timeout=3)
            tcp_times.append(secs)
            check(answer_rdatas(r, "A") == ["192.0.2.1"], "TCP answer during the flood: %s" % r)
            r, secs = query(d, "new%d.busy.test" % i, timeout=3)
            miss_times.append(secs)
            check(answer_rdatas(r, "A") == ["192.0.2.1"], "miss during the flood: %s" % r)
            time.sleep(0.1)
        out = flood.communicate(timeout=20)[0]
    finally:
        if flood.poll() is None:
            flood.kill()
            flood.wait()
    done = re.search(r"Queries completed:\s+(\d+)", out)
    lost = re.search(r"Queries lost:\s+(\d+)", out)
    codes = re.search(r"Response codes:\s+(.*)", out)
    check(done and lost and codes, "dnsperf output: %s" % out[-300:])
    vlog("flood: %s completed, %s lost, %s; TCP %s s; misses %s s"
         % (done.group(1), lost.group(1), codes.group(1).strip(),
            ["%.3f" % x for x in tcp_times], ["%.3f" % x for x in miss_times]))
    check(int(done.group(1)) >= 2000, "the flood completed only %s queries" % done.group(1))
    check(int(lost.group(1)) == 0, "%s flood queries lost" % lost.group(1))
    check(codes.group(1).strip().startswith("NOERROR") and "," not in codes.group(1),
          "flood response codes: %s" % codes.group(1))
    # The loop serves TCP and upstream replies at least once a millisecond while busy;
    # a second allows for a slow shared machine.
    check(max(tcp_times) < 1.0 and max(miss_times) < 1.0,
          "slow during the flood: TCP %s, misses %s" % (tcp_times, miss_times))
    names = [e["qname"].lower() for e in u.log()]
    check(all("new%d.busy.test." % i in names for i in range(5)), "misses not sent upstream")
    check(sum(1 for n in names if n.startswith("h")) == 100,
          "the flood went upstream: %d upstream queries for hot names"
          % sum(1 for n in names if n.startswith("h")))


@test
def tcp_pipelined_forward():
    """Ten forwarded queries pipelined on one TCP connection, answered out of order."""
    (u,) = upstreams(1)
    u.set(default={"mode": "synth"},
          names={"t0.pipe.test.": {"mode": "synth", "delay_ms": 400}})
    d = daemon([u])
    c = socket.create_connection((d.addr, d.port), timeout=5)
    qs = [mkq("t%d.pipe.test" % i, qid=500 + i) for i in range(10)]
    c.sendall(b"".join(len(w).to_bytes(2, "big") + w for w in (q.to_wire() for q in qs)))
    got = {}
    f = c.makefile("rb")
    try:
        for _ in qs:
            n = int.from_bytes(f.read(2), "big")
            r = dns.message.from_wire(f.read(n))
            got[r.id] = r
    except Exception as ex:  # noqa: BLE001
        raise TestFailure("after %d replies: %r" % (len(got), ex))
    finally:
        c.close()
    for q in qs:
        r = got.get(q.id)
        check(r is not None, "no reply for ID %d" % q.id)
        check(r.question[0].name == q.question[0].name, "ID %d: question %s" % (q.id, r.question))
        check_answer(r, "A", ["192.0.2.1"], q.question[0].name.to_text())


@test
def tcp_client_gone_before_answer():
    """A TCP client that closes before the upstream answers; the daemon carries on."""
    (u,) = upstreams(1)
    u.set(default={"mode": "synth", "delay_ms": 300})
    d = daemon([u], workers=1)
    for i in range(5):
        c = socket.create_connection((d.addr, d.port), timeout=5)
        w = mkq("gone%d.example.test" % (i % 2)).to_wire()
        c.sendall(len(w).to_bytes(2, "big") + w)
        c.close()
    # a UDP client waiting on the same question as a gone TCP client
    c = socket.create_connection((d.addr, d.port), timeout=5)
    w = mkq("gone0.example.test").to_wire()
    c.sendall(len(w).to_bytes(2, "big") + w)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    c.close()   # RST
    r, _ = query(d, "gone0.example.test")
    check_answer(r, "A", ["192.0.2.1"], "UDP after the TCP clients left")
    time.sleep(0.5)
    r, _ = query(d, "gone1.example.test", tcp=True)
    check_answer(r, "A", ["192.0.2.1"], "TCP after the TCP clients left")


@test
def shutdown_with_pending_queries():
    """SIGTERM while clients wait on a silent upstream: exits 0 at once."""
    (u,) = upstreams(1)
    u.set(default={"mode": "silent"})
    d = daemon([u], workers=2, server="upstream_timeout = 5000\n")
    socks = []
    for i in range(20):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(mkq("wait%d.example.test" % (i % 7)).to_wire(), (d.addr, d.port))
        socks.append(s)
    c = socket.create_connection((d.addr, d.port), timeout=5)
    w = mkq("waittcp.example.test").to_wire()
    c.sendall(len(w).to_bytes(2, "big") + w)
    check(wait_for(lambda: u.count() >= 8, 2), "upstream got %d queries" % u.count())
    t0 = time.time()
    err = d.stop()
    check(err is None, err or "")
    check(time.time() - t0 < 2.0, "exit took %.1fs" % (time.time() - t0))
    c.close()
    for s in socks:
        s.close()


@test
def upstream_max_pending():
    (u,) = upstreams(1)
    u.set(default={"mode": "silent"})
    d = daemon([u], workers=1, server="upstream_timeout = 1500\nupstream_max_pending = 2\n")
    qs = [mkq("p%d.pending.test" % i) for i in range(5)]
    res = burst(d, qs, timeout=4)
    fast = [(r, el) for r, el in res if r is not None and el < 0.5]
    check(len(fast) == 3, "over upstream_max_pending 2: %d of 5 answered at once (%s), expected 3"
          % (len(fast), [(rc_name(r) if r is not None and hasattr(r, 'rcode') else r,
                          None if el is None else round(el, 2)) for r, el in res]))
    check(all(r.rcode() == SERVFAIL for r, _ in fast), "immediate answers are not SERVFAIL")
    for r, el in res:
        check(r is not None, "a client got no answer at all")
        check(r.rcode() == SERVFAIL, "rcode %s" % rc_name(r))
        check(el <= 2.5, "SERVFAIL after %.2fs" % el)
    st = d.stats()
    check(st.get("over limit", 0) >= 3, "stats over limit %s" % st.get("over limit"))


# ---------------------------------------------------------------------------
# Serve-stale, prefetch
# ---------------------------------------------------------------------------

def _stale_setup(cache_extra="", timeout_ms=1000):
    (u,) = upstreams(1)
    u.set(records=recs("stale.example.test. 1 IN A 192.0.2.50"))
    d = daemon([u], server="upstream_timeout = %d\n" % timeout_ms,
               cache="serve_stale = yes\n" + cache_extra)
    r, _ = query(d, "stale.example.test")
    check_answer(r, "A", ["192.0.2.50"], "warm-up")
    return u, d


@test
def stale_served_when_upstream_silent():
    u, d = _stale_setup()
    u.update(default={"mode": "silent"})
    time.sleep(1.6)
    r, el = query(d, "stale.example.test", timeout=5)
    check_answer(r, "A", ["192.0.2.50"], "stale")
    check(answer_ttl(r) == 30, "stale answer TTL %d, expected 30" % answer_ttl(r))
    check_forwarded(r)
    check(el <= 1.6, "stale answer after %.2fs, upstream_timeout 1000 ms" % el)
    check(u.count() >= 2, "the upstream was not asked again before serving stale")
    st = d.stats()
    check(st.get("stale", 0) >= 1, "stats stale %s" % st.get("stale"))


@test
def stale_served_to_coalesced_clients():
    (u,) = upstreams(1)
    u.set(records=recs("stale2.example.test. 1 IN A 192.0.2.52"))
    d = daemon([u], workers=1, server="upstream_timeout = 1000\n", cache="serve_stale = yes\n")
    query(d, "stale2.example.test")
    u.update(default={"mode": "silent"})
    time.sleep(1.6)
    qs = [mkq("stale2.example.test", qid=900 + i) for i in range(8)]
    res = burst(d, qs, timeout=4)
    for q, (r, el) in zip(qs, res):
        check(isinstance(r, dns.message.Message), "client %d: no answer" % q.id)
        check(r.id == q.id, "ID %d for %d" % (r.id, q.id))
        check_answer(r, "A", ["192.0.2.52"], "coalesced stale client %d" % q.id)
        check(answer_ttl(r) == 30, "stale TTL %d" % answer_ttl(r))


@test
def stale_served_when_upstream_stopped():
    """The only upstream is stopped (its port closed): the expired answer is served."""
    u = fake_upstream.spawn("127.0.0.1", python=sys.executable)
    try:
        u.set(records=recs("stale3.example.test. 1 IN A 192.0.2.53"))
        d = daemon([u], server="upstream_timeout = 1500\n", cache="serve_stale = yes\n")
        r, _ = query(d, "stale3.example.test")
        check_answer(r, "A", ["192.0.2.53"], "warm-up")
    finally:
        rc = u.stop()
    check(rc == 0, "fake upstream exit status %s" % rc)
    time.sleep(1.3)
    r, el = query(d, "stale3.example.test", timeout=5)
    check_answer(r, "A", ["192.0.2.53"], "upstream stopped")
    check(answer_ttl(r) == 30, "stale TTL %d" % answer_ttl(r))
    check(el <= 1.8, "stale answer after %.2fs, upstream_timeout 1500 ms" % el)


@test
def stale_served_when_upstream_servfails():
    u, d = _stale_setup()
    u.update(default={"mode": "servfail"})
    time.sleep(1.6)
    r, el = query(d, "stale.example.test", timeout=5)
    check_answer(r, "A", ["192.0.2.50"], "stale after SERVFAIL")
    check(answer_ttl(r) == 30, "stale answer TTL %d, expected 30" % answer_ttl(r))


@test
def stale_not_served_when_disabled():
    (u,) = upstreams(1)
    u.set(records=recs("stale.example.test. 1 IN A 192.0.2.50"))
    d = daemon([u], server="upstream_timeout = 1000\n", cache="serve_stale = no\n")
    query(d, "stale.example.test")
    u.update(default={"mode": "silent"})
    time.sleep(1.6)
    r, _ = query(d, "stale.example.test", timeout=5)
    check(r.rcode() == SERVFAIL, "serve_stale = no: rcode %s answer %s" % (rc_name(r), r.answer))


@test
def stale_not_served_past_stale_ttl():
    u, d = _stale_setup(cache_extra="stale_ttl = 1\n")
    u.update(default={"mode": "silent"})
    time.sleep(2.6)
    r, _ = query(d, "stale.example.test", timeout=5)
    check(r.rcode() == SERVFAIL, "expired 1.6 s ago, stale_ttl 1: rcode %s answer %s"
          % (rc_name(r), r.answer))


@test
def stale_refreshed_when_upstream_back():
    u, d = _stale_setup()
    time.sleep(1.6)
    u.set(records=recs("stale.example.test. 300 IN A 192.0.2.51"))
    r, _ = query(d, "stale.example.test")
    check_answer(r, "A", ["192.0.2.51"], "expired entry, upstream up")
    check(answer_ttl(r) > 30, "TTL %d" % answer_ttl(r))


@test
def prefetch_in_last_tenth():
    (u,) = upstreams(1)
    u.set(records=recs("pf.example.test. 10 IN A 192.0.2.60"))
    d = daemon([u], cache="prefetch = yes\n")
    t0 = time.time()
    query(d, "pf.example.test")
    time.sleep(max(0, t0 + 3 - time.time()))
    query(d, "pf.example.test")
    check(u.count() == 1, "query at 3 s of a 10 s TTL went upstream (%d)" % u.count())
    time.sleep(max(0, t0 + 9.25 - time.time()))
    r, _ = query(d, "pf.example.test")
    check_answer(r, "A", ["192.0.2.60"], "in the last tenth")
    check(answer_ttl(r) <= 1, "TTL %d at 9.25 s of 10" % answer_ttl(r))
    check(wait_for(lambda: u.count() == 2, 0.7), "no prefetch: upstream asked %d times"
          % u.count())
    time.sleep(max(0, t0 + 10.6 - time.time()))
    r, _ = query(d, "pf.example.test")
    check_answer(r, "A", ["192.0.2.60"], "after the original expiry")
    check(answer_ttl(r) >= 8, "TTL %d after the prefetch" % answer_ttl(r))
    check(u.count() == 2, "after a prefetch the upstream was asked again (%d)" % u.count())
    st = d.stats()
    check(st.get("prefetches", 0) >= 1, "stats prefetches %s" % st.get("prefetches"))


# ---------------------------------------------------------------------------
# Policy: forwarding rules, zones, ACL, recursion
# ---------------------------------------------------------------------------

@test
def rule_longest_suffix():
    u1, u2, u3 = upstreams(3)
    for i, u in enumerate((u1, u2, u3)):
        u.set(default={"mode": "synth", "a": "192.0.2.%d" % (i + 1)})
    extra = ("\n[forward:example.test]\nupstream = %s\n"
             "\n[forward:deep.example.test]\nupstream = %s\n" % (u2.hostport, u3.hostport))
    d = daemon([u1], forward_extra=extra)
    cases = [("www.example.test", "192.0.2.2"), ("example.test", "192.0.2.2"),
             ("a.b.deep.example.test", "192.0.2.3"), ("deep.example.test", "192.0.2.3"),
             ("Deep.Example.Test", "192.0.2.3"), ("other.test", "192.0.2.1"),
             ("notexample.test", "192.0.2.1"), ("xdeep.example.test", "192.0.2.2"),
             ("example.test.other", "192.0.2.1")]
    for n, want in cases:
        r, _ = query(d, n)
        check_forwarded(r, n)
        check_answer(r, "A", [want], n)


@test
def policy_ordered():
    u1, u2 = upstreams(2)
    u1.set(default={"mode": "synth", "a": "192.0.2.1"})
    u2.set(default={"mode": "synth", "a": "192.0.2.2"})
    d = daemon([u1, u2], policy="ordered")
    for i in range(10):
        r, _ = query(d, "o%d.order.test" % i)
        check_answer(r, "A", ["192.0.2.1"], "ordered")
    check(u2.count() == 0, "policy ordered: the second upstream got %d queries" % u2.count())


@test
def policy_fastest():
    u1, u2 = upstreams(2)
    u1.set(default={"mode": "synth", "a": "192.0.2.1", "delay_ms": 120})
    u2.set(default={"mode": "synth", "a": "192.0.2.2"})
    d = daemon([u1, u2], policy="fastest")
    n = 40
    for i in range(n):
        r, _ = query(d, "f%d.fast.test" % i)
        check(r.rcode() == NOERROR, "rcode %s" % rc_name(r))
    c1, c2 = u1.count(), u2.count()
    vlog("slow upstream %d, fast upstream %d" % (c1, c2))
    check(c2 >= 0.6 * n, "policy fastest: the fast upstream got %d of %d queries (slow one %d)"
          % (c2, n, c1))


@test
def zone_names_never_forwarded():
    u1, u2 = upstreams(2)
    u1.set(default={"mode": "synth", "a": "192.0.2.1"})
    u2.set(default={"mode": "synth", "a": "192.0.2.2"})
    extra = "\n[forward:sub.corp.internal]\nupstream = %s\n" % u2.hostport
    d = daemon([u1], forward_extra=extra)
    r, _ = query(d, "www.corp.internal")
    check_answer(r, "A", ["10.0.0.2"], "www.corp.internal")
    check(r.flags & dns.flags.AA, "local zone answer without AA")
    r, _ = query(d, "nothere.corp.internal")
    check(r.rcode() == NXDOMAIN, "nothere.corp.internal: %s" % rc_name(r))
    check(r.flags & dns.flags.AA, "local NXDOMAIN without AA")
    r, _ = query(d, "www.corp.internal", "AAAA")
    check(r.rcode() == NOERROR and not r.answer, "NODATA expected")
    check(u1.count() == 0 and u2.count() == 0, "a name of a served zone was forwarded: %s"
          % [e["qname"] for e in u1.log() + u2.log()])
    for n in ("host.sub.corp.internal", "sub.corp.internal"):
        r, _ = query(d, n)
        check_forwarded(r, n)
        check_answer(r, "A", ["192.0.2.2"], n)
    check(u2.count() == 2 and u1.count() == 0, "sub.corp.internal rule: upstream counts %d, %d"
          % (u1.count(), u2.count()))


@test
def local_cname_chased_across_zones():
    """A CNAME into another served zone (here nested ones) is followed for RD queries when the
    client passes that zone's allow list, as a resolver would; otherwise (RD clear, or the
    zone refuses the client) the answer ends with the CNAME. Never an NXDOMAIN made from the
    parent's data, never the hidden zone's address, never forwarded."""
    u1, = upstreams(1)
    zdir = os.path.join(TMP, "chase-zones")
    soa = "@ IN SOA ns.chase.internal. hostmaster.chase.internal. 1 3600 600 86400 60\n" \
          "@ IN NS ns.chase.internal.\n"
    write(os.path.join(zdir, "apex.zone"), "$ORIGIN chase.internal.\n$TTL 60\n" + soa +
          "ns IN A 10.9.0.1\nweb IN CNAME web.private.chase.internal.\n"
          "db IN CNAME db.persistence.chase.internal.\n")
    write(os.path.join(zdir, "private.zone"), "$ORIGIN private.chase.internal.\n$TTL 60\n" +
          soa + "web IN A 10.9.0.10\n")
    write(os.path.join(zdir, "persistence.zone"), "$ORIGIN persistence.chase.internal.\n"
          "$TTL 60\n" + soa + "db IN A 10.9.0.20\n")
    extra = ("\n[zone:chase.internal]\nfile = %s/apex.zone\n"
             "\n[zone:private.chase.internal]\nfile = %s/private.zone\n"
             "\n[zone:persistence.chase.internal]\nfile = %s/persistence.zone\n"
             "allow = 127.0.0.9/32\n" % (zdir, zdir, zdir))
    d = daemon([u1], forward_extra=extra)
    r, _ = query(d, "web.chase.internal")
    check(r.rcode() == NOERROR and r.flags & dns.flags.AA, "web: %s" % rc_name(r))
    check_answer(r, "A", ["10.9.0.10"], "web.chase.internal (chased)")
    check(answer_rdatas(r, "CNAME") == ["web.private.chase.internal."], "web: no CNAME first")
    r, _ = query(d, "web.chase.internal", rd=False)
    check(r.rcode() == NOERROR and answer_rdatas(r, "CNAME") == ["web.private.chase.internal."]
          and not answer_rdatas(r, "A"), "web without RD: %s %s" % (rc_name(r), r.answer))
    r, _ = query(d, "db.chase.internal")
    check(r.rcode() == NOERROR and answer_rdatas(r, "CNAME") == ["db.persistence.chase.internal."]
          and not answer_rdatas(r, "A"), "db (zone refuses us): %s %s" % (rc_name(r), r.answer))
    r, _ = query(d, "db.persistence.chase.internal")
    check(r.rcode() == REFUSED, "db.persistence directly: %s" % rc_name(r))
    check(u1.count() == 0, "forwarded: %s" % [e["qname"] for e in u1.log()])


@test
def rfc6303_private_reverse_local():
    u1, u2 = upstreams(2)
    u1.set(records=recs("8.8.8.8.in-addr.arpa. 300 IN PTR dns.example."))
    u2.set(records=recs("5.0.232.10.in-addr.arpa. 300 IN PTR host5.example."))
    extra = "\n[forward:0.232.10.in-addr.arpa]\nupstream = %s\n" % u2.hostport
    d = daemon([u1], forward_extra=extra)
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(d.port), "-x", "10.1.2.3", "+tries=1",
                          "+time=3", "+norec"], capture_output=True, text=True, timeout=10).stdout
    out_rd = subprocess.run(["dig", "@127.0.0.1", "-p", str(d.port), "-x", "10.1.2.3",
                             "+tries=1", "+time=3"], capture_output=True, text=True,
                            timeout=10).stdout
    for o in (out, out_rd):
        check("status: NXDOMAIN" in o, "dig -x 10.1.2.3: %s" % o)
        check(re.search(r"\sSOA\s", o.split("AUTHORITY SECTION")[-1] if "AUTHORITY SECTION" in o
                        else ""), "dig -x 10.1.2.3: no SOA in the authority section:\n%s" % o)
    r, _ = query(d, dns.reversename.from_address("10.232.0.5").to_text(), "PTR")
    check_forwarded(r)
    check_answer(r, "PTR", ["host5.example."], "-x 10.232.0.5")
    check(u2.count() == 1, "10.232.0.5 did not reach the [forward:0.232.10.in-addr.arpa] upstream")
    r, _ = query(d, dns.reversename.from_address("10.1.2.3").to_text(), "PTR")
    check(r.rcode() == NXDOMAIN, "10.1.2.3 with the rule present: %s" % rc_name(r))
    r, _ = query(d, dns.reversename.from_address("8.8.8.8").to_text(), "PTR")
    check_answer(r, "PTR", ["dns.example."], "-x 8.8.8.8 (public, forwarded)")
    qn = [e["qname"] for e in u1.log() + u2.log()]
    check(sorted(qn) == ["5.0.232.10.in-addr.arpa.", "8.8.8.8.in-addr.arpa."],
          "upstream queries: %s" % qn)


@test
def rfc6303_ranges():
    (u,) = upstreams(1)
    u.set(default={"mode": "nxdomain"})
    d = daemon([u])
    local = ["10.255.255.255", "172.16.0.1", "172.31.255.1", "192.168.1.1", "0.1.2.3",
             "127.0.0.1", "169.254.1.1", "192.0.2.1", "198.51.100.1", "203.0.113.1",
             "255.255.255.255", "100.64.0.1", "100.127.255.1"]
    local6 = ["::1", "::", "fd12:3456::1", "fe80::1", "febf::1", "2001:db8::1"]
    public = ["172.15.0.1", "172.32.0.1", "192.169.0.1", "100.63.0.1", "100.128.0.1",
              "11.0.0.1"]
    public6 = ["fc00::1", "fec0::1", "2001:db9::1"]
    # 255.255.255.255, :: and ::1 are the apex of their RFC 6303 zone: NODATA there
    apex = {"255.255.255.255", "::", "::1"}
    for a in local + local6:
        n = dns.reversename.from_address(a).to_text()
        r, _ = query(d, n, "PTR")
        want = NOERROR if a in apex else NXDOMAIN
        check(r.rcode() == want and not r.answer, "-x %s: %s %s, expected %s"
              % (a, rc_name(r), r.answer, dns.rcode.to_text(want)))
        check(soa_of(r) is not None, "-x %s: no SOA" % a)
        check(r.flags & dns.flags.AA, "-x %s: no AA on the local RFC 6303 answer" % a)
    check(u.count() == 0, "private reverse names forwarded: %s" % [e["qname"] for e in u.log()])
    for a in public + public6:
        n = dns.reversename.from_address(a).to_text()
        query(d, n, "PTR")
        check(u.count(n) == 1, "-x %s (not RFC 6303) was not forwarded" % a)


@test
def acl_outside_refused():
    (u,) = upstreams(1)
    u.set(default={"mode": "synth"})
    d = daemon([u])
    for n in ("www.example.test", "www.corp.internal"):
        r, _ = query(d, n, source="127.0.0.2")
        check(r.rcode() == REFUSED, "client 127.0.0.2, %s: rcode %s" % (n, rc_name(r)))
        check(not r.answer, "client 127.0.0.2 got an answer")
        r, _ = query(d, n, source="127.0.0.2", tcp=True)
        check(r.rcode() == REFUSED, "TCP client 127.0.0.2, %s: rcode %s" % (n, rc_name(r)))
    # a cached name is not leaked either
    query(d, "cached.example.test")
    r, _ = query(d, "cached.example.test", source="127.0.0.2")
    check(r.rcode() == REFUSED, "cached name to 127.0.0.2: %s" % rc_name(r))
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(d.port), "-b", "127.0.0.2",
                          "www2.example.test", "+tries=1", "+time=3"], capture_output=True,
                         text=True, timeout=10).stdout
    check("status: REFUSED" in out, "dig -b 127.0.0.2: %s" % out)
    check([e["qname"] for e in u.log()] == ["cached.example.test."],
          "refused clients caused upstream queries: %s" % [e["qname"] for e in u.log()])


@test
def recursion_no():
    (u,) = upstreams(1)
    u.set(default={"mode": "synth"})
    d = daemon([u], server="recursion = no\n")
    r, _ = query(d, "www.example.test")
    check(r.rcode() == REFUSED, "recursion = no, outside name: rcode %s" % rc_name(r))
    check(not r.flags & dns.flags.RA, "recursion = no: RA = 1")
    r, _ = query(d, "www.corp.internal")
    check_answer(r, "A", ["10.0.0.2"], "recursion = no, zone name")
    check(not r.flags & dns.flags.RA, "recursion = no: RA = 1 on a zone answer")
    check(u.count() == 0, "recursion = no forwarded %d queries" % u.count())


@test
def recursion_yes_ra_on_zone_answers():
    (u,) = upstreams(1)
    d = daemon([u])
    r, _ = query(d, "www.corp.internal")
    check(r.flags & dns.flags.AA, "no AA")
    check(r.flags & dns.flags.RA, "recursion = yes: RA = 0 on a zone answer")


# ---------------------------------------------------------------------------
# Knot DNS as the authoritative upstream
# ---------------------------------------------------------------------------

KNOT = {}

KNOT_ZONE = """$ORIGIN knot.test.
$TTL 3600
@       IN SOA  ns1 hostmaster 2024010101 3600 900 604800 300
@       IN NS   ns1
ns1     IN A    192.0.2.53
www     IN A    192.0.2.80
www     IN AAAA 2001:db8::80
@       IN MX   10 mail
@       IN MX   20 mail2
mail    IN A    192.0.2.25
mail    IN AAAA 2001:db8::25
mail2   IN A    192.0.2.26
alias   IN CNAME alias2
alias2  IN CNAME www
txt     IN TXT  "hello" "world"
"""


def knot():
    if "proc" in KNOT:
        return KNOT
    kd = shutil.which("knotd") or "/usr/sbin/knotd"
    if not os.path.exists(kd):
        raise TestFailure("knotd not installed")
    port = free_port()
    kdir = os.path.join(TMP, "knot")
    os.makedirs(kdir, exist_ok=True)
    write(os.path.join(kdir, "knot.test.zone"), KNOT_ZONE)
    conf = os.path.join(kdir, "knot.conf")
    write(conf, """server:
    rundir: "%(d)s"
    listen: 127.0.0.1@%(p)d
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "%(d)s"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "%(d)s"
    semantic-checks: off
zone:
  - domain: knot.test
    file: "%(d)s/knot.test.zone"
""" % {"d": kdir, "p": port})
    logf = open(os.path.join(kdir, "knotd.log"), "wb")
    proc = subprocess.Popen([kd, "-c", conf], stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                            start_new_session=True)
    KNOT.update(proc=proc, port=port, dir=kdir, logf=logf)
    deadline = time.time() + 10
    while time.time() < deadline:
        if proc.poll() is not None:
            break
        try:
            r = dns.query.udp(dns.message.make_query("knot.test", "SOA"), "127.0.0.1", port=port,
                              timeout=0.3)
            if r.rcode() == NOERROR and r.answer:
                return KNOT
        except Exception:  # noqa: BLE001
            pass
        time.sleep(0.1)
    with open(os.path.join(kdir, "knotd.log")) as f:
        raise TestFailure("knotd did not start: %s" % f.read()[-1000:])


def stop_knot():
    p = KNOT.get("proc")
    if p is None:
        return
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    KNOT["logf"].close()


def _sections(r):
    def norm(sec):
        return sorted((rr.name.to_text().lower(), dns.rdatatype.to_text(rr.rdtype),
                       tuple(sorted(x.to_text() for x in rr))) for rr in sec)
    return norm(r.answer), norm(r.authority), norm([rr for rr in r.additional
                                                    if rr.rdtype != dns.rdatatype.OPT])


@test
def knot_authoritative_upstream():
    k = knot()
    (u,) = upstreams(1)   # the default upstream: must see nothing
    extra = "\n[forward:knot.test]\nupstream = 127.0.0.1:%d\n" % k["port"]
    d = daemon([u], forward_extra=extra)
    cases = [("www.knot.test", "A"), ("www.knot.test", "AAAA"), ("knot.test", "MX"),
             ("alias.knot.test", "A"), ("nothere.knot.test", "A"), ("www.knot.test", "TXT"),
             ("txt.knot.test", "TXT"), ("knot.test", "NS")]
    for n, t in cases:
        direct = dns.query.udp(mkq(n, t), "127.0.0.1", port=k["port"], timeout=3)
        check(direct.flags & dns.flags.AA, "knotd itself: no AA for %s %s" % (n, t))
        for attempt in ("upstream", "cache"):
            r, _ = query(d, n, t)
            what = "%s %s (%s)" % (n, t, attempt)
            check(r.rcode() == direct.rcode(), "%s: rcode %s, knotd %s"
                  % (what, rc_name(r), rc_name(direct)))
            check_forwarded(r, n)
            a, au, ad = _sections(r)
            da, dau, dad = _sections(direct)
            check(a == da, "%s: answer %s, knotd %s" % (what, a, da))
            if direct.rcode() == NXDOMAIN or not direct.answer:
                check(au == dau, "%s: authority %s, knotd %s" % (what, au, dau))
                s, ds = soa_of(r), soa_of(direct)
                check(s is not None and s.ttl <= ds.ttl, "%s: SOA TTL %s, knotd %d"
                      % (what, s and s.ttl, ds.ttl))
            if t == "MX":
                check(ad == dad, "%s: additional %s, knotd %s" % (what, ad, dad))
                check(len(ad) >= 3, "MX answer without the additional addresses: %s" % ad)
            for rr in r.answer:
                drr = direct.get_rrset(direct.answer, rr.name, rr.rdclass, rr.rdtype)
                check(drr is not None and rr.ttl <= drr.ttl, "%s: TTL %d above knotd's"
                      % (what, rr.ttl))
    check(u.count() == 0, "knot.test names went to the default upstream")


# ---------------------------------------------------------------------------
# Runner
# ---------------------------------------------------------------------------

def run_test(fn):
    name = fn.__name__
    CURRENT[0] = name
    del DAEMONS[:]
    err = None
    t0 = time.time()
    try:
        fn()
    except TestFailure as ex:
        err = str(ex)
    except Exception:  # noqa: BLE001
        err = "exception:\n" + traceback.format_exc()
    for d in list(DAEMONS):
        problem = d.stop()
        m = d.sanitizer_report()
        if m:
            # the root cause when a daemon aborted: put it first
            msg = "sanitizer report (%s) in %s's stderr" % (m, d.name)
            err = msg if err is None else msg + "; then: " + err
        if problem:
            err = problem if err is None else err + "; " + problem
    vlog("%s took %.1fs" % (name, time.time() - t0))
    if err is None:
        print("ok %s" % name)
        sys.stdout.flush()
        return True
    print("FAIL %s: %s" % (name, err))
    for d in DAEMONS:
        tail = d.log().split("\n")[-25:]
        print("  --- %s stderr tail (%s) ---" % (d.name, d.logpath))
        for l in tail:
            if l:
                print("  | " + l)
    sys.stdout.flush()
    return False


def main():
    global ARGS, TMP, HAVE_V6
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vpcdnsd", default="bin/vpcdnsd")
    ap.add_argument("-k", dest="select", action="append", default=[],
                    help="run only the tests whose name contains SUBSTRING")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ARGS = ap.parse_args()
    ARGS.vpcdnsd = os.path.abspath(ARGS.vpcdnsd)
    if not os.access(ARGS.vpcdnsd, os.X_OK):
        sys.stderr.write("%s: not an executable\n" % ARGS.vpcdnsd)
        return 2
    HAVE_V6 = v6_available()
    TMP = tempfile.mkdtemp(prefix="vpcdnsd-fwd-")
    selected = [t for t in TESTS if not ARGS.select or any(s in t.__name__ for s in ARGS.select)]
    passed = failed = 0
    t0 = time.time()
    try:
        for fn in selected:
            if run_test(fn):
                passed += 1
            else:
                failed += 1
    finally:
        for d in DAEMONS:
            d.stop()
        stop_upstreams()
        stop_knot()
        if ARGS.keep or failed:
            sys.stdout.write("# files kept in %s\n" % TMP)
        else:
            shutil.rmtree(TMP, ignore_errors=True)
    sys.stdout.write("# %.1fs\n" % (time.time() - t0))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
