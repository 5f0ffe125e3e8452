#include "zones/zonedb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/log.h"
#include "zones/dns.h"

struct zonedb {
	struct zonedb_entry *entries;
	size_t count;
	uint32_t *table; /* entry index + 1, open addressing; 0 is empty */
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

static const struct zonedb_entry *lookup(const struct zonedb *db, const uint8_t *name, size_t len)
{
	uint32_t h = dns_name_hash(name, len);

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
				       size_t qname_len, const uint8_t *label_off, unsigned nlabels)
{
	/* Most specific first: the full name, then each parent, then the root. */
	for (unsigned i = 0; i <= nlabels; i++) {
		size_t off = i < nlabels ? label_off[i] : qname_len - 1;
		const struct zonedb_entry *e = lookup(db, qname + off, qname_len - off);
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

static struct zone *reuse_or_load(const struct config_zone *cz, const struct zonedb *old, char *err,
				  size_t errlen)
{
	if (old != NULL) {
		for (size_t i = 0; i < old->count; i++) {
			struct zone *z = old->entries[i].zone;
			const char *file = zone_file(z);
			if (strcmp(zone_name(z), cz->name) == 0 && file != NULL &&
			    strcmp(file, cz->file) == 0 && zone_files_unchanged(z))
				return zone_ref(z);
		}
	}
	return zone_load(cz->name, cz->file, err, errlen);
}

struct zonedb *zonedb_build(const struct config *config, const struct zonedb *old, char *err,
			    size_t errlen)
{
	struct zonedb *db = calloc(1, sizeof(*db));
	size_t size = 16;

	if (db == NULL)
		goto oom;
	while (size < config->nzones * 2)
		size *= 2;
	db->table = calloc(size, sizeof(*db->table));
	db->mask = size - 1;
	db->entries = calloc(config->nzones + 1, sizeof(*db->entries));
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
		e->zone = reuse_or_load(cz, old, err, errlen);
		if (e->zone == NULL)
			goto fail;
	}
	/* Reverse zones last: they are made from the forward zones' addresses. */
	for (size_t i = 0; i < config->nzones; i++) {
		if (!config->zones[i].synthesize_ptr)
			continue;
		db->entries[i].zone = build_reverse(&config->zones[i], db, err, errlen);
		if (db->entries[i].zone == NULL)
			goto fail;
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
