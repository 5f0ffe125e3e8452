#include "zones/zonedb.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf/log.h"
#include "zones/dns.h"

struct zonedb {
	struct zonedb_entry *entries;
	size_t count;
	unsigned max_labels; /* of the deepest apex: longer suffixes cannot be a zone */
	uint32_t *table;     /* entry index + 1, open addressing; 0 is empty */
	size_t mask;
};

size_t zonedb_count(const struct zonedb *db)
{
	return db->count;
}

const struct zonedb_entry *zonedb_entry(const struct zonedb *db, size_t i)
{
	return &db->entries[i];
}

void zonedb_free(struct zonedb *db)
{
	if (db == NULL)
		return;
	for (size_t i = 0; i < db->count; i++) {
		zone_unref(db->entries[i].zone);
		free(db->entries[i].allow);
	}
	free(db->entries);
	free(db->table);
	free(db);
}

static const struct zonedb_entry *lookup(const struct zonedb *db, const uint8_t *name, size_t len,
					 uint32_t h)
{
	for (size_t i = h & db->mask;; i = (i + 1) & db->mask) {
		uint32_t v = db->table[i];
		const struct zonedb_entry *e;
		if (v == 0)
			return NULL;
		e = &db->entries[v - 1];
		if (e->apex_len == len && memcmp(e->apex, name, len) == 0)
			return e;
	}
}

const struct zonedb_entry *zonedb_find(const struct zonedb *db, const uint8_t *qname,
				       size_t qname_len, const uint8_t *label_off,
				       const uint32_t *label_hash, unsigned nlabels)
{
	/* Most specific first: the full name, then each parent, then the root. */
	for (unsigned i = nlabels > db->max_labels ? nlabels - db->max_labels : 0; i <= nlabels;
	     i++) {
		size_t off = i < nlabels ? label_off[i] : qname_len - 1;
		const struct zonedb_entry *e =
		    lookup(db, qname + off, qname_len - off, label_hash[i]);
		if (e != NULL)
			return e;
	}
	return NULL;
}

static size_t reverse_name_v4(const uint8_t *a, uint8_t *out)
{
	size_t n = 0;

	for (int i = 3; i >= 0; i--) {
		char lab[4];
		int l = snprintf(lab, sizeof(lab), "%u", a[i]);
		out[n++] = (uint8_t)l;
		memcpy(out + n, lab, (size_t)l);
		n += (size_t)l;
	}
	memcpy(out + n, "\7in-addr\4arpa", 14);
	return n + 14;
}

static size_t reverse_name_v6(const uint8_t *a, uint8_t *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (int i = 15; i >= 0; i--) {
		out[n++] = 1;
		out[n++] = (uint8_t)hex[a[i] & 0xf];
		out[n++] = 1;
		out[n++] = (uint8_t)hex[a[i] >> 4];
	}
	memcpy(out + n, "\3ip6\4arpa", 10);
	return n + 10;
}

struct synth_state {
	struct zone_builder *builder;
	const uint8_t *apex;
	size_t apex_len;
	const struct acl *acl;
	int failed;
};

static bool ends_with(const uint8_t *name, size_t len, const uint8_t *suffix, size_t slen)
{
	const uint8_t *p = name;

	while (len > slen) {
		len -= 1 + *p;
		p += 1 + *p;
	}
	return len == slen && memcmp(p, suffix, slen) == 0;
}

static void synth_node(const struct zone_node *node, void *arg)
{
	struct synth_state *st = arg;
	static const uint16_t types[] = {DNS_TYPE_A, DNS_TYPE_AAAA};

	/* Glue belongs to another zone's servers, and a wildcard names no host. */
	if ((node->flags & ZONE_NODE_GLUE) || (node->name[0] == 1 && node->name[1] == '*'))
		return;
	for (size_t t = 0; t < 2; t++) {
		const struct zone_rrset *set = zone_node_rrset(node, types[t]);
		if (set == NULL)
			continue;
		for (size_t i = 0; i < set->count; i++) {
			uint8_t rev[DNS_MAX_NAME];
			size_t len;
			if (types[t] == DNS_TYPE_A && set->rdata[i]->len == 4)
				len = reverse_name_v4(set->rdata[i]->data, rev);
			else if (types[t] == DNS_TYPE_AAAA && set->rdata[i]->len == 16)
				len = reverse_name_v6(set->rdata[i]->data, rev);
			else
				continue;
			if (!ends_with(rev, len, st->apex, st->apex_len))
				continue;
			if (zone_builder_add(st->builder, rev, DNS_TYPE_PTR, set->ttl, node->name,
					     node->name_len, st->acl) < 0)
				st->failed = 1;
		}
	}
}

/* RFC 6303 section 3 style SOA and NS for a reverse zone made from nothing but synthesis. */
static int add_synth_apex(struct zone_builder *b, const uint8_t *apex, size_t apex_len)
{
	static const uint8_t rname[] = "\6nobody\7invalid";
	uint8_t soa[DNS_MAX_NAME + sizeof(rname) + 20];
	size_t n = 0;
	uint32_t serial = (uint32_t)time(NULL);
	const uint32_t fields[5] = {serial, 3600, 600, 86400, 60};

	memcpy(soa, apex, apex_len);
	n = apex_len;
	memcpy(soa + n, rname, sizeof(rname));
	n += sizeof(rname);
	for (size_t i = 0; i < 5; i++, n += 4)
		dns_put32(soa + n, fields[i]);
	if (zone_builder_add(b, apex, DNS_TYPE_SOA, 300, soa, (uint16_t)n, NULL) < 0 ||
	    zone_builder_add(b, apex, DNS_TYPE_NS, 300, apex, (uint16_t)apex_len, NULL) < 0)
		return -1;
	return 0;
}

static struct zone *build_reverse(const struct config_zone *cz, struct zonedb *db, char *err,
				  size_t errlen)
{
	struct zone_builder *b = zone_builder_new(cz->name);
	struct synth_state st;
	uint8_t apex[DNS_MAX_NAME];

	if (b == NULL) {
		snprintf(err, errlen, "zone %s: out of memory", cz->name);
		return NULL;
	}
	st.apex_len = zone_name_to_wire(cz->name, apex);
	st.apex = apex;
	st.builder = b;
	st.failed = 0;
	if (cz->file != NULL) {
		if (zone_builder_load_file(b, cz->file, err, errlen) < 0) {
			zone_builder_free(b);
			return NULL;
		}
	} else if (add_synth_apex(b, apex, st.apex_len) < 0) {
		st.failed = 1;
	}
	for (size_t i = 0; i < db->count; i++) {
		if (db->entries[i].zone == NULL)
			continue; /* another reverse zone, not built yet */
		st.acl = db->entries[i].allow;
		zone_foreach(db->entries[i].zone, synth_node, &st);
	}
	if (st.failed) {
		zone_builder_free(b);
		snprintf(err, errlen, "zone %s: out of memory", cz->name);
		return NULL;
	}
	return zone_builder_finish(b, err, errlen);
}

/*
 * Where a zone's data comes from: a synced zone (route53, inventory) from the
 * snapshot vpcdns-sync writes, which already merges the zone's own file; until
 * the first snapshot exists, from its file alone, or from nothing (the zone then
 * answers SERVFAIL, never a false NXDOMAIN).
 */
static const char *zone_source(const struct config *config, const struct config_zone *cz, char *buf,
			       size_t len)
{
	if (config_zone_synced(cz)) {
		snprintf(buf, len, "%s/%s.zone", config->state_dir, cz->name);
		if (access(buf, R_OK) == 0)
			return buf;
	}
	return cz->file;
}

static struct zone *reuse_or_load(const char *name, const char *path, const struct zonedb *old,
				  char *err, size_t errlen)
{
	if (old != NULL) {
		for (size_t i = 0; i < old->count; i++) {
			struct zone *z = old->entries[i].zone;
			const char *file = z != NULL ? zone_file(z) : NULL;
			if (file != NULL && strcmp(zone_name(z), name) == 0 &&
			    strcmp(file, path) == 0 && zone_files_unchanged(z))
				return zone_ref(z);
		}
	}
	return zone_load(name, path, err, errlen);
}

/*
 * Locally served zones (RFC 6303 4, RFC 7793): reverse zones of private and
 * special ranges answered NXDOMAIN here instead of leaking to upstreams.
 */
static const char *const local_zones[] = {
    "10.in-addr.arpa",
    "16.172.in-addr.arpa",
    "17.172.in-addr.arpa",
    "18.172.in-addr.arpa",
    "19.172.in-addr.arpa",
    "20.172.in-addr.arpa",
    "21.172.in-addr.arpa",
    "22.172.in-addr.arpa",
    "23.172.in-addr.arpa",
    "24.172.in-addr.arpa",
    "25.172.in-addr.arpa",
    "26.172.in-addr.arpa",
    "27.172.in-addr.arpa",
    "28.172.in-addr.arpa",
    "29.172.in-addr.arpa",
    "30.172.in-addr.arpa",
    "31.172.in-addr.arpa",
    "168.192.in-addr.arpa",
    "0.in-addr.arpa",
    "127.in-addr.arpa",
    "254.169.in-addr.arpa",
    "2.0.192.in-addr.arpa",
    "100.51.198.in-addr.arpa",
    "113.0.203.in-addr.arpa",
    "255.255.255.255.in-addr.arpa",
    "64.100.in-addr.arpa",
    "65.100.in-addr.arpa",
    "66.100.in-addr.arpa",
    "67.100.in-addr.arpa",
    "68.100.in-addr.arpa",
    "69.100.in-addr.arpa",
    "70.100.in-addr.arpa",
    "71.100.in-addr.arpa",
    "72.100.in-addr.arpa",
    "73.100.in-addr.arpa",
    "74.100.in-addr.arpa",
    "75.100.in-addr.arpa",
    "76.100.in-addr.arpa",
    "77.100.in-addr.arpa",
    "78.100.in-addr.arpa",
    "79.100.in-addr.arpa",
    "80.100.in-addr.arpa",
    "81.100.in-addr.arpa",
    "82.100.in-addr.arpa",
    "83.100.in-addr.arpa",
    "84.100.in-addr.arpa",
    "85.100.in-addr.arpa",
    "86.100.in-addr.arpa",
    "87.100.in-addr.arpa",
    "88.100.in-addr.arpa",
    "89.100.in-addr.arpa",
    "90.100.in-addr.arpa",
    "91.100.in-addr.arpa",
    "92.100.in-addr.arpa",
    "93.100.in-addr.arpa",
    "94.100.in-addr.arpa",
    "95.100.in-addr.arpa",
    "96.100.in-addr.arpa",
    "97.100.in-addr.arpa",
    "98.100.in-addr.arpa",
    "99.100.in-addr.arpa",
    "100.100.in-addr.arpa",
    "101.100.in-addr.arpa",
    "102.100.in-addr.arpa",
    "103.100.in-addr.arpa",
    "104.100.in-addr.arpa",
    "105.100.in-addr.arpa",
    "106.100.in-addr.arpa",
    "107.100.in-addr.arpa",
    "108.100.in-addr.arpa",
    "109.100.in-addr.arpa",
    "110.100.in-addr.arpa",
    "111.100.in-addr.arpa",
    "112.100.in-addr.arpa",
    "113.100.in-addr.arpa",
    "114.100.in-addr.arpa",
    "115.100.in-addr.arpa",
    "116.100.in-addr.arpa",
    "117.100.in-addr.arpa",
    "118.100.in-addr.arpa",
    "119.100.in-addr.arpa",
    "120.100.in-addr.arpa",
    "121.100.in-addr.arpa",
    "122.100.in-addr.arpa",
    "123.100.in-addr.arpa",
    "124.100.in-addr.arpa",
    "125.100.in-addr.arpa",
    "126.100.in-addr.arpa",
    "127.100.in-addr.arpa",
    "d.f.ip6.arpa",
    "8.e.f.ip6.arpa",
    "9.e.f.ip6.arpa",
    "a.e.f.ip6.arpa",
    "b.e.f.ip6.arpa",
    "8.b.d.0.1.0.0.2.ip6.arpa",
    "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
};
#define NLOCAL (sizeof(local_zones) / sizeof(local_zones[0]))

/* name is at or below ancestor (both lower case, no trailing dot; "." is the root). */
static bool covers(const char *ancestor, const char *name)
{
	size_t a = strlen(ancestor), n = strlen(name);

	if (strcmp(ancestor, ".") == 0)
		return true;
	return n >= a && strcmp(name + n - a, ancestor) == 0 && (n == a || name[n - a - 1] == '.');
}

/* A local zone stands unless a served zone or an explicit forward rule covers it. */
static bool local_zone_wanted(const struct config *config, const char *name)
{
	for (size_t i = 0; i < config->nzones; i++)
		if (covers(config->zones[i].name, name))
			return false;
	for (size_t i = 0; i < config->nforwards; i++)
		if (strcmp(config->forwards[i].name, ".") != 0 &&
		    covers(config->forwards[i].name, name))
			return false;
	return true;
}

static struct zone *build_local(const char *name, char *err, size_t errlen)
{
	struct zone_builder *b = zone_builder_new(name);
	uint8_t apex[DNS_MAX_NAME];
	size_t len = zone_name_to_wire(name, apex);

	if (b == NULL || len == 0 || add_synth_apex(b, apex, len) < 0) {
		zone_builder_free(b);
		snprintf(err, errlen, "zone %s: out of memory", name);
		return NULL;
	}
	return zone_builder_finish(b, err, errlen);
}

struct zonedb *zonedb_build(const struct config *config, const struct zonedb *old, char *err,
			    size_t errlen)
{
	struct zonedb *db = calloc(1, sizeof(*db));
	size_t size = 16;

	if (db == NULL)
		goto oom;
	while (size < (config->nzones + NLOCAL) * 2)
		size *= 2;
	db->table = calloc(size, sizeof(*db->table));
	db->mask = size - 1;
	db->entries = calloc(config->nzones + NLOCAL + 1, sizeof(*db->entries));
	if (db->table == NULL || db->entries == NULL)
		goto oom;
	db->count = config->nzones;
	for (size_t i = 0; i < config->nzones; i++) {
		const struct config_zone *cz = &config->zones[i];
		struct zonedb_entry *e = &db->entries[i];
		e->apex_len = zone_name_to_wire(cz->name, e->apex);
		if (cz->allow != NULL) {
			e->allow = malloc(sizeof(*e->allow) +
					  cz->allow->count * sizeof(cz->allow->entries[0]));
			if (e->allow == NULL)
				goto oom;
			memcpy(e->allow, cz->allow,
			       sizeof(*e->allow) +
				   cz->allow->count * sizeof(cz->allow->entries[0]));
		}
		if (cz->synthesize_ptr)
			continue;
		{
			char snap[4096];
			const char *src = zone_source(config, cz, snap, sizeof(snap));
			if (src == NULL) {
				e->pending =
				    true; /* no snapshot yet: SERVFAIL until the first sync */
				continue;
			}
			e->zone = reuse_or_load(cz->name, src, old, err, errlen);
			if (e->zone == NULL)
				goto fail;
		}
	}
	/* Reverse zones last: they are made from the forward zones' addresses. */
	for (size_t i = 0; i < config->nzones; i++) {
		if (!config->zones[i].synthesize_ptr)
			continue;
		/* Built before the forward zones' snapshots exist: only what is loaded. */
		db->entries[i].zone = build_reverse(&config->zones[i], db, err, errlen);
		if (db->entries[i].zone == NULL)
			goto fail;
	}
	/* A resolver answers private reverse names itself (RFC 6303). */
	for (size_t i = 0; config->recursion && i < NLOCAL; i++) {
		struct zonedb_entry *e = &db->entries[db->count];
		if (!local_zone_wanted(config, local_zones[i]))
			continue;
		e->apex_len = zone_name_to_wire(local_zones[i], e->apex);
		e->local = true;
		e->zone = build_local(local_zones[i], err, errlen);
		if (e->zone == NULL)
			goto fail;
		db->count++;
	}
	for (size_t i = 0; i < db->count; i++) {
		unsigned labels = 0;
		for (size_t p = 0; db->entries[i].apex[p] != 0; p += 1 + db->entries[i].apex[p])
			labels++;
		if (labels > db->max_labels)
			db->max_labels = labels;
	}
	for (size_t i = 0; i < db->count; i++) {
		uint32_t h = dns_name_hash(db->entries[i].apex, db->entries[i].apex_len);
		size_t j = h & db->mask;
		while (db->table[j] != 0)
			j = (j + 1) & db->mask;
		db->table[j] = (uint32_t)(i + 1);
	}
	return db;
oom:
	snprintf(err, errlen, "zones: out of memory");
fail:
	zonedb_free(db);
	return NULL;
}
