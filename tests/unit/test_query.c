/* Unit tests of resolver/query (and answer): whole queries against zones built from files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "conf/config.h"
#include "resolver/answer.h"
#include "resolver/packet.h"
#include "resolver/query.h"
#include "zones/dns.h"
#include "zones/zonedb.h"

static char tmpdir[64];
static struct view view;
static struct query_stats stats;

static const char EX_ZONE[] = "$ORIGIN example.test.\n"
			      "$TTL 300\n"
			      "@ 3600 IN SOA ns1 hostmaster 1 3600 600 86400 60\n"
			      "@ IN NS ns1\n"
			      "@ IN MX 10 mail\n"
			      "ns1 IN A 192.0.2.1\n"
			      "mail IN A 192.0.2.25\n"
			      "mail IN AAAA 2001:db8::25\n"
			      "www IN A 192.0.2.80\n"
			      "www IN TXT \"hello\"\n"
			      "a1 IN CNAME a2\n"
			      "a2 IN CNAME www\n"
			      "ext IN CNAME target.example.org.\n"
			      "loop1 IN CNAME loop2\n"
			      "loop2 IN CNAME loop1\n"
			      "*.wild IN A 192.0.2.99\n"
			      "*.w IN A 192.0.2.98\n"
			      "host.sub.w IN A 192.0.2.97\n"
			      "deleg IN NS ns.deleg\n"
			      "ns.deleg IN A 192.0.2.53\n"
			      "old IN DNAME new.example.test.\n"
			      "host.new IN A 192.0.2.77\n";

static const char TTL_ZONE[] = "$ORIGIN ttl.test.\n"
			       "@ 30 IN SOA ns hostmaster 1 3600 600 86400 600\n"
			       "@ 300 IN NS ns\n"
			       "ns 300 IN A 198.51.100.1\n";

static const char SECRET_ZONE[] = "$ORIGIN secret.test.\n"
				  "$TTL 300\n"
				  "@ IN SOA ns hostmaster 1 3600 600 86400 60\n"
				  "@ IN NS ns\n"
				  "ns IN A 198.51.100.2\n"
				  "host IN A 192.0.2.200\n";

/* Answers rendered at load and answers built per query must be the same bytes. */
static const char READY_ZONE[] = "$ORIGIN ready.test.\n"
				 "$TTL 300\n"
				 "@ IN SOA ns1 hostmaster 7 3600 600 86400 60\n"
				 "@ IN NS ns1\n"
				 "@ IN NS ns2.ready.test.\n"
				 "@ IN NS ns.elsewhere.org.\n"
				 "@ IN MX 10 mail\n"
				 "@ IN MX 20 Mail2.Ready.Test.\n"
				 "ns1 IN A 198.51.100.1\n"
				 "ns1 IN AAAA 2001:db8:100::1\n"
				 "ns2 IN A 198.51.100.2\n"
				 "mail IN A 198.51.100.25\n"
				 "mail IN AAAA 2001:db8:100::25\n"
				 "mail2 IN AAAA 2001:db8:100::26\n"
				 "host IN A 198.51.100.80\n"
				 "host IN A 198.51.100.81\n"
				 "host IN AAAA 2001:db8:100::80\n"
				 "host IN TXT \"v=host\" \"two strings\"\n"
				 "host IN HINFO \"cpu\" \"os\"\n"
				 "_sip._tcp IN SRV 0 5 5060 host\n"
				 "_sip._tcp IN SRV 1 5 5060 sip.elsewhere.org.\n"
				 "ptr IN PTR host.ready.test.\n"
				 "ptr2 IN PTR Host.Elsewhere.Org.\n"
				 "alias IN CNAME host\n"
				 "Alias2 IN CNAME HOST.ready.test.\n"
				 "chain IN CNAME alias\n"
				 "out IN CNAME www.elsewhere.org.\n"
				 "dangling IN CNAME nothere\n"
				 "tomail IN CNAME mail\n"
				 "tosrv IN CNAME _sip._tcp\n"
				 "toent IN CNAME ent\n"
				 "x.ent IN A 198.51.100.90\n"
				 "todeleg IN CNAME ns.deleg\n"
				 "deleg IN NS ns.deleg\n"
				 "ns.deleg IN A 198.51.100.53\n"
				 "towild IN CNAME a.wild\n"
				 "*.wild IN A 198.51.100.99\n"
				 "dn IN DNAME other.ready.test.\n"
				 "x.dn IN A 198.51.100.91\n"
				 "todn IN CNAME y.dn\n"
				 "self IN CNAME self\n"
				 "toapex IN CNAME @\n"
				 "big IN TXT \"%s\"\n"
				 "big IN TXT \"%s \"\n"
				 "big IN TXT \"%s  \"\n";

static const char INI[] = "[server]\n"
			  "listen = 127.0.0.1:5353\n"
			  "allow = 127.0.0.0/8, ::1/128, 10.0.0.0/8\n"
			  "chaos = yes\n"
			  "version = vpcdns-test\n"
			  "edns_udp_size = 1232\n"
			  "\n"
			  "[zone:example.test]\n"
			  "file = ex.zone\n"
			  "\n"
			  "[zone:ttl.test]\n"
			  "file = ttl.zone\n"
			  "\n"
			  "[zone:secret.test]\n"
			  "file = secret.zone\n"
			  "allow = 10.1.0.0/16\n"
			  "\n"
			  "[zone:ready.test]\n"
			  "file = ready.zone\n"
			  "\n"
			  "[zone:2.0.192.in-addr.arpa]\n"
			  "synthesize_ptr = yes\n";

static void write_file(const char *name, const char *content)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fp = fopen(path, "w");
	if (fp == NULL)
		return;
	fputs(content, fp);
	fclose(fp);
}

static int setup(void **state)
{
	char err[2048] = "", path[256], rr[64];
	char *ex;
	size_t len = strlen(EX_ZONE);

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vpcdns-query-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	/* 100 A records at big (1600 bytes of answer), 40 at mid (640 bytes). */
	ex = malloc(len + 141 * 40);
	if (ex == NULL)
		return -1;
	memcpy(ex, EX_ZONE, len + 1);
	for (int i = 1; i <= 100; i++) {
		snprintf(rr, sizeof(rr), "big IN A 10.0.0.%d\n", i);
		strcat(ex, rr);
	}
	for (int i = 1; i <= 40; i++) {
		snprintf(rr, sizeof(rr), "mid IN A 10.1.0.%d\n", i);
		strcat(ex, rr);
	}
	write_file("ex.zone", ex);
	free(ex);
	{
		char text[250], *ready = malloc(sizeof(READY_ZONE) + 3 * sizeof(text));
		if (ready == NULL)
			return -1;
		memset(text, 'x', sizeof(text) - 1);
		text[sizeof(text) - 1] = '\0';
		sprintf(ready, READY_ZONE, text, text, text);
		write_file("ready.zone", ready);
		free(ready);
	}
	write_file("ttl.zone", TTL_ZONE);
	write_file("secret.zone", SECRET_ZONE);
	write_file("vpcdns.ini", INI);
	snprintf(path, sizeof(path), "%s/vpcdns.ini", tmpdir);
	if (config_load(path, &view.config, err, sizeof(err)) != 0) {
		fprintf(stderr, "config_load: %s\n", err);
		return -1;
	}
	view.zones = zonedb_build(view.config, NULL, err, sizeof(err));
	if (view.zones == NULL) {
		fprintf(stderr, "zonedb_build: %s\n", err);
		return -1;
	}
	snprintf(view.identity, sizeof(view.identity), "unit.test");
	return 0;
}

static int teardown(void **state)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;

	(void)state;
	zonedb_free(view.zones);
	config_free(view.config);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char path[512];
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
		unlink(path);
	}
	closedir(d);
	return rmdir(tmpdir);
}

/* ---- building queries ---- */

struct ask {
	const char *name;
	uint16_t type;
	uint16_t qclass; /* 0: IN */
	uint16_t flags;  /* header flags, opcode included */
	uint16_t edns;   /* 0: no OPT, else the advertised UDP size */
	uint8_t version;
	int nopt; /* OPT records to add (default 1 when edns is set) */
	bool tcp;
	const char *src; /* NULL: 127.0.0.1 */
};

static uint8_t buf[65535];
static size_t query_len, reply_len;

static void put16(size_t *n, uint16_t v)
{
	dns_put16(buf + *n, v);
	*n += 2;
}

static size_t build(const struct ask *a)
{
	size_t n = 0;
	int nopt = a->nopt ? a->nopt : (a->edns ? 1 : 0);
	const char *p = a->name;

	put16(&n, 0xabcd);
	put16(&n, a->flags);
	put16(&n, 1);
	put16(&n, 0);
	put16(&n, 0);
	put16(&n, (uint16_t)nopt);
	while (*p != '\0') {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		buf[n++] = (uint8_t)l;
		memcpy(buf + n, p, l);
		n += l;
		p += l + (dot ? 1 : 0);
	}
	buf[n++] = 0;
	put16(&n, a->type);
	put16(&n, a->qclass ? a->qclass : DNS_CLASS_IN);
	for (int i = 0; i < nopt; i++) {
		buf[n++] = 0;
		put16(&n, DNS_TYPE_OPT);
		put16(&n, a->edns ? a->edns : 1232);
		put16(&n, a->version); /* extended rcode 0, version */
		put16(&n, 0);
		put16(&n, 0);
	}
	return n;
}

static enum query_fate run(const struct ask *a)
{
	struct netaddr src;
	struct query_source qs;

	assert_int_equal(netaddr_parse(a->src ? a->src : "127.0.0.1", 40000, &src), 0);
	qs.addr = (const struct sockaddr *)&src.ss;
	qs.tcp = a->tcp;
	query_len = build(a);
	reply_len = 0;
	return query_process(&view, buf, query_len, sizeof(buf), &qs, &reply_len, &stats, NULL);
}

static ldns_pkt *ask(const struct ask *a)
{
	ldns_pkt *pkt = NULL;

	assert_int_equal(run(a), QUERY_ANSWERED);
	assert_true(reply_len >= DNS_HEADER_LEN);
	assert_int_equal(ldns_wire2pkt(&pkt, buf, reply_len), LDNS_STATUS_OK);
	assert_non_null(pkt);
	assert_true(ldns_pkt_qr(pkt));
	assert_int_equal(ldns_pkt_id(pkt), 0xabcd);
	return pkt;
}

static ldns_pkt *ask_simple(const char *name, uint16_t type)
{
	struct ask a = {.name = name, .type = type};
	return ask(&a);
}

/* ---- checking replies ---- */

static void rr_owner(const ldns_rr *rr, char *out, size_t len)
{
	char *s = ldns_rdf2str(ldns_rr_owner(rr));
	snprintf(out, len, "%s", s);
	free(s);
}

static void rr_rdata(const ldns_rr *rr, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		char *s = ldns_rdf2str(ldns_rr_rdf(rr, i));
		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? " " : "", s);
		free(s);
		if (used >= len)
			break;
	}
}

/* Checks RR i of list; ttl -1 skips the TTL, rdata NULL skips the rdata. */
static void check_rr(const ldns_rr_list *list, size_t i, const char *owner, long ttl,
		     ldns_rr_type type, const char *rdata)
{
	char text[1024];
	const ldns_rr *rr;

	if (i >= ldns_rr_list_rr_count(list))
		fail_msg("no RR %zu (have %zu), wanted %s", i, ldns_rr_list_rr_count(list), owner);
	rr = ldns_rr_list_rr(list, i);
	rr_owner(rr, text, sizeof(text));
	assert_string_equal(text, owner);
	assert_int_equal(ldns_rr_get_type(rr), type);
	if (ttl >= 0)
		assert_int_equal(ldns_rr_ttl(rr), ttl);
	if (rdata != NULL) {
		rr_rdata(rr, text, sizeof(text));
		assert_string_equal(text, rdata);
	}
}

static bool has_rr(const ldns_rr_list *list, const char *owner, ldns_rr_type type,
		   const char *rdata)
{
	char text[1024];

	for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(list, i);
		if (ldns_rr_get_type(rr) != type)
			continue;
		rr_owner(rr, text, sizeof(text));
		if (strcasecmp(text, owner) != 0)
			continue;
		rr_rdata(rr, text, sizeof(text));
		if (strcmp(text, rdata) == 0)
			return true;
	}
	return false;
}

static void check_counts(const ldns_pkt *pkt, unsigned an, unsigned ns, unsigned ar)
{
	assert_int_equal(ldns_pkt_ancount(pkt), an);
	assert_int_equal(ldns_pkt_nscount(pkt), ns);
	assert_int_equal(ldns_pkt_arcount(pkt), ar);
}

/* The SOA of a negative answer, its TTL min(SOA TTL, MINIMUM). */
static void check_negative(const ldns_pkt *pkt, const char *apex, uint32_t ttl)
{
	assert_int_equal(ldns_pkt_ancount(pkt), 0);
	assert_int_equal(ldns_pkt_nscount(pkt), 1);
	check_rr(ldns_pkt_authority(pkt), 0, apex, ttl, LDNS_RR_TYPE_SOA, NULL);
}

/* ---- tests ---- */

static void test_exact_match(void **state)
{
	ldns_pkt *pkt = ask_simple("www.example.test", DNS_TYPE_A);

	(void)state;
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(pkt));
	assert_false(ldns_pkt_tc(pkt));
	assert_false(ldns_pkt_ra(pkt));
	assert_int_equal(ldns_pkt_qdcount(pkt), 1);
	check_counts(pkt, 1, 0, 0);
	check_rr(ldns_pkt_answer(pkt), 0, "www.example.test.", 300, LDNS_RR_TYPE_A, "192.0.2.80");
	ldns_pkt_free(pkt);

	pkt = ask_simple("www.example.test", DNS_TYPE_TXT);
	check_counts(pkt, 1, 0, 0);
	check_rr(ldns_pkt_answer(pkt), 0, "www.example.test.", 300, LDNS_RR_TYPE_TXT, "\"hello\"");
	ldns_pkt_free(pkt);

	/* RD is copied; the reply is as long as ldns says. */
	struct ask a = {.name = "www.example.test", .type = DNS_TYPE_A, .flags = DNS_FLAG_RD};
	pkt = ask(&a);
	assert_true(ldns_pkt_rd(pkt));
	assert_false(ldns_pkt_edns(pkt));
	assert_int_equal(reply_len, query_len + 16);
	ldns_pkt_free(pkt);
}

static void test_nxdomain_nodata(void **state)
{
	ldns_pkt *pkt;

	(void)state;
	pkt = ask_simple("nope.example.test", DNS_TYPE_A);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NXDOMAIN);
	assert_true(ldns_pkt_aa(pkt));
	/* SOA TTL 3600, MINIMUM 60. */
	check_negative(pkt, "example.test.", 60);
	check_rr(ldns_pkt_authority(pkt), 0, "example.test.", 60, LDNS_RR_TYPE_SOA,
		 "ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60");
	ldns_pkt_free(pkt);

	pkt = ask_simple("deeper.nope.example.test", DNS_TYPE_A);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NXDOMAIN);
	check_negative(pkt, "example.test.", 60);
	ldns_pkt_free(pkt);

	pkt = ask_simple("www.example.test", DNS_TYPE_AAAA);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(pkt));
	check_negative(pkt, "example.test.", 60);
	ldns_pkt_free(pkt);

	/* SOA TTL 30, MINIMUM 600. */
	pkt = ask_simple("nope.ttl.test", DNS_TYPE_A);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NXDOMAIN);
	check_negative(pkt, "ttl.test.", 30);
	ldns_pkt_free(pkt);
	pkt = ask_simple("ttl.test", DNS_TYPE_TXT);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	check_negative(pkt, "ttl.test.", 30);
	ldns_pkt_free(pkt);
}

static void test_cname_chain(void **state)
{
	ldns_pkt *pkt = ask_simple("a1.example.test", DNS_TYPE_A);
	ldns_rr_list *an = ldns_pkt_answer(pkt);

	(void)state;
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(pkt));
	check_counts(pkt, 3, 0, 0);
	check_rr(an, 0, "a1.example.test.", 300, LDNS_RR_TYPE_CNAME, "a2.example.test.");
	check_rr(an, 1, "a2.example.test.", 300, LDNS_RR_TYPE_CNAME, "www.example.test.");
	check_rr(an, 2, "www.example.test.", 300, LDNS_RR_TYPE_A, "192.0.2.80");
	ldns_pkt_free(pkt);

	/* The chain ends in NODATA: the SOA follows the CNAMEs. */
	pkt = ask_simple("a1.example.test", DNS_TYPE_AAAA);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(pkt), 2);
	assert_int_equal(ldns_pkt_nscount(pkt), 1);
	check_rr(ldns_pkt_authority(pkt), 0, "example.test.", 60, LDNS_RR_TYPE_SOA, NULL);
	ldns_pkt_free(pkt);

	/* Asking for the CNAME itself does not follow it. */
	pkt = ask_simple("a1.example.test", DNS_TYPE_CNAME);
	check_counts(pkt, 1, 0, 0);
	check_rr(ldns_pkt_answer(pkt), 0, "a1.example.test.", 300, LDNS_RR_TYPE_CNAME,
		 "a2.example.test.");
	ldns_pkt_free(pkt);
}

static void test_cname_out_of_zone(void **state)
{
	ldns_pkt *pkt = ask_simple("ext.example.test", DNS_TYPE_A);

	(void)state;
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(pkt));
	check_counts(pkt, 1, 0, 0);
	check_rr(ldns_pkt_answer(pkt), 0, "ext.example.test.", 300, LDNS_RR_TYPE_CNAME,
		 "target.example.org.");
	ldns_pkt_free(pkt);
}

static void test_cname_loop(void **state)
{
	ldns_pkt *pkt = ask_simple("loop1.example.test", DNS_TYPE_A);
	ldns_rr_list *an = ldns_pkt_answer(pkt);

	(void)state;
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(pkt), 2);
	check_rr(an, 0, "loop1.example.test.", 300, LDNS_RR_TYPE_CNAME, "loop2.example.test.");
	check_rr(an, 1, "loop2.example.test.", 300, LDNS_RR_TYPE_CNAME, "loop1.example.test.");
	ldns_pkt_free(pkt);
}

static void test_wildcard(void **state)
{
	ldns_pkt *pkt = ask_simple("foo.wild.example.test", DNS_TYPE_A);

	(void)state;
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(pkt));
	check_counts(pkt, 1, 0, 0);
	check_rr(ldns_pkt_answer(pkt), 0, "foo.wild.example.test.", 300, LDNS_RR_TYPE_A,
		 "192.0.2.99");
	ldns_pkt_free(pkt);

	/* More than one label below the wildcard's parent. */
	pkt = ask_simple("a.b.wild.example.test", DNS_TYPE_A);
	check_counts(pkt, 1, 0, 0);
	check_rr(ldns_pkt_answer(pkt), 0, "a.b.wild.example.test.", 300, LDNS_RR_TYPE_A,
		 "192.0.2.99");
	ldns_pkt_free(pkt);

	/* The wildcard has no AAAA: NODATA, not NXDOMAIN. */
	pkt = ask_simple("foo.wild.example.test", DNS_TYPE_AAAA);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	check_negative(pkt, "example.test.", 60);
	ldns_pkt_free(pkt);

	/* The wildcard's parent itself is an empty non-terminal. */
	pkt = ask_simple("wild.example.test", DNS_TYPE_A);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	check_negative(pkt, "example.test.", 60);
	ldns_pkt_free(pkt);
}

static void test_ent_blocks_wildcard(void **state)
{
	ldns_pkt *pkt;

	(void)state;
	/* sub.w exists (host.sub.w below it): NODATA, the *.w wildcard does not apply. */
	pkt = ask_simple("sub.w.example.test", DNS_TYPE_A);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(pkt));
	check_negative(pkt, "example.test.", 60);
	ldns_pkt_free(pkt);

	/* Below the ENT: its closest encloser has no wildcard. */
	pkt = ask_simple("x.sub.w.example.test", DNS_TYPE_A);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NXDOMAIN);
	check_negative(pkt, "example.test.", 60);
	ldns_pkt_free(pkt);

	/* A sibling does match the wildcard. */
	pkt = ask_simple("other.w.example.test", DNS_TYPE_A);
	check_counts(pkt, 1, 0, 0);
	check_rr(ldns_pkt_answer(pkt), 0, "other.w.example.test.", 300, LDNS_RR_TYPE_A,
		 "192.0.2.98");
	ldns_pkt_free(pkt);

	pkt = ask_simple("host.sub.w.example.test", DNS_TYPE_A);
	check_rr(ldns_pkt_answer(pkt), 0, "host.sub.w.example.test.", 300, LDNS_RR_TYPE_A,
		 "192.0.2.97");
	ldns_pkt_free(pkt);
}

static void test_referral(void **state)
{
	static const char *const names[] = {"host.deleg.example.test", "deleg.example.test",
					    "ns.deleg.example.test"};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		ldns_pkt *pkt = ask_simple(names[i], DNS_TYPE_A);
		assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
		assert_false(ldns_pkt_aa(pkt));
		check_counts(pkt, 0, 1, 1);
		check_rr(ldns_pkt_authority(pkt), 0, "deleg.example.test.", 300, LDNS_RR_TYPE_NS,
			 "ns.deleg.example.test.");
		check_rr(ldns_pkt_additional(pkt), 0, "ns.deleg.example.test.", 300, LDNS_RR_TYPE_A,
			 "192.0.2.53");
		ldns_pkt_free(pkt);
	}
}

static void test_ds_at_delegation(void **state)
{
	ldns_pkt *pkt = ask_simple("deleg.example.test", DNS_TYPE_DS);

	(void)state;
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(pkt));
	check_negative(pkt, "example.test.", 60);
	assert_int_equal(ldns_pkt_arcount(pkt), 0);
	ldns_pkt_free(pkt);

	/* DS below the cut is still a referral. */
	pkt = ask_simple("x.deleg.example.test", DNS_TYPE_DS);
	assert_false(ldns_pkt_aa(pkt));
	check_rr(ldns_pkt_authority(pkt), 0, "deleg.example.test.", 300, LDNS_RR_TYPE_NS, NULL);
	ldns_pkt_free(pkt);
}

static void test_dname(void **state)
{
	ldns_pkt *pkt = ask_simple("host.old.example.test", DNS_TYPE_A);
	ldns_rr_list *an = ldns_pkt_answer(pkt);

	(void)state;
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(pkt));
	assert_int_equal(ldns_pkt_ancount(pkt), 3);
	check_rr(an, 0, "old.example.test.", 300, LDNS_RR_TYPE_DNAME, "new.example.test.");
	check_rr(an, 1, "host.old.example.test.", 300, LDNS_RR_TYPE_CNAME,
		 "host.new.example.test.");
	check_rr(an, 2, "host.new.example.test.", 300, LDNS_RR_TYPE_A, "192.0.2.77");
	ldns_pkt_free(pkt);

	/* The DNAME owner itself is not redirected. */
	pkt = ask_simple("old.example.test", DNS_TYPE_DNAME);
	check_counts(pkt, 1, 0, 0);
	check_rr(ldns_pkt_answer(pkt), 0, "old.example.test.", 300, LDNS_RR_TYPE_DNAME,
		 "new.example.test.");
	ldns_pkt_free(pkt);

	/* Synthesized target that does not exist: NXDOMAIN after the DNAME and CNAME. */
	pkt = ask_simple("gone.old.example.test", DNS_TYPE_A);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(ldns_pkt_ancount(pkt), 2);
	check_rr(ldns_pkt_answer(pkt), 1, "gone.old.example.test.", 300, LDNS_RR_TYPE_CNAME,
		 "gone.new.example.test.");
	ldns_pkt_free(pkt);
}

static void test_mx_additional(void **state)
{
	ldns_pkt *pkt = ask_simple("example.test", DNS_TYPE_MX);

	(void)state;
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(pkt));
	check_counts(pkt, 1, 0, 2);
	check_rr(ldns_pkt_answer(pkt), 0, "example.test.", 300, LDNS_RR_TYPE_MX,
		 "10 mail.example.test.");
	assert_true(
	    has_rr(ldns_pkt_additional(pkt), "mail.example.test.", LDNS_RR_TYPE_A, "192.0.2.25"));
	assert_true(has_rr(ldns_pkt_additional(pkt), "mail.example.test.", LDNS_RR_TYPE_AAAA,
			   "2001:db8::25"));
	ldns_pkt_free(pkt);

	/* NS at the apex: the in-zone server's address. */
	pkt = ask_simple("example.test", DNS_TYPE_NS);
	check_counts(pkt, 1, 0, 1);
	check_rr(ldns_pkt_additional(pkt), 0, "ns1.example.test.", 300, LDNS_RR_TYPE_A,
		 "192.0.2.1");
	ldns_pkt_free(pkt);
}

static void test_any(void **state)
{
	struct ask a = {.name = "www.example.test", .type = DNS_TYPE_ANY};
	ldns_pkt *pkt;

	(void)state;
	pkt = ask(&a);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(pkt), 1);
	assert_false(ldns_pkt_tc(pkt));
	ldns_pkt_free(pkt);

	/* Over TCP too: one whole RRset (RFC 8482 4.1, as Knot DNS answers). */
	a.tcp = true;
	pkt = ask(&a);
	assert_int_equal(ldns_pkt_ancount(pkt), 1);
	assert_true(
	    has_rr(ldns_pkt_answer(pkt), "www.example.test.", LDNS_RR_TYPE_A, "192.0.2.80"));
	ldns_pkt_free(pkt);

	/* ANY at an empty non-terminal: NODATA. */
	a.name = "sub.w.example.test";
	pkt = ask(&a);
	check_negative(pkt, "example.test.", 60);
	ldns_pkt_free(pkt);
}

static void test_refused(void **state)
{
	ldns_pkt *pkt;
	uint64_t refused = stats.refused;

	(void)state;
	pkt = ask_simple("www.nowhere.test", DNS_TYPE_A);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_REFUSED);
	assert_false(ldns_pkt_aa(pkt));
	check_counts(pkt, 0, 0, 0);
	assert_int_equal(ldns_pkt_qdcount(pkt), 1);
	ldns_pkt_free(pkt);

	/* A parent of a served zone is not served either. */
	pkt = ask_simple("test", DNS_TYPE_SOA);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_REFUSED);
	ldns_pkt_free(pkt);

	/* Sources outside the server's allow list. */
	static const char *const outside[] = {"8.8.8.8", "192.168.1.1", "[2001:db8::1]"};
	for (size_t i = 0; i < 3; i++) {
		struct ask a = {.name = "www.example.test", .type = DNS_TYPE_A, .src = outside[i]};
		pkt = ask(&a);
		assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_REFUSED);
		check_counts(pkt, 0, 0, 0);
		ldns_pkt_free(pkt);
	}
	/* Inside it: v6 loopback, IPv4-mapped loopback, 10/8. */
	static const char *const inside[] = {"::1", "::ffff:127.0.0.1", "10.9.9.9"};
	for (size_t i = 0; i < 3; i++) {
		struct ask a = {.name = "www.example.test", .type = DNS_TYPE_A, .src = inside[i]};
		pkt = ask(&a);
		assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
		assert_int_equal(ldns_pkt_ancount(pkt), 1);
		ldns_pkt_free(pkt);
	}
	assert_int_equal(stats.refused, refused + 5);
}

static void test_zone_allow(void **state)
{
	struct ask a = {.name = "host.secret.test", .type = DNS_TYPE_A};
	ldns_pkt *pkt;

	(void)state;
	/* 127.0.0.1 may query the server but not this zone. */
	pkt = ask(&a);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_REFUSED);
	check_counts(pkt, 0, 0, 0);
	ldns_pkt_free(pkt);
	a.src = "10.2.0.1";
	pkt = ask(&a);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_REFUSED);
	ldns_pkt_free(pkt);
	a.src = "10.1.2.3";
	pkt = ask(&a);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	check_rr(ldns_pkt_answer(pkt), 0, "host.secret.test.", 300, LDNS_RR_TYPE_A, "192.0.2.200");
	ldns_pkt_free(pkt);
}

static void test_class(void **state)
{
	static const uint16_t classes[] = {4 /* HS */, DNS_CLASS_ANY, 2 /* CS */, 254 /* NONE */};

	(void)state;
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		struct ask a = {
		    .name = "www.example.test", .type = DNS_TYPE_A, .qclass = classes[i]};
		ldns_pkt *pkt = ask(&a);
		assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_REFUSED);
		check_counts(pkt, 0, 0, 0);
		assert_int_equal(ldns_rr_get_class(ldns_rr_list_rr(ldns_pkt_question(pkt), 0)),
				 classes[i]);
		ldns_pkt_free(pkt);
	}
}

static void test_chaos(void **state)
{
	struct ask a = {.name = "version.bind", .type = DNS_TYPE_TXT, .qclass = DNS_CLASS_CH};
	ldns_pkt *pkt;

	(void)state;
	pkt = ask(&a);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	check_counts(pkt, 1, 0, 0);
	check_rr(ldns_pkt_answer(pkt), 0, "version.bind.", 0, LDNS_RR_TYPE_TXT, "\"vpcdns-test\"");
	assert_int_equal(ldns_rr_get_class(ldns_rr_list_rr(ldns_pkt_answer(pkt), 0)),
			 LDNS_RR_CLASS_CH);
	ldns_pkt_free(pkt);

	a.name = "VERSION.Server";
	pkt = ask(&a);
	check_rr(ldns_pkt_answer(pkt), 0, "VERSION.Server.", 0, LDNS_RR_TYPE_TXT,
		 "\"vpcdns-test\"");
	ldns_pkt_free(pkt);

	a.name = "id.server";
	pkt = ask(&a);
	check_rr(ldns_pkt_answer(pkt), 0, "id.server.", 0, LDNS_RR_TYPE_TXT, "\"unit.test\"");
	ldns_pkt_free(pkt);

	a.name = "hostname.bind";
	pkt = ask(&a);
	check_rr(ldns_pkt_answer(pkt), 0, "hostname.bind.", 0, LDNS_RR_TYPE_TXT, "\"unit.test\"");
	ldns_pkt_free(pkt);

	/* Other CHAOS names and types are refused. */
	a.name = "authors.bind";
	pkt = ask(&a);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_REFUSED);
	ldns_pkt_free(pkt);
	a.name = "version.bind";
	a.type = DNS_TYPE_A;
	pkt = ask(&a);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_REFUSED);
	ldns_pkt_free(pkt);

	/* chaos = no */
	a.type = DNS_TYPE_TXT;
	view.config->chaos = false;
	pkt = ask(&a);
	view.config->chaos = true;
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_REFUSED);
	check_counts(pkt, 0, 0, 0);
	ldns_pkt_free(pkt);

	/* CHAOS also obeys the allow list. */
	a.src = "8.8.8.8";
	pkt = ask(&a);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_REFUSED);
	ldns_pkt_free(pkt);
}

static void test_edns(void **state)
{
	struct ask a = {.name = "www.example.test", .type = DNS_TYPE_A, .edns = 4096};
	ldns_pkt *pkt;

	(void)state;
	pkt = ask(&a);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_edns(pkt));
	assert_int_equal(ldns_pkt_edns_udp_size(pkt), 1232);
	assert_int_equal(ldns_pkt_edns_version(pkt), 0);
	check_counts(pkt, 1, 0, 0); /* ldns counts the OPT apart */
	ldns_pkt_free(pkt);

	/* BADVERS: 16, the low 4 bits 0 in the header, 1 in the OPT TTL. */
	a.version = 1;
	pkt = ask(&a);
	assert_int_equal(ldns_pkt_get_rcode(pkt), 0);
	assert_true(ldns_pkt_edns(pkt));
	assert_int_equal(ldns_pkt_edns_extended_rcode(pkt), 1);
	assert_int_equal(ldns_pkt_edns_version(pkt), 0);
	check_counts(pkt, 0, 0, 0);
	assert_int_equal(buf[3] & 0xf, 0);
	assert_int_equal(buf[reply_len - 6], 1);
	ldns_pkt_free(pkt);

	/* Two OPT records: FORMERR. */
	a.version = 0;
	a.nopt = 2;
	pkt = ask(&a);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_FORMERR);
	check_counts(pkt, 0, 0, 0);
	assert_int_equal(ldns_pkt_qdcount(pkt), 1);
	ldns_pkt_free(pkt);
}

static void test_opcode_and_meta(void **state)
{
	struct ask a = {.name = "example.test", .type = DNS_TYPE_SOA, .flags = 4 << 11};
	ldns_pkt *pkt;

	(void)state;
	pkt = ask(&a);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOTIMPL);
	assert_int_equal(ldns_pkt_get_opcode(pkt), LDNS_PACKET_NOTIFY);
	check_counts(pkt, 0, 0, 0);
	ldns_pkt_free(pkt);

	a.flags = 0;
	a.type = DNS_TYPE_AXFR;
	pkt = ask(&a);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_REFUSED);
	ldns_pkt_free(pkt);
	/* A meta type as the question finds no data, as in Knot DNS and NSD. */
	a.type = DNS_TYPE_OPT;
	pkt = ask(&a);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(pkt));
	assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(pkt)), 0);
	ldns_pkt_free(pkt);

	/* QR=1 and short packets get no reply at all. */
	uint64_t dropped = stats.dropped;
	a.type = DNS_TYPE_A;
	a.flags = DNS_FLAG_QR;
	assert_int_equal(run(&a), QUERY_DROPPED);
	assert_int_equal(stats.dropped, dropped + 1);
	struct netaddr src;
	struct query_source qs;
	assert_int_equal(netaddr_parse("127.0.0.1", 1, &src), 0);
	qs.addr = (const struct sockaddr *)&src.ss;
	qs.tcp = false;
	assert_int_equal(query_process(&view, buf, 5, sizeof(buf), &qs, &reply_len, &stats, NULL),
			 QUERY_DROPPED);
}

static void test_truncation(void **state)
{
	struct ask a = {.name = "big.example.test", .type = DNS_TYPE_A};
	ldns_pkt *pkt;
	uint64_t truncated = stats.truncated;

	(void)state;
	/* 100 A records (1600 bytes) over plain UDP: TC and no partial RRset. */
	pkt = ask(&a);
	assert_true(ldns_pkt_tc(pkt));
	assert_true(reply_len <= 512);
	check_counts(pkt, 0, 0, 0);
	assert_int_equal(ldns_pkt_qdcount(pkt), 1);
	ldns_pkt_free(pkt);
	assert_int_equal(stats.truncated, truncated + 1);

	/* Still too big for our 1232-byte EDNS limit, whatever the client offers. */
	a.edns = 4096;
	pkt = ask(&a);
	assert_true(ldns_pkt_tc(pkt));
	assert_true(reply_len <= 1232);
	assert_int_equal(ldns_pkt_ancount(pkt), 0);
	assert_true(ldns_pkt_edns(pkt));
	ldns_pkt_free(pkt);

	/* Over TCP the whole RRset. */
	a.edns = 0;
	a.tcp = true;
	pkt = ask(&a);
	assert_false(ldns_pkt_tc(pkt));
	assert_int_equal(ldns_pkt_ancount(pkt), 100);
	check_rr(ldns_pkt_answer(pkt), 0, "big.example.test.", 300, LDNS_RR_TYPE_A, NULL);
	assert_true(
	    has_rr(ldns_pkt_answer(pkt), "big.example.test.", LDNS_RR_TYPE_A, "10.0.0.100"));
	ldns_pkt_free(pkt);

	/* 40 records (640 bytes): TC without EDNS, whole with EDNS 1232. */
	a.name = "mid.example.test";
	a.tcp = false;
	pkt = ask(&a);
	assert_true(ldns_pkt_tc(pkt));
	assert_int_equal(ldns_pkt_ancount(pkt), 0);
	ldns_pkt_free(pkt);
	a.edns = 1232;
	pkt = ask(&a);
	assert_false(ldns_pkt_tc(pkt));
	assert_int_equal(ldns_pkt_ancount(pkt), 40);
	ldns_pkt_free(pkt);
	/* An EDNS size below 512 counts as 512. */
	a.edns = 100;
	pkt = ask(&a);
	assert_true(ldns_pkt_tc(pkt));
	assert_int_equal(ldns_pkt_ancount(pkt), 0);
	ldns_pkt_free(pkt);
}

static void test_question_case(void **state)
{
	struct ask a = {.name = "WwW.ExAmPlE.TeSt", .type = DNS_TYPE_A};
	uint8_t question[64];
	ldns_pkt *pkt;
	char text[256];

	(void)state;
	build(&a);
	memcpy(question, buf + 12, 22);
	pkt = ask(&a);
	assert_memory_equal(buf + 12, question, 22);
	rr_owner(ldns_rr_list_rr(ldns_pkt_question(pkt), 0), text, sizeof(text));
	assert_string_equal(text, "WwW.ExAmPlE.TeSt.");
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	check_rr(ldns_pkt_answer(pkt), 0, "WwW.ExAmPlE.TeSt.", 300, LDNS_RR_TYPE_A, "192.0.2.80");
	ldns_pkt_free(pkt);

	/* Error replies echo it too. */
	a.name = "WwW.NoWhErE.TeSt";
	pkt = ask(&a);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_REFUSED);
	rr_owner(ldns_rr_list_rr(ldns_pkt_question(pkt), 0), text, sizeof(text));
	assert_string_equal(text, "WwW.NoWhErE.TeSt.");
	ldns_pkt_free(pkt);
}

static void test_synthesized_ptr(void **state)
{
	ldns_pkt *pkt;
	struct ask a = {.name = "200.2.0.192.in-addr.arpa", .type = DNS_TYPE_PTR};

	(void)state;
	pkt = ask_simple("80.2.0.192.in-addr.arpa", DNS_TYPE_PTR);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(pkt));
	check_counts(pkt, 1, 0, 0);
	check_rr(ldns_pkt_answer(pkt), 0, "80.2.0.192.in-addr.arpa.", 300, LDNS_RR_TYPE_PTR,
		 "www.example.test.");
	ldns_pkt_free(pkt);

	pkt = ask_simple("25.2.0.192.in-addr.arpa", DNS_TYPE_PTR);
	check_rr(ldns_pkt_answer(pkt), 0, "25.2.0.192.in-addr.arpa.", 300, LDNS_RR_TYPE_PTR,
		 "mail.example.test.");
	ldns_pkt_free(pkt);

	/* Nothing for wildcard (192.0.2.99) or glue (192.0.2.53) addresses. */
	pkt = ask_simple("99.2.0.192.in-addr.arpa", DNS_TYPE_PTR);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(pkt);
	pkt = ask_simple("53.2.0.192.in-addr.arpa", DNS_TYPE_PTR);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(pkt);

	/* The apex of a synthesized zone has an SOA and NS. */
	pkt = ask_simple("2.0.192.in-addr.arpa", DNS_TYPE_SOA);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	check_rr(ldns_pkt_answer(pkt), 0, "2.0.192.in-addr.arpa.", -1, LDNS_RR_TYPE_SOA, NULL);
	ldns_pkt_free(pkt);

	/* A name from a zone with its own allow list: only its clients see the PTR. */
	pkt = ask(&a);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(pkt), 0);
	ldns_pkt_free(pkt);
	a.src = "10.1.2.3";
	pkt = ask(&a);
	check_counts(pkt, 1, 0, 0);
	check_rr(ldns_pkt_answer(pkt), 0, "200.2.0.192.in-addr.arpa.", 300, LDNS_RR_TYPE_PTR,
		 "host.secret.test.");
	ldns_pkt_free(pkt);
}

/* ---- answers rendered at load ---- */

static uint8_t reply_a[65535], reply_b[65535];

struct ready_run {
	size_t compared, ready;
	struct netaddr src;
};

/* The reply to the query in buf, from answer_ready when ready (and it can), else answer_walk. */
static size_t reply_by(uint8_t *out, size_t budget, bool ready, bool *was_ready,
		       const struct netaddr *src)
{
	struct packet_query q;
	struct packet_writer w;
	struct answer ans;
	const struct zonedb_entry *entry;

	memcpy(out, buf, query_len);
	assert_int_equal(packet_parse(out, query_len, &q), PACKET_OK);
	entry = zonedb_find(view.zones, q.qname, q.qname_len, q.label_off, q.label_hash,
			    q.qname_labels);
	assert_non_null(entry);
	assert_non_null(entry->zone);
	packet_writer_init(&w, out, sizeof(reply_a), budget, &q);
	*was_ready = ready && answer_ready(entry, &q, false, &w, &ans);
	if (!*was_ready)
		answer_walk(entry, &q, (const struct sockaddr *)&src->ss, false, NULL, false, &w,
			    &ans);
	return packet_finish(&w, &q, ans.rcode, ans.flags, 1232);
}

/* Every way of asking for name and type: the ready answer, when there is one, is the walk's. */
static bool compare_ready(struct ready_run *run, const char *name, uint16_t type)
{
	static const uint16_t edns[] = {0, 1232, 4096};
	bool any_ready = false;

	for (size_t e = 0; e < 3; e++) {
		for (int tcp = 0; tcp < 2; tcp++) {
			struct ask a = {.name = name, .type = type, .edns = edns[e]};
			size_t budget = tcp ? DNS_MAX_UDP : edns[e] == 0 ? 512 : 1232;
			size_t la, lb;
			bool ready, walked;
			query_len = build(&a);
			la = reply_by(reply_a, budget, true, &ready, &run->src);
			lb = reply_by(reply_b, budget, false, &walked, &run->src);
			run->compared++;
			run->ready += ready;
			any_ready |= ready;
			if (la != lb || memcmp(reply_a, reply_b, la) != 0)
				fail_msg("%s type %u, EDNS %u, %s: the ready answer (%zu bytes) is "
					 "not the walk's (%zu bytes)",
					 name, type, edns[e], tcp ? "TCP" : "UDP", la, lb);
		}
	}
	return any_ready;
}

struct names {
	char v[64][300];
	size_t n;
};

static void collect_name(const struct zone_node *n, void *arg)
{
	struct names *names = arg;

	if (names->n < 64)
		zone_name_to_text(n->name, names->v[names->n++], sizeof(names->v[0]));
}

static void test_ready_answers(void **state)
{
	static const uint16_t types[] = {
	    DNS_TYPE_A,     DNS_TYPE_AAAA, DNS_TYPE_NS,  DNS_TYPE_CNAME, DNS_TYPE_SOA,
	    DNS_TYPE_MX,    DNS_TYPE_TXT,  DNS_TYPE_SRV, DNS_TYPE_PTR,   13 /* HINFO */,
	    DNS_TYPE_DNAME, DNS_TYPE_DS,   DNS_TYPE_ANY, DNS_TYPE_RRSIG,
	};
	struct ready_run run;
	static struct names names;

	(void)state;
	memset(&run, 0, sizeof(run));
	assert_int_equal(netaddr_parse("127.0.0.1", 40000, &run.src), 0);
	/* Every name of every zone, as stored and in mixed case (RFC 5452 9), every type. */
	for (size_t z = 0; z < zonedb_count(view.zones); z++) {
		const struct zonedb_entry *e = zonedb_entry(view.zones, z);
		if (e->zone == NULL)
			continue;
		names.n = 0;
		zone_foreach(e->zone, collect_name, &names);
		for (size_t i = 0; i < names.n; i++) {
			for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
				char mixed[300];
				compare_ready(&run, names.v[i], types[t]);
				for (size_t k = 0; k <= strlen(names.v[i]); k++)
					mixed[k] =
					    (char)(k % 2 ? toupper(names.v[i][k]) : names.v[i][k]);
				compare_ready(&run, mixed, types[t]);
			}
		}
	}
	assert_true(run.compared > 25000);
	assert_true(run.ready > 20000);

	/* The cases it is for. */
	assert_true(compare_ready(&run, "host.ready.test", DNS_TYPE_A));
	assert_true(compare_ready(&run, "host.ready.test", DNS_TYPE_AAAA));
	assert_true(compare_ready(&run, "host.ready.test", DNS_TYPE_TXT));
	assert_true(compare_ready(&run, "host.ready.test", 13));
	assert_true(compare_ready(&run, "ready.test", DNS_TYPE_SOA));
	assert_true(compare_ready(&run, "ready.test", DNS_TYPE_NS));
	assert_true(compare_ready(&run, "ready.test", DNS_TYPE_MX));
	assert_true(compare_ready(&run, "_sip._tcp.ready.test", DNS_TYPE_SRV));
	assert_true(compare_ready(&run, "ptr.ready.test", DNS_TYPE_PTR));
	assert_true(compare_ready(&run, "alias.ready.test", DNS_TYPE_CNAME));
	assert_true(compare_ready(&run, "alias.ready.test", DNS_TYPE_A));
	assert_true(compare_ready(&run, "ALIAS2.ready.test", DNS_TYPE_AAAA));
	assert_true(compare_ready(&run, "tomail.ready.test", DNS_TYPE_A));
	assert_true(compare_ready(&run, "out.ready.test", DNS_TYPE_A));
	assert_true(compare_ready(&run, "big.ready.test", DNS_TYPE_TXT)); /* over TCP */
	/* And those it leaves to the walk. */
	assert_false(compare_ready(&run, "chain.ready.test", DNS_TYPE_A));
	assert_false(compare_ready(&run, "dangling.ready.test", DNS_TYPE_A));
	assert_false(compare_ready(&run, "tosrv.ready.test", DNS_TYPE_SRV));
	assert_false(compare_ready(&run, "toent.ready.test", DNS_TYPE_A));
	assert_false(compare_ready(&run, "todeleg.ready.test", DNS_TYPE_A));
	assert_false(compare_ready(&run, "towild.ready.test", DNS_TYPE_A));
	assert_false(compare_ready(&run, "todn.ready.test", DNS_TYPE_A));
	assert_false(compare_ready(&run, "x.dn.ready.test", DNS_TYPE_A));
	assert_false(compare_ready(&run, "deleg.ready.test", DNS_TYPE_NS));
	assert_false(compare_ready(&run, "ns.deleg.ready.test", DNS_TYPE_A));
	assert_false(compare_ready(&run, "self.ready.test", DNS_TYPE_A));
	assert_false(compare_ready(&run, "a.wild.ready.test", DNS_TYPE_A));  /* wildcard */
	assert_false(compare_ready(&run, "x.deleg.ready.test", DNS_TYPE_A)); /* referral */
	assert_false(compare_ready(&run, "y.dn.ready.test", DNS_TYPE_A));    /* DNAME */
	/* Negative answers: the zone's SOA moved to the question's apex. */
	assert_true(compare_ready(&run, "host.ready.test", DNS_TYPE_MX)); /* NODATA */
	assert_true(compare_ready(&run, "ent.ready.test", DNS_TYPE_A));
	assert_true(compare_ready(&run, "ns2.ready.test", DNS_TYPE_AAAA));
	assert_true(compare_ready(&run, "nope.ready.test", DNS_TYPE_A)); /* NXDOMAIN */
	assert_true(compare_ready(&run, "NoPe.ReAdY.tEsT", DNS_TYPE_ANY));
	assert_true(compare_ready(&run, "a.b.c.ready.test", DNS_TYPE_A));
	assert_true(compare_ready(&run, "a.ent.ready.test", DNS_TYPE_TXT));
	assert_true(compare_ready(&run, "q.x.ent.ready.test", DNS_TYPE_A));
	assert_true(compare_ready(&run, "nope.example.test", DNS_TYPE_A));
	assert_true(compare_ready(&run, "nope.ttl.test", DNS_TYPE_A));
	/* Unless the question shares more than the apex with MNAME or RNAME. */
	assert_false(compare_ready(&run, "ns1.ready.test", DNS_TYPE_TXT));
	assert_false(compare_ready(&run, "x.ns1.ready.test", DNS_TYPE_A));
	assert_false(compare_ready(&run, "x.HostMaster.ready.test", DNS_TYPE_A));
	assert_false(compare_ready(&run, "hostmaster.ready.test", DNS_TYPE_A));
	assert_false(compare_ready(&run, "host.ready.test", DNS_TYPE_ANY));        /* RFC 8482 */
	assert_true(compare_ready(&run, "80.2.0.192.in-addr.arpa", DNS_TYPE_PTR)); /* synthesized */
	assert_false(
	    compare_ready(&run, "200.2.0.192.in-addr.arpa", DNS_TYPE_PTR)); /* per client */
}

static void test_stats(void **state)
{
	struct query_stats before = stats;
	ldns_pkt *pkt;

	(void)state;
	pkt = ask_simple("nope.example.test", DNS_TYPE_A);
	ldns_pkt_free(pkt);
	pkt = ask_simple("www.example.test", DNS_TYPE_A);
	ldns_pkt_free(pkt);
	assert_int_equal(stats.queries, before.queries + 2);
	assert_int_equal(stats.nxdomain, before.nxdomain + 1);
	assert_int_equal(stats.refused, before.refused);
	assert_int_equal(stats.formerr, before.formerr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exact_match),
	    cmocka_unit_test(test_nxdomain_nodata),
	    cmocka_unit_test(test_cname_chain),
	    cmocka_unit_test(test_cname_out_of_zone),
	    cmocka_unit_test(test_cname_loop),
	    cmocka_unit_test(test_wildcard),
	    cmocka_unit_test(test_ent_blocks_wildcard),
	    cmocka_unit_test(test_referral),
	    cmocka_unit_test(test_ds_at_delegation),
	    cmocka_unit_test(test_dname),
	    cmocka_unit_test(test_mx_additional),
	    cmocka_unit_test(test_any),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_zone_allow),
	    cmocka_unit_test(test_class),
	    cmocka_unit_test(test_chaos),
	    cmocka_unit_test(test_edns),
	    cmocka_unit_test(test_opcode_and_meta),
	    cmocka_unit_test(test_truncation),
	    cmocka_unit_test(test_question_case),
	    cmocka_unit_test(test_synthesized_ptr),
	    cmocka_unit_test(test_ready_answers),
	    cmocka_unit_test(test_stats),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, setup, teardown);
}
