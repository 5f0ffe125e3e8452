#!/bin/sh
# Installs the Debian packages that vpcdns builds, tests and benchmarks with,
# only those missing. Daemons that the packages would start on install (NSD,
# Knot DNS, Unbound, dnsmasq) are kept from starting: tests start their own.
set -eu

PACKAGES="build-essential pkg-config clang clang-format libldns-dev libevent-dev libssl-dev
libinih-dev libcmocka-dev liburcu-dev libcurl4-openssl-dev libexpat1-dev
bind9-dnsutils knot-dnsutils python3-dnspython python3-botocore awscli nsd knot unbound
dnsmasq-base iproute2 nftables openssl dnsperf valgrind"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: run 'sudo make deps' (or install them with apt-get)" >&2
	exit 1
fi

echo "deps: installing$missing"
# policy-rc.d exit 101 tells invoke-rc.d and deb-systemd-invoke not to start services.
added_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	added_policy=1
fi
cleanup() { [ "$added_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d; return 0; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || true
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing

# Where systemd runs, keep the reference servers from starting at boot too.
if [ -d /run/systemd/system ]; then
	for svc in nsd knot unbound; do
		systemctl disable --now "$svc" >/dev/null 2>&1 || true
	done
fi
