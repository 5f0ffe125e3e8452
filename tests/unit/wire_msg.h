/*
 * wire_msg: DNS messages written byte by byte, for the unit tests that build
 * queries and replies by hand (test_packet.c, test_cache.c).
 */
#ifndef TESTS_UNIT_WIRE_MSG_H
#define TESTS_UNIT_WIRE_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "zones/dns.h"

struct msg {
	uint8_t b[4096];
	size_t len;
};

static inline void put8(struct msg *m, uint8_t v)
{
	m->b[m->len++] = v;
}

static inline void put16(struct msg *m, uint16_t v)
{
	dns_put16(m->b + m->len, v);
	m->len += 2;
}

static inline void put32(struct msg *m, uint32_t v)
{
	dns_put32(m->b + m->len, v);
	m->len += 4;
}

static inline void put_bytes(struct msg *m, const void *p, size_t n)
{
	if (n > 0)
		memcpy(m->b + m->len, p, n);
	m->len += n;
}

/* Writes the dotted name text (case kept) uncompressed; "" or "." is the root. */
static inline void put_name(struct msg *m, const char *text)
{
	const char *p = text;

	while (*p != '\0' && strcmp(p, ".") != 0) {
		const char *dot = strchr(p, '.');
		size_t l = dot != NULL ? (size_t)(dot - p) : strlen(p);
		put8(m, (uint8_t)l);
		put_bytes(m, p, l);
		p += l;
		if (*p == '.')
			p++;
	}
	put8(m, 0);
}

#endif
