#include "resolver/answer.h"

#include <string.h>
#include <time.h>

#include "zones/dns.h"

#define MAX_CHAIN      16 /* CNAME and DNAME hops followed */
#define MAX_ADDITIONAL 32 /* nodes whose addresses go in the additional section */

struct ctx {
	const struct zonedb_entry *entry; /* the zone being answered from */
	const struct zone *zone;
	const struct zonedb *zones; /* every zone served, to place CNAME targets; may be NULL */
	bool chase;                 /* follow CNAMEs into other zones the client may see */
	const struct packet_query *q;
	const struct sockaddr *src;
	bool tcp;
	struct packet_writer *w;
	struct answer *out;
	bool full; /* an RRset did not fit: the rest is left out */
	const struct zone_node *extra[MAX_ADDITIONAL];
	bool extra_required[MAX_ADDITIONAL];
	size_t nextra;
	/* The name being answered: the query name, then CNAME/DNAME targets. */
	uint8_t name[DNS_MAX_NAME];
	size_t name_len;
	bool name_is_qname;
	uint32_t rnd; /* chooses among weighted record sets */
	/* CNAME nodes already in the answer: a loop ends at the first repeat. */
	const struct zone_node *visited[MAX_CHAIN + 1];
	size_t nvisited;
};

enum step { STEP_DONE, STEP_FOLLOW };

/* xorshift64*, one state per thread: weighted answers need chance, not secrecy. */
static uint32_t next_random(void)
{
	static __thread uint64_t state;

	if (state == 0)
		state = (uint64_t)(uintptr_t)&state ^ 0x9e3779b97f4a7c15ull ^ (uint64_t)time(NULL);
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return (uint32_t)((state * 0x2545f4914f6cdd1dull) >> 32);
}

static bool rdata_visible(const struct ctx *c, const struct zone_rdata *rd)
{
	return rd->acl == NULL || acl_match(rd->acl, c->src);
}

static void note_additional(struct ctx *c, const struct zone_node *node, bool required)
{
	if (node == NULL)
		return;
	for (size_t i = 0; i < c->nextra; i++)
		if (c->extra[i] == node)
			return;
	if (c->nextra < MAX_ADDITIONAL) {
		c->extra_required[c->nextra] = required;
		c->extra[c->nextra++] = node;
	}
}

/*
 * Writes a whole RRset or nothing. owner NULL means "the name at owner_ptr".
 * In the answer and authority sections an RRset that does not fit sets TC
 * (RFC 2181 9); in the additional section it is left out.
 */
static bool put_rrset(struct ctx *c, enum packet_section section, const uint8_t *owner,
		      uint16_t owner_ptr, const struct zone_rrset *set, uint32_t ttl)
{
	struct packet_mark m = packet_mark(c->w);

	if (c->full)
		return false;
	for (size_t i = 0; i < set->count; i++) {
		const struct zone_rdata *rd = set->rdata[i];
		if (!rdata_visible(c, rd))
			continue;
		if (!packet_put_rr(c->w, section, owner, owner_ptr, set->type, DNS_CLASS_IN, ttl,
				   rd->data, rd->len)) {
			packet_rollback(c->w, m);
			if (section != PACKET_ADDITIONAL) {
				c->w->truncated = true;
				c->full = true;
			}
			return false;
		}
	}
	if (section != PACKET_ADDITIONAL)
		for (size_t i = 0; i < set->count; i++)
			if (rdata_visible(c, set->rdata[i]))
				note_additional(c, set->rdata[i]->additional,
						set->type == DNS_TYPE_NS &&
						    section == PACKET_AUTHORITY);
	return true;
}

static size_t visible_count(const struct ctx *c, const struct zone_rrset *set)
{
	size_t n = 0;

	for (size_t i = 0; i < set->count; i++)
		n += rdata_visible(c, set->rdata[i]);
	return n;
}

/* The current name as an owner: a pointer to the question when it is the query name. */
static void put_current(struct ctx *c, enum packet_section section, const struct zone_rrset *set)
{
	if (c->name_is_qname)
		put_rrset(c, section, NULL, DNS_HEADER_LEN, set, set->ttl);
	else
		put_rrset(c, section, c->name, 0, set, set->ttl);
}

/* RFC 2308 3: the SOA in the authority section, its TTL the lesser of TTL and MINIMUM. */
static void put_soa(struct ctx *c)
{
	const struct zone_node *apex = zone_apex_node(c->zone);
	const struct zone_rrset *soa = zone_node_rrset(apex, DNS_TYPE_SOA);
	const struct zone_rdata *rd = soa->rdata[0];
	uint32_t minimum = dns_get32(rd->data + rd->len - 4);

	put_rrset(c, PACKET_AUTHORITY, apex->name, 0, soa, soa->ttl < minimum ? soa->ttl : minimum);
}

static void put_additional(struct ctx *c)
{
	static const uint16_t types[] = {DNS_TYPE_A, DNS_TYPE_AAAA};

	for (size_t i = 0; i < c->nextra && !c->full; i++) {
		for (size_t t = 0; t < 2; t++) {
			const struct zone_rrset *set = zone_node_rrset(c->extra[i], types[t]);
			if (set == NULL)
				continue;
			if (!put_rrset(c, PACKET_ADDITIONAL, c->extra[i]->name, 0, set, set->ttl) &&
			    c->extra_required[i] && (c->extra[i]->flags & ZONE_NODE_GLUE)) {
				/* Glue below the cut is needed to follow the referral (RFC 9471). */
				c->w->truncated = true;
				c->full = true;
			}
		}
	}
}

static enum step referral(struct ctx *c, const struct zone_node *cut)
{
	/* AA speaks for the query name: a CNAME already answered keeps it (RFC 6604 2.1). */
	if (c->w->count[PACKET_ANSWER] == 0)
		c->out->flags &= (uint16_t)~DNS_FLAG_AA;
	put_rrset(c, PACKET_AUTHORITY, cut->name, 0, zone_node_rrset(cut, DNS_TYPE_NS),
		  zone_node_rrset(cut, DNS_TYPE_NS)->ttl);
	return STEP_DONE;
}

static bool in_zone(const struct ctx *c, const uint8_t *name, size_t len)
{
	size_t apex_len;
	const uint8_t *apex = zone_apex(c->zone, &apex_len);

	while (len > apex_len) {
		len -= 1 + *name;
		name += 1 + *name;
	}
	return len == apex_len && memcmp(name, apex, apex_len) == 0;
}

/*
 * Which zone answers the current name. Another zone we serve holds it when it
 * leads out of this one, or into a zone nested below it (served on its own: this
 * zone's data does not speak for it). We go on there only when chasing
 * (recursion offered and desired, as a resolver would) and the client may see
 * that zone; otherwise the answer ends with the CNAME, as an authoritative
 * server's does.
 */
static bool enter_zone(struct ctx *c)
{
	uint8_t off[DNS_MAX_LABELS];
	uint32_t hash[DNS_MAX_LABELS + 1];
	const struct zonedb_entry *e;
	unsigned nl = 0;

	if (c->zones == NULL)
		return in_zone(c, c->name, c->name_len);
	for (size_t p = 0; c->name[p] != 0 && nl < DNS_MAX_LABELS; p += 1 + c->name[p])
		off[nl++] = (uint8_t)p;
	dns_suffix_hashes(c->name, off, nl, hash);
	e = zonedb_find(c->zones, c->name, c->name_len, off, hash, nl);
	if (e == c->entry)
		return true;
	if (e == NULL || e->zone == NULL || !c->chase ||
	    (e->allow != NULL && !acl_match(e->allow, c->src)))
		return false;
	c->entry = e;
	c->zone = e->zone;
	return true;
}

/* Makes target (uncompressed wire rdata) the current name; false when the answer ends here. */
static bool follow(struct ctx *c, const uint8_t *target, size_t len)
{
	if (len == 0 || len > DNS_MAX_NAME)
		return false;
	for (size_t i = 0; i < len; i++)
		c->name[i] = dns_lower(target[i]);
	c->name_len = len;
	c->name_is_qname = false;
	return enter_zone(c);
}

static size_t wire_name_len(const uint8_t *p, size_t max)
{
	size_t n = 0;

	while (n < max) {
		if (p[n] == 0)
			return n + 1;
		if (p[n] > 63)
			return 0;
		n += 1 + (size_t)p[n];
	}
	return 0;
}

/* RFC 6672 5.3.2: the DNAME, a CNAME synthesized from it, then the CNAME's target. */
static enum step dname(struct ctx *c, const struct zone_node *node)
{
	const struct zone_rrset *set = zone_node_rrset(node, DNS_TYPE_DNAME);
	const struct zone_rdata *rd = set->rdata[0];
	size_t prefix = c->name_len - node->name_len;
	size_t tlen = wire_name_len(rd->data, rd->len);
	uint8_t synth[DNS_MAX_NAME];
	uint8_t owner[DNS_MAX_NAME];

	put_rrset(c, PACKET_ANSWER, node->name, 0, set, set->ttl);
	if (tlen == 0)
		return STEP_DONE;
	if (prefix + tlen > DNS_MAX_NAME) {
		c->out->rcode = DNS_RCODE_YXDOMAIN;
		return STEP_DONE;
	}
	memcpy(synth, c->name, prefix);
	memcpy(synth + prefix, rd->data, tlen);
	memcpy(owner, c->name, c->name_len);
	{
		/* The synthesized CNAME lives only in this reply: write it directly. */
		struct packet_mark m = packet_mark(c->w);
		bool ok;
		if (c->name_is_qname)
			ok =
			    packet_put_rr(c->w, PACKET_ANSWER, NULL, DNS_HEADER_LEN, DNS_TYPE_CNAME,
					  DNS_CLASS_IN, set->ttl, synth, (uint16_t)(prefix + tlen));
		else
			ok =
			    packet_put_rr(c->w, PACKET_ANSWER, owner, 0, DNS_TYPE_CNAME,
					  DNS_CLASS_IN, set->ttl, synth, (uint16_t)(prefix + tlen));
		if (!ok) {
			packet_rollback(c->w, m);
			c->w->truncated = true;
			c->full = true;
			return STEP_DONE;
		}
	}
	/* A CNAME question is answered by the synthesized CNAME itself. */
	if (c->q->qtype == DNS_TYPE_CNAME)
		return STEP_DONE;
	return follow(c, synth, prefix + tlen) ? STEP_FOLLOW : STEP_DONE;
}

/* The answer at a node that exists (or at the wildcard standing in for the name). */
static enum step node_answer(struct ctx *c, const struct zone_node *node)
{
	uint16_t qtype = c->q->qtype;
	const struct zone_rrset *set;

	set = zone_node_pick(node, DNS_TYPE_CNAME, c->rnd);
	if (set != NULL && qtype == DNS_TYPE_ANY) {
		/* ANY matches the CNAME itself; nothing is followed (RFC 1034 4.3.2). */
		put_current(c, PACKET_ANSWER, set);
		return STEP_DONE;
	}
	if (set != NULL && qtype != DNS_TYPE_CNAME) {
		/* RFC 1034 4.3.2 step 3a: restart at the canonical name. */
		const struct zone_rdata *rd = set->rdata[0];
		for (size_t i = 0; i < c->nvisited; i++)
			if (c->visited[i] == node)
				return STEP_DONE;
		if (c->nvisited <= MAX_CHAIN)
			c->visited[c->nvisited++] = node;
		put_current(c, PACKET_ANSWER, set);
		if (c->full)
			return STEP_DONE;
		return follow(c, rd->data, wire_name_len(rd->data, rd->len)) ? STEP_FOLLOW
									     : STEP_DONE;
	}
	if (qtype == DNS_TYPE_ANY) {
		/* RFC 8482 4.1: one RRset is a full answer, over UDP and TCP alike (as Knot DNS). */
		for (size_t i = 0; i < node->nrrsets; i++) {
			if (visible_count(c, &node->rrsets[i]) == 0)
				continue;
			put_current(c, PACKET_ANSWER, &node->rrsets[i]);
			return STEP_DONE;
		}
		if (node->nweighted > 0) {
			put_current(c, PACKET_ANSWER,
				    zone_node_pick(node, node->weighted[0].type, c->rnd));
			return STEP_DONE;
		}
		if (c->w->count[PACKET_ANSWER] == 0)
			put_soa(c);
		return STEP_DONE;
	}
	set = zone_node_pick(node, qtype, c->rnd);
	if (set != NULL && visible_count(c, set) > 0) {
		put_current(c, PACKET_ANSWER, set);
		return STEP_DONE;
	}
	put_soa(c); /* NODATA (RFC 2308 2.2) */
	return STEP_DONE;
}

static enum step nxdomain(struct ctx *c)
{
	c->out->rcode = DNS_RCODE_NXDOMAIN;
	put_soa(c);
	return STEP_DONE;
}

/* One pass of RFC 1034 4.3.2 step 3 over the current name. */
static enum step lookup(struct ctx *c)
{
	const struct zone_node *node = zone_apex_node(c->zone);
	unsigned zl = zone_apex_labels(c->zone);
	uint8_t off[DNS_MAX_LABELS];
	unsigned nl = 0;

	for (size_t p = 0; c->name[p] != 0; p += 1 + c->name[p])
		off[nl++] = (uint8_t)p;
	if (nl > zl && (node->flags & ZONE_NODE_DNAME))
		return dname(c, node);
	for (unsigned depth = zl + 1; depth <= nl; depth++) {
		size_t o = off[nl - depth];
		const struct zone_node *n = zone_find(c->zone, c->name + o, c->name_len - o);
		if (n == NULL) {
			/* RFC 4592 3.3.1: the closest encloser's wildcard, if it has one. */
			if (node->wildcard != NULL)
				return node_answer(c, node->wildcard);
			return nxdomain(c);
		}
		node = n;
		/* A DS query at a cut is answered from the parent side (RFC 4035 3.1.4.1). */
		if ((n->flags & ZONE_NODE_CUT) && !(depth == nl && c->q->qtype == DNS_TYPE_DS))
			return referral(c, n);
		if ((n->flags & ZONE_NODE_DNAME) && depth < nl)
			return dname(c, n);
	}
	return node_answer(c, node);
}

/* set's records owned by the name at packet offset owner; false when one does not fit. */
static bool put_plain(struct packet_writer *w, const struct zone_rrset *set, uint16_t owner)
{
	if (set == NULL || set->count == 0 || !zone_type_plain(set->type))
		return false;
	for (size_t i = 0; i < set->count; i++) {
		const struct zone_rdata *rd = set->rdata[i];
		if (rd->acl != NULL || !packet_put_rr(w, PACKET_ANSWER, NULL, owner, set->type,
						      DNS_CLASS_IN, set->ttl, rd->data, rd->len))
			return false;
	}
	return true;
}

/*
 * RFC 2308: the negative answer with the zone's rendered SOA, its pointers
 * moved to where the apex is in this question (see struct zone_negative).
 */
static bool ready_negative(const struct zone *zone, const struct packet_query *q,
			   struct packet_writer *w, struct answer *out, unsigned rcode)
{
	const struct zone_negative *neg = zone_negative(zone);
	unsigned zl = zone_apex_labels(zone);
	size_t apex_len, start = w->pos;
	uint16_t delta;

	zone_apex(zone, &apex_len);
	/* Far fewer labels than the writer remembers: it would point the same way. */
	if (neg == NULL || q->qname_labels > PACKET_COMP_MAX / 2)
		return false;
	if (q->qname_labels > zl) {
		const uint8_t *label = q->qname + q->label_off[q->qname_labels - zl - 1];
		for (size_t i = 0; i < 2; i++)
			if (neg->above[i] != NULL &&
			    memcmp(neg->above[i], label, 1u + neg->above[i][0]) == 0)
				return false;
	}
	if (!packet_put_rendered(w, neg->soa.wire, neg->soa.len, 0, 1, 0))
		return false;
	delta = (uint16_t)(q->qname_len - apex_len);
	for (size_t i = 0; i < neg->nptr; i++) {
		uint8_t *p = w->buf + start + neg->ptr[i];
		dns_put16(p, (uint16_t)(dns_get16(p) + delta));
	}
	out->rcode = rcode;
	out->flags = DNS_FLAG_AA;
	return true;
}

/*
 * NXDOMAIN: the name's closest encloser answers for its own names (no cut,
 * no DNAME on the way) and has no wildcard child (RFC 4592 3.3.1).
 */
static bool ready_nxdomain(const struct zone *zone, const struct packet_query *q,
			   struct packet_writer *w, struct answer *out)
{
	unsigned zl = zone_apex_labels(zone);
	const struct zone_node *encloser = NULL;

	if (q->qname_labels <= zl)
		return false;
	/* Every ancestor of a node is a node: the first one found is the closest. */
	for (unsigned i = 1; i + zl <= q->qname_labels && encloser == NULL; i++) {
		size_t off = q->label_off[i - 1] + 1u + q->qname[q->label_off[i - 1]];
		encloser = i + zl == q->qname_labels
			       ? zone_apex_node(zone)
			       : zone_find_hash(zone, q->qname + off, q->qname_len - off,
						q->label_hash[i]);
	}
	if (encloser == NULL || encloser->wildcard != NULL ||
	    (encloser->flags & (ZONE_NODE_INDIRECT | ZONE_NODE_DNAME)))
		return false;
	return ready_negative(zone, q, w, out, DNS_RCODE_NXDOMAIN);
}

bool answer_ready(const struct zonedb_entry *entry, const struct packet_query *q, bool chase,
		  struct packet_writer *w, struct answer *out)
{
	const struct zone_node *node;
	const struct zone_ready *r;
	const struct zone_rendered *a = NULL;
	const struct zone_rrset *set;
	struct packet_mark m = packet_mark(w);
	bool ok;

	/* Rendered for the question at offset 12, uncompressed, with nothing after it. */
	if (w->pos != q->question_end)
		return false;
	node = zone_find_hash(entry->zone, q->qname, q->qname_len, q->label_hash[0]);
	if (node == NULL)
		return ready_nxdomain(entry->zone, q, w, out);
	if (q->qtype == DNS_TYPE_ANY || (node->flags & ZONE_NODE_INDIRECT) || node->nweighted > 0)
		return false;
	r = node->ready;
	if (r != NULL)
		a = zone_ready_find(r, q->qtype);
	if (a != NULL) {
		ok = packet_put_rendered(w, a->wire, a->len, a->an, 0, a->ar);
	} else if (node->flags & ZONE_NODE_CNAME) {
		/* RFC 1034 4.3.2 step 3a: the CNAME, then the target's records of the type. */
		if (r == NULL || r->answers[0].qtype != DNS_TYPE_CNAME ||
		    (r->target == NULL && !r->cname_only) || (r->cname_only && chase))
			return false;
		a = &r->answers[0];
		ok = packet_put_rendered(w, a->wire, a->len, a->an, 0, a->ar) &&
		     (r->cname_only ||
		      put_plain(w, zone_node_rrset(r->target, q->qtype), r->target_ptr));
	} else if ((set = zone_node_rrset(node, q->qtype)) == NULL) {
		return ready_negative(entry->zone, q, w, out, DNS_RCODE_NOERROR); /* NODATA */
	} else {
		ok = put_plain(w, set, DNS_HEADER_LEN);
	}
	if (!ok) {
		packet_rollback(w, m);
		return false;
	}
	out->rcode = DNS_RCODE_NOERROR;
	out->flags = DNS_FLAG_AA;
	return true;
}

void answer_zone(const struct zonedb_entry *entry, const struct packet_query *q,
		 const struct sockaddr *src, bool tcp, const struct zonedb *zones, bool chase,
		 struct packet_writer *w, struct answer *out)
{
	if (!answer_ready(entry, q, chase, w, out))
		answer_walk(entry, q, src, tcp, zones, chase, w, out);
}

void answer_walk(const struct zonedb_entry *entry, const struct packet_query *q,
		 const struct sockaddr *src, bool tcp, const struct zonedb *zones, bool chase,
		 struct packet_writer *w, struct answer *out)
{
	struct ctx c;

	c.entry = entry;
	c.zone = entry->zone;
	c.zones = zones;
	c.chase = chase && zones != NULL;
	c.q = q;
	c.src = src;
	c.tcp = tcp;
	c.w = w;
	c.out = out;
	c.full = false;
	c.nextra = 0;
	c.nvisited = 0;
	c.rnd = next_random();
	memcpy(c.name, q->qname, q->qname_len);
	c.name_len = q->qname_len;
	c.name_is_qname = true;
	out->rcode = DNS_RCODE_NOERROR;
	out->flags = DNS_FLAG_AA;
	for (unsigned hops = 0; lookup(&c) == STEP_FOLLOW && !c.full; hops++)
		if (hops >= MAX_CHAIN)
			break;
	put_additional(&c);
}
