/*
 * snapshot: a synced zone on disk, the only thing vpcdns-sync hands vpcdnsd.
 *
 * The zone is written as an RFC 1035 master file in the state directory:
 * temp file, fsync, rename, fsync of the folder, so vpcdnsd sees the old file
 * or the new one, never half. Its SOA serial grows only when the records
 * changed. A change that would delete more than the allowed share of the
 * records is refused unless forced (zones of fewer than SNAPSHOT_GUARD_MIN
 * records are exempt, unless the change leaves nothing below the apex).
 */
#ifndef SYNC_SNAPSHOT_H
#define SYNC_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sync/records.h"

#define SNAPSHOT_GUARD_MIN 10 /* records a zone needs before the deletion guard applies */

struct snapshot_opts {
	const char *dir;
	const char *zone;      /* "prod.internal" */
	unsigned negative_ttl; /* the SOA's TTL and MINIMUM (RFC 2308) */
	unsigned max_delete_percent;
	bool force;   /* write even past the deletion guard */
	bool dry_run; /* compute and print the diff, write nothing */
	FILE *diff;   /* "+added" / "-removed" lines go here; NULL: none */
};

struct snapshot_result {
	bool changed;
	bool written;
	uint32_t serial;
	size_t added, removed, total;
};

/*
 * Compares recs (normalized) with the zone's current snapshot and writes the
 * new one when it differs. Returns 0, or -1 with the reason in err (the old
 * snapshot is then untouched).
 */
int snapshot_update(const struct snapshot_opts *o, const struct records *recs,
		    struct snapshot_result *res, char *err, size_t errlen);

/* "DIR/ZONE.zone" into buf. */
void snapshot_path(const char *dir, const char *zone, const char *suffix, char *buf, size_t len);

#endif
