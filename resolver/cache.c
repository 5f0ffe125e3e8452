#include "resolver/cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <urcu.h>

#include "zones/dns.h"

#define STALE_TTL_SECONDS 30 /* RFC 8767 4: the TTL of a stale answer */
#define MAX_TTL_FIELDS    4096

struct cache_entry {
	struct cache_entry *hnext;       /* hash chain (RCU) */
	struct cache_entry *prev, *next; /* CLOCK ring (writers, under the shard's lock) */
	uint32_t hash;
	uint16_t qtype, qclass;
	bool do_bit;
	bool referenced; /* atomic: set by readers, cleared by the CLOCK hand */
	bool prefetched; /* atomic: the refresh was asked for (once) */
	uint8_t rcode;
	uint16_t hdr_flags; /* AA, AD as the upstream set them */
	uint16_t counts[3]; /* answer, authority, additional (without OPT) */
	uint32_t ttl;       /* seconds from stored_ms */
	uint64_t stored_ms;
	size_t bytes; /* accounted size */
	uint16_t qname_len;
	uint16_t rec_len;
	uint16_t nttl;
	struct rcu_head rcu; /* freed after the readers that may hold it */
	/* qname | records | ttl offsets (uint16) | original ttls (uint32) */
	uint8_t data[];
};

/* A hash table, replaced whole when it grows. */
struct table {
	struct rcu_head rcu;
	size_t mask;
	struct cache_entry *b[];
};

/*
 * The cache is split into shards by hash, each with its own table, CLOCK ring,
 * share of the budget and a lock for its writers: workers storing answers on
 * different shards never meet. Lookups take no lock: they read the table and
 * the entries under the caller's RCU read lock, and what writers remove is
 * freed after a grace period (call_rcu). An entry is complete before it is
 * linked and never changed after, except for its two atomic flags.
 */
struct shard {
	pthread_mutex_t lock;
	struct table *table; /* RCU */
	size_t max_buckets;
	struct cache_entry *hand;
	size_t bytes, max_bytes;
	struct cache_stats stats;
};

#define NSHARDS           64
#define SHARD_MIN_BUCKETS 64

struct cache {
	struct shard shards[NSHARDS];
};

static inline uint8_t *entry_qname(struct cache_entry *e)
{
	return e->data;
}

static inline const uint8_t *entry_records(const struct cache_entry *e)
{
	return e->data + e->qname_len;
}

static inline uint16_t entry_ttl_off(const struct cache_entry *e, size_t i)
{
	const uint8_t *p = e->data + e->qname_len + e->rec_len + 2 * i;
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t entry_ttl_orig(const struct cache_entry *e, size_t i)
{
	const uint8_t *p = e->data + e->qname_len + e->rec_len + 2 * (size_t)e->nttl + 4 * i;
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static struct table *table_new(size_t buckets)
{
	struct table *t = calloc(1, sizeof(*t) + buckets * sizeof(t->b[0]));

	if (t != NULL)
		t->mask = buckets - 1;
	return t;
}

static int shard_init(struct shard *c, size_t max_bytes)
{
	size_t buckets = SHARD_MIN_BUCKETS;

	/*
	 * The table starts small and doubles with the entries (grow): a small
	 * table stays in the CPU's caches, and every lookup starts with a read
	 * of it. Its size counts against the budget, at most about one bucket
	 * per 256 bytes of it.
	 */
	c->max_buckets = buckets;
	while (c->max_buckets < max_bytes / 256 && c->max_buckets < ((size_t)1 << 22))
		c->max_buckets *= 2;
	c->table = table_new(buckets);
	if (c->table == NULL)
		return -1;
	pthread_mutex_init(&c->lock, NULL);
	c->bytes = buckets * sizeof(c->table->b[0]);
	c->max_bytes = max_bytes;
	return 0;
}

static void free_table(struct rcu_head *head)
{
	free(caa_container_of(head, struct table, rcu));
}

static void free_entry(struct rcu_head *head)
{
	free(caa_container_of(head, struct cache_entry, rcu));
}

/*
 * Doubles the table of c (writer). The entries move to the new table one by
 * one; a reader on the old one meanwhile may follow a moved entry into a
 * chain of the new table and miss what it looked for, never loop: a new chain
 * holds moved entries only, and ends. A miss is a query sent upstream. With
 * no memory for it, the chains just grow.
 */
static void grow(struct shard *c)
{
	struct table *old = c->table, *t = table_new((old->mask + 1) * 2);

	if (t == NULL)
		return;
	for (size_t i = 0; i <= old->mask; i++) {
		struct cache_entry *e = old->b[i], *next;
		for (; e != NULL; e = next) {
			next = e->hnext;
			rcu_assign_pointer(e->hnext, t->b[e->hash & t->mask]);
			t->b[e->hash & t->mask] = e;
		}
	}
	rcu_assign_pointer(c->table, t);
	c->bytes += (t->mask - old->mask) * sizeof(t->b[0]);
	call_rcu(&old->rcu, free_table);
}

struct cache *cache_new(size_t max_bytes)
{
	struct cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	for (size_t i = 0; i < NSHARDS; i++) {
		if (shard_init(&c->shards[i], max_bytes / NSHARDS) < 0) {
			for (size_t j = 0; j < i; j++)
				free(c->shards[j].table);
			free(c);
			return NULL;
		}
	}
	return c;
}

static struct shard *shard_of(struct cache *c, uint32_t h)
{
	/* The table index uses the low bits; the shard the high ones. */
	return &c->shards[h >> 26];
}

/* Takes e out of the table and the ring (writer); it is freed after the readers. */
static void unlink_entry(struct shard *c, struct cache_entry *e)
{
	struct cache_entry **pp = &c->table->b[e->hash & c->table->mask];

	while (*pp != e)
		pp = &(*pp)->hnext;
	rcu_assign_pointer(*pp, e->hnext);
	if (e->next == e) {
		c->hand = NULL;
	} else {
		e->prev->next = e->next;
		e->next->prev = e->prev;
		if (c->hand == e)
			c->hand = e->next;
	}
	c->bytes -= e->bytes;
	c->stats.entries--;
	call_rcu(&e->rcu, free_entry);
}

void cache_free(struct cache *c)
{
	if (c == NULL)
		return;
	/* No reader is left: what was unlinked goes first, the rest directly. */
	rcu_barrier();
	for (size_t i = 0; i < NSHARDS; i++) {
		struct shard *sh = &c->shards[i];
		struct cache_entry *e = sh->hand;
		if (e != NULL) {
			e->prev->next = NULL;
			while (e != NULL) {
				struct cache_entry *next = e->next;
				free(e);
				e = next;
			}
		}
		free(sh->table);
		pthread_mutex_destroy(&sh->lock);
	}
	free(c);
}

static uint32_t key_hash(const struct packet_query *q)
{
	uint32_t h = q->label_hash[0]; /* dns_name_hash of qname, from packet_parse */

	h = (h ^ q->qtype) * 16777619u;
	h = (h ^ q->qclass) * 16777619u;
	return (h ^ (uint32_t)q->edns_do) * 16777619u;
}

/* Under the RCU read lock, or the shard's lock. */
static struct cache_entry *find(struct shard *c, const uint8_t *qname, size_t len, uint16_t qtype,
				uint16_t qclass, bool do_bit, uint32_t h)
{
	struct table *t = rcu_dereference(c->table);

	for (struct cache_entry *e = rcu_dereference(t->b[h & t->mask]); e != NULL;
	     e = rcu_dereference(e->hnext))
		if (e->hash == h && e->qtype == qtype && e->qclass == qclass &&
		    e->do_bit == do_bit && e->qname_len == len &&
		    memcmp(entry_qname(e), qname, len) == 0)
			return e;
	return NULL;
}

static uint64_t expiry_ms(const struct cache_entry *e)
{
	return e->stored_ms + (uint64_t)e->ttl * 1000;
}

/* CLOCK: entries hit since the hand last passed get a second chance. */
static void evict_one(struct shard *c)
{
	while (__atomic_load_n(&c->hand->referenced, __ATOMIC_RELAXED)) {
		__atomic_store_n(&c->hand->referenced, false, __ATOMIC_RELAXED);
		c->hand = c->hand->next;
	}
	c->stats.evictions++;
	unlink_entry(c, c->hand);
}

/*
 * A new entry for the question of q with room for rec_len bytes of records
 * and nttl TTLs, its key filled in, not yet linked (writer): the caller fills
 * the rest and links it with publish. Makes room in the budget first.
 */
static struct cache_entry *entry_new(struct shard *c, const struct packet_query *q, size_t rec_len,
				     size_t nttl, uint64_t now_ms)
{
	size_t bytes = sizeof(struct cache_entry) + q->qname_len + rec_len + nttl * 6;
	uint32_t h = key_hash(q);
	struct cache_entry *e = find(c, q->qname, q->qname_len, q->qtype, q->qclass, q->edns_do, h);

	if (e != NULL)
		unlink_entry(c, e);
	if (bytes > c->max_bytes / 8)
		return NULL; /* one answer may not take a large part of the cache */
	/* At most one entry per bucket on average; the eviction below pays for the room. */
	if (c->stats.entries >= c->table->mask + 1 && c->table->mask + 1 < c->max_buckets)
		grow(c);
	while (c->hand != NULL && c->bytes + bytes > c->max_bytes)
		evict_one(c);
	if (c->bytes + bytes > c->max_bytes)
		return NULL;
	e = malloc(bytes);
	if (e == NULL)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->hash = h;
	e->qtype = q->qtype;
	e->qclass = q->qclass;
	e->do_bit = q->edns_do;
	e->stored_ms = now_ms;
	e->bytes = bytes;
	e->qname_len = (uint16_t)q->qname_len;
	e->rec_len = (uint16_t)rec_len;
	e->nttl = (uint16_t)nttl;
	memcpy(entry_qname(e), q->qname, q->qname_len);
	return e;
}

/* Links the complete entry e into the table, where readers find it, and the ring (writer). */
static void publish(struct shard *c, struct cache_entry *e)
{
	struct cache_entry **head = &c->table->b[e->hash & c->table->mask];

	e->hnext = *head;
	rcu_assign_pointer(*head, e);
	if (c->hand == NULL) {
		e->prev = e->next = e;
		c->hand = e;
	} else {
		/* New entries go just behind the hand: the last to be considered. */
		e->next = c->hand;
		e->prev = c->hand->prev;
		c->hand->prev->next = e;
		c->hand->prev = e;
	}
	c->bytes += e->bytes;
	c->stats.entries++;
	c->stats.inserts++;
}

static bool skip_name(const uint8_t *m, size_t len, size_t *pos)
{
	size_t p = *pos;

	for (;;) {
		if (p >= len)
			return false;
		if (m[p] == 0) {
			*pos = p + 1;
			return true;
		}
		if ((m[p] & 0xc0) == 0xc0) {
			if (p + 2 > len)
				return false;
			*pos = p + 2;
			return true;
		}
		if (m[p] > 63)
			return false;
		p += 1 + (size_t)m[p];
	}
}

static uint32_t clamp(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

bool cache_store(struct cache *cache, const struct packet_query *q, const uint8_t *msg, size_t len,
		 uint64_t now_ms, const struct cache_policy *policy, bool *malformed)
{
	struct shard *c = shard_of(cache, key_hash(q));
	uint16_t offs[MAX_TTL_FIELDS];
	uint32_t ttls[MAX_TTL_FIELDS];
	unsigned counts[3], rcode;
	size_t pos = q->question_end, rec_end = 0, nttl = 0;
	uint32_t min_ttl = UINT32_MAX, neg_ttl = UINT32_MAX;
	bool have_opt = false;
	struct cache_entry *e;
	uint32_t ttl;

	*malformed = true;
	if (len < pos || len > 65535)
		return false;
	counts[0] = dns_get16(msg + 6);
	counts[1] = dns_get16(msg + 8);
	counts[2] = dns_get16(msg + 10);
	rcode = dns_get16(msg + 2) & 0xf;
	for (unsigned s = 0; s < 3; s++) {
		for (unsigned i = 0; i < counts[s]; i++) {
			size_t start = pos;
			uint16_t type, rdlen;
			uint32_t rttl;
			if (have_opt || !skip_name(msg, len, &pos) || pos + 10 > len)
				return false;
			type = dns_get16(msg + pos);
			rttl = dns_get32(msg + pos + 4);
			rdlen = dns_get16(msg + pos + 8);
			if (pos + 10 + rdlen > len)
				return false;
			if (type == DNS_TYPE_OPT) {
				/* Ours replaces it; it must come last to be cut off cleanly. */
				if (s != 2 || msg[start] != 0)
					return false;
				have_opt = true;
				rec_end = start;
				pos += 10 + rdlen;
				continue;
			}
			if (rttl > 0x7fffffff)
				rttl = 0; /* RFC 2181 8 */
			if (nttl >= MAX_TTL_FIELDS)
				return false;
			offs[nttl] = (uint16_t)(pos + 4 - q->question_end);
			ttls[nttl++] = rttl;
			if (s < 2 && rttl < min_ttl)
				min_ttl = rttl;
			if (s == 1 && type == DNS_TYPE_SOA && rdlen >= 22) {
				uint32_t minimum = dns_get32(msg + pos + 10 + rdlen - 4);
				neg_ttl = rttl < minimum ? rttl : minimum;
			}
			pos += 10 + rdlen;
		}
	}
	if (!have_opt)
		rec_end = pos;
	*malformed = false;

	pthread_mutex_lock(&c->lock);
	if (rcode == DNS_RCODE_NXDOMAIN || (rcode == DNS_RCODE_NOERROR && counts[0] == 0)) {
		/* RFC 2308 5: negative answers live as long as their SOA says. */
		if (neg_ttl == UINT32_MAX) {
			c->stats.uncachable++;
			pthread_mutex_unlock(&c->lock);
			return false;
		}
		ttl = neg_ttl < min_ttl ? neg_ttl : min_ttl;
		ttl = ttl > policy->max_negative_ttl ? policy->max_negative_ttl : ttl;
	} else if (rcode == DNS_RCODE_NOERROR) {
		ttl = clamp(min_ttl, policy->min_ttl, policy->max_ttl);
	} else {
		c->stats.uncachable++;
		pthread_mutex_unlock(&c->lock);
		return false;
	}
	if (ttl == 0) {
		c->stats.uncachable++;
		pthread_mutex_unlock(&c->lock);
		return false;
	}
	/*
	 * The TTLs clients see follow the policy too: each record at most the
	 * entry's negative TTL (RFC 2308 3: the SOA's TTL is the negative TTL),
	 * or within min_ttl..max_ttl for a positive answer.
	 */
	for (size_t i = 0; i < nttl; i++) {
		if (rcode == DNS_RCODE_NXDOMAIN || counts[0] == 0)
			ttls[i] = ttls[i] > ttl ? ttl : ttls[i];
		else
			ttls[i] = clamp(ttls[i], policy->min_ttl, policy->max_ttl);
	}
	e = entry_new(c, q, rec_end - q->question_end, nttl, now_ms);
	if (e == NULL) {
		c->stats.uncachable++;
		pthread_mutex_unlock(&c->lock);
		return false;
	}
	e->ttl = ttl;
	e->rcode = (uint8_t)rcode;
	e->hdr_flags = dns_get16(msg + 2) & (DNS_FLAG_AA | DNS_FLAG_AD);
	e->counts[0] = (uint16_t)counts[0];
	e->counts[1] = (uint16_t)counts[1];
	e->counts[2] = (uint16_t)(counts[2] - (have_opt ? 1 : 0));
	memcpy(e->data + e->qname_len, msg + q->question_end, e->rec_len);
	for (size_t i = 0; i < nttl; i++) {
		uint8_t *p = e->data + e->qname_len + e->rec_len + 2 * i;
		p[0] = (uint8_t)offs[i];
		p[1] = (uint8_t)(offs[i] >> 8);
		memcpy(e->data + e->qname_len + e->rec_len + 2 * nttl + 4 * i, &ttls[i], 4);
	}
	publish(c, e);
	pthread_mutex_unlock(&c->lock);
	return true;
}

void cache_store_servfail(struct cache *cache, const struct packet_query *q, uint64_t now_ms,
			  const struct cache_policy *policy)
{
	struct shard *c = shard_of(cache, key_hash(q));
	struct cache_entry *e;

	if (policy->servfail_ttl == 0)
		return;
	pthread_mutex_lock(&c->lock);
	e = entry_new(c, q, 0, 0, now_ms);
	if (e != NULL) {
		e->ttl = policy->servfail_ttl;
		e->rcode = DNS_RCODE_SERVFAIL;
		/* A stored failure is never served as stale data, nor prefetched. */
		e->prefetched = true;
		publish(c, e);
	}
	pthread_mutex_unlock(&c->lock);
}

/* Header and OPT of a reply made from an upstream answer (cached or not). */
static size_t put_header(uint8_t *buf, const struct packet_query *q, unsigned rcode,
			 uint16_t upstream_flags, const uint16_t counts[3], bool fits)
{
	uint16_t flags = DNS_FLAG_QR | DNS_FLAG_RA | (uint16_t)(q->opcode << 11) | (uint16_t)rcode;

	flags |= q->flags & (DNS_FLAG_RD | DNS_FLAG_CD);
	/* RFC 6840 5.8: AD only for clients that asked for it (AD or DO). */
	if ((upstream_flags & DNS_FLAG_AD) && (q->edns_do || (q->flags & DNS_FLAG_AD)))
		flags |= DNS_FLAG_AD;
	if (!fits)
		flags |= DNS_FLAG_TC;
	dns_put16(buf, q->id);
	dns_put16(buf + 2, flags);
	dns_put16(buf + 4, 1);
	dns_put16(buf + 6, fits ? counts[0] : 0);
	dns_put16(buf + 8, fits ? counts[1] : 0);
	dns_put16(buf + 10, (uint16_t)((fits ? counts[2] : 0) + (q->edns ? 1 : 0)));
	return q->question_end;
}

static size_t put_opt(uint8_t *buf, size_t pos, const struct packet_query *q, uint16_t edns_size)
{
	if (!q->edns)
		return pos;
	buf[pos] = 0;
	dns_put16(buf + pos + 1, DNS_TYPE_OPT);
	dns_put16(buf + pos + 3, edns_size);
	dns_put32(buf + pos + 5, q->edns_do ? DNS_EDNS_DO : 0);
	dns_put16(buf + pos + 9, 0);
	return pos + 11;
}

static size_t render(const struct cache_entry *e, const struct packet_query *q, uint8_t *buf,
		     size_t cap, size_t budget, uint64_t now_ms, bool stale, uint16_t edns_size)
{
	size_t pos, opt = q->edns ? 11 : 0;
	uint32_t elapsed = now_ms > e->stored_ms ? (uint32_t)((now_ms - e->stored_ms) / 1000) : 0;
	bool fits;

	if (budget > cap)
		budget = cap;
	fits = q->question_end + e->rec_len + opt <= budget;
	pos = put_header(buf, q, e->rcode, e->hdr_flags, e->counts, fits);
	if (fits) {
		memcpy(buf + pos, entry_records(e), e->rec_len);
		for (size_t i = 0; i < e->nttl; i++) {
			uint32_t orig = entry_ttl_orig(e, i);
			uint32_t ttl = stale            ? STALE_TTL_SECONDS
				       : orig > elapsed ? orig - elapsed
							: 0;
			dns_put32(buf + pos + entry_ttl_off(e, i), ttl);
		}
		pos += e->rec_len;
	}
	return put_opt(buf, pos, q, edns_size);
}

/* True once, when a fresh entry is in the last tenth of its TTL: time to refresh it. */
static bool wants_prefetch(struct cache_entry *e, uint64_t now_ms)
{
	uint64_t exp = expiry_ms(e);

	if (e->ttl < 10 || now_ms >= exp || (exp - now_ms) * 10 > (uint64_t)e->ttl * 1000)
		return false;
	/* Workers may hit it at once: the one that sets the flag refreshes. */
	return !__atomic_load_n(&e->prefetched, __ATOMIC_RELAXED) &&
	       !__atomic_exchange_n(&e->prefetched, true, __ATOMIC_RELAXED);
}

enum cache_state cache_answer(struct cache *cache, const struct packet_query *q, uint8_t *buf,
			      size_t cap, size_t budget, uint64_t now_ms, uint32_t stale_ttl,
			      bool allow_stale, uint16_t edns_size, size_t *len, bool *prefetch)
{
	uint32_t h = key_hash(q);
	struct cache_entry *e =
	    find(shard_of(cache, h), q->qname, q->qname_len, q->qtype, q->qclass, q->edns_do, h);

	*prefetch = false;
	if (e == NULL)
		return CACHE_MISS;
	if (now_ms < expiry_ms(e)) {
		/* No write to the entry when it is already marked: its line stays shared. */
		if (!__atomic_load_n(&e->referenced, __ATOMIC_RELAXED))
			__atomic_store_n(&e->referenced, true, __ATOMIC_RELAXED);
		*len = render(e, q, buf, cap, budget, now_ms, false, edns_size);
		*prefetch = wants_prefetch(e, now_ms);
		return CACHE_FRESH;
	}
	/* Past the stale window, or a stored failure: a miss (replaced by the next store). */
	if (e->rcode == DNS_RCODE_SERVFAIL || now_ms >= expiry_ms(e) + (uint64_t)stale_ttl * 1000)
		return CACHE_MISS;
	if (allow_stale)
		*len = render(e, q, buf, cap, budget, now_ms, true, edns_size);
	return CACHE_STALE;
}

void cache_prefetch(struct cache *cache, const struct packet_query *q, unsigned stage)
{
	uint32_t h = key_hash(q);
	struct table *t = rcu_dereference(shard_of(cache, h)->table);
	struct cache_entry *const *slot = &t->b[h & t->mask];
	const struct cache_entry *e;

	if (stage == 0) {
		__builtin_prefetch(slot);
		return;
	}
	e = rcu_dereference(*slot);
	if (e == NULL)
		return;
	if (stage == 1) {
		__builtin_prefetch(e);
		__builtin_prefetch((const uint8_t *)e + 64);
	} else if (stage == 2) {
		/* The records and TTL offsets, to the end of the entry. */
		for (size_t off = 128; off < e->bytes; off += 64)
			__builtin_prefetch((const uint8_t *)e + off);
	}
}

void cache_get_stats(struct cache *cache, struct cache_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < NSHARDS; i++) {
		struct shard *c = &cache->shards[i];
		pthread_mutex_lock(&c->lock);
		out->inserts += c->stats.inserts;
		out->evictions += c->stats.evictions;
		out->uncachable += c->stats.uncachable;
		out->entries += c->stats.entries;
		out->bytes += c->bytes;
		pthread_mutex_unlock(&c->lock);
	}
}

size_t cache_render_raw(const struct packet_query *q, const uint8_t *msg, size_t len, uint8_t *buf,
			size_t cap, size_t budget, uint16_t edns_size)
{
	struct cache_entry e;
	unsigned counts[3];
	size_t pos = q->question_end, rec_end;
	bool have_opt = false;

	/* The same walk as cache_store, to find where the OPT record starts. */
	memset(&e, 0, sizeof(e));
	if (len < pos)
		return packet_error_reply(buf, cap, q, DNS_RCODE_SERVFAIL, edns_size);
	counts[0] = dns_get16(msg + 6);
	counts[1] = dns_get16(msg + 8);
	counts[2] = dns_get16(msg + 10);
	rec_end = len;
	for (unsigned s = 0; s < 3 && !have_opt; s++) {
		for (unsigned i = 0; i < counts[s]; i++) {
			size_t start = pos;
			if (!skip_name(msg, len, &pos) || pos + 10 > len ||
			    pos + 10 + dns_get16(msg + pos + 8) > len)
				return packet_error_reply(buf, cap, q, DNS_RCODE_SERVFAIL,
							  edns_size);
			if (dns_get16(msg + pos) == DNS_TYPE_OPT) {
				have_opt = true;
				rec_end = start;
				break;
			}
			pos += 10 + dns_get16(msg + pos + 8);
		}
	}
	if (!have_opt)
		rec_end = pos;
	e.rcode = (uint8_t)(msg[3] & 0xf);
	e.hdr_flags = dns_get16(msg + 2) & DNS_FLAG_AD;
	e.counts[0] = (uint16_t)counts[0];
	e.counts[1] = (uint16_t)counts[1];
	e.counts[2] = (uint16_t)(counts[2] - (have_opt ? 1 : 0));

	if (rec_end - q->question_end > UINT16_MAX ||
	    q->question_end + (rec_end - q->question_end) + 11 > cap)
		return packet_error_reply(buf, cap, q, DNS_RCODE_SERVFAIL, edns_size);
	e.rec_len = (uint16_t)(rec_end - q->question_end);
	/* Records are copied from msg; rendered like an entry with no TTL to patch. */
	{
		size_t opt = q->edns ? 11 : 0;
		bool fits;
		if (budget > cap)
			budget = cap;
		fits = q->question_end + e.rec_len + opt <= budget;
		pos = put_header(buf, q, e.rcode, e.hdr_flags, e.counts, fits);
		if (fits) {
			memmove(buf + pos, msg + q->question_end, e.rec_len);
			pos += e.rec_len;
		}
		pos = put_opt(buf, pos, q, edns_size);
	}
	return pos;
}
