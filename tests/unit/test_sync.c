/*
 * vpcdns-sync's pieces that need no AWS: Route 53 name unescaping, labels
 * from Name tags, merging records from several sources, and snapshots
 * (serial, diff, deletion guard, atomic write).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sync/inventory.h"
#include "sync/records.h"
#include "sync/route53.h"
#include "sync/snapshot.h"
#include "zones/zone.h"

static void test_route53_unescape(void **state)
{
	char out[256];

	(void)state;
	route53_unescape("\\052.example.com.", out, sizeof(out));
	assert_string_equal(out, "*.example.com.");
	route53_unescape("a\\040b.Example.COM.", out, sizeof(out));
	assert_string_equal(out, "a b.example.com.");
	route53_unescape("x\\.y.example.", out, sizeof(out));
	assert_string_equal(out, "x\\.y.example.");
}

static void test_inventory_label(void **state)
{
	char out[64];

	(void)state;
	inventory_label("Web Server #1", out, sizeof(out));
	assert_string_equal(out, "web-server-1");
	inventory_label("--db__primary--", out, sizeof(out));
	assert_string_equal(out, "db-primary");
	inventory_label("ÄÖ", out, sizeof(out));
	assert_string_equal(out, "");
}

static bool has(const struct records *r, const char *owner, const char *type, const char *rdata)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->v[i].owner, owner) == 0 && strcmp(r->v[i].type, type) == 0 &&
		    strcmp(r->v[i].rdata, rdata) == 0)
			return true;
	return false;
}

static void test_records_merge(void **state)
{
	struct records r;

	(void)state;
	records_init(&r);
	/* A hand-written CNAME wins over inventory addresses at the same name. */
	assert_int_equal(records_add(&r, "app.z.test", 60, "CNAME", "lb.z.test.", SOURCE_FILE), 0);
	records_add(&r, "app.z.test.", 60, "A", "10.0.0.1", SOURCE_INVENTORY);
	/* Route 53 data beats the inventory the other way round too. */
	records_add(&r, "db.z.test.", 60, "A", "10.0.0.2", SOURCE_ROUTE53);
	records_add(&r, "db.z.test.", 60, "CNAME", "x.rds.amazonaws.com.", SOURCE_INVENTORY);
	/* Duplicates from two sources collapse; bad and out-of-zone data is reported. */
	records_add(&r, "www.z.test.", 60, "A", "10.0.0.3", SOURCE_ROUTE53);
	records_add(&r, "WWW.z.test.", 60, "A", "10.0.0.3", SOURCE_INVENTORY);
	records_add(&r, "bad.z.test.", 60, "A", "10.0.0.300", SOURCE_ROUTE53);
	records_add(&r, "other.test.", 60, "A", "10.0.0.4", SOURCE_ROUTE53);
	records_normalize(&r, "z.test");
	assert_int_equal(r.n, 3);
	assert_true(has(&r, "app.z.test.", "CNAME", "lb.z.test."));
	assert_true(has(&r, "db.z.test.", "A", "10.0.0.2"));
	assert_true(has(&r, "www.z.test.", "A", "10.0.0.3"));
	assert_int_equal(r.nproblems, 4);
	records_free(&r);
}

/* The placer of a tier zone: its names, its parent's (left quietly), a nested zone's (reported). */
static enum records_fate place_tier(void *arg, const char *owner, enum record_source source,
				    char *why, size_t whylen)
{
	(void)arg;
	(void)source;
	if (strstr(owner, "deep.private.z.test.") != NULL) {
		snprintf(why, whylen, "below zone deep.private.z.test");
		return RECORDS_REPORT;
	}
	if (strstr(owner, "private.z.test.") != NULL)
		return RECORDS_KEEP;
	return RECORDS_SKIP;
}

static void test_records_place(void **state)
{
	struct records r;

	(void)state;
	records_init(&r);
	records_add(&r, "web.private.z.test.", 60, "A", "10.0.0.1", SOURCE_ROUTE53);
	records_add(&r, "api.z.test.", 60, "A", "10.0.0.2", SOURCE_ROUTE53);
	records_add(&r, "x.deep.private.z.test.", 60, "A", "10.0.0.3", SOURCE_ROUTE53);
	records_place(&r, place_tier, NULL);
	assert_int_equal(r.n, 1);
	assert_true(has(&r, "web.private.z.test.", "A", "10.0.0.1"));
	assert_int_equal(r.nproblems, 1);
	assert_non_null(strstr(r.problems[0], "x.deep.private.z.test. A (route53): below zone"));
	/* An empty set stays empty, and normalizing it is fine (no qsort of NULL). */
	records_free(&r);
	records_init(&r);
	records_place(&r, place_tier, NULL);
	records_normalize(&r, "z.test");
	assert_int_equal(r.n, 0);
	records_free(&r);
}

static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		n++;
	fclose(f);
	return n;
}

static void test_snapshot(void **state)
{
	char dir[] = "/tmp/vpcdns-snap-XXXXXX", path[256], err[512];
	struct records r;
	struct snapshot_result res;
	struct snapshot_opts o;
	uint32_t first;

	(void)state;
	assert_non_null(mkdtemp(dir));
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.zone = "z.test";
	o.negative_ttl = 30;
	o.max_delete_percent = 30;
	records_init(&r);
	for (int i = 0; i < 10; i++) {
		char name[64], ip[32];
		snprintf(name, sizeof(name), "h%d.z.test.", i);
		snprintf(ip, sizeof(ip), "10.0.0.%d", i);
		records_add(&r, name, 60, "A", ip, SOURCE_ROUTE53);
	}
	records_normalize(&r, "z.test");
	assert_int_equal(snapshot_update(&o, &r, &res, err, sizeof(err)), 0);
	assert_true(res.written);
	assert_int_equal(res.added, 11); /* ten hosts and the NS the zone needs */
	first = res.serial;
	snapshot_path(dir, "z.test", ".zone", path, sizeof(path));
	assert_int_equal(count_lines(path), 2 + 1 + 11);
	/* Unchanged: nothing written, the serial stays. */
	assert_int_equal(snapshot_update(&o, &r, &res, err, sizeof(err)), 0);
	assert_false(res.changed);
	assert_int_equal(res.serial, first);
	/* Losing half the records is refused, unless forced. */
	for (size_t i = 0; i < 5; i++) {
		free(r.v[r.n - 1].owner);
		free(r.v[r.n - 1].rdata);
		r.n--;
	}
	assert_int_equal(snapshot_update(&o, &r, &res, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "refusing to delete 5 of 11"));
	assert_int_equal(count_lines(path), 2 + 1 + 11);
	o.force = true;
	assert_int_equal(snapshot_update(&o, &r, &res, err, sizeof(err)), 0);
	assert_true(res.written);
	assert_true(res.serial > first);
	assert_int_equal(res.removed, 5);
	assert_int_equal(count_lines(path), 2 + 1 + 6);
	records_free(&r);
	unlink(path);
	rmdir(dir);
}

/* Weighted sets as vpcdns-sync writes them: one set per pick, in proportion to the weights. */
static void test_weighted_pick(void **state)
{
	static const uint8_t apex[] = "\1z\4test";
	static const uint8_t www[] = "\3www\1z\4test";
	uint8_t soa[64], w1[8] = {90, 0, 0, 1, 10, 0, 0, 1}, w2[8] = {10, 1, 0, 1, 10, 0, 0, 2},
			 w3[8] = {0, 2, 0, 1, 10, 0, 0, 3};
	struct zone_builder *b = zone_builder_new("z.test");
	struct zone *z;
	const struct zone_node *node;
	char err[256];
	unsigned counts[4] = {0};

	(void)state;
	memset(soa, 0, sizeof(soa));
	memcpy(soa, apex, sizeof(apex));
	memcpy(soa + sizeof(apex), apex, sizeof(apex));
	assert_int_equal(
	    zone_builder_add(b, apex, 6, 60, soa, (uint16_t)(2 * sizeof(apex) + 20), NULL), 0);
	assert_int_equal(zone_builder_add(b, apex, 2, 60, apex, sizeof(apex), NULL), 0);
	assert_int_equal(zone_builder_add(b, www, ZONE_TYPE_WEIGHTED, 60, w1, 8, NULL), 0);
	assert_int_equal(zone_builder_add(b, www, ZONE_TYPE_WEIGHTED, 60, w2, 8, NULL), 0);
	assert_int_equal(zone_builder_add(b, www, ZONE_TYPE_WEIGHTED, 60, w3, 8, NULL), 0);
	z = zone_builder_finish(b, err, sizeof(err));
	assert_non_null(z);
	node = zone_find(z, www, sizeof(www));
	assert_non_null(node);
	/* The private type is not answered as such. */
	assert_null(zone_node_rrset(node, ZONE_TYPE_WEIGHTED));
	for (uint32_t r = 0; r < 1000; r++) {
		const struct zone_rrset *set = zone_node_pick(node, 1, r * 2654435761u);
		assert_non_null(set);
		assert_int_equal(set->count, 1);
		counts[set->rdata[0]->data[3]]++;
	}
	assert_true(counts[1] > 800 && counts[1] < 980);
	assert_true(counts[2] > 20 && counts[2] < 200);
	assert_int_equal(counts[3], 0); /* weight 0 */
	assert_null(zone_node_pick(node, 28, 7));
	zone_unref(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_route53_unescape), cmocka_unit_test(test_inventory_label),
	    cmocka_unit_test(test_records_merge),    cmocka_unit_test(test_records_place),
	    cmocka_unit_test(test_snapshot),         cmocka_unit_test(test_weighted_pick),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
