#!/usr/bin/python3
"""What the UDP serving loop costs per query, load-independent counts.

    python3 tests/bench/loop.py [NAME=BINARY ...] [--reflector] [--rounds R]
                                [--loops L] [--qps Q] [--syscalls] [--cache]

Each server (vpcdnsd builds given as NAME=BINARY, `workers = 1`,
`recursion = no`, the bench zone; and, with --reflector, the UDP reflector)
runs pinned to CPU 0; dnsperf (CPU 1, `-c 8 -T 2 -q 200`, or paced at --qps)
sends the authoritative query file L times per round. With --cache the
vpcdnsd builds forward instead (`recursion = yes`) to one upstream, the first
build serving the zone on CPU 1; each is warmed with the cache query file,
which the rounds then send: every answer a cache hit. Rounds are interleaved
(A B C A B C ...). Per query answered, from the kernel's own accounting:

    cpu_us     on-CPU time of all the server's threads (/proc/PID/task/*/schedstat)
    usr_us, sys_us  the same split into user and system time (/proc/.../stat, 10 ms ticks)
    cs_k       context switches per 1000 queries (voluntary + involuntary, all threads)
    with --syscalls (perf stat tracepoints on the server's threads), per 1000 queries:
    syscalls, recvmmsg, sendmmsg, epoll_wait, read, write, other

The median of each column over the rounds is printed, then the median over
the rounds of each server's CPU per query divided by the first server's in
the same round (paired, so that slow drift of a shared machine cancels).
Needs the data of tests/bench/run.sh (tests/bench/work/bench.internal.zone,
queries-auth.txt) and the reflector it builds. Starts and stops its own
processes only, by PID.
"""

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(BENCH, "work")
EVENTS = ["raw_syscalls:sys_enter", "syscalls:sys_enter_recvmmsg", "syscalls:sys_enter_sendmmsg",
          "syscalls:sys_enter_epoll_wait", "syscalls:sys_enter_read", "syscalls:sys_enter_write"]
STARTED = []


def threads(pid):
    return os.listdir("/proc/%d/task" % pid)


def runtime_ns(pid):
    total = 0
    for t in threads(pid):
        with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
            total += int(f.read().split()[0])
    return total


def user_sys_ticks(pid):
    u = s = 0
    for t in threads(pid):
        with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
            st = f.read()
        fields = st[st.rindex(")") + 2:].split()
        u += int(fields[11])
        s += int(fields[12])
    return u, s


def ctx_switches(pid):
    total = 0
    for t in threads(pid):
        with open("/proc/%d/task/%s/status" % (pid, t)) as f:
            for line in f:
                if "ctxt_switches:" in line:
                    total += int(line.split()[1])
    return total


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def answers(port):
    query = (bytes.fromhex("123401000001000000000000") + b"\x02h1\x05bench\x08internal\x00"
             + b"\x00\x01\x00\x01")
    for _ in range(500):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.05)
        try:
            s.sendto(query, ("127.0.0.1", port))
            s.recv(512)
            return True
        except OSError:
            time.sleep(0.02)
        finally:
            s.close()
    return False


def start(name, binary, run, upstream=None, cpu="0"):
    port = free_port()
    if binary is None:
        argv = [os.path.join(WORK, "reflector"), str(port)]
    else:
        ini = os.path.join(run, "loop-%s.ini" % name)
        with open(ini, "w") as f:
            f.write("[server]\nlisten = 127.0.0.1:%d\nworkers = 1\nallow = 127.0.0.0/8\n"
                    % port)
            if upstream is None:
                f.write("recursion = no\n\n[zone:bench.internal]\nfile = %s\n"
                        % os.path.join(WORK, "bench.internal.zone"))
            else:
                f.write("recursion = yes\n\n[forward]\nupstream = 127.0.0.1:%d\n\n"
                        "[cache]\nsize = 256M\n" % upstream)
        argv = [binary, "-c", ini]
    log = open(os.path.join(run, "loop-%s.log" % name), "w")
    p = subprocess.Popen(["taskset", "-c", cpu] + argv, stdout=log, stderr=log)
    STARTED.append(p)
    if not answers(port):
        sys.exit("loop: %s does not answer on port %d" % (name, port))
    return p.pid, port


def round_(name, pid, port, args, run):
    perf = None
    if args.syscalls:
        out = os.path.join(run, "loop-%s.perf" % name)
        perf = subprocess.Popen(["perf", "stat", "-x,", "-o", out, "-e", ",".join(EVENTS),
                                 "-p", str(pid)])
        time.sleep(0.3)
    r0, t0, c0 = runtime_ns(pid), user_sys_ticks(pid), ctx_switches(pid)
    argv = ["taskset", "-c", "1", "dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d",
            os.path.join(WORK, args.queries), "-n", str(args.loops)] + args.dnsperf.split()
    if args.qps:
        argv += ["-Q", str(args.qps)]
    text = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    r1, t1, c1 = runtime_ns(pid), user_sys_ticks(pid), ctx_switches(pid)
    m = re.search(r"Queries completed:\s+(\d+)", text)
    if m is None or int(m.group(1)) == 0:
        sys.exit("loop: dnsperf failed: " + text[-300:])
    done = int(m.group(1))
    tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
    res = {"qps": float(re.search(r"Queries per second:\s+([\d.]+)", text).group(1)),
           "cpu_us": (r1 - r0) / 1000 / done,
           "usr_us": (t1[0] - t0[0]) * tick_us / done,
           "sys_us": (t1[1] - t0[1]) * tick_us / done,
           "cs_k": (c1 - c0) * 1000 / done}
    if perf is not None:
        perf.send_signal(signal.SIGINT)
        perf.wait()
        counts = {}
        with open(out) as f:
            for line in f:
                parts = line.strip().split(",")
                if len(parts) > 2 and parts[0].isdigit():
                    counts[parts[2].split("sys_enter")[-1].lstrip("_") or "syscalls"] = int(parts[0])
        known = sum(v for k, v in counts.items() if k != "syscalls")
        counts["other"] = counts.get("syscalls", 0) - known
        for k in ["syscalls", "recvmmsg", "sendmmsg", "epoll_wait", "read", "write", "other"]:
            res[k] = counts.get(k, 0) * 1000 / done
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("servers", nargs="*", help="NAME=BINARY (default: vpcdnsd=bin/vpcdnsd)")
    ap.add_argument("--reflector", action="store_true", help="measure the reflector too")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--loops", type=int, default=3, help="times the query file is sent per round")
    ap.add_argument("--qps", type=int, default=0, help="pace dnsperf (default: as fast as it can)")
    ap.add_argument("--syscalls", action="store_true", help="count syscalls (perf stat)")
    ap.add_argument("--dnsperf", default="-c 8 -T 2 -q 200")
    ap.add_argument("--cache", action="store_true",
                    help="cache hits: the builds forward to the first build serving the zone")
    args = ap.parse_args()
    args.queries = "queries-cache.txt" if args.cache else "queries-auth.txt"
    for f in ("bench.internal.zone", "queries-auth.txt") + (("reflector",) if args.reflector else ()):
        if not os.path.exists(os.path.join(WORK, f)):
            sys.exit("loop: %s missing: run tests/bench/run.sh once (it makes the data)" % f)
    run = os.path.join(WORK, "run")
    os.makedirs(run, exist_ok=True)
    specs = [s.split("=", 1) for s in (args.servers or ["vpcdnsd=bin/vpcdnsd"])]
    if args.reflector:
        specs.append(["reflector", None])
    servers = []
    try:
        upstream = None
        if args.cache:
            # The upstream sits on CPU 1 with dnsperf: it is idle once the caches are warm.
            _, upstream = start("upstream", specs[0][1], run, cpu="1")
        for name, binary in specs:
            pid, port = start(name, binary, run, upstream if binary is not None else None)
            servers.append((name, pid, port))
            if args.cache and binary is not None:
                subprocess.run(["taskset", "-c", "1", "dnsperf", "-s", "127.0.0.1", "-p", str(port),
                                "-d", os.path.join(WORK, args.queries), "-n", "2"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        results = {name: [] for name, _, _ in servers}
        for _ in range(args.rounds):
            for name, pid, port in servers:
                res = round_(name, pid, port, args, run)
                results[name].append(res)
                print("%-10s %s" % (name, " ".join("%s=%.3f" % kv for kv in res.items())), flush=True)
        print("medians over %d rounds:" % args.rounds)
        for name, rows in results.items():
            print("%-10s %s" % (name, " ".join("%s=%.3f" % (k, statistics.median(r[k] for r in rows))
                                               for k in rows[0])))
        first = servers[0][0]
        for name, rows in results.items():
            if name != first:
                ratios = [r["cpu_us"] / b["cpu_us"] for r, b in zip(rows, results[first])]
                print("cpu per query %s / %s: %.3f (paired median)"
                      % (name, first, statistics.median(ratios)))
    finally:
        for p in STARTED:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
