#include "resolver/forward.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <urcu.h>

#include "conf/log.h"
#include "resolver/cache.h"
#include "resolver/dot.h"
#include "resolver/worker.h"
#include "zones/dns.h"
#include "zones/zone.h"

#define UPSTREAM_EDNS_SIZE 1232
#define MAX_WAITERS        4096 /* clients sharing one upstream query */
#define RTO_INITIAL_MS     400  /* first try to an upstream we know nothing of */
#define RTO_MIN_MS         100
#define RTO_MAX_MS         1500
#define BACKOFF_AFTER      3    /* consecutive timeouts before an upstream is backed off */
#define BACKOFF_MAX_MS     5000 /* probed again within seconds (Unbound #282, #451) */
#define EXPLORE_PERCENT    5    /* fastest policy: sometimes try another upstream */
#define PENDING_BUCKETS    4096

/* ---- the forward table ---- */

struct forward_table {
	struct forward_rule *rules;
	size_t count;
};

struct forward_table *forward_table_build(const struct config *config, char *err, size_t errlen)
{
	struct forward_table *t = calloc(1, sizeof(*t));

	if (t == NULL || (t->rules = calloc(config->nforwards + 1, sizeof(*t->rules))) == NULL) {
		free(t);
		snprintf(err, errlen, "forward: out of memory");
		return NULL;
	}
	for (size_t i = 0; i < config->nforwards; i++) {
		const struct config_forward *cf = &config->forwards[i];
		struct forward_rule *r = &t->rules[t->count];
		r->name_len = zone_name_to_wire(cf->name, r->name);
		if (r->name_len == 0) {
			snprintf(err, errlen, "%s:%d: forward %s: not a valid name", config->path,
				 cf->line, cf->name);
			forward_table_free(t);
			return NULL;
		}
		r->labels = 0;
		for (size_t p = 0; r->name[p] != 0; p += 1 + r->name[p])
			r->labels++;
		r->is_default = r->labels == 0;
		r->ordered = cf->policy != NULL && strcmp(cf->policy, "ordered") == 0;
		if (cf->nupstreams > FORWARD_MAX_UPSTREAMS)
			log_warnx("%s:%d: forward %s: only the first %d upstreams are used",
				  config->path, cf->line, cf->name, FORWARD_MAX_UPSTREAMS);
		for (size_t u = 0; u < cf->nupstreams && u < FORWARD_MAX_UPSTREAMS; u++)
			r->upstreams[r->nupstreams++] = cf->upstreams[u];
		r->tls = cf->tls;
		if (cf->tls_name != NULL)
			snprintf(r->tls_name, sizeof(r->tls_name), "%s", cf->tls_name);
		if (cf->tls_ca != NULL && strlen(cf->tls_ca) >= sizeof(r->tls_ca)) {
			snprintf(err, errlen, "%s:%d: forward %s: tls_ca path too long",
				 config->path, cf->line, cf->name);
			forward_table_free(t);
			return NULL;
		}
		if (cf->tls_ca != NULL)
			snprintf(r->tls_ca, sizeof(r->tls_ca), "%s", cf->tls_ca);
		t->count++;
	}
	return t;
}

void forward_table_free(struct forward_table *t)
{
	if (t == NULL)
		return;
	free(t->rules);
	free(t);
}

size_t forward_table_count(const struct forward_table *t)
{
	return t != NULL ? t->count : 0;
}

const struct forward_rule *forward_table_find(const struct forward_table *t, const uint8_t *qname,
					      size_t qname_len, const uint8_t *label_off,
					      unsigned nlabels)
{
	const struct forward_rule *best = NULL;

	if (t == NULL)
		return NULL;
	/* Few rules: a scan is as fast as a table, and the longest suffix wins. */
	for (size_t i = 0; i < t->count; i++) {
		const struct forward_rule *r = &t->rules[i];
		size_t off;
		if (r->labels > nlabels || (best != NULL && r->labels <= best->labels))
			continue;
		off = r->labels == nlabels ? 0 : label_off[nlabels - r->labels];
		if (r->labels == 0)
			off = qname_len - 1;
		if (qname_len - off == r->name_len &&
		    memcmp(qname + off, r->name, r->name_len) == 0)
			best = r;
	}
	return best;
}

/* ---- the forwarder ---- */

struct upstream {
	struct netaddr addr;
	double srtt_ms; /* 0: not measured yet */
	unsigned fails;
	uint64_t down_until_ms;
	struct upstream *next;
};

struct waiter {
	struct waiter *next;
	struct forward_client client;
	struct packet_query q;
	uint8_t question[DNS_MAX_NAME + 4];
	size_t question_len;
};

#define MAX_UDP_TRIES 4

struct attempt {
	struct pending *p;
	int fd; /* -1: free */
	struct event ev;
	uint16_t id;
	struct upstream *u;
	uint64_t sent_ms;
};

struct pending {
	struct pending *hnext;
	struct forwarder *f;
	uint32_t hash;
	struct packet_query q; /* the question as we ask it (lower case) */
	struct netaddr upstreams[FORWARD_MAX_UPSTREAMS];
	size_t nupstreams;
	bool ordered;
	unsigned tried; /* bit per upstream tried in this round */
	unsigned attempts;
	struct upstream *current; /* of the latest try */
	/*
	 * Earlier UDP tries stay open: a reply that comes after its try timed
	 * out is still the answer (a slow upstream is not a dead one).
	 */
	struct attempt udp[MAX_UDP_TRIES];
	bool final_wait; /* nothing left to try: waiting for late replies until the deadline */
	struct event ev_timer;
	struct bufferevent *tcp;
	bool tls;
	char tls_name[256];
	char tls_ca[512];
	struct dot_req *dot;
	uint16_t id;
	uint64_t started_ms, sent_ms, deadline_ms;
	struct waiter *waiters;
	size_t nwaiters;
	uint8_t msg[DNS_HEADER_LEN + DNS_MAX_NAME + 4 + 11];
	size_t msg_len;
};

struct forwarder {
	struct event_base *base;
	struct cache *cache;
	struct dot_pool *dot;
	struct pending *table[PENDING_BUCKETS];
	size_t npending;
	struct upstream *upstreams;
	struct forward_stats stats;
	uint64_t pps_second, pps_count;
	uint8_t buf[65536 + 2];
	uint8_t out[65536 + 2];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t random32(void)
{
	uint32_t v;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint32_t)random();
	return v;
}

struct forwarder *forwarder_new(struct event_base *base, struct cache *cache)
{
	struct forwarder *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->base = base;
	f->cache = cache;
	f->dot = dot_pool_new(base);
	if (f->dot == NULL) {
		free(f);
		return NULL;
	}
	return f;
}

static void pending_free(struct pending *p);

void forwarder_free(struct forwarder *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < PENDING_BUCKETS; i++)
		while (f->table[i] != NULL)
			pending_free(f->table[i]);
	while (f->upstreams != NULL) {
		struct upstream *u = f->upstreams->next;
		free(f->upstreams);
		f->upstreams = u;
	}
	dot_pool_free(f->dot);
	free(f);
}

void forwarder_get_stats(const struct forwarder *f, struct forward_stats *out)
{
	*out = f->stats;
}

static struct upstream *upstream_get(struct forwarder *f, const struct netaddr *addr)
{
	struct upstream *u;

	for (u = f->upstreams; u != NULL; u = u->next)
		if (u->addr.len == addr->len && memcmp(&u->addr.ss, &addr->ss, addr->len) == 0)
			return u;
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return NULL;
	u->addr = *addr;
	u->next = f->upstreams;
	f->upstreams = u;
	return u;
}

static uint32_t question_hash(const struct packet_query *q)
{
	uint32_t h = dns_name_hash(q->qname, q->qname_len);

	h = (h ^ q->qtype) * 16777619u;
	h = (h ^ q->qclass) * 16777619u;
	return (h ^ (uint32_t)q->edns_do) * 16777619u;
}

static bool same_question(const struct packet_query *a, const struct packet_query *b)
{
	return a->qtype == b->qtype && a->qclass == b->qclass && a->edns_do == b->edns_do &&
	       a->qname_len == b->qname_len && memcmp(a->qname, b->qname, a->qname_len) == 0;
}

static void count_packet(struct forwarder *f)
{
	uint64_t second = now_ms() / 1000;

	f->stats.upstream_sent++;
	if (second != f->pps_second) {
		f->pps_second = second;
		f->pps_count = 0;
	}
	if (++f->pps_count > f->stats.peak_pps)
		f->stats.peak_pps = f->pps_count;
}

/* ---- answering the clients ---- */

static void send_to_client(struct forwarder *f, const struct forward_client *c, size_t len)
{
	worker_client_reply(c, f->out, len);
}

static size_t client_budget(const struct view *v, const struct waiter *w)
{
	size_t size;

	if (w->client.conn != NULL)
		return 65535;
	if (!w->q.edns)
		return 512;
	size = w->q.edns_udp_size < v->config->edns_udp_size ? w->q.edns_udp_size
							     : v->config->edns_udp_size;
	return size < 512 ? 512 : size;
}

enum outcome { OUTCOME_ENTRY, OUTCOME_RAW, OUTCOME_STALE, OUTCOME_SERVFAIL };

/*
 * Answers every client waiting on p: from the cache (just stored, or stale),
 * from the raw reply when it was not cached, or SERVFAIL.
 */
static void answer_waiters(struct pending *p, enum outcome how, const uint8_t *raw, size_t raw_len)
{
	struct forwarder *f = p->f;
	const struct view *v = worker_view();
	uint64_t now = now_ms();

	for (struct waiter *w = p->waiters; w != NULL; w = w->next) {
		size_t len, budget = client_budget(v, w);
		memcpy(f->out + DNS_HEADER_LEN, w->question, w->question_len);
		switch (how) {
		case OUTCOME_ENTRY:
		case OUTCOME_STALE: {
			bool refresh;
			enum cache_state st =
			    cache_answer(f->cache, &w->q, f->out, sizeof(f->out) - 2, budget, now,
					 v->config->stale_ttl, how == OUTCOME_STALE,
					 (uint16_t)v->config->edns_udp_size, &len, &refresh);
			if (st == CACHE_FRESH || (st == CACHE_STALE && how == OUTCOME_STALE))
				break;
			/* Evicted meanwhile by another worker: fall back to what we have. */
			if (raw != NULL) {
				len = cache_render_raw(&w->q, raw, raw_len, f->out,
						       sizeof(f->out) - 2, budget,
						       (uint16_t)v->config->edns_udp_size);
				break;
			}
			len = packet_error_reply(f->out, sizeof(f->out) - 2, &w->q,
						 DNS_RCODE_SERVFAIL,
						 (uint16_t)v->config->edns_udp_size);
			f->out[3] |= DNS_FLAG_RA & 0xff;
			break;
		}
		case OUTCOME_RAW:
			len = cache_render_raw(&w->q, raw, raw_len, f->out, sizeof(f->out) - 2,
					       budget, (uint16_t)v->config->edns_udp_size);
			break;
		default:
			len = packet_error_reply(f->out, sizeof(f->out) - 2, &w->q,
						 DNS_RCODE_SERVFAIL,
						 (uint16_t)v->config->edns_udp_size);
			f->out[3] |= DNS_FLAG_RA & 0xff;
			break;
		}
		send_to_client(f, &w->client, len);
	}
}

/* ---- one upstream query ---- */

static void pending_unlink(struct pending *p)
{
	struct pending **pp = &p->f->table[p->hash % PENDING_BUCKETS];

	while (*pp != NULL && *pp != p)
		pp = &(*pp)->hnext;
	if (*pp == p) {
		*pp = p->hnext;
		p->f->npending--;
	}
}

static void close_attempt(struct attempt *a)
{
	if (a->fd >= 0) {
		event_del(&a->ev);
		close(a->fd);
		a->fd = -1;
	}
}

static bool any_attempt_open(const struct pending *p)
{
	for (size_t i = 0; i < MAX_UDP_TRIES; i++)
		if (p->udp[i].fd >= 0)
			return true;
	return p->tcp != NULL || p->dot != NULL;
}

static void close_transport(struct pending *p)
{
	for (size_t i = 0; i < MAX_UDP_TRIES; i++)
		close_attempt(&p->udp[i]);
	if (p->tcp != NULL) {
		bufferevent_free(p->tcp);
		p->tcp = NULL;
	}
	if (p->dot != NULL) {
		dot_cancel(p->dot);
		p->dot = NULL;
	}
}

static void pending_free(struct pending *p)
{
	pending_unlink(p);
	close_transport(p);
	event_del(&p->ev_timer);
	while (p->waiters != NULL) {
		struct waiter *w = p->waiters;
		p->waiters = w->next;
		worker_client_release(&w->client);
		free(w);
	}
	free(p);
}

/* The upstream to try next: ordered takes the list in order, fastest the lowest RTT. */
static int choose_upstream(struct pending *p, uint64_t now)
{
	int best = -1, fallback = -1;
	double best_rtt = 0;
	uint64_t soonest = UINT64_MAX;

	for (size_t i = 0; i < p->nupstreams; i++) {
		struct upstream *u = upstream_get(p->f, &p->upstreams[i]);
		if (u == NULL || (p->tried & (1u << i)))
			continue;
		if (u->down_until_ms > now) {
			if (u->down_until_ms < soonest) {
				soonest = u->down_until_ms;
				fallback = (int)i;
			}
			continue;
		}
		if (p->ordered)
			return (int)i;
		if (best < 0 || u->srtt_ms < best_rtt) {
			best = (int)i;
			best_rtt = u->srtt_ms;
		}
	}
	if (!p->ordered && best >= 0 && random32() % 100 < EXPLORE_PERCENT) {
		/* Explore: an upstream that got slow once deserves another look. */
		size_t start = random32() % p->nupstreams;
		for (size_t k = 0; k < p->nupstreams; k++) {
			size_t i = (start + k) % p->nupstreams;
			struct upstream *u = upstream_get(p->f, &p->upstreams[i]);
			if (u != NULL && !(p->tried & (1u << i)) && u->down_until_ms <= now)
				return (int)i;
		}
	}
	/* Every upstream backed off: probe the one that comes back first. */
	return best >= 0 ? best : fallback;
}

static unsigned rto_ms(const struct upstream *u)
{
	unsigned rto;

	if (u->srtt_ms <= 0)
		return RTO_INITIAL_MS;
	rto = (unsigned)(u->srtt_ms * 3) + 50;
	return rto < RTO_MIN_MS ? RTO_MIN_MS : rto > RTO_MAX_MS ? RTO_MAX_MS : rto;
}

static void build_query(struct pending *p)
{
	uint8_t *m = p->msg;
	size_t n = DNS_HEADER_LEN;

	p->id = (uint16_t)random32();
	dns_put16(m, p->id);
	dns_put16(m + 2, DNS_FLAG_RD | (p->q.flags & DNS_FLAG_CD));
	dns_put16(m + 4, 1);
	dns_put16(m + 6, 0);
	dns_put16(m + 8, 0);
	dns_put16(m + 10, 1);
	memcpy(m + n, p->q.qname, p->q.qname_len);
	n += p->q.qname_len;
	dns_put16(m + n, p->q.qtype);
	dns_put16(m + n + 2, p->q.qclass);
	n += 4;
	/* EDNS with a buffer that avoids fragmentation, DO passed on (RFC 3225). */
	m[n] = 0;
	dns_put16(m + n + 1, DNS_TYPE_OPT);
	dns_put16(m + n + 3, UPSTREAM_EDNS_SIZE);
	dns_put32(m + n + 5, p->q.edns_do ? DNS_EDNS_DO : 0);
	dns_put16(m + n + 9, 0);
	p->msg_len = n + 11;
}

static void on_udp_reply(evutil_socket_t fd, short what, void *arg);
static void on_timer(evutil_socket_t fd, short what, void *arg);
static void on_dot_reply(void *arg, const uint8_t *m, size_t len);
static void on_dot_error(void *arg);
static void finish(struct pending *p, bool failed);
static bool try_next(struct pending *p);

static void arm_timer(struct pending *p, unsigned ms)
{
	uint64_t now = now_ms();
	struct timeval tv;

	if (now + ms > p->deadline_ms)
		ms = p->deadline_ms > now ? (unsigned)(p->deadline_ms - now) : 1;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(&p->ev_timer, &tv);
}

static bool send_udp(struct pending *p, int idx)
{
	const struct netaddr *a = &p->upstreams[idx];
	struct attempt *t = &p->udp[0];

	/* A free slot, or else the oldest try gives way. */
	for (size_t i = 0; i < MAX_UDP_TRIES; i++) {
		if (p->udp[i].fd < 0) {
			t = &p->udp[i];
			break;
		}
		if (p->udp[i].sent_ms < t->sent_ms)
			t = &p->udp[i];
	}
	close_attempt(t);
	/* A fresh socket per try: the kernel picks a random source port. */
	t->fd = socket(a->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0)
		return false;
	if (connect(t->fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
	    send(t->fd, p->msg, p->msg_len, 0) < 0) {
		close(t->fd);
		t->fd = -1;
		return false;
	}
	t->p = p;
	t->id = p->id;
	t->u = p->current;
	t->sent_ms = p->sent_ms;
	event_assign(&t->ev, p->f->base, t->fd, EV_READ | EV_PERSIST, on_udp_reply, t);
	event_add(&t->ev, NULL);
	count_packet(p->f);
	return true;
}

static bool send_dot(struct pending *p, int idx)
{
	if (p->dot != NULL) {
		dot_cancel(p->dot);
		p->dot = NULL;
	}
	p->dot = dot_send(p->f->dot, &p->upstreams[idx], p->tls_name, p->tls_ca, p->msg, p->msg_len,
			  p->id, on_dot_reply, on_dot_error, p);
	if (p->dot == NULL)
		return false;
	count_packet(p->f);
	return true;
}

/* Sends to the next upstream; false when none is left to try in the time budget. */
static bool try_next(struct pending *p)
{
	uint64_t now = now_ms();

	/* Each upstream gets at most two tries per query, within the time budget. */
	while (now < p->deadline_ms && p->attempts < 2 * p->nupstreams) {
		int idx = choose_upstream(p, now);
		if (idx < 0) {
			if (p->tried == 0)
				return false;
			p->tried = 0; /* every upstream had its go: start another round */
			continue;
		}
		p->attempts++;
		p->tried |= 1u << idx;
		p->current = upstream_get(p->f, &p->upstreams[idx]);
		if (p->current == NULL)
			return false;
		build_query(p);
		p->sent_ms = now;
		if (p->tls ? send_dot(p, idx) : send_udp(p, idx)) {
			/* A TLS upstream may need a handshake first: give it the longest wait. */
			arm_timer(p, p->tls ? RTO_MAX_MS : rto_ms(p->current));
			return true;
		}
		/* Could not even send (no route): count it as a failure of that upstream. */
		p->current->fails++;
	}
	return false;
}

static void upstream_ok(struct upstream *u, uint64_t rtt)
{
	u->srtt_ms = u->srtt_ms <= 0 ? (double)rtt : 0.7 * u->srtt_ms + 0.3 * (double)rtt;
	u->fails = 0;
	u->down_until_ms = 0;
}

static void upstream_failed(struct upstream *u, uint64_t now)
{
	unsigned extra;

	u->fails++;
	u->srtt_ms = u->srtt_ms <= 0 ? RTO_INITIAL_MS : u->srtt_ms * 2;
	if (u->srtt_ms > RTO_MAX_MS)
		u->srtt_ms = RTO_MAX_MS;
	if (u->fails >= BACKOFF_AFTER) {
		uint64_t backoff;
		extra = u->fails - BACKOFF_AFTER < 3 ? u->fails - BACKOFF_AFTER : 3;
		backoff = 1000ull << extra;
		u->down_until_ms = now + (backoff > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff);
	}
}

/* Nothing more to send: give late replies until the deadline, or give up now. */
static void give_up_or_wait(struct pending *p)
{
	uint64_t now = now_ms();

	if (!p->final_wait && now < p->deadline_ms && any_attempt_open(p)) {
		p->final_wait = true;
		arm_timer(p, (unsigned)(p->deadline_ms - now));
		return;
	}
	finish(p, true);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;

	(void)fd;
	(void)what;
	rcu_read_lock();
	if (p->final_wait) {
		finish(p, true);
	} else {
		p->f->stats.timeouts++;
		if (p->current != NULL)
			upstream_failed(p->current, now_ms());
		if (!try_next(p))
			give_up_or_wait(p);
	}
	rcu_read_unlock();
}

/* RFC 5452 9: the reply must match the address (connected socket), the ID and the question. */
static bool reply_matches(const struct pending *p, uint16_t id, const uint8_t *m, size_t len)
{
	size_t pos = DNS_HEADER_LEN;

	if (len < DNS_HEADER_LEN || dns_get16(m) != id || !(m[2] & 0x80) ||
	    ((m[2] >> 3) & 0xf) != 0 || dns_get16(m + 4) != 1)
		return false;
	for (size_t i = 0; i < p->q.qname_len; i++, pos++) {
		if (pos >= len)
			return false;
		/* Label lengths compare exactly, letters without case. */
		if (dns_lower(m[pos]) != p->q.qname[i])
			return false;
	}
	return pos + 4 <= len && dns_get16(m + pos) == p->q.qtype &&
	       dns_get16(m + pos + 2) == p->q.qclass;
}

/* An upstream answered but did not help: the next one, or what the budget allows. */
static void reply_failed(struct pending *p)
{
	close_transport(p);
	event_del(&p->ev_timer);
	if (!try_next(p))
		give_up_or_wait(p);
}

static void handle_reply(struct pending *p, const uint8_t *m, size_t len)
{
	const struct view *v = worker_view();
	unsigned rcode = m[3] & 0xf;
	uint64_t now = now_ms();
	struct cache_policy pol = {v->config->cache_min_ttl, v->config->cache_max_ttl,
				   v->config->cache_max_negative_ttl, v->config->cache_servfail_ttl,
				   v->config->serve_stale ? v->config->stale_ttl : 0};
	bool stored, malformed;

	if (p->current != NULL)
		upstream_ok(p->current, now - p->sent_ms);
	if (rcode != DNS_RCODE_NOERROR && rcode != DNS_RCODE_NXDOMAIN) {
		/* SERVFAIL, REFUSED, ...: another upstream may do better. */
		reply_failed(p);
		return;
	}
	stored = cache_store(p->f->cache, &p->q, m, len, now, &pol, &malformed);
	if (malformed) {
		/* Nothing malformed is cached or passed on; try elsewhere. */
		p->f->stats.spoofed++;
		reply_failed(p);
		return;
	}
	answer_waiters(p, stored ? OUTCOME_ENTRY : OUTCOME_RAW, m, len);
	pending_free(p);
}

static void on_tcp_read(struct bufferevent *bev, void *arg)
{
	struct pending *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t lenbuf[2];
	size_t len;

	if (evbuffer_copyout(in, lenbuf, 2) < 2)
		return;
	len = dns_get16(lenbuf);
	if (evbuffer_get_length(in) < len + 2)
		return;
	evbuffer_drain(in, 2);
	evbuffer_remove(in, p->f->buf, len);
	rcu_read_lock();
	if (reply_matches(p, p->id, p->f->buf, len)) {
		handle_reply(p, p->f->buf, len);
	} else {
		p->f->stats.spoofed++;
		reply_failed(p);
	}
	rcu_read_unlock();
}

static void on_tcp_event(struct bufferevent *bev, short what, void *arg)
{
	struct pending *p = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	rcu_read_lock();
	if (p->current != NULL)
		upstream_failed(p->current, now_ms());
	reply_failed(p);
	rcu_read_unlock();
}

static void on_dot_reply(void *arg, const uint8_t *m, size_t len)
{
	struct pending *p = arg;

	p->dot = NULL; /* the request is done with */
	rcu_read_lock();
	if (reply_matches(p, p->id, m, len)) {
		handle_reply(p, m, len);
	} else {
		p->f->stats.spoofed++;
		reply_failed(p);
	}
	rcu_read_unlock();
}

static void on_dot_error(void *arg)
{
	struct pending *p = arg;

	p->dot = NULL;
	rcu_read_lock();
	if (p->current != NULL)
		upstream_failed(p->current, now_ms());
	reply_failed(p);
	rcu_read_unlock();
}

/* TC=1 from upstream: the same question again over TCP (RFC 7766 5). */
static void retry_tcp(struct pending *p)
{
	uint8_t lenbuf[2];
	const struct netaddr *a = &p->current->addr;

	close_transport(p);
	p->tcp = bufferevent_socket_new(p->f->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (p->tcp == NULL ||
	    bufferevent_socket_connect(p->tcp, (const struct sockaddr *)&a->ss, (int)a->len) < 0) {
		if (p->tcp != NULL) {
			bufferevent_free(p->tcp);
			p->tcp = NULL;
		}
		if (!try_next(p))
			give_up_or_wait(p);
		return;
	}
	bufferevent_setcb(p->tcp, on_tcp_read, NULL, on_tcp_event, p);
	bufferevent_enable(p->tcp, EV_READ);
	dns_put16(lenbuf, (uint16_t)p->msg_len);
	bufferevent_write(p->tcp, lenbuf, 2);
	bufferevent_write(p->tcp, p->msg, p->msg_len);
	p->f->stats.upstream_tcp++;
	count_packet(p->f);
}

static void on_udp_reply(evutil_socket_t fd, short what, void *arg)
{
	struct attempt *t = arg;
	struct pending *p = t->p;
	struct forwarder *f = p->f;

	(void)what;
	for (;;) {
		ssize_t n = recv(fd, f->buf, sizeof(f->buf), 0);
		if (n < 0) {
			if (errno == ECONNREFUSED) {
				/* ICMP port unreachable: that upstream is not there. */
				rcu_read_lock();
				upstream_failed(t->u, now_ms());
				close_attempt(t);
				if (!any_attempt_open(p)) {
					event_del(&p->ev_timer);
					if (!try_next(p))
						finish(p, true);
				}
				rcu_read_unlock();
			}
			return;
		}
		if (!reply_matches(p, t->id, f->buf, (size_t)n)) {
			f->stats.spoofed++;
			continue;
		}
		/* This try answered, late or not: measure and continue from it. */
		p->current = t->u;
		p->sent_ms = t->sent_ms;
		p->id = t->id;
		dns_put16(p->msg, t->id);
		rcu_read_lock();
		if (f->buf[2] & (DNS_FLAG_TC >> 8)) {
			retry_tcp(p);
		} else {
			handle_reply(p, f->buf, (size_t)n);
		}
		rcu_read_unlock();
		return;
	}
}

/* Every upstream failed or the budget is spent: stale data (RFC 8767) or SERVFAIL. */
static void finish(struct pending *p, bool failed)
{
	struct forwarder *f = p->f;
	const struct view *v = worker_view();
	uint64_t now = now_ms();
	bool stale = false;

	(void)failed;
	if (v->config->serve_stale && p->waiters != NULL) {
		/* Is there stale data to give? Render it for the first waiter to find out. */
		size_t len;
		bool refresh;
		stale = cache_answer(f->cache, &p->waiters->q, f->out, sizeof(f->out) - 2, 512, now,
				     v->config->stale_ttl, true, (uint16_t)v->config->edns_udp_size,
				     &len, &refresh) == CACHE_STALE;
	}
	if (stale) {
		f->stats.stale_answers++;
		answer_waiters(p, OUTCOME_STALE, NULL, 0);
	} else {
		struct cache_policy pol = {0, 0, 0, v->config->cache_servfail_ttl, 0};
		f->stats.servfail++;
		if (p->nwaiters > 0)
			cache_store_servfail(f->cache, &p->q, now, &pol);
		answer_waiters(p, OUTCOME_SERVFAIL, NULL, 0);
	}
	pending_free(p);
}

static void reply_servfail(struct forwarder *f, const struct packet_query *q,
			   const uint8_t *question, const struct forward_client *c)
{
	const struct view *v = worker_view();
	size_t len;

	memcpy(f->out + DNS_HEADER_LEN, question, q->question_end - DNS_HEADER_LEN);
	len = packet_error_reply(f->out, sizeof(f->out) - 2, q, DNS_RCODE_SERVFAIL,
				 (uint16_t)v->config->edns_udp_size);
	f->out[3] |= DNS_FLAG_RA & 0xff;
	send_to_client(f, c, len);
}

void forwarder_query(struct forwarder *f, const struct forward_rule *rule,
		     const struct packet_query *q, const uint8_t *question,
		     const struct forward_client *client)
{
	const struct view *v = worker_view();
	uint32_t h = question_hash(q);
	struct pending *p;
	struct waiter *w = NULL;

	for (p = f->table[h % PENDING_BUCKETS]; p != NULL; p = p->hnext)
		if (p->hash == h && same_question(&p->q, q))
			break;
	if (client != NULL) {
		if ((p != NULL && p->nwaiters >= MAX_WAITERS) ||
		    (p == NULL && f->npending >= v->config->upstream_max_pending)) {
			f->stats.over_limit++;
			reply_servfail(f, q, question, client);
			worker_client_release(client);
			return;
		}
		w = calloc(1, sizeof(*w));
		if (w == NULL) {
			reply_servfail(f, q, question, client);
			worker_client_release(client);
			return;
		}
		w->client = *client;
		w->q = *q;
		w->question_len = q->question_end - DNS_HEADER_LEN;
		memcpy(w->question, question, w->question_len);
		f->stats.forwarded++;
	} else {
		f->stats.prefetches++;
	}
	if (p != NULL) {
		/* The same question is already on its way: wait for that answer. */
		if (w != NULL) {
			w->next = p->waiters;
			p->waiters = w;
			p->nwaiters++;
			f->stats.coalesced++;
		}
		return;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		if (w != NULL) {
			reply_servfail(f, q, question, client);
			worker_client_release(client);
			free(w);
		}
		return;
	}
	p->f = f;
	p->hash = h;
	p->q = *q;
	for (size_t i = 0; i < MAX_UDP_TRIES; i++)
		p->udp[i].fd = -1;
	p->ordered = rule->ordered;
	p->tls = rule->tls;
	memcpy(p->tls_name, rule->tls_name, sizeof(p->tls_name));
	memcpy(p->tls_ca, rule->tls_ca, sizeof(p->tls_ca));
	p->nupstreams = rule->nupstreams;
	memcpy(p->upstreams, rule->upstreams, rule->nupstreams * sizeof(rule->upstreams[0]));
	p->started_ms = now_ms();
	p->deadline_ms = p->started_ms + v->config->upstream_timeout;
	p->waiters = w;
	p->nwaiters = w != NULL;
	evtimer_assign(&p->ev_timer, f->base, on_timer, p);
	p->hnext = f->table[h % PENDING_BUCKETS];
	f->table[h % PENDING_BUCKETS] = p;
	f->npending++;
	if (!try_next(p))
		finish(p, true);
}

size_t forwarder_pending(const struct forwarder *f)
{
	return f->npending;
}
