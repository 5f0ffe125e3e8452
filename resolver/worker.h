/*
 * worker: the threads, sockets and buffers of one worker (private to
 * server.c, udp.c, tcp.c and worker.c). A worker has an event thread (its
 * libevent loop: TCP, the mailbox, forwarding to upstreams). Its UDP sockets
 * are served one of two ways, chosen once at start (server.c): by the event
 * thread, which takes a busy socket out of the epoll set and receives from it
 * between rounds of the loop until it is dry (udp_poll), or each by a UDP
 * thread of its own that sleeps in recvmmsg and answers in batches like the
 * benchmark's reflector. A struct udp_socket is touched by the thread that
 * serves it only; the rest of struct worker by the event thread only, except
 * the mailbox (under mail_lock, with mail_posted) and the stop flag (atomic).
 */
#ifndef RESOLVER_WORKER_H
#define RESOLVER_WORKER_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "resolver/packet.h"
#include "resolver/query.h"

#define UDP_BATCH    32
#define UDP_BUF_SIZE 4096 /* largest UDP reply we send is edns_udp_size <= 4096 */
#define TCP_BUF_SIZE (65535 + 2)

struct worker;

struct udp_batch;
struct mail;

/* Mail collected during one UDP batch, posted at its end (worker_post_batch). */
struct mail_batch {
	struct mail *head, *tail;
};

struct udp_socket {
	int fd;
	struct worker *worker;
	struct event ev;  /* served by the event loop: readable */
	pthread_t thread; /* served by a thread of its own (udp_serve) */
	bool running;     /* that thread was started (and is to be joined) */
	bool polled;      /* busy: out of the epoll set, received from by udp_poll */
	struct udp_batch *batch;
	struct mail_batch outbox; /* queries to forward, handed over once per batch */
	struct query_stats stats; /* of the queries answered on this socket */
};

struct tcp_listener {
	int fd;
	struct event ev;
	struct worker *worker;
};

struct tcp_conn;
struct forward_client;
struct forward_rule;

/* Receive slots for one recvmmsg/sendmmsg round, allocated once per UDP socket. */
struct udp_batch {
	struct mmsghdr in[UDP_BATCH];
	struct mmsghdr out[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct sockaddr_storage addr[UDP_BATCH];
	uint8_t ctrl[UDP_BATCH][CMSG_SPACE(sizeof(struct in6_pktinfo)) +
				CMSG_SPACE(sizeof(struct in_pktinfo))];
	uint8_t buf[UDP_BATCH][UDP_BUF_SIZE];
	struct query_ctx ctx[UDP_BATCH]; /* each query, parsed ahead of its answer */
};

struct worker {
	unsigned id;
	pthread_t thread; /* the event thread */
	bool running;     /* the event thread was started */
	struct event_base *base;
	struct udp_socket *udp;
	struct tcp_listener *tcp;
	size_t nsockets;
	unsigned npolled; /* UDP sockets out of the epoll set (udp_poll) */
	uint8_t *tcp_buf;
	/* TCP connections, least recently active first. */
	struct tcp_conn *conn_head, *conn_tail;
	unsigned nconns;
	unsigned max_conns;
	unsigned idle_timeout;
	struct query_stats stats; /* TCP queries; UDP ones count in each struct udp_socket */
	struct cache *cache;
	struct forwarder *forwarder;
	uint64_t now_ms; /* monotonic, read once per event (event thread) */
	/* Other workers hand this one work through its mailbox. */
	struct worker *all;
	unsigned nworkers;
	pthread_mutex_t mail_lock;
	struct mail *mail_head, *mail_tail;
	int mail_fd;
	struct event mail_ev;
	bool mail_posted; /* atomic: set with each post, cleared by the owner as it reads */
	uint64_t loop_ms; /* when the event loop last ran (event thread) */
	bool stopping;    /* set by the main thread, then worker_wake and udp_stop */
};

/* Wakes w's event loop from any thread (its mailbox, or its stop flag). */
void worker_wake(struct worker *w);

/* Sets up / tears down the mailbox of w (all: every worker, nworkers of them). */
int worker_mail_init(struct worker *w, struct worker *all, unsigned nworkers);
void worker_mail_free(struct worker *w);

/* The worker whose thread is running, or NULL on the main thread. */
struct worker *worker_self(void);
void worker_set_self(struct worker *w);

/*
 * Sends a query upstream. Each question belongs to one worker (by hash), so
 * that identical questions from clients of any worker go upstream once; a
 * query of another worker's question, or one from a UDP thread, is posted to
 * that worker's event thread: at once, or, with a batch (UDP threads), when
 * the batch is posted. A TCP client's connection is held until the answer
 * has been sent. False when it could not be handed over (out of memory): the
 * query is dropped and the client will ask again.
 */
bool worker_forward(struct worker *w, const struct forward_rule *rule, const struct packet_query *q,
		    const uint8_t *question, const struct forward_client *client,
		    struct mail_batch *batch);

/*
 * Posts the mail of a batch to the workers it is for, with one lock and at
 * most one wake-up per worker; the batch is empty afterwards.
 */
void worker_post_batch(struct mail_batch *batch);

/* Sends a reply to a forwarded query's client, from whichever worker has it. */
void worker_client_reply(const struct forward_client *c, const uint8_t *msg, size_t len);

/* Lets go of the client of a forwarded query (drops the hold on its TCP connection). */
void worker_client_release(const struct forward_client *c);

/* Monotonic milliseconds. */
uint64_t worker_clock(void);

/* A TCP connection outlives its socket while forwarded queries hold it. */
void tcp_conn_hold(struct tcp_conn *c);
void tcp_conn_release(struct tcp_conn *c);
bool tcp_conn_closed(const struct tcp_conn *c);
/* Sends one length-prefixed reply on the connection (dropped if it is gone). */
void tcp_conn_reply(struct tcp_conn *c, const uint8_t *msg, size_t len);

/* Sets up the receive slots once; each round restores what it changed. */
void udp_batch_init(struct udp_batch *b);
bool udp_addr_is_wildcard(const struct netaddr *addr);

/*
 * Creates a bound SO_REUSEPORT socket. fd, or -1 with err. The UDP socket
 * blocks (for udp_serve); every other receive and send passes MSG_DONTWAIT.
 */
int udp_socket_open(const struct netaddr *addr, char *err, size_t errlen);
int tcp_socket_open(const struct netaddr *addr, char *err, size_t errlen);

/*
 * The thread of a UDP socket (arg: its struct udp_socket): receives, answers
 * and replies in batches until the worker is stopping. udp_stop wakes it for
 * that, from any thread, after the stop flag is set.
 */
void *udp_serve(void *arg);
void udp_stop(struct udp_socket *sock);

/*
 * One receive from each busy UDP socket of w (event thread), answered; a
 * socket found dry goes back to the epoll set. True when any had queries.
 */
bool udp_poll(struct worker *w);

/* libevent callbacks: the socket is readable / has connections to accept. */
void udp_on_readable(evutil_socket_t fd, short what, void *arg);
void tcp_on_accept(evutil_socket_t fd, short what, void *arg);

/* Closes every TCP connection of the worker. */
void tcp_close_all(struct worker *w);

/* The view for this batch; call between rcu_read_lock and rcu_read_unlock. */
const struct view *worker_view(void);

#endif
