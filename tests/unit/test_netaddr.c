/* Unit tests of conf/netaddr: socket address parsing and CIDR access lists. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/netaddr.h"

/* A sockaddr for a literal address (v4 or v6), for acl_match. */
static struct sockaddr_storage addr_of(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':') != NULL) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &sin->sin_addr), 1);
	}
	return ss;
}

static bool matches(const struct acl *acl, const char *text)
{
	struct sockaddr_storage ss = addr_of(text);
	return acl_match(acl, (const struct sockaddr *)&ss);
}

static void check_v4(const char *text, const char *addr, uint16_t port)
{
	struct netaddr na;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&na.ss;
	char buf[INET_ADDRSTRLEN];

	assert_int_equal(netaddr_parse(text, 53, &na), 0);
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(na.len, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(sin->sin_port), port);
	assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)));
	assert_string_equal(buf, addr);
}

static void check_v6(const char *text, const char *addr, uint16_t port)
{
	struct netaddr na;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&na.ss;
	char buf[INET6_ADDRSTRLEN];

	assert_int_equal(netaddr_parse(text, 53, &na), 0);
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(na.len, sizeof(struct sockaddr_in6));
	assert_int_equal(ntohs(sin6->sin6_port), port);
	assert_non_null(inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf)));
	assert_string_equal(buf, addr);
}

static void test_parse_ipv4(void **state)
{
	(void)state;
	check_v4("10.0.0.2", "10.0.0.2", 53);
	check_v4("10.0.0.2:5353", "10.0.0.2", 5353);
	check_v4("127.0.0.1:1", "127.0.0.1", 1);
	check_v4("0.0.0.0:65535", "0.0.0.0", 65535);
}

static void test_parse_ipv6(void **state)
{
	(void)state;
	check_v6("[fd00::2]", "fd00::2", 53);
	check_v6("[fd00::2]:5353", "fd00::2", 5353);
	check_v6("::1", "::1", 53);
	check_v6("fd00:10:10:16::2", "fd00:10:10:16::2", 53);
	check_v6("[::]:8053", "::", 8053);
}

static void test_parse_default_port(void **state)
{
	struct netaddr na;

	(void)state;
	assert_int_equal(netaddr_parse("192.0.2.1", 5300, &na), 0);
	assert_int_equal(ntohs(((struct sockaddr_in *)&na.ss)->sin_port), 5300);
	assert_int_equal(netaddr_parse("[2001:db8::1]", 5300, &na), 0);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&na.ss)->sin6_port), 5300);
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
	    "10.0.0.256", "[::1",   "1.2.3.4:0",     "1.2.3.4:70000",
	    "host.name",  "",       "1.2.3.4:",      "1.2.3.4:x",
	    "[::1]x",     "[::1]:", "1.2.3.4:-1",    "[1.2.3.4]:53x",
	    "[fd00::zz]", "10.0.0", "1.2.3.4:53:53", "[]",
	};
	struct netaddr na;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (netaddr_parse(bad[i], 53, &na) != -1)
			fail_msg("netaddr_parse(\"%s\") accepted a bad address", bad[i]);
	}
	/* Without brackets the last group is part of the address, not a port. */
	check_v6("fd00::2:53", "fd00::2:53", 53);
}

static void test_format(void **state)
{
	struct netaddr na;
	char buf[80];

	(void)state;
	assert_int_equal(netaddr_parse("10.0.0.2:5353", 53, &na), 0);
	netaddr_format(&na, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.2:5353");
	assert_int_equal(netaddr_parse("::1", 53, &na), 0);
	netaddr_format(&na, buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:53");
}

static void test_acl_entry_parse(void **state)
{
	struct acl_entry e;

	(void)state;
	assert_int_equal(acl_entry_parse("192.0.2.1", &e), 0);
	assert_int_equal(e.family, AF_INET);
	assert_int_equal(e.prefix, 32);
	assert_memory_equal(e.addr, "\xc0\x00\x02\x01", 4);
	assert_int_equal(acl_entry_parse("fd00::/7", &e), 0);
	assert_int_equal(e.family, AF_INET6);
	assert_int_equal(e.prefix, 7);
	assert_int_equal(e.addr[0], 0xfd);
	assert_int_equal(acl_entry_parse("::1", &e), 0);
	assert_int_equal(e.family, AF_INET6);
	assert_int_equal(e.prefix, 128);
	assert_int_equal(acl_entry_parse("0.0.0.0/0", &e), 0);
	assert_int_equal(e.prefix, 0);
	assert_int_equal(acl_entry_parse("10.0.0.0/33", &e), -1);
	assert_int_equal(acl_entry_parse("::/129", &e), -1);
	assert_int_equal(acl_entry_parse("10.0.0.0/", &e), -1);
	assert_int_equal(acl_entry_parse("10.0.0.0/-1", &e), -1);
	assert_int_equal(acl_entry_parse("10.0.0.0/8x", &e), -1);
	assert_int_equal(acl_entry_parse("/8", &e), -1);
	assert_int_equal(acl_entry_parse("example.com/8", &e), -1);
}

static void test_acl_v4(void **state)
{
	char bad[64] = "";
	struct acl *acl =
	    acl_parse("10.0.0.0/8, 192.168.1.5/32 172.16.0.0/12,10.10.16.0/20", bad, sizeof(bad));

	(void)state;
	assert_non_null(acl);
	assert_int_equal(acl->count, 4);
	assert_int_equal(acl->entries[0].family, AF_INET);
	assert_int_equal(acl->entries[0].prefix, 8);
	assert_int_equal(acl->entries[1].prefix, 32);
	assert_int_equal(acl->entries[2].prefix, 12);
	assert_int_equal(acl->entries[3].prefix, 20);
	/* /8 */
	assert_true(matches(acl, "10.0.0.0"));
	assert_true(matches(acl, "10.255.255.255"));
	assert_false(matches(acl, "11.0.0.0"));
	assert_false(matches(acl, "9.255.255.255"));
	/* /32 */
	assert_true(matches(acl, "192.168.1.5"));
	assert_false(matches(acl, "192.168.1.4"));
	assert_false(matches(acl, "192.168.1.6"));
	/* /12: 172.16.0.0 - 172.31.255.255 */
	assert_true(matches(acl, "172.16.0.1"));
	assert_true(matches(acl, "172.31.255.255"));
	assert_false(matches(acl, "172.32.0.0"));
	assert_false(matches(acl, "172.15.255.255"));
	/* An IPv6 source never matches an IPv4 entry (unless mapped). */
	assert_false(matches(acl, "::a00:1"));
	free(acl);
}

static void test_acl_non_octet_prefix(void **state)
{
	char bad[64] = "";
	struct acl *acl = acl_parse("10.10.16.0/20", bad, sizeof(bad));

	(void)state;
	assert_non_null(acl);
	assert_int_equal(acl->count, 1);
	assert_true(matches(acl, "10.10.16.0"));
	assert_true(matches(acl, "10.10.17.22"));
	assert_true(matches(acl, "10.10.31.255"));
	assert_false(matches(acl, "10.10.32.0"));
	assert_false(matches(acl, "10.10.15.255"));
	free(acl);

	acl = acl_parse("2001:db8::/33, 192.0.2.128/25", bad, sizeof(bad));
	assert_non_null(acl);
	assert_true(matches(acl, "2001:db8::1"));
	assert_true(matches(acl, "2001:db8:7fff:ffff::1"));
	assert_false(matches(acl, "2001:db8:8000::1"));
	assert_false(matches(acl, "2001:db9::1"));
	assert_true(matches(acl, "192.0.2.128"));
	assert_true(matches(acl, "192.0.2.255"));
	assert_false(matches(acl, "192.0.2.127"));
	free(acl);
}

static void test_acl_zero_prefix(void **state)
{
	char bad[64] = "";
	struct acl *acl = acl_parse("0.0.0.0/0", bad, sizeof(bad));

	(void)state;
	assert_non_null(acl);
	assert_true(matches(acl, "1.2.3.4"));
	assert_true(matches(acl, "255.255.255.255"));
	assert_true(matches(acl, "0.0.0.0"));
	assert_false(matches(acl, "2001:db8::1"));
	free(acl);

	acl = acl_parse("::/0", bad, sizeof(bad));
	assert_non_null(acl);
	assert_true(matches(acl, "2001:db8::1"));
	assert_true(matches(acl, "::1"));
	assert_false(matches(acl, "1.2.3.4"));
	free(acl);
}

static void test_acl_v6(void **state)
{
	char bad[64] = "";
	struct acl *acl = acl_parse("::1/128 fd00::/8\tfe80::/10", bad, sizeof(bad));

	(void)state;
	assert_non_null(acl);
	assert_int_equal(acl->count, 3);
	assert_int_equal(acl->entries[0].family, AF_INET6);
	assert_int_equal(acl->entries[0].prefix, 128);
	/* /128 */
	assert_true(matches(acl, "::1"));
	assert_false(matches(acl, "::2"));
	assert_false(matches(acl, "::"));
	/* /8 */
	assert_true(matches(acl, "fd00::1"));
	assert_true(matches(acl, "fdff:ffff::1"));
	assert_false(matches(acl, "fc00::1"));
	assert_false(matches(acl, "fe00::1"));
	/* /10 */
	assert_true(matches(acl, "fe80::1"));
	assert_true(matches(acl, "febf::1"));
	assert_false(matches(acl, "fec0::1"));
	/* An IPv4 source never matches an IPv6 entry. */
	assert_false(matches(acl, "127.0.0.1"));
	free(acl);
}

static void test_acl_v4_mapped(void **state)
{
	char bad[64] = "";
	struct acl *acl = acl_parse("10.0.0.0/8, 192.0.2.7", bad, sizeof(bad));

	(void)state;
	assert_non_null(acl);
	assert_true(matches(acl, "::ffff:10.1.2.3"));
	assert_true(matches(acl, "::ffff:192.0.2.7"));
	assert_false(matches(acl, "::ffff:11.1.2.3"));
	assert_false(matches(acl, "::ffff:192.0.2.8"));
	/* Not mapped: ::10.1.2.3 (IPv4-compatible) and 64:ff9b::/96 are plain IPv6. */
	assert_false(matches(acl, "::10.1.2.3"));
	assert_false(matches(acl, "64:ff9b::a01:203"));
	free(acl);
}

static void test_acl_empty(void **state)
{
	char bad[64] = "untouched";
	struct acl *acl = acl_parse("", bad, sizeof(bad));

	(void)state;
	assert_non_null(acl);
	assert_int_equal(acl->count, 0);
	assert_false(matches(acl, "127.0.0.1"));
	assert_false(matches(acl, "::1"));
	assert_false(matches(acl, "::ffff:127.0.0.1"));
	free(acl);

	acl = acl_parse(" ,\t, ", bad, sizeof(bad));
	assert_non_null(acl);
	assert_int_equal(acl->count, 0);
	assert_false(matches(acl, "10.0.0.1"));
	free(acl);

	/* No list at all matches nothing either. */
	assert_false(matches(NULL, "127.0.0.1"));
}

static void test_acl_bad_items(void **state)
{
	static const struct {
		const char *list, *bad;
	} cases[] = {
	    {"10.0.0.0/8, 10.0.0.0/33", "10.0.0.0/33"},
	    {"fd00::/129 ::1", "fd00::/129"},
	    {"127.0.0.1 host.example", "host.example"},
	    {"10.0.0.1/", "10.0.0.1/"},
	    {"10.0.0.1/x, 10.0.0.2", "10.0.0.1/x"},
	    {"1.2.3.4/8x", "1.2.3.4/8x"},
	    {"10.0.0.256", "10.0.0.256"},
	    {"::1, ::1/128, 300.1.1.1/8", "300.1.1.1/8"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char bad[64] = "";
		struct acl *acl = acl_parse(cases[i].list, bad, sizeof(bad));
		if (acl != NULL)
			fail_msg("acl_parse(\"%s\") accepted a bad item", cases[i].list);
		assert_string_equal(bad, cases[i].bad);
	}
}

static void test_acl_many_entries(void **state)
{
	char list[1024] = "", bad[64] = "";
	struct acl *acl;

	(void)state;
	/* More entries than the initial allocation. */
	for (int i = 0; i < 20; i++) {
		char item[32];
		snprintf(item, sizeof(item), "%s10.%d.0.0/16", i ? ", " : "", i);
		strcat(list, item);
	}
	acl = acl_parse(list, bad, sizeof(bad));
	assert_non_null(acl);
	assert_int_equal(acl->count, 20);
	assert_true(matches(acl, "10.0.1.1"));
	assert_true(matches(acl, "10.19.255.1"));
	assert_false(matches(acl, "10.20.0.1"));
	free(acl);
}

static void test_acl_extend(void **state)
{
	char bad[64] = "";
	struct acl *a = acl_parse("10.0.0.0/8", bad, sizeof(bad));
	struct acl *b = acl_parse("fd00::/8, 192.168.0.0/16", bad, sizeof(bad));
	struct acl *none = NULL;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_false(matches(a, "192.168.3.4"));
	assert_int_equal(acl_extend(&a, b), 0);
	assert_int_equal(a->count, 3);
	assert_int_equal(a->entries[0].prefix, 8);
	assert_int_equal(a->entries[1].family, AF_INET6);
	assert_int_equal(a->entries[2].prefix, 16);
	assert_true(matches(a, "10.1.1.1"));
	assert_true(matches(a, "192.168.3.4"));
	assert_true(matches(a, "fd00::53"));
	assert_false(matches(a, "172.16.0.1"));
	/* The source is left as it was. */
	assert_int_equal(b->count, 2);

	/* Extending nothing makes a copy. */
	assert_int_equal(acl_extend(&none, b), 0);
	assert_non_null(none);
	assert_int_equal(none->count, 2);
	assert_true(matches(none, "192.168.3.4"));
	assert_false(matches(none, "10.1.1.1"));
	free(none);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_ipv4),
	    cmocka_unit_test(test_parse_ipv6),
	    cmocka_unit_test(test_parse_default_port),
	    cmocka_unit_test(test_parse_rejects),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_acl_entry_parse),
	    cmocka_unit_test(test_acl_v4),
	    cmocka_unit_test(test_acl_non_octet_prefix),
	    cmocka_unit_test(test_acl_zero_prefix),
	    cmocka_unit_test(test_acl_v6),
	    cmocka_unit_test(test_acl_v4_mapped),
	    cmocka_unit_test(test_acl_empty),
	    cmocka_unit_test(test_acl_bad_items),
	    cmocka_unit_test(test_acl_many_entries),
	    cmocka_unit_test(test_acl_extend),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
