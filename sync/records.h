/*
 * records: the zone vpcdns-sync builds, as master-file records in
 * presentation form, before it becomes a snapshot.
 *
 * Each record remembers its source (file, route53, inventory) so that
 * conflicts can be resolved by the documented precedence (file, then
 * Route 53, then inventory) and reported, never silently.
 */
#ifndef SYNC_RECORDS_H
#define SYNC_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum record_source { SOURCE_FILE, SOURCE_ROUTE53, SOURCE_INVENTORY };

struct record {
	char *owner; /* absolute, lower case, presentation form with the final dot */
	uint32_t ttl;
	char type[16];
	char *rdata; /* presentation form */
	enum record_source source;
};

struct records {
	struct record *v;
	size_t n, cap;
	/* Records that were skipped, one line each: "name: reason". */
	char **problems;
	size_t nproblems;
};

void records_init(struct records *r);
void records_free(struct records *r);

/* Adds a record (strings copied). 0 or -1 (no memory). */
int records_add(struct records *r, const char *owner, uint32_t ttl, const char *type,
		const char *rdata, enum record_source source);

/* Notes a record that was left out, with the reason. */
void records_problem(struct records *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Moves every record and problem of src to the end of dst. */
int records_take(struct records *dst, struct records *src);

/*
 * Sorts, drops duplicates, checks each record with ldns (bad ones go to
 * problems), resolves conflicts by source precedence (a CNAME and other data
 * at one name: the higher source wins and the loser is reported), and drops
 * records outside zone (reported). zone is "prod.internal".
 */
void records_normalize(struct records *r, const char *zone);

/* Where a record belongs, as the caller (who knows every configured zone) decides. */
enum records_fate {
	RECORDS_KEEP,   /* it belongs to this zone */
	RECORDS_SKIP,   /* it belongs to another zone that takes it too: leave it quietly */
	RECORDS_REPORT, /* it would be lost: leave it and report why */
};

typedef enum records_fate (*records_placer)(void *arg, const char *owner, enum record_source source,
					    char *why, size_t whylen);

/* Drops every record place() does not keep (reported ones go to problems). */
void records_place(struct records *r, records_placer place, void *arg);

/* Writes "owner ttl IN type rdata" lines. */
void records_write(const struct records *r, FILE *out);

#endif
