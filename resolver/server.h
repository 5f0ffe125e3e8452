/*
 * server: the listening sockets and the worker threads that answer on them.
 *
 * server_new binds, for each of N workers, its own SO_REUSEPORT UDP and TCP
 * socket on every listen address (so the kernel spreads clients over the
 * workers); server_start runs each worker's libevent loop in its own thread,
 * and, when the server does not forward (recursion = no), a thread per UDP
 * socket that answers it in recvmmsg/sendmmsg batches outside that loop.
 * Workers read the published view under RCU and never block on the main
 * thread: server_publish swaps in a new view and frees the old one once no
 * worker can see it.
 */
#ifndef RESOLVER_SERVER_H
#define RESOLVER_SERVER_H

#include <stddef.h>

#include "resolver/query.h"

struct server;

/* Binds every socket for config (listen, workers, tcp limits). NULL with err. */
struct server *server_new(const struct config *config, char *err, size_t errlen);

/* Starts the worker threads. 0 or -1 (err set). */
int server_start(struct server *s, char *err, size_t errlen);

/*
 * Makes view the one every worker reads (ownership passes to the server) and
 * frees the previous view after an RCU grace period. Call from one thread.
 */
void server_publish(struct view *view);

/* The view in force, for the thread that publishes (not for workers). */
struct view *server_current_view(void);

/* Frees a view and what it owns. */
void view_free(struct view *view);

/* Stops and joins the workers, closes the sockets, frees the current view. */
void server_free(struct server *s);

/* Sums the per-worker counters (approximate while workers run). */
void server_stats(const struct server *s, struct query_stats *out);

/* Logs the counters of queries, forwarding and the cache (on SIGUSR1). */
void server_log_stats(const struct server *s);

#endif
