#!/usr/bin/python3
"""vpcdns benchmark driver (started by tests/bench/run.sh, which builds the
reflector and generates the data first).

    bench.py --work DIR --vpcdnsd bin/vpcdnsd --reflector DIR/reflector \
             --n N --duration S --rounds R --out results/latest.md

Phase 1, authoritative: the reflector, vpcdnsd, NSD and Knot DNS serve the
zone; rounds are interleaved (A B C D A B C D ...) and each number is the
median over the rounds.  Phase 2, cache hits: vpcdnsd, Unbound and dnsmasq
forward to one NSD serving the zone; their caches are warmed with the cache
query set, then the rounds run over that same set and NSD's query counter
(nsd-control stats_noreset) shows how many queries still went upstream.

Each server runs pinned to CPU 0 (taskset -c 0), dnsperf to CPU 1.  Only
processes started here are stopped, by PID, on exit.  The benchmark never
fails on a number; it exits non-zero only when it could not run.
"""

import argparse
import os
import random
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

ZONE = "bench.internal"
CLK_TCK = os.sysconf("SC_CLK_TCK")
STARTED = []          # Popen objects we started, stopped on exit
LOG = sys.stderr


def log(msg):
    print("bench: " + msg, file=LOG, flush=True)


# ---------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------

def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def tree(pid):
    """pid and all its descendants (NSD forks its server and xfrd)."""
    kids = children_map()
    out, queue = [], [pid]
    while queue:
        p = queue.pop()
        out.append(p)
        queue.extend(kids.get(p, []))
    return out


def cpu_ticks(pids):
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])     # utime + stime
    return total


def ctx_switches(pids):
    """Voluntary + involuntary context switches of every thread of the server."""
    total = 0
    for p in pids:
        try:
            for t in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/status" % (p, t)) as f:
                    for line in f:
                        if "ctxt_switches:" in line:
                            total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_busy(cpu):
    """Busy ticks of one CPU (all but idle and iowait), from /proc/stat."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu%d " % cpu):
                v = [int(x) for x in line.split()[1:]]
                return sum(v[:8]) - v[3] - v[4]
    return 0


def pss_kib(pids):
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def affinity(pids):
    """CPU lists of every thread of the server, e.g. {'0'} or {'0', '0-1'}."""
    cpus = set()
    for p in pids:
        try:
            for t in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/status" % (p, t)) as f:
                    for line in f:
                        if line.startswith("Cpus_allowed_list:"):
                            cpus.add(line.split()[1])
        except OSError:
            pass
    return cpus


def start(name, argv, cpu, logdir):
    logf = open(os.path.join(logdir, re.sub(r"\W+", "-", name) + ".log"), "w")
    p = subprocess.Popen(["taskset", "-c", str(cpu)] + argv, stdin=subprocess.DEVNULL,
                         stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    p.bench_name = name
    p.bench_log = logf.name
    STARTED.append(p)
    return p


def stop(p):
    """SIGTERM the server (by PID), SIGKILL it and what it forked after 10 s."""
    if p.poll() is not None:
        return
    pids = tree(p.pid)
    try:
        os.kill(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    time.sleep(0.2)
    for q in pids[1:]:
        try:
            os.kill(q, signal.SIGKILL)
        except ProcessLookupError:
            pass


def stop_all(*_):
    for p in reversed(STARTED):
        stop(p)
    STARTED.clear()


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", s.getsockname()[1]))
        except OSError:
            s.close()
            t.close()
            continue
        socks += [s, t]
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


# ---------------------------------------------------------------------------
# DNS probe: the first correct answer for the last host of the zone
# ---------------------------------------------------------------------------

def dns_query(qid, name, qtype=1):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)


def skip_name(m, o):
    while True:
        n = m[o]
        if n == 0:
            return o + 1
        if n & 0xC0 == 0xC0:
            return o + 2
        o += n + 1


def answer_has_a(m, qid, ip):
    if len(m) < 12:
        return False
    rid, flags, qd, an = struct.unpack(">HHHH", m[:8])
    if rid != qid or not flags & 0x8000 or flags & 0xF != 0:
        return False
    o = 12
    for _ in range(qd):
        o = skip_name(m, o) + 4
    for _ in range(an):
        o = skip_name(m, o)
        rtype, _, _, rdlen = struct.unpack(">HHIH", m[o:o + 10])
        o += 10
        if rtype == 1 and rdlen == 4 and socket.inet_ntoa(m[o:o + 4]) == ip:
            return True
        o += rdlen
    return False


def wait_answer(port, name, ip, t0, proc, timeout):
    """Seconds from t0 to the first correct A answer, or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.02)
    qid = 1
    try:
        while time.monotonic() - t0 < timeout:
            if proc is not None and proc.poll() is not None:
                return None
            qid = qid % 65535 + 1
            try:
                s.sendto(dns_query(qid, name), ("127.0.0.1", port))
                while True:
                    m = s.recv(4096)
                    if answer_has_a(m, qid, ip):
                        return time.monotonic() - t0
                    if struct.unpack(">H", m[:2])[0] == qid:
                        break
            except (socket.timeout, ConnectionRefusedError, OSError):
                pass
            time.sleep(0.002)
    finally:
        s.close()
    return None


# ---------------------------------------------------------------------------
# servers
# ---------------------------------------------------------------------------

def conf_vpcdnsd(d, port, zonefile=None, upstream=None):
    path = os.path.join(d, "vpcdnsd-%d.ini" % port)
    with open(path, "w") as f:
        f.write("[server]\nlisten = 127.0.0.1:%d\nworkers = 1\nallow = 127.0.0.0/8\n" % port)
        if upstream is None:
            f.write("recursion = no\n\n[zone:%s]\nfile = %s\n" % (ZONE, zonefile))
        else:
            f.write("recursion = yes\n\n[forward]\nupstream = 127.0.0.1:%d\n\n"
                    "[cache]\nsize = 256M\n" % upstream)
    return path


def conf_nsd(d, port, zonefile, control=False):
    sub = os.path.join(d, "nsd-%d" % port)
    os.makedirs(sub, exist_ok=True)
    path = os.path.join(sub, "nsd.conf")
    with open(path, "w") as f:
        f.write("""server:
    ip-address: 127.0.0.1@{port}
    port: {port}
    server-count: 1
    tcp-count: 16
    reuseport: no
    username: ""
    chroot: ""
    zonesdir: "{sub}"
    pidfile: "{sub}/nsd.pid"
    database: ""
    xfrdfile: "{sub}/xfrd.state"
    zonelistfile: "{sub}/zone.list"
    verbosity: 1
    minimal-responses: yes
    refuse-any: no
    hide-version: yes
    # Debian's NSD is built with response rate limiting: turn it off.
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: {ctl}
    control-interface: "{sub}/nsd.sock"
zone:
    name: {zone}
    zonefile: "{zonefile}"
""".format(port=port, sub=sub, zone=ZONE, zonefile=zonefile,
           ctl="yes" if control else "no"))
    return path


def conf_knot(d, port, zonefile):
    sub = os.path.join(d, "knot-%d" % port)
    os.makedirs(sub, exist_ok=True)
    path = os.path.join(sub, "knot.conf")
    with open(path, "w") as f:
        f.write("""server:
    rundir: "{sub}"
    pidfile: "{sub}/knot.pid"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: notice
database:
    storage: "{sub}"
control:
    listen: "{sub}/knot.sock"
template:
  - id: default
    storage: "{zdir}"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
zone:
  - domain: {zone}
    file: "{zonefile}"
""".format(sub=sub, port=port, zone=ZONE, zonefile=zonefile,
           zdir=os.path.dirname(zonefile)))
    return path


def conf_unbound(d, port, upstream):
    path = os.path.join(d, "unbound-%d.conf" % port)
    with open(path, "w") as f:
        f.write("""server:
    interface: 127.0.0.1@{port}
    port: {port}
    num-threads: 1
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{d}"
    pidfile: ""
    use-syslog: no
    verbosity: 0
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    module-config: "iterator"
    qname-minimisation: no
    prefetch: no
    so-rcvbuf: 4m
    msg-cache-size: 128m
    rrset-cache-size: 128m
    local-zone: "{zone}." nodefault
remote-control:
    control-enable: no
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@{up}
""".format(port=port, d=d, up=upstream, zone=ZONE))
    return path


def dnsmasq_argv(port, upstream):
    return ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
            "--no-hosts", "--bind-interfaces", "--listen-address=127.0.0.1",
            "--port=%d" % port, "--server=127.0.0.1#%d" % upstream, "--cache-size=100000",
            "--cache-rr=A", "--cache-rr=AAAA", "--cache-rr=CNAME", "--cache-rr=TXT",
            "--cache-rr=SRV", "--dns-forward-max=1000", "--user=root", "--pid-file="]


def version(argv, pattern=None):
    try:
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=10, text=True).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    line = out.strip().splitlines()[0] if out.strip() else "?"
    if pattern:
        m = re.search(pattern, out)
        if m:
            return m.group(1)
    return line


def nsd_queries(conf):
    """Queries NSD has answered (UDP + TCP), from nsd-control stats_noreset."""
    out = subprocess.run(["nsd-control", "-c", conf, "stats_noreset"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=10).stdout
    m = re.search(r"^num\.queries=(\d+)", out, re.M)
    if not m:
        raise RuntimeError("nsd-control stats_noreset: " + out.strip()[:200])
    return int(m.group(1))


# ---------------------------------------------------------------------------
# dnsperf
# ---------------------------------------------------------------------------

def dnsperf(port, qfile, duration, opts, qps=None, verbose=False, loops=None):
    argv = ["taskset", "-c", "1", "dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", qfile] + opts
    if loops is not None:
        argv += ["-n", str(loops)]
    else:
        argv += ["-l", str(duration)]
    if qps:
        argv += ["-Q", str(qps)]
    if verbose:
        argv += ["-v"]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=(duration or 60) * 3 + 120)
    out = r.stdout
    res = {"argv": " ".join(argv[3:])}

    def num(pat, cast=float):
        m = re.search(pat, out)
        return cast(m.group(1)) if m else None
    res["qps"] = num(r"Queries per second:\s+([\d.]+)")
    res["sent"] = num(r"Queries sent:\s+(\d+)", int)
    res["completed"] = num(r"Queries completed:\s+(\d+)", int)
    res["lost"] = num(r"Queries lost:\s+(\d+)", int)
    res["runtime"] = num(r"Run time \(s\):\s+([\d.]+)")
    m = re.search(r"Response codes:\s+(.*)", out)
    res["rcodes"] = m.group(1).strip() if m else ""
    if res["qps"] is None:
        raise RuntimeError("dnsperf failed (%d): %s" % (r.returncode, out[-500:]))
    if verbose:
        lat = sorted(float(x) for x in re.findall(r"^> \S+ \S+ \S+ ([\d.]+)$", out, re.M))
        if lat:
            res["p50"] = lat[len(lat) // 2]
            res["p99"] = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            res["lat_n"] = len(lat)
    return res


# ---------------------------------------------------------------------------
# the benchmark
# ---------------------------------------------------------------------------

class Server:
    def __init__(self, name, argv, port, probe=True):
        self.name, self.argv, self.port, self.probe = name, argv, port, probe
        self.proc = None
        self.rounds = []        # (qps, cores, dnsperf result)
        self.latency = None
        self.start_s = None
        self.pss = None
        self.cpus = set()
        self.version = "?"
        self.upstream_q = None
        self.sent = 0
        self.note = ""


def launch(srv, workdir, last_name, last_ip, timeout):
    t0 = time.monotonic()
    srv.proc = start(srv.name, srv.argv, 0, workdir)
    if srv.probe:
        srv.start_s = wait_answer(srv.port, last_name, last_ip, t0, srv.proc, timeout)
        if srv.start_s is None:
            tail = open(srv.proc.bench_log).read()[-800:]
            raise RuntimeError("%s gave no correct answer for %s within %d s (log %s):\n%s"
                               % (srv.name, last_name, timeout, srv.proc.bench_log, tail))
    else:
        time.sleep(0.5)
        if srv.proc.poll() is not None:
            raise RuntimeError("%s exited: %s" % (srv.name, open(srv.proc.bench_log).read()[-800:]))
    log("%s up on port %d%s" % (srv.name, srv.port,
        "" if srv.start_s is None else ", first correct answer after %.3f s" % srv.start_s))


def measure_round(srv, qfile, duration, opts):
    pids = tree(srv.proc.pid)
    x0, c0, t0 = ctx_switches(pids), cpu_ticks(pids), time.monotonic()
    b0 = cpu_busy(0)
    res = dnsperf(srv.port, qfile, duration, opts)
    pids = tree(srv.proc.pid)
    c1, t1, x1 = cpu_ticks(pids), time.monotonic(), ctx_switches(pids)
    # Over dnsperf's run time, which its QPS is counted over too, not the wall
    # time: after the run dnsperf waits up to its timeout (5 s) for queries
    # that were lost, the server idles meanwhile, and the wall time would make
    # a server that loses queries look cheaper per query.
    span = min(res["runtime"] or (t1 - t0), t1 - t0)
    cores = (c1 - c0) / CLK_TCK / span
    # CPU 0 busy time that was not the server: other processes, interrupts
    res["other_cpu0"] = max(0.0, (cpu_busy(0) - b0) / CLK_TCK / span - cores)
    res["ctx_per_1k"] = (x1 - x0) * 1000.0 / max(1, res["completed"] or 0)
    srv.rounds.append((res["qps"], cores, res))
    srv.sent += res["sent"] or 0
    if srv.proc.poll() is not None:
        raise RuntimeError("%s died during the run" % srv.name)
    log("  %-16s %9.0f qps  %.2f cores  lost %s  %s" % (srv.name, res["qps"], cores,
                                                       res["lost"], res["rcodes"]))


def run_rounds(servers, qfile, args, opts, on_round=None):
    for r in range(args.rounds):
        log("round %d/%d" % (r + 1, args.rounds))
        for srv in servers:
            before = on_round(srv) if on_round else None
            measure_round(srv, qfile, args.duration, opts)
            if on_round:
                srv.upstream_q = (srv.upstream_q or 0) + on_round(srv) - before
            time.sleep(0.5)
    # Latency: interleaved rounds too (at least 5, of half the duration: 50,000
    # queries or more each), each server's p50 and p99 the median of its
    # rounds, so that a burst of noise on the shared machine lands in one round
    # of one server rather than in the only run it gets.
    runs = {srv.name: [] for srv in servers}
    lat_rounds, lat_duration = max(args.rounds, 5), max(5, args.duration // 2)
    for r in range(lat_rounds):
        log("latency round %d/%d at 10k QPS" % (r + 1, lat_rounds))
        for srv in servers:
            res = dnsperf(srv.port, qfile, lat_duration, opts, qps=10000, verbose=True)
            runs[srv.name].append(res)
            log("  %-16s p50 %.3f ms  p99 %.3f ms" % (srv.name, res.get("p50", 0) * 1e3,
                                                     res.get("p99", 0) * 1e3))
    for srv in servers:
        lat = {}
        for k in ("p50", "p99"):
            vals = [res[k] for res in runs[srv.name] if k in res]
            if vals:
                lat[k] = statistics.median(vals)
        lat["rounds"] = runs[srv.name]
        srv.latency = lat


def fmt(x, spec, none="–"):
    return none if x is None else format(x, spec)


def table(servers, ref, mode, n):
    lines = ["| server | QPS | server CPU (cores) | QPS / core | vs vpcdnsd | p50 ms | p99 ms "
             "| PSS MiB | start → answer s | upstream queries | version |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"]
    def med(s, k):
        return statistics.median(x[k] for x in s.rounds) if s.rounds else None
    refqpc = None
    if ref.rounds:
        refqpc = statistics.median(q / c for q, c, _ in ref.rounds if c > 0)
    for s in servers:
        qps, cores = med(s, 0), med(s, 1)
        qpcs = [q / c for q, c, _ in s.rounds if c > 0]
        qpc = statistics.median(qpcs) if qpcs else None
        ratio = qpc / refqpc if qpc and refqpc else None
        lat = s.latency or {}
        up = None
        if s.upstream_q is not None:
            up = "%d of %d" % (s.upstream_q, s.sent)
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            s.name, fmt(qps, ",.0f"), fmt(cores, ".2f"), fmt(qpc, ",.0f"),
            fmt(ratio, ".2f") if s.name != "reflector" else "–",
            fmt(lat.get("p50") and lat["p50"] * 1e3, ".3f"),
            fmt(lat.get("p99") and lat["p99"] * 1e3, ".3f"),
            fmt(s.pss and s.pss / 1024, ".1f"), fmt(s.start_s, ".3f"), up or "–", s.version))
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--vpcdnsd", required=True)
    ap.add_argument("--reflector", required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dnsperf-opts", default="-c 8 -T 2 -q 200")
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="auth,cache")
    args = ap.parse_args()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: (stop_all(), sys.exit(2)))

    w = os.path.abspath(args.work)
    zonefile = os.path.join(w, ZONE + ".zone")
    qauth = os.path.join(w, "queries-auth.txt")
    qcache = os.path.join(w, "queries-cache.txt")
    last_name, last_ip = open(os.path.join(w, "last.txt")).read().split()
    rd = os.path.join(w, "run")          # configs, server state and logs of this run
    shutil.rmtree(rd, ignore_errors=True)
    os.makedirs(rd)
    opts = args.dnsperf_opts.split()
    vpc = os.path.abspath(args.vpcdnsd)
    start_timeout = 120 + args.n // 2000
    ports = free_ports(8)
    vpc_ver = version([vpc, "-V"])
    git = version(["git", "-C", os.path.dirname(vpc), "rev-parse", "--short", "HEAD"])
    versions = {
        "reflector": "tests/bench/reflector.c",
        "vpcdnsd": "%s (git %s)" % (vpc_ver, git),
        "NSD": "NSD " + version(["nsd", "-v"], r"version (\S+)"),
        "Knot DNS": "Knot " + version(["knotd", "-V"], r"(\d+\.\d+\.\d+)"),
        "Unbound": "Unbound " + version(["unbound", "-V"], r"Version (\S+)"),
        "dnsmasq": "dnsmasq " + version(["dnsmasq", "-v"], r"version (\S+)"),
    }
    dnsperf_ver = version(["dnsperf", "-h"], r"Version (\S+)")
    machine = "%s, %d CPUs, %s" % (version(["uname", "-r"]), os.cpu_count(),
                                   version(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo"],
                                           r"model name\s*:\s*(.*)"))
    report = []
    auth = cache = None
    try:
        if "auth" in args.only:
            log("phase 1: authoritative, %d hosts" % args.n)
            auth = [
                Server("reflector", [os.path.abspath(args.reflector), str(ports[0])], ports[0],
                       probe=False),
                Server("vpcdnsd", [vpc, "-c", conf_vpcdnsd(rd, ports[1], zonefile)], ports[1]),
                Server("NSD", ["nsd", "-d", "-c", conf_nsd(rd, ports[2], zonefile)], ports[2]),
                Server("Knot DNS", ["knotd", "-c", conf_knot(rd, ports[3], zonefile)], ports[3]),
            ]
            for s in auth:
                s.version = versions[s.name]
                launch(s, rd, last_name, last_ip, start_timeout)
                time.sleep(1.0)
                s.pss = pss_kib(tree(s.proc.pid))
                s.cpus = affinity(tree(s.proc.pid))
            # warm-up: one short unmeasured run each (page faults, socket buffers)
            for s in auth:
                dnsperf(s.port, qauth, 2, opts)
            run_rounds(auth, qauth, args, opts)
            for s in auth:
                s.cpus |= affinity(tree(s.proc.pid))
                stop(s.proc)

        if "cache" in args.only:
            log("phase 2: cache hits, forwarding to NSD")
            upconf = conf_nsd(rd, ports[4], zonefile, control=True)
            up = Server("upstream NSD", ["nsd", "-d", "-c", upconf], ports[4])
            launch(up, rd, last_name, last_ip, start_timeout)
            # The upstream runs on CPU 1 with dnsperf (it is idle during the rounds).
            subprocess.run(["taskset", "-a", "-p", "-c", "1", str(up.proc.pid)],
                           stdout=subprocess.DEVNULL)
            for p in tree(up.proc.pid):
                subprocess.run(["taskset", "-a", "-p", "-c", "1", str(p)],
                               stdout=subprocess.DEVNULL)
            cache = [
                Server("vpcdnsd", [vpc, "-c", conf_vpcdnsd(rd, ports[5], upstream=ports[4])],
                       ports[5]),
                Server("Unbound", ["unbound", "-d", "-c", conf_unbound(rd, ports[6], ports[4])],
                       ports[6]),
                Server("dnsmasq", dnsmasq_argv(ports[7], ports[4]), ports[7]),
            ]
            for s in cache:
                s.version = versions[s.name]
                launch(s, rd, last_name, last_ip, 60)
                s.cpus = affinity(tree(s.proc.pid))
                # warm the cache: the whole cache query set, twice, paced
                q0 = nsd_queries(upconf)
                dnsperf(s.port, qcache, None, opts, qps=20000, loops=2)
                q1 = nsd_queries(upconf)
                log("  %s warmed: %d upstream queries for %d names" %
                    (s.name, q1 - q0, sum(1 for _ in open(qcache))))
                time.sleep(0.5)
                s.pss = pss_kib(tree(s.proc.pid))
            run_rounds(cache, qcache, args, opts, on_round=lambda s: nsd_queries(upconf))
            for s in cache:
                s.cpus |= affinity(tree(s.proc.pid))
    finally:
        stop_all()

    report.append("# vpcdns benchmark")
    report.append("")
    report.append("%s; N = %d hosts; %d rounds of %d s, interleaved, medians; dnsperf %s `%s` "
                  "on CPU 1, each server pinned to CPU 0; latency from separate interleaved "
                  "rounds paced at 10k QPS (`-Q 10000 -v`), medians of the rounds' p50 and "
                  "p99; %s." % (
                      time.strftime("%Y-%m-%d %H:%M"), args.n, args.rounds, args.duration,
                      dnsperf_ver, args.dnsperf_opts, machine, ))
    if auth:
        report += ["", "## Authoritative (zone of %d hosts, query mix over all names)" % args.n, ""]
        report += table(auth, auth[1], "auth", args.n)
    if cache:
        report += ["", "## Cache hits (forwarding to NSD, warm cache, %d distinct cached "
                   "questions)" % sum(1 for _ in open(qcache)), ""]
        report += table(cache, cache[0], "cache", args.n)
        report += ["", "PSS here is after the warm-up; start → answer is the first forwarded "
                   "answer. *upstream queries*: queries that reached the upstream NSD during "
                   "the measured rounds, of all queries sent (0 = every answer a cache hit)."]
    report += ["", "## Details", "", "CPU affinity of every thread as seen in /proc "
               "(Knot pins its own workers):", ""]
    for s in (auth or []) + (cache or []):
        report.append("- %s: %s" % (s.name, ", ".join(sorted(s.cpus)) or "?"))
    report += ["", "Rounds (QPS / server cores / queries lost / server context switches per "
               "1000 queries / CPU 0 busy with anything else, in cores: noise), last round's "
               "response codes:", ""]
    for title, group in (("authoritative", auth), ("cache", cache)):
        for s in group or []:
            rs = "; ".join("%.0f / %.2f / %s / %.0f / %.2f" % (q, c, r["lost"], r["ctx_per_1k"],
                                                              r["other_cpu0"])
                           for q, c, r in s.rounds)
            report.append("- %s %s: %s; %s" % (title, s.name, rs,
                                               s.rounds[-1][2]["rcodes"] if s.rounds else ""))
    report += ["", "Latency rounds at 10k QPS (p50 / p99 ms):", ""]
    for title, group in (("authoritative", auth), ("cache", cache)):
        for s in group or []:
            rs = "; ".join("%.3f / %.3f" % (r.get("p50", 0) * 1e3, r.get("p99", 0) * 1e3)
                           for r in (s.latency or {}).get("rounds", []))
            report.append("- %s %s: %s" % (title, s.name, rs))
    text = "\n".join(report) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:          # could not run: say why, exit non-zero
        stop_all()
        log("could not run: %s" % e)
        sys.exit(1)
