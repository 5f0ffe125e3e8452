/*
 * worker: one thread's event loop, sockets and buffers (private to server.c,
 * udp.c and tcp.c). Everything here is touched by its own thread only.
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

#include "resolver/query.h"

#define UDP_BATCH    32
#define UDP_BUF_SIZE 4096 /* largest UDP reply we send is edns_udp_size <= 4096 */
#define TCP_BUF_SIZE (65535 + 2)

struct worker;

struct udp_socket {
	int fd;
	struct event ev;
	struct worker *worker;
};

struct tcp_listener {
	int fd;
	struct event ev;
	struct worker *worker;
};

struct tcp_conn;

/* Receive slots for one recvmmsg/sendmmsg round, allocated once per worker. */
struct udp_batch {
	struct mmsghdr in[UDP_BATCH];
	struct mmsghdr out[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct sockaddr_storage addr[UDP_BATCH];
	uint8_t ctrl[UDP_BATCH][CMSG_SPACE(sizeof(struct in6_pktinfo)) +
				CMSG_SPACE(sizeof(struct in_pktinfo))];
	uint8_t buf[UDP_BATCH][UDP_BUF_SIZE];
};

struct worker {
	unsigned id;
	pthread_t thread;
	struct event_base *base;
	struct udp_socket *udp;
	struct tcp_listener *tcp;
	size_t nsockets;
	struct udp_batch *batch;
	uint8_t *tcp_buf;
	/* TCP connections, least recently active first. */
	struct tcp_conn *conn_head, *conn_tail;
	unsigned nconns;
	unsigned max_conns;
	unsigned idle_timeout;
	struct query_stats stats;
};

/* Creates a bound, non-blocking SO_REUSEPORT socket. fd, or -1 with err. */
int udp_socket_open(const struct netaddr *addr, char *err, size_t errlen);
int tcp_socket_open(const struct netaddr *addr, char *err, size_t errlen);

/* libevent callbacks: the socket is readable / has connections to accept. */
void udp_on_readable(evutil_socket_t fd, short what, void *arg);
void tcp_on_accept(evutil_socket_t fd, short what, void *arg);

/* Closes every TCP connection of the worker. */
void tcp_close_all(struct worker *w);

/* The view for this batch; call between rcu_read_lock and rcu_read_unlock. */
const struct view *worker_view(void);

#endif
