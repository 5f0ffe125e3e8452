#!/bin/sh
# vpcdns benchmark: `make bench`, or tests/bench/run.sh from the repo root with
# bin/vpcdnsd built.  Environment:
#   N=100000      hosts in the zone (N=1000000 for the large run)
#   DURATION=10   seconds per dnsperf round
#   ROUNDS=3      interleaved rounds per server (medians are reported)
#   DNSPERF_OPTS="-c 8 -T 2 -q 200"
#   ONLY=auth,cache   run one phase only
#   OUT=tests/bench/results/latest.md
# Needs dnsperf, nsd, knot, unbound, dnsmasq-base (make deps).  Exits non-zero
# only when it could not run, never because of a number.
set -eu

N=${N:-100000}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
DNSPERF_OPTS=${DNSPERF_OPTS:--c 8 -T 2 -q 200}
ONLY=${ONLY:-auth,cache}
OUT=${OUT:-tests/bench/results/latest.md}
VPCDNSD=${VPCDNSD:-bin/vpcdnsd}
BENCH=tests/bench
WORK=$BENCH/work

die() { echo "bench: $*" >&2; exit 1; }

[ -f "$BENCH/run.sh" ] || die "run me from the repository root"
[ -x "$VPCDNSD" ] || die "$VPCDNSD is not built (make)"
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (server on CPU 0, dnsperf on CPU 1)"
for tool in cc python3 taskset dnsperf nsd nsd-control knotd unbound dnsmasq; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found (make deps)"
done

mkdir -p "$WORK"
cc -O2 -Wall -Wextra -o "$WORK/reflector" "$BENCH/reflector.c" || die "cannot build the reflector"

if [ ! -s "$WORK/stamp" ] || [ "$(cat "$WORK/stamp")" != "$N $(cksum < "$BENCH/gen.py")" ]; then
	echo "bench: generating a zone of $N hosts and the query files" >&2
	python3 "$BENCH/gen.py" "$N" "$WORK" || die "cannot generate the data"
	echo "$N $(cksum < "$BENCH/gen.py")" > "$WORK/stamp"
fi

exec python3 "$BENCH/bench.py" --work "$WORK" --vpcdnsd "$VPCDNSD" \
	--reflector "$WORK/reflector" --n "$N" --duration "$DURATION" --rounds "$ROUNDS" \
	--dnsperf-opts "$DNSPERF_OPTS" --only "$ONLY" --out "$OUT"
