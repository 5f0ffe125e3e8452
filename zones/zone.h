/*
 * zone: one authoritative zone held in memory, immutable once built.
 *
 * zone_load reads an RFC 1035 master file with ldns ($ORIGIN, $TTL,
 * $INCLUDE, relative names), checks it (SOA and NS at the apex, no data
 * outside the zone, no CNAME beside other data) and builds the lookup
 * structure: one node per owner name and per empty non-terminal, in a hash
 * table keyed by the lower-cased wire name. Everything the query path needs
 * (zone cuts, wildcard children, additional-section targets) is computed
 * here, so a lookup only follows pointers and never allocates.
 *
 * A zone is shared between successive zone sets (a reload keeps the zones
 * whose files did not change), so it is reference counted.
 */
#ifndef ZONES_ZONE_H
#define ZONES_ZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf/netaddr.h"

struct zone_node;

struct zone_rdata {
	const struct zone_node *additional; /* in-zone node of an NS/MX/SRV target, or NULL */
	const struct acl *acl; /* synthesized PTR: only clients this acl admits see it */
	uint16_t len;
	uint8_t data[];
};

struct zone_rrset {
	uint16_t type;
	uint16_t count;
	uint32_t ttl;
	struct zone_rdata **rdata;
};

#define ZONE_NODE_APEX     0x01
#define ZONE_NODE_CUT      0x02 /* NS below the apex: a delegation */
#define ZONE_NODE_DNAME    0x04
#define ZONE_NODE_WILDCARD 0x08 /* has a child named "*" */
#define ZONE_NODE_GLUE     0x10 /* below a zone cut: only glue for referrals */

/*
 * Weighted record sets (Route 53 weighted routing): one set is chosen per
 * query, with a chance proportional to its weight. In a zone file they are
 * records of the private type ZONE_TYPE_WEIGHTED, rdata: weight (1 byte), set
 * number (1 byte), the record type (2 bytes), then that record's rdata.
 */
#define ZONE_TYPE_WEIGHTED 65432

struct zone_wset {
	uint32_t weight;
	struct zone_rrset rrset;
};

struct zone_weighted {
	uint16_t type;
	uint16_t nsets;
	uint32_t total; /* sum of the weights; 0: every set equally likely */
	struct zone_wset *sets;
};

struct zone_node {
	const uint8_t *name; /* lower-cased wire name */
	uint8_t name_len;
	uint8_t labels;
	uint8_t flags;
	uint16_t nrrsets;
	uint32_t hash;
	const struct zone_node *parent;
	const struct zone_node *wildcard; /* the "*" child, if any */
	struct zone_rrset *rrsets;
	struct zone_weighted *weighted; /* per type, when the node has weighted sets */
	uint16_t nweighted;
};

struct zone;

/* Input for a zone built by code rather than read from a file. */
struct zone_builder;

/*
 * Loads the zone named apex (presentation form, e.g. "prod.internal") from
 * path. Returns a zone with one reference, or NULL with "file:line: reason"
 * in err.
 */
struct zone *zone_load(const char *apex, const char *path, char *err, size_t errlen);

/* True when the files the zone was read from are unchanged on disk. */
bool zone_files_unchanged(const struct zone *zone);

struct zone *zone_ref(struct zone *zone);
void zone_unref(struct zone *zone);

/* The zone's apex as a lower-cased wire name, its label count, its SOA. */
const uint8_t *zone_apex(const struct zone *zone, size_t *len);
unsigned zone_apex_labels(const struct zone *zone);
const struct zone_node *zone_apex_node(const struct zone *zone);
const char *zone_name(const struct zone *zone);
const char *zone_file(const struct zone *zone);
size_t zone_record_count(const struct zone *zone);
uint32_t zone_serial(const struct zone *zone);

/* Finds the node for a lower-cased wire name, or NULL. */
const struct zone_node *zone_find(const struct zone *zone, const uint8_t *name, size_t len);

/* The RRset of a type at a node, or NULL. */
const struct zone_rrset *zone_node_rrset(const struct zone_node *node, uint16_t type);

/*
 * The RRset to answer with for type: the plain one, or one of the weighted
 * sets chosen by rnd (a fresh random number per query). NULL if none.
 */
const struct zone_rrset *zone_node_pick(const struct zone_node *node, uint16_t type, uint32_t rnd);

/* Iterates over every node (for building reverse zones). */
void zone_foreach(const struct zone *zone, void (*fn)(const struct zone_node *, void *), void *arg);

/*
 * Builder for zones made in code (synthesized reverse zones, tests). Names
 * are lower-cased wire names; rdata is uncompressed wire rdata.
 */
struct zone_builder *zone_builder_new(const char *apex);
int zone_builder_add(struct zone_builder *b, const uint8_t *owner, uint16_t type, uint32_t ttl,
		     const uint8_t *rdata, uint16_t rdlen, const struct acl *acl);
/* Reads a master file into the builder, as zone_load does. 0, or -1 with file:line in err. */
int zone_builder_load_file(struct zone_builder *b, const char *path, char *err, size_t errlen);
/* Discards a builder that will not be finished. */
void zone_builder_free(struct zone_builder *b);
/* Builds and checks the zone, frees the builder. NULL with the reason in err. */
struct zone *zone_builder_finish(struct zone_builder *b, char *err, size_t errlen);

/* Converts a presentation name ("a.b" or "a.b.") to a lower-cased wire name; length or 0. */
size_t zone_name_to_wire(const char *text, uint8_t *wire);

/* Writes the presentation form of a wire name (with the final dot). */
void zone_name_to_text(const uint8_t *wire, char *out, size_t outlen);

#endif
