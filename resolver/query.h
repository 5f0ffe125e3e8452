/*
 * query: one query's fate, from the bytes received to the bytes to send.
 *
 * query_process runs the checks of the protocol in order (header, opcode,
 * EDNS version, access policy, class, zone) and hands the lookup to answer.c.
 * The reply is written over the query in the same buffer. It reads the
 * published view under the caller's RCU read lock and never allocates.
 */
#ifndef RESOLVER_QUERY_H
#define RESOLVER_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf/config.h"
#include "resolver/packet.h"
#include "zones/zonedb.h"

struct cache;
struct forward_table;
struct forward_rule;

/* What the workers read: one config and what was built from it, swapped as one. */
struct view {
	struct config *config;
	struct zonedb *zones;
	struct forward_table *forwards; /* NULL when recursion is off */
	char identity[256];
};

enum query_fate {
	QUERY_ANSWERED, /* *reply_len bytes of buf are the reply */
	QUERY_DROPPED,  /* nothing to send */
	QUERY_FORWARD,  /* answered later: resolve fwd->q through fwd->rule */
};

/* Filled by query_process when a query goes (or should go, to refresh) upstream. */
struct query_forward {
	struct packet_query q;
	const struct forward_rule *rule;
	bool prefetch; /* answered from the cache; refresh the entry in the background */
};

/* Per-worker counters; only the owning worker writes them. */
struct query_stats {
	uint64_t queries;
	uint64_t dropped;
	uint64_t formerr;
	uint64_t refused;
	uint64_t nxdomain;
	uint64_t truncated;
	uint64_t cache_hits;
	uint64_t cache_misses; /* queries that had to go upstream (or wait for it) */
};

struct query_source {
	const struct sockaddr *addr;
	bool tcp;
	struct cache *cache; /* the worker's cache; NULL: none */
	uint64_t now_ms;
};

/*
 * Processes the query of len bytes in buf (cap bytes of room) from src and
 * writes the reply over it. fwd NULL: the caller cannot forward, so names
 * outside our zones are REFUSED as with recursion = no.
 */
enum query_fate query_process(const struct view *view, uint8_t *buf, size_t len, size_t cap,
			      const struct query_source *src, size_t *reply_len,
			      struct query_stats *stats, struct query_forward *fwd);

/*
 * query_process in stages, for a batch of queries whose data is fetched from
 * memory for all of them before any is answered: the lookups of a batch then
 * wait for memory together rather than one after the other.
 */
struct query_ctx {
	struct packet_query q;
	enum packet_status status;
	const struct zonedb_entry *entry; /* the zone that holds the name, if any */
	const struct forward_rule *rule;  /* non-NULL: the name goes upstream (or to the cache) */
};

/*
 * Parses the query and finds where its answer lives (a zone, or upstream
 * through the cache), then asks for the first data the answer will read
 * (query_prefetch, first stage). can_forward: as fwd != NULL in query_process.
 */
void query_prepare(const struct view *view, const uint8_t *buf, size_t len,
		   const struct query_source *src, bool can_forward, struct query_ctx *ctx);

/*
 * Asks for what the answer reads, a level per stage: the table slot (0, done
 * by query_prepare), what it points at (1), what that points at (2), ... up
 * to QUERY_PREFETCH_STAGES - 1.
 */
#define QUERY_PREFETCH_STAGES ZONE_PREFETCH_STAGES
void query_prefetch(const struct query_ctx *ctx, const struct query_source *src, unsigned stage);

/* The rest of query_process for a prepared query: the checks in order, then the answer. */
enum query_fate query_answer(const struct view *view, const struct query_ctx *ctx, uint8_t *buf,
			     size_t cap, const struct query_source *src, size_t *reply_len,
			     struct query_stats *stats, struct query_forward *fwd);

#endif
