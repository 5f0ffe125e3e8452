/*
 * cache: answers from upstream resolvers, kept per worker (no locks).
 *
 * An entry is the upstream reply as it came on the wire, less its header,
 * question and OPT record, with the offset of every TTL noted. A hit is
 * rendered by copying the records after the client's own question (same
 * length, so compression pointers stay valid), patching the TTLs by the time
 * spent in the cache and appending our OPT: no allocation on the hit path.
 *
 * TTLs follow RFC 2308 for negative answers (SOA in the authority section)
 * and are clamped by the [cache] policy. Memory is bounded in bytes; CLOCK
 * eviction keeps entries that were hit since the hand last passed. Expired
 * entries are kept stale_ttl longer to answer when every upstream fails
 * (RFC 8767).
 */
#ifndef RESOLVER_CACHE_H
#define RESOLVER_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resolver/packet.h"

struct cache;
struct cache_entry;

struct cache_policy {
	uint32_t min_ttl, max_ttl, max_negative_ttl, servfail_ttl;
	uint32_t stale_ttl; /* 0: no serve-stale */
};

struct cache_stats {
	uint64_t hits, misses, stale_hits, inserts, evictions, uncachable;
	size_t bytes, entries;
};

/* A cache of at most max_bytes (entries and their index). NULL on no memory. */
struct cache *cache_new(size_t max_bytes);
void cache_free(struct cache *c);

enum cache_state {
	CACHE_MISS,
	CACHE_FRESH,
	CACHE_STALE, /* expired, but within stale_ttl: usable when upstreams fail */
};

/*
 * Looks up (qname, qtype, qclass, DO). qname is lower-cased wire. Entries
 * expired more than stale_ttl seconds ago are dropped. The entry
 * stays valid until the next cache_store or cache_free in this worker.
 */
enum cache_state cache_lookup(struct cache *c, const uint8_t *qname, size_t qname_len,
			      uint16_t qtype, uint16_t qclass, bool do_bit, uint64_t now_ms,
			      uint32_t stale_ttl, struct cache_entry **entry);

/*
 * Stores the upstream reply msg (len bytes) to the question of q. Returns
 * the entry, or NULL when the reply is not cacheable (its TTL is then 0) or
 * malformed (*malformed set: do not pass it on).
 */
const struct cache_entry *cache_store(struct cache *c, const struct packet_query *q,
				      const uint8_t *msg, size_t len, uint64_t now_ms,
				      const struct cache_policy *policy, bool *malformed);

/* Stores a SERVFAIL for the question of q for policy->servfail_ttl (RFC 2308 7.1). */
void cache_store_servfail(struct cache *c, const struct packet_query *q, uint64_t now_ms,
			  const struct cache_policy *policy);

/*
 * Writes the entry as the reply to q into buf, over the query (question kept
 * as sent). budget is the client's size limit; a reply over it has TC=1 and
 * no records. stale: TTLs of 30 s (RFC 8767 4). Returns the length.
 */
size_t cache_render(const struct cache_entry *e, const struct packet_query *q, uint8_t *buf,
		    size_t cap, size_t budget, uint64_t now_ms, bool stale, uint16_t edns_size);

/* True once, when a fresh entry is in the last tenth of its TTL: time to refresh it. */
bool cache_wants_prefetch(struct cache_entry *e, uint64_t now_ms);

/* Upstream rcode of the entry. */
unsigned cache_entry_rcode(const struct cache_entry *e);

void cache_get_stats(const struct cache *c, struct cache_stats *out);

#endif
