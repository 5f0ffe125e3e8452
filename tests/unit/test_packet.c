/* Unit tests of resolver/packet: query parsing and the reply writer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "resolver/packet.h"
#include "tests/unit/wire_msg.h"

static void put_label(struct msg *m, size_t n, char c)
{
	put8(m, (uint8_t)n);
	memset(m->b + m->len, c, n);
	m->len += n;
}

static void put_header(struct msg *m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
		       uint16_t ns, uint16_t ar)
{
	m->len = 0;
	put16(m, id);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, ns);
	put16(m, ar);
}

/* An OPT record owned by the root. */
static void put_opt(struct msg *m, uint16_t udp, uint8_t ext_rcode, uint8_t version, bool dobit,
		    const uint8_t *rdata, uint16_t rdlen)
{
	put8(m, 0);
	put16(m, DNS_TYPE_OPT);
	put16(m, udp);
	put32(m, (uint32_t)ext_rcode << 24 | (uint32_t)version << 16 | (dobit ? DNS_EDNS_DO : 0));
	put16(m, rdlen);
	put_bytes(m, rdata, rdlen);
}

/* A plain query with one question and, when udp is non-zero, an OPT record. */
static void make_query(struct msg *m, uint16_t id, uint16_t flags, const char *name, uint16_t qtype,
		       uint16_t qclass, uint16_t udp)
{
	put_header(m, id, flags, 1, 0, 0, udp ? 1 : 0);
	put_name(m, name);
	put16(m, qtype);
	put16(m, qclass);
	if (udp)
		put_opt(m, udp, 0, 0, false, NULL, 0);
}

static enum packet_status parse(const struct msg *m, struct packet_query *q)
{
	memset(q, 0xa5, sizeof(*q));
	return packet_parse(m->b, m->len, q);
}

static ldns_pkt *decode(const uint8_t *buf, size_t len)
{
	ldns_pkt *pkt = NULL;

	assert_int_equal(ldns_wire2pkt(&pkt, buf, len), LDNS_STATUS_OK);
	assert_non_null(pkt);
	return pkt;
}

/* The rdata fields of rr in presentation form, separated by spaces. */
static void rdata_text(const ldns_rr *rr, char *out, size_t outlen)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		char *s = ldns_rdf2str(ldns_rr_rdf(rr, i));
		assert_non_null(s);
		used += (size_t)snprintf(out + used, outlen - used, "%s%s", i ? " " : "", s);
		free(s);
		assert_true(used < outlen);
	}
}

static void owner_text(const ldns_rr *rr, char *out, size_t outlen)
{
	char *s = ldns_rdf2str(ldns_rr_owner(rr));

	assert_non_null(s);
	snprintf(out, outlen, "%s", s);
	free(s);
}

/* ---- packet_parse ---- */

static void test_parse_valid(void **state)
{
	struct msg m;
	struct packet_query q;
	static const uint8_t qname[] = "\3www\7example\3com";

	(void)state;
	make_query(&m, 0x1234, DNS_FLAG_RD | DNS_FLAG_CD, "WWW.Example.cOm", DNS_TYPE_MX,
		   DNS_CLASS_IN, 0);
	assert_int_equal(parse(&m, &q), PACKET_OK);
	assert_int_equal(q.id, 0x1234);
	assert_int_equal(q.flags, DNS_FLAG_RD | DNS_FLAG_CD);
	assert_int_equal(q.opcode, 0);
	assert_int_equal(q.qtype, DNS_TYPE_MX);
	assert_int_equal(q.qclass, DNS_CLASS_IN);
	assert_true(q.has_question);
	assert_int_equal(q.qname_len, sizeof(qname));
	assert_memory_equal(q.qname, qname, sizeof(qname));
	assert_int_equal(q.qname_labels, 3);
	assert_int_equal(q.label_off[0], 0);
	assert_int_equal(q.label_off[1], 4);
	assert_int_equal(q.label_off[2], 12);
	assert_int_equal(q.question_end, 12 + 17 + 4);
	assert_false(q.edns);
	assert_false(q.edns_do);
	assert_int_equal(q.edns_version, 0);
	assert_int_equal(q.edns_udp_size, 512);
	/* The buffer itself is not changed: the reply echoes the original case. */
	assert_memory_equal(m.b + 12, "\3WWW\7Example\3cOm", 17);
}

/* Every byte value, at every place in a word of eight: lower-cased as dns_lower does it. */
static void test_parse_lowercase_every_byte(void **state)
{
	struct msg m;
	struct packet_query q;
	uint8_t want[DNS_MAX_NAME];

	(void)state;
	for (unsigned shift = 0; shift < 8; shift++) {
		size_t n = 0;
		put_header(&m, 1, 0, 1, 0, 0, 0);
		/* Labels of 63, 63, 63 and 61 bytes: 0..255 with a shift, then the root. */
		for (unsigned l = 0; l < 4; l++) {
			unsigned len = l < 3 ? 63 : 61;
			want[n++] = (uint8_t)len;
			put8(&m, (uint8_t)len);
			for (unsigned i = 0; i < len; i++) {
				uint8_t c = (uint8_t)(l * 63 + i + shift);
				put8(&m, c);
				want[n++] = dns_lower(c);
			}
		}
		want[n++] = 0;
		put8(&m, 0);
		put16(&m, DNS_TYPE_A);
		put16(&m, DNS_CLASS_IN);
		assert_int_equal(parse(&m, &q), PACKET_OK);
		assert_int_equal(q.qname_len, n);
		assert_memory_equal(q.qname, want, n);
		assert_int_equal(q.label_hash[0], dns_name_hash(want, n));
		assert_int_equal(q.label_hash[2],
				 dns_name_hash(want + q.label_off[2], n - q.label_off[2]));
		assert_int_equal(q.label_hash[4], dns_name_hash((const uint8_t *)"", 1));
	}
	/* Short names take the byte-by-byte way. */
	make_query(&m, 1, 0, "A.b", DNS_TYPE_A, DNS_CLASS_IN, 0);
	assert_int_equal(parse(&m, &q), PACKET_OK);
	assert_memory_equal(q.qname, "\1a\1b", 5);
	make_query(&m, 1, 0, "ABCDEFG", DNS_TYPE_A, DNS_CLASS_IN, 0);
	assert_int_equal(parse(&m, &q), PACKET_OK);
	assert_memory_equal(q.qname, "\7abcdefg", 9);
}

static void test_parse_root_name(void **state)
{
	struct msg m;
	struct packet_query q;

	(void)state;
	make_query(&m, 7, 0, ".", DNS_TYPE_NS, DNS_CLASS_IN, 0);
	assert_int_equal(parse(&m, &q), PACKET_OK);
	assert_int_equal(q.qname_len, 1);
	assert_int_equal(q.qname[0], 0);
	assert_int_equal(q.qname_labels, 0);
	assert_int_equal(q.question_end, 12 + 1 + 4);
	assert_int_equal(q.qtype, DNS_TYPE_NS);
}

static void test_parse_drop(void **state)
{
	struct msg m;
	struct packet_query q;

	(void)state;
	make_query(&m, 1, 0, "example.com", DNS_TYPE_A, DNS_CLASS_IN, 0);
	assert_int_equal(packet_parse(m.b, 11, &q), PACKET_DROP);
	assert_int_equal(packet_parse(m.b, 0, &q), PACKET_DROP);
	/* QR=1: a response, never answered. */
	make_query(&m, 1, DNS_FLAG_QR, "example.com", DNS_TYPE_A, DNS_CLASS_IN, 0);
	assert_int_equal(parse(&m, &q), PACKET_DROP);
	make_query(&m, 1, DNS_FLAG_QR | 4 << 11, "example.com", DNS_TYPE_A, DNS_CLASS_IN, 0);
	assert_int_equal(parse(&m, &q), PACKET_DROP);
	/* A bare 12-byte header is not dropped: it can be answered. */
	put_header(&m, 9, 0, 0, 0, 0, 0);
	assert_int_equal(parse(&m, &q), PACKET_FORMERR);
	assert_int_equal(q.id, 9);
	assert_false(q.has_question);
}

static void test_parse_qdcount(void **state)
{
	struct msg m;
	struct packet_query q;

	(void)state;
	put_header(&m, 2, 0, 0, 0, 0, 0);
	assert_int_equal(parse(&m, &q), PACKET_FORMERR);
	assert_false(q.has_question);

	put_header(&m, 2, 0, 2, 0, 0, 0);
	put_name(&m, "a.example");
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	put_name(&m, "b.example");
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	assert_int_equal(parse(&m, &q), PACKET_FORMERR);
	assert_false(q.has_question);
	assert_int_equal(q.id, 2);
}

static void test_parse_truncated_question(void **state)
{
	struct msg m;
	struct packet_query q;

	(void)state;
	make_query(&m, 3, 0, "www.example.com", DNS_TYPE_A, DNS_CLASS_IN, 0);
	/* Cut inside the name, at its last byte, inside the type and the class. */
	for (size_t cut = 13; cut < m.len; cut++) {
		memset(&q, 0, sizeof(q));
		if (packet_parse(m.b, cut, &q) != PACKET_FORMERR)
			fail_msg("a question cut at %zu bytes was not FORMERR", cut);
		assert_false(q.has_question);
	}
	assert_int_equal(packet_parse(m.b, m.len, &q), PACKET_OK);
	/* qdcount 1 and nothing after the header. */
	assert_int_equal(packet_parse(m.b, 12, &q), PACKET_FORMERR);
}

static void test_parse_long_label(void **state)
{
	struct msg m;
	struct packet_query q;

	(void)state;
	put_header(&m, 4, 0, 1, 0, 0, 0);
	put_label(&m, 64, 'a');
	put_name(&m, "example");
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	assert_int_equal(parse(&m, &q), PACKET_FORMERR);

	/* 63 is the longest label allowed. */
	put_header(&m, 4, 0, 1, 0, 0, 0);
	put_label(&m, 63, 'A');
	put_name(&m, "example");
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	assert_int_equal(parse(&m, &q), PACKET_OK);
	assert_int_equal(q.qname[0], 63);
	assert_int_equal(q.qname[1], 'a');
	assert_int_equal(q.qname_len, 64 + 9);
}

static void test_parse_compressed_question(void **state)
{
	struct msg m;
	struct packet_query q;

	(void)state;
	put_header(&m, 5, 0, 1, 0, 0, 0);
	put8(&m, 3);
	put_bytes(&m, "www", 3);
	put8(&m, 0xc0);
	put8(&m, 0x0c);
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	assert_int_equal(parse(&m, &q), PACKET_FORMERR);

	put_header(&m, 5, 0, 1, 0, 0, 0);
	put8(&m, 0xc0);
	put8(&m, 0x0c);
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	assert_int_equal(parse(&m, &q), PACKET_FORMERR);
}

static void test_parse_name_length(void **state)
{
	struct msg m;
	struct packet_query q;

	(void)state;
	/* 4 x 63-byte labels: 257 bytes in wire form. */
	put_header(&m, 6, 0, 1, 0, 0, 0);
	for (int i = 0; i < 4; i++)
		put_label(&m, 63, 'x');
	put8(&m, 0);
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	assert_int_equal(parse(&m, &q), PACKET_FORMERR);

	/* 3 x 63 + 62: 256 bytes. */
	put_header(&m, 6, 0, 1, 0, 0, 0);
	for (int i = 0; i < 3; i++)
		put_label(&m, 63, 'x');
	put_label(&m, 62, 'x');
	put8(&m, 0);
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	assert_int_equal(parse(&m, &q), PACKET_FORMERR);

	/* 3 x 63 + 61: exactly 255 bytes, the longest name. */
	put_header(&m, 6, 0, 1, 0, 0, 0);
	for (int i = 0; i < 3; i++)
		put_label(&m, 63, 'x');
	put_label(&m, 61, 'x');
	put8(&m, 0);
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	assert_int_equal(parse(&m, &q), PACKET_OK);
	assert_int_equal(q.qname_len, 255);
	assert_int_equal(q.qname_labels, 4);
	assert_int_equal(q.label_off[3], 192);
	assert_int_equal(q.question_end, 12 + 255 + 4);

	/* 127 one-byte labels: 255 bytes, the most labels a name can have. */
	put_header(&m, 6, 0, 1, 0, 0, 0);
	for (int i = 0; i < 127; i++)
		put_label(&m, 1, 'Z');
	put8(&m, 0);
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	assert_int_equal(parse(&m, &q), PACKET_OK);
	assert_int_equal(q.qname_labels, 127);
	assert_int_equal(q.label_off[126], 252);
	assert_int_equal(q.qname[253], 'z');
}

static void test_parse_truncated_rr(void **state)
{
	struct msg m;
	struct packet_query q;

	(void)state;
	/* arcount 1, nothing there. */
	put_header(&m, 8, 0, 1, 0, 0, 1);
	put_name(&m, "example.com");
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	assert_int_equal(parse(&m, &q), PACKET_FORMERR);
	assert_true(q.has_question);

	/* An OPT cut inside its fixed part. */
	put_header(&m, 8, 0, 1, 0, 0, 1);
	put_name(&m, "example.com");
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	put8(&m, 0);
	put16(&m, DNS_TYPE_OPT);
	put16(&m, 4096);
	assert_int_equal(parse(&m, &q), PACKET_FORMERR);

	/* An RR whose rdlength runs past the end. */
	put_header(&m, 8, 0, 1, 0, 0, 1);
	put_name(&m, "example.com");
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	put_name(&m, "x.example.com");
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	put32(&m, 60);
	put16(&m, 4);
	put_bytes(&m, "\1\2\3", 3);
	assert_int_equal(parse(&m, &q), PACKET_FORMERR);
	/* Complete, it parses (a non-OPT record in the additional section is skipped). */
	put8(&m, 4);
	assert_int_equal(parse(&m, &q), PACKET_OK);
	assert_false(q.edns);

	/* A compressed owner in the additional section is fine. */
	put_header(&m, 8, 0, 1, 0, 0, 1);
	put_name(&m, "example.com");
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	put16(&m, 0xc00c);
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	put32(&m, 60);
	put16(&m, 4);
	put32(&m, 0x01020304);
	assert_int_equal(parse(&m, &q), PACKET_OK);
}

static void test_parse_two_opt(void **state)
{
	struct msg m;
	struct packet_query q;

	(void)state;
	put_header(&m, 10, 0, 1, 0, 0, 2);
	put_name(&m, "example.com");
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	put_opt(&m, 4096, 0, 0, false, NULL, 0);
	put_opt(&m, 4096, 0, 0, false, NULL, 0);
	assert_int_equal(parse(&m, &q), PACKET_FORMERR);
	assert_true(q.has_question);
	assert_int_equal(q.id, 10);
}

static void test_parse_opt_placement(void **state)
{
	struct msg m;
	struct packet_query q;

	(void)state;
	/* Owner not the root. */
	put_header(&m, 11, 0, 1, 0, 0, 1);
	put_name(&m, "example.com");
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	put_name(&m, "example.com");
	put16(&m, DNS_TYPE_OPT);
	put16(&m, 4096);
	put32(&m, 0);
	put16(&m, 0);
	assert_int_equal(parse(&m, &q), PACKET_FORMERR);
	assert_false(q.edns);

	/* Owner a pointer to the question name. */
	put_header(&m, 11, 0, 1, 0, 0, 1);
	put_name(&m, "example.com");
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	put16(&m, 0xc00c);
	put16(&m, DNS_TYPE_OPT);
	put16(&m, 4096);
	put32(&m, 0);
	put16(&m, 0);
	assert_int_equal(parse(&m, &q), PACKET_FORMERR);

	/* OPT in the answer section. */
	put_header(&m, 11, 0, 1, 1, 0, 0);
	put_name(&m, "example.com");
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	put_opt(&m, 4096, 0, 0, false, NULL, 0);
	assert_int_equal(parse(&m, &q), PACKET_FORMERR);
}

static void test_parse_opt_options(void **state)
{
	static const uint8_t cookie[] = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
	static const uint8_t two[] = {0, 10, 0, 0, 0, 8, 0, 2, 0xaa, 0xbb};
	static const uint8_t overrun[] = {0, 10, 0, 4, 1, 2};
	static const uint8_t short_hdr[] = {0, 10, 0};
	static const uint8_t tail[] = {0, 10, 0, 0, 9};
	struct msg m;
	struct packet_query q;

	(void)state;
	make_query(&m, 12, 0, "example.com", DNS_TYPE_A, DNS_CLASS_IN, 0);
	m.b[11] = 1;
	put_opt(&m, 1232, 0, 0, false, cookie, sizeof(cookie));
	assert_int_equal(parse(&m, &q), PACKET_OK);
	assert_true(q.edns);
	assert_int_equal(q.edns_udp_size, 1232);

	make_query(&m, 12, 0, "example.com", DNS_TYPE_A, DNS_CLASS_IN, 0);
	m.b[11] = 1;
	put_opt(&m, 1232, 0, 0, false, two, sizeof(two));
	assert_int_equal(parse(&m, &q), PACKET_OK);

	const struct {
		const uint8_t *rd;
		uint16_t len;
	} bad[] = {
	    {overrun, sizeof(overrun)}, {short_hdr, sizeof(short_hdr)}, {tail, sizeof(tail)}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		make_query(&m, 12, 0, "example.com", DNS_TYPE_A, DNS_CLASS_IN, 0);
		m.b[11] = 1;
		put_opt(&m, 1232, 0, 0, false, bad[i].rd, bad[i].len);
		if (parse(&m, &q) != PACKET_FORMERR)
			fail_msg("malformed OPT options #%zu were accepted", i);
		assert_true(q.has_question);
	}
}

static void test_parse_notimp(void **state)
{
	struct msg m;
	struct packet_query q;

	(void)state;
	/* NOTIFY */
	make_query(&m, 13, 4 << 11 | DNS_FLAG_AA, "example.com", DNS_TYPE_SOA, DNS_CLASS_IN, 0);
	assert_int_equal(parse(&m, &q), PACKET_NOTIMP);
	assert_int_equal(q.opcode, 4);
	assert_true(q.has_question);
	assert_int_equal(q.qtype, DNS_TYPE_SOA);
	/* UPDATE, with a prerequisite record. */
	put_header(&m, 14, 5 << 11, 1, 1, 0, 0);
	put_name(&m, "example.com");
	put16(&m, DNS_TYPE_SOA);
	put16(&m, DNS_CLASS_IN);
	put_name(&m, "host.example.com");
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_ANY);
	put32(&m, 0);
	put16(&m, 0);
	assert_int_equal(parse(&m, &q), PACKET_NOTIMP);
	assert_int_equal(q.opcode, 5);
	/* STATUS (2) and an unassigned opcode (15), even with no question. */
	put_header(&m, 15, 2 << 11, 0, 0, 0, 0);
	assert_int_equal(parse(&m, &q), PACKET_NOTIMP);
	assert_int_equal(q.opcode, 2);
	put_header(&m, 15, 15 << 11, 1, 0, 0, 0);
	put_name(&m, "example.com");
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	assert_int_equal(parse(&m, &q), PACKET_NOTIMP);
	assert_int_equal(q.opcode, 15);
}

static void test_parse_edns(void **state)
{
	struct msg m;
	struct packet_query q;

	(void)state;
	make_query(&m, 16, 0, "example.com", DNS_TYPE_A, DNS_CLASS_IN, 0);
	m.b[11] = 1;
	put_opt(&m, 4096, 0, 0, true, NULL, 0);
	assert_int_equal(parse(&m, &q), PACKET_OK);
	assert_true(q.edns);
	assert_int_equal(q.edns_udp_size, 4096);
	assert_int_equal(q.edns_version, 0);
	assert_true(q.edns_do);

	make_query(&m, 16, 0, "example.com", DNS_TYPE_A, DNS_CLASS_IN, 0);
	m.b[11] = 1;
	put_opt(&m, 100, 0, 1, false, NULL, 0);
	assert_int_equal(parse(&m, &q), PACKET_OK);
	assert_true(q.edns);
	assert_int_equal(q.edns_udp_size, 512);
	assert_int_equal(q.edns_version, 1);
	assert_false(q.edns_do);

	make_query(&m, 16, 0, "example.com", DNS_TYPE_A, DNS_CLASS_IN, 0);
	m.b[11] = 1;
	put_opt(&m, 0, 0, 0, false, NULL, 0);
	assert_int_equal(parse(&m, &q), PACKET_OK);
	assert_int_equal(q.edns_udp_size, 512);

	make_query(&m, 16, 0, "example.com", DNS_TYPE_A, DNS_CLASS_IN, 0);
	m.b[11] = 1;
	put_opt(&m, 512, 0, 0, false, NULL, 0);
	assert_int_equal(parse(&m, &q), PACKET_OK);
	assert_int_equal(q.edns_udp_size, 512);

	make_query(&m, 16, 0, "example.com", DNS_TYPE_A, DNS_CLASS_IN, 0);
	m.b[11] = 1;
	put_opt(&m, 65535, 0, 0, false, NULL, 0);
	assert_int_equal(parse(&m, &q), PACKET_OK);
	assert_int_equal(q.edns_udp_size, 65535);
}

static void test_name_len(void **state)
{
	uint8_t name[300];

	(void)state;
	assert_int_equal(packet_name_len((const uint8_t *)"\3www\7example\3com", 17), 17);
	assert_int_equal(packet_name_len((const uint8_t *)"\3www\7example\3com", 16), 0);
	assert_int_equal(packet_name_len((const uint8_t *)"", 1), 1);
	assert_int_equal(packet_name_len((const uint8_t *)"\xc0\x0c", 2), 0);
	/* 255 bytes is the longest name, 257 too long. */
	memset(name, 0, sizeof(name));
	for (int i = 0; i < 3; i++) {
		name[i * 64] = 63;
		memset(name + i * 64 + 1, 'a', 63);
	}
	name[192] = 61;
	memset(name + 193, 'a', 61);
	name[254] = 0;
	assert_int_equal(packet_name_len(name, sizeof(name)), 255);
	name[192] = 63;
	memset(name + 193, 'a', 63);
	name[256] = 0;
	assert_int_equal(packet_name_len(name, sizeof(name)), 0);
}

/* ---- packet writer ---- */

static const uint8_t A_RDATA[] = {192, 0, 2, 1};

static void start(struct msg *m, struct packet_query *q, const char *name, uint16_t flags,
		  uint16_t udp)
{
	make_query(m, 0xbeef, flags, name, DNS_TYPE_A, DNS_CLASS_IN, udp);
	assert_int_equal(parse(m, q), PACKET_OK);
}

static void test_writer_init(void **state)
{
	struct msg m;
	struct packet_query q;
	struct packet_writer w;

	(void)state;
	start(&m, &q, "www.example.com", 0, 0);
	packet_writer_init(&w, m.b, sizeof(m.b), 512, &q);
	assert_int_equal(w.pos, q.question_end);
	assert_int_equal(w.limit, 512);
	assert_int_equal(w.count[0] + w.count[1] + w.count[2], 0);
	assert_false(w.truncated);

	start(&m, &q, "www.example.com", 0, 4096);
	packet_writer_init(&w, m.b, sizeof(m.b), 1232, &q);
	assert_int_equal(w.pos, q.question_end);
	assert_int_equal(w.limit, 1232 - 11);
	/* The budget never exceeds the buffer. */
	packet_writer_init(&w, m.b, 300, 1232, &q);
	assert_int_equal(w.limit, 300 - 11);
}

static void test_writer_owner_compression(void **state)
{
	struct msg m;
	struct packet_query q;
	struct packet_writer w;
	size_t qe;

	(void)state;
	start(&m, &q, "WWW.Example.com", DNS_FLAG_RD, 0);
	qe = q.question_end;
	packet_writer_init(&w, m.b, sizeof(m.b), 512, &q);
	/* The owner equals the question name: a pointer to offset 12. */
	assert_true(packet_put_rr(&w, PACKET_ANSWER, (const uint8_t *)"\3www\7example\3com", 0,
				  DNS_TYPE_A, DNS_CLASS_IN, 300, A_RDATA, 4));
	assert_int_equal(w.pos, qe + 2 + 10 + 4);
	assert_int_equal(w.count[PACKET_ANSWER], 1);
	assert_memory_equal(m.b + qe,
			    "\xc0\x0c"
			    "\0\1\0\1\0\0\1\x2c\0\4\xc0\0\2\1",
			    16);
	/* owner NULL: the given pointer. */
	assert_true(packet_put_rr(&w, PACKET_AUTHORITY, NULL, 12, DNS_TYPE_A, DNS_CLASS_IN, 60,
				  A_RDATA, 4));
	assert_memory_equal(m.b + qe + 16, "\xc0\x0c", 2);
	/* Below the question's parent: new label, then a pointer to "example.com" at 16. */
	assert_true(packet_put_rr(&w, PACKET_ADDITIONAL, (const uint8_t *)"\4mail\7example\3com", 0,
				  DNS_TYPE_A, DNS_CLASS_IN, 300, A_RDATA, 4));
	assert_memory_equal(m.b + qe + 32, "\4mail\xc0\x10", 7);
	assert_int_equal(w.pos, qe + 32 + 7 + 10 + 4);
	/* ... and a name written earlier is a target too. */
	assert_true(packet_put_rr(&w, PACKET_ADDITIONAL, (const uint8_t *)"\4MAIL\7example\3com", 0,
				  DNS_TYPE_AAAA, DNS_CLASS_IN, 300,
				  (const uint8_t *)"0123456789abcdef", 16));
	assert_int_equal(dns_get16(m.b + qe + 53), 0xc000 | (uint16_t)(qe + 32));
	assert_int_equal(w.count[PACKET_ANSWER], 1);
	assert_int_equal(w.count[PACKET_AUTHORITY], 1);
	assert_int_equal(w.count[PACKET_ADDITIONAL], 2);
	/* A name in another domain is written in full. */
	assert_true(packet_put_rr(&w, PACKET_ADDITIONAL, (const uint8_t *)"\3www\7example\3org", 0,
				  DNS_TYPE_A, DNS_CLASS_IN, 60, A_RDATA, 4));

	size_t len = packet_finish(&w, &q, 0, DNS_FLAG_AA, 1232);
	ldns_pkt *pkt = decode(m.b, len);
	char text[512];
	assert_int_equal(ldns_pkt_ancount(pkt), 1);
	assert_int_equal(ldns_pkt_nscount(pkt), 1);
	assert_int_equal(ldns_pkt_arcount(pkt), 3);
	owner_text(ldns_rr_list_rr(ldns_pkt_answer(pkt), 0), text, sizeof(text));
	assert_string_equal(text, "WWW.Example.com.");
	owner_text(ldns_rr_list_rr(ldns_pkt_additional(pkt), 0), text, sizeof(text));
	assert_string_equal(text, "mail.Example.com.");
	owner_text(ldns_rr_list_rr(ldns_pkt_additional(pkt), 1), text, sizeof(text));
	assert_string_equal(text, "mail.Example.com.");
	owner_text(ldns_rr_list_rr(ldns_pkt_additional(pkt), 2), text, sizeof(text));
	assert_string_equal(text, "www.example.org.");
	rdata_text(ldns_rr_list_rr(ldns_pkt_additional(pkt), 1), text, sizeof(text));
	assert_string_equal(text, "3031:3233:3435:3637:3839:6162:6364:6566");
	ldns_pkt_free(pkt);
}

static void test_writer_rdata_compression(void **state)
{
	static const uint8_t ns[] = "\3ns1\7example\3com";
	static const uint8_t mx[] = "\0\12\4mail\7example\3com";
	static const uint8_t cname[] = "\3www\7example\3com";
	static const uint8_t ptr[] = "\4mail\7example\3com";
	uint8_t soa[64];
	struct msg m;
	struct packet_query q;
	struct packet_writer w;
	size_t qe, at, n = 0;
	char text[512];
	ldns_pkt *pkt;
	ldns_rr_list *an;

	(void)state;
	memcpy(soa, "\3ns1\7example\3com", 17);
	n = 17;
	memcpy(soa + n, "\12hostmaster\7example\3com", 24);
	n += 24;
	for (uint32_t i = 1; i <= 5; i++, n += 4)
		dns_put32(soa + n, i);

	start(&m, &q, "www.example.com", 0, 0);
	qe = q.question_end;
	packet_writer_init(&w, m.b, sizeof(m.b), 512, &q);

	at = w.pos;
	assert_true(packet_put_rr(&w, PACKET_ANSWER, (const uint8_t *)"\7example\3com", 0,
				  DNS_TYPE_NS, DNS_CLASS_IN, 3600, ns, sizeof(ns)));
	assert_memory_equal(m.b + at, "\xc0\x10", 2); /* owner: example.com in the question */
	assert_int_equal(dns_get16(m.b + at + 10), 6);
	assert_memory_equal(m.b + at + 12, "\3ns1\xc0\x10", 6);

	at = w.pos;
	assert_true(packet_put_rr(&w, PACKET_ANSWER, (const uint8_t *)"\7example\3com", 0,
				  DNS_TYPE_MX, DNS_CLASS_IN, 3600, mx, sizeof(mx)));
	assert_int_equal(dns_get16(m.b + at + 10), 9);
	assert_memory_equal(m.b + at + 12, "\0\12\4mail\xc0\x10", 9);

	at = w.pos;
	assert_true(packet_put_rr(&w, PACKET_ANSWER, (const uint8_t *)"\5alias\7example\3com", 0,
				  DNS_TYPE_CNAME, DNS_CLASS_IN, 3600, cname, sizeof(cname)));
	assert_int_equal(dns_get16(m.b + at + 6 + 2 + 8), 2);
	assert_memory_equal(m.b + at + 6 + 2 + 10, "\xc0\x0c", 2);

	at = w.pos;
	assert_true(packet_put_rr(&w, PACKET_ANSWER, (const uint8_t *)"\7example\3com", 0,
				  DNS_TYPE_SOA, DNS_CLASS_IN, 3600, soa, (uint16_t)n));
	/* mname: a pointer to ns1 in the NS rdata; rname: a label and a pointer. */
	assert_int_equal(dns_get16(m.b + at + 10), 2 + 11 + 2 + 20);
	assert_int_equal(m.b[at + 12] & 0xc0, 0xc0);
	assert_memory_equal(m.b + at + 14, "\12hostmaster\xc0\x10", 13);

	at = w.pos;
	assert_true(packet_put_rr(&w, PACKET_ANSWER, (const uint8_t *)"\7example\3com", 0,
				  DNS_TYPE_PTR, DNS_CLASS_IN, 3600, ptr, sizeof(ptr)));
	assert_int_equal(dns_get16(m.b + at + 10), 2);

	size_t len = packet_finish(&w, &q, 0, DNS_FLAG_AA, 0);
	assert_int_equal(len, w.pos);
	assert_true(len < qe + 2 * (sizeof(ns) + sizeof(mx) + sizeof(cname) + n + sizeof(ptr)));
	pkt = decode(m.b, len);
	an = ldns_pkt_answer(pkt);
	assert_int_equal(ldns_rr_list_rr_count(an), 5);
	rdata_text(ldns_rr_list_rr(an, 0), text, sizeof(text));
	assert_string_equal(text, "ns1.example.com.");
	rdata_text(ldns_rr_list_rr(an, 1), text, sizeof(text));
	assert_string_equal(text, "10 mail.example.com.");
	rdata_text(ldns_rr_list_rr(an, 2), text, sizeof(text));
	assert_string_equal(text, "www.example.com.");
	owner_text(ldns_rr_list_rr(an, 2), text, sizeof(text));
	assert_string_equal(text, "alias.example.com.");
	rdata_text(ldns_rr_list_rr(an, 3), text, sizeof(text));
	assert_string_equal(text, "ns1.example.com. hostmaster.example.com. 1 2 3 4 5");
	rdata_text(ldns_rr_list_rr(an, 4), text, sizeof(text));
	assert_string_equal(text, "mail.example.com.");
	ldns_pkt_free(pkt);
}

static void test_writer_no_srv_compression(void **state)
{
	uint8_t srv[64];
	static const uint8_t target[] = "\3sip\7example\3com";
	static const uint8_t dname[] = "\3www\7example\3com";
	struct msg m;
	struct packet_query q;
	struct packet_writer w;
	size_t at;
	char text[256];

	(void)state;
	memcpy(srv, "\0\1\0\5\x13\xc4", 6);
	memcpy(srv + 6, target, sizeof(target));
	start(&m, &q, "www.example.com", 0, 0);
	packet_writer_init(&w, m.b, sizeof(m.b), 512, &q);
	/* Write sip.example.com once so a pointer would be possible. */
	assert_true(
	    packet_put_rr(&w, PACKET_ANSWER, target, 0, DNS_TYPE_A, DNS_CLASS_IN, 60, A_RDATA, 4));
	at = w.pos;
	assert_true(packet_put_rr(&w, PACKET_ANSWER, (const uint8_t *)"\4_sip\4_tcp\7example\3com",
				  0, DNS_TYPE_SRV, DNS_CLASS_IN, 60, srv,
				  (uint16_t)(6 + sizeof(target))));
	/* owner: 2 labels + pointer; then the rdata exactly as given. */
	at += 5 + 5 + 2;
	assert_int_equal(dns_get16(m.b + at), DNS_TYPE_SRV);
	assert_int_equal(dns_get16(m.b + at + 8), 6 + sizeof(target));
	assert_memory_equal(m.b + at + 10, srv, 6 + sizeof(target));
	/* DNAME (RFC 6672) is not an RFC 1035 type either. */
	at = w.pos;
	assert_true(packet_put_rr(&w, PACKET_ANSWER, (const uint8_t *)"\3old\7example\3com", 0,
				  DNS_TYPE_DNAME, DNS_CLASS_IN, 60, dname, sizeof(dname)));
	at += 4 + 2;
	assert_int_equal(dns_get16(m.b + at + 8), sizeof(dname));
	assert_memory_equal(m.b + at + 10, dname, sizeof(dname));

	size_t len = packet_finish(&w, &q, 0, 0, 0);
	ldns_pkt *pkt = decode(m.b, len);
	assert_int_equal(ldns_pkt_ancount(pkt), 3);
	rdata_text(ldns_rr_list_rr(ldns_pkt_answer(pkt), 1), text, sizeof(text));
	assert_string_equal(text, "1 5 5060 sip.example.com.");
	rdata_text(ldns_rr_list_rr(ldns_pkt_answer(pkt), 2), text, sizeof(text));
	assert_string_equal(text, "www.example.com.");
	ldns_pkt_free(pkt);
}

static void test_writer_budget(void **state)
{
	struct msg m;
	struct packet_query q;
	struct packet_writer w;
	size_t qe, pos, ncomp;

	(void)state;
	start(&m, &q, "www.example.com", 0, 0);
	qe = q.question_end;
	/* Room for exactly two 16-byte RRs. */
	packet_writer_init(&w, m.b, sizeof(m.b), qe + 32, &q);
	assert_true(
	    packet_put_rr(&w, PACKET_ANSWER, NULL, 12, DNS_TYPE_A, DNS_CLASS_IN, 60, A_RDATA, 4));
	assert_true(
	    packet_put_rr(&w, PACKET_ANSWER, NULL, 12, DNS_TYPE_A, DNS_CLASS_IN, 60, A_RDATA, 4));
	assert_int_equal(w.pos, qe + 32);
	pos = w.pos;
	ncomp = w.ncomp;
	assert_false(
	    packet_put_rr(&w, PACKET_ANSWER, NULL, 12, DNS_TYPE_A, DNS_CLASS_IN, 60, A_RDATA, 4));
	assert_int_equal(w.pos, pos);
	assert_int_equal(w.count[PACKET_ANSWER], 2);
	assert_int_equal(w.count[PACKET_AUTHORITY], 0);
	assert_int_equal(w.count[PACKET_ADDITIONAL], 0);
	assert_int_equal(w.ncomp, ncomp);

	/* An RR whose owner fits but whose rdata does not: nothing is left behind. */
	packet_writer_init(&w, m.b, sizeof(m.b), qe + 20, &q);
	ncomp = w.ncomp;
	assert_false(packet_put_rr(&w, PACKET_ADDITIONAL, (const uint8_t *)"\4mail\7example\3com",
				   0, DNS_TYPE_A, DNS_CLASS_IN, 60, A_RDATA, 4));
	assert_int_equal(w.pos, qe);
	assert_int_equal(w.ncomp, ncomp);
	assert_int_equal(w.count[PACKET_ADDITIONAL], 0);
	/* A smaller one still fits afterwards. */
	assert_true(
	    packet_put_rr(&w, PACKET_ANSWER, NULL, 12, DNS_TYPE_A, DNS_CLASS_IN, 60, A_RDATA, 4));
	assert_int_equal(w.pos, qe + 16);
	assert_int_equal(w.count[PACKET_ANSWER], 1);

	/* With EDNS the OPT record's 11 bytes are held back from the budget. */
	start(&m, &q, "www.example.com", 0, 1232);
	qe = q.question_end;
	packet_writer_init(&w, m.b, sizeof(m.b), qe + 32 + 11, &q);
	assert_true(
	    packet_put_rr(&w, PACKET_ANSWER, NULL, 12, DNS_TYPE_A, DNS_CLASS_IN, 60, A_RDATA, 4));
	assert_true(
	    packet_put_rr(&w, PACKET_ANSWER, NULL, 12, DNS_TYPE_A, DNS_CLASS_IN, 60, A_RDATA, 4));
	assert_false(
	    packet_put_rr(&w, PACKET_ANSWER, NULL, 12, DNS_TYPE_A, DNS_CLASS_IN, 60, A_RDATA, 4));
	assert_int_equal(packet_finish(&w, &q, 0, 0, 1232), qe + 32 + 11);
}

static void test_writer_mark_rollback(void **state)
{
	struct msg m;
	struct packet_query q;
	struct packet_writer w;
	struct packet_mark mk;

	(void)state;
	start(&m, &q, "www.example.com", 0, 0);
	packet_writer_init(&w, m.b, sizeof(m.b), 512, &q);
	mk = packet_mark(&w);
	assert_true(packet_put_rr(&w, PACKET_ANSWER, (const uint8_t *)"\1a\3www\7example\3com", 0,
				  DNS_TYPE_A, DNS_CLASS_IN, 60, A_RDATA, 4));
	assert_true(packet_put_rr(&w, PACKET_AUTHORITY, NULL, 12, DNS_TYPE_A, DNS_CLASS_IN, 60,
				  A_RDATA, 4));
	packet_rollback(&w, mk);
	assert_int_equal(w.pos, q.question_end);
	assert_int_equal(w.ncomp, mk.ncomp);
	assert_int_equal(w.count[PACKET_ANSWER], 0);
	assert_int_equal(w.count[PACKET_AUTHORITY], 0);
}

static void test_finish_flags(void **state)
{
	struct msg m;
	struct packet_query q;
	struct packet_writer w;
	size_t len;
	ldns_pkt *pkt;
	const uint8_t *opt;

	(void)state;
	make_query(&m, 0x4242, DNS_FLAG_RD | DNS_FLAG_CD | DNS_FLAG_AD, "www.example.com",
		   DNS_TYPE_A, DNS_CLASS_IN, 0);
	m.b[11] = 1;
	put_opt(&m, 4096, 0, 0, true, NULL, 0);
	assert_int_equal(parse(&m, &q), PACKET_OK);
	packet_writer_init(&w, m.b, sizeof(m.b), 1232, &q);
	assert_true(
	    packet_put_rr(&w, PACKET_ANSWER, NULL, 12, DNS_TYPE_A, DNS_CLASS_IN, 300, A_RDATA, 4));
	assert_true(packet_put_rr(&w, PACKET_AUTHORITY, NULL, 12, DNS_TYPE_A, DNS_CLASS_IN, 300,
				  A_RDATA, 4));
	len = packet_finish(&w, &q, DNS_RCODE_NOERROR, DNS_FLAG_AA, 1232);
	assert_int_equal(len, q.question_end + 32 + 11);
	assert_int_equal(dns_get16(m.b), 0x4242);
	assert_int_equal(dns_get16(m.b + 2), DNS_FLAG_QR | DNS_FLAG_AA | DNS_FLAG_RD);
	assert_int_equal(dns_get16(m.b + 4), 1);
	assert_int_equal(dns_get16(m.b + 6), 1);
	assert_int_equal(dns_get16(m.b + 8), 1);
	assert_int_equal(dns_get16(m.b + 10), 1);
	opt = m.b + len - 11;
	assert_memory_equal(opt, "\0\0\x29\x04\xd0\0\0\x80\0\0\0", 11);

	pkt = decode(m.b, len);
	assert_true(ldns_pkt_qr(pkt));
	assert_true(ldns_pkt_aa(pkt));
	assert_true(ldns_pkt_rd(pkt));
	/* CD is cleared in authoritative answers (RFC 4035 3.1.6), as Knot DNS and NSD do. */
	assert_false(ldns_pkt_cd(pkt));
	assert_false(ldns_pkt_tc(pkt));
	assert_false(ldns_pkt_ra(pkt));
	assert_false(ldns_pkt_ad(pkt));
	assert_int_equal(ldns_pkt_get_opcode(pkt), LDNS_PACKET_QUERY);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_edns(pkt));
	assert_int_equal(ldns_pkt_edns_udp_size(pkt), 1232);
	assert_true(ldns_pkt_edns_do(pkt));
	assert_int_equal(ldns_pkt_edns_version(pkt), 0);
	ldns_pkt_free(pkt);

	/* No RD/CD in the query, none in the reply; TC when the writer truncated. */
	make_query(&m, 0x4343, 0, "www.example.com", DNS_TYPE_A, DNS_CLASS_IN, 0);
	assert_int_equal(parse(&m, &q), PACKET_OK);
	packet_writer_init(&w, m.b, sizeof(m.b), 512, &q);
	w.truncated = true;
	len = packet_finish(&w, &q, DNS_RCODE_NXDOMAIN, DNS_FLAG_AA, 1232);
	assert_int_equal(len, q.question_end);
	assert_int_equal(dns_get16(m.b + 2), DNS_FLAG_QR | DNS_FLAG_AA | DNS_FLAG_TC | 3);
	assert_int_equal(dns_get16(m.b + 10), 0);
	pkt = decode(m.b, len);
	assert_true(ldns_pkt_tc(pkt));
	assert_false(ldns_pkt_rd(pkt));
	assert_false(ldns_pkt_edns(pkt));
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(pkt);
}

static void test_finish_badvers(void **state)
{
	struct msg m;
	struct packet_query q;
	struct packet_writer w;
	size_t len;
	ldns_pkt *pkt;

	(void)state;
	make_query(&m, 0x5151, DNS_FLAG_RD, "example.com", DNS_TYPE_A, DNS_CLASS_IN, 0);
	m.b[11] = 1;
	put_opt(&m, 4096, 0, 1, false, NULL, 0);
	assert_int_equal(parse(&m, &q), PACKET_OK);
	assert_int_equal(q.edns_version, 1);
	packet_writer_init(&w, m.b, sizeof(m.b), 1232, &q);
	len = packet_finish(&w, &q, DNS_RCODE_BADVERS, 0, 1232);
	assert_int_equal(len, q.question_end + 11);
	/* 16 = 0x10: 0 in the header's rcode field, 1 in the OPT TTL's high byte. */
	assert_int_equal(m.b[3] & 0xf, 0);
	assert_int_equal(dns_get16(m.b + 10), 1);
	assert_int_equal(m.b[len - 11], 0);
	assert_int_equal(dns_get16(m.b + len - 10), DNS_TYPE_OPT);
	assert_int_equal(m.b[len - 6], 1);
	assert_int_equal(m.b[len - 5], 0); /* version 0 in the reply */
	pkt = decode(m.b, len);
	assert_int_equal(ldns_pkt_get_rcode(pkt), 0);
	assert_int_equal(ldns_pkt_edns_extended_rcode(pkt), 1);
	assert_int_equal(ldns_pkt_edns_version(pkt), 0);
	ldns_pkt_free(pkt);
}

static void test_error_reply(void **state)
{
	struct msg m, orig;
	struct packet_query q;
	size_t len;
	ldns_pkt *pkt;
	char text[256];

	(void)state;
	make_query(&m, 0x6161, DNS_FLAG_RD, "Foo.Example", DNS_TYPE_MX, DNS_CLASS_IN, 0);
	m.b[11] = 1;
	put_opt(&m, 4096, 0, 0, false, NULL, 0);
	orig = m;
	assert_int_equal(parse(&m, &q), PACKET_OK);
	len = packet_error_reply(m.b, sizeof(m.b), &q, DNS_RCODE_REFUSED, 1232);
	assert_int_equal(len, q.question_end + 11);
	assert_memory_equal(m.b + 12, orig.b + 12, q.question_end - 12);
	assert_int_equal(dns_get16(m.b), 0x6161);
	assert_int_equal(dns_get16(m.b + 2), DNS_FLAG_QR | DNS_FLAG_RD | DNS_RCODE_REFUSED);
	assert_int_equal(dns_get16(m.b + 4), 1);
	assert_int_equal(dns_get16(m.b + 6), 0);
	assert_int_equal(dns_get16(m.b + 8), 0);
	assert_int_equal(dns_get16(m.b + 10), 1);
	pkt = decode(m.b, len);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_REFUSED);
	assert_int_equal(ldns_pkt_qdcount(pkt), 1);
	owner_text(ldns_rr_list_rr(ldns_pkt_question(pkt), 0), text, sizeof(text));
	assert_string_equal(text, "Foo.Example.");
	assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_question(pkt), 0)),
			 LDNS_RR_TYPE_MX);
	ldns_pkt_free(pkt);

	/* No question parsed: a bare header. */
	put_header(&m, 0x6262, 0, 2, 0, 0, 0);
	put_name(&m, "a.example");
	assert_int_equal(parse(&m, &q), PACKET_FORMERR);
	len = packet_error_reply(m.b, sizeof(m.b), &q, DNS_RCODE_FORMERR, 1232);
	assert_int_equal(len, 12);
	assert_int_equal(dns_get16(m.b), 0x6262);
	assert_int_equal(dns_get16(m.b + 2), DNS_FLAG_QR | DNS_RCODE_FORMERR);
	assert_int_equal(dns_get16(m.b + 4), 0);
	assert_int_equal(dns_get16(m.b + 10), 0);

	/* NOTIMP keeps the opcode. */
	make_query(&m, 0x6363, 4 << 11, "example.com", DNS_TYPE_SOA, DNS_CLASS_IN, 0);
	assert_int_equal(parse(&m, &q), PACKET_NOTIMP);
	len = packet_error_reply(m.b, sizeof(m.b), &q, DNS_RCODE_NOTIMP, 1232);
	assert_int_equal(len, q.question_end);
	assert_int_equal(dns_get16(m.b + 2), DNS_FLAG_QR | 4 << 11 | DNS_RCODE_NOTIMP);
	pkt = decode(m.b, len);
	assert_int_equal(ldns_pkt_get_opcode(pkt), LDNS_PACKET_NOTIFY);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOTIMPL);
	ldns_pkt_free(pkt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_valid),
	    cmocka_unit_test(test_parse_lowercase_every_byte),
	    cmocka_unit_test(test_parse_root_name),
	    cmocka_unit_test(test_parse_drop),
	    cmocka_unit_test(test_parse_qdcount),
	    cmocka_unit_test(test_parse_truncated_question),
	    cmocka_unit_test(test_parse_long_label),
	    cmocka_unit_test(test_parse_compressed_question),
	    cmocka_unit_test(test_parse_name_length),
	    cmocka_unit_test(test_parse_truncated_rr),
	    cmocka_unit_test(test_parse_two_opt),
	    cmocka_unit_test(test_parse_opt_placement),
	    cmocka_unit_test(test_parse_opt_options),
	    cmocka_unit_test(test_parse_notimp),
	    cmocka_unit_test(test_parse_edns),
	    cmocka_unit_test(test_name_len),
	    cmocka_unit_test(test_writer_init),
	    cmocka_unit_test(test_writer_owner_compression),
	    cmocka_unit_test(test_writer_rdata_compression),
	    cmocka_unit_test(test_writer_no_srv_compression),
	    cmocka_unit_test(test_writer_budget),
	    cmocka_unit_test(test_writer_mark_rollback),
	    cmocka_unit_test(test_finish_flags),
	    cmocka_unit_test(test_finish_badvers),
	    cmocka_unit_test(test_error_reply),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
