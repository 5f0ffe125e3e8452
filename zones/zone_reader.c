/*
 * The master-file reader (RFC 1035 5): zone_builder_load_file and what it
 * needs, the records of a file read into a builder. A logical record is cut
 * from the file in memory; the common types written plainly are encoded here
 * straight to wire form, anything else goes to ldns, which also words the
 * error of a record it rejects; $ORIGIN, $TTL and $INCLUDE are directives;
 * every error reads "file:line: reason".
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "zones/dns.h"
#include "zones/zone.h"
#include "zones/zone_impl.h"

#define MAX_INCLUDE_DEPTH 10
#define MAX_RECORD        65536 /* one logical record of a master file, in bytes */

bool zone_reader_ldns_only;
unsigned long zone_reader_ldns_records;

/* Notes the file as it is now, for zone_files_unchanged. */
static void stamp_file(struct file_stamp *files, size_t *nfiles, const char *path, int fd)
{
	struct stat st;

	if (*nfiles >= ZONE_MAX_FILES || fstat(fd, &st) < 0)
		return;
	files[*nfiles].path = strdup(path);
	files[*nfiles].dev = st.st_dev;
	files[*nfiles].ino = st.st_ino;
	files[*nfiles].size = st.st_size;
	files[*nfiles].mtime = st.st_mtim;
	(*nfiles)++;
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
	if (zone_builder_put(b, lower, type, ttl, rdata, (uint16_t)rdlen, NULL, cx->source, line) <
	    0) {
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
	cx.source = zone_builder_source(b, path);
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
