/*
 * dns: protocol constants and byte-order helpers shared by the wire code.
 */
#ifndef ZONES_DNS_H
#define ZONES_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define DNS_HEADER_LEN 12
#define DNS_MAX_NAME   255
#define DNS_MAX_LABELS 128
#define DNS_MAX_UDP    65535

enum {
	DNS_TYPE_A = 1,
	DNS_TYPE_NS = 2,
	DNS_TYPE_MD = 3,
	DNS_TYPE_MF = 4,
	DNS_TYPE_CNAME = 5,
	DNS_TYPE_SOA = 6,
	DNS_TYPE_MB = 7,
	DNS_TYPE_MG = 8,
	DNS_TYPE_MR = 9,
	DNS_TYPE_PTR = 12,
	DNS_TYPE_MINFO = 14,
	DNS_TYPE_MX = 15,
	DNS_TYPE_TXT = 16,
	DNS_TYPE_AAAA = 28,
	DNS_TYPE_SRV = 33,
	DNS_TYPE_DNAME = 39,
	DNS_TYPE_OPT = 41,
	DNS_TYPE_DS = 43,
	DNS_TYPE_RRSIG = 46,
	DNS_TYPE_NSEC = 47,
	DNS_TYPE_TKEY = 249,
	DNS_TYPE_TSIG = 250,
	DNS_TYPE_IXFR = 251,
	DNS_TYPE_AXFR = 252,
	DNS_TYPE_MAILB = 253,
	DNS_TYPE_MAILA = 254,
	DNS_TYPE_ANY = 255,
};

enum { DNS_CLASS_IN = 1, DNS_CLASS_CH = 3, DNS_CLASS_ANY = 255 };

enum {
	DNS_RCODE_NOERROR = 0,
	DNS_RCODE_FORMERR = 1,
	DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3,
	DNS_RCODE_NOTIMP = 4,
	DNS_RCODE_REFUSED = 5,
	DNS_RCODE_YXDOMAIN = 6,
	DNS_RCODE_BADVERS = 16, /* extended: upper 8 bits go in the OPT TTL */
};

enum { DNS_OPCODE_QUERY = 0 };

/* Header flag bits in the second 16-bit word. */
#define DNS_FLAG_QR 0x8000
#define DNS_FLAG_AA 0x0400
#define DNS_FLAG_TC 0x0200
#define DNS_FLAG_RD 0x0100
#define DNS_FLAG_RA 0x0080
#define DNS_FLAG_AD 0x0020
#define DNS_FLAG_CD 0x0010
#define DNS_EDNS_DO 0x8000

static inline uint16_t dns_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t dns_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void dns_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void dns_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint8_t dns_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/*
 * RFC 3597 4: names inside rdata may be compressed only for the types of RFC
 * 1035. The number of names in the rdata of type, after *fixed bytes that
 * come first; 0 when the rdata is copied as it is.
 */
static inline unsigned dns_rdata_names(uint16_t type, size_t *fixed)
{
	*fixed = 0;
	switch (type) {
	case DNS_TYPE_NS:
	case DNS_TYPE_MD:
	case DNS_TYPE_MF:
	case DNS_TYPE_CNAME:
	case DNS_TYPE_MB:
	case DNS_TYPE_MG:
	case DNS_TYPE_MR:
	case DNS_TYPE_PTR:
		return 1;
	case DNS_TYPE_MX:
		*fixed = 2;
		return 1;
	case DNS_TYPE_SOA:
	case DNS_TYPE_MINFO:
		return 2;
	default:
		return 0;
	}
}

/*
 * True when the name at offset off of the message buf (end bytes written so
 * far; compression pointers followed) equals the uncompressed name, ignoring
 * case: how a writer finds an earlier copy of a name to point to.
 */
static inline bool dns_name_at_equals(const uint8_t *buf, size_t end, size_t off,
				      const uint8_t *name)
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

/*
 * The hash of a lower-cased wire name, the key of every name table: label by
 * label from the root, so that the hash of every suffix of a name is a step
 * on the way to the name's own (dns_suffix_hashes) and one pass over a query
 * name gives the keys of all its ancestors. Within a label, four bytes at a
 * time with MurmurHash3's block step, the last few with FNV-1a's.
 */
#define DNS_HASH_ROOT ((2166136261u ^ 0u) * 16777619u)

static inline uint32_t dns_hash_label(uint32_t h, const uint8_t *label)
{
	size_t n = 1u + label[0], i = 0;

	for (; i + 4 <= n; i += 4) {
		uint32_t k;
		memcpy(&k, label + i, 4);
		k *= 0xcc9e2d51u;
		k = k << 15 | k >> 17;
		k *= 0x1b873593u;
		h ^= k;
		h = h << 13 | h >> 19;
		h = h * 5 + 0xe6546b64u;
	}
	for (; i < n; i++)
		h = (h ^ label[i]) * 16777619u;
	return h;
}

static inline uint32_t dns_name_hash(const uint8_t *name, size_t len)
{
	uint8_t off[DNS_MAX_LABELS];
	unsigned n = 0;
	uint32_t h = DNS_HASH_ROOT;

	for (size_t p = 0; p < len && name[p] != 0 && n < DNS_MAX_LABELS; p += 1u + name[p])
		off[n++] = (uint8_t)p;
	while (n > 0)
		h = dns_hash_label(h, name + off[--n]);
	return h;
}

/* hash[i]: the hash of name from its label i on (at label_off[i]); hash[nlabels]: the root's. */
static inline void dns_suffix_hashes(const uint8_t *name, const uint8_t *label_off,
				     unsigned nlabels, uint32_t *hash)
{
	uint32_t h = DNS_HASH_ROOT;

	hash[nlabels] = h;
	for (unsigned i = nlabels; i-- > 0;)
		hash[i] = h = dns_hash_label(h, name + label_off[i]);
}

#endif
