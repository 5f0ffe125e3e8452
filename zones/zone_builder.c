/*
 * The zone builder (see zones/zone.h): records go in as they come, from a
 * master file (zones/zone_reader.c) or from code; zone_builder_finish groups
 * them by owner, checks them and makes the zone: one node per owner name and
 * per empty non-terminal, in the hash table, linked to its parent, its
 * wildcard child and the in-zone targets of its NS, MX and SRV records, with
 * its answers rendered (zones/zone_render.c).
 */
#include "zones/zone.h"

#include <stdlib.h>
#include <string.h>

#include "zones/dns.h"
#include "zones/zone_impl.h"

#define NO_RECORD      UINT32_MAX
#define PREFETCH_AHEAD 16 /* table slots fetched ahead when many names go in at once */

/*
 * The builder keeps records compactly until the zone is built: their owner
 * names once per owner, names and rdata in one arena, and the records of an
 * owner chained in the order they were added.
 */
struct record {
	const uint8_t *rdata;
	const struct acl *acl;
	uint32_t ttl;
	uint32_t next; /* the owner's next record, or NO_RECORD */
	int line;
	uint16_t type;
	uint16_t rdlen;
	uint16_t source; /* index into the builder's sources: the file, or 0 for none */
};

struct owner {
	const uint8_t *name; /* lower-cased */
	uint32_t hash;
	uint32_t first, last;
	uint8_t len;
};

struct zone_builder *zone_builder_new(const char *apex)
{
	struct zone_builder *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->name = strdup(apex);
	b->apex_len = zone_name_to_wire(apex, b->apex);
	b->sources = calloc(1, sizeof(*b->sources));
	b->nsources = 1;
	if (b->name == NULL || b->apex_len == 0 || b->sources == NULL) {
		free(b->name);
		free(b->sources);
		free(b);
		return NULL;
	}
	return b;
}

static void builder_free(struct zone_builder *b)
{
	for (size_t i = 0; i < b->nfiles; i++)
		free(b->files[i].path);
	for (size_t i = 0; i < b->nsources; i++)
		free(b->sources[i]);
	arena_free(&b->mem);
	free(b->sources);
	free(b->recs);
	free(b->owners);
	free(b->name);
	free(b->path);
	free(b);
}

void zone_builder_free(struct zone_builder *b)
{
	if (b != NULL)
		builder_free(b);
}

/* The index of path among the builder's sources, added if new; 0 when it cannot be kept. */
uint16_t zone_builder_source(struct zone_builder *b, const char *path)
{
	char **grown;

	for (size_t i = 1; i < b->nsources; i++)
		if (strcmp(b->sources[i], path) == 0)
			return (uint16_t)i;
	if (b->nsources > UINT16_MAX)
		return 0;
	grown = realloc(b->sources, (b->nsources + 1) * sizeof(*grown));
	if (grown == NULL)
		return 0;
	b->sources = grown;
	b->sources[b->nsources] = strdup(path);
	if (b->sources[b->nsources] == NULL)
		return 0;
	return (uint16_t)b->nsources++;
}

/* The file a record came from, for error messages. */
static const char *record_file(const struct zone_builder *b, const struct record *r)
{
	return r->source != 0 ? b->sources[r->source] : b->name;
}

/*
 * The owner entry for a record of the lower-cased name: the last one when the
 * name is the same (master files group records by owner), else a new one.
 * Entries of the same name made apart are merged when the zone is built.
 */
static struct owner *owner_get(struct zone_builder *b, const uint8_t *name, size_t len)
{
	struct owner *o;
	uint8_t *copy;

	if (b->nowners > 0) {
		o = &b->owners[b->nowners - 1];
		if (o->len == len && memcmp(o->name, name, len) == 0)
			return o;
	}
	if (b->nowners == b->owners_cap) {
		size_t cap = b->owners_cap ? b->owners_cap * 2 : 256;
		struct owner *grown = realloc(b->owners, cap * sizeof(*grown));
		if (grown == NULL)
			return NULL;
		b->owners = grown;
		b->owners_cap = cap;
	}
	copy = arena_alloc_align(&b->mem, len, 1);
	if (copy == NULL)
		return NULL;
	memcpy(copy, name, len);
	o = &b->owners[b->nowners++];
	o->name = copy;
	o->len = (uint8_t)len;
	o->hash = dns_name_hash(name, len);
	o->first = o->last = NO_RECORD;
	return o;
}

int zone_builder_put(struct zone_builder *b, const uint8_t *owner, uint16_t type, uint32_t ttl,
		     const uint8_t *rdata, uint16_t rdlen, const struct acl *acl, uint16_t source,
		     int line)
{
	uint8_t lower[DNS_MAX_NAME];
	size_t olen = wire_len(owner);
	struct owner *o;
	struct record *r;
	uint8_t *copy = NULL;

	if (b->nrecs >= NO_RECORD - 1)
		return -1;
	for (size_t i = 0; i < olen; i++)
		lower[i] = dns_lower(owner[i]);
	o = owner_get(b, lower, olen);
	if (o == NULL)
		return -1;
	if (b->nrecs == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		struct record *grown = realloc(b->recs, cap * sizeof(*grown));
		if (grown == NULL)
			return -1;
		b->recs = grown;
		b->cap = cap;
	}
	if (rdlen > 0) {
		copy = arena_alloc_align(&b->mem, rdlen, 1);
		if (copy == NULL)
			return -1;
		memcpy(copy, rdata, rdlen);
	}
	r = &b->recs[b->nrecs];
	r->rdata = copy;
	r->rdlen = rdlen;
	r->type = type;
	r->ttl = ttl;
	r->acl = acl;
	r->source = source;
	r->line = line;
	r->next = NO_RECORD;
	if (o->first == NO_RECORD)
		o->first = (uint32_t)b->nrecs;
	else
		b->recs[o->last].next = (uint32_t)b->nrecs;
	o->last = (uint32_t)b->nrecs;
	b->nrecs++;
	return 0;
}

int zone_builder_add(struct zone_builder *b, const uint8_t *owner, uint16_t type, uint32_t ttl,
		     const uint8_t *rdata, uint16_t rdlen, const struct acl *acl)
{
	uint8_t lower[DNS_MAX_NAME];
	size_t len = wire_len(owner);

	for (size_t i = 0; i < len; i++)
		lower[i] = dns_lower(owner[i]);
	if (!name_in_zone(lower, len, b->apex, b->apex_len))
		return -1;
	return zone_builder_put(b, lower, type, ttl, rdata, rdlen, acl, 0, 0);
}

/*
 * Joins the record chains of owner entries with the same name into the first
 * one; the others are left empty. Every probe of the table is a cache miss,
 * so the slot a later entry will probe is fetched ahead.
 */
static int merge_owners(struct zone_builder *b)
{
	size_t size = 64, mask;
	uint32_t *t;

	while (size < b->nowners * 2)
		size *= 2;
	t = calloc(size, sizeof(*t));
	if (t == NULL)
		return -1;
	mask = size - 1;
	for (size_t i = 0; i < b->nowners; i++) {
		struct owner *o = &b->owners[i], *first = NULL;
		size_t j;
		if (i + PREFETCH_AHEAD < b->nowners)
			__builtin_prefetch(&t[b->owners[i + PREFETCH_AHEAD].hash & mask]);
		for (j = o->hash & mask; t[j] != 0; j = (j + 1) & mask) {
			struct owner *p = &b->owners[t[j] - 1];
			if (p->hash == o->hash && p->len == o->len &&
			    memcmp(p->name, o->name, o->len) == 0) {
				first = p;
				break;
			}
		}
		if (first == NULL) {
			t[j] = (uint32_t)(i + 1);
			continue;
		}
		if (o->first == NO_RECORD)
			continue;
		if (first->first == NO_RECORD)
			first->first = o->first;
		else
			b->recs[first->last].next = o->first;
		first->last = o->last;
		o->first = o->last = NO_RECORD;
	}
	free(t);
	return 0;
}

/* The records of one owner, in the order they were added. */
static struct record **owner_records(struct zone_builder *b, const struct owner *o,
				     struct record ***buf, size_t *cap, size_t *n)
{
	*n = 0;
	for (uint32_t k = o->first; k != NO_RECORD; k = b->recs[k].next) {
		if (*n == *cap) {
			size_t grown_cap = *cap ? *cap * 2 : 64;
			struct record **grown = realloc(*buf, grown_cap * sizeof(*grown));
			if (grown == NULL)
				return NULL;
			*buf = grown;
			*cap = grown_cap;
		}
		(*buf)[(*n)++] = &b->recs[k];
	}
	return *buf;
}

static int cmp_record(const void *a, const void *b)
{
	const struct record *x = *(struct record *const *)a, *y = *(struct record *const *)b;
	size_t n = x->rdlen < y->rdlen ? x->rdlen : y->rdlen;
	int c;

	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	c = n > 0 ? memcmp(x->rdata, y->rdata, n) : 0;
	if (c != 0)
		return c;
	if (x->rdlen != y->rdlen)
		return x->rdlen < y->rdlen ? -1 : 1;
	/* Records sit in the builder's array in the order they were added. */
	return x < y ? -1 : x > y;
}

static bool same_rdata(const struct record *a, const struct record *b)
{
	return a->rdlen == b->rdlen && a->acl == b->acl &&
	       (a->rdlen == 0 || memcmp(a->rdata, b->rdata, a->rdlen) == 0);
}

static void table_put(struct zone_slot *t, size_t size, uint32_t h, struct zone_node *n)
{
	size_t i = slot_index(h, size);

	while (t[i].node != NULL)
		if (++i == size)
			i = 0;
	t[i].hash = h;
	t[i].node = n;
}

/* Room for n nodes with the table at most half full. */
static size_t table_size(size_t n)
{
	return n < 32 ? 64 : n * 2;
}

static int table_grow(struct zone *z, size_t size)
{
	struct zone_slot *t = calloc(size, sizeof(*t));

	if (t == NULL)
		return -1;
	for (size_t i = 0; i < z->size; i++)
		if (z->table[i].node != NULL)
			table_put(t, size, z->table[i].hash, z->table[i].node);
	free(z->table);
	z->table = t;
	z->size = size;
	return 0;
}

/* Every node of a zone being built, in the order they were made. */
struct nodes {
	struct zone_node **v;
	size_t n, cap;
};

static size_t round8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/*
 * Makes a node the table does not have yet, with extra bytes after its name
 * for its RRsets, and adds it to the table and to all.
 */
static struct zone_node *node_new(struct zone *z, struct nodes *all, const uint8_t *name,
				  size_t len, uint32_t h, size_t extra)
{
	size_t header = round8(offsetof(struct zone_node, name) + len);
	struct zone_node *n;

	/* Past 60% full the table grows back to half full. */
	if ((z->nnodes + 1) * 10 > z->size * 6 && table_grow(z, table_size(z->nnodes + 1)) < 0)
		return NULL;
	if (all->n == all->cap) {
		size_t cap = all->cap ? all->cap * 2 : 256;
		struct zone_node **grown = realloc(all->v, cap * sizeof(*grown));
		if (grown == NULL)
			return NULL;
		all->v = grown;
		all->cap = cap;
	}
	n = arena_alloc(&z->arena, header + extra);
	if (n == NULL)
		return NULL;
	memset(n, 0, sizeof(*n));
	memcpy(n->name, name, len);
	n->name_len = (uint8_t)len;
	n->labels = (uint8_t)name_labels(name);
	n->hash = h;
	table_put(z->table, z->size, h, n);
	z->nnodes++;
	all->v[all->n++] = n;
	return n;
}

/* The node's weighted sets of type, added if it has none yet. */
static struct zone_weighted *weighted_of(struct zone *z, struct zone_node *node, uint16_t type)
{
	struct zone_weighted *g = NULL, *grown;

	for (size_t k = 0; k < node->nweighted; k++)
		if (node->weighted[k].type == type)
			g = &node->weighted[k];
	if (g != NULL)
		return g;
	grown = arena_alloc(&z->arena, (node->nweighted + 1u) * sizeof(*grown));
	if (grown == NULL)
		return NULL;
	if (node->nweighted > 0)
		memcpy(grown, node->weighted, node->nweighted * sizeof(*grown));
	node->weighted = grown;
	g = &node->weighted[node->nweighted++];
	memset(g, 0, sizeof(*g));
	g->type = type;
	return g;
}

/*
 * The set of g that the weighted record rd (weight, set number, type, rdata)
 * belongs to, added with rd's weight and ttl if new: sets are numbered by the
 * writer, and weights are per set.
 */
static struct zone_wset *wset_of(struct zone *z, struct zone_weighted *g,
				 const struct zone_rdata *rd, uint32_t ttl)
{
	struct zone_wset *set = NULL, *grown;

	for (size_t k = 0; k < g->nsets; k++)
		if (g->sets[k].rrset.type == g->type &&
		    (size_t)(g->sets[k].weight >> 16) == rd->data[1])
			set = &g->sets[k];
	if (set != NULL)
		return set;
	grown = arena_alloc(&z->arena, (g->nsets + 1u) * sizeof(*grown));
	if (grown == NULL)
		return NULL;
	if (g->nsets > 0)
		memcpy(grown, g->sets, g->nsets * sizeof(*grown));
	g->sets = grown;
	set = &g->sets[g->nsets++];
	memset(set, 0, sizeof(*set));
	/* The set number rides in the high bits until the weights are summed. */
	set->weight = (uint32_t)rd->data[1] << 16 | rd->data[0];
	set->rrset.type = g->type;
	set->rrset.ttl = ttl;
	return set;
}

/* Appends a copy of len bytes of rdata to set. 0, or -1 when out of memory. */
static int wset_add(struct zone *z, struct zone_rrset *set, const uint8_t *data, size_t len)
{
	struct zone_rdata *copy = arena_alloc(&z->arena, sizeof(*copy) + len);
	struct zone_rdata **grown;

	if (copy == NULL)
		return -1;
	copy->additional = NULL;
	copy->acl = NULL;
	copy->len = (uint16_t)len;
	memcpy(copy->data, data, copy->len);
	grown = arena_alloc(&z->arena, (set->count + 1u) * sizeof(*grown));
	if (grown == NULL)
		return -1;
	if (set->count > 0)
		memcpy(grown, set->rdata, set->count * sizeof(*grown));
	grown[set->count++] = copy;
	set->rdata = grown;
	return 0;
}

/* Turns the node's ZONE_TYPE_WEIGHTED records into weighted sets per record type. */
static int build_weighted(struct zone *z, struct zone_node *node, const struct zone_rrset *w)
{
	for (size_t i = 0; i < w->count; i++) {
		const struct zone_rdata *rd = w->rdata[i];
		struct zone_weighted *g;
		struct zone_wset *set;
		if (rd->len < 4)
			continue;
		g = weighted_of(z, node, dns_get16(rd->data + 2));
		set = g != NULL ? wset_of(z, g, rd, w->ttl) : NULL;
		if (set == NULL || wset_add(z, &set->rrset, rd->data + 4, rd->len - 4u) < 0)
			return -1;
	}
	for (size_t k = 0; k < node->nweighted; k++) {
		struct zone_weighted *g = &node->weighted[k];
		g->total = 0;
		for (size_t m = 0; m < g->nsets; m++) {
			g->sets[m].weight &= 0xffff;
			g->total += g->sets[m].weight;
		}
	}
	return 0;
}

static size_t rdata_size(size_t len)
{
	return round8(offsetof(struct zone_rdata, data) + len);
}

/*
 * Makes the node of one owner from its records, sorted by type and rdata: one
 * block holding the node, its RRsets, their rdata pointers and the rdata.
 */
static struct zone_node *build_group(struct zone *z, struct nodes *all, const struct owner *o,
				     struct record **r, size_t n)
{
	size_t ntypes = 0, nrd = 0, bytes = 0;
	struct zone_node *node;
	struct zone_rrset *sets;
	struct zone_rdata **ptrs;
	char *data;

	for (size_t i = 0; i < n; i++) {
		if (i == 0 || r[i]->type != r[i - 1]->type)
			ntypes++;
		else if (same_rdata(r[i], r[i - 1]))
			continue;
		nrd++;
		bytes += rdata_size(r[i]->rdlen);
	}
	node = node_new(z, all, o->name, o->len, o->hash,
			ntypes * sizeof(*sets) + nrd * sizeof(*ptrs) + bytes);
	if (node == NULL)
		return NULL;
	sets =
	    (struct zone_rrset *)((char *)node + round8(offsetof(struct zone_node, name) + o->len));
	ptrs = (struct zone_rdata **)(sets + ntypes);
	data = (char *)(ptrs + nrd);
	node->rrsets = sets;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		struct zone_rrset *set = &sets[node->nrrsets++];
		while (j < n && r[j]->type == r[i]->type)
			j++;
		set->type = r[i]->type;
		set->ttl = r[i]->ttl;
		set->rdata = ptrs;
		set->count = 0;
		for (size_t k = i; k < j; k++) {
			struct zone_rdata *rd;
			/* RFC 2181 5.2: one TTL per RRset; the lowest is the safe choice. */
			if (r[k]->ttl < set->ttl)
				set->ttl = r[k]->ttl;
			/* RFC 2181 5: an RRset is a set; drop exact duplicates. */
			if (k > i && same_rdata(r[k], r[k - 1]))
				continue;
			rd = (struct zone_rdata *)data;
			data += rdata_size(r[k]->rdlen);
			rd->additional = NULL;
			rd->acl = r[k]->acl;
			rd->len = r[k]->rdlen;
			if (rd->len > 0)
				memcpy(rd->data, r[k]->rdata, rd->len);
			*ptrs++ = rd;
			set->count++;
			z->nrecords++;
		}
		if (set->type == ZONE_TYPE_WEIGHTED) {
			if (build_weighted(z, node, set) < 0)
				return NULL;
			node->nrrsets--; /* not answered as such: the next RRset takes its place */
		}
		if (set->type == DNS_TYPE_NS && node->name_len != z->apex_len)
			node->flags |= ZONE_NODE_CUT;
		if (set->type == DNS_TYPE_DNAME)
			node->flags |= ZONE_NODE_DNAME;
		if (set->type == DNS_TYPE_CNAME)
			node->flags |= ZONE_NODE_CNAME;
		i = j;
	}
	return node;
}

/*
 * Checks the records of one owner, sorted by type: a CNAME alone (RFC 1034
 * 3.6.2), an SOA only at the apex, and at the apex one SOA and some NS.
 */
static int check_group(struct zone_builder *b, const struct owner *o, struct record **r, size_t n,
		       char *err, size_t errlen)
{
	bool apex = o->len == b->apex_len && memcmp(o->name, b->apex, b->apex_len) == 0;
	size_t cname = 0, other = 0, soa = 0, ns = 0;
	const struct record *cname_rec = NULL;

	for (size_t i = 0; i < n; i++) {
		switch (r[i]->type) {
		case DNS_TYPE_CNAME:
			cname++;
			cname_rec = r[i];
			break;
		case DNS_TYPE_RRSIG:
		case DNS_TYPE_NSEC:
			break;
		case DNS_TYPE_SOA:
			soa++;
			other++;
			if (!apex) {
				set_err(err, errlen, "%s:%d: SOA record not at the zone apex",
					record_file(b, r[i]), r[i]->line);
				return -1;
			}
			break;
		case DNS_TYPE_NS:
			ns++;
			other++;
			break;
		default:
			other++;
		}
	}
	if (cname > 1 || (cname > 0 && other > 0)) {
		char text[DNS_MAX_NAME * 4];
		zone_name_to_text(o->name, text, sizeof(text));
		set_err(err, errlen, "%s:%d: %s has a CNAME and other data (RFC 1034 3.6.2)",
			record_file(b, cname_rec), cname_rec->line, text);
		return -1;
	}
	if (apex && soa != 1) {
		set_err(err, errlen,
			"%s: zone %s needs exactly one SOA record at its apex, has %zu",
			b->path ? b->path : b->name, b->name, soa);
		return -1;
	}
	if (apex && ns == 0) {
		set_err(err, errlen, "%s: zone %s has no NS records at its apex",
			b->path ? b->path : b->name, b->name);
		return -1;
	}
	return 0;
}

/* Gives every node its parent, making the empty non-terminals on the way. */
static int link_parents(struct zone *z, struct nodes *all)
{
	/* Nodes made here are appended, and get their own parent later in the loop. */
	for (size_t i = 0; i < all->n; i++) {
		struct zone_node *n = all->v[i], *parent;
		const uint8_t *pname = n->name + 1 + n->name[0];
		size_t plen = n->name_len - 1u - n->name[0];
		uint32_t h;

		if (n->name_len <= z->apex_len)
			continue; /* the apex */
		h = dns_name_hash(pname, plen);
		parent = table_find(z, pname, plen, h);
		if (parent == NULL)
			parent = node_new(z, all, pname, plen, h, 0);
		if (parent == NULL)
			return -1;
		n = all->v[i]; /* all may have moved */
		n->parent = parent;
		if (n->name[0] == 1 && n->name[1] == '*') {
			parent->wildcard = n;
			parent->flags |= ZONE_NODE_WILDCARD;
		}
	}
	return 0;
}

static size_t additional_offset(uint16_t type)
{
	switch (type) {
	case DNS_TYPE_NS:
		return 0;
	case DNS_TYPE_MX:
		return 2;
	case DNS_TYPE_SRV:
		return 6;
	default:
		return SIZE_MAX;
	}
}

/*
 * Marks the nodes below a zone cut (glue) or a DNAME (occluded), and points
 * every NS, MX and SRV record to the in-zone node of its target, if any.
 */
static void link_additional(struct zone *z, const struct nodes *all)
{
	for (size_t i = 0; i < all->n; i++) {
		struct zone_node *n = all->v[i];
		for (const struct zone_node *p = n->parent; p != NULL; p = p->parent) {
			if (p->flags & ZONE_NODE_CUT)
				n->flags |= ZONE_NODE_GLUE;
			if (p->flags & ZONE_NODE_DNAME)
				n->flags |= ZONE_NODE_OCCLUDED;
		}
		for (size_t s = 0; s < n->nrrsets; s++) {
			struct zone_rrset *set = &n->rrsets[s];
			size_t off = additional_offset(set->type);
			if (off == SIZE_MAX)
				continue;
			for (size_t k = 0; k < set->count; k++) {
				struct zone_rdata *rd = set->rdata[k];
				uint8_t target[DNS_MAX_NAME];
				size_t len;
				if (off >= rd->len)
					continue;
				len = rdata_name(rd->data + off, rd->len - off, target);
				if (len == 0)
					continue;
				rd->additional =
				    table_find(z, target, len, dns_name_hash(target, len));
			}
		}
	}
}

/* Sets the out-of-memory error of building b; returns -1. */
static int out_of_memory(const struct zone_builder *b, char *err, size_t errlen)
{
	set_err(err, errlen, "zone %s: out of memory", b->name);
	return -1;
}

/*
 * An empty zone for the builder's apex, with a table sized for its owners;
 * the stamps of the files it was read from move to it. NULL when out of
 * memory.
 */
static struct zone *zone_new(struct zone_builder *b)
{
	struct zone *z = calloc(1, sizeof(*z));

	if (z == NULL)
		return NULL;
	z->refs = 1;
	z->name = strdup(b->name);
	z->file = b->path != NULL ? strdup(b->path) : NULL;
	memcpy(z->apex, b->apex, b->apex_len);
	z->apex_len = b->apex_len;
	z->apex_labels = name_labels(b->apex);
	z->size = table_size(b->nowners + 1);
	z->table = calloc(z->size, sizeof(*z->table));
	memcpy(z->files, b->files, sizeof(b->files));
	z->nfiles = b->nfiles;
	b->nfiles = 0; /* the paths now belong to the zone */
	if (z->name == NULL || z->table == NULL) {
		zone_destroy(z);
		return NULL;
	}
	return z;
}

/*
 * Makes the node of every owner, its records sorted and checked, into z and
 * all. 0, or -1 with the reason in err.
 */
static int build_nodes(struct zone_builder *b, struct zone *z, struct nodes *all, char *err,
		       size_t errlen)
{
	struct record **group = NULL;
	size_t group_cap = 0;
	bool have_apex = false;
	int rc = -1;

	for (size_t i = 0; i < b->nowners; i++) {
		const struct owner *o = &b->owners[i];
		size_t n;
		if (i + PREFETCH_AHEAD < b->nowners)
			__builtin_prefetch(
			    &z->table[slot_index(b->owners[i + PREFETCH_AHEAD].hash, z->size)]);
		if (o->first == NO_RECORD)
			continue; /* merged into an earlier entry of the same name */
		if (owner_records(b, o, &group, &group_cap, &n) == NULL) {
			out_of_memory(b, err, errlen);
			goto out;
		}
		if (n > 1)
			qsort(group, n, sizeof(*group), cmp_record);
		if (check_group(b, o, group, n, err, errlen) < 0)
			goto out;
		if (o->len == b->apex_len)
			have_apex = true;
		if (build_group(z, all, o, group, n) == NULL) {
			out_of_memory(b, err, errlen);
			goto out;
		}
	}
	if (!have_apex) {
		set_err(err, errlen, "%s: zone %s has no SOA record at its apex",
			b->path ? b->path : b->name, b->name);
		goto out;
	}
	rc = 0;
out:
	free(group);
	return rc;
}

/* The zone's serial, from its SOA. 0, or -1 with the reason in err when the SOA is malformed. */
static int read_serial(const struct zone_builder *b, struct zone *z, char *err, size_t errlen)
{
	const struct zone_rrset *soa = zone_node_rrset(z->apex_node, DNS_TYPE_SOA);
	const struct zone_rdata *rd = soa->rdata[0];
	size_t off = rdata_name(rd->data, rd->len, NULL);

	if (off > 0)
		off += rdata_name(rd->data + off, rd->len - off, NULL);
	if (off == 0 || off + 20 > rd->len) {
		set_err(err, errlen, "%s: zone %s: malformed SOA record",
			b->path ? b->path : b->name, b->name);
		return -1;
	}
	z->serial = dns_get32(rd->data + off);
	return 0;
}

struct zone *zone_builder_finish(struct zone_builder *b, char *err, size_t errlen)
{
	struct zone *z = zone_new(b);
	struct nodes all = {NULL, 0, 0};

	if (z == NULL || merge_owners(b) < 0)
		goto oom;
	if (build_nodes(b, z, &all, err, errlen) < 0)
		goto fail;
	if (link_parents(z, &all) < 0)
		goto oom;
	z->apex_node = table_find(z, z->apex, z->apex_len, dns_name_hash(z->apex, z->apex_len));
	((struct zone_node *)z->apex_node)->flags |= ZONE_NODE_APEX;
	link_additional(z, &all);
	for (size_t i = 0; i < all.n; i++)
		if (zone_render_ready(z, all.v[i]) < 0)
			goto oom;
	if (read_serial(b, z, err, errlen) < 0)
		goto fail;
	if (zone_render_negative(z) < 0)
		goto oom;
	free(all.v);
	builder_free(b);
	return z;
oom:
	out_of_memory(b, err, errlen);
fail:
	free(all.v);
	builder_free(b);
	if (z != NULL)
		zone_destroy(z);
	return NULL;
}
