#include "resolver/packet.h"

#include <string.h>

#define OPT_RR_LEN 11 /* root name, type, class, ttl, rdlength */

size_t packet_name_len(const uint8_t *p, size_t max)
{
	size_t n = 0;

	while (n < max) {
		uint8_t l = p[n];
		if (l == 0)
			return n + 1;
		if (l > 63 || n + 1 + l >= DNS_MAX_NAME)
			return 0;
		n += 1 + (size_t)l;
	}
	return 0;
}

/* The bytes A-Z of a word of eight turned to a-z, all eight at once (no byte carries into the next). */
static uint64_t lower8(uint64_t v)
{
	uint64_t ascii = v & 0x7f7f7f7f7f7f7f7full;
	uint64_t from_a = ascii + 0x3f3f3f3f3f3f3f3full; /* bit 7 set from 'A' (0x41) on */
	uint64_t past_z = ascii + 0x2525252525252525ull; /* bit 7 set from '[' (0x5b) on */
	uint64_t upper = from_a & ~past_z & ~v & 0x8080808080808080ull;

	return v | upper >> 2; /* 0x80 >> 2 is the 0x20 between 'A' and 'a' */
}

/* Copies n bytes lower-cased; label lengths (below 64) are left as they are. */
static void lower_copy(uint8_t *dst, const uint8_t *src, size_t n)
{
	uint64_t v;
	size_t i = 0;

	if (n < 8) {
		for (; i < n; i++)
			dst[i] = dns_lower(src[i]);
		return;
	}
	for (; i + 8 <= n; i += 8) {
		memcpy(&v, src + i, 8);
		v = lower8(v);
		memcpy(dst + i, &v, 8);
	}
	/* The last bytes as the last word of eight, over some already written the same. */
	memcpy(&v, src + n - 8, 8);
	v = lower8(v);
	memcpy(dst + n - 8, &v, 8);
}

/* Question names are never compressed: nothing precedes them to point at (RFC 1035 4.1.4). */
static bool parse_qname(const uint8_t *buf, size_t len, size_t *pos, struct packet_query *q)
{
	size_t p = *pos, n = 0;
	unsigned labels = 0;

	/* The labels' lengths first, then the name copied in one go. */
	for (;;) {
		uint8_t l;
		if (p + n >= len)
			return false;
		l = buf[p + n];
		if (l == 0)
			break;
		if (l > 63 || p + n + 1 + l > len || n + 1 + l + 1 > DNS_MAX_NAME)
			return false;
		q->label_off[labels++] = (uint8_t)n;
		n += 1 + (size_t)l;
	}
	n++; /* the root label */
	lower_copy(q->qname, buf + p, n);
	q->qname_len = n;
	q->qname_labels = (uint8_t)labels;
	/* The keys of the name and its ancestors in every name table, in one pass. */
	dns_suffix_hashes(q->qname, q->label_off, labels, q->label_hash);
	*pos = p + n;
	return true;
}

/* Skips a possibly compressed name; the targets of pointers are not needed here. */
static bool skip_name(const uint8_t *buf, size_t len, size_t *pos)
{
	size_t p = *pos;

	for (;;) {
		uint8_t l;
		if (p >= len)
			return false;
		l = buf[p];
		if (l == 0) {
			*pos = p + 1;
			return true;
		}
		if ((l & 0xc0) == 0xc0) {
			if (p + 2 > len)
				return false;
			*pos = p + 2;
			return true;
		}
		if (l > 63)
			return false;
		p += 1 + (size_t)l;
	}
}

static bool parse_opt(const uint8_t *buf, size_t rdata, size_t rdlen, struct packet_query *q,
		      uint16_t rclass, uint32_t ttl)
{
	size_t p = rdata, end = rdata + rdlen;

	/* The options must be well-formed TLVs filling the rdata exactly (RFC 6891 6.1.2). */
	while (p < end) {
		if (p + 4 > end)
			return false;
		p += 4 + dns_get16(buf + p + 2);
		if (p > end)
			return false;
	}
	q->edns = true;
	q->edns_udp_size = rclass < 512 ? 512 : rclass;
	q->edns_version = (uint8_t)(ttl >> 16);
	q->edns_do = (ttl & DNS_EDNS_DO) != 0;
	return true;
}

static enum packet_status parse_records(const uint8_t *buf, size_t len, size_t pos,
					struct packet_query *q)
{
	unsigned counts[3] = {dns_get16(buf + 6), dns_get16(buf + 8), dns_get16(buf + 10)};
	unsigned nopt = 0;

	for (unsigned section = 0; section < 3; section++) {
		for (unsigned i = 0; i < counts[section]; i++) {
			size_t owner = pos;
			uint16_t type, rclass, rdlen;
			uint32_t ttl;

			if (!skip_name(buf, len, &pos) || pos + 10 > len)
				return PACKET_FORMERR;
			type = dns_get16(buf + pos);
			rclass = dns_get16(buf + pos + 2);
			ttl = dns_get32(buf + pos + 4);
			rdlen = dns_get16(buf + pos + 8);
			pos += 10;
			if (pos + rdlen > len)
				return PACKET_FORMERR;
			if (type == DNS_TYPE_OPT) {
				/* One OPT, owned by the root, in the additional section. */
				if (section != 2 || buf[owner] != 0 || ++nopt > 1) {
					q->edns = false;
					return PACKET_FORMERR;
				}
				if (!parse_opt(buf, pos, rdlen, q, rclass, ttl))
					return PACKET_FORMERR;
			}
			pos += rdlen;
		}
	}
	return PACKET_OK;
}

enum packet_status packet_parse(const uint8_t *buf, size_t len, struct packet_query *q)
{
	size_t pos = DNS_HEADER_LEN;
	unsigned qdcount;

	q->has_question = false;
	q->edns = false;
	q->edns_do = false;
	q->edns_version = 0;
	q->edns_udp_size = 512;
	if (len < DNS_HEADER_LEN)
		return PACKET_DROP;
	q->id = dns_get16(buf);
	q->flags = dns_get16(buf + 2);
	q->opcode = (q->flags >> 11) & 0xf;
	if (q->flags & DNS_FLAG_QR)
		return PACKET_DROP;
	qdcount = dns_get16(buf + 4);
	if (qdcount != 1)
		return q->opcode != DNS_OPCODE_QUERY ? PACKET_NOTIMP : PACKET_FORMERR;
	if (!parse_qname(buf, len, &pos, q) || pos + 4 > len)
		return q->opcode != DNS_OPCODE_QUERY ? PACKET_NOTIMP : PACKET_FORMERR;
	q->qtype = dns_get16(buf + pos);
	q->qclass = dns_get16(buf + pos + 2);
	pos += 4;
	q->question_end = pos;
	q->has_question = true;
	if (parse_records(buf, len, pos, q) != PACKET_OK)
		return PACKET_FORMERR;
	if (q->opcode != DNS_OPCODE_QUERY)
		return PACKET_NOTIMP;
	return PACKET_OK;
}

void packet_writer_init(struct packet_writer *w, uint8_t *buf, size_t cap, size_t budget,
			const struct packet_query *q)
{
	size_t reserve = q->edns ? OPT_RR_LEN : 0;

	w->buf = buf;
	w->cap = cap;
	w->pos = q->has_question ? q->question_end : DNS_HEADER_LEN;
	if (budget > cap)
		budget = cap;
	w->limit = budget > reserve ? budget - reserve : 0;
	w->count[0] = w->count[1] = w->count[2] = 0;
	w->truncated = false;
	w->ncomp = 0;
	w->qlabel_off = q->label_off;
	w->nqlabels = q->has_question ? q->qname_labels : 0;
}

static void comp_start(struct packet_writer *w)
{
	for (unsigned i = 0; i < w->nqlabels && w->ncomp < PACKET_COMP_MAX; i++)
		w->comp[w->ncomp++] = (uint16_t)(DNS_HEADER_LEN + w->qlabel_off[i]);
}

static int comp_find(const struct packet_writer *w, const uint8_t *name)
{
	for (size_t i = 0; i < w->ncomp; i++)
		if (dns_name_at_equals(w->buf, w->pos, w->comp[i], name))
			return w->comp[i];
	return -1;
}

static bool put_name(struct packet_writer *w, const uint8_t *name, bool compress)
{
	const uint8_t *p = name;

	if (w->ncomp == 0)
		comp_start(w);
	while (*p != 0) {
		uint8_t l = *p;
		if (compress) {
			int off = comp_find(w, p);
			if (off >= 0) {
				if (w->pos + 2 > w->limit)
					return false;
				dns_put16(w->buf + w->pos, (uint16_t)(0xc000 | off));
				w->pos += 2;
				return true;
			}
		}
		if (w->pos + 1 + l > w->limit)
			return false;
		if (w->pos < 0x4000 && w->ncomp < PACKET_COMP_MAX)
			w->comp[w->ncomp++] = (uint16_t)w->pos;
		memcpy(w->buf + w->pos, p, 1 + (size_t)l);
		w->pos += 1 + (size_t)l;
		p += 1 + l;
	}
	if (w->pos + 1 > w->limit)
		return false;
	w->buf[w->pos++] = 0;
	return true;
}

static bool put_bytes(struct packet_writer *w, const uint8_t *p, size_t n)
{
	if (w->pos + n > w->limit)
		return false;
	memcpy(w->buf + w->pos, p, n);
	w->pos += n;
	return true;
}

/* Names inside rdata are compressed only where RFC 3597 4 allows it; other rdata is copied. */
static bool put_rdata(struct packet_writer *w, uint16_t type, const uint8_t *rd, uint16_t rdlen)
{
	size_t n, off, fixed_before;
	unsigned names = dns_rdata_names(type, &fixed_before);

	if (names == 0)
		return put_bytes(w, rd, rdlen);
	if (fixed_before > rdlen || !put_bytes(w, rd, fixed_before))
		return false;
	off = fixed_before;
	for (unsigned i = 0; i < names; i++) {
		n = packet_name_len(rd + off, rdlen - off);
		if (n == 0)
			return put_bytes(w, rd + off, rdlen - off); /* not a name: copy as is */
		if (!put_name(w, rd + off, true))
			return false;
		off += n;
	}
	return put_bytes(w, rd + off, rdlen - off);
}

bool packet_put_rr(struct packet_writer *w, enum packet_section section, const uint8_t *owner,
		   uint16_t owner_ptr, uint16_t type, uint16_t rclass, uint32_t ttl,
		   const uint8_t *rdata, uint16_t rdlen)
{
	struct packet_mark m = packet_mark(w);
	size_t rdstart;

	if (owner != NULL) {
		if (!put_name(w, owner, true))
			goto undo;
	} else {
		if (w->pos + 2 > w->limit)
			goto undo;
		dns_put16(w->buf + w->pos, (uint16_t)(0xc000 | owner_ptr));
		w->pos += 2;
	}
	if (w->pos + 10 > w->limit)
		goto undo;
	dns_put16(w->buf + w->pos, type);
	dns_put16(w->buf + w->pos + 2, rclass);
	dns_put32(w->buf + w->pos + 4, ttl);
	w->pos += 10;
	rdstart = w->pos;
	if (!put_rdata(w, type, rdata, rdlen))
		goto undo;
	dns_put16(w->buf + rdstart - 2, (uint16_t)(w->pos - rdstart));
	w->count[section]++;
	return true;
undo:
	packet_rollback(w, m);
	return false;
}

bool packet_put_rendered(struct packet_writer *w, const uint8_t *wire, size_t len, uint16_t an,
			 uint16_t ns, uint16_t ar)
{
	if (w->pos + len > w->limit)
		return false;
	memcpy(w->buf + w->pos, wire, len);
	w->pos += len;
	w->count[PACKET_ANSWER] += an;
	w->count[PACKET_AUTHORITY] += ns;
	w->count[PACKET_ADDITIONAL] += ar;
	return true;
}

size_t packet_finish(struct packet_writer *w, const struct packet_query *q, unsigned rcode,
		     uint16_t flags, uint16_t edns_size)
{
	uint8_t *b = w->buf;
	uint16_t arcount = w->count[PACKET_ADDITIONAL];
	uint16_t hdr =
	    DNS_FLAG_QR | (uint16_t)(q->opcode << 11) | (flags & ~0x780f) | (rcode & 0xf);

	/* RD is copied; CD is cleared in authoritative answers (RFC 4035 3.1.6). */
	hdr |= q->flags & DNS_FLAG_RD;
	if (w->truncated)
		hdr |= DNS_FLAG_TC;
	if (q->edns) {
		/* Space for the OPT record was held back from the budget. */
		uint8_t *o = b + w->pos;
		uint32_t ttl = (uint32_t)(rcode >> 4) << 24 | (q->edns_do ? DNS_EDNS_DO : 0);
		o[0] = 0;
		dns_put16(o + 1, DNS_TYPE_OPT);
		dns_put16(o + 3, edns_size);
		dns_put32(o + 5, ttl);
		dns_put16(o + 9, 0);
		w->pos += OPT_RR_LEN;
		arcount++;
	}
	dns_put16(b, q->id);
	dns_put16(b + 2, hdr);
	dns_put16(b + 4, q->has_question ? 1 : 0);
	dns_put16(b + 6, w->count[PACKET_ANSWER]);
	dns_put16(b + 8, w->count[PACKET_AUTHORITY]);
	dns_put16(b + 10, arcount);
	return w->pos;
}

size_t packet_error_reply(uint8_t *buf, size_t cap, const struct packet_query *q, unsigned rcode,
			  uint16_t edns_size)
{
	struct packet_writer w;

	packet_writer_init(&w, buf, cap, cap, q);
	return packet_finish(&w, q, rcode, 0, edns_size);
}
