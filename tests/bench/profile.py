#!/usr/bin/python3
"""Allocations and instructions per query of vpcdnsd (started by profile.sh).

    profile.py --work DIR --vpcdnsd bin/vpcdnsd [--only alloc,callgrind]

Both on the authoritative path (a zone of the hosts in DIR) and on the
cache-hit path (forwarding to an NSD that serves the zone, warmed first):

* alloc: vpcdnsd under valgrind memcheck, a fixed warm-up, then a burst of
  1000 or of 10000 queries (two runs each); the "total heap usage" at exit
  of the 10000-query run minus that of the 1000-query run is what 9000
  queries allocated: ~0 means no heap allocation per query.
* callgrind: vpcdnsd under valgrind callgrind, the same warm-up, counters
  zeroed (callgrind_control -z), a burst of 10000 queries, counters dumped
  (callgrind_control -d): instructions (Ir) per query in user space, all
  threads, plus the hottest functions (callgrind_annotate).
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

BURST_FILE_LINES = 1000
PERF = ["-c", "1", "-q", "20", "-Q", "2000", "-t", "2"]


def lines_file(src, dst, n):
    with open(src) as f, open(dst, "w") as g:
        for i, line in enumerate(f):
            if i >= n:
                break
            g.write(line)
    return dst


def start_vpcdnsd(tool_argv, conf, port, rd, name, last):
    srv = bench.Server(name, tool_argv + [bench_vpc, "-c", conf], port)
    bench.launch(srv, rd, last[0], last[1], 600)
    return srv


def burst(srv, qfile, loops):
    r = bench.dnsperf(srv.port, qfile, None, PERF, loops=loops)
    return r


def stop_and_log(srv):
    bench.stop(srv.proc)
    return open(srv.proc.bench_log).read()


def main():
    global bench_vpc
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--vpcdnsd", required=True)
    ap.add_argument("--only", default="alloc,callgrind")
    args = ap.parse_args()
    bench_vpc = os.path.abspath(args.vpcdnsd)
    w = os.path.abspath(args.work)
    rd = os.path.join(w, "run")
    os.makedirs(rd, exist_ok=True)
    zonefile = os.path.join(w, bench.ZONE + ".zone")
    last = open(os.path.join(w, "last.txt")).read().split()
    qa = lines_file(os.path.join(w, "queries-auth.txt"), os.path.join(rd, "burst-auth.txt"),
                    BURST_FILE_LINES)
    qc = lines_file(os.path.join(w, "queries-cache.txt"), os.path.join(rd, "burst-cache.txt"),
                    BURST_FILE_LINES)
    ports = bench.free_ports(4)
    up_conf = bench.conf_nsd(rd, ports[0], zonefile, control=True)
    up = bench.Server("upstream-NSD", ["nsd", "-d", "-c", up_conf], ports[0])
    bench.launch(up, rd, last[0], last[1], 120)
    conf = {"auth": bench.conf_vpcdnsd(rd, ports[1], zonefile),
            "cache": bench.conf_vpcdnsd(rd, ports[2], upstream=ports[0])}
    port = {"auth": ports[1], "cache": ports[2]}
    qfile = {"auth": qa, "cache": qc}
    out = []

    def warm(srv, mode):
        # auth: the burst file once; cache: twice (the second pass is all hits)
        burst(srv, qfile[mode], 1 if mode == "auth" else 2)

    try:
        if "alloc" in args.only:
            for mode in ("auth", "cache"):
                res = {}
                for n in (1, 10):
                    vg = ["valgrind", "--tool=memcheck", "--leak-check=no",
                          "--error-exitcode=0"]
                    srv = start_vpcdnsd(vg, conf[mode], port[mode], rd, "memcheck-%s-%d" %
                                        (mode, n), last)
                    warm(srv, mode)
                    q0 = bench.nsd_queries(up_conf)
                    r = burst(srv, qfile[mode], n)
                    q1 = bench.nsd_queries(up_conf)
                    text = stop_and_log(srv)
                    m = re.search(r"total heap usage: ([\d,]+) allocs, ([\d,]+) frees, "
                                  r"([\d,]+) bytes", text)
                    errs = re.search(r"ERROR SUMMARY: (\d+) errors", text)
                    if not m:
                        raise RuntimeError("no heap summary in " + srv.proc.bench_log)
                    res[n] = (int(m.group(1).replace(",", "")), int(m.group(3).replace(",", "")),
                              r["completed"], q1 - q0, errs.group(1) if errs else "?")
                a1, a10 = res[1], res[10]
                q = a10[2] - a1[2]
                out.append("alloc %s: %d queries answered -> %d allocs (%d bytes); %d -> %d "
                           "allocs (%d bytes); difference %d allocs for %d queries = %.4f per "
                           "query; upstream queries during the bursts %d / %d; memcheck "
                           "errors %s / %s" % (mode, a1[2], a1[0], a1[1], a10[2], a10[0], a10[1],
                                              a10[0] - a1[0], q, (a10[0] - a1[0]) / max(q, 1),
                                              a1[3], a10[3], a1[4], a10[4]))
                print(out[-1], flush=True)
        if "callgrind" in args.only:
            for mode in ("auth", "cache"):
                prefix = os.path.join(rd, "callgrind-%s" % mode)
                for f in glob.glob(prefix + ".*"):
                    os.remove(f)
                vg = ["valgrind", "--tool=callgrind", "--callgrind-out-file=%s.%%p" % prefix]
                srv = start_vpcdnsd(vg, conf[mode], port[mode], rd, "callgrind-" + mode, last)
                warm(srv, mode)
                pid = str(srv.proc.pid)
                subprocess.run(["callgrind_control", "-z", pid], stdout=subprocess.DEVNULL,
                               check=True)
                q0 = bench.nsd_queries(up_conf)
                r = burst(srv, qfile[mode], 10)
                q1 = bench.nsd_queries(up_conf)
                subprocess.run(["callgrind_control", "-d", pid], stdout=subprocess.DEVNULL,
                               check=True)
                time.sleep(1)
                stop_and_log(srv)
                dumps = sorted(f for f in glob.glob(prefix + ".%s.*" % pid))
                if not dumps:
                    raise RuntimeError("no callgrind dump " + prefix)
                dump = dumps[-1]
                ir = 0
                for line in open(dump):
                    if line.startswith("summary:") or line.startswith("totals:"):
                        ir = int(line.split()[1])
                        break
                ann = subprocess.run(["callgrind_annotate", "--threshold=100", dump],
                                     stdout=subprocess.PIPE, text=True).stdout
                with open(prefix + ".annotate.txt", "w") as f:
                    f.write(ann)
                out.append("callgrind %s: %d Ir for %d queries = %.0f instructions per query "
                           "(upstream queries during the burst: %d); annotate: %s" % (
                               mode, ir, r["completed"], ir / max(1, r["completed"]), q1 - q0,
                               os.path.relpath(prefix + ".annotate.txt")))
                print(out[-1], flush=True)
                # self cost per function; the frames on the stack when the
                # counters were zeroed show ~100%: leave those out
                top = [ln for ln in ann.splitlines()
                       if re.match(r"^\s*[\d,]+ \(\s*\d", ln) and "PROGRAM TOTALS" not in ln
                       and not re.match(r"^\s*[\d,]+ \((99|100)\.", ln)][:20]
                out.extend("    " + ln for ln in top)
                print("\n".join(top), flush=True)
    finally:
        bench.stop_all()
    with open(os.path.join(w, "profile.txt"), "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        bench.stop_all()
        print("profile: could not run: %s" % e, file=sys.stderr)
        sys.exit(1)
