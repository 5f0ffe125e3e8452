#include "zones/zone.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "conf/log.h"
#include "zones/dns.h"

#define ARENA_CHUNK       (256 * 1024)
#define MAX_INCLUDE_DEPTH 10
#define MAX_FILES         64
#define MAX_RECORD        65536 /* one logical record of a master file, in bytes */
#define NO_RECORD         UINT32_MAX

bool zone_reader_ldns_only;
unsigned long zone_reader_ldns_records;

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

static void *arena_alloc_align(struct arena *a, size_t n, size_t align)
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
static void *arena_alloc(struct arena *a, size_t n)
{
	return arena_alloc_align(a, n, sizeof(void *));
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
	/* Open addressing with linear probing; any size (the hash is scaled, not masked). */
	struct zone_slot *table;
	size_t size;
	size_t nnodes;
	struct file_stamp files[MAX_FILES];
	size_t nfiles;
	const struct zone_negative *negative;
};

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

static void stamp_file(struct file_stamp *files, size_t *nfiles, const char *path, int fd)
{
	struct stat st;

	if (*nfiles >= MAX_FILES || fstat(fd, &st) < 0)
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

/* The index of path among the builder's sources, added if new; 0 when it cannot be kept. */
static uint16_t builder_source(struct zone_builder *b, const char *path)
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
	o->hash = name_hash(name, len);
	o->first = o->last = NO_RECORD;
	return o;
}

static int builder_add(struct zone_builder *b, const uint8_t *owner, uint16_t type, uint32_t ttl,
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
	return builder_add(b, lower, type, ttl, rdata, rdlen, acl, 0, 0);
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

/*
 * Reads one logical record of a master file (RFC 1035 5.1): comments
 * dropped, lines inside parentheses joined, quoted strings and escapes kept.
 * Returns 1 with the record in buf and its first line in *start, 0 at the end
 * of the file, -1 with the reason in *why. The file is in memory.
 */
struct reader {
	const char *p, *end;
	int line;
};

static int reader_getc(struct reader *r)
{
	return r->p < r->end ? (unsigned char)*r->p++ : EOF;
}

static int read_record_slow(struct reader *r, char *buf, size_t cap, int *start, const char **why)
{
	size_t n = 0;
	int depth = 0, open_line = 0, c;
	bool quoted = false, escaped = false, comment = false, content = false;

	*start = r->line;
	while ((c = reader_getc(r)) != EOF) {
		if (c == '\n') {
			if (quoted && depth == 0) {
				*why = "quoted string not closed on its line";
				return -1; /* on r->line, the line it was opened on */
			}
			r->line++;
			comment = false;
			escaped = false;
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

/* Bytes that need the full reader: comments, parentheses, quotes, escapes, CR, NUL. */
static const bool special[256] = {
    [';'] = true,  ['('] = true,  [')'] = true, ['"'] = true,
    ['\\'] = true, ['\r'] = true, [0] = true,
};

static int read_record(struct reader *r, char *buf, size_t cap, int *start, const char **why)
{
	/* Most lines are a whole record with nothing to undo: copy them as they are. */
	for (;;) {
		const char *p = r->p, *eol, *q;
		size_t len;
		bool content = false;

		*start = r->line;
		if (p == r->end)
			return 0;
		eol = memchr(p, '\n', (size_t)(r->end - p));
		len = (size_t)((eol != NULL ? eol : r->end) - p);
		for (q = p; q < p + len && !special[(unsigned char)*q]; q++)
			content |= *q != ' ' && *q != '\t';
		if (q < p + len || len + 1 >= cap)
			return read_record_slow(r, buf, cap, start, why);
		r->p = eol != NULL ? eol + 1 : r->end;
		if (eol != NULL)
			r->line++;
		if (!content)
			continue;
		memcpy(buf, p, len);
		buf[len] = '\0';
		return 1;
	}
}

/* Reads a whole file; the caller frees *data. 0, or -1 with errno set. */
static int read_file(int fd, char **data, size_t *len)
{
	struct stat st;
	size_t cap, n = 0;
	char *buf;

	if (fstat(fd, &st) < 0)
		return -1;
	cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
	buf = malloc(cap);
	if (buf == NULL)
		return -1;
	for (;;) {
		ssize_t got;
		if (n == cap) {
			char *grown = realloc(buf, cap * 2);
			if (grown == NULL) {
				free(buf);
				return -1;
			}
			buf = grown;
			cap *= 2;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			free(buf);
			return -1;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	*data = buf;
	*len = n;
	return 0;
}

/* What the records of one file are read against. */
struct context {
	uint8_t origin[DNS_MAX_NAME];
	size_t origin_len;
	uint8_t prev[DNS_MAX_NAME]; /* the last owner written out; prev_len 0: none yet */
	size_t prev_len;
	uint32_t ttl; /* $TTL */
	uint16_t source;
};

/*
 * The fast path: records of the common types written plainly are encoded
 * here, without ldns. It is stricter than ldns: whatever it does not take
 * whole (escapes, quotes where a name goes, \# rdata, TTLs with units, other
 * classes and types, a token too many or too few, a value out of range) is
 * handed to ldns as it was, which then reads it or words the error, so a bad
 * record gets the same message either way.
 */
struct token {
	const char *s;
	size_t n;
};

static bool next_token(const char **p, struct token *t)
{
	const char *s = *p;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0')
		return false;
	t->s = s;
	while (*s != '\0' && *s != ' ' && *s != '\t')
		s++;
	t->n = (size_t)(s - t->s);
	*p = s;
	return true;
}

/* Decimal digits only, at most maxdigits of them and at most max. */
static bool token_number(const struct token *t, size_t maxdigits, uint32_t max, uint32_t *v)
{
	uint64_t x = 0;

	if (t->n == 0 || t->n > maxdigits)
		return false;
	for (size_t i = 0; i < t->n; i++) {
		if (t->s[i] < '0' || t->s[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(t->s[i] - '0');
	}
	if (x > max)
		return false;
	*v = (uint32_t)x;
	return true;
}

/*
 * A name without escapes to wire form (case kept), completed with the origin
 * when relative; "@" is the origin. Returns the length, or 0 for ldns.
 */
static size_t token_name(const struct token *t, const struct context *cx, uint8_t *out)
{
	size_t o = 1, label = 0;

	if (t->n == 1 && t->s[0] == '@') {
		memcpy(out, cx->origin, cx->origin_len);
		return cx->origin_len;
	}
	if (t->n == 1 && t->s[0] == '.') {
		out[0] = 0;
		return 1;
	}
	/* ldns takes at most 253 characters of an owner; "@..." is one of its special cases. */
	if (t->n == 0 || t->n > 253 || t->s[0] == '@')
		return 0;
	for (size_t i = 0; i < t->n; i++) {
		char c = t->s[i];
		if (c == '\\' || c == '"')
			return 0;
		if (c == '.') {
			if (o - label - 1 == 0)
				return 0; /* an empty label */
			out[label] = (uint8_t)(o - label - 1);
			label = o++;
			continue;
		}
		if (o - label - 1 == 63 || o + 1 >= DNS_MAX_NAME)
			return 0;
		out[o++] = (uint8_t)c;
	}
	if (t->s[t->n - 1] == '.') {
		out[label] = 0;
		return label + 1;
	}
	out[label] = (uint8_t)(o - label - 1);
	if (o + cx->origin_len > DNS_MAX_NAME)
		return 0;
	memcpy(out + o, cx->origin, cx->origin_len);
	return o + cx->origin_len;
}

static size_t token_address(const struct token *t, int af, uint8_t *out)
{
	char text[INET6_ADDRSTRLEN];

	if (t->n >= sizeof(text))
		return 0;
	memcpy(text, t->s, t->n);
	text[t->n] = '\0';
	if (inet_pton(af, text, out) != 1)
		return 0;
	return af == AF_INET ? 4 : 16;
}

/*
 * TXT: character strings, quoted or not (RFC 1035 5.1). ldns reads ';' and
 * parentheses inside quotes its own way, so those strings stay with it.
 */
static size_t text_strings(const char *p, uint8_t *out)
{
	size_t n = 0, count = 0;

	for (;;) {
		const char *s, *e;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (*p == '"') {
			s = p + 1;
			e = strchr(s, '"');
			if (e == NULL || (e[1] != '\0' && e[1] != ' ' && e[1] != '\t'))
				return 0;
			p = e + 1;
		} else {
			s = p;
			while (*p != '\0' && *p != ' ' && *p != '\t')
				p++;
			e = p;
		}
		if (e - s > 255 || n + 1 + (size_t)(e - s) > 65535)
			return 0;
		for (const char *c = s; c < e; c++)
			if (*c == '\\' || *c == '"' || *c == ';' || *c == '(' || *c == ')')
				return 0;
		out[n++] = (uint8_t)(e - s);
		memcpy(out + n, s, (size_t)(e - s));
		n += (size_t)(e - s);
		count++;
	}
	return count > 0 ? n : 0;
}

/* The rdata of type from the text at p; its length, or 0 for ldns. */
static size_t fast_rdata(uint16_t type, const char *p, const struct context *cx, uint8_t *out)
{
	struct token t[7], extra;
	size_t want, got = 0, n = 0, len;
	uint32_t v;

	if (type == DNS_TYPE_TXT)
		return text_strings(p, out);
	switch (type) {
	case DNS_TYPE_MX:
		want = 2;
		break;
	case DNS_TYPE_SRV:
		want = 4;
		break;
	case DNS_TYPE_SOA:
		want = 7;
		break;
	default:
		want = 1;
	}
	while (got < want && next_token(&p, &t[got]))
		got++;
	if (got != want || next_token(&p, &extra))
		return 0; /* too few or too many fields */
	switch (type) {
	case DNS_TYPE_A:
		return token_address(&t[0], AF_INET, out);
	case DNS_TYPE_AAAA:
		return token_address(&t[0], AF_INET6, out);
	case DNS_TYPE_NS:
	case DNS_TYPE_CNAME:
	case DNS_TYPE_PTR:
		return token_name(&t[0], cx, out);
	case DNS_TYPE_MX:
	case DNS_TYPE_SRV:
		for (size_t i = 0; i + 1 < want; i++) {
			if (!token_number(&t[i], 5, 65535, &v))
				return 0;
			dns_put16(out + n, (uint16_t)v);
			n += 2;
		}
		len = token_name(&t[want - 1], cx, out + n);
		return len > 0 ? n + len : 0;
	case DNS_TYPE_SOA:
		for (size_t i = 0; i < 2; i++) {
			len = token_name(&t[i], cx, out + n);
			if (len == 0)
				return 0;
			n += len;
		}
		/* The serial is a number; the four timers are periods, plain digits here. */
		for (size_t i = 2; i < 7; i++) {
			if (!token_number(&t[i], i == 2 ? 10 : 9, UINT32_MAX, &v))
				return 0;
			dns_put32(out + n, v);
			n += 4;
		}
		return n;
	default:
		return 0;
	}
}

static const struct {
	const char *name;
	size_t len;
	uint16_t type;
} fast_types[] = {
    {"A", 1, DNS_TYPE_A},     {"AAAA", 4, DNS_TYPE_AAAA}, {"CNAME", 5, DNS_TYPE_CNAME},
    {"NS", 2, DNS_TYPE_NS},   {"PTR", 3, DNS_TYPE_PTR},   {"MX", 2, DNS_TYPE_MX},
    {"TXT", 3, DNS_TYPE_TXT}, {"SRV", 3, DNS_TYPE_SRV},   {"SOA", 3, DNS_TYPE_SOA},
};

/*
 * A record of rec in wire form: owner (case kept), type, TTL, rdata. Returns
 * false, with nothing changed, when ldns is to read it.
 */
static bool fast_record(const char *rec, const struct context *cx, uint8_t *owner,
			size_t *owner_len, uint16_t *type, uint32_t *ttl, uint8_t *rdata,
			size_t *rdlen)
{
	const char *p = rec;
	struct token t;
	bool have_ttl = false;

	*type = 0;
	if (*p == ' ' || *p == '\t') {
		/* No owner: the previous record's (RFC 1035 5.1), or the origin as ldns has it. */
		*owner_len = cx->prev_len > 0 ? cx->prev_len : cx->origin_len;
		memcpy(owner, cx->prev_len > 0 ? cx->prev : cx->origin, *owner_len);
	} else if (!next_token(&p, &t) || (*owner_len = token_name(&t, cx, owner)) == 0) {
		return false;
	}
	/* [TTL] [class] type, or [class] [TTL] type (RFC 1035 5.1). */
	if (!next_token(&p, &t))
		return false;
	if (t.s[0] >= '0' && t.s[0] <= '9') {
		if (!token_number(&t, 9, UINT32_MAX, ttl) || !next_token(&p, &t))
			return false;
		have_ttl = true;
	}
	if (t.n == 2 && strncasecmp(t.s, "IN", 2) == 0) {
		if (!next_token(&p, &t))
			return false;
		if (!have_ttl && t.s[0] >= '0' && t.s[0] <= '9') {
			if (!token_number(&t, 9, UINT32_MAX, ttl) || !next_token(&p, &t))
				return false;
			have_ttl = true;
		}
	}
	for (size_t i = 0; i < sizeof(fast_types) / sizeof(fast_types[0]) && *type == 0; i++)
		if (t.n == fast_types[i].len && strncasecmp(t.s, fast_types[i].name, t.n) == 0)
			*type = fast_types[i].type;
	/* ldns puts 3600 for a missing TTL when $TTL is 0: leave that to it. */
	if (*type == 0 || (!have_ttl && cx->ttl == 0))
		return false;
	if (!have_ttl)
		*ttl = cx->ttl;
	*rdlen = fast_rdata(*type, p, cx, rdata);
	return *rdlen > 0;
}

/* Adds a record read from a file: the owner must be in the zone. */
static int add_record(struct zone_builder *b, const struct context *cx, const uint8_t *owner,
		      size_t owner_len, uint16_t type, uint32_t ttl, const uint8_t *rdata,
		      size_t rdlen, const char *path, int line, char *err, size_t errlen)
{
	uint8_t lower[DNS_MAX_NAME];
	char text[DNS_MAX_NAME * 4];

	for (size_t i = 0; i < owner_len; i++)
		lower[i] = dns_lower(owner[i]);
	if (!name_in_zone(lower, owner_len, b->apex, b->apex_len)) {
		zone_name_to_text(owner, text, sizeof(text));
		set_err(err, errlen, "%s:%d: %s is outside the zone %s", path, line, text, b->name);
		return -1;
	}
	if (builder_add(b, lower, type, ttl, rdata, (uint16_t)rdlen, NULL, cx->source, line) < 0) {
		set_err(err, errlen, "%s:%d: out of memory", path, line);
		return -1;
	}
	return 0;
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

/* The slow path: ldns reads the record (and words the error when it cannot). */
static int ldns_record(struct zone_builder *b, struct context *cx, char *rec, uint8_t *rdata,
		       const char *path, int line, char *err, size_t errlen)
{
	ldns_rdf *origin = ldns_dname_new_frm_data((uint16_t)cx->origin_len, cx->origin);
	ldns_rdf *prev = NULL, *owner;
	ldns_rr *rr = NULL;
	ldns_status st;
	size_t rdlen = 0;
	int rc = -1;

	if (cx->prev_len > 0)
		prev = ldns_dname_new_frm_data((uint16_t)cx->prev_len, cx->prev);
	if (origin == NULL || (cx->prev_len > 0 && prev == NULL)) {
		set_err(err, errlen, "%s:%d: out of memory", path, line);
		goto out;
	}
	zone_reader_ldns_records++;
	ttl_before_class(rec);
	st = ldns_rr_new_frm_str(&rr, rec, cx->ttl, origin, &prev);
	if (prev != NULL && ldns_rdf_size(prev) <= DNS_MAX_NAME) {
		cx->prev_len = ldns_rdf_size(prev);
		memcpy(cx->prev, ldns_rdf_data(prev), cx->prev_len);
	}
	if (st != LDNS_STATUS_OK) {
		set_err(err, errlen, "%s:%d: %s", path, line, ldns_get_errorstr_by_id(st));
		goto out;
	}
	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
		set_err(err, errlen, "%s:%d: class is not IN", path, line);
		goto out;
	}
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		ldns_rdf *rdf = ldns_rr_rdf(rr, i);
		if (rdlen + ldns_rdf_size(rdf) > 65535) {
			set_err(err, errlen, "%s:%d: rdata longer than 65535 bytes", path, line);
			goto out;
		}
		memcpy(rdata + rdlen, ldns_rdf_data(rdf), ldns_rdf_size(rdf));
		rdlen += ldns_rdf_size(rdf);
	}
	owner = ldns_rr_owner(rr);
	rc = add_record(b, cx, ldns_rdf_data(owner), ldns_rdf_size(owner),
			(uint16_t)ldns_rr_get_type(rr), ldns_rr_ttl(rr), rdata, rdlen, path, line,
			err, errlen);
out:
	ldns_rr_free(rr);
	ldns_rdf_deep_free(prev);
	ldns_rdf_deep_free(origin);
	return rc;
}

static int read_one(struct zone_builder *b, struct context *cx, char *rec, uint8_t *rdata,
		    const char *path, int line, char *err, size_t errlen)
{
	uint8_t owner[DNS_MAX_NAME];
	size_t owner_len, rdlen;
	uint16_t type;
	uint32_t ttl = 0;

	if (zone_reader_ldns_only ||
	    !fast_record(rec, cx, owner, &owner_len, &type, &ttl, rdata, &rdlen))
		return ldns_record(b, cx, rec, rdata, path, line, err, errlen);
	/* An owner written out (not left blank) is the one later blank owners take. */
	if (rec[0] != ' ' && rec[0] != '\t') {
		memcpy(cx->prev, owner, owner_len);
		cx->prev_len = owner_len;
	}
	return add_record(b, cx, owner, owner_len, type, ttl, rdata, rdlen, path, line, err,
			  errlen);
}

/* Resolves a name of a directive against the current origin; its wire length, or 0. */
static size_t directive_name(const char *text, const uint8_t *origin, size_t origin_len,
			     uint8_t *out)
{
	ldns_rdf *rel = NULL;
	size_t n;

	if (strcmp(text, "@") == 0) {
		memcpy(out, origin, origin_len);
		return origin_len;
	}
	if (ldns_str2rdf_dname(&rel, text) != LDNS_STATUS_OK)
		return 0;
	n = ldns_rdf_size(rel);
	if (text[strlen(text) - 1] == '.') {
		if (n > DNS_MAX_NAME)
			n = 0;
		else
			memcpy(out, ldns_rdf_data(rel), n);
	} else if (n - 1 + origin_len > DNS_MAX_NAME) {
		n = 0;
	} else {
		memcpy(out, ldns_rdf_data(rel), n - 1);
		memcpy(out + n - 1, origin, origin_len);
		n += origin_len - 1;
	}
	ldns_rdf_deep_free(rel);
	return n;
}

static int load_file(struct zone_builder *b, const char *path, const uint8_t *origin,
		     size_t origin_len, uint32_t ttl, int depth, char *err, size_t errlen);

static int include_file(struct zone_builder *b, const char *path, int line, const char *args,
			const struct context *cx, int depth, char *err, size_t errlen)
{
	char file[PATH_MAX], incorigin[DNS_MAX_NAME * 4 + 1];
	int found = sscanf(args, "%4095s %1020s", file, incorigin);
	uint8_t neworigin[DNS_MAX_NAME];
	size_t newlen;

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
	if (found == 2) {
		newlen = directive_name(incorigin, cx->origin, cx->origin_len, neworigin);
	} else {
		memcpy(neworigin, cx->origin, cx->origin_len);
		newlen = cx->origin_len;
	}
	if (newlen == 0) {
		set_err(err, errlen, "%s:%d: $INCLUDE origin '%s' is not a name", path, line,
			incorigin);
		return -1;
	}
	/* The included file's $ORIGIN and $TTL do not leak back (RFC 1035 5.1). */
	return load_file(b, file, neworigin, newlen, cx->ttl, depth + 1, err, errlen);
}

static int directive(struct zone_builder *b, const char *path, int line, char *rec,
		     struct context *cx, int depth, char *err, size_t errlen)
{
	char word[16], arg[DNS_MAX_NAME * 4 + 1];
	int n = sscanf(rec, " %15s %1020s", word, arg);

	if (strcasecmp(word, "$INCLUDE") == 0)
		return include_file(b, path, line, strstr(rec, word) + 8, cx, depth, err, errlen);
	if (strcasecmp(word, "$ORIGIN") == 0 && n == 2) {
		uint8_t o[DNS_MAX_NAME];
		size_t len = directive_name(arg, cx->origin, cx->origin_len, o);
		if (len == 0) {
			set_err(err, errlen, "%s:%d: $ORIGIN '%s' is not a name", path, line, arg);
			return -1;
		}
		memcpy(cx->origin, o, len);
		cx->origin_len = len;
		return 0;
	}
	if (strcasecmp(word, "$TTL") == 0 && n == 2) {
		const char *end = arg;
		uint32_t v = ldns_str2period(arg, &end);
		if (*end != '\0' || !isdigit((unsigned char)arg[0])) {
			set_err(err, errlen, "%s:%d: $TTL '%s' is not a TTL", path, line, arg);
			return -1;
		}
		cx->ttl = v;
		return 0;
	}
	set_err(err, errlen, "%s:%d: unsupported or malformed directive '%s'", path, line, word);
	return -1;
}

static int load_file(struct zone_builder *b, const char *path, const uint8_t *origin,
		     size_t origin_len, uint32_t ttl, int depth, char *err, size_t errlen)
{
	struct context cx;
	struct reader r = {NULL, NULL, 1};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *data = NULL, *rec = malloc(MAX_RECORD);
	uint8_t *rdata = malloc(65536);
	const char *why = NULL;
	size_t len = 0;
	int rc = 0, start;

	if (fd < 0 || rec == NULL || rdata == NULL || read_file(fd, &data, &len) < 0) {
		set_err(err, errlen, "%s: cannot open (%s)", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(rec);
		free(rdata);
		return -1;
	}
	stamp_file(b->files, &b->nfiles, path, fd);
	close(fd);
	memcpy(cx.origin, origin, origin_len);
	cx.origin_len = origin_len;
	cx.prev_len = 0;
	cx.ttl = ttl;
	cx.source = builder_source(b, path);
	r.p = data;
	r.end = data + len;
	for (;;) {
		int got = read_record(&r, rec, MAX_RECORD, &start, &why);
		char *t = rec;

		if (got == 0)
			break;
		if (got < 0) {
			set_err(err, errlen, "%s:%d: %s", path, r.line, why);
			rc = -1;
			break;
		}
		while (*t == ' ' || *t == '\t')
			t++;
		if (*t == '$' && t == rec)
			rc = directive(b, path, start, rec, &cx, depth, err, errlen);
		else
			rc = read_one(b, &cx, rec, rdata, path, start, err, errlen);
		if (rc < 0)
			break;
	}
	free(data);
	free(rec);
	free(rdata);
	return rc;
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

/* The hash scaled to the table size: any size works, so the table is sized to the zone. */
static size_t slot_index(uint32_t h, size_t size)
{
	return (size_t)(((uint64_t)h * size) >> 32);
}

static struct zone_node *table_find(const struct zone *z, const uint8_t *name, size_t len,
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
		h = name_hash(pname, plen);
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
				rd->additional = table_find(z, target, len, name_hash(target, len));
			}
		}
	}
}

#define PREFETCH_AHEAD 16 /* table slots fetched ahead when many names go in at once */

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

/*
 * Answers rendered at load. The writer below is the packet writer's
 * (resolver/packet.c) twin and must stay so: the same compression (the
 * question's labels first, then every label written, the first match taken),
 * the same rdata rules (dns_rdata_names), the same section order, so that a
 * rendered answer is byte for byte the one the query path would build
 * (tests/unit/test_query.c checks that for every name and type).
 */
#define RENDER_MAX  2048 /* larger answers are built per query */
#define RENDER_COMP 64   /* names remembered for compression, as PACKET_COMP_MAX */
#define RENDER_ADD  32   /* nodes for the additional section, as answer.c */

struct render {
	uint8_t buf[DNS_HEADER_LEN + DNS_MAX_NAME + 4 + RENDER_MAX];
	size_t pos, start;
	size_t ncomp;
	uint16_t comp[RENDER_COMP];
	uint16_t an, ar;
	size_t nptrs; /* compression pointers written by render_name, where */
	uint16_t ptrs[8];
};

/* A reply to a question for the node's name, with nothing after the question yet. */
static void render_init(struct render *r, const struct zone_node *n)
{
	memset(r->buf, 0, DNS_HEADER_LEN);
	memcpy(r->buf + DNS_HEADER_LEN, n->name, n->name_len);
	memset(r->buf + DNS_HEADER_LEN + n->name_len, 0, 4);
	r->start = r->pos = DNS_HEADER_LEN + n->name_len + 4u;
	r->ncomp = 0;
	r->an = r->ar = 0;
	r->nptrs = 0;
	for (size_t off = 0; n->name[off] != 0 && r->ncomp < RENDER_COMP; off += 1u + n->name[off])
		r->comp[r->ncomp++] = (uint16_t)(DNS_HEADER_LEN + off);
}

/* The offset of an earlier copy of name, or -1. */
static int render_find(const struct render *r, const uint8_t *name)
{
	for (size_t i = 0; i < r->ncomp; i++)
		if (dns_name_at_equals(r->buf, r->pos, r->comp[i], name))
			return r->comp[i];
	return -1;
}

static bool render_bytes(struct render *r, const uint8_t *p, size_t n)
{
	if (r->pos + n > sizeof(r->buf))
		return false;
	if (n > 0)
		memcpy(r->buf + r->pos, p, n);
	r->pos += n;
	return true;
}

static bool render_name(struct render *r, const uint8_t *name)
{
	for (const uint8_t *p = name; *p != 0; p += 1 + *p) {
		int off = render_find(r, p);
		if (off >= 0) {
			uint8_t ptr[2] = {(uint8_t)(0xc0 | off >> 8), (uint8_t)off};
			if (r->nptrs < sizeof(r->ptrs) / sizeof(r->ptrs[0]))
				r->ptrs[r->nptrs] = (uint16_t)(r->pos - r->start);
			r->nptrs++;
			return render_bytes(r, ptr, 2);
		}
		if (r->pos < 0x4000 && r->ncomp < RENDER_COMP)
			r->comp[r->ncomp++] = (uint16_t)r->pos;
		if (!render_bytes(r, p, 1u + *p))
			return false;
	}
	return render_bytes(r, (const uint8_t *)"", 1);
}

/* One record; owner NULL: the question's name. */
static bool render_rr(struct render *r, const uint8_t *owner, const struct zone_rrset *set,
		      uint32_t ttl, const struct zone_rdata *rd)
{
	uint8_t fixed[10];
	size_t rdstart, off, before, n;
	unsigned names = dns_rdata_names(set->type, &before);

	if (owner == NULL) {
		uint8_t ptr[2] = {0xc0, DNS_HEADER_LEN};
		if (!render_bytes(r, ptr, 2))
			return false;
	} else if (!render_name(r, owner)) {
		return false;
	}
	dns_put16(fixed, set->type);
	dns_put16(fixed + 2, DNS_CLASS_IN);
	dns_put32(fixed + 4, ttl);
	dns_put16(fixed + 8, 0);
	if (!render_bytes(r, fixed, 10))
		return false;
	rdstart = r->pos;
	if (before > rd->len || !render_bytes(r, rd->data, before))
		return false;
	off = before;
	for (unsigned i = 0; i < names; i++) {
		n = rdata_name(rd->data + off, rd->len - off, NULL);
		if (n == 0)
			break; /* not a name: the rest is copied as it is */
		if (!render_name(r, rd->data + off))
			return false;
		off += n;
	}
	if (!render_bytes(r, rd->data + off, rd->len - off))
		return false;
	dns_put16(r->buf + rdstart - 2, (uint16_t)(r->pos - rdstart));
	return true;
}

/* A whole RRset; false also when a record of it is for some clients only. */
static bool render_rrset(struct render *r, const uint8_t *owner, const struct zone_rrset *set,
			 uint16_t *count)
{
	for (size_t i = 0; i < set->count; i++) {
		if (set->rdata[i]->acl != NULL ||
		    !render_rr(r, owner, set, set->ttl, set->rdata[i]))
			return false;
		(*count)++;
	}
	return true;
}

/* set in the answer section, then the addresses of the in-zone names its records point to. */
static bool render_answer(struct render *r, const struct zone_rrset *set)
{
	static const uint16_t types[] = {DNS_TYPE_A, DNS_TYPE_AAAA};
	const struct zone_node *extra[RENDER_ADD];
	size_t nextra = 0;

	if (!render_rrset(r, NULL, set, &r->an))
		return false;
	for (size_t i = 0; i < set->count; i++) {
		const struct zone_node *x = set->rdata[i]->additional;
		bool seen = x == NULL;
		for (size_t k = 0; k < nextra && !seen; k++)
			seen = extra[k] == x;
		if (!seen && nextra < RENDER_ADD)
			extra[nextra++] = x;
	}
	for (size_t i = 0; i < nextra; i++)
		for (size_t t = 0; t < 2; t++) {
			const struct zone_rrset *a = zone_node_rrset(extra[i], types[t]);
			if (a != NULL && !render_rrset(r, extra[i]->name, a, &r->ar))
				return false;
		}
	return true;
}

/* Keeps what r holds as the rendered answer for qtype. */
static int render_keep(struct zone *z, const struct render *r, uint16_t qtype,
		       struct zone_rendered *out)
{
	uint8_t *wire = arena_alloc_align(&z->arena, r->pos - r->start, 1);

	if (wire == NULL)
		return -1;
	memcpy(wire, r->buf + r->start, r->pos - r->start);
	out->wire = wire;
	out->qtype = qtype;
	out->len = (uint16_t)(r->pos - r->start);
	out->an = r->an;
	out->ar = r->ar;
	return 0;
}

/*
 * A CNAME's target is answered for it when the walk from the apex would come
 * straight to it (RFC 1034 4.3.2 step 3a): it exists, is no CNAME itself and
 * is not below a cut or a DNAME. Its records are then owned by the CNAME's
 * rdata, where the writer would point to.
 */
static void render_target(struct zone *z, struct render *r, const struct zone_rdata *rd,
			  struct zone_ready *ready)
{
	uint8_t target[DNS_MAX_NAME];
	size_t len = rdata_name(rd->data, rd->len, target);
	const struct zone_node *t;
	int off;

	if (len == 0)
		return;
	if (!name_in_zone(target, len, z->apex, z->apex_len)) {
		ready->cname_only = true;
		return;
	}
	t = table_find(z, target, len, name_hash(target, len));
	off = render_find(r, target);
	if (t == NULL || off < 0 || (t->flags & (ZONE_NODE_INDIRECT | ZONE_NODE_CNAME)) ||
	    t->nweighted > 0)
		return;
	ready->target = t;
	ready->target_ptr = (uint16_t)off;
}

/* The label of name (lower-cased, under the apex) just above the apex, or NULL. */
static const uint8_t *label_above(const struct zone *z, const uint8_t *name, size_t len)
{
	if (len <= z->apex_len || !name_in_zone(name, len, z->apex, z->apex_len))
		return NULL;
	while (len - 1u - name[0] > z->apex_len) {
		len -= 1u + name[0];
		name += 1 + name[0];
	}
	return name;
}

/* The SOA for negative answers (see struct zone_negative). */
static int render_negative(struct zone *z)
{
	const struct zone_rrset *soa = zone_node_rrset(z->apex_node, DNS_TYPE_SOA);
	const struct zone_rdata *rd = soa->rdata[0];
	uint32_t minimum = dns_get32(rd->data + rd->len - 4);
	struct zone_negative *neg;
	uint8_t names[2][DNS_MAX_NAME];
	size_t len[2], off = 0;
	struct render r;

	/* As answer.c: no per-client SOA, and the root zone has no label to move by. */
	if (rd->acl != NULL || z->apex_len < 2)
		return 0;
	for (size_t i = 0; i < 2; i++) {
		len[i] = rdata_name(rd->data + off, rd->len - off, names[i]);
		if (len[i] == 0)
			return 0;
		off += len[i];
	}
	render_init(&r, z->apex_node);
	if (!render_rr(&r, z->apex_node->name, soa, soa->ttl < minimum ? soa->ttl : minimum, rd) ||
	    r.nptrs > sizeof(r.ptrs) / sizeof(r.ptrs[0]))
		return 0;
	neg = arena_alloc(&z->arena, sizeof(*neg));
	if (neg == NULL || render_keep(z, &r, DNS_TYPE_SOA, &neg->soa) < 0)
		return -1;
	neg->nptr = (uint16_t)r.nptrs;
	memcpy(neg->ptr, r.ptrs, r.nptrs * sizeof(r.ptrs[0]));
	for (size_t i = 0; i < 2; i++) {
		const uint8_t *above = label_above(z, names[i], len[i]);
		uint8_t *copy = NULL;
		if (above != NULL) {
			copy = arena_alloc_align(&z->arena, 1u + above[0], 1);
			if (copy == NULL)
				return -1;
			memcpy(copy, above, 1u + above[0]);
		}
		neg->above[i] = copy;
	}
	z->negative = neg;
	return 0;
}

/* Renders the answers of one node that are worth it (see struct zone_ready). */
static int render_node(struct zone *z, struct zone_node *n)
{
	struct zone_rendered got[16];
	struct zone_ready head = {NULL, 0, 0, false};
	struct zone_ready *ready;
	struct render r;
	size_t count = 0;

	if ((n->flags & ZONE_NODE_INDIRECT) || n->nweighted > 0)
		return 0;
	for (size_t s = 0; s < n->nrrsets && count < 16; s++) {
		const struct zone_rrset *set = &n->rrsets[s];
		/* Beside a CNAME only RRSIG and NSEC: every type but CNAME follows it. */
		if (zone_type_plain(set->type) ||
		    ((n->flags & ZONE_NODE_CNAME) && set->type != DNS_TYPE_CNAME))
			continue;
		render_init(&r, n);
		if (!render_answer(&r, set))
			continue;
		if (render_keep(z, &r, set->type, &got[count]) < 0)
			return -1;
		if (set->type == DNS_TYPE_CNAME)
			render_target(z, &r, set->rdata[0], &head);
		count++;
	}
	if (count == 0)
		return 0;
	ready = arena_alloc(&z->arena, sizeof(*ready) + count * sizeof(ready->answers[0]));
	if (ready == NULL)
		return -1;
	*ready = head;
	ready->count = (uint16_t)count;
	memcpy(ready->answers, got, count * sizeof(got[0]));
	n->ready = ready;
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

struct zone *zone_builder_finish(struct zone_builder *b, char *err, size_t errlen)
{
	struct zone *z = calloc(1, sizeof(*z));
	struct nodes all = {NULL, 0, 0};
	struct record **group = NULL;
	size_t group_cap = 0;
	bool have_apex = false;

	if (z == NULL)
		goto oom;
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
	if (z->name == NULL || z->table == NULL || merge_owners(b) < 0)
		goto oom;
	for (size_t i = 0; i < b->nowners; i++) {
		const struct owner *o = &b->owners[i];
		size_t n;
		if (i + PREFETCH_AHEAD < b->nowners)
			__builtin_prefetch(
			    &z->table[slot_index(b->owners[i + PREFETCH_AHEAD].hash, z->size)]);
		if (o->first == NO_RECORD)
			continue; /* merged into an earlier entry of the same name */
		if (owner_records(b, o, &group, &group_cap, &n) == NULL)
			goto oom;
		if (n > 1)
			qsort(group, n, sizeof(*group), cmp_record);
		if (check_group(b, o, group, n, err, errlen) < 0)
			goto fail;
		if (o->len == b->apex_len)
			have_apex = true;
		if (build_group(z, &all, o, group, n) == NULL)
			goto oom;
	}
	if (!have_apex) {
		set_err(err, errlen, "%s: zone %s has no SOA record at its apex",
			b->path ? b->path : b->name, b->name);
		goto fail;
	}
	if (link_parents(z, &all) < 0)
		goto oom;
	z->apex_node = table_find(z, z->apex, z->apex_len, name_hash(z->apex, z->apex_len));
	((struct zone_node *)z->apex_node)->flags |= ZONE_NODE_APEX;
	link_additional(z, &all);
	for (size_t i = 0; i < all.n; i++)
		if (render_node(z, all.v[i]) < 0)
			goto oom;
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
		z->serial = dns_get32(rd->data + off);
	}
	if (render_negative(z) < 0)
		goto oom;
	free(all.v);
	free(group);
	builder_free(b);
	return z;
oom:
	set_err(err, errlen, "zone %s: out of memory", b->name);
fail:
	free(all.v);
	free(group);
	builder_free(b);
	if (z != NULL)
		zone_destroy(z);
	return NULL;
}

int zone_builder_load_file(struct zone_builder *b, const char *path, char *err, size_t errlen)
{
	ldns_rdf *origin = NULL;
	char dotted[DNS_MAX_NAME * 4 + 2];
	int rc;

	free(b->path);
	b->path = strdup(path);
	snprintf(dotted, sizeof(dotted), "%s.", b->name);
	if (ldns_str2rdf_dname(&origin, strcmp(b->name, ".") == 0 ? "." : dotted) !=
		LDNS_STATUS_OK ||
	    ldns_rdf_size(origin) > DNS_MAX_NAME) {
		ldns_rdf_deep_free(origin);
		set_err(err, errlen, "zone %s: not a valid name", b->name);
		return -1;
	}
	rc = load_file(b, path, ldns_rdf_data(origin), ldns_rdf_size(origin), 3600, 0, err, errlen);
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

const struct zone_negative *zone_negative(const struct zone *z)
{
	return z->negative;
}

const struct zone_node *zone_find(const struct zone *z, const uint8_t *name, size_t len)
{
	return table_find(z, name, len, name_hash(name, len));
}

const struct zone_node *zone_find_hash(const struct zone *z, const uint8_t *name, size_t len,
				       uint32_t hash)
{
	return table_find(z, name, len, hash);
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
	for (size_t i = 0; i < z->size; i++)
		if (z->table[i].node != NULL)
			fn(z->table[i].node, arg);
}
