#!/usr/bin/python3
"""make bench-sync: vpcdns-sync against a large fake AWS account.

A 50,000-record private hosted zone (N_RECORDS) and 5,000 running instances
(N_INSTANCES) in the fake AWS endpoint of tests/aws; one `vpcdns-sync --once`
is timed with /usr/bin/time: wall time, our own CPU (user + sys), peak RSS,
and the requests the fake saw (pages prove streaming rather than one call).
A benchmark: it prints numbers and fails only if the sync itself fails.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "aws"))

from fake_aws import FakeAWS  # noqa: E402

N_RECORDS = int(os.environ.get("N_RECORDS", "50000"))
N_INSTANCES = int(os.environ.get("N_INSTANCES", "5000"))
VPC = "vpc-0bench0000000001"
KEY, SECRET = "AKIDVPCDNSTEST000001", "vpcdns/Test+Secret/Key0000000000000000000"


def state():
    subnets = []
    for i, tier in enumerate(["public", "private", "persistence"]):
        subnets.append({"SubnetId": "subnet-0bench%010d" % i, "VpcId": VPC,
                        "CidrBlock": "10.%d.0.0/16" % (40 + i),
                        "AvailabilityZone": "eu-west-1a", "Tags": {"Tier": tier}})
    instances = []
    for i in range(N_INSTANCES):
        sub = subnets[1 + i % 2]
        instances.append({"InstanceId": "i-%017x" % (0xbe00000 + i), "SubnetId": sub["SubnetId"],
                          "State": "running",
                          "PrivateIpAddress": "10.%d.%d.%d" % (41 + i % 2, (i // 250) % 250, i % 250 + 1),
                          "Tags": {"Name": "host-%d" % i}})
    return {
        "Account": "123456789012", "Region": "eu-west-1",
        "Credentials": [{"AccessKeyId": KEY, "SecretAccessKey": SECRET}],
        "Vpcs": [{"VpcId": VPC, "CidrBlock": "10.0.0.0/8"}],
        "Subnets": subnets,
        "Instances": instances,
        "HostedZones": [{
            "Id": "Z0BENCH000000000000001", "Name": "bench.internal.",
            "VPCs": [{"VPCRegion": "eu-west-1", "VPCId": VPC}],
            "ResourceRecordSets": [],
            "Generate": [{"Pattern": "h{i}.bench.internal.", "Value": "10.1.{hi}.{lo}",
                          "Count": N_RECORDS}],
        }],
    }


def main():
    sync = os.path.join(ROOT, "bin", "vpcdns-sync")
    work = tempfile.mkdtemp(prefix="vpcdns-bench-sync-")
    fake = FakeAWS(state=state())
    fake.start()
    try:
        ini = os.path.join(work, "bench.ini")
        with open(ini, "w") as f:
            f.write("[server]\nlisten = 127.0.0.1:5399\nrecursion = no\n"
                    "[aws]\nregion = eu-west-1\nendpoint_url = %s\nroute53_rate = 100\n"
                    "[sync]\nstate_dir = %s/state\nvpc = %s\n"
                    "[zone:bench.internal]\nroute53 = auto\ninventory = %s\n"
                    % (fake.url, work, VPC, VPC))
        env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET,
                   AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
                   HOME=work)
        start = time.time()
        p = subprocess.run(["/usr/bin/time", "-v", sync, "-c", ini, "--once"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.time() - start
        if p.returncode != 0:
            print(p.stderr[-3000:])
            print("bench-sync: the sync failed")
            return 1
        t = p.stderr

        def field(name):
            m = re.search(re.escape(name) + r":\s*([0-9.:]+)", t)
            return m.group(1) if m else "?"
        stats = json.load(urllib.request.urlopen(fake.url + "/_fake/stats"))
        actions = stats.get("actions", {})
        lines = sum(1 for _ in open(os.path.join(work, "state", "bench.internal.zone")))
        cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
        print("| what | value |\n| --- | --- |")
        print("| Route 53 record sets | %d |" % N_RECORDS)
        print("| running instances | %d |" % N_INSTANCES)
        print("| snapshot lines | %d |" % lines)
        print("| wall time | %.2f s |" % wall)
        print("| vpcdns-sync CPU (user+sys) | %.2f s |" % cpu)
        print("| peak RSS | %s KiB |" % field("Maximum resident set size (kbytes)"))
        print("| requests | %s |" % ", ".join("%s %d" % (k, v) for k, v in sorted(actions.items())))
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
