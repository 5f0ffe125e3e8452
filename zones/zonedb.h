/*
 * zonedb: the set of zones vpcdnsd serves, built from the config and
 * published as one immutable snapshot.
 *
 * zonedb_build loads every zone of the config (reusing, from the previous set,
 * zones whose files did not change), then synthesizes the PTR records of
 * reverse zones marked synthesize_ptr from the A and AAAA records of the
 * others. Either the whole set builds, or nothing changes. zonedb_find picks
 * the most specific zone for a query name without allocating.
 */
#ifndef ZONES_ZONEDB_H
#define ZONES_ZONEDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "zones/zone.h"

struct zonedb_entry {
	struct zone *zone;
	struct acl *allow; /* NULL: the server-wide allow list alone decides */
	uint8_t apex[256];
	size_t apex_len;
	bool local;   /* an RFC 6303 locally served zone, not from the config */
	bool pending; /* synced zone with no data yet: zone is NULL, answers SERVFAIL */
};

struct zonedb;

/*
 * Builds the zone set for config. old (may be NULL) lends zones whose files
 * are unchanged. Returns NULL with "file:line: reason" lines in err.
 */
struct zonedb *zonedb_build(const struct config *config, const struct zonedb *old, char *err,
			    size_t errlen);

void zonedb_free(struct zonedb *db);

/*
 * The most specific zone containing the lower-cased wire name qname, whose
 * label i starts at label_off[i] (nlabels labels before the root) and whose
 * suffix from label i on has the hash label_hash[i] (dns_suffix_hashes);
 * NULL if none.
 */
const struct zonedb_entry *zonedb_find(const struct zonedb *db, const uint8_t *qname,
				       size_t qname_len, const uint8_t *label_off,
				       const uint32_t *label_hash, unsigned nlabels);

size_t zonedb_count(const struct zonedb *db);
const struct zonedb_entry *zonedb_entry(const struct zonedb *db, size_t i);

#endif
