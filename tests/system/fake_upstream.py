#!/usr/bin/python3
"""A small scriptable DNS upstream for the vpcdnsd forwarding tests.

Run as a process:

    /usr/bin/python3 fake_upstream.py [--addr 127.0.0.1] [--port 0]

It listens on UDP and TCP on one loopback port and on a TCP control port
(always 127.0.0.1), then prints one JSON line on stdout:
{"addr": ..., "port": ..., "control": ...} and serves until it gets SIGTERM
(or the "quit" command).

Control protocol: one JSON object per line on the control port, one JSON
object per line back.
  {"cmd": "set", "config": {...}}   replace the configuration, clear the log
  {"cmd": "update", "config": {...}} merge keys into the configuration (log kept)
  {"cmd": "log"}                    {"log": [entry, ...]}
  {"cmd": "clear"}                  clear the log
  {"cmd": "ping"} / {"cmd": "quit"}

Configuration:
  records:  ["name TTL IN TYPE rdata", ...] the answer table (absolute names)
  soa:      "zone. TTL IN SOA ..." used for NXDOMAIN / NODATA (default: a
            made-up SOA of the root with TTL / MINIMUM = neg_ttl)
  neg_ttl:  SOA TTL and MINIMUM of the made-up SOA (default 300)
  default:  behaviour for every name (default {"mode": "normal"})
  names:    {"name.": behaviour, ...}; the longest key that is the query name
            or a parent of it wins ("." matches everything)

A behaviour is a dict:
  mode:      normal    answer from the table (NXDOMAIN / NODATA with the SOA
                       when the table has nothing)
             silent    never answer
             wrongid   answer with another ID
             wrongq    answer with another question (qname prefixed "x.")
             wrongport answer from another source port
             wrongaddr answer from another source address (127.0.0.99)
             garbage   the query's ID followed by random bytes
             malformed a correct header and question, then a broken record
             tc        UDP: TC=1 and no records; TCP: the full answer
             servfail, refused, formerr   that rcode
             nxdomain  NXDOMAIN with the SOA (neg_ttl)
             synth     any name: A 192.0.2.1 (or AAAA 2001:db8::1, TXT) with ttl
             bigtxt    any name: one TXT record of txt_size bytes of text
  delay_ms:  wait this long before answering (any mode)
  followup:  for the wrong* / garbage modes: send the correct answer this many
             ms after the bad one
  soa:       "zone. TTL IN SOA ..." for this behaviour's negative answers
  nosoa:     true: the nxdomain mode answers without an SOA
  additional: ["name TTL IN TYPE rdata", ...] added to the additional section
  ttl:       TTL of the synth / bigtxt answers (default 300)
  txt_size:  text bytes of the bigtxt record (default 1000)
  tcp:       "same" (default) or a mode used for TCP queries instead

Log entries (one per query received, also unparseable ones):
  {"t": time, "transport": "udp"|"tcp", "src": addr, "sport": port,
   "id": id, "qname": lower-case name, "qname_raw": name as sent, "qtype": "A",
   "qclass": "IN", "rd": bool, "cd": bool, "ad": bool, "flags": int,
   "edns": version or -1, "payload": int, "do": bool, "error": str or None}
"""

import argparse
import json
import os
import random
import signal
import socket
import struct
import sys
import threading
import time

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class Upstream:
    def __init__(self, addr, port):
        self.addr = addr
        self.family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        self.lock = threading.Lock()
        self.log = []
        self.config = {}
        self.table = {}  # (name, rdtype) -> rrset
        self.names = set()
        self.soa = None
        self.stop = threading.Event()
        self._bind(port)
        self.set_config({})

    # -- sockets -------------------------------------------------------------

    def _bind(self, port):
        for _ in range(100):
            u = socket.socket(self.family, socket.SOCK_DGRAM)
            u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
            u.bind((self.addr, port))
            p = u.getsockname()[1]
            t = socket.socket(self.family, socket.SOCK_STREAM)
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                t.bind((self.addr, p))
            except OSError:
                u.close()
                t.close()
                if port:
                    raise
                continue
            t.listen(64)
            self.udp, self.tcp, self.port = u, t, p
            # a second UDP socket for the wrongport mode
            self.udp_other = socket.socket(self.family, socket.SOCK_DGRAM)
            self.udp_other.bind((self.addr, 0))
            self.udp_wrongaddr = None
            if self.family == socket.AF_INET:
                try:
                    w = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    w.bind(("127.0.0.99", p))
                    self.udp_wrongaddr = w
                except OSError:
                    pass
            return
        raise RuntimeError("cannot bind")

    # -- configuration -------------------------------------------------------

    def set_config(self, cfg, merge=False):
        with self.lock:
            if merge:
                new = dict(self.config)
                new.update(cfg)
                cfg = new
            else:
                self.log = []
            table, names = {}, set()
            for line in cfg.get("records", []):
                rr = dns.rrset.from_text(*_split_rr(line))
                key = (rr.name.to_text().lower(), rr.rdtype)
                if key in table:
                    table[key].union_update(rr)
                else:
                    table[key] = rr
                n = rr.name
                while True:  # every ancestor exists (empty non-terminals)
                    names.add(n.to_text().lower())
                    if n == dns.name.root:
                        break
                    n = n.parent()
            neg = int(cfg.get("neg_ttl", 300))
            if cfg.get("soa"):
                soa = dns.rrset.from_text(*_split_rr(cfg["soa"]))
            else:
                soa = dns.rrset.from_text(".", neg, "IN", "SOA",
                                          "ns.fake. host.fake. 1 3600 600 86400 %d" % neg)
            self.config, self.table, self.names, self.soa = cfg, table, names, soa

    def behaviour(self, qname):
        names = self.config.get("names", {})
        n = dns.name.from_text(qname)
        while True:
            b = names.get(n.to_text().lower())
            if b is not None:
                return b
            if n == dns.name.root:
                break
            n = n.parent()
        return self.config.get("default", {"mode": "normal"})

    # -- answers -------------------------------------------------------------

    def build_answer(self, q, b, transport):
        """The correct reply to q (a dns.message) for behaviour b."""
        mode = b.get("mode", "normal")
        r = dns.message.make_response(q, our_payload=4096)
        r.flags |= dns.flags.RA
        if not q.question:
            r.set_rcode(dns.rcode.FORMERR)
            return r
        qrr = q.question[0]
        qname, qtype = qrr.name, qrr.rdtype
        if mode in ("servfail", "refused", "formerr"):
            r.set_rcode({"servfail": dns.rcode.SERVFAIL, "refused": dns.rcode.REFUSED,
                         "formerr": dns.rcode.FORMERR}[mode])
            return r
        soa = self.soa
        if b.get("soa"):
            soa = dns.rrset.from_text(*_split_rr(b["soa"]))
        if mode == "nxdomain":
            r.set_rcode(dns.rcode.NXDOMAIN)
            if not b.get("nosoa"):
                r.authority.append(soa)
            return r
        ttl = int(b.get("ttl", 300))
        if mode == "synth":
            if qtype == dns.rdatatype.A:
                r.answer.append(dns.rrset.from_text(qname, ttl, "IN", "A", b.get("a", "192.0.2.1")))
            elif qtype == dns.rdatatype.AAAA:
                r.answer.append(dns.rrset.from_text(qname, ttl, "IN", "AAAA", "2001:db8::1"))
            elif qtype == dns.rdatatype.TXT:
                r.answer.append(dns.rrset.from_text(qname, ttl, "IN", "TXT", '"synth"'))
            else:
                r.authority.append(soa)
            return r
        if mode == "bigtxt":
            size = int(b.get("txt_size", 1000))
            text = (qname.to_text() * (size // 8 + 2)).replace('"', "")[:size]
            chunks = ['"%s"' % text[i:i + 250] for i in range(0, len(text), 250)]
            r.answer.append(dns.rrset.from_text(qname, ttl, "IN", "TXT", " ".join(chunks)))
            return r
        # normal (and the bad modes, whose correct answer is this one)
        seen = 0
        cur = qname
        while seen < 10:
            k = cur.to_text().lower()
            rrs = self.table.get((k, qtype))
            if rrs is not None:
                r.answer.append(_rename(rrs, cur))
                break
            cname = self.table.get((k, dns.rdatatype.CNAME))
            if cname is not None and qtype != dns.rdatatype.CNAME:
                r.answer.append(_rename(cname, cur))
                cur = cname[0].target
                seen += 1
                continue
            if k not in self.names:
                r.set_rcode(dns.rcode.NXDOMAIN)
            r.authority.append(soa)
            break
        for extra in b.get("additional", []):
            r.additional.append(dns.rrset.from_text(*_split_rr(extra)))
        return r

    def wire(self, r, q, transport):
        if transport == "tcp":
            return r.to_wire(max_size=65535)
        limit = 512
        if q.edns >= 0:
            limit = max(512, q.payload)
        try:
            return r.to_wire(max_size=limit)
        except dns.exception.TooBig:
            t = dns.message.make_response(q, our_payload=4096)
            t.flags |= dns.flags.RA | dns.flags.TC
            return t.to_wire()

    # -- query handling ------------------------------------------------------

    def record(self, data, transport, src):
        e = {"t": time.time(), "transport": transport, "src": src[0], "sport": src[1],
             "len": len(data), "error": None, "id": None, "qname": None, "qname_raw": None,
             "qtype": None, "qclass": None, "rd": None, "cd": None, "ad": None, "flags": None,
             "edns": -1, "payload": 0, "do": False}
        q = None
        try:
            q = dns.message.from_wire(data)
            e["id"] = q.id
            e["flags"] = q.flags
            e["rd"] = bool(q.flags & dns.flags.RD)
            e["cd"] = bool(q.flags & dns.flags.CD)
            e["ad"] = bool(q.flags & dns.flags.AD)
            e["edns"] = q.edns
            e["payload"] = q.payload if q.edns >= 0 else 0
            e["do"] = bool(q.ednsflags & dns.flags.DO)
            if q.question:
                e["qname"] = q.question[0].name.to_text().lower()
                e["qname_raw"] = q.question[0].name.to_text()
                e["qtype"] = dns.rdatatype.to_text(q.question[0].rdtype)
                e["qclass"] = dns.rdataclass.to_text(q.question[0].rdclass)
        except Exception as ex:  # noqa: BLE001
            e["error"] = repr(ex)
            if len(data) >= 2:
                e["id"] = struct.unpack("!H", data[:2])[0]
            q = None
        with self.lock:
            self.log.append(e)
        return q

    def respond(self, q, transport, send):
        """Calls send(bytes, kind) for every datagram / message to send."""
        with self.lock:
            b = dict(self.behaviour(q.question[0].name.to_text()) if q.question
                     else self.config.get("default", {"mode": "normal"}))
        if transport == "tcp" and b.get("tcp", "same") != "same":
            b["mode"] = b["tcp"]
        mode = b.get("mode", "normal")
        if mode == "silent":
            return
        delay = int(b.get("delay_ms", 0)) / 1000.0

        def go():
            with self.lock:
                good = self.build_answer(q, b, transport)
            if mode == "tc":
                if transport == "udp":
                    t = dns.message.make_response(q)
                    t.flags |= dns.flags.RA | dns.flags.TC
                    send(t.to_wire(), "normal")
                else:
                    send(self.wire(good, q, transport), "normal")
                return
            bad = None
            kind = "normal"
            if mode == "wrongid":
                good.id = (q.id + 1 + random.randrange(65000)) & 0xFFFF
                bad = good.to_wire()
                good.id = q.id
            elif mode == "wrongq":
                other = dns.message.make_query(dns.name.Name((b"x",) + q.question[0].name.labels),
                                               q.question[0].rdtype)
                r2 = dns.message.make_response(other)
                r2.id = q.id
                r2.flags |= dns.flags.RA
                r2.answer.append(dns.rrset.from_text(other.question[0].name, 300, "IN", "A",
                                                     "192.0.2.66"))
                bad = r2.to_wire()
            elif mode == "wrongport":
                bad, kind = self.wire(good, q, transport), "otherport"
            elif mode == "wrongaddr":
                bad, kind = self.wire(good, q, transport), "otheraddr"
            elif mode == "garbage":
                bad = struct.pack("!H", q.id) + bytes(random.randrange(256) for _ in range(40))
            elif mode == "malformed":
                w = bytearray(good.to_wire())
                hdr = bytearray(w[:12])
                hdr[6:8] = struct.pack("!H", 1)   # ANCOUNT 1
                hdr[8:12] = b"\0\0\0\0"
                qlen = len(q.question[0].name.to_wire()) + 4
                # answer: a pointer to the question name, type A, class IN, TTL 300, RDLENGTH 200
                # but only 4 bytes of RDATA
                rec = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 200) + b"\x01\x02\x03\x04"
                bad = bytes(hdr) + bytes(w[12:12 + qlen]) + rec
            if bad is not None:
                if transport == "tcp" and kind != "normal":
                    kind = "normal"
                send(bad, kind)
                fu = b.get("followup")
                if fu is None:
                    return
                time.sleep(int(fu) / 1000.0)
            send(self.wire(good, q, transport), "normal")

        if delay > 0 or b.get("followup") is not None:
            def later():
                if self.stop.wait(delay):
                    return
                try:
                    go()
                except Exception:  # noqa: BLE001
                    pass
            threading.Thread(target=later, daemon=True).start()
        else:
            go()

    def udp_loop(self):
        while not self.stop.is_set():
            try:
                data, src = self.udp.recvfrom(65535)
            except OSError:
                return
            if self.stop.is_set() or not src:
                return
            q = self.record(data, "udp", src)
            if q is None:
                continue

            def send(buf, kind, src=src):
                sock = {"normal": self.udp, "otherport": self.udp_other,
                        "otheraddr": self.udp_wrongaddr or self.udp_other}[kind]
                try:
                    sock.sendto(buf, src)
                except OSError:
                    pass
            try:
                self.respond(q, "udp", send)
            except Exception as ex:  # noqa: BLE001
                sys.stderr.write("fake_upstream: udp: %r\n" % ex)

    def tcp_loop(self):
        while not self.stop.is_set():
            try:
                c, src = self.tcp.accept()
            except OSError:
                return
            threading.Thread(target=self.tcp_conn, args=(c, src), daemon=True).start()

    def tcp_conn(self, c, src):
        c.settimeout(10)
        wlock = threading.Lock()

        def send(buf, kind):
            with wlock:
                try:
                    c.sendall(struct.pack("!H", len(buf)) + buf)
                except OSError:
                    pass
        try:
            while not self.stop.is_set():
                hdr = _recv_exact(c, 2)
                if hdr is None:
                    break
                n = struct.unpack("!H", hdr)[0]
                data = _recv_exact(c, n)
                if data is None:
                    break
                q = self.record(data, "tcp", src)
                if q is None:
                    continue
                self.respond(q, "tcp", send)
        except (OSError, socket.timeout):
            pass
        finally:
            time.sleep(0.05)
            try:
                c.close()
            except OSError:
                pass

    # -- control -------------------------------------------------------------

    def control_loop(self, ctl):
        while not self.stop.is_set():
            try:
                c, _ = ctl.accept()
            except OSError:
                return
            threading.Thread(target=self.control_conn, args=(c,), daemon=True).start()

    def control_conn(self, c):
        f = c.makefile("rwb")
        try:
            for line in f:
                try:
                    req = json.loads(line)
                    cmd = req.get("cmd")
                    if cmd == "set":
                        self.set_config(req.get("config", {}))
                        resp = {"ok": True}
                    elif cmd == "update":
                        self.set_config(req.get("config", {}), merge=True)
                        resp = {"ok": True}
                    elif cmd == "log":
                        with self.lock:
                            resp = {"ok": True, "log": list(self.log)}
                    elif cmd == "clear":
                        with self.lock:
                            self.log = []
                        resp = {"ok": True}
                    elif cmd == "ping":
                        resp = {"ok": True}
                    elif cmd == "quit":
                        f.write(b'{"ok": true}\n')
                        f.flush()
                        self.shutdown()
                        return
                    else:
                        resp = {"ok": False, "error": "unknown command %r" % cmd}
                except Exception as ex:  # noqa: BLE001
                    resp = {"ok": False, "error": repr(ex)}
                f.write((json.dumps(resp) + "\n").encode())
                f.flush()
        except OSError:
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    def shutdown(self):
        # the threads are daemons: main() returns and the process exits
        self.stop.set()


def _split_rr(line):
    """'name ttl IN TYPE rdata...' -> from_text arguments."""
    parts = line.split(None, 4)
    if len(parts) < 5:
        raise ValueError("record needs name ttl class type rdata: %r" % line)
    name, ttl, cls, typ, rdata = parts
    return name, int(ttl), cls, typ, rdata


def _rename(rrset, name):
    if rrset.name == name:
        return rrset
    r = dns.rrset.RRset(name, rrset.rdclass, rrset.rdtype)
    r.update(rrset)
    r.ttl = rrset.ttl
    return r


def _recv_exact(c, n):
    buf = b""
    while len(buf) < n:
        chunk = c.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


class Client:
    """The test side: a control connection to a fake upstream process."""

    def __init__(self, proc, info):
        self.proc = proc
        self.addr = info["addr"]
        self.port = info["port"]
        self.control = info["control"]
        self.sock = socket.create_connection(("127.0.0.1", self.control), timeout=10)
        self.f = self.sock.makefile("rwb")

    def call(self, **req):
        self.f.write((json.dumps(req) + "\n").encode())
        self.f.flush()
        line = self.f.readline()
        if not line:
            raise RuntimeError("fake upstream control connection closed")
        resp = json.loads(line)
        if not resp.get("ok"):
            raise RuntimeError("fake upstream: %s" % resp.get("error"))
        return resp

    def set(self, **config):
        self.call(cmd="set", config=config)

    def update(self, **config):
        self.call(cmd="update", config=config)

    def log(self):
        return self.call(cmd="log")["log"]

    def clear(self):
        self.call(cmd="clear")

    def queries(self, qname=None, qtype=None, transport=None):
        out = []
        for e in self.log():
            if qname is not None and e["qname"] != qname.lower().rstrip(".") + ".":
                continue
            if qtype is not None and e["qtype"] != qtype:
                continue
            if transport is not None and e["transport"] != transport:
                continue
            out.append(e)
        return out

    def count(self, qname=None, qtype=None, transport=None):
        return len(self.queries(qname, qtype, transport))

    @property
    def hostport(self):
        if ":" in self.addr:
            return "[%s]:%d" % (self.addr, self.port)
        return "%s:%d" % (self.addr, self.port)

    def stop(self):
        """SIGTERM by PID; returns the exit status."""
        try:
            self.sock.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except Exception:  # noqa: BLE001
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def spawn(addr="127.0.0.1", python=sys.executable):
    """Starts a fake upstream process and returns a Client for it."""
    import subprocess
    proc = subprocess.Popen([python, os.path.abspath(__file__), "--addr", addr],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            start_new_session=True)
    line = proc.stdout.readline()
    if not line:
        proc.wait(5)
        raise RuntimeError("fake upstream did not start (status %s)" % proc.returncode)
    return Client(proc, json.loads(line))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    up = Upstream(a.addr, a.port)
    ctl = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ctl.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ctl.bind(("127.0.0.1", 0))
    ctl.listen(8)

    def on_term(signum, frame):
        up.shutdown()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    for target in (up.udp_loop, up.tcp_loop):
        threading.Thread(target=target, daemon=True).start()
    threading.Thread(target=up.control_loop, args=(ctl,), daemon=True).start()
    sys.stdout.write(json.dumps({"addr": a.addr, "port": up.port,
                                 "control": ctl.getsockname()[1]}) + "\n")
    sys.stdout.flush()
    while not up.stop.wait(0.2):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
