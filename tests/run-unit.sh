#!/bin/sh
# Runs the cmocka unit test binaries given as arguments, shows their output and
# prints "N passed, M failed" counted over all tests. Exits non-zero when any
# test failed or any binary did not run to the end.
passed=0
failed=0
status=0
out=$(mktemp "${TMPDIR:-/tmp}/run-unit.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT INT TERM

for bin in "$@"; do
	echo "=== $bin"
	if [ ! -x "$bin" ]; then
		echo "$bin: not an executable"
		failed=$((failed + 1))
		status=1
		continue
	fi
	"$bin" >"$out" 2>&1
	rc=$?
	cat "$out"
	p=$(sed -n 's/.*\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*$/\1/p' "$out" | tail -n 1)
	f=$(sed -n 's/.*\[  FAILED  \] \([0-9][0-9]*\) test(s).*$/\1/p' "$out" | tail -n 1)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ]; then
		status=1
		# A binary that died before its summary still counts as a failure.
		if [ "$f" -eq 0 ]; then
			echo "$bin: exited with status $rc"
			f=1
		fi
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done

[ "$failed" -eq 0 ] || status=1
echo "$passed passed, $failed failed"
exit $status
