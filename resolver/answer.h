/*
 * answer: what goes into an authoritative answer from one zone.
 *
 * answer_zone walks the zone from its apex towards the query name and builds
 * the answer, authority and additional sections in that order: exact match,
 * CNAME chains (RFC 1034 4.3.2), wildcards (RFC 4592), referrals at zone
 * cuts, DNAME (RFC 6672), NXDOMAIN and NODATA with the SOA (RFC 2308), and
 * minimal ANY (RFC 8482). Encoding, compression and truncation belong to the
 * packet writer.
 */
#ifndef RESOLVER_ANSWER_H
#define RESOLVER_ANSWER_H

#include <stdbool.h>
#include <sys/socket.h>

#include "resolver/packet.h"
#include "zones/zonedb.h"

struct answer {
	unsigned rcode;
	uint16_t flags; /* AA */
};

/*
 * Builds the answer for q from the zone in entry into w (fresh from
 * packet_writer_init): answer_ready when it can, else answer_walk. zones (may
 * be NULL) is every zone served: a CNAME into another of them (or into one
 * nested below entry's) ends the answer there, unless chase is set (recursion
 * offered and desired) and the client passes that zone's allow list, in which
 * case the chain goes on in that zone, as a resolver would follow it.
 */
void answer_zone(const struct zonedb_entry *entry, const struct packet_query *q,
		 const struct sockaddr *src, bool tcp, const struct zonedb *zones, bool chase,
		 struct packet_writer *w, struct answer *out);

/*
 * The common positive answer without a walk: the query name is a node of the
 * zone answered from itself, and the answer is one rendered at load
 * (zone_ready) or the plain RRset of the type (zone_type_plain), possibly
 * after the node's CNAME. True with the answer in w; false, with w as it
 * was, for every other case (NXDOMAIN, NODATA, referrals, wildcards, ANY,
 * per-client or weighted records, an answer over the budget).
 */
bool answer_ready(const struct zonedb_entry *entry, const struct packet_query *q, bool chase,
		  struct packet_writer *w, struct answer *out);

/* The answer as RFC 1034 4.3.2 finds it, walking from the apex: every case. */
void answer_walk(const struct zonedb_entry *entry, const struct packet_query *q,
		 const struct sockaddr *src, bool tcp, const struct zonedb *zones, bool chase,
		 struct packet_writer *w, struct answer *out);

#endif
