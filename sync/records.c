#include "sync/records.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

static const char *const source_names[] = {"file", "route53", "inventory"};

void records_init(struct records *r)
{
	memset(r, 0, sizeof(*r));
}

void records_free(struct records *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].owner);
		free(r->v[i].rdata);
	}
	for (size_t i = 0; i < r->nproblems; i++)
		free(r->problems[i]);
	free(r->v);
	free(r->problems);
	memset(r, 0, sizeof(*r));
}

int records_add(struct records *r, const char *owner, uint32_t ttl, const char *type,
		const char *rdata, enum record_source source)
{
	struct record *rec;
	size_t olen = strlen(owner);

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		struct record *grown = realloc(r->v, cap * sizeof(*grown));
		if (grown == NULL)
			return -1;
		r->v = grown;
		r->cap = cap;
	}
	rec = &r->v[r->n];
	rec->owner = malloc(olen + 2);
	rec->rdata = strdup(rdata);
	if (rec->owner == NULL || rec->rdata == NULL) {
		free(rec->owner);
		free(rec->rdata);
		return -1;
	}
	for (size_t i = 0; i < olen; i++)
		rec->owner[i] = (char)tolower((unsigned char)owner[i]);
	rec->owner[olen] = '\0';
	if (olen == 0 || owner[olen - 1] != '.')
		strcat(rec->owner, ".");
	rec->ttl = ttl;
	snprintf(rec->type, sizeof(rec->type), "%s", type);
	for (char *t = rec->type; *t != '\0'; t++)
		*t = (char)toupper((unsigned char)*t);
	rec->source = source;
	r->n++;
	return 0;
}

void records_problem(struct records *r, const char *fmt, ...)
{
	char buf[1024], **grown;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	grown = realloc(r->problems, (r->nproblems + 1) * sizeof(*grown));
	if (grown == NULL)
		return;
	r->problems = grown;
	r->problems[r->nproblems] = strdup(buf);
	if (r->problems[r->nproblems] != NULL)
		r->nproblems++;
}

int records_take(struct records *dst, struct records *src)
{
	for (size_t i = 0; i < src->n; i++) {
		struct record *s = &src->v[i];
		if (records_add(dst, s->owner, s->ttl, s->type, s->rdata, s->source) < 0)
			return -1;
	}
	for (size_t i = 0; i < src->nproblems; i++)
		records_problem(dst, "%s", src->problems[i]);
	records_free(src);
	return 0;
}

static int cmp_rec(const void *a, const void *b)
{
	const struct record *x = a, *y = b;
	int c = strcmp(x->owner, y->owner);

	if (c != 0)
		return c;
	if ((c = strcmp(x->type, y->type)) != 0)
		return c;
	if ((c = strcmp(x->rdata, y->rdata)) != 0)
		return c;
	return (int)x->source - (int)y->source;
}

static bool in_zone(const char *owner, const char *zone)
{
	size_t o = strlen(owner), z = strlen(zone);

	/* owner has the final dot, zone does not */
	if (o == z + 1)
		return strncmp(owner, zone, z) == 0;
	return o > z + 1 && strncmp(owner + o - z - 1, zone, z) == 0 && owner[o - z - 2] == '.';
}

/* The record parses as master-file text (ldns is the judge, as when vpcdnsd loads it). */
static bool valid(const struct record *rec, char *why, size_t whylen)
{
	char line[8192];
	ldns_rr *rr = NULL;
	ldns_status st;

	snprintf(line, sizeof(line), "%s %u IN %s %s", rec->owner, rec->ttl, rec->type, rec->rdata);
	st = ldns_rr_new_frm_str(&rr, line, rec->ttl, NULL, NULL);
	if (st != LDNS_STATUS_OK) {
		snprintf(why, whylen, "%s", ldns_get_errorstr_by_id(st));
		return false;
	}
	ldns_rr_free(rr);
	return true;
}

static void drop(struct record *rec)
{
	free(rec->owner);
	free(rec->rdata);
	rec->owner = NULL;
}

void records_place(struct records *r, records_placer place, void *arg)
{
	size_t out = 0;

	for (size_t i = 0; i < r->n; i++) {
		struct record *rec = &r->v[i];
		char why[512] = "";
		enum records_fate fate = place(arg, rec->owner, rec->source, why, sizeof(why));
		if (fate == RECORDS_KEEP) {
			r->v[out++] = *rec;
			continue;
		}
		if (fate == RECORDS_REPORT)
			records_problem(r, "%s %s (%s): %s", rec->owner, rec->type,
					source_names[rec->source], why);
		free(rec->owner);
		free(rec->rdata);
	}
	r->n = out;
}

void records_normalize(struct records *r, const char *zone)
{
	size_t out = 0;

	for (size_t i = 0; i < r->n; i++) {
		char why[256];
		struct record *rec = &r->v[i];
		if (!in_zone(rec->owner, zone)) {
			records_problem(r, "%s %s (%s): outside the zone %s", rec->owner, rec->type,
					source_names[rec->source], zone);
			drop(rec);
		} else if (!valid(rec, why, sizeof(why))) {
			records_problem(r, "%s %s %s (%s): %s", rec->owner, rec->type, rec->rdata,
					source_names[rec->source], why);
			drop(rec);
		}
	}
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].owner != NULL)
			r->v[out++] = r->v[i];
	r->n = out;
	out = 0;
	if (r->n > 1) /* an empty zone has no array at all */
		qsort(r->v, r->n, sizeof(r->v[0]), cmp_rec);
	/* Dropped records (NULL owners) are squeezed out at the end. */
	for (size_t i = 0; i < r->n;) {
		size_t j = i;
		enum record_source cname_src = SOURCE_INVENTORY, other_src = SOURCE_INVENTORY;
		bool cname = false, other = false;

		if (r->v[i].owner == NULL) {
			i++;
			continue;
		}
		while (j < r->n && r->v[j].owner != NULL &&
		       strcmp(r->v[j].owner, r->v[i].owner) == 0) {
			if (strcmp(r->v[j].type, "CNAME") == 0) {
				cname = true;
				cname_src = r->v[j].source < cname_src ? r->v[j].source : cname_src;
			} else if (strcmp(r->v[j].type, "RRSIG") != 0 &&
				   strcmp(r->v[j].type, "NSEC") != 0) {
				other = true;
				other_src = r->v[j].source < other_src ? r->v[j].source : other_src;
			}
			j++;
		}
		if (cname && other) {
			/* RFC 1034 3.6.2: the source with precedence keeps the name. */
			bool keep_cname = cname_src < other_src;
			for (size_t k = i; k < j; k++) {
				bool is_cname = strcmp(r->v[k].type, "CNAME") == 0;
				if (is_cname != keep_cname && strcmp(r->v[k].type, "RRSIG") != 0) {
					records_problem(
					    r,
					    "%s %s (%s): conflicts with a %s from %s; "
					    "left out",
					    r->v[k].owner, r->v[k].type,
					    source_names[r->v[k].source],
					    keep_cname ? "CNAME" : "record",
					    source_names[keep_cname ? cname_src : other_src]);
					drop(&r->v[k]);
				}
			}
		}
		i = j;
	}
	/*
	 * One RRset, one source: where two sources give the same name and type,
	 * the one with precedence (file, then Route 53, then inventory) keeps it.
	 */
	for (size_t i = 0; i < r->n;) {
		size_t j = i;
		enum record_source best = SOURCE_INVENTORY;
		if (r->v[i].owner == NULL) {
			i++;
			continue;
		}
		while (j < r->n && r->v[j].owner != NULL &&
		       strcmp(r->v[j].owner, r->v[i].owner) == 0 &&
		       strcmp(r->v[j].type, r->v[i].type) == 0) {
			best = r->v[j].source < best ? r->v[j].source : best;
			j++;
		}
		for (size_t k = i; k < j; k++) {
			bool same = false;
			if (r->v[k].source == best)
				continue;
			/* The same record from two sources is no conflict: keep one quietly. */
			for (size_t m = i; m < j && !same; m++)
				same = r->v[m].source == best &&
				       strcmp(r->v[m].rdata, r->v[k].rdata) == 0;
			if (!same)
				records_problem(
				    r, "%s %s %s (%s): the %s RRset from %s takes precedence",
				    r->v[k].owner, r->v[k].type, r->v[k].rdata,
				    source_names[r->v[k].source], r->v[i].type, source_names[best]);
			drop(&r->v[k]);
		}
		i = j;
	}
	for (size_t i = 0; i < r->n; i++) {
		if (r->v[i].owner == NULL)
			continue;
		/* Exact duplicates collapse into one. */
		if (out > 0 && strcmp(r->v[out - 1].owner, r->v[i].owner) == 0 &&
		    strcmp(r->v[out - 1].type, r->v[i].type) == 0 &&
		    strcmp(r->v[out - 1].rdata, r->v[i].rdata) == 0) {
			drop(&r->v[i]);
			continue;
		}
		r->v[out++] = r->v[i];
	}
	r->n = out;
}

void records_write(const struct records *r, FILE *out)
{
	for (size_t i = 0; i < r->n; i++)
		fprintf(out, "%s\t%u\tIN\t%s\t%s\n", r->v[i].owner, r->v[i].ttl, r->v[i].type,
			r->v[i].rdata);
}
