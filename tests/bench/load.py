#!/usr/bin/python3
"""Zone loading at scale: start-up time, memory, and a reload under full load.

    load.py start  --work DIR [--vpcdnsd bin/vpcdnsd] [--servers vpcdnsd,knot,nsd] [--rounds 3]
    load.py reload --work DIR [--vpcdnsd bin/vpcdnsd] [--loops 2] [--reload-at 5]

DIR holds the data of gen.py (bench.internal.zone, queries-auth.txt, last.txt),
e.g. `python3 tests/bench/gen.py 1000000 tests/bench/work/1m`.

start: each server is started (pinned to CPU 0) with the zone, timed from the
spawn to its first correct answer for the zone's last host (polled every
2 ms, as bench.py does), and its PSS is read one second later; stopped, and
again for each round (rounds interleaved over the servers, medians shown).

reload: vpcdnsd serves the zone while dnsperf (CPU 1) sends the authoritative
query file --loops times at full speed (a count, not a time limit, so that
every query not answered is a lost one). --reload-at seconds in, a changed
copy of the zone (new serial, the last host's address changed, one host added)
is written over the zone file and vpcdnsd gets SIGHUP. The report gives the
queries sent, completed and lost, the time from SIGHUP to the first answer
with the new data (polled over UDP), the log lines of the reload, and dnsperf's
QPS in the seconds before, during and after (its -S 1 interval statistics).
Every process is started here and stopped by PID; loopback only.
"""

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def server(name, rd, port, zonefile, vpc):
    if name == "vpcdnsd":
        return bench.Server("vpcdnsd", [vpc, "-c", bench.conf_vpcdnsd(rd, port, zonefile)], port)
    if name == "knot":
        return bench.Server("Knot DNS", ["knotd", "-c", bench.conf_knot(rd, port, zonefile)],
                            port)
    if name == "nsd":
        return bench.Server("NSD", ["nsd", "-d", "-c", bench.conf_nsd(rd, port, zonefile)],
                            port)
    raise SystemExit("load.py: unknown server " + name)


def cmd_start(args, w, rd, last):
    names = args.servers.split(",")
    ports = bench.free_ports(len(names))
    zonefile = os.path.join(w, bench.ZONE + ".zone")
    res = {n: [] for n in names}
    for r in range(args.rounds):
        for n, port in zip(names, ports):
            s = server(n, rd, port, zonefile, args.vpcdnsd)
            bench.launch(s, rd, last[0], last[1], 600)
            time.sleep(1.0)
            pss = bench.pss_kib(bench.tree(s.proc.pid)) / 1024
            res[n].append((s.start_s, pss))
            bench.log("round %d: %s start -> answer %.3f s, PSS %.1f MiB" % (r + 1, s.name,
                                                                           s.start_s, pss))
            bench.stop(s.proc)
            bench.STARTED.remove(s.proc)
    print("| server | start → answer s (median) | all rounds | PSS MiB (median) |")
    print("|---|--:|---|--:|")
    for n in names:
        st = [x[0] for x in res[n]]
        print("| %s | %.3f | %s | %.1f |" % (n, statistics.median(st),
                                              ", ".join("%.3f" % x for x in st),
                                              statistics.median(x[1] for x in res[n])))


def changed_zone(src, dst, last_name):
    """The zone with serial + 1, the last host at 10.255.255.254 and a host `reloaded`."""
    host = last_name.split(".")[0]
    with open(src) as f, open(dst + ".tmp", "w") as g:
        for line in f:
            if " SOA " in line:
                line = re.sub(r"(SOA \S+ \S+ )(\d+)", lambda m: m.group(1) +
                              str(int(m.group(2)) + 1), line)
            elif line.startswith(host + " IN A "):
                line = "%s IN A 10.255.255.254\n" % host
            g.write(line)
        g.write("reloaded IN A 10.255.255.253\n")
    os.rename(dst + ".tmp", dst)


def udp_drops(port):
    """Datagrams dropped at the UDP socket bound to port (/proc/net/udp, last column)."""
    try:
        with open("/proc/net/udp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[1].split(":")[1], 16) == port:
                    return int(fields[-1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def cmd_reload(args, w, rd, last):
    zonefile = os.path.join(rd, "reload.zone")
    shutil.copyfile(os.path.join(w, bench.ZONE + ".zone"), zonefile)
    port = bench.free_ports(1)[0]
    s = server("vpcdnsd", rd, port, zonefile, args.vpcdnsd)
    bench.launch(s, rd, last[0], last[1], 600)
    qfile = os.path.join(w, "queries-auth.txt")
    # A fixed number of queries (-n passes over the file), not a time limit: dnsperf then
    # waits for every answer, and "lost" counts only queries that never got one.
    argv = ["taskset", "-c", "1", "dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", qfile,
            "-n", str(args.loops), "-S", "1"] + args.dnsperf_opts.split()
    bench.log("dnsperf: %d passes over %s; the reload after %d s" % (args.loops, qfile,
                                                                     args.reload_at))
    perf = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(args.reload_at)
    new_s = added = 0.0
    if not args.no_reload:
        changed_zone(zonefile, zonefile, last[0])
        t0 = time.monotonic()
        os.kill(s.proc.pid, signal.SIGHUP)
        new_s = bench.wait_answer(port, last[0], "10.255.255.254", t0, s.proc, 120)
        added = bench.wait_answer(port, "reloaded." + bench.ZONE, "10.255.255.253", t0, s.proc,
                                  10)
    out, _ = perf.communicate(timeout=args.timeout)
    alive = s.proc.poll() is None
    drops = udp_drops(port)
    bench.stop(s.proc)
    log = open(s.proc.bench_log).read()
    num = {k: re.search(p, out) for k, p in (("sent", r"Queries sent:\s+(\d+)"),
                                              ("completed", r"Queries completed:\s+(\d+)"),
                                              ("lost", r"Queries lost:\s+(\d+)"),
                                              ("qps", r"Queries per second:\s+([\d.]+)"))}
    if not all(num.values()):
        raise RuntimeError("dnsperf: " + out[-500:])
    intervals = [float(x) for x in re.findall(r"^\d+\.\d+: ([\d.]+)$", out, re.M)]
    print("reload under load: %s queries sent, %s completed, %s lost; %s QPS overall"
          % (num["sent"].group(1), num["completed"].group(1), num["lost"].group(1),
             num["qps"].group(1)))
    print("datagrams the kernel dropped at vpcdnsd's socket (receive buffer full): %s"
          % ("?" if drops is None else drops))
    print("new data served %.3f s after SIGHUP (last host's new address)%s; added host %s"
          % (new_s if new_s is not None else float("nan"),
             "" if new_s is not None else " NEVER",
             "answers" if added is not None else "NOT answered"))
    print("QPS per second of the run: " + ", ".join("%.0f" % x for x in intervals))
    print("vpcdnsd %s at the end; its reload log:" % ("still running" if alive else "DIED"))
    for line in log.splitlines():
        if "reload" in line or "serial" in line:
            print("    " + line)
    if new_s is None or added is None or not alive:
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("start", "reload"))
    ap.add_argument("--work", required=True)
    ap.add_argument("--vpcdnsd", default="bin/vpcdnsd")
    ap.add_argument("--servers", default="vpcdnsd,knot")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--loops", type=int, default=2, help="reload: passes over the query file")
    ap.add_argument("--timeout", type=int, default=600, help="reload: seconds dnsperf may take")
    ap.add_argument("--no-reload", action="store_true", help="reload: the same run, no reload")
    ap.add_argument("--reload-at", type=int, default=5)
    ap.add_argument("--dnsperf-opts", default="-c 8 -T 2 -q 200")
    args = ap.parse_args()
    args.vpcdnsd = os.path.abspath(args.vpcdnsd)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: (bench.stop_all(), sys.exit(2)))
    w = os.path.abspath(args.work)
    rd = os.path.join(w, "run-load")
    shutil.rmtree(rd, ignore_errors=True)
    os.makedirs(rd)
    last = open(os.path.join(w, "last.txt")).read().split()
    try:
        if args.mode == "start":
            cmd_start(args, w, rd, last)
        else:
            cmd_reload(args, w, rd, last)
    finally:
        bench.stop_all()


if __name__ == "__main__":
    main()
