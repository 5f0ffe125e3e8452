/*
 * zone: one authoritative zone held in memory, immutable once built.
 *
 * zone_load reads an RFC 1035 master file ($ORIGIN, $TTL, $INCLUDE,
 * relative names). The common record types (A, AAAA, NS, CNAME, PTR, MX,
 * TXT, SRV, SOA) written plainly are encoded straight to wire form; anything
 * else (other types, escapes, \# rdata, other classes, TTLs with units) goes
 * through ldns, which also words the error of a record it rejects. The zone
 * is checked (SOA and NS at the apex, no data outside the zone, no CNAME
 * beside other data) and the lookup structure built: one node per owner name
 * and per empty non-terminal, in a hash table keyed by the lower-cased wire
 * name. Everything the query path needs (zone cuts, wildcard children,
 * additional-section targets) is computed here, so a lookup only follows
 * pointers and never allocates.
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
#include "zones/dns.h"

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
#define ZONE_NODE_CNAME    0x20 /* has a CNAME */
#define ZONE_NODE_OCCLUDED 0x40 /* below a DNAME: names here are never answered */
/* A query for exactly the node's name is not answered from the node itself. */
#define ZONE_NODE_INDIRECT (ZONE_NODE_CUT | ZONE_NODE_GLUE | ZONE_NODE_OCCLUDED)

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

/*
 * An answer rendered when the zone is built, for a question for exactly the
 * node's name: as if the question sat at offset 12 (it always does), so the
 * compression pointers in wire go to the question, whatever its case, or to
 * earlier names of the same answer. wire is the answer section (an records)
 * and the additional section (ar records).
 */
struct zone_rendered {
	const uint8_t *wire;
	uint16_t qtype;
	uint16_t len;
	uint16_t an;
	uint16_t ar;
};

/*
 * What a query for exactly a node's name gets without a walk from the apex
 * (RFC 1034 4.3.2 step 3a), for the node's RRsets whose records carry names
 * to compress or additional data (NS, MX, SRV, PTR, SOA, CNAME, ...). At a
 * CNAME node answers[0] is the CNAME; a query for another type gets it, and
 * then the records of that type of target, owned by the name at packet offset
 * target_ptr; or only the CNAME when it leads out of the zone (cname_only).
 * A type not here (or a target that is not this simple) is built per query.
 */
struct zone_ready {
	const struct zone_node *target;
	uint16_t target_ptr;
	uint16_t count;
	bool cname_only;
	struct zone_rendered answers[];
};

/*
 * The SOA of a negative answer (RFC 2308 3: in the authority section, its TTL
 * the lesser of its own and MINIMUM), rendered for a question for the apex.
 * For a question for a name below the apex every compression pointer, at the
 * offsets ptr[] of wire, moves by the name's extra length: they all point to
 * the apex's part of the question or into the record itself. Unless the name
 * has, just above the apex, the label MNAME or RNAME has there (above[],
 * lower-cased, NULL when the name is not below the apex): those would then
 * point into the question's own labels.
 */
struct zone_negative {
	struct zone_rendered soa;
	uint16_t ptr[8];
	uint16_t nptr;
	const uint8_t *above[2];
};

/*
 * True for types whose records are written as they are stored: no name in
 * them is compressed (dns_rdata_names) and none adds to the additional
 * section (NS, MX, SRV). Their answers are not rendered ahead: copying the
 * rdata after a pointer to the question is all there is to do.
 */
static inline bool zone_type_plain(uint16_t type)
{
	size_t fixed;

	return dns_rdata_names(type, &fixed) == 0 && type != DNS_TYPE_SRV;
}

/*
 * A node is one block of the zone's arena: this header with the name at its
 * end, then its RRsets, their rdata pointers and the rdata, so that a lookup
 * that found the node finds its answer in the same few cache lines.
 */
struct zone_node {
	const struct zone_node *parent;
	const struct zone_node *wildcard; /* the "*" child, if any */
	struct zone_rrset *rrsets;
	struct zone_weighted *weighted; /* per type, when the node has weighted sets */
	const struct zone_ready *ready; /* rendered answers; NULL: none */
	uint32_t hash;
	uint16_t nrrsets;
	uint16_t nweighted;
	uint8_t name_len;
	uint8_t labels;
	uint8_t flags;
	uint8_t name[]; /* lower-cased wire name */
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
/* The rendered SOA for negative answers, or NULL (then they are built per query). */
const struct zone_negative *zone_negative(const struct zone *zone);

/* Finds the node for a lower-cased wire name, or NULL. */
const struct zone_node *zone_find(const struct zone *zone, const uint8_t *name, size_t len);
/* The same, with the name's dns_name_hash already known. */
const struct zone_node *zone_find_hash(const struct zone *zone, const uint8_t *name, size_t len,
				       uint32_t hash);

/*
 * Asks the CPU for what an answer for the name whose dns_name_hash is hash
 * reads, one level per stage, each once the last has arrived: the
 * table slot (0), the node it holds with its records (1), the answers
 * rendered for it (2). So zone_find_hash and the answer find them in the
 * CPU's caches. Never waits.
 */
#define ZONE_PREFETCH_STAGES 3
void zone_prefetch(const struct zone *zone, uint32_t hash, unsigned stage);

/* The answer rendered for qtype at a node, or NULL. */
static inline const struct zone_rendered *zone_ready_find(const struct zone_ready *r,
							  uint16_t qtype)
{
	for (size_t i = 0; i < r->count; i++)
		if (r->answers[i].qtype == qtype)
			return &r->answers[i];
	return NULL;
}

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

/*
 * For tests: true hands every record of a master file to ldns, the reference
 * the fast reader is checked against (never set in vpcdnsd); and the number of
 * records ldns has read so far, those the fast reader left to it.
 */
extern bool zone_reader_ldns_only;
extern unsigned long zone_reader_ldns_records;

/* Converts a presentation name ("a.b" or "a.b.") to a lower-cased wire name; length or 0. */
size_t zone_name_to_wire(const char *text, uint8_t *wire);

/* Writes the presentation form of a wire name (with the final dot). */
void zone_name_to_text(const uint8_t *wire, char *out, size_t outlen);

#endif
