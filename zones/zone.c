#include "zones/zone.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ldns/ldns.h>

#include "conf/log.h"
#include "zones/dns.h"

#define ARENA_CHUNK       (256 * 1024)
#define MAX_INCLUDE_DEPTH 10
#define MAX_FILES         64

/* Bump allocator: a zone's nodes, names and rdata are freed all at once. */
struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	max_align_t data[];
};

struct arena {
	struct arena_chunk *head;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	struct arena_chunk *c = a->head;

	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (c == NULL || c->used + n > c->size) {
		size_t size = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		c = malloc(sizeof(*c) + size);
		if (c == NULL)
			return NULL;
		c->size = size;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

static void arena_free(struct arena *a)
{
	while (a->head != NULL) {
		struct arena_chunk *next = a->head->next;
		free(a->head);
		a->head = next;
	}
}

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
	struct zone_slot *table; /* open addressing, power-of-two size */
	size_t mask;
	size_t nnodes;
	struct file_stamp files[MAX_FILES];
	size_t nfiles;
};

struct record {
	uint8_t *owner;
	uint8_t owner_len;
	uint16_t type;
	uint32_t ttl;
	uint16_t rdlen;
	uint8_t *rdata;
	int line;
	const char *file;
	const struct acl *acl;
	size_t seq;
};

struct zone_builder {
	char *name;
	uint8_t apex[DNS_MAX_NAME];
	size_t apex_len;
	struct record *recs;
	size_t nrecs, cap;
	struct file_stamp files[MAX_FILES];
	size_t nfiles;
	char *path;
};

#define name_hash dns_name_hash

/* Length of the uncompressed name at p (at most max bytes), copied lower-cased to lower if set. */
static size_t rdata_name(const uint8_t *p, size_t max, uint8_t *lower)
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

size_t zone_name_to_wire(const char *text, uint8_t *wire)
{
	size_t out = 0, len = strlen(text);
	const char *p = text;

	if (len == 0 || strcmp(text, ".") == 0) {
		wire[0] = 0;
		return 1;
	}
	while (*p != '\0') {
		const char *dot = strchr(p, '.');
		size_t l = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (l == 0 || l > 63 || out + l + 2 > DNS_MAX_NAME)
			return 0;
		wire[out++] = (uint8_t)l;
		for (size_t i = 0; i < l; i++)
			wire[out++] = dns_lower((uint8_t)p[i]);
		p += l;
		if (*p == '.')
			p++;
	}
	wire[out++] = 0;
	return out;
}

void zone_name_to_text(const uint8_t *wire, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen == 0)
		return;
	if (*wire == 0 && outlen > 1) {
		out[o++] = '.';
	}
	while (*wire != 0) {
		uint8_t l = *wire++;
		for (uint8_t i = 0; i < l; i++, wire++) {
			char tmp[5];
			uint8_t c = *wire;
			if (c == '.' || c == '\\')
				snprintf(tmp, sizeof(tmp), "\\%c", c);
			else if (c <= 32 || c >= 127)
				snprintf(tmp, sizeof(tmp), "\\%03u", c);
			else
				snprintf(tmp, sizeof(tmp), "%c", c);
			for (char *t = tmp; *t != '\0' && o + 1 < outlen; t++)
				out[o++] = *t;
		}
		if (o + 1 < outlen)
			out[o++] = '.';
	}
	out[o] = '\0';
}

static size_t wire_len(const uint8_t *name)
{
	const uint8_t *p = name;

	while (*p != 0)
		p += 1 + *p;
	return (size_t)(p - name) + 1;
}

static unsigned name_labels(const uint8_t *name)
{
	unsigned n = 0;

	while (*name != 0) {
		n++;
		name += 1 + *name;
	}
	return n;
}

/* True when name is apex or below it (both lower-cased wire names). */
static bool name_in_zone(const uint8_t *name, size_t len, const uint8_t *apex, size_t apex_len)
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

static void stamp_file(struct file_stamp *files, size_t *nfiles, const char *path, FILE *fp)
{
	struct stat st;

	if (*nfiles >= MAX_FILES || fstat(fileno(fp), &st) < 0)
		return;
	files[*nfiles].path = strdup(path);
	files[*nfiles].dev = st.st_dev;
	files[*nfiles].ino = st.st_ino;
	files[*nfiles].size = st.st_size;
	files[*nfiles].mtime = st.st_mtim;
	(*nfiles)++;
}

struct zone_builder *zone_builder_new(const char *apex)
{
	struct zone_builder *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->name = strdup(apex);
	b->apex_len = zone_name_to_wire(apex, b->apex);
	if (b->name == NULL || b->apex_len == 0) {
		free(b->name);
		free(b);
		return NULL;
	}
	return b;
}

static void builder_free(struct zone_builder *b)
{
	for (size_t i = 0; i < b->nrecs; i++) {
		free(b->recs[i].owner);
		free(b->recs[i].rdata);
	}
	for (size_t i = 0; i < b->nfiles; i++)
		free(b->files[i].path);
	free(b->recs);
	free(b->name);
	free(b->path);
	free(b);
}

static int builder_add(struct zone_builder *b, const uint8_t *owner, uint16_t type, uint32_t ttl,
		       const uint8_t *rdata, uint16_t rdlen, const struct acl *acl,
		       const char *file, int line)
{
	struct record *r;
	size_t olen = wire_len(owner);

	if (b->nrecs == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		struct record *grown = realloc(b->recs, cap * sizeof(*grown));
		if (grown == NULL)
			return -1;
		b->recs = grown;
		b->cap = cap;
	}
	r = &b->recs[b->nrecs];
	memset(r, 0, sizeof(*r));
	r->owner = malloc(olen);
	r->rdata = malloc(rdlen > 0 ? rdlen : 1);
	if (r->owner == NULL || r->rdata == NULL) {
		free(r->owner);
		free(r->rdata);
		return -1;
	}
	for (size_t i = 0; i < olen; i++)
		r->owner[i] = dns_lower(owner[i]);
	r->owner_len = (uint8_t)olen;
	memcpy(r->rdata, rdata, rdlen);
	r->rdlen = rdlen;
	r->type = type;
	r->ttl = ttl;
	r->acl = acl;
	r->file = file;
	r->line = line;
	r->seq = b->nrecs;
	b->nrecs++;
	return 0;
}

int zone_builder_add(struct zone_builder *b, const uint8_t *owner, uint16_t type, uint32_t ttl,
		     const uint8_t *rdata, uint16_t rdlen, const struct acl *acl)
{
	if (!name_in_zone(owner, wire_len(owner), b->apex, b->apex_len))
		return -1;
	return builder_add(b, owner, type, ttl, rdata, rdlen, acl, NULL, 0);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int add_ldns_rr(struct zone_builder *b, ldns_rr *rr, const char *path, int line, char *err,
		       size_t errlen)
{
	uint8_t rdata[65535];
	size_t rdlen = 0;
	ldns_rdf *owner = ldns_rr_owner(rr);
	char text[DNS_MAX_NAME * 4];

	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
		set_err(err, errlen, "%s:%d: class is not IN", path, line);
		return -1;
	}
	if (!name_in_zone(ldns_rdf_data(owner), ldns_rdf_size(owner), b->apex, b->apex_len)) {
		zone_name_to_text(ldns_rdf_data(owner), text, sizeof(text));
		set_err(err, errlen, "%s:%d: %s is outside the zone %s", path, line, text, b->name);
		return -1;
	}
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		ldns_rdf *rdf = ldns_rr_rdf(rr, i);
		if (rdlen + ldns_rdf_size(rdf) > sizeof(rdata)) {
			set_err(err, errlen, "%s:%d: rdata longer than 65535 bytes", path, line);
			return -1;
		}
		memcpy(rdata + rdlen, ldns_rdf_data(rdf), ldns_rdf_size(rdf));
		rdlen += ldns_rdf_size(rdf);
	}
	if (builder_add(b, ldns_rdf_data(owner), (uint16_t)ldns_rr_get_type(rr), ldns_rr_ttl(rr),
			rdata, (uint16_t)rdlen, NULL, path, line) < 0) {
		set_err(err, errlen, "%s:%d: out of memory", path, line);
		return -1;
	}
	return 0;
}

/*
 * Reads one logical record of a master file (RFC 1035 5.1): comments
 * dropped, lines inside parentheses joined, quoted strings and escapes kept.
 * Returns 1 with the record in buf and its first line in *start, 0 at the end
 * of the file, -1 with the reason in *why.
 */
struct reader {
	FILE *fp;
	int line;
};

static int read_record(struct reader *r, char *buf, size_t cap, int *start, const char **why)
{
	size_t n = 0;
	int depth = 0, open_line = 0, c;
	bool quoted = false, escaped = false, comment = false, content = false;

	*start = r->line;
	while ((c = getc(r->fp)) != EOF) {
		if (c == '\n') {
			r->line++;
			comment = false;
			escaped = false;
			if (quoted && depth == 0) {
				*why = "quoted string not closed on its line";
				return -1;
			}
			if (depth == 0) {
				if (content) {
					buf[n] = '\0';
					return 1;
				}
				n = 0;
				*start = r->line;
				continue;
			}
			c = ' ';
		} else if (comment) {
			continue;
		} else if (escaped) {
			escaped = false;
		} else if (c == '\\') {
			escaped = true;
		} else if (c == '"') {
			quoted = !quoted;
		} else if (!quoted && c == ';') {
			comment = true;
			continue;
		} else if (!quoted && c == '(') {
			if (depth++ == 0)
				open_line = r->line;
			c = ' ';
		} else if (!quoted && c == ')') {
			if (depth == 0) {
				*why = "')' without '('";
				return -1;
			}
			depth--;
			c = ' ';
		}
		if (c == '\r')
			c = ' ';
		if (c != ' ' && c != '\t')
			content = true;
		if (n + 1 >= cap) {
			*why = "record longer than 64 KiB";
			return -1;
		}
		buf[n++] = (char)c;
	}
	if (depth > 0) {
		static char msg[64];
		snprintf(msg, sizeof(msg), "'(' at line %d is never closed", open_line);
		*why = msg;
		return -1;
	}
	if (quoted) {
		*why = "quoted string not closed";
		return -1;
	}
	buf[n] = '\0';
	return content ? 1 : 0;
}

static bool is_class(const char *t, size_t n)
{
	return (n == 2 && (strncasecmp(t, "IN", 2) == 0 || strncasecmp(t, "CH", 2) == 0 ||
			   strncasecmp(t, "HS", 2) == 0 || strncasecmp(t, "CS", 2) == 0)) ||
	       (n > 5 && strncasecmp(t, "CLASS", 5) == 0);
}

/* "name IN 300 A ..." is as valid as "name 300 IN A ..." (RFC 1035 5.1); ldns wants the latter. */
static void ttl_before_class(char *rec)
{
	char *p = rec, *t1, *t2;
	size_t n1, n2;

	if (*p != ' ' && *p != '\t')
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
	while (*p == ' ' || *p == '\t')
		p++;
	t1 = p;
	while (*p != '\0' && *p != ' ' && *p != '\t')
		p++;
	n1 = (size_t)(p - t1);
	while (*p == ' ' || *p == '\t')
		p++;
	t2 = p;
	while (*p != '\0' && *p != ' ' && *p != '\t')
		p++;
	n2 = (size_t)(p - t2);
	if (n1 == 0 || n2 == 0 || n1 + n2 >= 64 || !is_class(t1, n1) ||
	    !isdigit((unsigned char)*t2))
		return;
	{
		char a[64], b[64];
		memcpy(a, t1, n1);
		memcpy(b, t2, n2);
		/* Same total length: write "t2 t1" over "t1 ... t2". */
		memset(t1, ' ', (size_t)(t2 + n2 - t1));
		memcpy(t1, b, n2);
		memcpy(t1 + n2 + 1, a, n1);
	}
}

/* Resolves a name of a directive against the current origin. */
static ldns_rdf *directive_name(const char *text, const ldns_rdf *origin)
{
	ldns_rdf *rel = NULL, *abs;

	if (strcmp(text, "@") == 0)
		return ldns_rdf_clone(origin);
	if (ldns_str2rdf_dname(&rel, text) != LDNS_STATUS_OK)
		return NULL;
	if (text[strlen(text) - 1] == '.')
		return rel;
	abs = ldns_dname_cat_clone(rel, origin);
	ldns_rdf_deep_free(rel);
	return abs;
}

static int load_file(struct zone_builder *b, const char *path, ldns_rdf *origin, uint32_t *ttl,
		     int depth, char *err, size_t errlen);

static int include_file(struct zone_builder *b, const char *path, int line, const char *args,
			const ldns_rdf *origin, uint32_t ttl, int depth, char *err, size_t errlen)
{
	char file[PATH_MAX], incorigin[DNS_MAX_NAME * 4 + 1];
	int found = sscanf(args, "%4095s %1020s", file, incorigin), rc;
	ldns_rdf *neworigin;

	if (found < 1) {
		set_err(err, errlen, "%s:%d: $INCLUDE needs a file name", path, line);
		return -1;
	}
	if (depth >= MAX_INCLUDE_DEPTH) {
		set_err(err, errlen, "%s:%d: $INCLUDE nested deeper than %d", path, line,
			MAX_INCLUDE_DEPTH);
		return -1;
	}
	if (file[0] != '/') {
		/* A relative name is taken from the including file's folder. */
		char joined[2 * PATH_MAX + 2];
		const char *slash = strrchr(path, '/');
		int dirlen = slash != NULL ? (int)(slash - path) : 1;
		snprintf(joined, sizeof(joined), "%.*s/%s", dirlen, slash != NULL ? path : ".",
			 file);
		if (strlen(joined) >= sizeof(file)) {
			set_err(err, errlen, "%s:%d: $INCLUDE path too long", path, line);
			return -1;
		}
		memcpy(file, joined, strlen(joined) + 1);
	}
	neworigin = found == 2 ? directive_name(incorigin, origin) : ldns_rdf_clone(origin);
	if (neworigin == NULL) {
		set_err(err, errlen, "%s:%d: $INCLUDE origin '%s' is not a name", path, line,
			incorigin);
		return -1;
	}
	/* The included file's $ORIGIN and $TTL do not leak back (RFC 1035 5.1). */
	rc = load_file(b, file, neworigin, &ttl, depth + 1, err, errlen);
	ldns_rdf_deep_free(neworigin);
	return rc;
}

static int directive(struct zone_builder *b, const char *path, int line, char *rec,
		     ldns_rdf **origin, uint32_t *ttl, int depth, char *err, size_t errlen)
{
	char word[16], arg[DNS_MAX_NAME * 4 + 1];
	int n = sscanf(rec, " %15s %1020s", word, arg);

	if (strcasecmp(word, "$INCLUDE") == 0)
		return include_file(b, path, line, strstr(rec, word) + 8, *origin, *ttl, depth, err,
				    errlen);
	if (strcasecmp(word, "$ORIGIN") == 0 && n == 2) {
		ldns_rdf *o = directive_name(arg, *origin);
		if (o == NULL) {
			set_err(err, errlen, "%s:%d: $ORIGIN '%s' is not a name", path, line, arg);
			return -1;
		}
		ldns_rdf_deep_free(*origin);
		*origin = o;
		return 0;
	}
	if (strcasecmp(word, "$TTL") == 0 && n == 2) {
		const char *end = arg;
		uint32_t v = ldns_str2period(arg, &end);
		if (*end != '\0' || !isdigit((unsigned char)arg[0])) {
			set_err(err, errlen, "%s:%d: $TTL '%s' is not a TTL", path, line, arg);
			return -1;
		}
		*ttl = v;
		return 0;
	}
	set_err(err, errlen, "%s:%d: unsupported or malformed directive '%s'", path, line, word);
	return -1;
}

static int load_file(struct zone_builder *b, const char *path, ldns_rdf *origin, uint32_t *ttl,
		     int depth, char *err, size_t errlen)
{
	struct reader r = {fopen(path, "r"), 1};
	ldns_rdf *cur_origin = ldns_rdf_clone(origin), *prev = NULL;
	const char *stamped, *why = NULL;
	char *rec = malloc(65536);
	int rc = 0, start;

	if (r.fp == NULL || rec == NULL) {
		set_err(err, errlen, "%s: cannot open (%s)", path, strerror(errno));
		ldns_rdf_deep_free(cur_origin);
		if (r.fp != NULL)
			fclose(r.fp);
		free(rec);
		return -1;
	}
	stamp_file(b->files, &b->nfiles, path, r.fp);
	/* Records keep a pointer to their file's name: one that lives as long as the builder. */
	stamped = b->path != NULL ? b->path : b->name;
	for (size_t i = 0; i < b->nfiles; i++)
		if (strcmp(b->files[i].path, path) == 0)
			stamped = b->files[i].path;
	for (;;) {
		int got = read_record(&r, rec, 65536, &start, &why);
		char *t = rec;
		ldns_rr *rr = NULL;
		ldns_status st;

		if (got == 0)
			break;
		if (got < 0) {
			set_err(err, errlen, "%s:%d: %s", path, r.line, why);
			rc = -1;
			break;
		}
		while (*t == ' ' || *t == '\t')
			t++;
		if (*t == '$' && t == rec) {
			rc = directive(b, path, start, rec, &cur_origin, ttl, depth, err, errlen);
			if (rc < 0)
				break;
			continue;
		}
		ttl_before_class(rec);
		st = ldns_rr_new_frm_str(&rr, rec, *ttl, cur_origin, &prev);
		if (st != LDNS_STATUS_OK) {
			set_err(err, errlen, "%s:%d: %s", path, start, ldns_get_errorstr_by_id(st));
			rc = -1;
			break;
		}
		rc = add_ldns_rr(b, rr, stamped, start, err, errlen);
		ldns_rr_free(rr);
		if (rc < 0)
			break;
	}
	ldns_rdf_deep_free(cur_origin);
	if (prev != NULL)
		ldns_rdf_deep_free(prev);
	fclose(r.fp);
	free(rec);
	return rc;
}

static int cmp_record(const void *a, const void *b)
{
	const struct record *x = *(struct record *const *)a, *y = *(struct record *const *)b;
	size_t n = x->owner_len < y->owner_len ? x->owner_len : y->owner_len;
	int c = memcmp(x->owner, y->owner, n);

	if (c != 0)
		return c;
	if (x->owner_len != y->owner_len)
		return x->owner_len < y->owner_len ? -1 : 1;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	n = x->rdlen < y->rdlen ? x->rdlen : y->rdlen;
	c = memcmp(x->rdata, y->rdata, n);
	if (c != 0)
		return c;
	if (x->rdlen != y->rdlen)
		return x->rdlen < y->rdlen ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool same_owner(const struct record *a, const struct record *b)
{
	return a->owner_len == b->owner_len && memcmp(a->owner, b->owner, a->owner_len) == 0;
}

static struct zone_node *table_find(const struct zone *z, const uint8_t *name, size_t len,
				    uint32_t h)
{
	for (size_t i = h & z->mask;; i = (i + 1) & z->mask) {
		const struct zone_slot *slot = &z->table[i];
		if (slot->node == NULL)
			return NULL;
		if (slot->hash == h && slot->node->name_len == len &&
		    memcmp(slot->node->name, name, len) == 0)
			return slot->node;
	}
}

static int table_grow(struct zone *z)
{
	size_t size = (z->mask + 1) * 2;
	struct zone_slot *t = calloc(size, sizeof(*t));

	if (t == NULL)
		return -1;
	for (size_t i = 0; i <= z->mask; i++) {
		struct zone_slot slot = z->table[i];
		if (slot.node == NULL)
			continue;
		size_t j = slot.hash & (size - 1);
		while (t[j].node != NULL)
			j = (j + 1) & (size - 1);
		t[j] = slot;
	}
	free(z->table);
	z->table = t;
	z->mask = size - 1;
	return 0;
}

/* Returns the node for name, creating it and any missing ancestors (empty non-terminals). */
static struct zone_node *node_get(struct zone *z, const uint8_t *name, size_t len)
{
	uint32_t h = name_hash(name, len);
	struct zone_node *n = table_find(z, name, len, h);
	uint8_t *copy;

	if (n != NULL)
		return n;
	if ((z->nnodes + 1) * 2 > z->mask + 1 && table_grow(z) < 0)
		return NULL;
	n = arena_alloc(&z->arena, sizeof(*n));
	copy = arena_alloc(&z->arena, len);
	if (n == NULL || copy == NULL)
		return NULL;
	memset(n, 0, sizeof(*n));
	memcpy(copy, name, len);
	n->name = copy;
	n->name_len = (uint8_t)len;
	n->labels = (uint8_t)name_labels(name);
	n->hash = h;
	size_t i = h & z->mask;
	while (z->table[i].node != NULL)
		i = (i + 1) & z->mask;
	z->table[i].hash = h;
	z->table[i].node = n;
	z->nnodes++;
	if (len > z->apex_len) {
		const struct zone_node *parent = node_get(z, name + 1 + name[0], len - 1 - name[0]);
		if (parent == NULL)
			return NULL;
		n->parent = parent;
		if (name[0] == 1 && name[1] == '*') {
			((struct zone_node *)parent)->wildcard = n;
			((struct zone_node *)parent)->flags |= ZONE_NODE_WILDCARD;
		}
	}
	return n;
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

static int check_group(struct zone_builder *b, struct record **r, size_t n, char *err,
		       size_t errlen)
{
	bool apex =
	    r[0]->owner_len == b->apex_len && memcmp(r[0]->owner, b->apex, b->apex_len) == 0;
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
					r[i]->file ? r[i]->file : b->name, r[i]->line);
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
		zone_name_to_text(cname_rec->owner, text, sizeof(text));
		set_err(err, errlen, "%s:%d: %s has a CNAME and other data (RFC 1034 3.6.2)",
			cname_rec->file ? cname_rec->file : b->name, cname_rec->line, text);
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

static void zone_destroy(struct zone *z)
{
	for (size_t i = 0; i < z->nfiles; i++)
		free(z->files[i].path);
	arena_free(&z->arena);
	free(z->table);
	free(z->name);
	free(z->file);
	free(z);
}

/* Turns the node's ZONE_TYPE_WEIGHTED records into weighted sets per record type. */
static int build_weighted(struct zone *z, struct zone_node *node, const struct zone_rrset *w)
{
	for (size_t i = 0; i < w->count; i++) {
		const struct zone_rdata *rd = w->rdata[i];
		struct zone_weighted *g = NULL;
		struct zone_wset *set = NULL;
		struct zone_rdata *copy;
		uint16_t type;
		if (rd->len < 4)
			continue;
		type = dns_get16(rd->data + 2);
		for (size_t k = 0; k < node->nweighted; k++)
			if (node->weighted[k].type == type)
				g = &node->weighted[k];
		if (g == NULL) {
			struct zone_weighted *grown =
			    arena_alloc(&z->arena, (node->nweighted + 1u) * sizeof(*grown));
			if (grown == NULL)
				return -1;
			if (node->nweighted > 0)
				memcpy(grown, node->weighted, node->nweighted * sizeof(*grown));
			node->weighted = grown;
			g = &node->weighted[node->nweighted++];
			memset(g, 0, sizeof(*g));
			g->type = type;
		}
		/* Sets are numbered by the writer; weights are per set. */
		for (size_t k = 0; k < g->nsets; k++)
			if (g->sets[k].rrset.type == type &&
			    (size_t)(g->sets[k].weight >> 16) == rd->data[1])
				set = &g->sets[k];
		if (set == NULL) {
			struct zone_wset *grown =
			    arena_alloc(&z->arena, (g->nsets + 1u) * sizeof(*grown));
			if (grown == NULL)
				return -1;
			if (g->nsets > 0)
				memcpy(grown, g->sets, g->nsets * sizeof(*grown));
			g->sets = grown;
			set = &g->sets[g->nsets++];
			memset(set, 0, sizeof(*set));
			/* The set number rides in the high bits until the weights are summed. */
			set->weight = (uint32_t)rd->data[1] << 16 | rd->data[0];
			set->rrset.type = type;
			set->rrset.ttl = w->ttl;
		}
		copy = arena_alloc(&z->arena, sizeof(*copy) + rd->len - 4u);
		if (copy == NULL)
			return -1;
		copy->additional = NULL;
		copy->acl = NULL;
		copy->len = (uint16_t)(rd->len - 4);
		memcpy(copy->data, rd->data + 4, copy->len);
		{
			struct zone_rdata **grown =
			    arena_alloc(&z->arena, (set->rrset.count + 1u) * sizeof(*grown));
			if (grown == NULL)
				return -1;
			if (set->rrset.count > 0)
				memcpy(grown, set->rrset.rdata, set->rrset.count * sizeof(*grown));
			grown[set->rrset.count++] = copy;
			set->rrset.rdata = grown;
		}
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

static int build_group(struct zone *z, struct record **r, size_t n, char *err, size_t errlen)
{
	struct zone_node *node = node_get(z, r[0]->owner, r[0]->owner_len);
	size_t ntypes = 0;

	if (node == NULL)
		goto oom;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || r[i]->type != r[i - 1]->type)
			ntypes++;
	node->rrsets = arena_alloc(&z->arena, ntypes * sizeof(*node->rrsets));
	if (node->rrsets == NULL)
		goto oom;
	node->nrrsets = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i, count = 0;
		struct zone_rrset *set = &node->rrsets[node->nrrsets++];
		while (j < n && r[j]->type == r[i]->type)
			j++;
		set->type = r[i]->type;
		set->ttl = r[i]->ttl;
		set->rdata = arena_alloc(&z->arena, (j - i) * sizeof(*set->rdata));
		if (set->rdata == NULL)
			goto oom;
		for (size_t k = i; k < j; k++) {
			struct zone_rdata *rd;
			/* RFC 2181 5.2: one TTL per RRset; the lowest is the safe choice. */
			if (r[k]->ttl < set->ttl)
				set->ttl = r[k]->ttl;
			/* RFC 2181 5: an RRset is a set; drop exact duplicates. */
			if (k > i && r[k]->rdlen == r[k - 1]->rdlen && r[k]->acl == r[k - 1]->acl &&
			    memcmp(r[k]->rdata, r[k - 1]->rdata, r[k]->rdlen) == 0)
				continue;
			rd = arena_alloc(&z->arena, sizeof(*rd) + r[k]->rdlen);
			if (rd == NULL)
				goto oom;
			rd->additional = NULL;
			rd->acl = r[k]->acl;
			rd->len = r[k]->rdlen;
			memcpy(rd->data, r[k]->rdata, r[k]->rdlen);
			set->rdata[count++] = rd;
			z->nrecords++;
		}
		set->count = (uint16_t)count;
		if (set->type == ZONE_TYPE_WEIGHTED) {
			if (build_weighted(z, node, set) < 0)
				goto oom;
			node->nrrsets--; /* not answered as such */
			i = j;
			continue;
		}
		if (set->type == DNS_TYPE_NS && node->name_len != z->apex_len)
			node->flags |= ZONE_NODE_CUT;
		if (set->type == DNS_TYPE_DNAME)
			node->flags |= ZONE_NODE_DNAME;
		i = j;
	}
	return 0;
oom:
	set_err(err, errlen, "zone %s: out of memory", z->name);
	return -1;
}

static void link_additional(struct zone *z)
{
	for (size_t i = 0; i <= z->mask; i++) {
		struct zone_node *n = z->table[i].node;
		if (n == NULL)
			continue;
		for (const struct zone_node *p = n->parent; p != NULL; p = p->parent)
			if (p->flags & ZONE_NODE_CUT)
				n->flags |= ZONE_NODE_GLUE;
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
				rd->additional = table_find(z, target, len, name_hash(target, len));
			}
		}
	}
}

struct zone *zone_builder_finish(struct zone_builder *b, char *err, size_t errlen)
{
	struct zone *z = calloc(1, sizeof(*z));
	struct record **sorted = NULL;
	bool have_apex = false;

	if (z == NULL)
		goto oom;
	z->refs = 1;
	z->name = strdup(b->name);
	z->file = b->path != NULL ? strdup(b->path) : NULL;
	memcpy(z->apex, b->apex, b->apex_len);
	z->apex_len = b->apex_len;
	z->apex_labels = name_labels(b->apex);
	z->table = calloc(64, sizeof(*z->table));
	z->mask = 63;
	memcpy(z->files, b->files, sizeof(b->files));
	z->nfiles = b->nfiles;
	b->nfiles = 0; /* the paths now belong to the zone */
	sorted = malloc((b->nrecs + 1) * sizeof(*sorted));
	if (z->name == NULL || z->table == NULL || sorted == NULL)
		goto oom;
	for (size_t i = 0; i < b->nrecs; i++)
		sorted[i] = &b->recs[i];
	qsort(sorted, b->nrecs, sizeof(*sorted), cmp_record);
	if (node_get(z, z->apex, z->apex_len) == NULL)
		goto oom;
	for (size_t i = 0; i < b->nrecs;) {
		size_t j = i;
		while (j < b->nrecs && same_owner(sorted[i], sorted[j]))
			j++;
		if (check_group(b, sorted + i, j - i, err, errlen) < 0)
			goto fail;
		if (sorted[i]->owner_len == b->apex_len)
			have_apex = true;
		if (build_group(z, sorted + i, j - i, err, errlen) < 0)
			goto fail;
		i = j;
	}
	if (!have_apex) {
		set_err(err, errlen, "%s: zone %s has no SOA record at its apex",
			b->path ? b->path : b->name, b->name);
		goto fail;
	}
	z->apex_node = table_find(z, z->apex, z->apex_len, name_hash(z->apex, z->apex_len));
	((struct zone_node *)z->apex_node)->flags |= ZONE_NODE_APEX;
	link_additional(z);
	{
		const struct zone_rrset *soa = zone_node_rrset(z->apex_node, DNS_TYPE_SOA);
		const struct zone_rdata *rd = soa->rdata[0];
		size_t off = rdata_name(rd->data, rd->len, NULL);
		if (off > 0)
			off += rdata_name(rd->data + off, rd->len - off, NULL);
		if (off == 0 || off + 20 > rd->len) {
			set_err(err, errlen, "%s: zone %s: malformed SOA record",
				b->path ? b->path : b->name, b->name);
			goto fail;
		}
		z->serial = ((uint32_t)rd->data[off] << 24) | ((uint32_t)rd->data[off + 1] << 16) |
			    ((uint32_t)rd->data[off + 2] << 8) | rd->data[off + 3];
	}
	free(sorted);
	builder_free(b);
	return z;
oom:
	set_err(err, errlen, "zone %s: out of memory", b->name);
fail:
	free(sorted);
	builder_free(b);
	if (z != NULL)
		zone_destroy(z);
	return NULL;
}

int zone_builder_load_file(struct zone_builder *b, const char *path, char *err, size_t errlen)
{
	ldns_rdf *origin = NULL;
	uint32_t ttl = 3600;
	char dotted[DNS_MAX_NAME * 4 + 2];
	int rc;

	free(b->path);
	b->path = strdup(path);
	snprintf(dotted, sizeof(dotted), "%s.", b->name);
	if (ldns_str2rdf_dname(&origin, strcmp(b->name, ".") == 0 ? "." : dotted) !=
	    LDNS_STATUS_OK) {
		set_err(err, errlen, "zone %s: not a valid name", b->name);
		return -1;
	}
	rc = load_file(b, path, origin, &ttl, 0, err, errlen);
	ldns_rdf_deep_free(origin);
	return rc;
}

struct zone *zone_load(const char *apex, const char *path, char *err, size_t errlen)
{
	struct zone_builder *b = zone_builder_new(apex);

	if (b == NULL) {
		set_err(err, errlen, "zone %s: not a valid name", apex);
		return NULL;
	}
	if (zone_builder_load_file(b, path, err, errlen) < 0) {
		builder_free(b);
		return NULL;
	}
	return zone_builder_finish(b, err, errlen);
}

void zone_builder_free(struct zone_builder *b)
{
	if (b != NULL)
		builder_free(b);
}

bool zone_files_unchanged(const struct zone *z)
{
	if (z->nfiles == 0)
		return false;
	for (size_t i = 0; i < z->nfiles; i++) {
		struct stat st;
		const struct file_stamp *f = &z->files[i];
		if (stat(f->path, &st) < 0 || st.st_dev != f->dev || st.st_ino != f->ino ||
		    st.st_size != f->size || st.st_mtim.tv_sec != f->mtime.tv_sec ||
		    st.st_mtim.tv_nsec != f->mtime.tv_nsec)
			return false;
	}
	return true;
}

struct zone *zone_ref(struct zone *z)
{
	__atomic_add_fetch(&z->refs, 1, __ATOMIC_RELAXED);
	return z;
}

void zone_unref(struct zone *z)
{
	if (z != NULL && __atomic_sub_fetch(&z->refs, 1, __ATOMIC_ACQ_REL) == 0)
		zone_destroy(z);
}

const uint8_t *zone_apex(const struct zone *z, size_t *len)
{
	*len = z->apex_len;
	return z->apex;
}

unsigned zone_apex_labels(const struct zone *z)
{
	return z->apex_labels;
}

const struct zone_node *zone_apex_node(const struct zone *z)
{
	return z->apex_node;
}

const char *zone_name(const struct zone *z)
{
	return z->name;
}

const char *zone_file(const struct zone *z)
{
	return z->file;
}

size_t zone_record_count(const struct zone *z)
{
	return z->nrecords;
}

uint32_t zone_serial(const struct zone *z)
{
	return z->serial;
}

const struct zone_node *zone_find(const struct zone *z, const uint8_t *name, size_t len)
{
	return table_find(z, name, len, name_hash(name, len));
}

const struct zone_rrset *zone_node_pick(const struct zone_node *node, uint16_t type, uint32_t rnd)
{
	const struct zone_rrset *plain = zone_node_rrset(node, type);

	if (plain != NULL || node->nweighted == 0)
		return plain;
	for (size_t i = 0; i < node->nweighted; i++) {
		const struct zone_weighted *w = &node->weighted[i];
		if (w->type != type)
			continue;
		if (w->total == 0)
			return &w->sets[rnd % w->nsets].rrset;
		rnd %= w->total;
		for (size_t k = 0; k < w->nsets; k++) {
			if (rnd < w->sets[k].weight)
				return &w->sets[k].rrset;
			rnd -= w->sets[k].weight;
		}
		return &w->sets[w->nsets - 1].rrset;
	}
	return NULL;
}

const struct zone_rrset *zone_node_rrset(const struct zone_node *node, uint16_t type)
{
	for (size_t i = 0; i < node->nrrsets; i++)
		if (node->rrsets[i].type == type)
			return &node->rrsets[i];
	return NULL;
}

void zone_foreach(const struct zone *z, void (*fn)(const struct zone_node *, void *), void *arg)
{
	for (size_t i = 0; i <= z->mask; i++)
		if (z->table[i].node != NULL)
			fn(z->table[i].node, arg);
}
