/*
 * cache: answers from upstream resolvers, shared by the workers.
 *
 * An entry is the upstream reply as it came on the wire, less its header,
 * question and OPT record, with the offset of every TTL noted. A hit is
 * rendered by copying the records after the client's own question (same
 * length, so compression pointers stay valid), patching the TTLs by the time
 * spent in the cache and appending our OPT: no allocation on the hit path. The
 * cache is sharded by hash with a lock per shard for writers; lookups take no
 * lock at all, only the caller's RCU read lock (liburcu, the default flavour:
 * every thread that reads or stores is registered).
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

/* What writers did; hits and misses are counted by the callers (query_stats). */
struct cache_stats {
	uint64_t inserts, evictions, uncachable;
	size_t bytes, entries;
};

/* A cache of at most max_bytes (entries and their index). NULL on no memory. */
struct cache *cache_new(size_t max_bytes);
/* Once no thread uses it any more (waits for the frees still pending, rcu_barrier). */
void cache_free(struct cache *c);

enum cache_state {
	CACHE_MISS,
	CACHE_FRESH,
	CACHE_STALE, /* expired, but within stale_ttl: usable when upstreams fail */
};

/*
 * Looks up the question of q (lower-cased qname, qtype, qclass, DO) and, when
 * fresh, writes it as the reply to q into buf over the query (question kept
 * as sent); *len is its length. budget is the client's size limit: a reply
 * over it has TC=1 and no records. A stale entry (expired less than stale_ttl
 * seconds ago) is rendered only with allow_stale, its TTLs 30 s (RFC 8767 4).
 * *prefetch is set once when a fresh entry is in the last tenth of its TTL.
 * Call under rcu_read_lock; the reply is written before it returns.
 */
enum cache_state cache_answer(struct cache *c, const struct packet_query *q, uint8_t *buf,
			      size_t cap, size_t budget, uint64_t now_ms, uint32_t stale_ttl,
			      bool allow_stale, uint16_t edns_size, size_t *len, bool *prefetch);

/*
 * Batches: brings what cache_answer will read for q into the CPU's caches
 * ahead of time, without waiting for it, one level per stage: the table slot
 * (0), the entry it points at (1), the rest of the entry (2); later stages
 * do nothing. Under rcu_read_lock.
 */
void cache_prefetch(struct cache *c, const struct packet_query *q, unsigned stage);

/*
 * Stores the upstream reply msg (len bytes) to the question of q. Returns
 * false when the reply is not cached: not cacheable (TTL 0, no SOA for a
 * negative answer, an rcode other than NOERROR/NXDOMAIN), no room, or
 * malformed (*malformed set: do not pass it on either).
 */
bool cache_store(struct cache *c, const struct packet_query *q, const uint8_t *msg, size_t len,
		 uint64_t now_ms, const struct cache_policy *policy, bool *malformed);

/* Stores a SERVFAIL for the question of q for policy->servfail_ttl (RFC 2308 7.1). */
void cache_store_servfail(struct cache *c, const struct packet_query *q, uint64_t now_ms,
			  const struct cache_policy *policy);

/* Renders an upstream reply that was not cached, as cache_answer would. */
size_t cache_render_raw(const struct packet_query *q, const uint8_t *msg, size_t len, uint8_t *buf,
			size_t cap, size_t budget, uint16_t edns_size);

void cache_get_stats(struct cache *c, struct cache_stats *out);

#endif
