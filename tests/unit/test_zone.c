/* Unit tests of zones/zone: master file loading, checks, lookup structure, builder. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zones/dns.h"
#include "zones/zone.h"

/* A minimal valid zone head, lines 1-5. */
#define HEAD                                            \
	"$ORIGIN example.test.\n"                       \
	"$TTL 300\n"                                    \
	"@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n" \
	"  IN NS ns1\n"                                 \
	"ns1 IN A 192.0.2.1\n"

static char tmpdir[64];

static const char *path_of(const char *name)
{
	static char paths[8][512];
	static int next;
	char *p = paths[next++ % 8];

	snprintf(p, 512, "%s/%.255s", tmpdir, name);
	return p;
}

static const char *write_file(const char *name, const char *content)
{
	const char *path = path_of(name);
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(content, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	return path;
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vpcdns-zone-XXXXXX");
	return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;

	(void)state;
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlink(path_of(e->d_name));
	closedir(d);
	return rmdir(tmpdir);
}

/* Looks up a presentation name. */
static const struct zone_node *find(const struct zone *z, const char *name)
{
	uint8_t wire[DNS_MAX_NAME];
	size_t len = zone_name_to_wire(name, wire);

	assert_true(len > 0);
	return zone_find(z, wire, len);
}

static const struct zone_node *must_find(const struct zone *z, const char *name)
{
	const struct zone_node *n = find(z, name);

	if (n == NULL)
		fail_msg("no node for %s", name);
	return n;
}

static void name_text(const uint8_t *wire, char *out, size_t len)
{
	zone_name_to_text(wire, out, len);
}

static const char MAIN_ZONE[] = "; the main test zone\n"
				"$ORIGIN example.test.\n"
				"$TTL 300\n"
				"@       IN SOA ns1 hostmaster ( 2024010101 ; serial\n"
				"                3600 600 86400 120 )\n"
				"        IN NS  ns1\n"
				"        IN NS  ns2.example.test.\n"
				"        IN NS  ns.elsewhere.org.\n"
				"        IN MX  10 mail\n"
				"ns1     IN A   192.0.2.1\n"
				"ns2     IN A   192.0.2.2\n"
				"mail    IN A   192.0.2.25\n"
				"Mail    IN AAAA 2001:db8::25\n"
				"WWW.Sub IN A   192.0.2.80\n"
				"www.SUB IN A   192.0.2.80\n"
				"www.sub 60 IN A 192.0.2.81\n"
				"_sip._tcp IN SRV 0 5 5060 sip\n"
				"sip     IN A   192.0.2.5\n"
				"*.wild  IN A   192.0.2.99\n"
				"deleg   IN NS  ns.deleg\n"
				"deleg   IN NS  ns.outside.org.\n"
				"ns.deleg IN A  192.0.2.53\n"
				"a.b.deleg IN A 192.0.2.54\n"
				"old     IN DNAME new.example.test.\n"
				"alias   IN CNAME www.sub\n"
				"$INCLUDE inc.zone\n"
				"after   IN A   192.0.2.100\n"
				"$INCLUDE inc2.zone sub2.example.test.\n"
				"last    IN TXT \"end\"\n";

static const char INC_ZONE[] = "$ORIGIN inc.example.test.\n"
			       "$TTL 60\n"
			       "host  A 192.0.2.7\n";

static const char INC2_ZONE[] = "x IN A 192.0.2.8\n";

static struct zone *load_main(const char **path)
{
	char err[512] = "";
	struct zone *z;

	write_file("inc.zone", INC_ZONE);
	write_file("inc2.zone", INC2_ZONE);
	*path = write_file("main.zone", MAIN_ZONE);
	z = zone_load("Example.Test", *path, err, sizeof(err));
	if (z == NULL)
		fail_msg("zone_load failed: %s", err);
	return z;
}

static void test_load_basics(void **state)
{
	const char *path;
	struct zone *z = load_main(&path);
	size_t len;
	const uint8_t *apex = zone_apex(z, &len);

	(void)state;
	/*
	 * SOA, 3 NS, MX, 3 A + 1 AAAA (ns1, ns2, mail), 2 A at www.sub (one
	 * duplicate dropped), SRV, A sip, A *.wild, 2 NS + 2 A under deleg, DNAME,
	 * CNAME, host.inc, after, x.sub2, TXT last.
	 */
	assert_int_equal(zone_record_count(z),
			 1 + 3 + 1 + 4 + 2 + 1 + 1 + 1 + 4 + 1 + 1 + 1 + 1 + 1 + 1);
	assert_int_equal(zone_serial(z), 2024010101u);
	assert_int_equal(len, 14);
	assert_memory_equal(apex, "\7example\4test", 14);
	assert_int_equal(zone_apex_labels(z), 2);
	assert_string_equal(zone_file(z), path);
	assert_non_null(zone_name(z));
	assert_true(strcasecmp(zone_name(z), "example.test") == 0);

	const struct zone_node *a = zone_apex_node(z);
	assert_non_null(a);
	assert_ptr_equal(a, must_find(z, "example.test"));
	assert_true(a->flags & ZONE_NODE_APEX);
	assert_false(a->flags & ZONE_NODE_CUT);
	assert_null(a->parent);
	assert_int_equal(a->labels, 2);
	const struct zone_rrset *soa = zone_node_rrset(a, DNS_TYPE_SOA);
	assert_non_null(soa);
	assert_int_equal(soa->count, 1);
	assert_int_equal(soa->ttl, 300);
	assert_int_equal(zone_node_rrset(a, DNS_TYPE_NS)->count, 3);
	assert_null(zone_node_rrset(a, DNS_TYPE_A));
	zone_unref(z);
}

static void test_load_nodes(void **state)
{
	const char *path;
	struct zone *z = load_main(&path);
	const struct zone_node *n, *sub;
	const struct zone_rrset *set;
	char text[256];

	(void)state;
	/* Mixed-case owners are stored lower-cased; the duplicate is collapsed. */
	n = must_find(z, "www.sub.example.test");
	assert_memory_equal(n->name, "\3www\3sub\7example\4test", 22);
	assert_int_equal(n->name_len, 22);
	assert_int_equal(n->labels, 4);
	assert_int_equal(n->hash, dns_name_hash(n->name, n->name_len));
	assert_int_equal(n->nrrsets, 1);
	set = zone_node_rrset(n, DNS_TYPE_A);
	assert_non_null(set);
	assert_int_equal(set->count, 2);
	assert_int_equal(set->ttl, 60); /* the lowest TTL of the RRset */
	assert_int_equal(set->rdata[0]->len, 4);
	assert_true((memcmp(set->rdata[0]->data, "\xc0\0\2\x50", 4) == 0 &&
		     memcmp(set->rdata[1]->data, "\xc0\0\2\x51", 4) == 0) ||
		    (memcmp(set->rdata[1]->data, "\xc0\0\2\x50", 4) == 0 &&
		     memcmp(set->rdata[0]->data, "\xc0\0\2\x51", 4) == 0));
	assert_null(set->rdata[0]->additional);
	assert_null(set->rdata[0]->acl);
	assert_null(zone_node_rrset(n, DNS_TYPE_AAAA));

	/* An upper-case wire name is not found: callers lower-case first. */
	assert_null(zone_find(z, (const uint8_t *)"\3WWW\3sub\7example\4test", 22));

	/* "sub" exists only as an empty non-terminal. */
	sub = must_find(z, "sub.example.test");
	assert_int_equal(sub->nrrsets, 0);
	assert_ptr_equal(n->parent, sub);
	assert_ptr_equal(sub->parent, zone_apex_node(z));
	assert_int_equal(sub->flags & (ZONE_NODE_CUT | ZONE_NODE_GLUE | ZONE_NODE_APEX), 0);
	/* So are _tcp and b.deleg. */
	assert_int_equal(must_find(z, "_tcp.example.test")->nrrsets, 0);
	assert_int_equal(must_find(z, "wild.example.test")->nrrsets, 0);

	/* Names that do not exist. */
	assert_null(find(z, "nope.example.test"));
	assert_null(find(z, "www.example.test"));
	assert_null(find(z, "example.org"));

	/* mail has A and AAAA (the AAAA owner was "Mail"). */
	n = must_find(z, "mail.example.test");
	assert_int_equal(n->nrrsets, 2);
	assert_non_null(zone_node_rrset(n, DNS_TYPE_A));
	assert_non_null(zone_node_rrset(n, DNS_TYPE_AAAA));

	/* CNAME and DNAME. */
	n = must_find(z, "alias.example.test");
	set = zone_node_rrset(n, DNS_TYPE_CNAME);
	assert_non_null(set);
	name_text(set->rdata[0]->data, text, sizeof(text));
	assert_string_equal(text, "www.sub.example.test.");
	n = must_find(z, "old.example.test");
	assert_true(n->flags & ZONE_NODE_DNAME);
	assert_non_null(zone_node_rrset(n, DNS_TYPE_DNAME));
	assert_false(must_find(z, "alias.example.test")->flags & ZONE_NODE_DNAME);
	zone_unref(z);
}

/* RFC 2181 5.2 as zones/zone_builder.c applies it: an RRset gets the lowest TTL of its records. */
static void test_duplicate_lower_ttl(void **state)
{
	char err[512] = "";
	const char *path = write_file("dupttl.zone", HEAD "dup IN A 192.0.2.9\n"
							  "dup 60 IN A 192.0.2.9\n"
							  "two IN A 192.0.2.9\n"
							  "two 60 IN A 192.0.2.10\n");
	struct zone *z = zone_load("example.test", path, err, sizeof(err));
	const struct zone_rrset *set;
	uint32_t ttl;

	(void)state;
	if (z == NULL)
		fail_msg("zone_load failed: %s", err);
	set = zone_node_rrset(must_find(z, "two.example.test"), DNS_TYPE_A);
	assert_int_equal(set->count, 2);
	assert_int_equal(set->ttl, 60);
	set = zone_node_rrset(must_find(z, "dup.example.test"), DNS_TYPE_A);
	assert_int_equal(set->count, 1);
	ttl = set->ttl;
	zone_unref(z);
	/* The duplicate with TTL 60 is dropped, but its TTL must still count. */
	assert_int_equal(ttl, 60);
}

static void test_load_directives(void **state)
{
	const char *path;
	struct zone *z = load_main(&path);
	const struct zone_node *n;
	const struct zone_rrset *set;

	(void)state;
	/* Names in the included file are relative to its own $ORIGIN, with its $TTL. */
	n = must_find(z, "host.inc.example.test");
	set = zone_node_rrset(n, DNS_TYPE_A);
	assert_non_null(set);
	assert_int_equal(set->ttl, 60);
	assert_memory_equal(set->rdata[0]->data, "\xc0\0\2\7", 4);
	/* After $INCLUDE the including file's $ORIGIN and $TTL apply again. */
	n = must_find(z, "after.example.test");
	set = zone_node_rrset(n, DNS_TYPE_A);
	assert_non_null(set);
	assert_int_equal(set->ttl, 300);
	assert_null(find(z, "after.inc.example.test"));
	/* $INCLUDE with an origin. */
	n = must_find(z, "x.sub2.example.test");
	assert_non_null(zone_node_rrset(n, DNS_TYPE_A));
	assert_null(find(z, "x.example.test"));
	n = must_find(z, "last.example.test");
	set = zone_node_rrset(n, DNS_TYPE_TXT);
	assert_non_null(set);
	assert_int_equal(set->ttl, 300);
	assert_memory_equal(set->rdata[0]->data, "\3end", 4);
	/* Relative names in rdata are completed with the origin. */
	n = zone_apex_node(z);
	set = zone_node_rrset(n, DNS_TYPE_MX);
	assert_non_null(set);
	assert_int_equal(set->rdata[0]->len, 2 + 19);
	assert_memory_equal(set->rdata[0]->data, "\0\12\4mail\7example\4test", 21);
	zone_unref(z);
}

static void test_load_cuts(void **state)
{
	const char *path;
	struct zone *z = load_main(&path);
	const struct zone_node *deleg, *glue, *deep, *b;

	(void)state;
	deleg = must_find(z, "deleg.example.test");
	assert_true(deleg->flags & ZONE_NODE_CUT);
	assert_false(deleg->flags & ZONE_NODE_GLUE);
	assert_int_equal(zone_node_rrset(deleg, DNS_TYPE_NS)->count, 2);
	glue = must_find(z, "ns.deleg.example.test");
	assert_true(glue->flags & ZONE_NODE_GLUE);
	assert_false(glue->flags & ZONE_NODE_CUT);
	deep = must_find(z, "a.b.deleg.example.test");
	assert_true(deep->flags & ZONE_NODE_GLUE);
	b = must_find(z, "b.deleg.example.test");
	assert_int_equal(b->nrrsets, 0);
	assert_true(b->flags & ZONE_NODE_GLUE);
	/* Not below a cut. */
	assert_false(must_find(z, "ns1.example.test")->flags & (ZONE_NODE_GLUE | ZONE_NODE_CUT));
	assert_false(zone_apex_node(z)->flags & (ZONE_NODE_GLUE | ZONE_NODE_CUT));
	zone_unref(z);
}

static void test_load_wildcard(void **state)
{
	const char *path;
	struct zone *z = load_main(&path);
	const struct zone_node *wild, *star;

	(void)state;
	wild = must_find(z, "wild.example.test");
	star = must_find(z, "*.wild.example.test");
	assert_ptr_equal(wild->wildcard, star);
	assert_ptr_equal(star->parent, wild);
	assert_non_null(zone_node_rrset(star, DNS_TYPE_A));
	assert_null(zone_apex_node(z)->wildcard);
	assert_null(must_find(z, "sub.example.test")->wildcard);
	assert_null(star->wildcard);
	zone_unref(z);
}

/* zone.h: ZONE_NODE_WILDCARD "has a child named *". */
static void test_load_wildcard_flag(void **state)
{
	const char *path;
	struct zone *z = load_main(&path);
	uint8_t apex_flags = zone_apex_node(z)->flags;
	uint8_t wild_flags = must_find(z, "wild.example.test")->flags;

	(void)state;
	zone_unref(z);
	assert_false(apex_flags & ZONE_NODE_WILDCARD);
	assert_true(wild_flags & ZONE_NODE_WILDCARD);
}

static void test_load_additional(void **state)
{
	const char *path;
	struct zone *z = load_main(&path);
	const struct zone_node *apex = NULL, *ns1, *ns2, *mail, *sip, *glue;
	const struct zone_rrset *set;
	int seen = 0;

	(void)state;
	apex = zone_apex_node(z);
	ns1 = must_find(z, "ns1.example.test");
	ns2 = must_find(z, "ns2.example.test");
	mail = must_find(z, "mail.example.test");
	sip = must_find(z, "sip.example.test");
	glue = must_find(z, "ns.deleg.example.test");

	set = zone_node_rrset(apex, DNS_TYPE_NS);
	for (size_t i = 0; i < set->count; i++) {
		char text[256];
		name_text(set->rdata[i]->data, text, sizeof(text));
		if (strcmp(text, "ns1.example.test.") == 0) {
			assert_ptr_equal(set->rdata[i]->additional, ns1);
			seen |= 1;
		} else if (strcmp(text, "ns2.example.test.") == 0) {
			assert_ptr_equal(set->rdata[i]->additional, ns2);
			seen |= 2;
		} else {
			assert_string_equal(text, "ns.elsewhere.org.");
			assert_null(set->rdata[i]->additional);
			seen |= 4;
		}
	}
	assert_int_equal(seen, 7);
	set = zone_node_rrset(apex, DNS_TYPE_MX);
	assert_ptr_equal(set->rdata[0]->additional, mail);
	set = zone_node_rrset(must_find(z, "_sip._tcp.example.test"), DNS_TYPE_SRV);
	assert_non_null(set);
	assert_ptr_equal(set->rdata[0]->additional, sip);
	set = zone_node_rrset(must_find(z, "deleg.example.test"), DNS_TYPE_NS);
	seen = 0;
	for (size_t i = 0; i < set->count; i++) {
		if (set->rdata[i]->additional == glue)
			seen |= 1;
		else if (set->rdata[i]->additional == NULL)
			seen |= 2;
	}
	assert_int_equal(seen, 3);
	/* CNAME targets get no additional pointer. */
	set = zone_node_rrset(must_find(z, "alias.example.test"), DNS_TYPE_CNAME);
	assert_null(set->rdata[0]->additional);
	zone_unref(z);
}

static void test_refs(void **state)
{
	const char *path;
	struct zone *z = load_main(&path);

	(void)state;
	assert_ptr_equal(zone_ref(z), z);
	zone_unref(z);
	/* Still usable after dropping the extra reference. */
	assert_non_null(find(z, "ns1.example.test"));
	zone_unref(z);
	zone_unref(NULL);
}

static void count_node(const struct zone_node *n, void *arg)
{
	size_t *count = arg;
	assert_non_null(n->name);
	(*count)++;
}

static void test_foreach(void **state)
{
	const char *path;
	struct zone *z = load_main(&path);
	size_t count = 0;

	(void)state;
	zone_foreach(z, count_node, &count);
	/*
	 * apex, ns1, ns2, mail, sub, www.sub, _tcp, _sip._tcp, sip, wild, *.wild,
	 * deleg, ns.deleg, b.deleg, a.b.deleg, old, alias, inc, host.inc, after,
	 * sub2, x.sub2, last.
	 */
	assert_int_equal(count, 23);
	zone_unref(z);
}

static void expect_zone_error(const char *content, int line, const char *what)
{
	char err[1024] = "", where[600];
	const char *path = write_file("bad.zone", content);
	struct zone *z = zone_load("example.test", path, err, sizeof(err));

	if (z != NULL) {
		zone_unref(z);
		fail_msg("zone with a %s error was loaded", what);
	}
	if (line > 0)
		snprintf(where, sizeof(where), "%s:%d:", path, line);
	else
		snprintf(where, sizeof(where), "%s", path);
	if (strstr(err, where) == NULL)
		fail_msg("expected \"%s\" in the error, got \"%s\"", where, err);
	if (strstr(err, what) == NULL)
		fail_msg("expected \"%s\" in the error, got \"%s\"", what, err);
}

static void test_error_cname(void **state)
{
	(void)state;
	/* Lines 1-5 are HEAD. */
	expect_zone_error(HEAD "foo IN CNAME www\n"
			       "bar IN A 192.0.2.3\n"
			       "foo IN A 192.0.2.2\n",
			  6, "CNAME");
	expect_zone_error(HEAD "bar IN A 192.0.2.3\n"
			       "foo IN TXT \"x\"\n"
			       "foo IN CNAME www\n",
			  8, "CNAME");
	/* Two CNAMEs: the error names one of their lines. */
	char err[1024] = "", l6[600], l7[600];
	const char *path = write_file("bad.zone", HEAD "foo IN CNAME a\n"
						       "foo IN CNAME b\n");
	assert_null(zone_load("example.test", path, err, sizeof(err)));
	snprintf(l6, sizeof(l6), "%s:6:", path);
	snprintf(l7, sizeof(l7), "%s:7:", path);
	if (strstr(err, l6) == NULL && strstr(err, l7) == NULL)
		fail_msg("two CNAMEs: expected line 6 or 7, got \"%s\"", err);
	assert_non_null(strstr(err, "CNAME"));
	/* A CNAME at the apex is beside the SOA. */
	expect_zone_error(HEAD "@ IN CNAME elsewhere.org.\n", 6, "CNAME");
}

static void test_error_outside(void **state)
{
	(void)state;
	expect_zone_error(HEAD "\nhost.example.org. IN A 192.0.2.9\n", 7, "outside");
	expect_zone_error(HEAD "test. IN A 192.0.2.9\n", 6, "outside");
	expect_zone_error(HEAD "$ORIGIN other.test.\nx IN A 192.0.2.9\n", 7, "outside");
	/* badexample.test is not below example.test. */
	expect_zone_error(HEAD "badexample.test. IN A 192.0.2.9\n", 6, "outside");
}

static void test_error_soa_not_apex(void **state)
{
	(void)state;
	expect_zone_error(HEAD "sub IN SOA ns1 hostmaster 1 3600 600 86400 60\n", 6, "SOA");
}

static void test_error_missing_soa_ns(void **state)
{
	(void)state;
	expect_zone_error("$ORIGIN example.test.\n"
			  "@ IN NS ns1\n"
			  "ns1 IN A 192.0.2.1\n",
			  0, "SOA");
	expect_zone_error("$ORIGIN example.test.\n"
			  "ns1 IN A 192.0.2.1\n",
			  0, "SOA");
	expect_zone_error("", 0, "SOA");
	expect_zone_error("$ORIGIN example.test.\n"
			  "@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n"
			  "ns1 IN A 192.0.2.1\n",
			  0, "NS");
	expect_zone_error("$ORIGIN example.test.\n"
			  "@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n"
			  "@ IN SOA ns1 hostmaster 2 3600 600 86400 60\n"
			  "@ IN NS ns1\n",
			  0, "SOA");
}

static void test_error_syntax_line(void **state)
{
	(void)state;
	expect_zone_error(HEAD "ok IN A 192.0.2.4\n"
			       "bad IN A 300.1.1.1\n"
			       "ok2 IN A 192.0.2.5\n",
			  7, "bad.zone");
	/* After a record spanning lines with parentheses. */
	expect_zone_error("$ORIGIN example.test.\n"
			  "$TTL 300\n"
			  "@ IN SOA ns1 hostmaster (\n"
			  "     1 ; serial\n"
			  "     3600 600 86400 60 )\n"
			  "  IN NS ns1\n"
			  "\n"
			  "; comment\n"
			  "x IN BOGUSTYPE foo\n",
			  9, "bad.zone");
	expect_zone_error(HEAD "x IN MX mail\n", 6, "bad.zone");
	/* An error in an included file names that file and its line. */
	const char *inc = write_file("badinc.zone", "a IN A 192.0.2.1\n"
						    "b IN AAAA not-an-address\n");
	char err[1024] = "", where[600];
	const char *path = write_file("bad.zone", HEAD "$INCLUDE badinc.zone\n");
	assert_null(zone_load("example.test", path, err, sizeof(err)));
	snprintf(where, sizeof(where), "%s:2:", inc);
	if (strstr(err, where) == NULL)
		fail_msg("expected \"%s\" in the error, got \"%s\"", where, err);
}

static void test_error_missing_file(void **state)
{
	char err[512] = "";
	const char *path = path_of("does-not-exist.zone");

	(void)state;
	assert_null(zone_load("example.test", path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	/* A missing $INCLUDE file too. */
	path = write_file("bad.zone", HEAD "$INCLUDE nothere.zone\n");
	assert_null(zone_load("example.test", path, err, sizeof(err)));
	assert_non_null(strstr(err, "nothere.zone"));
}

/* Every record of a master file, the fast reader's and ldns's, must be the same. */
static const char FAST_ZONE[] =
    "$ORIGIN example.test.\n"
    "$TTL 300\n"
    "@ IN SOA ns1 hostmaster ( 2024010101 ; serial\n"
    "        3600 600 86400 60 )\n"
    "  IN NS ns1\n"
    "@ NS ns2.example.test.\n"
    "ns1 IN A 192.0.2.1\n"
    "ns1 AAAA 2001:db8::1\n"
    "ns2 600 IN A 192.0.2.2\n"
    "ns2 IN 600 AAAA 2001:db8::2\n"
    "Mixed.Case 60 A 192.0.2.3\n"
    "\tIN TXT \"owner from the line before\"\n"
    "mx IN MX 10 mail.elsewhere.org.\n"
    "mx IN MX 20 @\n"
    "mx in mx 30 Mail\n"
    "_sip._tcp IN SRV 0 5 5060 sip\n"
    "sip IN A 192.0.2.5\n"
    "txt IN TXT plain words \"and quoted\" \"\"\n"
    "txt IN TXT \"semi;colon\"\n" /* ldns: ';' in quotes */
    "ptr IN PTR host.example.test.\n"
    "cname IN CNAME www.Example.Test.\n"
    "abs.example.test. IN A 192.0.2.9\n"
    "esc\\.dot IN A 192.0.2.10\n"       /* ldns: an escape */
    "hinfo IN HINFO \"cpu\" \"os\"\n"   /* ldns: another type */
    "unit 1h IN A 192.0.2.11\n"         /* ldns: a TTL with a unit */
    "generic IN TYPE65534 \\# 2 abcd\n" /* ldns: RFC 3597 */
    "crlf IN A 192.0.2.15\r\n"
    "$ORIGIN sub.example.test.\n"
    "  IN A 192.0.2.12\n"
    "www IN A 192.0.2.13\n"
    "@ IN TXT \"sub apex\"\n"
    "srv2 IN SRV 1 2 3 .\n"
    "$TTL 1d\n"
    "ttl IN A 192.0.2.14\n"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa IN A 192.0.2.16\n"
    "last IN AAAA ::ffff:192.0.2.17"; /* no newline at the end */
#define FAST_ZONE_LDNS 5              /* records above the fast reader leaves to ldns */

struct compare {
	const struct zone *other;
	size_t nodes;
};

static void compare_node(const struct zone_node *n, void *arg)
{
	struct compare *c = arg;
	const struct zone_node *m = zone_find(c->other, n->name, n->name_len);
	char text[1024];

	zone_name_to_text(n->name, text, sizeof(text));
	if (m == NULL)
		fail_msg("%s: only in one zone", text);
	c->nodes++;
	assert_int_equal(n->nrrsets, m->nrrsets);
	assert_int_equal(n->flags, m->flags);
	assert_int_equal(n->labels, m->labels);
	for (size_t s = 0; s < n->nrrsets; s++) {
		const struct zone_rrset *a = &n->rrsets[s], *b = &m->rrsets[s];
		assert_int_equal(a->type, b->type);
		assert_int_equal(a->ttl, b->ttl);
		if (a->count != b->count)
			fail_msg("%s type %u: %u and %u records", text, a->type, a->count,
				 b->count);
		for (size_t i = 0; i < a->count; i++) {
			assert_int_equal(a->rdata[i]->len, b->rdata[i]->len);
			if (memcmp(a->rdata[i]->data, b->rdata[i]->data, a->rdata[i]->len) != 0)
				fail_msg("%s type %u: rdata %zu differs", text, a->type, i);
		}
	}
}

static struct zone *load_counting(const char *path, bool ldns_only, unsigned long *by_ldns)
{
	char err[1024] = "";
	unsigned long before = zone_reader_ldns_records;
	struct zone *z;

	zone_reader_ldns_only = ldns_only;
	z = zone_load("example.test", path, err, sizeof(err));
	zone_reader_ldns_only = false;
	if (z == NULL)
		fail_msg("zone_load (%s) failed: %s", ldns_only ? "ldns" : "fast", err);
	*by_ldns = zone_reader_ldns_records - before;
	return z;
}

static void test_fast_reader_matches_ldns(void **state)
{
	const char *path = write_file("fast.zone", FAST_ZONE);
	unsigned long fast_ldns, ref_ldns;
	struct zone *fast = load_counting(path, false, &fast_ldns);
	struct zone *ref = load_counting(path, true, &ref_ldns);
	struct compare c = {ref, 0};
	const struct zone_rrset *set;
	size_t ref_nodes = 0;

	(void)state;
	assert_int_equal(fast_ldns, FAST_ZONE_LDNS);
	assert_int_equal(ref_ldns, zone_record_count(ref));
	assert_int_equal(zone_record_count(fast), zone_record_count(ref));
	zone_foreach(fast, compare_node, &c);
	zone_foreach(ref, count_node, &ref_nodes);
	assert_int_equal(c.nodes, ref_nodes);

	/* And the values themselves, where the fast reader had to get a rule right. */
	set = zone_node_rrset(must_find(fast, "mixed.case.example.test"), DNS_TYPE_TXT);
	assert_non_null(set); /* a blank owner is the previous record's */
	set = zone_node_rrset(must_find(fast, "ns2.example.test"), DNS_TYPE_AAAA);
	assert_int_equal(set->ttl, 600); /* class before TTL */
	set = zone_node_rrset(must_find(fast, "cname.example.test"), DNS_TYPE_CNAME);
	assert_memory_equal(set->rdata[0]->data, "\3www\7Example\4Test", 18); /* case kept */
	set = zone_node_rrset(must_find(fast, "mx.example.test"), DNS_TYPE_MX);
	assert_int_equal(set->count, 3);
	set = zone_node_rrset(must_find(fast, "txt.example.test"), DNS_TYPE_TXT);
	assert_non_null(set);
	assert_true((set->rdata[0]->len == 24 &&
		     memcmp(set->rdata[0]->data, "\5plain\5words\12and quoted\0", 24) == 0) ||
		    (set->rdata[1]->len == 24 &&
		     memcmp(set->rdata[1]->data, "\5plain\5words\12and quoted\0", 24) == 0));
	/* After $ORIGIN a blank owner is still the previous one, as ldns reads it. */
	set = zone_node_rrset(must_find(fast, "crlf.example.test"), DNS_TYPE_A);
	assert_int_equal(set->count, 2);
	set = zone_node_rrset(must_find(fast, "ttl.sub.example.test"), DNS_TYPE_A);
	assert_int_equal(set->ttl, 86400);
	set = zone_node_rrset(must_find(fast, "srv2.sub.example.test"), DNS_TYPE_SRV);
	assert_memory_equal(set->rdata[0]->data, "\0\1\0\2\0\3\0", 7);
	assert_non_null(find(fast, "last.sub.example.test"));
	zone_unref(fast);
	zone_unref(ref);
}

/* A zone the size of the benchmark's, a little: no record of it goes to ldns. */
static void test_fast_reader_plain_zone(void **state)
{
	static char text[64 * 1024];
	size_t n = 0;
	unsigned long by_ldns, ref_ldns;
	struct zone *fast, *ref;
	struct compare c;

	(void)state;
	n += (size_t)snprintf(text + n, sizeof(text) - n, HEAD);
	for (int i = 0; i < 400; i++) {
		if (i % 4 == 3) {
			n += (size_t)snprintf(text + n, sizeof(text) - n, "h%d IN CNAME h%d\n", i,
					      i - 3);
			continue;
		}
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "h%d IN A 10.0.%d.%d\nh%d IN AAAA fd00::%x\n"
				      "h%d IN TXT \"v=bench host %d\"\nh%d IN SRV 10 5 443 h%d\n",
				      i, i / 256, i % 256, i, i, i, i, i, i);
	}
	fast = load_counting(write_file("plain.zone", text), false, &by_ldns);
	ref = load_counting(path_of("plain.zone"), true, &ref_ldns);
	assert_int_equal(by_ldns, 0);
	c.other = ref;
	c.nodes = 0;
	zone_foreach(fast, compare_node, &c);
	assert_int_equal(zone_record_count(fast), zone_record_count(ref));
	zone_unref(fast);
	zone_unref(ref);
}

/* Malformed records the fast reader would take if they were right: file:line as before. */
static void test_error_fast_path(void **state)
{
	char big[400], zone[1024];

	(void)state;
	/* Lines 1-5 are HEAD. */
	expect_zone_error(HEAD "x IN A 192.0.2.1 extra\n", 6, "bad.zone");
	expect_zone_error(HEAD "x IN A 192.0.2\n", 6, "bad.zone");
	expect_zone_error(HEAD "x IN AAAA 2001:db8::zz\n", 6, "bad.zone");
	expect_zone_error(HEAD "x IN SRV 1 2 host\n", 6, "bad.zone");
	expect_zone_error(HEAD "x IN MX 10\n", 6, "bad.zone");
	expect_zone_error(HEAD "x IN SOA ns1 host 1 2 3 4\n", 6, "bad.zone");
	expect_zone_error(HEAD "x IN CNAME a..b\n", 6, "bad.zone");
	expect_zone_error(HEAD "x IN NS\n", 6, "bad.zone");
	expect_zone_error(HEAD "x CH A 192.0.2.1\n", 6, "class is not IN");
	expect_zone_error(HEAD "x IN TXT \"unterminated\nnext IN A 192.0.2.1\n", 6,
			  "quoted string not closed");
	/* A label of 64 characters; a name of 5 labels of 59 (more than 255 bytes). */
	memset(big, 'a', 64);
	big[64] = '\0';
	snprintf(zone, sizeof(zone), HEAD "%s IN A 192.0.2.1\n", big);
	expect_zone_error(zone, 6, "bad.zone");
	memset(big, 'a', 5 * 60);
	for (int i = 1; i < 5; i++)
		big[i * 60 - 1] = '.';
	big[5 * 60 - 1] = '\0';
	snprintf(zone, sizeof(zone), HEAD "%s IN A 192.0.2.1\n", big);
	expect_zone_error(zone, 6, "bad.zone");
	/* A character string of 256 bytes. */
	memset(big, 'a', 256);
	big[256] = '\0';
	snprintf(zone, sizeof(zone), HEAD "x IN TXT \"%s\"\n", big);
	expect_zone_error(zone, 6, "bad.zone");
	/* After a line the full reader took (a comment), the line count still holds. */
	expect_zone_error(HEAD "a IN A 192.0.2.1 ; comment\n"
			       "\n"
			       "b IN A 192.0.2.300\n",
			  8, "bad.zone");
	/* Outside the zone, and a CNAME beside other data, found by the fast reader. */
	expect_zone_error(HEAD "a.example.org. IN AAAA 2001:db8::1\n", 6, "outside");
	expect_zone_error(HEAD "a IN A 192.0.2.1\na IN CNAME b\n", 7, "CNAME");
}

static void test_files_unchanged(void **state)
{
	char err[512] = "";
	const char *path = write_file("watch.zone", HEAD "$INCLUDE watch-inc.zone\n");
	const char *inc = write_file("watch-inc.zone", "w IN A 192.0.2.77\n");
	struct zone *z;
	struct timespec ts[2];

	(void)state;
	z = zone_load("example.test", path, err, sizeof(err));
	if (z == NULL)
		fail_msg("zone_load failed: %s", err);
	assert_true(zone_files_unchanged(z));
	assert_true(zone_files_unchanged(z));

	/* The same bytes with a new mtime. */
	ts[0].tv_sec = ts[1].tv_sec = 1000000000;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	assert_false(zone_files_unchanged(z));
	zone_unref(z);

	/* A reload sees the file as it is now. */
	z = zone_load("example.test", path, err, sizeof(err));
	assert_non_null(z);
	assert_true(zone_files_unchanged(z));
	/* The included file rewritten (other content, other size). */
	write_file("watch-inc.zone", "w IN A 192.0.2.78\nv IN A 192.0.2.79\n");
	assert_false(zone_files_unchanged(z));
	zone_unref(z);

	z = zone_load("example.test", path, err, sizeof(err));
	assert_non_null(z);
	assert_true(zone_files_unchanged(z));
	/* The main file rewritten. */
	write_file("watch.zone", HEAD "$INCLUDE watch-inc.zone\nq IN A 192.0.2.80\n");
	assert_false(zone_files_unchanged(z));
	zone_unref(z);

	z = zone_load("example.test", path, err, sizeof(err));
	assert_non_null(z);
	/* Removed. */
	assert_int_equal(unlink(inc), 0);
	assert_false(zone_files_unchanged(z));
	zone_unref(z);
}

static size_t make_soa(uint8_t *out, uint32_t serial)
{
	static const uint8_t names[] = "\3ns1\5built\4test\0\4host\5built\4test";
	size_t n = sizeof(names);
	const uint32_t f[5] = {serial, 3600, 600, 86400, 30};

	memcpy(out, names, n);
	for (int i = 0; i < 5; i++, n += 4)
		dns_put32(out + n, f[i]);
	return n;
}

static void test_builder(void **state)
{
	static const uint8_t apex[] = "\5built\4test";
	static const uint8_t ns1[] = "\3ns1\5built\4test";
	static const uint8_t www[] = "\3www\5built\4test";
	uint8_t soa[128];
	size_t soalen = make_soa(soa, 77);
	char err[512] = "", bad[32];
	struct acl *acl = acl_parse("10.0.0.0/8", bad, sizeof(bad));
	struct zone_builder *b = zone_builder_new("built.test");
	struct zone *z;
	const struct zone_node *n;
	const struct zone_rrset *set;

	(void)state;
	assert_non_null(acl);
	assert_non_null(b);
	assert_int_equal(zone_builder_add(b, apex, DNS_TYPE_SOA, 300, soa, (uint16_t)soalen, NULL),
			 0);
	assert_int_equal(zone_builder_add(b, apex, DNS_TYPE_NS, 300, ns1, sizeof(ns1), NULL), 0);
	assert_int_equal(
	    zone_builder_add(b, ns1, DNS_TYPE_A, 60, (const uint8_t *)"\xc0\0\2\1", 4, NULL), 0);
	assert_int_equal(
	    zone_builder_add(b, www, DNS_TYPE_A, 60, (const uint8_t *)"\xc0\0\2\2", 4, acl), 0);
	assert_int_equal(zone_builder_add(b, (const uint8_t *)"\3www\5other\4test", DNS_TYPE_A, 60,
					  (const uint8_t *)"\xc0\0\2\3", 4, NULL),
			 -1);
	assert_int_equal(zone_builder_add(b, (const uint8_t *)"\4test", DNS_TYPE_A, 60,
					  (const uint8_t *)"\xc0\0\2\3", 4, NULL),
			 -1);
	z = zone_builder_finish(b, err, sizeof(err));
	if (z == NULL)
		fail_msg("zone_builder_finish failed: %s", err);
	assert_int_equal(zone_record_count(z), 4);
	assert_int_equal(zone_serial(z), 77);
	assert_null(zone_file(z));
	assert_true(zone_apex_node(z)->flags & ZONE_NODE_APEX);
	n = must_find(z, "www.built.test");
	assert_memory_equal(n->name, "\3www\5built\4test", 16);
	set = zone_node_rrset(n, DNS_TYPE_A);
	assert_non_null(set);
	assert_ptr_equal(set->rdata[0]->acl, acl);
	set = zone_node_rrset(zone_apex_node(z), DNS_TYPE_NS);
	assert_ptr_equal(set->rdata[0]->additional, must_find(z, "ns1.built.test"));
	assert_false(zone_files_unchanged(z)); /* nothing was read from disk */
	zone_unref(z);
	free(acl);

	/* A file read into a builder, plus records made in code. */
	const char *path = write_file("built.zone", "$ORIGIN built.test.\n"
						    "@ IN SOA ns1 host 5 3600 600 86400 30\n"
						    "@ IN NS ns1\n"
						    "ns1 IN A 192.0.2.1\n");
	b = zone_builder_new("built.test");
	assert_int_equal(zone_builder_load_file(b, path, err, sizeof(err)), 0);
	assert_int_equal(zone_builder_add(b, (const uint8_t *)"\5extra\5built\4test", DNS_TYPE_TXT,
					  10, (const uint8_t *)"\2hi", 3, NULL),
			 0);
	z = zone_builder_finish(b, err, sizeof(err));
	assert_non_null(z);
	assert_int_equal(zone_record_count(z), 4);
	assert_int_equal(zone_serial(z), 5);
	assert_string_equal(zone_file(z), path);
	assert_true(zone_files_unchanged(z));
	assert_non_null(zone_node_rrset(must_find(z, "extra.built.test"), DNS_TYPE_TXT));
	zone_unref(z);

	/* Errors: no SOA; a bad file; a builder dropped unfinished. */
	b = zone_builder_new("built.test");
	assert_int_equal(zone_builder_add(b, apex, DNS_TYPE_NS, 300, ns1, sizeof(ns1), NULL), 0);
	assert_null(zone_builder_finish(b, err, sizeof(err)));
	assert_non_null(strstr(err, "SOA"));
	b = zone_builder_new("built.test");
	assert_int_equal(zone_builder_load_file(b, path_of("missing.zone"), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "missing.zone"));
	zone_builder_free(b);
	zone_builder_free(NULL);
	assert_null(zone_builder_new("bad..name"));
}

static void test_name_conversion(void **state)
{
	uint8_t wire[DNS_MAX_NAME];
	char text[300];
	char longlabel[80];

	(void)state;
	assert_int_equal(zone_name_to_wire("Example.TEST.", wire), 14);
	assert_memory_equal(wire, "\7example\4test", 14);
	assert_int_equal(zone_name_to_wire("example.test", wire), 14);
	assert_int_equal(zone_name_to_wire(".", wire), 1);
	assert_int_equal(wire[0], 0);
	assert_int_equal(zone_name_to_wire("a..b", wire), 0);
	memset(longlabel, 'a', 64);
	longlabel[64] = '\0';
	assert_int_equal(zone_name_to_wire(longlabel, wire), 0);
	longlabel[63] = '\0';
	assert_int_equal(zone_name_to_wire(longlabel, wire), 65);

	zone_name_to_text((const uint8_t *)"\3www\7example\4test", text, sizeof(text));
	assert_string_equal(text, "www.example.test.");
	zone_name_to_text((const uint8_t *)"", text, sizeof(text));
	assert_string_equal(text, ".");
	zone_name_to_text((const uint8_t *)"\3a.b\2c\\", text, sizeof(text));
	assert_string_equal(text, "a\\.b.c\\\\.");
	zone_name_to_text((const uint8_t *)"\3www\7example\4test", text, 6);
	assert_string_equal(text, "www.e");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load_basics),
	    cmocka_unit_test(test_load_nodes),
	    cmocka_unit_test(test_duplicate_lower_ttl),
	    cmocka_unit_test(test_load_directives),
	    cmocka_unit_test(test_load_cuts),
	    cmocka_unit_test(test_load_wildcard),
	    cmocka_unit_test(test_load_wildcard_flag),
	    cmocka_unit_test(test_load_additional),
	    cmocka_unit_test(test_refs),
	    cmocka_unit_test(test_foreach),
	    cmocka_unit_test(test_error_cname),
	    cmocka_unit_test(test_error_outside),
	    cmocka_unit_test(test_error_soa_not_apex),
	    cmocka_unit_test(test_error_missing_soa_ns),
	    cmocka_unit_test(test_error_syntax_line),
	    cmocka_unit_test(test_error_missing_file),
	    cmocka_unit_test(test_fast_reader_matches_ldns),
	    cmocka_unit_test(test_fast_reader_plain_zone),
	    cmocka_unit_test(test_error_fast_path),
	    cmocka_unit_test(test_files_unchanged),
	    cmocka_unit_test(test_builder),
	    cmocka_unit_test(test_name_conversion),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, setup, teardown);
}
