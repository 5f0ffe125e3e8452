/*
 * zone_impl: the inside of a zone, shared by the files of the zone module and
 * by nothing else (the rest of the tree uses zones/zone.h):
 *
 *   zone.c          the built zone: lookup, weighted sets, accessors, references
 *   zone_builder.c  records in, a zone out: nodes, hash table, links, checks
 *   zone_reader.c   RFC 1035 master files into a builder (fast path, ldns)
 *   zone_render.c   the answers rendered while the zone is built
 *
 * The contract: a zone is built once by zone_builder_finish and never changes
 * after; everything it holds (nodes, rdata, rendered answers) lives in its one
 * arena and is freed with it. Names kept here are lower-cased wire names. The
 * helpers below are static inline because table_find is on the query path
 * and the others run once per record while a zone loads.
 */
#ifndef ZONES_ZONE_IMPL_H
#define ZONES_ZONE_IMPL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "zones/dns.h"
#include "zones/zone.h"

#define ARENA_CHUNK    (256 * 1024)
#define ZONE_MAX_FILES 64 /* files of one zone whose stamps are kept ($INCLUDE) */

/*
 * Bump allocator: a zone's nodes, names and rdata are freed all at once. The
 * chunks are large enough that malloc maps them on their own, so freeing a
 * zone gives its memory back to the kernel.
 */
struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	uint64_t data[];
};

struct arena {
	struct arena_chunk *head;
};

static inline void *arena_alloc_align(struct arena *a, size_t n, size_t align)
{
	struct arena_chunk *c = a->head;
	size_t at = c != NULL ? (c->used + align - 1) & ~(align - 1) : 0;

	if (c == NULL || at + n > c->size) {
		size_t size = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		c = malloc(sizeof(*c) + size);
		if (c == NULL)
			return NULL;
		c->size = size;
		c->used = 0;
		c->next = a->head;
		a->head = c;
		at = 0;
	}
	c->used = at + n;
	return (char *)c->data + at;
}

/* Structures: pointer alignment. */
static inline void *arena_alloc(struct arena *a, size_t n)
{
	return arena_alloc_align(a, n, sizeof(void *));
}

static inline void arena_free(struct arena *a)
{
	while (a->head != NULL) {
		struct arena_chunk *next = a->head->next;
		free(a->head);
		a->head = next;
	}
}

/* A file a zone was read from, as it was then: zone_files_unchanged compares. */
struct file_stamp {
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

/* The hash beside the pointer: a probe that misses never touches the node. */
struct zone_slot {
	uint32_t hash;
	struct zone_node *node;
};

/* A built zone; only zone_builder_finish and the renderer it calls write to it. */
struct zone {
	int refs;
	char *name;
	char *file;
	uint8_t apex[DNS_MAX_NAME];
	size_t apex_len;
	unsigned apex_labels;
	const struct zone_node *apex_node;
	uint32_t serial;
	size_t nrecords;
	struct arena arena;
	/* Open addressing with linear probing; any size (the hash is scaled, not masked). */
	struct zone_slot *table;
	size_t size;
	size_t nnodes;
	struct file_stamp files[ZONE_MAX_FILES];
	size_t nfiles;
	const struct zone_negative *negative;
};

struct owner;
struct record;

/*
 * A zone being built: its records, kept compactly by zone_builder.c (struct
 * record and struct owner are its own), and what the reader adds to it.
 */
struct zone_builder {
	char *name;
	uint8_t apex[DNS_MAX_NAME];
	size_t apex_len;
	struct arena mem; /* owner names and rdata */
	struct record *recs;
	size_t nrecs, cap;
	struct owner *owners; /* in the order first seen; a name may come back later */
	size_t nowners, owners_cap;
	char **sources; /* file names for error messages; [0] is NULL: made in code */
	size_t nsources;
	struct file_stamp files[ZONE_MAX_FILES];
	size_t nfiles;
	char *path; /* the master file zone_builder_load_file read, or NULL */
};

static inline void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Words an error into the caller's buffer. */
static inline void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Length of the uncompressed name at p (at most max bytes), copied lower-cased to lower if set. */
static inline size_t rdata_name(const uint8_t *p, size_t max, uint8_t *lower)
{
	size_t n = 0;

	while (n < max) {
		uint8_t l = p[n];
		if (l > 63 || n + 1 + l > max || n + 1 + l >= DNS_MAX_NAME)
			return 0;
		if (lower != NULL)
			for (size_t i = 0; i <= l; i++)
				lower[n + i] = dns_lower(p[n + i]);
		if (l == 0)
			return n + 1;
		n += 1 + (size_t)l;
	}
	return 0;
}

static inline size_t wire_len(const uint8_t *name)
{
	const uint8_t *p = name;

	while (*p != 0)
		p += 1 + *p;
	return (size_t)(p - name) + 1;
}

static inline unsigned name_labels(const uint8_t *name)
{
	unsigned n = 0;

	while (*name != 0) {
		n++;
		name += 1 + *name;
	}
	return n;
}

/* True when name is apex or below it (both lower-cased wire names). */
static inline bool name_in_zone(const uint8_t *name, size_t len, const uint8_t *apex,
				size_t apex_len)
{
	const uint8_t *p = name;

	while (len >= apex_len) {
		if (len == apex_len)
			return memcmp(p, apex, apex_len) == 0;
		if (*p == 0)
			return false;
		len -= 1 + *p;
		p += 1 + *p;
	}
	return false;
}

/* The hash scaled to the table size: any size works, so the table is sized to the zone. */
static inline size_t slot_index(uint32_t h, size_t size)
{
	return (size_t)(((uint64_t)h * size) >> 32);
}

/* The node of a lower-cased wire name whose dns_name_hash is h, or NULL. */
static inline struct zone_node *table_find(const struct zone *z, const uint8_t *name, size_t len,
					   uint32_t h)
{
	for (size_t i = slot_index(h, z->size);;) {
		const struct zone_slot *slot = &z->table[i];
		if (slot->node == NULL)
			return NULL;
		if (slot->hash == h && slot->node->name_len == len &&
		    memcmp(slot->node->name, name, len) == 0)
			return slot->node;
		if (++i == z->size)
			i = 0;
	}
}

/* Frees a zone and everything it holds (its last reference is gone, or it was never finished). */
void zone_destroy(struct zone *z);

/*
 * Adds a record to the builder; owner is a lower-cased wire name in the zone,
 * source an index from zone_builder_source (0: made in code) and line its
 * line there. 0, or -1 when out of memory.
 */
int zone_builder_put(struct zone_builder *b, const uint8_t *owner, uint16_t type, uint32_t ttl,
		     const uint8_t *rdata, uint16_t rdlen, const struct acl *acl, uint16_t source,
		     int line);

/* The index of path among the builder's sources, added if new; 0 when it cannot be kept. */
uint16_t zone_builder_source(struct zone_builder *b, const char *path);

/*
 * Renders the answers of one node that are worth it (struct zone_ready) into
 * the zone's arena; the zone's nodes are all made and linked. 0, or -1 when
 * out of memory.
 */
int zone_render_ready(struct zone *z, struct zone_node *n);

/*
 * Renders the SOA of negative answers (struct zone_negative) into
 * z->negative, or leaves it NULL when it is built per query. 0, or -1 when
 * out of memory.
 */
int zone_render_negative(struct zone *z);

#endif
