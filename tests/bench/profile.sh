#!/bin/sh
# Allocations and instructions per query of bin/vpcdnsd, authoritative and
# cache-hit paths (valgrind memcheck and callgrind).  From the repo root:
#   tests/bench/profile.sh            # both
#   ONLY=alloc tests/bench/profile.sh # or ONLY=callgrind
# PROFILE_N hosts in the zone (default 10000: valgrind loads zones slowly).
set -eu
PROFILE_N=${PROFILE_N:-10000}
ONLY=${ONLY:-alloc,callgrind}
VPCDNSD=${VPCDNSD:-bin/vpcdnsd}
BENCH=tests/bench
WORK=$BENCH/work/profile
[ -x "$VPCDNSD" ] || { echo "profile: $VPCDNSD is not built (make)" >&2; exit 1; }
for tool in python3 valgrind callgrind_control callgrind_annotate dnsperf nsd nsd-control; do
	command -v "$tool" >/dev/null 2>&1 || { echo "profile: $tool not found" >&2; exit 1; }
done
mkdir -p "$WORK"
python3 "$BENCH/gen.py" "$PROFILE_N" "$WORK"
exec python3 "$BENCH/profile.py" --work "$WORK" --vpcdnsd "$VPCDNSD" --only "$ONLY"
