#!/usr/bin/python3
"""Benchmark data: a zone of N hosts and dnsperf query files.

    gen.py N OUTDIR [SEED]

Writes, for the zone bench.internal.:
  OUTDIR/bench.internal.zone   SOA, NS, and N hosts h0 .. h{N-1}:
      i % 20 in 0..9   A + AAAA   (i % 20 == 0 also TXT, i % 20 == 1 also SRV)
      i % 20 in 10..14 A only     (an AAAA query there is NODATA)
      i % 20 in 15..19 CNAME to h{i-15} (an A + AAAA host)
      the last host h{N-1} is always A + AAAA: the start-up probe asks for it.
  OUTDIR/queries-auth.txt  max(N, 100000) queries over all names, random order:
      65% A/AAAA, 10% CNAME->A, 10% NXDOMAIN, 10% NODATA (AAAA of an A-only
      host), 2.5% TXT, 2.5% SRV
  OUTDIR/queries-cache.txt 10000 distinct queries with the same mix, for the
      cache-hit runs (warmed once, then every query is a cache hit)
  OUTDIR/last.txt          "h{N-1}.bench.internal. 10.a.b.c": the probe
"""
import random
import sys

ORIGIN = "bench.internal."


def ip4(i):
    return "10.%d.%d.%d" % ((i >> 16) & 255, (i >> 8) & 255, i & 255)


def ip6(i):
    return "fd00::%x:%x" % ((i >> 16) & 0xffff, i & 0xffff)


def kind(i, n):
    if i == n - 1:
        return "dual"
    k = i % 20
    if k < 10:
        return "dual"
    if k < 15:
        return "v4"
    return "cname"


def write_zone(path, n):
    with open(path, "w") as f:
        f.write("$ORIGIN %s\n$TTL 3600\n" % ORIGIN)
        f.write("@ IN SOA ns1 hostmaster 2026010101 3600 600 1209600 3600\n")
        f.write("@ IN NS ns1\nns1 IN A 127.0.0.1\n")
        for i in range(n):
            k = kind(i, n)
            if k == "cname":
                f.write("h%d IN CNAME h%d\n" % (i, i - 15))
                continue
            f.write("h%d IN A %s\n" % (i, ip4(i)))
            if k == "dual":
                f.write("h%d IN AAAA %s\n" % (i, ip6(i)))
                if i % 20 == 0:
                    f.write('h%d IN TXT "v=bench host %d"\n' % (i, i))
                elif i % 20 == 1:
                    f.write("h%d IN SRV 10 5 443 h%d\n" % (i, i))


def pick(rnd, n, want):
    """A random host index of the wanted kind (dual, v4, cname, txt, srv)."""
    while True:
        i = rnd.randrange(n)
        k = kind(i, n)
        if want == "txt" and k == "dual" and i % 20 == 0:
            return i
        if want == "srv" and k == "dual" and i % 20 == 1:
            return i
        if want == "addr" and k in ("dual", "v4"):
            return i
        if want == k:
            return i


def query(rnd, n):
    r = rnd.random()
    if r < 0.65:
        i = pick(rnd, n, "addr")
        t = "A" if kind(i, n) == "v4" or rnd.random() < 0.5 else "AAAA"
        return "h%d.%s %s" % (i, ORIGIN, t)
    if r < 0.75:
        return "h%d.%s A" % (pick(rnd, n, "cname"), ORIGIN)
    if r < 0.85:
        return "nx%d.%s A" % (rnd.randrange(10 * n), ORIGIN)
    if r < 0.95:
        return "h%d.%s AAAA" % (pick(rnd, n, "v4"), ORIGIN)
    if r < 0.975:
        return "h%d.%s TXT" % (pick(rnd, n, "txt"), ORIGIN)
    return "h%d.%s SRV" % (pick(rnd, n, "srv"), ORIGIN)


def main():
    n = int(sys.argv[1])
    out = sys.argv[2]
    rnd = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1035)
    if n < 100:
        sys.exit("gen.py: N must be at least 100")
    write_zone(out + "/bench.internal.zone", n)
    with open(out + "/queries-auth.txt", "w") as f:
        for _ in range(max(n, 100000)):
            f.write(query(rnd, n) + "\n")
    seen = set()
    with open(out + "/queries-cache.txt", "w") as f:
        while len(seen) < min(10000, n):
            q = query(rnd, n)
            if q not in seen:
                seen.add(q)
                f.write(q + "\n")
    with open(out + "/last.txt", "w") as f:
        f.write("h%d.%s %s\n" % (n - 1, ORIGIN, ip4(n - 1)))


if __name__ == "__main__":
    main()
