/*
 * netaddr: socket addresses and CIDR lists as written in the INI file.
 *
 * "10.0.0.2", "10.0.0.2:5353", "[fd00::2]", "[fd00::2]:5353" and "::1" parse to
 * a sockaddr. A CIDR list ("10.0.0.0/8, ::1/128, 192.0.2.1") is held in a
 * struct acl, matched against a client's source address on the query path
 * without allocating. IPv4-mapped IPv6 sources match IPv4 entries.
 */
#ifndef CONF_NETADDR_H
#define CONF_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct netaddr {
	struct sockaddr_storage ss;
	socklen_t len;
};

struct acl_entry {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t prefix; /* 0..32 or 0..128 */
	uint8_t addr[16];
};

struct acl {
	size_t count;
	struct acl_entry entries[];
};

/* Parses "host[:port]" / "[v6]:port"; port defaults to defport. 0 or -1. */
int netaddr_parse(const char *text, uint16_t defport, struct netaddr *out);

/* Writes "1.2.3.4:53" or "[::1]:53" into buf. */
void netaddr_format(const struct netaddr *addr, char *buf, size_t len);

/*
 * The next item of a comma or whitespace separated list starting at p, copied
 * into item (truncated to len). Returns where to go on from, or NULL at the end.
 */
const char *netaddr_next_item(const char *p, char *item, size_t len);

/* Parses one "addr[/prefix]" into entry. 0 or -1 (bad address or prefix). */
int acl_entry_parse(const char *text, struct acl_entry *entry);

/*
 * Parses a comma or whitespace separated CIDR list into a new acl (caller frees
 * with free()). Returns NULL and writes the offending item into bad when an
 * item does not parse. An empty list is valid and matches nothing.
 */
struct acl *acl_parse(const char *text, char *bad, size_t badlen);

/* Appends the entries of src to *dst (reallocated). 0 or -1 (out of memory). */
int acl_extend(struct acl **dst, const struct acl *src);

/* True when addr (AF_INET or AF_INET6) lies in one of the acl's prefixes. */
bool acl_match(const struct acl *acl, const struct sockaddr *addr);

#endif
