#!/usr/bin/python3
"""End-to-end test of the netns lab of vpcdns-provision (needs root).

Run:  /usr/bin/python3 tests/provision/test_lab.py [--provision bin/vpcdns-provision]
                                                   [--vpcdnsd bin/vpcdnsd] [-k SUBSTRING] [--keep]

It provisions the reference network (contrib/provision/examples/reference.ini)
under a stack name of its own ("vt" + PID, so a lab someone has up is never
touched) as network namespaces, with vpcdnsd started in its hosts and an
upstream resolver on the lab's internet, then asks from the hosts with the
real clients (dig through each host's /etc/netns/HOST/resolv.conf, getent,
kdig), changes the network, breaks an apply, and destroys it all, checking
nothing is left. It only creates and removes namespaces named "vt<PID>.*";
they are removed at the end, also when a test fails.

Each test prints `ok NAME` or `FAIL NAME: reason`; the last line is
`N passed, M failed`; exit status 1 if anything failed.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
from reference import reference_text  # noqa: E402
REFERENCE = os.path.join(ROOT, "contrib", "provision", "examples", "reference.ini")
SANITIZER = ("AddressSanitizer", "runtime error:", "LeakSanitizer")

ARGS = None
TMP = None
STACK = "vt%d" % os.getpid()
RUN_DIR = None
INI = None


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def write_ini(text=None, **subs):
    """The reference network under our stack name, with lines replaced ("old" -> "new")."""
    text, missing = reference_text(STACK, text, **subs)
    check(not missing, "reference.ini has no %r" % missing)
    with open(INI, "w") as f:
        f.write(text)


def provision(cmd, backend="netns", vpcdnsd=None, expect=0, ini=None):
    argv = [ARGS.provision, cmd, "-f", ini or INI, "--backend", backend,
            "--run-dir", RUN_DIR, "--vpcdnsd", vpcdnsd or ARGS.vpcdnsd]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    for s in SANITIZER:
        check(s not in p.stderr, "sanitizer report from %s:\n%s" % (cmd, p.stderr))
    if expect is not None:
        check(p.returncode == expect, "%s exited %d (wanted %d):\n%s%s" %
              (cmd, p.returncode, expect, p.stdout, p.stderr))
    return p


def ns(host):
    return "%s.h-%s" % (STACK, host)


def in_ns(name, argv, timeout=20):
    return subprocess.run(["ip", "netns", "exec", name] + argv, capture_output=True,
                          text=True, timeout=timeout)


def dig(host, name, qtype="A", server=None, tcp=False, src=None, netns=None):
    """dig from a lab host; without server it reads the host's resolv.conf."""
    argv = ["dig", "+tries=1", "+time=2", name, qtype]
    if server:
        argv.append("@" + server)
    if tcp:
        argv.append("+tcp")
    if src:
        argv += ["-b", src]
    p = in_ns(netns or ns(host), argv)
    m = re.search(r"status: (\w+)", p.stdout)
    answers = re.findall(r"(?m)^\S+\s+\d+\s+IN\s+%s\s+(\S+)$" % qtype, p.stdout)
    return (m.group(1) if m else "TIMEOUT"), answers


def expect_answer(host, name, addr, **kw):
    status, answers = dig(host, name, **kw)
    check(status == "NOERROR" and addr in answers,
          "%s asking %s: %s %s, wanted %s" % (host, name, status, answers, addr))


def expect_status(host, name, want, **kw):
    status, answers = dig(host, name, **kw)
    check(status == want, "%s asking %s: %s %s, wanted %s" % (host, name, status, answers, want))


def lab_namespaces():
    p = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    return sorted(line.split()[0] for line in p.stdout.splitlines()
                  if line.startswith(STACK + "."))


def lab_pids():
    pids = []
    piddir = os.path.join(RUN_DIR, "pids")
    if os.path.isdir(piddir):
        for f in os.listdir(piddir):
            try:
                with open(os.path.join(piddir, f)) as fh:
                    pids.append(int(fh.read().strip()))
            except (OSError, ValueError):
                pass
    return pids


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def check_nothing_left(pids):
    check(lab_namespaces() == [], "namespaces left: %s" % lab_namespaces())
    left = [d for d in os.listdir("/etc/netns") if d.startswith(STACK + ".")] \
        if os.path.isdir("/etc/netns") else []
    check(left == [], "/etc/netns folders left: %s" % left)
    deadline = time.time() + 5
    while any(alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.05)
    check(not any(alive(p) for p in pids), "processes left: %s" % [p for p in pids if alive(p)])
    check(not os.path.exists(RUN_DIR), "run dir %s left" % RUN_DIR)


# ---- tests, in order: they build on each other ----

def test_check_and_errors():
    write_ini()
    p = provision("check")
    check("3 environments, 18 subnets" in p.stdout, p.stdout)
    write_ini(**{"cidr = 10.1.0.0/16": "cidr = 10.1.0.0/33",
                 "address = 10.1.20.10": "address = 10.1.10.20"})
    p = provision("check", expect=1)
    check(re.search(r"\.ini:\d+: cidr: '10\.1\.0\.0/33'", p.stderr), p.stderr)
    write_ini(**{"address = 10.1.20.10": "address = 10.1.10.20",
                 "dns = 10.1.10.53": "dns = 10.9.0.53"})
    p = provision("check", expect=1)
    check(re.search(r"\.ini:\d+: address: 10\.1\.10\.20 is in no persistence subnet", p.stderr),
          p.stderr)
    check(re.search(r"\.ini:\d+: dns: 10\.9\.0\.53 is in no subnet", p.stderr), p.stderr)
    write_ini()


def test_plan_only_looks():
    p = provision("plan")
    check("+ create netns %s.r-production" % STACK in p.stdout, p.stdout)
    check("+ create process vpcdnsd dns-production-1" in p.stdout, p.stdout)
    check(re.search(r"Plan: \d+ to create, 0 to change, 0 to delete", p.stdout), p.stdout)
    check(lab_namespaces() == [], "plan made namespaces: %s" % lab_namespaces())


def test_apply_then_no_changes():
    p = provision("apply")
    check("The lab is up" in p.stdout, p.stdout)
    check(len(lab_namespaces()) == 11, "namespaces: %s" % lab_namespaces())
    check(provision("plan").stdout.strip() == "No changes.", "plan after apply is not empty")
    p = provision("apply")
    check(p.stdout.startswith("No changes."), "second apply changed: %s" % p.stdout)


def test_dhcp_options_become_resolv_conf():
    with open("/etc/netns/%s/resolv.conf" % ns("web-1")) as f:
        text = f.read()
    check("nameserver 10.1.10.53" in text and "search prod.internal" in text, text)
    with open("/etc/netns/%s/resolv.conf" % ns("app-1")) as f:
        text = f.read()
    check("nameserver 10.0.10.53" in text and "search dev.internal" in text, text)


def test_private_host_sees_private_and_persistence():
    expect_answer("web-1", "web-1.private.prod.internal", "10.1.10.10")
    expect_answer("web-1", "db-1.persistence.prod.internal", "10.1.20.10")
    expect_answer("web-1", "lb-1.public.prod.internal", "10.1.0.10")
    expect_answer("web-1", "db-1.persistence.prod.internal", "10.1.20.10", tcp=True)
    p = in_ns(ns("web-1"), ["getent", "hosts", "db-1.persistence.prod.internal"])
    check(p.returncode == 0 and "10.1.20.10" in p.stdout, "getent: %r %r" % (p.stdout, p.stderr))
    p = in_ns(ns("web-1"), ["kdig", "+short", "+timeout=2", "@10.1.10.53",
                            "web-1.private.prod.internal"])
    check(p.stdout.strip() == "10.1.10.10", "kdig: %r %r" % (p.stdout, p.stderr))


def test_short_names_follow_the_policy():
    # search prod.internal: web-1.prod.internal is a CNAME that vpcdnsd follows into
    # private.prod.internal for clients that tier zone admits
    p = in_ns(ns("web-1"), ["getent", "hosts", "db-1"])
    check(p.returncode == 0 and "10.1.20.10" in p.stdout, "getent db-1: %r %r" % (p.stdout, p.stderr))
    p = in_ns(ns("ops-1"), ["getent", "hosts", "web-1.prod.internal"])
    check(p.returncode == 0 and "10.1.10.10" in p.stdout, "getent from management: %r" % p.stdout)
    p = in_ns(ns("lb-1"), ["getent", "hosts", "db-1"])
    check(p.returncode != 0 and "10.1.20.10" not in p.stdout,
          "a public host resolved db-1: %r" % p.stdout)
    status, answers = dig("lb-1", "db-1.prod.internal")
    check(status == "NOERROR" and answers == [], "public host, db-1.prod.internal: %s %s"
          % (status, answers))


def test_public_host_is_refused_persistence():
    expect_answer("lb-1", "lb-1.public.prod.internal", "10.1.0.10")
    expect_status("lb-1", "db-1.persistence.prod.internal", "REFUSED")
    expect_status("lb-1", "web-1.private.prod.internal", "REFUSED")
    p = in_ns(ns("lb-1"), ["getent", "hosts", "db-1.persistence.prod.internal"])
    check(p.returncode != 0, "getent resolved a persistence name from public: %r" % p.stdout)


def test_persistence_host():
    expect_answer("db-1", "db-1.persistence.prod.internal", "10.1.20.10")
    expect_status("db-1", "lb-1.public.prod.internal", "REFUSED")
    # no internet route of its own, but vpcdnsd forwards for it
    expect_status("db-1", "www.example.net", "TIMEOUT", server="203.0.113.53")
    expect_answer("db-1", "www.example.net", "203.0.113.80")


def test_management_sees_production_across_peering():
    expect_answer("ops-1", "web-1.private.prod.internal", "10.1.10.10")
    expect_answer("ops-1", "db-1.persistence.prod.internal", "10.1.20.10")
    expect_answer("ops-1", "app-1.private.dev.internal", "10.2.10.10")
    # production's own vpcdnsd, over the peering link
    expect_answer("ops-1", "web-1.private.prod.internal", "10.1.10.10", server="10.1.10.53")


def test_development_uses_management_vpcdnsd():
    expect_answer("app-1", "app-1.private.dev.internal", "10.2.10.10")
    expect_status("app-1", "web-1.private.prod.internal", "REFUSED")
    expect_status("app-1", "ops-1.private.mgmt.internal", "REFUSED")
    # development and production are not peered: no route to production's vpcdnsd
    expect_status("app-1", "web-1.private.prod.internal", "TIMEOUT", server="10.1.10.53")


def test_outside_cannot_query():
    # From the lab's internet, and from an address outside every VPC right
    # next to vpcdnsd (the router's wan address): no answer at all.
    expect_status(None, "web-1.private.prod.internal", "TIMEOUT", server="10.1.10.53",
                  netns=STACK + ".internet")
    expect_status(None, "web-1.private.prod.internal", "TIMEOUT", server="10.1.10.53",
                  src="203.0.113.11", netns=STACK + ".r-production")
    expect_status(None, "web-1.private.prod.internal", "TIMEOUT", server="10.1.10.53",
                  src="203.0.113.11", tcp=True, netns=STACK + ".r-production")
    # the router's address inside the VPC may
    expect_answer(None, "web-1.private.prod.internal", "10.1.10.10", server="10.1.10.53",
                  src="10.1.10.1", netns=STACK + ".r-production")


def test_forwarding_reaches_the_lab_upstream():
    expect_answer("web-1", "www.example.net", "203.0.113.80")
    expect_status("web-1", "nothing.example.net", "NXDOMAIN")
    expect_answer("lb-1", "www.example.net", "203.0.113.80")
    # NAT: a private host reaches the internet itself
    expect_answer("web-1", "www.example.net", "203.0.113.80", server="203.0.113.53")


def test_change_rebuilds_only_what_changed():
    write_ini(**{"address = 10.1.0.10": "address = 10.1.0.11"})
    p = provision("plan")
    check("~ change netns %s" % ns("lb-1") in p.stdout, p.stdout)
    check("r-production" not in p.stdout, "router rebuilt for a host change: %s" % p.stdout)
    provision("apply")
    expect_answer("lb-1", "lb-1.public.prod.internal", "10.1.0.11")
    expect_answer("web-1", "lb-1.public.prod.internal", "10.1.0.11")
    check(provision("plan").stdout.strip() == "No changes.", "not converged")
    write_ini()
    provision("apply")


def test_destroy_leaves_nothing():
    pids = lab_pids()
    check(len(pids) == 3, "pids: %s" % pids)
    p = provision("destroy")
    check(re.search(r"Destroyed: 0 to create, 0 to change, \d+ to delete", p.stdout), p.stdout)
    check_nothing_left(pids)
    check(provision("destroy").stdout.strip() == "No changes.", "second destroy did something")


def test_failed_apply_is_finished_or_destroyed():
    p = provision("apply", vpcdnsd="/nonexistent/vpcdnsd", expect=1)
    check("run apply again" in p.stderr, p.stderr)
    check(len(lab_namespaces()) > 0, "nothing was built before the failure")
    p = provision("apply")
    check("vpcdnsd" in p.stdout, p.stdout)
    expect_answer("web-1", "db-1.persistence.prod.internal", "10.1.20.10")
    check(provision("plan").stdout.strip() == "No changes.", "not converged after the retry")
    pids = lab_pids()
    # break it again, then destroy straight away
    shutil.rmtree(os.path.join(RUN_DIR, "pids"))
    provision("apply", vpcdnsd="/nonexistent/vpcdnsd", expect=1)
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGTERM)
    provision("destroy")
    check_nothing_left(pids)


TESTS = [
    test_check_and_errors,
    test_plan_only_looks,
    test_apply_then_no_changes,
    test_dhcp_options_become_resolv_conf,
    test_private_host_sees_private_and_persistence,
    test_short_names_follow_the_policy,
    test_public_host_is_refused_persistence,
    test_persistence_host,
    test_management_sees_production_across_peering,
    test_development_uses_management_vpcdnsd,
    test_outside_cannot_query,
    test_forwarding_reaches_the_lab_upstream,
    test_change_rebuilds_only_what_changed,
    test_destroy_leaves_nothing,
    test_failed_apply_is_finished_or_destroyed,
]


def cleanup():
    """Whatever happened: our namespaces, processes and folders go."""
    pids = lab_pids()
    if os.path.exists(INI):
        provision("destroy", expect=None)
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    for name in lab_namespaces():
        subprocess.run(["ip", "netns", "del", name])
    if os.path.isdir("/etc/netns"):
        for d in os.listdir("/etc/netns"):
            if d.startswith(STACK + "."):
                shutil.rmtree(os.path.join("/etc/netns", d), ignore_errors=True)


def main():
    global ARGS, TMP, RUN_DIR, INI
    ap = argparse.ArgumentParser(description="end-to-end test of the vpcdns-provision lab")
    ap.add_argument("--provision", default=os.path.join(ROOT, "bin", "vpcdns-provision"))
    ap.add_argument("--vpcdnsd", default=os.path.join(ROOT, "bin", "vpcdnsd"))
    ap.add_argument("-k", default="")
    ap.add_argument("--keep", action="store_true", help="leave the lab up at the end")
    ARGS = ap.parse_args()
    ARGS.provision = os.path.abspath(ARGS.provision)
    ARGS.vpcdnsd = os.path.abspath(ARGS.vpcdnsd)
    if os.geteuid() != 0:
        print("FAIL test_lab: needs root (network namespaces)")
        print("0 passed, 1 failed")
        return 1
    TMP = tempfile.mkdtemp(prefix="vpcdns-lab-")
    RUN_DIR = os.path.join(TMP, "run")
    INI = os.path.join(TMP, "network.ini")
    passed = failed = 0
    try:
        for t in TESTS:
            if ARGS.k and ARGS.k not in t.__name__:
                continue
            try:
                t()
                print("ok", t.__name__)
                passed += 1
            except TestFailure as e:
                print("FAIL %s: %s" % (t.__name__, e))
                failed += 1
            except Exception:
                print("FAIL %s: %s" % (t.__name__, traceback.format_exc()))
                failed += 1
            sys.stdout.flush()
    finally:
        if not ARGS.keep:
            cleanup()
            shutil.rmtree(TMP, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
