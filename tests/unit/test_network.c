/*
 * Unit tests of contrib/provision: the network INI (network.c), the zone
 * policy made from it (policy.c) and the INI layer under both (conf/ini.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"
#include "contrib/provision/network.h"
#include "contrib/provision/policy.h"

static const char reference[] = "[stack]\n"
				"name = t\n"
				"azs = a, b\n"
				"internet = 203.0.113.0/24\n"
				"upstream = 203.0.113.53\n"
				"upstream_zone = example.net\n"
				"[tier:public]\n"
				"internet = igw\n"
				"sees = public\n"
				"[tier:private]\n"
				"internet = nat\n"
				"sees = public, private, persistence\n"
				"[tier:persistence]\n"
				"sees = persistence\n"
				"[env:mgmt]\n"
				"cidr = 10.0.0.0/16\n"
				"zone = Mgmt.Internal.\n"
				"public = 10.0.0.0/24, 10.0.1.0/24\n"
				"private = 10.0.10.0/24,\n"
				"    10.0.11.0/24\n"
				"dns = 10.0.10.53\n"
				"peers = prod\n"
				"sees = prod\n"
				"[env:prod]\n"
				"cidr = 10.1.0.0/16\n"
				"zone = prod.internal\n"
				"public = 10.1.0.0/24\n"
				"private = 10.1.10.0/24\n"
				"persistence = 10.1.20.0/24 ; databases\n"
				"dns = 10.1.10.53, 10.0.10.53\n"
				"[host:web-1]\n"
				"env = prod\n"
				"tier = private\n"
				"address = 10.1.10.10\n";

static char *write_tmp(const char *content)
{
	char *path = strdup("/tmp/vpcdns-net-test-XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	return path;
}

static struct network *load_ok(const char *content)
{
	char *path = write_tmp(content);
	char err[4096] = "";
	struct network *net = NULL;
	int rc = network_load(path, &net, err, sizeof(err));

	unlink(path);
	free(path);
	if (rc != 0)
		fail_msg("network_load failed: %s", err);
	return net;
}

/* Loads content, which must fail with an error containing want at line `line`. */
static void load_fail(const char *content, int line, const char *want)
{
	char *path = write_tmp(content);
	char err[4096] = "", prefix[256];
	struct network *net = NULL;

	assert_int_equal(network_load(path, &net, err, sizeof(err)), -1);
	assert_null(net);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	if (strstr(err, prefix) == NULL || strstr(err, want) == NULL)
		fail_msg("wanted '%s%s' in:\n%s", prefix, want, err);
	unlink(path);
	free(path);
}

/* reference with the first occurrence of old replaced by new. */
static char *variant(const char *old, const char *new)
{
	const char *at = strstr(reference, old);
	char *out;

	assert_non_null(at);
	out = malloc(sizeof(reference) + strlen(new));
	assert_non_null(out);
	snprintf(out, sizeof(reference) + strlen(new), "%.*s%s%s", (int)(at - reference), reference,
		 new, at + strlen(old));
	return out;
}

static void test_reference_loads(void **state)
{
	struct network *net = load_ok(reference);
	char text[64];

	(void)state;
	assert_string_equal(net->stack, "t");
	assert_int_equal(net->nazs, 2);
	assert_int_equal(net->ntiers, 3);
	assert_int_equal(net->nenvs, 2);
	assert_string_equal(net->envs[0].zone, "mgmt.internal");
	/* mgmt: 2 public + 2 private (one continued on an indented line); prod: 3 */
	assert_int_equal(net->nsubnets, 7);
	assert_string_equal(net->subnets[3].name, "mgmt-private-2");
	net_cidr_text(&net->subnets[3].cidr, text, sizeof(text));
	assert_string_equal(text, "10.0.11.0/24");
	assert_int_equal(net->tiers[2].internet, NET_INTERNET_NONE);
	assert_true(network_peered(net, 0, 1));
	assert_true(network_peered(net, 1, 0));
	/* web-1, then one vpcdnsd host per distinct dns address, in the env that holds it */
	assert_int_equal(net->nhosts, 3);
	assert_string_equal(net->hosts[1].name, "dns-mgmt-1");
	assert_true(net->hosts[1].vpcdnsd);
	assert_string_equal(net->hosts[2].name, "dns-prod-1");
	assert_int_equal(net->hosts[2].env, 1);
	assert_int_equal(net->hosts[0].subnet, 5);
	network_free(net);
}

static void test_errors_name_the_line(void **state)
{
	char *v;

	(void)state;
	load_fail("[stack]\nname = x\nazs = a\n[bogus]\n", 4, "unknown section [bogus]");
	load_fail("[stack]\nname = Bad\nazs = a\n[env:e]\ncidr = 10.0.0.0/16\nzone = e\n", 2,
		  "not a valid stack name");
	load_fail("name = x\n", 1, "outside any section");
	v = variant("cidr = 10.1.0.0/16", "cidr = 10.1.0.1/16");
	load_fail(v, 25, "is not a VPC network");
	free(v);
	v = variant("persistence = 10.1.20.0/24", "persistence = 10.2.20.0/24");
	load_fail(v, 29, "10.2.20.0/24 is outside the VPC's cidr");
	free(v);
	v = variant("public = 10.1.0.0/24", "public = 10.1.10.0/25");
	load_fail(v, 28, "overlaps subnet prod-public-1");
	free(v);
	v = variant("sees = public\n", "sees = nothing\n");
	load_fail(v, 9, "no tier called 'nothing'");
	free(v);
	v = variant("address = 10.1.10.10", "address = 10.1.20.10");
	load_fail(v, 34, "10.1.20.10 is in no private subnet of prod");
	free(v);
	v = variant("address = 10.1.10.10", "address = 10.1.10.2");
	load_fail(v, 34, "one of the addresses AWS reserves");
	free(v);
	v = variant("peers = prod\n", "");
	load_fail(v, 29, "dns: 10.0.10.53 is in no subnet of prod or of an environment peered");
	free(v);
	v = variant("dns = 10.0.10.53\n", "dns = 10.0.10.53\ndns = 10.0.10.54\n");
	load_fail(v, 22, "dns is already set at line 21");
	free(v);
	v = variant("cidr = 10.1.0.0/16", "cidr = 10.0.128.0/17");
	load_fail(v, 25, "overlaps env mgmt");
	free(v);
}

static void test_long_line_is_an_error(void **state)
{
	char content[1200];

	(void)state;
	snprintf(content, sizeof(content), "[stack]\nname = %0900d\n", 0);
	load_fail(content, 2, "line longer than");
}

/* The policy's allow lists, read back through vpcdnsd's own config loader. */
static void test_policy_is_a_valid_vpcdnsd_config(void **state)
{
	struct network *net = load_ok(reference);
	char *path = strdup("/tmp/vpcdns-policy-test-XXXXXX");
	char err[4096] = "";
	struct config *c = NULL;
	const struct config_zone *z;
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fprintf(f, "[server]\nlisten = 127.0.0.1:5353\nrecursion = no\n");
	policy_write(net, &(struct policy_opts){.zone_dir = "/nonexistent"}, f);
	fclose(f);
	if (config_load(path, &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	/* prod's persistence zone: prod's private and persistence subnets, and mgmt's
	 * private subnets (mgmt sees prod; private sees persistence) */
	z = config_find_zone(c, "persistence.prod.internal");
	assert_non_null(z);
	assert_non_null(z->allow);
	assert_int_equal(z->allow->count, 4);
	/* mgmt's public tier zone: only mgmt sees mgmt */
	z = config_find_zone(c, "public.mgmt.internal");
	assert_non_null(z);
	assert_int_equal(z->allow->count, 4); /* mgmt public 2 + private 2 */
	z = config_find_zone(c, "prod.internal");
	assert_non_null(z);
	assert_int_equal(z->allow->count, 2);                          /* prod itself and mgmt */
	assert_null(config_find_zone(c, "persistence.mgmt.internal")); /* mgmt has none */
	config_free(c);
	unlink(path);
	free(path);
	network_free(net);
}

static void test_defaults(void **state)
{
	struct network *net = load_ok("[stack]\nname = m\nregion = us-east-1\n"
				      "[env:prod]\ncidr = 10.1.0.0/16\nzone = prod.internal\n"
				      "public = 10.1.0.0/24, 10.1.1.0/24\n"
				      "persistence = 10.1.20.0/24\ndns = 10.1.20.53\n");

	(void)state;
	assert_int_equal(net->ntiers, 3);
	assert_string_equal(net->tiers[1].name, "private");
	assert_int_equal(net->tiers[0].internet, NET_INTERNET_IGW);
	assert_int_equal(net->tiers[2].internet, NET_INTERNET_NONE);
	assert_false(net->tiers[0].sees & (1u << 2)); /* public does not see persistence */
	assert_int_equal(net->nazs, 2);
	assert_string_equal(net->azs[1], "us-east-1b");
	assert_int_equal(net->nsubnets, 3);
	network_free(net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reference_loads),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_errors_name_the_line),
	    cmocka_unit_test(test_long_line_is_an_error),
	    cmocka_unit_test(test_policy_is_a_valid_vpcdnsd_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
