/*
 * network: the network INI of vpcdns-provision, parsed with inih into one
 * checked description of a stack (environments, tiers, subnets, peering,
 * vpcdnsd addresses, lab hosts) that every backend and the policy generator
 * read. Errors name file:line; network_load reports every error it finds.
 *
 *   [stack]        name, region, azs, domain, internet (lab), upstream (lab)
 *   [tier:NAME]    internet = igw | nat | none; sees = tiers whose zone it may query
 *   [env:NAME]     cidr, zone, one key per tier (its subnets, one per AZ),
 *                  dns (vpcdnsd addresses), peers, sees (environments)
 *   [host:NAME]    env, tier, address (lab hosts; subnet found from address)
 *
 * Without [tier:] sections the tiers are the reference network's: public
 * (igw, sees public), private (nat, sees all three), persistence (none, sees
 * private and persistence). Without azs: REGIONa and REGIONb.
 * See contrib/provision/examples/reference.ini for the reference network.
 */
#ifndef PROVISION_NETWORK_H
#define PROVISION_NETWORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_MAX_AZS   6
#define NET_MAX_TIERS 8
#define NET_MAX_ENVS  16
#define NET_MAX_DNS   4 /* AWS DHCP options take at most 4 name servers */
#define NET_NAME_LEN  64
#define NET_ZONE_LEN  254
#define NET_CIDR_TEXT 44 /* "255.255.255.255/32" with room to spare */

enum net_internet {
	NET_INTERNET_NONE, /* no route to the internet (persistence) */
	NET_INTERNET_NAT,  /* outbound only, through a NAT gateway (private) */
	NET_INTERNET_IGW,  /* through the internet gateway (public) */
};

/* An IPv4 prefix; addr in host byte order. */
struct net_cidr {
	uint32_t addr;
	uint8_t prefix;
};

struct net_tier {
	char name[NET_NAME_LEN];
	int line;
	enum net_internet internet;
	uint32_t sees; /* bit i: this tier may query tier i's zone */
};

struct net_subnet {
	char name[2 * NET_NAME_LEN + 8]; /* "ENV-TIER-AZINDEX", e.g. "production-private-1" */
	size_t env, tier, az;            /* indexes into network's arrays */
	struct net_cidr cidr;
};

struct net_env {
	char name[NET_NAME_LEN];
	int line;
	struct net_cidr cidr;
	char zone[NET_ZONE_LEN];   /* lower case, no trailing dot */
	uint32_t dns[NET_MAX_DNS]; /* vpcdnsd addresses its DHCP options hand out */
	size_t ndns;
	uint32_t peers; /* bit j: a peering connection from this env to env j */
	uint32_t sees;  /* bit j: this env's tiers may query env j's zones */
};

struct net_host {
	char name[NET_NAME_LEN];
	int line;
	size_t env, tier, subnet;
	uint32_t address;
	bool vpcdnsd; /* a vpcdnsd host (from an env's dns list), not a [host:] */
};

struct network {
	char *path;
	char stack[NET_NAME_LEN]; /* the vpcdns:stack tag value */
	char region[NET_NAME_LEN];
	char azs[NET_MAX_AZS][NET_NAME_LEN];
	size_t nazs;
	struct net_cidr internet;         /* lab: the "internet" segment */
	uint32_t upstream;                /* lab: the upstream resolver's address in it */
	char upstream_zone[NET_ZONE_LEN]; /* lab: a public zone the upstream serves */
	struct net_tier tiers[NET_MAX_TIERS];
	size_t ntiers;
	struct net_env envs[NET_MAX_ENVS];
	size_t nenvs;
	struct net_subnet *subnets; /* grouped by env, then tier, then AZ */
	size_t nsubnets;
	struct net_host *hosts; /* [host:] sections, then one per vpcdnsd address */
	size_t nhosts;
};

/*
 * Loads and checks path. 0 and a new network in *out (free with
 * network_free), or -1 with one "file:line: message" line per problem in err.
 */
int network_load(const char *path, struct network **out, char *err, size_t errlen);

void network_free(struct network *net);

/* Index of the tier or environment called name, or -1. */
int network_tier(const struct network *net, const char *name);
int network_env(const struct network *net, const char *name);

/* True when env a and env b are joined by peering (either direction). */
bool network_peered(const struct network *net, size_t a, size_t b);

/* The subnet of env holding addr, or -1. */
int network_subnet_of(const struct network *net, size_t env, uint32_t addr);

/* "10.1.0.0/16" into buf; "10.1.0.53" for net_addr_text. */
void net_cidr_text(const struct net_cidr *c, char *buf, size_t len);
void net_addr_text(uint32_t addr, char *buf, size_t len);

/* True when inner lies inside outer. */
bool net_cidr_within(const struct net_cidr *inner, const struct net_cidr *outer);
bool net_cidr_contains(const struct net_cidr *c, uint32_t addr);

#endif
