/* Unit tests of conf/config: loading the INI file, defaults and error reports. */
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
#include <unistd.h>

#include "conf/config.h"

/* Writes content to a new file /tmp/vpcdns-test-XXXXXX; returns its path (free it). */
static char *write_ini(const char *content)
{
	char *path = strdup("/tmp/vpcdns-test-XXXXXX");
	int fd;
	size_t len = strlen(content);

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	close(fd);
	return path;
}

static void remove_ini(char *path)
{
	unlink(path);
	free(path);
}

static struct config *load_ok(const char *content, char **path_out)
{
	char *path = write_ini(content);
	char err[4096] = "";
	struct config *c = NULL;

	if (config_load(path, &c, err, sizeof(err)) != 0) {
		remove_ini(path);
		fail_msg("config_load failed: %s", err);
	}
	assert_non_null(c);
	assert_string_equal(err, "");
	if (path_out != NULL)
		*path_out = path;
	else
		remove_ini(path);
	return c;
}

/* Loads content, which must fail; returns the error text in err. */
static void load_fail(const char *content, char *err, size_t errlen, char **path_out)
{
	char *path = write_ini(content);
	struct config *c = NULL;

	assert_int_equal(config_load(path, &c, err, errlen), -1);
	*path_out = path;
}

/* content must fail with an error at line naming what (a substring of the message). */
static void expect_error(const char *content, int line, const char *what)
{
	char err[4096] = "", where[128];
	char *path;

	load_fail(content, err, sizeof(err), &path);
	snprintf(where, sizeof(where), "%s:%d: ", path, line);
	if (strstr(err, where) == NULL)
		fail_msg("expected an error at \"%s\", got \"%s\"", where, err);
	if (strstr(err, what) == NULL)
		fail_msg("expected \"%s\" in the error, got \"%s\"", what, err);
	remove_ini(path);
}

static bool acl_has(const struct acl *acl, const char *text)
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
	return acl_match(acl, (struct sockaddr *)&ss);
}

static void listen_text(const struct config *c, size_t i, char *buf, size_t len)
{
	assert_true(i < c->nlisten);
	netaddr_format(&c->listen[i], buf, len);
}

static void test_full_file(void **state)
{
	static const char ini[] = "; a complete file\n"
				  "[server]\n"
				  "listen = 127.0.0.1:5353, [::1]:5353 10.0.0.2\n"
				  "workers = 3\n"
				  "user = nobody\n"
				  "edns_udp_size = 1400\n"
				  "tcp_idle_timeout = 30\n"
				  "tcp_max_connections = 100\n"
				  "allow = 10.0.0.0/8, fd00::/8\n"
				  "chaos = yes\n"
				  "identity = ns1.test\n"
				  "version = hidden\n"
				  "\n"
				  "[zone:Prod.Internal.]\n"
				  "file = zones/prod.zone\n"
				  "allow = 10.10.0.0/16\n"
				  "\n"
				  "# reverse zone\n"
				  "[zone:10.in-addr.arpa]\n"
				  "synthesize_ptr = yes\n"
				  "\n"
				  "[zone:abs.internal]\n"
				  "file = /var/lib/vpcdns/abs.zone\n"
				  "synthesize_ptr = no\n";
	char *path;
	struct config *c = load_ok(ini, &path);
	char buf[80], dir[128];
	const struct config_zone *z;

	(void)state;
	assert_string_equal(c->path, path);
	assert_int_equal(c->nlisten, 3);
	listen_text(c, 0, buf, sizeof(buf));
	assert_string_equal(buf, "127.0.0.1:5353");
	listen_text(c, 1, buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:5353");
	listen_text(c, 2, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.2:53");
	assert_int_equal(c->workers, 3);
	assert_string_equal(c->user, "nobody");
	assert_int_equal(c->edns_udp_size, 1400);
	assert_int_equal(c->tcp_idle_timeout, 30);
	assert_int_equal(c->tcp_max_connections, 100);
	assert_non_null(c->allow);
	assert_int_equal(c->allow->count, 2);
	assert_true(acl_has(c->allow, "10.9.8.7"));
	assert_true(acl_has(c->allow, "fd00::1"));
	assert_false(acl_has(c->allow, "127.0.0.1"));
	assert_true(c->chaos);
	assert_string_equal(c->identity, "ns1.test");
	assert_string_equal(c->version, "hidden");

	assert_int_equal(c->nzones, 3);
	z = &c->zones[0];
	assert_string_equal(z->name, "prod.internal");
	assert_int_equal(z->line, 14);
	snprintf(dir, sizeof(dir), "%.*s/zones/prod.zone", (int)(strrchr(path, '/') - path), path);
	assert_string_equal(z->file, dir);
	assert_string_equal(z->file, "/tmp/zones/prod.zone");
	assert_non_null(z->allow);
	assert_int_equal(z->allow->count, 1);
	assert_true(acl_has(z->allow, "10.10.200.1"));
	assert_false(acl_has(z->allow, "10.11.0.1"));
	assert_false(z->synthesize_ptr);

	z = &c->zones[1];
	assert_string_equal(z->name, "10.in-addr.arpa");
	assert_int_equal(z->line, 19);
	assert_null(z->file);
	assert_null(z->allow);
	assert_true(z->synthesize_ptr);

	z = &c->zones[2];
	assert_string_equal(z->name, "abs.internal");
	assert_string_equal(z->file, "/var/lib/vpcdns/abs.zone");
	assert_false(z->synthesize_ptr);

	assert_ptr_equal(config_find_zone(c, "prod.internal"), &c->zones[0]);
	assert_ptr_equal(config_find_zone(c, "10.in-addr.arpa"), &c->zones[1]);
	assert_null(config_find_zone(c, "internal"));
	assert_null(config_find_zone(c, "nope.internal"));

	/* config_print writes what was loaded. */
	char *text = NULL;
	size_t textlen = 0;
	FILE *out = open_memstream(&text, &textlen);
	assert_non_null(out);
	config_print(c, out);
	fclose(out);
	assert_non_null(strstr(text, "[zone:prod.internal]\n"));
	assert_non_null(strstr(text, "edns_udp_size = 1400\n"));
	assert_non_null(strstr(text, "synthesize_ptr = yes\n"));
	assert_non_null(strstr(text, "127.0.0.1:5353"));
	free(text);

	config_free(c);
	remove_ini(path);
}

static void test_defaults(void **state)
{
	static const char ini[] = "[zone:example.test]\nfile = example.zone\n";
	struct config *c = load_ok(ini, NULL);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	char buf[80];

	(void)state;
	assert_int_equal(c->nlisten, 2);
	listen_text(c, 0, buf, sizeof(buf));
	assert_string_equal(buf, "127.0.0.1:53");
	listen_text(c, 1, buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:53");
	assert_int_equal(c->edns_udp_size, 1232);
	assert_int_equal(c->tcp_idle_timeout, 10);
	assert_int_equal(c->tcp_max_connections, 512);
	assert_int_equal(c->workers, cores > 0 ? (unsigned)cores : 1);
	assert_true(c->workers >= 1);
	assert_false(c->chaos);
	assert_non_null(c->user);
	assert_string_equal(c->user, "");
	assert_non_null(c->version);
	assert_true(strncmp(c->version, "vpcdns ", 7) == 0);
	assert_non_null(c->allow);
	assert_true(acl_has(c->allow, "127.0.0.1"));
	assert_true(acl_has(c->allow, "::1"));
	assert_true(acl_has(c->allow, "10.1.2.3"));
	assert_true(acl_has(c->allow, "192.168.1.1"));
	assert_true(acl_has(c->allow, "fd00::1"));
	assert_false(acl_has(c->allow, "8.8.8.8"));
	assert_false(acl_has(c->allow, "2001:db8::1"));
	assert_int_equal(c->nzones, 1);
	assert_string_equal(c->zones[0].name, "example.test");
	assert_int_equal(c->zones[0].line, 1);
	assert_null(c->zones[0].allow);
	assert_false(c->zones[0].synthesize_ptr);
	config_free(c);

	/* An empty file is valid: the defaults and no zones. */
	c = load_ok("", NULL);
	assert_int_equal(c->nzones, 0);
	assert_int_equal(c->nlisten, 2);
	config_free(c);

	/* workers = 0 also means one per core. */
	c = load_ok("[server]\nworkers = 0\n", NULL);
	assert_int_equal(c->workers, cores > 0 ? (unsigned)cores : 1);
	config_free(c);
}

static void test_continuation(void **state)
{
	static const char ini[] = "[server]\n"
				  "allow = 10.0.0.0/8,\n"
				  "  192.168.0.0/16\n"
				  "\tfd00::/8, 172.16.0.0/12\n"
				  "listen = 127.0.0.1:5300\n"
				  "    10.0.0.2:5300, ::1\n"
				  "workers = 2\n"
				  "[zone:example.test]\n"
				  "file = /x.zone\n"
				  "allow = 10.1.0.0/16\n"
				  "  10.2.0.0/16\n";
	struct config *c = load_ok(ini, NULL);
	char buf[80];

	(void)state;
	assert_int_equal(c->allow->count, 4);
	assert_true(acl_has(c->allow, "10.1.1.1"));
	assert_true(acl_has(c->allow, "192.168.5.5"));
	assert_true(acl_has(c->allow, "fd00::5"));
	assert_true(acl_has(c->allow, "172.20.0.1"));
	assert_false(acl_has(c->allow, "127.0.0.1"));
	assert_int_equal(c->nlisten, 3);
	listen_text(c, 0, buf, sizeof(buf));
	assert_string_equal(buf, "127.0.0.1:5300");
	listen_text(c, 1, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.2:5300");
	listen_text(c, 2, buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:53");
	assert_int_equal(c->workers, 2);
	assert_int_equal(c->zones[0].allow->count, 2);
	assert_true(acl_has(c->zones[0].allow, "10.2.3.4"));
	config_free(c);

	/* A continuation of a one-value key is an error at the continuation line. */
	expect_error("[server]\nworkers = 2\n  3\n", 3, "workers");
	/* A bad item on a continuation line names that line. */
	expect_error("[server]\nallow = 10.0.0.0/8\n  10.0.0.0/40\n", 3, "10.0.0.0/40");
	expect_error("[server]\nlisten = 127.0.0.1\n  1.2.3.4:0\n", 3, "1.2.3.4:0");
}

/* An indented listen continuation holding a bracketed IPv6 address is a list item too. */
static void test_continuation_bracketed_v6(void **state)
{
	static const char ini[] = "[server]\n"
				  "listen = 127.0.0.1:5300\n"
				  "    [::1]:5300\n"
				  "  [fd00::53]\n";
	struct config *c = load_ok(ini, NULL);
	char buf[80];

	(void)state;
	assert_int_equal(c->nlisten, 3);
	listen_text(c, 1, buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:5300");
	listen_text(c, 2, buf, sizeof(buf));
	assert_string_equal(buf, "[fd00::53]:53");
	config_free(c);
}

static void test_error_unknown_section(void **state)
{
	(void)state;
	expect_error("[server]\nworkers = 1\n[bogus]\nfoo = 1\n", 3, "bogus");
	expect_error("[server\nworkers = 1\n", 1, "section");
	expect_error("[zone:bad name!]\nfile = x\n", 1, "bad name!");
}

static void test_error_unknown_key(void **state)
{
	(void)state;
	expect_error("[server]\nworkers = 1\nworkerz = 2\n", 3, "workerz");
	expect_error("[zone:a.test]\nfile = a.zone\nlisten = 127.0.0.1\n", 3, "listen");
}

static void test_error_numbers(void **state)
{
	(void)state;
	expect_error("[server]\n\nworkers = many\n", 3, "workers");
	expect_error("[server]\nworkers = 12x\n", 2, "workers");
	expect_error("[server]\nworkers = -1\n", 2, "workers");
	expect_error("[server]\nworkers = 257\n", 2, "workers");
	expect_error("[server]\nedns_udp_size = 100\n", 2, "edns_udp_size");
	expect_error("[server]\nedns_udp_size = 4097\n", 2, "edns_udp_size");
	expect_error("[server]\ntcp_idle_timeout = 0\n", 2, "tcp_idle_timeout");
	expect_error("[server]\ntcp_max_connections = 99999999999999999999\n", 2,
		     "tcp_max_connections");
	/* The limits themselves are allowed. */
	struct config *c = load_ok("[server]\nedns_udp_size = 512\nworkers = 256\n"
				   "tcp_idle_timeout = 3600\n",
				   NULL);
	assert_int_equal(c->edns_udp_size, 512);
	assert_int_equal(c->workers, 256);
	assert_int_equal(c->tcp_idle_timeout, 3600);
	config_free(c);
}

static void test_error_bool(void **state)
{
	struct config *c;

	(void)state;
	expect_error("[server]\nchaos = maybe\n", 2, "chaos");
	expect_error("[zone:10.in-addr.arpa]\nsynthesize_ptr = 2\n", 2, "synthesize_ptr");
	c = load_ok("[server]\nchaos = On\n", NULL);
	assert_true(c->chaos);
	config_free(c);
	c = load_ok("[server]\nchaos = false\n", NULL);
	assert_false(c->chaos);
	config_free(c);
}

static void test_error_cidr_listen(void **state)
{
	(void)state;
	expect_error("[server]\nallow = 10.0.0.0/8, 10.0.0.0/33\n", 2, "10.0.0.0/33");
	expect_error("[server]\n\n\nallow = example.com\n", 4, "example.com");
	expect_error("[zone:a.test]\nfile = a\nallow = 1.2.3.4/x\n", 3, "1.2.3.4/x");
	expect_error("[server]\nlisten = 127.0.0.1:99999\n", 2, "127.0.0.1:99999");
	expect_error("[server]\nlisten = 127.0.0.1, localhost\n", 2, "localhost");
	expect_error("[server]\nlisten = ::1:53x\n", 2, "listen");
	/* An empty listen list leaves nothing to listen on. */
	char err[1024] = "", *path;
	load_fail("[server]\nlisten =\n", err, sizeof(err), &path);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "listen"));
	remove_ini(path);
}

static void test_error_duplicate_zone(void **state)
{
	(void)state;
	expect_error("[zone:a.test]\nfile = a\n[zone:a.test]\nfile = b\n", 3, "line 1");
	expect_error("[zone:a.test]\nfile = a\n\n[zone:A.Test]\nfile = b\n", 4, "line 1");
	expect_error("[zone:a.test]\nfile = a\n[zone:a.test.]\nfile = b\n", 3, "a.test");
	expect_error("[zone:B.test.]\nfile = a\n[zone:b.TEST]\nfile = b\n", 3, "b.test");
}

static void test_error_duplicate_key(void **state)
{
	(void)state;
	expect_error("[server]\nworkers = 1\nchaos = no\nworkers = 2\n", 4, "line 2");
	expect_error("[zone:a.test]\nfile = a\nfile = b\n", 3, "file");
	/* The same key in two sections is fine. */
	struct config *c = load_ok("[zone:a.test]\nfile = /a\n[zone:b.test]\nfile = /b\n", NULL);
	assert_int_equal(c->nzones, 2);
	assert_string_equal(c->zones[1].file, "/b");
	config_free(c);
}

static void test_error_outside_section(void **state)
{
	(void)state;
	expect_error("workers = 1\n[server]\n", 1, "workers");
	expect_error("; comment\n\nchaos = yes\n", 3, "chaos");
}

static void test_error_no_equals(void **state)
{
	(void)state;
	expect_error("[server]\nworkers = 1\njust some words\n", 3, "just some words");
}

static void test_error_zone_source(void **state)
{
	(void)state;
	expect_error("[server]\nworkers = 1\n\n[zone:empty.test]\nallow = 10.0.0.0/8\n", 4,
		     "empty.test");
	expect_error("[zone:a.test]\nfile = a\n[zone:b.test]\n", 3, "b.test");
	expect_error("[zone:fwd.test]\nsynthesize_ptr = yes\n", 1, "fwd.test");
	expect_error("[zone:a.test]\nfile = a\n\n[zone:arpa]\nfile = /x\nsynthesize_ptr = yes\n", 4,
		     "arpa");
	/* in-addr.arpa and ip6.arpa zones may synthesize. */
	struct config *c = load_ok("[zone:16.172.in-addr.arpa]\nsynthesize_ptr = yes\n"
				   "[zone:d.f.ip6.arpa]\nsynthesize_ptr = yes\n",
				   NULL);
	assert_int_equal(c->nzones, 2);
	assert_true(c->zones[0].synthesize_ptr);
	assert_true(c->zones[1].synthesize_ptr);
	config_free(c);
}

static void test_several_errors(void **state)
{
	static const char ini[] = "[server]\n"
				  "workers = lots\n"
				  "chaos = yes\n"
				  "chaos = perhaps\n"
				  "nonsense = 1\n"
				  "allow = 10.0.0.0/8\n"
				  "[zone:a.test]\n"
				  "file = a\n"
				  "[zone:A.test]\n";
	char err[4096] = "", where[128];
	char *path;
	int lines = 0;

	(void)state;
	load_fail(ini, err, sizeof(err), &path);
	static const int expected[] = {2, 4, 5, 9};
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		snprintf(where, sizeof(where), "%s:%d: ", path, expected[i]);
		if (strstr(err, where) == NULL)
			fail_msg("no error at \"%s\" in \"%s\"", where, err);
	}
	for (const char *p = err; *p != '\0'; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 4);
	remove_ini(path);

	/* A small buffer is truncated but still terminated. */
	char small[24];
	memset(small, 'x', sizeof(small));
	load_fail(ini, small, sizeof(small), &path);
	assert_true(memchr(small, '\0', sizeof(small)) != NULL);
	assert_true(strncmp(small, path, strlen(small)) == 0);
	remove_ini(path);
}

static void test_missing_file(void **state)
{
	char err[512] = "";
	struct config *c = NULL;

	(void)state;
	assert_int_equal(config_load("/tmp/vpcdns-test-does-not-exist.ini", &c, err, sizeof(err)),
			 -1);
	assert_null(c);
	assert_non_null(strstr(err, "/tmp/vpcdns-test-does-not-exist.ini"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_file),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_continuation),
	    cmocka_unit_test(test_continuation_bracketed_v6),
	    cmocka_unit_test(test_error_unknown_section),
	    cmocka_unit_test(test_error_unknown_key),
	    cmocka_unit_test(test_error_numbers),
	    cmocka_unit_test(test_error_bool),
	    cmocka_unit_test(test_error_cidr_listen),
	    cmocka_unit_test(test_error_duplicate_zone),
	    cmocka_unit_test(test_error_duplicate_key),
	    cmocka_unit_test(test_error_outside_section),
	    cmocka_unit_test(test_error_no_equals),
	    cmocka_unit_test(test_error_zone_source),
	    cmocka_unit_test(test_several_errors),
	    cmocka_unit_test(test_missing_file),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
