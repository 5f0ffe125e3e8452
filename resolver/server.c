#include "resolver/server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <urcu.h>

#include "conf/log.h"
#include "resolver/cache.h"
#include "resolver/forward.h"
#include "resolver/worker.h"

struct server {
	struct cache *cache;
	struct worker *workers;
	unsigned nworkers;
	size_t nsockets;
	bool udp_threads; /* UDP sockets served by threads of their own, not the event loops */
	bool started;
};

/* The one view every worker reads; replaced only by server_publish. */
static struct view *current_view;

uint64_t worker_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const struct view *worker_view(void)
{
	return rcu_dereference(current_view);
}

struct view *server_current_view(void)
{
	return current_view;
}

void view_free(struct view *view)
{
	if (view == NULL)
		return;
	zonedb_free(view->zones);
	forward_table_free(view->forwards);
	config_free(view->config);
	free(view);
}

void server_publish(struct view *view)
{
	struct view *old = rcu_xchg_pointer(&current_view, view);

	if (old != NULL) {
		/* Every worker has left the read side that could see old. */
		synchronize_rcu();
		view_free(old);
	}
}

/* Refuses a port someone else holds: SO_REUSEPORT would otherwise share it silently. */
static int probe_free(const struct netaddr *addr, int type, char *err, size_t errlen)
{
	int fd = socket(addr->ss.ss_family, type | SOCK_CLOEXEC, 0);
	char name[80];

	if (fd < 0)
		return 0;
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0) {
		netaddr_format(addr, name, sizeof(name));
		snprintf(err, errlen, "%s %s: %s", type == SOCK_DGRAM ? "udp" : "tcp", name,
			 strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

struct server *server_new(const struct config *config, char *err, size_t errlen)
{
	struct server *s = calloc(1, sizeof(*s));

	if (s == NULL)
		goto oom;
	s->nworkers = config->workers;
	s->nsockets = config->nlisten;
	/*
	 * How UDP is served, chosen once. A thread per socket sleeping in
	 * recvmmsg is the benchmark reflector's loop: no epoll, whose waiter on
	 * the socket costs a wake-up call per reply sent (sock_wfree), and no
	 * epoll_wait per batch. But a query to forward must then go to the event
	 * thread, and when both threads share a CPU each datagram that arrives
	 * while the event thread forwards preempts it: some 35% more CPU per
	 * forwarded query, pinned to one CPU (tests/bench/README.md, the UDP
	 * loop). So with recursion the event thread serves its UDP sockets
	 * itself, taking a busy socket out of the epoll set while it has queries
	 * (udp.c, worker_main): within 2% of the thread's cost per
	 * authoritative query, and one thread for hits, misses and upstreams. A
	 * reload that turns recursion on or off changes this after a restart
	 * only (forwarding works either way).
	 */
	s->udp_threads = !config->recursion;
	s->workers = calloc(s->nworkers, sizeof(*s->workers));
	/* One cache for all workers, sharded so that they do not wait on each other. */
	s->cache = cache_new((size_t)config->cache_size);
	if (s->workers == NULL || s->cache == NULL)
		goto oom;
	for (size_t a = 0; a < config->nlisten; a++)
		if (probe_free(&config->listen[a], SOCK_DGRAM, err, errlen) < 0 ||
		    probe_free(&config->listen[a], SOCK_STREAM, err, errlen) < 0)
			goto fail;
	for (unsigned i = 0; i < s->nworkers; i++) {
		struct worker *w = &s->workers[i];
		w->id = i;
		w->mail_fd = -1;
		w->max_conns = config->tcp_max_connections;
		w->idle_timeout = config->tcp_idle_timeout;
		w->base = event_base_new();
		w->tcp_buf = malloc(TCP_BUF_SIZE);
		w->udp = calloc(s->nsockets, sizeof(*w->udp));
		w->tcp = calloc(s->nsockets, sizeof(*w->tcp));
		w->cache = s->cache;
		w->forwarder = w->base != NULL ? forwarder_new(w->base, w->cache) : NULL;
		w->now_ms = worker_clock();
		if (w->base != NULL && worker_mail_init(w, s->workers, s->nworkers) < 0)
			goto oom;
		if (w->base == NULL || w->tcp_buf == NULL || w->udp == NULL || w->tcp == NULL ||
		    w->cache == NULL || w->forwarder == NULL)
			goto oom;
		for (size_t a = 0; a < s->nsockets; a++)
			w->udp[a].fd = w->tcp[a].fd = -1;
		w->nsockets = s->nsockets;
		for (size_t a = 0; a < s->nsockets; a++) {
			struct udp_socket *u = &w->udp[a];
			struct tcp_listener *t = &w->tcp[a];
			u->worker = w;
			u->batch = calloc(1, sizeof(*u->batch));
			if (u->batch == NULL)
				goto oom;
			udp_batch_init(u->batch);
			u->fd = udp_socket_open(&config->listen[a], err, errlen);
			if (u->fd < 0)
				goto fail;
			t->fd = tcp_socket_open(&config->listen[a], err, errlen);
			if (t->fd < 0)
				goto fail;
			t->worker = w;
			event_assign(&t->ev, w->base, t->fd, EV_READ | EV_PERSIST, tcp_on_accept,
				     t);
			event_add(&t->ev, NULL);
			if (!s->udp_threads) {
				event_assign(&u->ev, w->base, u->fd, EV_READ | EV_PERSIST,
					     udp_on_readable, u);
				event_add(&u->ev, NULL);
			}
		}
	}
	return s;
oom:
	snprintf(err, errlen, "server: out of memory");
fail:
	server_free(s);
	return NULL;
}

/* Whether the event loop should run between two rounds of busy UDP sockets. */
static bool loop_due(struct worker *w)
{
	return forwarder_pending(w->forwarder) > 0 ||
	       __atomic_load_n(&w->mail_posted, __ATOMIC_ACQUIRE) ||
	       worker_clock() - w->loop_ms >= 1;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	rcu_register_thread();
	worker_set_self(w);
	/*
	 * The event loop, with the busy UDP sockets (udp.c) received from
	 * between its rounds. After a round that found queries the loop runs
	 * without waiting when something may be ready: an upstream reply
	 * (queries in flight), mail, or else about once a millisecond for TCP,
	 * timers and the UDP sockets that are not busy; an epoll_wait per batch
	 * would cost as much as the batch's own receive. Once every socket is
	 * dry and back in the epoll set, it sleeps.
	 */
	while (!__atomic_load_n(&w->stopping, __ATOMIC_ACQUIRE)) {
		int flags = EVLOOP_ONCE;
		if (w->npolled > 0 && udp_poll(w)) {
			if (!loop_due(w))
				continue;
			flags = EVLOOP_NONBLOCK;
		}
		if (event_base_loop(w->base, flags) < 0 || event_base_got_break(w->base))
			break;
		w->loop_ms = worker_clock();
	}
	tcp_close_all(w);
	rcu_unregister_thread();
	return NULL;
}

/* Starts the event thread of w and, if UDP has threads, the thread of each UDP socket. */
static int worker_start(struct worker *w, bool udp_threads, char *err, size_t errlen)
{
	int e = pthread_create(&w->thread, NULL, worker_main, w);

	if (e != 0) {
		snprintf(err, errlen, "worker %u: %s", w->id, strerror(e));
		return -1;
	}
	w->running = true;
	for (size_t a = 0; udp_threads && a < w->nsockets; a++) {
		e = pthread_create(&w->udp[a].thread, NULL, udp_serve, &w->udp[a]);
		if (e != 0) {
			snprintf(err, errlen, "worker %u: udp thread: %s", w->id, strerror(e));
			return -1;
		}
		w->udp[a].running = true;
	}
	return 0;
}

int server_start(struct server *s, char *err, size_t errlen)
{
	sigset_t all, old;
	int rc = 0;

	/* Signals go to the main thread only. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 0; i < s->nworkers && rc == 0; i++)
		rc = worker_start(&s->workers[i], s->udp_threads, err, errlen);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	/* On failure server_free stops the threads that did start. */
	s->started = true;
	return rc;
}

/* Stops and joins every thread that was started. */
static void server_stop(struct server *s)
{
	for (unsigned i = 0; i < s->nworkers; i++) {
		struct worker *w = &s->workers[i];
		__atomic_store_n(&w->stopping, true, __ATOMIC_RELEASE);
		if (w->running)
			worker_wake(w);
		for (size_t a = 0; a < w->nsockets; a++)
			if (w->udp[a].running)
				udp_stop(&w->udp[a]);
	}
	for (unsigned i = 0; i < s->nworkers; i++) {
		struct worker *w = &s->workers[i];
		for (size_t a = 0; a < w->nsockets; a++)
			if (w->udp[a].running)
				pthread_join(w->udp[a].thread, NULL);
		if (w->running)
			pthread_join(w->thread, NULL);
		w->running = false;
	}
}

void server_free(struct server *s)
{
	if (s == NULL)
		return;
	if (s->started)
		server_stop(s);
	/* Forwarders first: their pending queries post releases to other workers' mailboxes. */
	for (unsigned i = 0; s->workers != NULL && i < s->nworkers; i++) {
		forwarder_free(s->workers[i].forwarder);
		s->workers[i].forwarder = NULL;
	}
	for (unsigned i = 0; s->workers != NULL && i < s->nworkers; i++) {
		struct worker *w = &s->workers[i];
		for (size_t a = 0; a < w->nsockets; a++) {
			if (w->tcp[a].worker != NULL)
				event_del(&w->tcp[a].ev);
			if (!s->udp_threads && w->tcp[a].worker != NULL)
				event_del(&w->udp[a].ev);
			if (w->udp[a].fd >= 0)
				close(w->udp[a].fd);
			if (w->tcp[a].fd >= 0)
				close(w->tcp[a].fd);
			free(w->udp[a].batch);
		}
		if (w->all != NULL)
			worker_mail_free(w);
		/* A worker whose event thread ran closed its connections on the way out. */
		tcp_close_all(w);
		free(w->udp);
		free(w->tcp);
		free(w->tcp_buf);
		if (w->base != NULL)
			event_base_free(w->base);
	}
	free(s->workers);
	cache_free(s->cache);
	free(s);
	view_free(rcu_xchg_pointer(&current_view, NULL));
}

void server_log_stats(const struct server *s)
{
	struct query_stats q;
	struct forward_stats f, all;
	struct cache_stats c;

	server_stats(s, &q);
	memset(&all, 0, sizeof(all));
	for (unsigned i = 0; i < s->nworkers; i++) {
		forwarder_get_stats(s->workers[i].forwarder, &f);
		all.forwarded += f.forwarded;
		all.coalesced += f.coalesced;
		all.upstream_sent += f.upstream_sent;
		all.upstream_tcp += f.upstream_tcp;
		all.timeouts += f.timeouts;
		all.spoofed += f.spoofed;
		all.servfail += f.servfail;
		all.stale_answers += f.stale_answers;
		all.over_limit += f.over_limit;
		all.prefetches += f.prefetches;
		all.peak_pps += f.peak_pps; /* per worker peaks, summed: an upper bound */
	}
	cache_get_stats(s->cache, &c);
	log_info("stats: queries %llu, dropped %llu, formerr %llu, refused %llu, nxdomain %llu, "
		 "truncated %llu, cache hits %llu",
		 (unsigned long long)q.queries, (unsigned long long)q.dropped,
		 (unsigned long long)q.formerr, (unsigned long long)q.refused,
		 (unsigned long long)q.nxdomain, (unsigned long long)q.truncated,
		 (unsigned long long)q.cache_hits);
	log_info("stats: forwarded %llu, coalesced %llu, upstream packets %llu (tcp %llu, peak "
		 "%llu/s), timeouts %llu, spoofed %llu, servfail %llu, stale %llu, over limit "
		 "%llu, prefetches %llu",
		 (unsigned long long)all.forwarded, (unsigned long long)all.coalesced,
		 (unsigned long long)all.upstream_sent, (unsigned long long)all.upstream_tcp,
		 (unsigned long long)all.peak_pps, (unsigned long long)all.timeouts,
		 (unsigned long long)all.spoofed, (unsigned long long)all.servfail,
		 (unsigned long long)all.stale_answers, (unsigned long long)all.over_limit,
		 (unsigned long long)all.prefetches);
	log_info("stats: cache entries %zu, bytes %zu, hits %llu, misses %llu, stale hits %llu, "
		 "inserts %llu, evictions %llu, uncachable %llu",
		 c.entries, c.bytes, (unsigned long long)q.cache_hits,
		 (unsigned long long)q.cache_misses, (unsigned long long)all.stale_answers,
		 (unsigned long long)c.inserts, (unsigned long long)c.evictions,
		 (unsigned long long)c.uncachable);
}

static void stats_add(struct query_stats *out, const struct query_stats *st)
{
	out->queries += st->queries;
	out->dropped += st->dropped;
	out->formerr += st->formerr;
	out->refused += st->refused;
	out->nxdomain += st->nxdomain;
	out->truncated += st->truncated;
	out->cache_hits += st->cache_hits;
	out->cache_misses += st->cache_misses;
}

void server_stats(const struct server *s, struct query_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < s->nworkers; i++) {
		const struct worker *w = &s->workers[i];
		stats_add(out, &w->stats);
		for (size_t a = 0; a < w->nsockets; a++)
			stats_add(out, &w->udp[a].stats);
	}
}
