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

/* Question names are never compressed: nothing precedes them to point at (RFC 1035 4.1.4). */
static bool parse_qname(const uint8_t *buf, size_t len, size_t *pos, struct packet_query *q)
{
	size_t p = *pos, out = 0;
	unsigned labels = 0;

	for (;;) {
		uint8_t l;
		if (p >= len)
			return false;
		l = buf[p];
		if (l == 0)
			break;
		if (l > 63 || p + 1 + l > len || out + 1 + l + 1 > DNS_MAX_NAME)
			return false;
		q->label_off[labels++] = (uint8_t)out;
		q->qname[out++] = l;
		for (unsigned i = 1; i <= l; i++)
			q->qname[out++] = dns_lower(buf[p + i]);
		p += 1 + (size_t)l;
	}
	q->qname[out++] = 0;
	q->qname_len = out;
	q->qname_labels = (uint8_t)labels;
	*pos = p + 1;
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
	if (q->has_question)
		for (unsigned i = 0; i < q->qname_labels && w->ncomp < PACKET_COMP_MAX; i++)
			w->comp[w->ncomp++] = (uint16_t)(DNS_HEADER_LEN + q->label_off[i]);
}

/* True when the name at packet offset off equals the uncompressed name, ignoring case. */
static bool name_at_equals(const uint8_t *buf, size_t end, size_t off, const uint8_t *name)
{
	unsigned hops = 0;

	for (;;) {
		uint8_t l;
		if (off >= end)
			return false;
		l = buf[off];
		if ((l & 0xc0) == 0xc0) {
			if (off + 1 >= end || ++hops > 64)
				return false;
			off = (size_t)((l & 0x3f) << 8 | buf[off + 1]);
			continue;
		}
		if (l != *name)
			return false;
		if (l == 0)
			return true;
		if (off + 1 + l > end)
			return false;
		for (unsigned i = 1; i <= l; i++)
			if (dns_lower(buf[off + i]) != dns_lower(name[i]))
				return false;
		off += 1 + (size_t)l;
		name += 1 + l;
	}
}

static int comp_find(const struct packet_writer *w, const uint8_t *name)
{
	for (size_t i = 0; i < w->ncomp; i++)
		if (name_at_equals(w->buf, w->pos, w->comp[i], name))
			return w->comp[i];
	return -1;
}

static bool put_name(struct packet_writer *w, const uint8_t *name, bool compress)
{
	const uint8_t *p = name;

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

/*
 * Names inside rdata may be compressed only for the types of RFC 1035
 * (RFC 3597 section 4); all other rdata is copied as it is.
 */
static bool put_rdata(struct packet_writer *w, uint16_t type, const uint8_t *rd, uint16_t rdlen)
{
	size_t n, off = 0, names = 0, fixed_before = 0;

	switch (type) {
	case DNS_TYPE_NS:
	case DNS_TYPE_MD:
	case DNS_TYPE_MF:
	case DNS_TYPE_CNAME:
	case DNS_TYPE_MB:
	case DNS_TYPE_MG:
	case DNS_TYPE_MR:
	case DNS_TYPE_PTR:
		names = 1;
		break;
	case DNS_TYPE_MX:
		fixed_before = 2;
		names = 1;
		break;
	case DNS_TYPE_SOA:
	case DNS_TYPE_MINFO:
		names = 2;
		break;
	default:
		return put_bytes(w, rd, rdlen);
	}
	if (fixed_before > rdlen || !put_bytes(w, rd, fixed_before))
		return false;
	off = fixed_before;
	for (size_t i = 0; i < names; i++) {
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
