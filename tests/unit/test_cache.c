/* Unit tests of resolver/cache: upstream answers stored, looked up and rendered. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>
#include <urcu.h>

#include "resolver/cache.h"
#include "resolver/packet.h"
#include "tests/unit/wire_msg.h"
#include "zones/dns.h"

#define T0        1000000000ull /* a "now" in ms, far from 0 */
#define UPSTREAM  0x4242        /* the ID of the upstream reply; clients use others */
#define EDNS_SIZE 1232          /* what the server advertises in its OPT */
#define A_LEN     16            /* an A record with a compressed owner */

static void put_opt(struct msg *m, uint16_t udp, bool do_bit)
{
	put8(m, 0);
	put16(m, DNS_TYPE_OPT);
	put16(m, udp);
	put32(m, do_bit ? DNS_EDNS_DO : 0);
	put16(m, 0);
}

/* A query with RD; with an OPT record when udp is non-zero. */
static void make_query_class(struct msg *m, const char *name, uint16_t qtype, uint16_t qclass,
			     uint16_t id, uint16_t udp, bool do_bit)
{
	m->len = 0;
	put16(m, id);
	put16(m, DNS_FLAG_RD);
	put16(m, 1);
	put16(m, 0);
	put16(m, 0);
	put16(m, udp ? 1 : 0);
	put_name(m, name);
	put16(m, qtype);
	put16(m, qclass);
	if (udp)
		put_opt(m, udp, do_bit);
}

static void make_query(struct msg *m, const char *name, uint16_t qtype, uint16_t id, uint16_t udp,
		       bool do_bit)
{
	make_query_class(m, name, qtype, DNS_CLASS_IN, id, udp, do_bit);
}

static void parse(const struct msg *m, struct packet_query *q)
{
	assert_int_equal(packet_parse(m->b, m->len, q), PACKET_OK);
}

/* The upstream reply to query: its header (flags | rcode) and question, records to follow. */
static void reply_start(struct msg *r, const struct msg *query, uint16_t flags, uint16_t an,
			uint16_t ns, uint16_t ar)
{
	struct packet_query q;

	parse(query, &q);
	r->len = 0;
	put16(r, UPSTREAM);
	put16(r, (uint16_t)(DNS_FLAG_QR | DNS_FLAG_RD | DNS_FLAG_RA | flags));
	put16(r, 1);
	put16(r, an);
	put16(r, ns);
	put16(r, ar);
	memcpy(r->b + r->len, query->b + DNS_HEADER_LEN, q.question_end - DNS_HEADER_LEN);
	r->len = q.question_end;
}

/* An A record owned by the question's name (compression pointer to offset 12). */
static void put_a(struct msg *r, uint32_t ttl, uint32_t addr)
{
	put16(r, 0xc00c);
	put16(r, DNS_TYPE_A);
	put16(r, DNS_CLASS_IN);
	put32(r, ttl);
	put16(r, 4);
	put32(r, addr);
}

static void put_soa(struct msg *r, uint32_t ttl, uint32_t minimum)
{
	put16(r, 0xc00c);
	put16(r, DNS_TYPE_SOA);
	put16(r, DNS_CLASS_IN);
	put32(r, ttl);
	put16(r, 24);
	put16(r, 0xc00c); /* mname */
	put16(r, 0xc00c); /* rname */
	put32(r, 1);      /* serial */
	put32(r, 3600);
	put32(r, 600);
	put32(r, 86400);
	put32(r, minimum);
}

static const struct cache_policy POLICY = {
    .min_ttl = 0,
    .max_ttl = 86400,
    .max_negative_ttl = 3600,
    .servfail_ttl = 5,
    .stale_ttl = 0,
};

static bool store(struct cache *c, const struct msg *query, const struct msg *reply, uint64_t now,
		  const struct cache_policy *pol, bool *malformed)
{
	struct packet_query q;

	parse(query, &q);
	*malformed = true;
	return cache_store(c, &q, reply->b, reply->len, now, pol, malformed);
}

/* Stores reply and expects it cached. */
static void store_ok(struct cache *c, const struct msg *query, const struct msg *reply,
		     uint64_t now)
{
	bool malformed = true;

	assert_true(store(c, query, reply, now, &POLICY, &malformed));
	assert_false(malformed);
}

/* One A answer of ttl for name: queried and stored. */
static void store_a(struct cache *c, const char *name, uint32_t ttl, uint32_t addr, uint64_t now)
{
	struct msg query, reply;

	make_query(&query, name, DNS_TYPE_A, 1, 0, false);
	reply_start(&reply, &query, 0, 1, 0, 0);
	put_a(&reply, ttl, addr);
	store_ok(c, &query, &reply, now);
}

/* The client's buffer: its query, then the reply written over it. */
static uint8_t out[65535];

static enum cache_state lookup_ex(struct cache *c, const struct msg *query, size_t cap,
				  size_t budget, uint64_t now, uint32_t stale_ttl, bool allow_stale,
				  size_t *len, bool *prefetch)
{
	struct packet_query q;
	enum cache_state st;

	memcpy(out, query->b, query->len);
	assert_int_equal(packet_parse(out, query->len, &q), PACKET_OK);
	*len = SIZE_MAX;
	*prefetch = true;
	rcu_read_lock();
	st = cache_answer(c, &q, out, cap, budget, now, stale_ttl, allow_stale, EDNS_SIZE, len,
			  prefetch);
	rcu_read_unlock();
	return st;
}

static enum cache_state lookup(struct cache *c, const struct msg *query, uint64_t now, size_t *len)
{
	bool prefetch;

	return lookup_ex(c, query, sizeof(out), sizeof(out), now, 0, false, len, &prefetch);
}

static enum cache_state lookup_name(struct cache *c, const char *name, uint64_t now, size_t *len)
{
	struct msg query;

	make_query(&query, name, DNS_TYPE_A, 7, 0, false);
	return lookup(c, &query, now, len);
}

static size_t question_end(const struct msg *query)
{
	struct packet_query q;

	parse(query, &q);
	return q.question_end;
}

/* The reply in out is to query: its ID, QR, RD and RA, rcode, counts and question as sent. */
static void check_header(const struct msg *query, unsigned rcode, bool tc, unsigned an, unsigned ns,
			 unsigned ar)
{
	size_t qend = question_end(query);
	uint16_t flags = dns_get16(out + 2);

	assert_int_equal(dns_get16(out), dns_get16(query->b));
	assert_true(flags & DNS_FLAG_QR);
	assert_true(flags & DNS_FLAG_RD);
	assert_true(flags & DNS_FLAG_RA);
	assert_int_equal(!!(flags & DNS_FLAG_TC), tc);
	assert_int_equal((flags >> 11) & 0xf, DNS_OPCODE_QUERY);
	assert_int_equal(flags & 0xf, rcode);
	assert_int_equal(dns_get16(out + 4), 1);
	assert_int_equal(dns_get16(out + 6), an);
	assert_int_equal(dns_get16(out + 8), ns);
	assert_int_equal(dns_get16(out + 10), ar);
	assert_memory_equal(out + DNS_HEADER_LEN, query->b + DNS_HEADER_LEN, qend - DNS_HEADER_LEN);
}

/* The TTL of the i-th record of n_a A records at the start of the answer. */
static uint32_t a_ttl(const struct msg *query, size_t i)
{
	return dns_get32(out + question_end(query) + i * A_LEN + 6);
}

static uint32_t a_addr(const struct msg *query, size_t i)
{
	return dns_get32(out + question_end(query) + i * A_LEN + 12);
}

static int group_setup(void **state)
{
	(void)state;
	rcu_register_thread();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	rcu_unregister_thread();
	return 0;
}

/* ---- tests ---- */

static void test_store_then_hit(void **state)
{
	struct cache *c = cache_new(1 << 20);
	struct msg query, reply, client;
	struct cache_stats st;
	size_t len, qend, rec_off;
	bool prefetch;
	uint8_t expect[64];
	ldns_pkt *pkt = NULL;

	(void)state;
	assert_non_null(c);
	make_query(&query, "www.example.test", DNS_TYPE_A, 0x1111, 0, false);
	reply_start(&reply, &query, DNS_FLAG_AA, 2, 0, 0);
	qend = reply.len;
	put_a(&reply, 300, 0xc0000250); /* 192.0.2.80 */
	put_a(&reply, 200, 0xc0000251); /* 192.0.2.81 */
	store_ok(c, &query, &reply, T0);
	cache_get_stats(c, &st);
	assert_int_equal(st.inserts, 1);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.evictions, 0);

	/* Another client, another ID, 3 s later. */
	make_query(&client, "www.example.test", DNS_TYPE_A, 0xbeef, 0, false);
	assert_int_equal(question_end(&client), qend);
	rcu_read_lock();
	{
		struct packet_query q;
		parse(&client, &q);
		for (unsigned stage = 0; stage < 4; stage++)
			cache_prefetch(c, &q, stage);
	}
	rcu_read_unlock();
	assert_int_equal(
	    lookup_ex(c, &client, sizeof(out), sizeof(out), T0 + 3000, 0, false, &len, &prefetch),
	    CACHE_FRESH);
	assert_false(prefetch);
	assert_int_equal(len, qend + 2 * A_LEN);
	check_header(&client, DNS_RCODE_NOERROR, false, 2, 0, 0);
	/* The records as upstream sent them, TTLs less the 3 s spent in the cache. */
	rec_off = qend;
	memcpy(expect, reply.b + rec_off, 2 * A_LEN);
	dns_put32(expect + 6, 297);
	dns_put32(expect + A_LEN + 6, 197);
	assert_memory_equal(out + rec_off, expect, 2 * A_LEN);
	assert_int_equal(a_ttl(&client, 0), 297);
	assert_int_equal(a_ttl(&client, 1), 197);
	assert_int_equal(a_addr(&client, 0), 0xc0000250);
	assert_int_equal(a_addr(&client, 1), 0xc0000251);

	/* A whole packet: ldns reads it back. */
	assert_int_equal(ldns_wire2pkt(&pkt, out, len), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_id(pkt), 0xbeef);
	assert_int_equal(ldns_pkt_ancount(pkt), 2);
	assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(pkt), 0)), 297);
	ldns_pkt_free(pkt);

	/* Seconds are whole: 3.999 s is still 3. */
	assert_int_equal(lookup(c, &client, T0 + 3999, &len), CACHE_FRESH);
	assert_int_equal(a_ttl(&client, 0), 297);
	assert_int_equal(a_ttl(&client, 1), 197);
	/* The entry lives as long as its smallest TTL: 200 s. */
	assert_int_equal(lookup(c, &client, T0 + 199999, &len), CACHE_FRESH);
	assert_int_equal(a_ttl(&client, 0), 101);
	assert_int_equal(a_ttl(&client, 1), 1);
	assert_int_equal(lookup(c, &client, T0 + 200000, &len), CACHE_MISS);
	cache_free(c);
}

static void test_miss(void **state)
{
	struct cache *c = cache_new(1 << 20);
	struct msg query;
	size_t len;

	(void)state;
	assert_non_null(c);
	make_query(&query, "www.example.test", DNS_TYPE_A, 2, 0, false);
	assert_int_equal(lookup(c, &query, T0, &len), CACHE_MISS);
	assert_int_equal(len, SIZE_MAX);
	store_a(c, "www.example.test", 300, 0xc0000250, T0);

	assert_int_equal(lookup(c, &query, T0, &len), CACHE_FRESH);
	/* Another type, another name, another class. */
	make_query(&query, "www.example.test", DNS_TYPE_AAAA, 2, 0, false);
	assert_int_equal(lookup(c, &query, T0, &len), CACHE_MISS);
	make_query(&query, "www2.example.test", DNS_TYPE_A, 2, 0, false);
	assert_int_equal(lookup(c, &query, T0, &len), CACHE_MISS);
	make_query(&query, "ww.example.test", DNS_TYPE_A, 2, 0, false);
	assert_int_equal(lookup(c, &query, T0, &len), CACHE_MISS);
	make_query(&query, "example.test", DNS_TYPE_A, 2, 0, false);
	assert_int_equal(lookup(c, &query, T0, &len), CACHE_MISS);
	make_query_class(&query, "www.example.test", DNS_TYPE_A, DNS_CLASS_CH, 2, 0, false);
	assert_int_equal(lookup(c, &query, T0, &len), CACHE_MISS);
	/* DO=1 asks for another answer (with signatures); DO=0 with EDNS is the same. */
	make_query(&query, "www.example.test", DNS_TYPE_A, 2, 1232, true);
	assert_int_equal(lookup(c, &query, T0, &len), CACHE_MISS);
	make_query(&query, "www.example.test", DNS_TYPE_A, 2, 1232, false);
	assert_int_equal(lookup(c, &query, T0, &len), CACHE_FRESH);
	cache_free(c);
}

static void test_case_insensitive(void **state)
{
	struct cache *c = cache_new(1 << 20);
	struct msg client;
	size_t len;

	(void)state;
	assert_non_null(c);
	store_a(c, "www.example.test", 300, 0xc0000250, T0);
	make_query(&client, "WWW.Example.TEST", DNS_TYPE_A, 0x5151, 0, false);
	assert_int_equal(lookup(c, &client, T0 + 1000, &len), CACHE_FRESH);
	assert_int_equal(len, question_end(&client) + A_LEN);
	/* check_header compares the question with the client's, case and all. */
	check_header(&client, DNS_RCODE_NOERROR, false, 1, 0, 0);
	assert_memory_equal(out + DNS_HEADER_LEN + 1, "WWW", 3);
	assert_memory_equal(out + DNS_HEADER_LEN + 5, "Example", 7);
	assert_int_equal(a_ttl(&client, 0), 299);
	assert_int_equal(a_addr(&client, 0), 0xc0000250);
	cache_free(c);

	/* And the other way round: stored from a mixed-case query, found by a lower-case one. */
	c = cache_new(1 << 20);
	assert_non_null(c);
	store_a(c, "Mixed.Example.Test", 300, 0xc0000251, T0);
	make_query(&client, "mixed.example.test", DNS_TYPE_A, 9, 0, false);
	assert_int_equal(lookup(c, &client, T0, &len), CACHE_FRESH);
	check_header(&client, DNS_RCODE_NOERROR, false, 1, 0, 0);
	assert_int_equal(a_addr(&client, 0), 0xc0000251);
	cache_free(c);
}

static void test_expiry_and_stale(void **state)
{
	struct cache *c = cache_new(1 << 20);
	struct cache_policy pol = POLICY;
	struct msg client, reply;
	size_t len, qend;
	bool prefetch;

	(void)state;
	assert_non_null(c);
	store_a(c, "stale.example.test", 60, 0xc0000201, T0);
	make_query(&client, "stale.example.test", DNS_TYPE_A, 0x7777, 0, false);
	qend = question_end(&client);

	assert_int_equal(
	    lookup_ex(c, &client, sizeof(out), sizeof(out), T0 + 59999, 100, true, &len, &prefetch),
	    CACHE_FRESH);
	assert_int_equal(a_ttl(&client, 0), 1);
	/* Expired, within the stale window: stale, rendered only when allowed. */
	assert_int_equal(lookup_ex(c, &client, sizeof(out), sizeof(out), T0 + 60000, 100, false,
				   &len, &prefetch),
			 CACHE_STALE);
	assert_int_equal(len, SIZE_MAX);
	assert_false(prefetch);
	assert_memory_equal(out, client.b, client.len); /* the query, untouched */
	assert_int_equal(
	    lookup_ex(c, &client, sizeof(out), sizeof(out), T0 + 60000, 100, true, &len, &prefetch),
	    CACHE_STALE);
	assert_false(prefetch);
	assert_int_equal(len, qend + A_LEN);
	check_header(&client, DNS_RCODE_NOERROR, false, 1, 0, 0);
	assert_int_equal(a_ttl(&client, 0), 30); /* RFC 8767 4 */
	assert_int_equal(a_addr(&client, 0), 0xc0000201);
	assert_int_equal(lookup_ex(c, &client, sizeof(out), sizeof(out), T0 + 159999, 100, true,
				   &len, &prefetch),
			 CACHE_STALE);
	assert_int_equal(a_ttl(&client, 0), 30);
	/* Past the stale window, or with no stale window at all: a miss. */
	assert_int_equal(lookup_ex(c, &client, sizeof(out), sizeof(out), T0 + 160000, 100, true,
				   &len, &prefetch),
			 CACHE_MISS);
	assert_int_equal(
	    lookup_ex(c, &client, sizeof(out), sizeof(out), T0 + 60000, 0, true, &len, &prefetch),
	    CACHE_MISS);

	/* A stale entry is replaced by the next store, fresh again. */
	reply_start(&reply, &client, 0, 1, 0, 0);
	put_a(&reply, 60, 0xc0000202);
	store_ok(c, &client, &reply, T0 + 70000);
	assert_int_equal(lookup(c, &client, T0 + 70000, &len), CACHE_FRESH);
	assert_int_equal(a_addr(&client, 0), 0xc0000202);
	assert_int_equal(a_ttl(&client, 0), 60);

	/* A stored SERVFAIL: fresh for servfail_ttl, then a miss, never stale. */
	make_query(&client, "fail.example.test", DNS_TYPE_A, 0x8888, 0, false);
	qend = question_end(&client);
	{
		struct packet_query q;
		parse(&client, &q);
		cache_store_servfail(c, &q, T0, &pol);
	}
	assert_int_equal(lookup_ex(c, &client, sizeof(out), sizeof(out), T0 + 4999, 86400, true,
				   &len, &prefetch),
			 CACHE_FRESH);
	assert_false(prefetch);
	assert_int_equal(len, qend);
	check_header(&client, DNS_RCODE_SERVFAIL, false, 0, 0, 0);
	assert_int_equal(lookup_ex(c, &client, sizeof(out), sizeof(out), T0 + 5000, 86400, true,
				   &len, &prefetch),
			 CACHE_MISS);
	assert_int_equal(lookup_ex(c, &client, sizeof(out), sizeof(out), T0 + 5000, 86400, false,
				   &len, &prefetch),
			 CACHE_MISS);

	/* servfail_ttl 0: nothing stored. */
	make_query(&client, "fail0.example.test", DNS_TYPE_A, 0x8888, 0, false);
	pol.servfail_ttl = 0;
	{
		struct packet_query q;
		parse(&client, &q);
		cache_store_servfail(c, &q, T0, &pol);
	}
	assert_int_equal(lookup(c, &client, T0, &len), CACHE_MISS);
	cache_free(c);
}

/* An NXDOMAIN (or NODATA when rcode is NOERROR) with an SOA of soa_ttl and minimum. */
static bool store_negative(struct cache *c, const struct msg *query, unsigned rcode, bool soa,
			   uint32_t soa_ttl, uint32_t minimum, const struct cache_policy *pol)
{
	struct msg reply;
	bool malformed = true, stored;

	reply_start(&reply, query, (uint16_t)rcode, 0, soa ? 1 : 0, 0);
	if (soa)
		put_soa(&reply, soa_ttl, minimum);
	stored = store(c, query, &reply, T0, pol, &malformed);
	assert_false(malformed);
	return stored;
}

/* The negative answer to query is fresh just before ttl seconds, a miss at ttl. */
static void check_negative_ttl(struct cache *c, const struct msg *query, unsigned rcode,
			       uint32_t ttl)
{
	size_t len;

	assert_int_equal(lookup(c, query, T0 + 1000, &len), CACHE_FRESH);
	check_header(query, rcode, false, 0, 1, 0);
	assert_int_equal(len, question_end(query) + 12 + 24);
	/* The SOA's TTL is the negative TTL (RFC 2308 3), less the second spent. */
	assert_int_equal(dns_get16(out + question_end(query) + 2), DNS_TYPE_SOA);
	assert_int_equal(dns_get32(out + question_end(query) + 6), ttl - 1);
	assert_int_equal(lookup(c, query, T0 + (uint64_t)ttl * 1000 - 1, &len), CACHE_FRESH);
	assert_int_equal(lookup(c, query, T0 + (uint64_t)ttl * 1000, &len), CACHE_MISS);
}

static void test_negative(void **state)
{
	struct cache *c = cache_new(1 << 20);
	struct cache_policy pol = POLICY;
	struct cache_stats st;
	struct msg q1, q2, q3, q4, q5, q6;
	size_t len;

	(void)state;
	assert_non_null(c);
	/* min(SOA TTL, MINIMUM): here MINIMUM. */
	make_query(&q1, "nx1.example.test", DNS_TYPE_A, 0x0101, 0, false);
	assert_true(store_negative(c, &q1, DNS_RCODE_NXDOMAIN, true, 900, 60, &pol));
	check_negative_ttl(c, &q1, DNS_RCODE_NXDOMAIN, 60);
	/* Here the SOA's TTL. */
	make_query(&q2, "nx2.example.test", DNS_TYPE_A, 0x0102, 0, false);
	assert_true(store_negative(c, &q2, DNS_RCODE_NXDOMAIN, true, 30, 600, &pol));
	check_negative_ttl(c, &q2, DNS_RCODE_NXDOMAIN, 30);
	/* Capped by max_negative_ttl. */
	make_query(&q3, "nx3.example.test", DNS_TYPE_A, 0x0103, 0, false);
	pol.max_negative_ttl = 3600;
	assert_true(store_negative(c, &q3, DNS_RCODE_NXDOMAIN, true, 7200, 86400, &pol));
	check_negative_ttl(c, &q3, DNS_RCODE_NXDOMAIN, 3600);
	/* NODATA: NOERROR, no answer, an SOA. */
	make_query(&q4, "nodata.example.test", DNS_TYPE_AAAA, 0x0104, 0, false);
	assert_true(store_negative(c, &q4, DNS_RCODE_NOERROR, true, 300, 120, &pol));
	check_negative_ttl(c, &q4, DNS_RCODE_NOERROR, 120);

	/* With no SOA there is no negative TTL: not cached. */
	cache_get_stats(c, &st);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.uncachable, 0);
	make_query(&q5, "nx5.example.test", DNS_TYPE_A, 0x0105, 0, false);
	assert_false(store_negative(c, &q5, DNS_RCODE_NXDOMAIN, false, 0, 0, &pol));
	assert_int_equal(lookup(c, &q5, T0, &len), CACHE_MISS);
	make_query(&q6, "nodata6.example.test", DNS_TYPE_A, 0x0106, 0, false);
	assert_false(store_negative(c, &q6, DNS_RCODE_NOERROR, false, 0, 0, &pol));
	assert_int_equal(lookup(c, &q6, T0, &len), CACHE_MISS);
	/* max_negative_ttl 0: no negative caching. */
	pol.max_negative_ttl = 0;
	assert_false(store_negative(c, &q5, DNS_RCODE_NXDOMAIN, true, 300, 300, &pol));
	assert_int_equal(lookup(c, &q5, T0, &len), CACHE_MISS);
	/* Nor any other rcode. */
	pol = POLICY;
	assert_false(store_negative(c, &q5, DNS_RCODE_REFUSED, true, 300, 300, &pol));
	assert_false(store_negative(c, &q5, DNS_RCODE_SERVFAIL, true, 300, 300, &pol));
	assert_int_equal(lookup(c, &q5, T0, &len), CACHE_MISS);
	cache_get_stats(c, &st);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.inserts, 4);
	assert_int_equal(st.uncachable, 5);
	cache_free(c);
}

static void test_ttl_policy(void **state)
{
	struct cache *c = cache_new(1 << 20);
	struct cache_policy pol = POLICY;
	struct msg query, reply;
	bool malformed;
	size_t len;

	(void)state;
	assert_non_null(c);
	pol.min_ttl = 60;
	pol.max_ttl = 3600;
	make_query(&query, "clamp.example.test", DNS_TYPE_A, 0x0201, 0, false);
	reply_start(&reply, &query, 0, 2, 0, 0);
	put_a(&reply, 10, 0x0a000001);
	put_a(&reply, 7200, 0x0a000002);
	assert_true(store(c, &query, &reply, T0, &pol, &malformed));
	assert_false(malformed);
	assert_int_equal(lookup(c, &query, T0, &len), CACHE_FRESH);
	assert_int_equal(a_ttl(&query, 0), 60);
	assert_int_equal(a_ttl(&query, 1), 3600);
	/* The entry lives min_ttl, not the record's 10 s. */
	assert_int_equal(lookup(c, &query, T0 + 59999, &len), CACHE_FRESH);
	assert_int_equal(lookup(c, &query, T0 + 60000, &len), CACHE_MISS);

	/* TTL 0 with no min_ttl: not cached. */
	make_query(&query, "zero.example.test", DNS_TYPE_A, 0x0202, 0, false);
	reply_start(&reply, &query, 0, 1, 0, 0);
	put_a(&reply, 0, 0x0a000003);
	assert_false(store(c, &query, &reply, T0, &POLICY, &malformed));
	assert_false(malformed);
	assert_int_equal(lookup(c, &query, T0, &len), CACHE_MISS);
	cache_free(c);
}

static void test_prefetch(void **state)
{
	struct cache *c = cache_new(1 << 20);
	struct msg query;
	size_t len;
	bool prefetch;

	(void)state;
	assert_non_null(c);
	store_a(c, "pf.example.test", 100, 0x0a000001, T0);
	make_query(&query, "pf.example.test", DNS_TYPE_A, 3, 0, false);
	/* Set once, in the last tenth of the TTL. */
	assert_int_equal(
	    lookup_ex(c, &query, sizeof(out), sizeof(out), T0 + 89999, 0, false, &len, &prefetch),
	    CACHE_FRESH);
	assert_false(prefetch);
	assert_int_equal(
	    lookup_ex(c, &query, sizeof(out), sizeof(out), T0 + 90000, 0, false, &len, &prefetch),
	    CACHE_FRESH);
	assert_true(prefetch);
	assert_int_equal(
	    lookup_ex(c, &query, sizeof(out), sizeof(out), T0 + 95000, 0, false, &len, &prefetch),
	    CACHE_FRESH);
	assert_false(prefetch);
	/* Not for TTLs under 10 s. */
	store_a(c, "short.example.test", 9, 0x0a000002, T0);
	make_query(&query, "short.example.test", DNS_TYPE_A, 3, 0, false);
	assert_int_equal(
	    lookup_ex(c, &query, sizeof(out), sizeof(out), T0 + 8500, 0, false, &len, &prefetch),
	    CACHE_FRESH);
	assert_false(prefetch);
	cache_free(c);
}

static void test_edns(void **state)
{
	struct cache *c = cache_new(1 << 20);
	struct msg query, reply, client;
	size_t len, qend, rec_len = A_LEN;
	uint8_t *opt;

	(void)state;
	assert_non_null(c);
	/* The upstream's OPT is not stored; the reply gets ours. AD from upstream. */
	make_query(&query, "edns.example.test", DNS_TYPE_A, 4, 1232, false);
	reply_start(&reply, &query, DNS_FLAG_AD, 1, 0, 1);
	put_a(&reply, 300, 0x0a000004);
	put_opt(&reply, 4096, false);
	store_ok(c, &query, &reply, T0);

	make_query(&client, "edns.example.test", DNS_TYPE_A, 0x4444, 4096, false);
	qend = question_end(&client);
	assert_int_equal(lookup(c, &client, T0, &len), CACHE_FRESH);
	assert_int_equal(len, qend + rec_len + 11);
	check_header(&client, DNS_RCODE_NOERROR, false, 1, 0, 1);
	assert_false(dns_get16(out + 2) & DNS_FLAG_AD); /* neither AD nor DO asked for it */
	opt = out + qend + rec_len;
	assert_int_equal(opt[0], 0);
	assert_int_equal(dns_get16(opt + 1), DNS_TYPE_OPT);
	assert_int_equal(dns_get16(opt + 3), EDNS_SIZE);
	assert_int_equal(dns_get32(opt + 5), 0);
	assert_int_equal(dns_get16(opt + 9), 0);
	assert_int_equal(a_addr(&client, 0), 0x0a000004);

	/* The same entry for a client without EDNS: no OPT. */
	make_query(&client, "edns.example.test", DNS_TYPE_A, 0x4445, 0, false);
	assert_int_equal(lookup(c, &client, T0, &len), CACHE_FRESH);
	assert_int_equal(len, qend + rec_len);
	check_header(&client, DNS_RCODE_NOERROR, false, 1, 0, 0);

	/* DO=1: its own entry; AD and DO in the reply. */
	make_query(&query, "edns.example.test", DNS_TYPE_A, 5, 1232, true);
	reply_start(&reply, &query, DNS_FLAG_AD, 1, 0, 1);
	put_a(&reply, 300, 0x0a000005);
	put_opt(&reply, 4096, true);
	store_ok(c, &query, &reply, T0);
	make_query(&client, "edns.example.test", DNS_TYPE_A, 0x4446, 1232, true);
	assert_int_equal(lookup(c, &client, T0, &len), CACHE_FRESH);
	assert_int_equal(len, qend + rec_len + 11);
	check_header(&client, DNS_RCODE_NOERROR, false, 1, 0, 1);
	assert_true(dns_get16(out + 2) & DNS_FLAG_AD);
	assert_int_equal(dns_get32(out + qend + rec_len + 5), DNS_EDNS_DO);
	assert_int_equal(a_addr(&client, 0), 0x0a000005);
	cache_free(c);
}

#define GROW_N 20000

static void grow_name(char *name, size_t size, unsigned i)
{
	snprintf(name, size, "h%05u.grow.test", i);
}

static uint32_t grow_addr(unsigned i)
{
	return 0x0a000000u | i;
}

static void test_growth(void **state)
{
	struct cache *c = cache_new((size_t)256 << 20);
	struct cache_stats st0, st1, st;
	char name[64];
	size_t len, entry_bytes, index_bytes;

	(void)state;
	assert_non_null(c);
	cache_get_stats(c, &st0);
	assert_true(st0.bytes > 0); /* the tables */
	for (unsigned i = 0; i < GROW_N; i++) {
		grow_name(name, sizeof(name), i);
		store_a(c, name, 3600, grow_addr(i), T0);
		if (i == 0) {
			cache_get_stats(c, &st1);
			assert_true(st1.bytes > st0.bytes);
		}
		/* While the tables grow: the new one and an older one are found. */
		assert_int_equal(lookup_name(c, name, T0, &len), CACHE_FRESH);
		grow_name(name, sizeof(name), i / 2);
		assert_int_equal(lookup_name(c, name, T0, &len), CACHE_FRESH);
		assert_int_equal(dns_get32(out + len - 4), grow_addr(i / 2));
	}
	for (unsigned i = 0; i < GROW_N; i++) {
		struct msg query;
		grow_name(name, sizeof(name), i);
		make_query(&query, name, DNS_TYPE_A, (uint16_t)i, 0, false);
		assert_int_equal(lookup(c, &query, T0 + 1000, &len), CACHE_FRESH);
		assert_int_equal(len, question_end(&query) + A_LEN);
		assert_int_equal(dns_get16(out), (uint16_t)i);
		assert_int_equal(a_addr(&query, 0), grow_addr(i));
		assert_int_equal(a_ttl(&query, 0), 3599);
	}
	cache_get_stats(c, &st);
	assert_int_equal(st.entries, GROW_N);
	assert_int_equal(st.inserts, GROW_N);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(st.uncachable, 0);
	/*
	 * Every entry has the same size; the rest is the index, which grew from
	 * its start to at least 4 times that (about 312 entries a shard).
	 */
	entry_bytes = st1.bytes - st0.bytes;
	assert_true(st.bytes > GROW_N * entry_bytes);
	index_bytes = st.bytes - GROW_N * entry_bytes;
	assert_true(index_bytes >= 4 * st0.bytes);
	assert_true(st.bytes <= (size_t)256 << 20);
	cache_free(c);
}

#define EVICT_BUDGET ((size_t)256 << 10)
#define EVICT_N      5000
#define HOT_N        10

static void evict_name(char *name, size_t size, const char *kind, unsigned i)
{
	snprintf(name, size, "%s%05u.evict.test", kind, i);
}

static void test_eviction(void **state)
{
	struct cache *c = cache_new(EVICT_BUDGET);
	struct cache_stats st;
	char name[64];
	size_t len;
	unsigned cold_left = 0;

	(void)state;
	assert_non_null(c);
	/* Hot entries, and as many stored at the same time and never asked for again. */
	for (unsigned i = 0; i < HOT_N; i++) {
		evict_name(name, sizeof(name), "h", i);
		store_a(c, name, 3600, 0x0a010000u | i, T0);
		evict_name(name, sizeof(name), "n", i);
		store_a(c, name, 3600, 0x0a020000u | i, T0);
	}
	for (unsigned i = 0; i < EVICT_N; i++) {
		evict_name(name, sizeof(name), "c", i);
		store_a(c, name, 3600, 0x0a030000u | i, T0);
		cache_get_stats(c, &st);
		assert_true(st.bytes <= EVICT_BUDGET);
		/* The hot ones are asked for between every two stores. */
		for (unsigned j = 0; j < HOT_N; j++) {
			evict_name(name, sizeof(name), "h", j);
			assert_int_equal(lookup_name(c, name, T0, &len), CACHE_FRESH);
			assert_int_equal(dns_get32(out + len - 4), 0x0a010000u | j);
		}
	}
	cache_get_stats(c, &st);
	assert_true(st.bytes <= EVICT_BUDGET);
	assert_true(st.evictions > 0);
	assert_true(st.entries < EVICT_N);
	assert_int_equal(st.inserts, EVICT_N + 2 * HOT_N);
	assert_int_equal(st.inserts - st.evictions, st.entries);
	/* CLOCK: the hit ones got their second chances; the others of their age are gone. */
	for (unsigned i = 0; i < HOT_N; i++) {
		evict_name(name, sizeof(name), "h", i);
		assert_int_equal(lookup_name(c, name, T0, &len), CACHE_FRESH);
		evict_name(name, sizeof(name), "n", i);
		assert_int_equal(lookup_name(c, name, T0, &len), CACHE_MISS);
	}
	/* What is left of the cold ones is mostly the latest, and there is room for some. */
	for (unsigned i = 0; i < EVICT_N; i++) {
		evict_name(name, sizeof(name), "c", i);
		if (lookup_name(c, name, T0, &len) == CACHE_FRESH) {
			assert_int_equal(dns_get32(out + len - 4), 0x0a030000u | i);
			cold_left++;
		}
	}
	assert_int_equal(cold_left + HOT_N, st.entries);
	assert_true(cold_left > EVICT_N / 10);
	assert_true(cold_left < EVICT_N / 2);
	evict_name(name, sizeof(name), "c", 0);
	assert_int_equal(lookup_name(c, name, T0, &len), CACHE_MISS);
	evict_name(name, sizeof(name), "c", EVICT_N - 1);
	assert_int_equal(lookup_name(c, name, T0, &len), CACHE_FRESH);
	cache_free(c);
}

static void test_replace(void **state)
{
	struct cache *c = cache_new(1 << 20);
	struct cache_stats st1, st2;
	struct msg query, reply;
	size_t len;

	(void)state;
	assert_non_null(c);
	store_a(c, "r.example.test", 300, 0xc0000201, T0);
	cache_get_stats(c, &st1);
	assert_int_equal(st1.entries, 1);
	store_a(c, "r.example.test", 600, 0xc0000202, T0 + 10000);
	cache_get_stats(c, &st2);
	assert_int_equal(st2.entries, 1);
	assert_int_equal(st2.inserts, 2);
	assert_int_equal(st2.evictions, 0);
	assert_int_equal(st2.bytes, st1.bytes); /* the same size, the old one gone */
	make_query(&query, "r.example.test", DNS_TYPE_A, 0x0303, 0, false);
	assert_int_equal(lookup(c, &query, T0 + 12000, &len), CACHE_FRESH);
	assert_int_equal(len, question_end(&query) + A_LEN);
	check_header(&query, DNS_RCODE_NOERROR, false, 1, 0, 0);
	assert_int_equal(a_addr(&query, 0), 0xc0000202);
	assert_int_equal(a_ttl(&query, 0), 598); /* from the second store */
	/* The old TTL of 300 s no longer applies. */
	assert_int_equal(lookup(c, &query, T0 + 400000, &len), CACHE_FRESH);

	/* Replaced by a bigger answer: two records. */
	reply_start(&reply, &query, 0, 2, 0, 0);
	put_a(&reply, 600, 0xc0000203);
	put_a(&reply, 600, 0xc0000204);
	store_ok(c, &query, &reply, T0);
	cache_get_stats(c, &st2);
	assert_int_equal(st2.entries, 1);
	assert_int_equal(st2.inserts, 3);
	assert_true(st2.bytes > st1.bytes);
	assert_int_equal(lookup(c, &query, T0, &len), CACHE_FRESH);
	check_header(&query, DNS_RCODE_NOERROR, false, 2, 0, 0);
	assert_int_equal(a_addr(&query, 0), 0xc0000203);
	assert_int_equal(a_addr(&query, 1), 0xc0000204);

	/* A SERVFAIL replaces it too; an answer replaces the SERVFAIL. */
	{
		struct packet_query q;
		parse(&query, &q);
		cache_store_servfail(c, &q, T0, &POLICY);
	}
	assert_int_equal(lookup(c, &query, T0, &len), CACHE_FRESH);
	check_header(&query, DNS_RCODE_SERVFAIL, false, 0, 0, 0);
	store_a(c, "r.example.test", 300, 0xc0000205, T0 + 1000);
	assert_int_equal(lookup(c, &query, T0 + 1000, &len), CACHE_FRESH);
	check_header(&query, DNS_RCODE_NOERROR, false, 1, 0, 0);
	assert_int_equal(a_addr(&query, 0), 0xc0000205);
	cache_get_stats(c, &st2);
	assert_int_equal(st2.entries, 1);
	assert_int_equal(st2.bytes, st1.bytes);
	cache_free(c);
}

static void test_truncation(void **state)
{
	struct cache *c = cache_new(1 << 20);
	struct msg query, reply, client;
	size_t len, qend, rec_len = 40 * A_LEN;
	bool prefetch;

	(void)state;
	assert_non_null(c);
	make_query(&query, "big.example.test", DNS_TYPE_A, 6, 0, false);
	reply_start(&reply, &query, 0, 40, 0, 0);
	for (uint32_t i = 0; i < 40; i++)
		put_a(&reply, 300, 0x0a000000u | i);
	store_ok(c, &query, &reply, T0);
	qend = question_end(&query);

	/* 640 bytes of records: not in 512. */
	make_query(&client, "big.example.test", DNS_TYPE_A, 0x0606, 0, false);
	assert_int_equal(lookup_ex(c, &client, sizeof(out), 512, T0, 0, false, &len, &prefetch),
			 CACHE_FRESH);
	assert_int_equal(len, qend);
	check_header(&client, DNS_RCODE_NOERROR, true, 0, 0, 0);
	/* Exactly the size fits; a byte less does not. */
	assert_int_equal(
	    lookup_ex(c, &client, sizeof(out), qend + rec_len - 1, T0, 0, false, &len, &prefetch),
	    CACHE_FRESH);
	assert_int_equal(len, qend);
	check_header(&client, DNS_RCODE_NOERROR, true, 0, 0, 0);
	assert_int_equal(
	    lookup_ex(c, &client, sizeof(out), qend + rec_len, T0, 0, false, &len, &prefetch),
	    CACHE_FRESH);
	assert_int_equal(len, qend + rec_len);
	check_header(&client, DNS_RCODE_NOERROR, false, 40, 0, 0);
	assert_int_equal(a_addr(&client, 39), 0x0a000027);
	/* The buffer's capacity bounds the budget too. */
	assert_int_equal(lookup_ex(c, &client, qend + 100, 65535, T0, 0, false, &len, &prefetch),
			 CACHE_FRESH);
	assert_int_equal(len, qend);
	check_header(&client, DNS_RCODE_NOERROR, true, 0, 0, 0);

	/* With EDNS the OPT record counts: it is still there when truncated. */
	make_query(&client, "big.example.test", DNS_TYPE_A, 0x0607, 1232, false);
	assert_int_equal(
	    lookup_ex(c, &client, sizeof(out), qend + rec_len, T0, 0, false, &len, &prefetch),
	    CACHE_FRESH);
	assert_int_equal(len, qend + 11);
	check_header(&client, DNS_RCODE_NOERROR, true, 0, 0, 1);
	assert_int_equal(dns_get16(out + qend + 1), DNS_TYPE_OPT);
	assert_int_equal(
	    lookup_ex(c, &client, sizeof(out), qend + rec_len + 11, T0, 0, false, &len, &prefetch),
	    CACHE_FRESH);
	assert_int_equal(len, qend + rec_len + 11);
	check_header(&client, DNS_RCODE_NOERROR, false, 40, 0, 1);
	cache_free(c);
}

static void check_malformed(struct cache *c, const struct msg *query, const struct msg *reply)
{
	bool malformed = false;
	size_t len;

	assert_false(store(c, query, reply, T0, &POLICY, &malformed));
	assert_true(malformed);
	assert_int_equal(lookup(c, query, T0, &len), CACHE_MISS);
}

static void test_malformed(void **state)
{
	struct cache *c = cache_new(1 << 20);
	struct cache_stats st;
	struct msg query, reply;

	(void)state;
	assert_non_null(c);
	make_query(&query, "bad.example.test", DNS_TYPE_A, 8, 0, false);
	/* The rdata runs past the end. */
	reply_start(&reply, &query, 0, 1, 0, 0);
	put_a(&reply, 300, 0x0a000001);
	reply.len -= 2;
	check_malformed(c, &query, &reply);
	/* One record fewer than the header says. */
	reply_start(&reply, &query, 0, 2, 0, 0);
	put_a(&reply, 300, 0x0a000001);
	check_malformed(c, &query, &reply);
	/* A record's fixed part cut short. */
	reply_start(&reply, &query, 0, 1, 0, 0);
	put_a(&reply, 300, 0x0a000001);
	reply.len -= 10;
	check_malformed(c, &query, &reply);
	/* An owner name running past the end. */
	reply_start(&reply, &query, 0, 1, 0, 0);
	put8(&reply, 10);
	put8(&reply, 'x');
	check_malformed(c, &query, &reply);
	/* A record after the OPT. */
	reply_start(&reply, &query, 0, 0, 0, 2);
	put_opt(&reply, 4096, false);
	put_a(&reply, 300, 0x0a000001);
	check_malformed(c, &query, &reply);
	/* An OPT in the answer section. */
	reply_start(&reply, &query, 0, 1, 0, 0);
	put_opt(&reply, 4096, false);
	check_malformed(c, &query, &reply);
	/* Shorter than the question. */
	reply_start(&reply, &query, 0, 0, 0, 0);
	reply.len -= 3;
	check_malformed(c, &query, &reply);

	cache_get_stats(c, &st);
	assert_int_equal(st.inserts, 0);
	assert_int_equal(st.entries, 0);
	/* The same reply, whole, is fine. */
	reply_start(&reply, &query, 0, 1, 0, 0);
	put_a(&reply, 300, 0x0a000001);
	store_ok(c, &query, &reply, T0);
	cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_store_then_hit),   cmocka_unit_test(test_miss),
	    cmocka_unit_test(test_case_insensitive), cmocka_unit_test(test_expiry_and_stale),
	    cmocka_unit_test(test_negative),         cmocka_unit_test(test_ttl_policy),
	    cmocka_unit_test(test_prefetch),         cmocka_unit_test(test_edns),
	    cmocka_unit_test(test_growth),           cmocka_unit_test(test_eviction),
	    cmocka_unit_test(test_replace),          cmocka_unit_test(test_truncation),
	    cmocka_unit_test(test_malformed),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
