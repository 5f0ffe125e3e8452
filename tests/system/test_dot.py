#!/usr/bin/python3
"""DNS over TLS to upstreams (RFC 7858): vpcdnsd against an Unbound TLS listener.

The test makes its own CA and a server certificate for dns.test, starts
Unbound on a loopback port with a TLS listener serving local data, and
checks that vpcdnsd forwards over TLS when the name and CA are right, and
refuses the upstream (SERVFAIL) when tls_name does not match the certificate
or the CA is not the one that signed it.

Run: /usr/bin/python3 tests/system/test_dot.py --vpcdnsd bin/vpcdnsd
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(200):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
    raise RuntimeError("no free port")


def run(cmd, cwd):
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_pki(d):
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
         "-out", "ca.pem", "-days", "2", "-subj", "/CN=vpcdns test CA"], d)
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key",
         "-out", "other.pem", "-days", "2", "-subj", "/CN=other CA"], d)
    run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out",
         "srv.csr", "-subj", "/CN=dns.test"], d)
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=DNS:dns.test\n")
    run(["openssl", "x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext"], d)


def wait_port(port, proto, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if proto == "tcp":
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return True
            else:
                q = dns.message.make_query("version.invalid", "A")
                dns.query.udp(q, "127.0.0.1", port=port, timeout=0.3)
                return True
        except Exception:
            time.sleep(0.1)
    return False


class Daemon:
    def __init__(self, cmd, log, cwd):
        self.log = log
        self.f = open(log, "w")
        self.p = subprocess.Popen(cmd, stdout=self.f, stderr=subprocess.STDOUT, cwd=cwd)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.f.close()
        return self.p.returncode

    def text(self):
        with open(self.log) as f:
            return f.read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vpcdnsd", required=True)
    args = ap.parse_args()
    vpcdnsd = os.path.abspath(args.vpcdnsd)
    passed = failed = 0
    if shutil.which("unbound") is None:
        print("FAIL unbound_available: unbound is not installed (make deps installs it)")
        print("0 passed, 1 failed")
        return 1
    d = tempfile.mkdtemp(prefix="vpcdns-dot-")
    daemons = []
    try:
        make_pki(d)
        tls_port = free_port()
        with open(os.path.join(d, "unbound.conf"), "w") as f:
            f.write(f"""server:
  interface: 127.0.0.1@{tls_port}
  tls-port: {tls_port}
  tls-service-key: "{d}/srv.key"
  tls-service-pem: "{d}/srv.pem"
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "{d}"
  pidfile: ""
  use-syslog: no
  logfile: ""
  access-control: 127.0.0.0/8 allow
  local-zone: "example.test." static
  local-data: "www.example.test. 60 IN A 192.0.2.7"
  local-data: "example.test. 60 IN SOA ns.example.test. h.example.test. 1 2 3 4 60"
  do-not-query-localhost: yes
  verbosity: 1
remote-control:
  control-enable: no
""")
        ub = Daemon(["unbound", "-d", "-c", os.path.join(d, "unbound.conf")],
                    os.path.join(d, "unbound.log"), d)
        daemons.append(ub)
        if not wait_port(tls_port, "tcp"):
            raise RuntimeError("unbound did not start: " + ub.text())

        cases = [
            # name, tls_name, tls_ca, expected rcode
            ("dot_forward_verified", "dns.test", "ca.pem", dns.rcode.NOERROR),
            ("dot_wrong_tls_name_rejected", "wrong.test", "ca.pem", dns.rcode.SERVFAIL),
            ("dot_untrusted_ca_rejected", "dns.test", "other.pem", dns.rcode.SERVFAIL),
        ]
        for name, tls_name, ca, want in cases:
            port = free_port()
            ini = os.path.join(d, name + ".ini")
            with open(ini, "w") as f:
                f.write(f"[server]\nlisten = 127.0.0.1:{port}\nworkers = 1\n"
                        f"upstream_timeout = 2000\n[forward]\nupstream = 127.0.0.1:{tls_port}\n"
                        f"tls = yes\ntls_name = {tls_name}\ntls_ca = {ca}\n"
                        f"[cache]\nservfail_ttl = 0\n")
            v = Daemon([vpcdnsd, "-c", ini], os.path.join(d, name + ".log"), d)
            daemons.append(v)
            why = None
            try:
                if not wait_port(port, "udp"):
                    raise RuntimeError("vpcdnsd did not start")
                start = time.time()
                q = dns.message.make_query("www.example.test", "A")
                r = dns.query.udp(q, "127.0.0.1", port=port, timeout=5)
                took = time.time() - start
                if r.rcode() != want:
                    why = "rcode %s, want %s" % (dns.rcode.to_text(r.rcode()),
                                                 dns.rcode.to_text(want))
                elif want == dns.rcode.NOERROR:
                    addrs = [rr.address for rrset in r.answer for rr in rrset
                             if rrset.rdtype == dns.rdatatype.A]
                    if addrs != ["192.0.2.7"]:
                        why = "answer %s" % addrs
                    elif not r.flags & dns.flags.RA:
                        why = "RA not set"
                    else:
                        # A second query reuses the TLS connection (or the cache).
                        r2 = dns.query.tcp(q, "127.0.0.1", port=port, timeout=5)
                        if r2.rcode() != dns.rcode.NOERROR or not r2.answer:
                            why = "second query over TCP: %s" % r2
                elif took > 3.5:
                    why = "SERVFAIL took %.1fs, budget 2s" % took
                if why is None and want == dns.rcode.SERVFAIL and \
                        "certificate verify failed" not in v.text():
                    why = "no certificate error logged"
            except Exception as e:  # noqa: BLE001 - report any failure of the case
                why = repr(e)
            rc = v.stop()
            text = v.text()
            if why is None and rc != 0:
                why = "vpcdnsd exited %s" % rc
            if why is None and ("AddressSanitizer" in text or "runtime error:" in text):
                why = "sanitizer report"
            if why is None:
                print("ok", name)
                passed += 1
            else:
                print("FAIL %s: %s" % (name, why))
                print("    " + "\n    ".join(text.splitlines()[-8:]))
                failed += 1
    except Exception as e:  # noqa: BLE001
        print("FAIL setup: %r" % (e,))
        failed += 1
    finally:
        for dmn in daemons:
            dmn.stop()
        shutil.rmtree(d, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
