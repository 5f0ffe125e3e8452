/*
 * libFuzzer target for the query path: any bytes, as a UDP and as a TCP query
 * from an allowed and a disallowed source, against a zone that has every kind
 * of answer. `make fuzz` runs it; `make test` replays tests/fuzz/corpus.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"
#include "resolver/query.h"
#include "zones/zonedb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char zone_text[] =
    "$ORIGIN fuzz.test.\n"
    "$TTL 300\n"
    "@ SOA ns1 host 1 3600 600 86400 60\n"
    "@ NS ns1\n"
    "@ MX 10 mail\n"
    "ns1 A 192.0.2.1\n"
    "ns1 AAAA 2001:db8::1\n"
    "mail A 192.0.2.2\n"
    "www CNAME host.a.b\n"
    "host.a.b A 192.0.2.3\n"
    "loop1 CNAME loop2\n"
    "loop2 CNAME loop1\n"
    "*.wild A 192.0.2.4\n"
    "*.wild TXT \"wild\"\n"
    "sub NS ns.sub\n"
    "ns.sub A 192.0.2.5\n"
    "old DNAME new.fuzz.test.\n"
    "x.new A 192.0.2.6\n"
    "_sip._udp SRV 0 0 5060 mail\n"
    "unk TYPE65280 \\# 4 01020304\n"
    "big TXT \"0123456789012345678901234567890123456789012345678901234567890123\"\n"
    "big TXT \"1123456789012345678901234567890123456789012345678901234567890123\"\n"
    "big TXT \"2123456789012345678901234567890123456789012345678901234567890123\"\n"
    "big TXT \"3123456789012345678901234567890123456789012345678901234567890123\"\n"
    "big TXT \"4123456789012345678901234567890123456789012345678901234567890123\"\n"
    "big TXT \"5123456789012345678901234567890123456789012345678901234567890123\"\n"
    "big TXT \"6123456789012345678901234567890123456789012345678901234567890123\"\n"
    "big TXT \"7123456789012345678901234567890123456789012345678901234567890123\"\n";

static struct view *fuzz_view;
static uint8_t buf[65535 + 64];

static void setup(void)
{
	char dir[] = "/tmp/vpcdns-fuzz-XXXXXX";
	char zpath[64], ipath[64], err[4096];
	FILE *f;

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(zpath, sizeof(zpath), "%s/fuzz.zone", dir);
	snprintf(ipath, sizeof(ipath), "%s/fuzz.ini", dir);
	f = fopen(zpath, "w");
	fputs(zone_text, f);
	fclose(f);
	f = fopen(ipath, "w");
	fputs("[server]\nlisten = 127.0.0.1:5353\nworkers = 1\nchaos = yes\n"
	      "[zone:fuzz.test]\nfile = fuzz.zone\nallow = 127.0.0.1\n"
	      "[zone:2.0.192.in-addr.arpa]\nsynthesize_ptr = yes\n",
	      f);
	fclose(f);
	fuzz_view = calloc(1, sizeof(*fuzz_view));
	if (config_load(ipath, &fuzz_view->config, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s", err);
		abort();
	}
	fuzz_view->zones = zonedb_build(fuzz_view->config, NULL, err, sizeof(err));
	if (fuzz_view->zones == NULL) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	snprintf(fuzz_view->identity, sizeof(fuzz_view->identity), "fuzz");
	unlink(zpath);
	unlink(ipath);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in allowed = {.sin_family = AF_INET, .sin_addr = {htonl(0x7f000001)}};
	struct sockaddr_in other = {.sin_family = AF_INET, .sin_addr = {htonl(0x7f000002)}};
	const struct sockaddr *sources[2] = {(struct sockaddr *)&allowed,
					     (struct sockaddr *)&other};
	struct query_stats stats = {0};

	if (fuzz_view == NULL)
		setup();
	if (size > 65535)
		return 0;
	for (int tcp = 0; tcp < 2; tcp++) {
		for (int s = 0; s < 2; s++) {
			struct query_source src = {sources[s], tcp == 1, NULL, 0};
			size_t cap = tcp ? sizeof(buf) : 4096, reply_len = 0;
			if (!tcp && size > cap)
				continue;
			memcpy(buf, data, size);
			if (query_process(fuzz_view, buf, size, cap, &src, &reply_len, &stats,
					  NULL) == QUERY_ANSWERED) {
				/* A reply always has a header and fits where it was written. */
				if (reply_len < 12 || reply_len > cap)
					abort();
				if ((buf[2] & 0x80) == 0)
					abort();
			}
		}
	}
	return 0;
}
