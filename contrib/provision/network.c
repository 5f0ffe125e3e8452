/*
 * network: the network INI of vpcdns-provision (see network.h).
 *
 * Keys are collected as they are read (sections may come in any order: an
 * environment names tiers declared further down), then checked as a whole:
 * CIDRs inside their VPC and apart from each other, one subnet per AZ,
 * vpcdnsd addresses inside a subnet the environment can reach, names that
 * exist.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "conf/ini.h"
#include "conf/netaddr.h"
#include "contrib/provision/network.h"

enum section { SEC_NONE, SEC_STACK, SEC_TIER, SEC_ENV, SEC_HOST, SEC_BAD };

/* A key = value kept until every section is known. */
struct raw_key {
	enum section section;
	size_t index; /* tier, env or host */
	char key[NET_NAME_LEN];
	char *value;
	int line;
};

struct parse {
	struct network *net;
	struct ini_errors errs;
	enum section section;
	size_t index;
	struct raw_key *keys;
	size_t nkeys;
	size_t nhosts; /* [host:] sections */
	int stack_line;
};

static bool valid_name(const char *s)
{
	if (*s == '\0' || strlen(s) >= NET_NAME_LEN - 16)
		return false;
	for (; *s != '\0'; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '-')
			return false;
	return true;
}

static int begin(struct parse *ps, int line, const char *section)
{
	struct network *net = ps->net;
	const char *colon = strchr(section, ':');
	const char *name = colon != NULL ? colon + 1 : "";

	ps->section = SEC_BAD;
	if (strcmp(section, "stack") == 0) {
		if (ps->stack_line != 0)
			ini_error(&ps->errs, line, "[stack] is already at line %d", ps->stack_line);
		ps->stack_line = line;
		ps->section = SEC_STACK;
		return 0;
	}
	if (colon == NULL) {
		ini_error(&ps->errs, line,
			  "unknown section [%s] (expected [stack], [tier:NAME], [env:NAME] or "
			  "[host:NAME])",
			  section);
		return -1;
	}
	if (!valid_name(name)) {
		ini_error(&ps->errs, line,
			  "'%s' is not a valid name (lower-case letters, digits and '-', at most "
			  "%d characters)",
			  name, NET_NAME_LEN - 17);
		return -1;
	}
	if (strncmp(section, "tier:", 5) == 0) {
		if (network_tier(net, name) >= 0 || net->ntiers == NET_MAX_TIERS) {
			ini_error(&ps->errs, line, "tier %s: declared twice or too many tiers",
				  name);
			return -1;
		}
		ps->index = net->ntiers++;
		snprintf(net->tiers[ps->index].name, NET_NAME_LEN, "%s", name);
		net->tiers[ps->index].line = line;
		ps->section = SEC_TIER;
	} else if (strncmp(section, "env:", 4) == 0) {
		if (network_env(net, name) >= 0 || net->nenvs == NET_MAX_ENVS) {
			ini_error(&ps->errs, line,
				  "env %s: declared twice or too many environments", name);
			return -1;
		}
		ps->index = net->nenvs++;
		snprintf(net->envs[ps->index].name, NET_NAME_LEN, "%s", name);
		net->envs[ps->index].line = line;
		ps->section = SEC_ENV;
	} else if (strncmp(section, "host:", 5) == 0) {
		struct net_host *h;
		for (size_t i = 0; i < ps->nhosts; i++)
			if (strcmp(net->hosts[i].name, name) == 0) {
				ini_error(&ps->errs, line, "host %s is already at line %d", name,
					  net->hosts[i].line);
				return -1;
			}
		h = realloc(net->hosts, (ps->nhosts + 1) * sizeof(*h));
		if (h == NULL)
			return -1;
		net->hosts = h;
		ps->index = ps->nhosts++;
		net->nhosts = ps->nhosts;
		memset(&h[ps->index], 0, sizeof(*h));
		snprintf(h[ps->index].name, NET_NAME_LEN, "%s", name);
		h[ps->index].line = line;
		ps->section = SEC_HOST;
	} else {
		ini_error(&ps->errs, line, "unknown section [%s]", section);
	}
	return 0;
}

static void on_line(void *user, int line, const char *section, const char *key, const char *value,
		    bool continued)
{
	struct parse *ps = user;
	struct raw_key *k;

	if (key == NULL) {
		if (section == NULL)
			ps->section = SEC_BAD; /* a malformed header, reported */
		else
			begin(ps, line, section);
		return;
	}
	if (ps->section == SEC_BAD)
		return;
	if (continued && ps->nkeys > 0) {
		/* An indented line adds to the previous key's list. */
		k = &ps->keys[ps->nkeys - 1];
		size_t old = strlen(k->value), add = strlen(value);
		char *v = realloc(k->value, old + add + 3);
		if (v == NULL)
			return;
		snprintf(v + old, add + 3, ", %s", value);
		k->value = v;
		return;
	}
	for (size_t i = 0; i < ps->nkeys; i++) {
		k = &ps->keys[i];
		if (k->section == ps->section && k->index == ps->index &&
		    strcmp(k->key, key) == 0) {
			ini_error(&ps->errs, line, "%s is already set at line %d", key, k->line);
			return;
		}
	}
	k = realloc(ps->keys, (ps->nkeys + 1) * sizeof(*k));
	if (k == NULL)
		return;
	ps->keys = k;
	k = &ps->keys[ps->nkeys++];
	k->section = ps->section;
	k->index = ps->index;
	snprintf(k->key, sizeof(k->key), "%s", key);
	k->value = strdup(value);
	k->line = line;
}

/* ---- values ---- */

static int parse_addr(const char *text, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, text, &a) != 1)
		return -1;
	*out = ntohl(a.s_addr);
	return 0;
}

static int parse_cidr(const char *text, struct net_cidr *out)
{
	char buf[NET_CIDR_TEXT], *slash, *end;
	long prefix;

	if (strlen(text) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", text);
	slash = strchr(buf, '/');
	if (slash == NULL)
		return -1;
	*slash = '\0';
	prefix = strtol(slash + 1, &end, 10);
	if (*end != '\0' || end == slash + 1 || prefix < 0 || prefix > 32)
		return -1;
	if (parse_addr(buf, &out->addr) < 0)
		return -1;
	out->prefix = (uint8_t)prefix;
	/* "10.1.0.1/16" is a typo for a network, not a network. */
	if (prefix < 32 && (out->addr & (0xffffffffu >> prefix)) != 0)
		return -1;
	return 0;
}

/* A list of names, each resolved with lookup into a bit mask. */
static uint32_t parse_names(struct parse *ps, const struct raw_key *k, const char *what,
			    int (*lookup)(const struct network *, const char *))
{
	char item[NET_NAME_LEN * 2];
	const char *p = k->value;
	uint32_t mask = 0;

	while ((p = netaddr_next_item(p, item, sizeof(item))) != NULL) {
		int i = lookup(ps->net, item);
		if (i < 0)
			ini_error(&ps->errs, k->line, "%s: no %s called '%s'", k->key, what, item);
		else
			mask |= 1u << i;
	}
	return mask;
}

/* A zone name as vpcdnsd's config takes it, but not the root. */
static int normalize_zone(char *zone)
{
	return config_normalize_name(zone) < 0 || strcmp(zone, ".") == 0 ? -1 : 0;
}

/* ---- sections ---- */

static void stack_key(struct parse *ps, const struct raw_key *k)
{
	struct network *net = ps->net;
	char item[NET_NAME_LEN];
	const char *p;

	if (strcmp(k->key, "name") == 0) {
		if (!valid_name(k->value))
			ini_error(&ps->errs, k->line,
				  "name: '%s' is not a valid stack name (lower-case letters, "
				  "digits and '-')",
				  k->value);
		snprintf(net->stack, sizeof(net->stack), "%s", k->value);
	} else if (strcmp(k->key, "region") == 0) {
		snprintf(net->region, sizeof(net->region), "%s", k->value);
	} else if (strcmp(k->key, "azs") == 0) {
		p = k->value;
		while ((p = netaddr_next_item(p, item, sizeof(item))) != NULL) {
			if (net->nazs == NET_MAX_AZS) {
				ini_error(&ps->errs, k->line, "azs: at most %d", NET_MAX_AZS);
				break;
			}
			snprintf(net->azs[net->nazs++], NET_NAME_LEN, "%s", item);
		}
	} else if (strcmp(k->key, "internet") == 0) {
		if (parse_cidr(k->value, &net->internet) < 0 || net->internet.prefix > 30)
			ini_error(&ps->errs, k->line, "internet: '%s' is not an IPv4 network",
				  k->value);
	} else if (strcmp(k->key, "upstream") == 0) {
		if (parse_addr(k->value, &net->upstream) < 0)
			ini_error(&ps->errs, k->line, "upstream: '%s' is not an IPv4 address",
				  k->value);
	} else if (strcmp(k->key, "upstream_zone") == 0) {
		snprintf(net->upstream_zone, sizeof(net->upstream_zone), "%s", k->value);
		if (normalize_zone(net->upstream_zone) < 0)
			ini_error(&ps->errs, k->line, "upstream_zone: '%s' is not a domain name",
				  k->value);
	} else {
		ini_error(&ps->errs, k->line,
			  "unknown key '%s' in [stack] (expected name, region, azs, internet, "
			  "upstream, upstream_zone)",
			  k->key);
	}
}

static void tier_key(struct parse *ps, const struct raw_key *k)
{
	struct net_tier *t = &ps->net->tiers[k->index];

	if (strcmp(k->key, "internet") == 0) {
		if (strcmp(k->value, "igw") == 0)
			t->internet = NET_INTERNET_IGW;
		else if (strcmp(k->value, "nat") == 0)
			t->internet = NET_INTERNET_NAT;
		else if (strcmp(k->value, "none") == 0)
			t->internet = NET_INTERNET_NONE;
		else
			ini_error(&ps->errs, k->line,
				  "internet: expected igw, nat or none, got '%s'", k->value);
	} else if (strcmp(k->key, "sees") == 0) {
		t->sees = parse_names(ps, k, "tier", network_tier);
	} else {
		ini_error(&ps->errs, k->line,
			  "unknown key '%s' in [tier:%s] (expected internet, sees)", k->key,
			  t->name);
	}
}

static void add_subnets(struct parse *ps, const struct raw_key *k, size_t tier)
{
	struct network *net = ps->net;
	struct net_env *e = &net->envs[k->index];
	char item[NET_CIDR_TEXT];
	const char *p = k->value;
	size_t az = 0;

	while ((p = netaddr_next_item(p, item, sizeof(item))) != NULL) {
		struct net_subnet *s;
		if (az == net->nazs) {
			ini_error(&ps->errs, k->line,
				  "%s: more subnets than availability zones (%zu)", k->key,
				  net->nazs);
			return;
		}
		s = realloc(net->subnets, (net->nsubnets + 1) * sizeof(*s));
		if (s == NULL)
			return;
		net->subnets = s;
		s = &net->subnets[net->nsubnets];
		memset(s, 0, sizeof(*s));
		if (parse_cidr(item, &s->cidr) < 0 || s->cidr.prefix < 16 || s->cidr.prefix > 28) {
			ini_error(&ps->errs, k->line, "%s: '%s' is not a subnet (/16 to /28)",
				  k->key, item);
			return;
		}
		s->env = k->index;
		s->tier = tier;
		s->az = az;
		snprintf(s->name, sizeof(s->name), "%s-%s-%zu", e->name, net->tiers[tier].name,
			 az + 1);
		net->nsubnets++;
		az++;
	}
}

static void env_key(struct parse *ps, const struct raw_key *k)
{
	struct net_env *e = &ps->net->envs[k->index];
	char item[NET_CIDR_TEXT];
	const char *p;
	int tier;

	if (strcmp(k->key, "cidr") == 0) {
		if (parse_cidr(k->value, &e->cidr) < 0 || e->cidr.prefix < 16 ||
		    e->cidr.prefix > 28)
			ini_error(&ps->errs, k->line,
				  "cidr: '%s' is not a VPC network (/16 to /28, host bits zero)",
				  k->value);
	} else if (strcmp(k->key, "zone") == 0) {
		snprintf(e->zone, sizeof(e->zone), "%s", k->value);
		if (normalize_zone(e->zone) < 0)
			ini_error(&ps->errs, k->line, "zone: '%s' is not a domain name", k->value);
	} else if (strcmp(k->key, "dns") == 0) {
		p = k->value;
		while ((p = netaddr_next_item(p, item, sizeof(item))) != NULL) {
			if (e->ndns == NET_MAX_DNS) {
				ini_error(&ps->errs, k->line,
					  "dns: at most %d addresses (DHCP options take 4)",
					  NET_MAX_DNS);
				break;
			}
			if (parse_addr(item, &e->dns[e->ndns]) < 0)
				ini_error(&ps->errs, k->line, "dns: '%s' is not an IPv4 address",
					  item);
			else
				e->ndns++;
		}
	} else if (strcmp(k->key, "peers") == 0) {
		e->peers = parse_names(ps, k, "environment", network_env);
	} else if (strcmp(k->key, "sees") == 0) {
		e->sees = parse_names(ps, k, "environment", network_env);
	} else if ((tier = network_tier(ps->net, k->key)) >= 0) {
		add_subnets(ps, k, (size_t)tier);
	} else {
		ini_error(&ps->errs, k->line,
			  "unknown key '%s' in [env:%s] (expected cidr, zone, dns, peers, sees or "
			  "a tier name)",
			  k->key, e->name);
	}
}

static void host_key(struct parse *ps, const struct raw_key *k)
{
	struct net_host *h = &ps->net->hosts[k->index];
	int i;

	if (strcmp(k->key, "env") == 0) {
		if ((i = network_env(ps->net, k->value)) < 0)
			ini_error(&ps->errs, k->line, "env: no environment called '%s'", k->value);
		else
			h->env = (size_t)i;
	} else if (strcmp(k->key, "tier") == 0) {
		if ((i = network_tier(ps->net, k->value)) < 0)
			ini_error(&ps->errs, k->line, "tier: no tier called '%s'", k->value);
		else
			h->tier = (size_t)i;
	} else if (strcmp(k->key, "address") == 0) {
		if (parse_addr(k->value, &h->address) < 0)
			ini_error(&ps->errs, k->line, "address: '%s' is not an IPv4 address",
				  k->value);
	} else {
		ini_error(&ps->errs, k->line,
			  "unknown key '%s' in [host:%s] (expected env, tier, address)", k->key,
			  h->name);
	}
}

/* ---- checks ---- */

/* The line key was set on in a section, or 0. */
static int key_line(const struct parse *ps, enum section sec, size_t index, const char *key)
{
	for (size_t i = 0; i < ps->nkeys; i++)
		if (ps->keys[i].section == sec && ps->keys[i].index == index &&
		    strcmp(ps->keys[i].key, key) == 0)
			return ps->keys[i].line;
	return 0;
}

static bool overlap(const struct net_cidr *a, const struct net_cidr *b)
{
	return net_cidr_contains(a, b->addr) || net_cidr_contains(b, a->addr);
}

/* AWS keeps the first four addresses and the last one of every subnet. */
static bool reserved(const struct net_cidr *s, uint32_t addr)
{
	uint32_t host = addr - s->addr, size = 1u << (32 - s->prefix);
	return host < 4 || host == size - 1;
}

static void check_envs(struct parse *ps)
{
	struct network *net = ps->net;

	for (size_t i = 0; i < net->nenvs; i++) {
		struct net_env *e = &net->envs[i];
		if (key_line(ps, SEC_ENV, i, "cidr") == 0)
			ini_error(&ps->errs, e->line, "[env:%s] needs cidr", e->name);
		if (key_line(ps, SEC_ENV, i, "zone") == 0)
			ini_error(&ps->errs, e->line, "[env:%s] needs zone", e->name);
		if (e->peers & (1u << i))
			ini_error(&ps->errs, key_line(ps, SEC_ENV, i, "peers"),
				  "peers: %s cannot peer with itself", e->name);
		for (size_t j = 0; j < i; j++) {
			if (overlap(&e->cidr, &net->envs[j].cidr))
				ini_error(&ps->errs, key_line(ps, SEC_ENV, i, "cidr"),
					  "cidr: overlaps env %s (vpcdnsd tells environments "
					  "apart by address)",
					  net->envs[j].name);
			if (strcmp(e->zone, net->envs[j].zone) == 0)
				ini_error(&ps->errs, key_line(ps, SEC_ENV, i, "zone"),
					  "zone: %s is also env %s's zone", e->zone,
					  net->envs[j].name);
		}
	}
	for (size_t i = 0; i < net->nsubnets; i++) {
		struct net_subnet *s = &net->subnets[i];
		const struct net_env *e = &net->envs[s->env];
		int line = key_line(ps, SEC_ENV, s->env, net->tiers[s->tier].name);
		char text[NET_CIDR_TEXT];

		net_cidr_text(&s->cidr, text, sizeof(text));
		if (!net_cidr_within(&s->cidr, &e->cidr))
			ini_error(&ps->errs, line, "%s: %s is outside the VPC's cidr",
				  net->tiers[s->tier].name, text);
		for (size_t j = 0; j < i; j++)
			if (net->subnets[j].env == s->env &&
			    overlap(&s->cidr, &net->subnets[j].cidr))
				ini_error(&ps->errs, line, "%s: %s overlaps subnet %s",
					  net->tiers[s->tier].name, text, net->subnets[j].name);
	}
}

/* The env whose subnets hold addr, among env and the envs peered with it; -1 if none. */
static int reachable_env(const struct network *net, size_t env, uint32_t addr)
{
	for (size_t j = 0; j < net->nenvs; j++)
		if ((j == env || network_peered(net, env, j)) &&
		    network_subnet_of(net, j, addr) >= 0)
			return (int)j;
	return -1;
}

static int add_host(struct network *net, const char *name, size_t env, uint32_t addr)
{
	struct net_host *h = realloc(net->hosts, (net->nhosts + 1) * sizeof(*h));
	int subnet = network_subnet_of(net, env, addr);

	if (h == NULL)
		return -1;
	net->hosts = h;
	h = &net->hosts[net->nhosts++];
	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->env = env;
	h->subnet = (size_t)subnet;
	h->tier = net->subnets[subnet].tier;
	h->address = addr;
	h->vpcdnsd = true;
	return 0;
}

/* Every dns address must sit in a subnet the env reaches; each becomes a vpcdnsd host. */
static void check_dns(struct parse *ps)
{
	struct network *net = ps->net;
	size_t declared = net->nhosts;

	for (size_t i = 0; i < net->nenvs; i++) {
		struct net_env *e = &net->envs[i];
		int line = key_line(ps, SEC_ENV, i, "dns");
		for (size_t d = 0; d < e->ndns; d++) {
			char text[INET_ADDRSTRLEN], name[NET_NAME_LEN];
			int owner = reachable_env(net, i, e->dns[d]);
			bool known = false;

			net_addr_text(e->dns[d], text, sizeof(text));
			if (owner < 0) {
				ini_error(&ps->errs, line,
					  "dns: %s is in no subnet of %s or of an environment "
					  "peered with it",
					  text, e->name);
				continue;
			}
			if (reserved(&net->subnets[network_subnet_of(net, (size_t)owner, e->dns[d])]
					  .cidr,
				     e->dns[d]))
				ini_error(&ps->errs, line,
					  "dns: %s is one of the addresses AWS reserves in its "
					  "subnet",
					  text);
			for (size_t h = 0; h < declared; h++)
				if (net->hosts[h].address == e->dns[d])
					ini_error(&ps->errs, line, "dns: %s is host %s's address",
						  text, net->hosts[h].name);
			for (size_t h = declared; h < net->nhosts; h++)
				known |= net->hosts[h].address == e->dns[d];
			if (known)
				continue;
			size_t nth = 1;
			for (size_t h = declared; h < net->nhosts; h++)
				nth += net->hosts[h].env == (size_t)owner;
			snprintf(name, sizeof(name), "dns-%s-%zu", net->envs[owner].name, nth);
			add_host(net, name, (size_t)owner, e->dns[d]);
		}
		if (e->ndns == 0 && e->line != 0)
			ini_error(&ps->errs, e->line,
				  "[env:%s] needs dns (the vpcdnsd addresses its DHCP options hand "
				  "out)",
				  e->name);
	}
}

static void check_hosts(struct parse *ps, size_t declared)
{
	struct network *net = ps->net;

	for (size_t i = 0; i < declared; i++) {
		struct net_host *h = &net->hosts[i];
		char text[INET_ADDRSTRLEN];
		int s;

		if (!key_line(ps, SEC_HOST, i, "env") || !key_line(ps, SEC_HOST, i, "tier") ||
		    !key_line(ps, SEC_HOST, i, "address")) {
			ini_error(&ps->errs, h->line, "[host:%s] needs env, tier and address",
				  h->name);
			continue;
		}
		net_addr_text(h->address, text, sizeof(text));
		s = network_subnet_of(net, h->env, h->address);
		if (s < 0 || net->subnets[s].tier != h->tier) {
			ini_error(&ps->errs, key_line(ps, SEC_HOST, i, "address"),
				  "address: %s is in no %s subnet of %s", text,
				  net->tiers[h->tier].name, net->envs[h->env].name);
			continue;
		}
		h->subnet = (size_t)s;
		if (reserved(&net->subnets[s].cidr, h->address))
			ini_error(&ps->errs, key_line(ps, SEC_HOST, i, "address"),
				  "address: %s is one of the addresses AWS reserves in %s", text,
				  net->subnets[s].name);
		for (size_t j = 0; j < net->nhosts; j++)
			if (j != i && net->hosts[j].address == h->address)
				ini_error(&ps->errs, key_line(ps, SEC_HOST, i, "address"),
					  "address: %s is also %s's", text, net->hosts[j].name);
	}
}

static void check(struct parse *ps)
{
	struct network *net = ps->net;
	size_t declared = net->nhosts;

	if (ps->stack_line == 0 || net->stack[0] == '\0')
		ini_error(&ps->errs, ps->stack_line, "[stack] needs name (the vpcdns:stack tag)");
	if (net->nazs == 0)
		ini_error(&ps->errs, ps->stack_line, "[stack] needs azs (or region)");
	if (net->nenvs == 0)
		ini_error(&ps->errs, 0, "no [env:NAME] section");
	if (net->upstream != 0 && !net_cidr_contains(&net->internet, net->upstream))
		ini_error(&ps->errs, key_line(ps, SEC_STACK, 0, "upstream"),
			  "upstream: not inside internet");
	check_envs(ps);
	if (ps->errs.count > 0)
		return;
	check_hosts(ps, declared);
	check_dns(ps);
}

/*
 * What a file may leave out: without [tier:] sections, the three tiers of the
 * reference network; without azs, the region's "a" and "b" zones.
 */
static void defaults(struct parse *ps)
{
	static const struct {
		const char *name;
		enum net_internet internet;
		uint32_t sees;
	} tiers[] = {
	    {"public", NET_INTERNET_IGW, 1u << 0},
	    {"private", NET_INTERNET_NAT, 1u << 0 | 1u << 1 | 1u << 2},
	    {"persistence", NET_INTERNET_NONE, 1u << 1 | 1u << 2},
	};
	struct network *net = ps->net;

	if (net->ntiers == 0)
		for (size_t i = 0; i < sizeof(tiers) / sizeof(tiers[0]); i++) {
			snprintf(net->tiers[i].name, NET_NAME_LEN, "%s", tiers[i].name);
			net->tiers[i].internet = tiers[i].internet;
			net->tiers[i].sees = tiers[i].sees;
			net->ntiers++;
		}
	if (net->nazs == 0 && net->region[0] != '\0') {
		snprintf(net->azs[0], NET_NAME_LEN, "%.60sa", net->region);
		snprintf(net->azs[1], NET_NAME_LEN, "%.60sb", net->region);
		net->nazs = 2;
	}
}

int network_load(const char *path, struct network **out, char *err, size_t errlen)
{
	struct parse ps = {0};
	static const enum section order[] = {SEC_STACK, SEC_TIER, SEC_ENV, SEC_HOST};

	ps.net = calloc(1, sizeof(*ps.net));
	ps.errs.buf = err;
	ps.errs.len = errlen;
	if (errlen > 0)
		err[0] = '\0';
	if (ps.net == NULL)
		return -1;
	ps.net->path = strdup(path);
	if (ini_read(path, on_line, &ps, &ps.errs) == 0) {
		/* Stack first (the AZs), then tiers, environments (subnets need both), hosts. */
		for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++) {
			if (order[o] == SEC_TIER)
				defaults(&ps);
			for (size_t i = 0; i < ps.nkeys; i++) {
				struct raw_key *k = &ps.keys[i];
				if (k->section != order[o])
					continue;
				if (k->section == SEC_STACK)
					stack_key(&ps, k);
				else if (k->section == SEC_TIER)
					tier_key(&ps, k);
				else if (k->section == SEC_ENV)
					env_key(&ps, k);
				else
					host_key(&ps, k);
			}
		}
		if (ps.errs.count == 0)
			check(&ps);
	}
	for (size_t i = 0; i < ps.nkeys; i++)
		free(ps.keys[i].value);
	free(ps.keys);
	if (ps.errs.count > 0) {
		network_free(ps.net);
		return -1;
	}
	*out = ps.net;
	return 0;
}

void network_free(struct network *net)
{
	if (net == NULL)
		return;
	free(net->path);
	free(net->subnets);
	free(net->hosts);
	free(net);
}

int network_tier(const struct network *net, const char *name)
{
	for (size_t i = 0; i < net->ntiers; i++)
		if (strcmp(net->tiers[i].name, name) == 0)
			return (int)i;
	return -1;
}

int network_env(const struct network *net, const char *name)
{
	for (size_t i = 0; i < net->nenvs; i++)
		if (strcmp(net->envs[i].name, name) == 0)
			return (int)i;
	return -1;
}

bool network_peered(const struct network *net, size_t a, size_t b)
{
	return a != b && ((net->envs[a].peers >> b) & 1u || (net->envs[b].peers >> a) & 1u);
}

int network_subnet_of(const struct network *net, size_t env, uint32_t addr)
{
	for (size_t i = 0; i < net->nsubnets; i++)
		if (net->subnets[i].env == env && net_cidr_contains(&net->subnets[i].cidr, addr))
			return (int)i;
	return -1;
}

void net_addr_text(uint32_t addr, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
		 addr & 0xff);
}

void net_cidr_text(const struct net_cidr *c, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];

	net_addr_text(c->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, c->prefix);
}

bool net_cidr_contains(const struct net_cidr *c, uint32_t addr)
{
	uint32_t mask = c->prefix == 0 ? 0 : 0xffffffffu << (32 - c->prefix);
	return (addr & mask) == c->addr;
}

bool net_cidr_within(const struct net_cidr *inner, const struct net_cidr *outer)
{
	return inner->prefix >= outer->prefix && net_cidr_contains(outer, inner->addr);
}
