/*
 * The answers rendered while a zone is built (struct zone_ready and struct
 * zone_negative in zones/zone.h), so that the query path copies them.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "zones/dns.h"
#include "zones/zone.h"
#include "zones/zone_impl.h"

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
	t = table_find(z, target, len, dns_name_hash(target, len));
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
int zone_render_negative(struct zone *z)
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
int zone_render_ready(struct zone *z, struct zone_node *n)
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
