#include "conf/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/ini.h"

enum key_type {
	KEY_RATIO,
	KEY_UINT,
	KEY_BOOL,
	KEY_STRING,
	KEY_PATH,
	KEY_ACL,
	KEY_LISTEN,
	KEY_UPSTREAM,
	KEY_SIZE,
	KEY_POLICY
};
enum section_kind {
	SECTION_NONE,
	SECTION_SERVER,
	SECTION_ZONE,
	SECTION_FORWARD,
	SECTION_CACHE,
	SECTION_AWS,
	SECTION_SYNC,
	SECTION_UNKNOWN
};

/* One row per key: the only place an option is declared. */
struct key_def {
	enum section_kind section;
	const char *key;
	enum key_type type;
	const char *def; /* parsed like a value from the file; NULL: no default */
	unsigned min, max;
	size_t offset; /* into struct config or struct config_zone */
};

#define SRV(f) offsetof(struct config, f)
#define ZON(f) offsetof(struct config_zone, f)
#define FWD(f) offsetof(struct config_forward, f)

static const struct key_def key_defs[] = {
    {SECTION_SERVER, "listen", KEY_LISTEN, "127.0.0.1, ::1", 0, 0, SRV(listen)},
    {SECTION_SERVER, "workers", KEY_UINT, "0", 0, 256, SRV(workers)},
    {SECTION_SERVER, "user", KEY_STRING, "", 0, 0, SRV(user)},
    {SECTION_SERVER, "edns_udp_size", KEY_UINT, "1232", 512, 4096, SRV(edns_udp_size)},
    {SECTION_SERVER, "tcp_idle_timeout", KEY_UINT, "10", 1, 3600, SRV(tcp_idle_timeout)},
    {SECTION_SERVER, "tcp_max_connections", KEY_UINT, "512", 1, 65536, SRV(tcp_max_connections)},
    {SECTION_SERVER, "allow", KEY_ACL,
     "127.0.0.0/8, ::1/128, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, "
     "100.64.0.0/10, fc00::/7",
     0, 0, SRV(allow)},
    {SECTION_SERVER, "chaos", KEY_BOOL, "no", 0, 0, SRV(chaos)},
    {SECTION_SERVER, "identity", KEY_STRING, "", 0, 0, SRV(identity)},
    {SECTION_SERVER, "version", KEY_STRING, "vpcdns " VPCDNS_VERSION, 0, 0, SRV(version)},
    {SECTION_SERVER, "recursion", KEY_BOOL, "yes", 0, 0, SRV(recursion)},
    {SECTION_SERVER, "upstream_timeout", KEY_UINT, "3000", 100, 60000, SRV(upstream_timeout)},
    {SECTION_SERVER, "upstream_max_pending", KEY_UINT, "4096", 1, 1000000,
     SRV(upstream_max_pending)},
    {SECTION_ZONE, "file", KEY_PATH, NULL, 0, 0, ZON(file)},
    {SECTION_ZONE, "allow", KEY_ACL, NULL, 0, 0, ZON(allow)},
    {SECTION_ZONE, "synthesize_ptr", KEY_BOOL, "no", 0, 0, ZON(synthesize_ptr)},
    {SECTION_FORWARD, "upstream", KEY_UPSTREAM, NULL, 0, 0, FWD(upstreams)},
    {SECTION_FORWARD, "policy", KEY_POLICY, "fastest", 0, 0, FWD(policy)},
    {SECTION_FORWARD, "tls", KEY_BOOL, "no", 0, 0, FWD(tls)},
    {SECTION_FORWARD, "tls_name", KEY_STRING, NULL, 0, 0, FWD(tls_name)},
    {SECTION_FORWARD, "tls_ca", KEY_PATH, NULL, 0, 0, FWD(tls_ca)},
    {SECTION_CACHE, "size", KEY_SIZE, "64M", 0, 0, SRV(cache_size)},
    {SECTION_CACHE, "min_ttl", KEY_UINT, "0", 0, 86400, SRV(cache_min_ttl)},
    {SECTION_CACHE, "max_ttl", KEY_UINT, "86400", 1, 604800, SRV(cache_max_ttl)},
    {SECTION_CACHE, "max_negative_ttl", KEY_UINT, "3600", 0, 86400, SRV(cache_max_negative_ttl)},
    {SECTION_CACHE, "servfail_ttl", KEY_UINT, "5", 0, 300, SRV(cache_servfail_ttl)},
    {SECTION_CACHE, "serve_stale", KEY_BOOL, "yes", 0, 0, SRV(serve_stale)},
    {SECTION_CACHE, "stale_ttl", KEY_UINT, "86400", 0, 604800, SRV(stale_ttl)},
    {SECTION_CACHE, "prefetch", KEY_BOOL, "yes", 0, 0, SRV(prefetch)},
    {SECTION_SERVER, "pidfile", KEY_PATH, NULL, 0, 0, SRV(pidfile)},
    {SECTION_ZONE, "route53", KEY_STRING, NULL, 0, 0, ZON(route53)},
    {SECTION_ZONE, "inventory", KEY_STRING, NULL, 0, 0, ZON(inventory)},
    {SECTION_ZONE, "negative_ttl", KEY_UINT, "30", 0, 86400, ZON(negative_ttl)},
    {SECTION_ZONE, "tiers", KEY_STRING, "private, persistence", 0, 0, ZON(tiers)},
    {SECTION_ZONE, "instance_name", KEY_STRING, "{name}.{tier}", 0, 0, ZON(instance_name)},
    {SECTION_ZONE, "address_name", KEY_STRING, "ip-{ip}", 0, 0, ZON(address_name)},
    {SECTION_ZONE, "id_name", KEY_STRING, "{id}", 0, 0, ZON(id_name)},
    {SECTION_ZONE, "db_name", KEY_STRING, "{id}.db", 0, 0, ZON(db_name)},
    {SECTION_ZONE, "inventory_ttl", KEY_UINT, "60", 0, 86400, ZON(inventory_ttl)},
    {SECTION_AWS, "region", KEY_STRING, NULL, 0, 0, SRV(aws_region)},
    {SECTION_AWS, "profile", KEY_STRING, NULL, 0, 0, SRV(aws_profile)},
    {SECTION_AWS, "role_arn", KEY_STRING, NULL, 0, 0, SRV(aws_role_arn)},
    {SECTION_AWS, "endpoint_url", KEY_STRING, NULL, 0, 0, SRV(aws_endpoint_url)},
    {SECTION_AWS, "route53_endpoint_url", KEY_STRING, NULL, 0, 0, SRV(aws_route53_endpoint_url)},
    {SECTION_AWS, "ec2_endpoint_url", KEY_STRING, NULL, 0, 0, SRV(aws_ec2_endpoint_url)},
    {SECTION_AWS, "rds_endpoint_url", KEY_STRING, NULL, 0, 0, SRV(aws_rds_endpoint_url)},
    {SECTION_AWS, "sts_endpoint_url", KEY_STRING, NULL, 0, 0, SRV(aws_sts_endpoint_url)},
    {SECTION_AWS, "imds_endpoint_url", KEY_STRING, NULL, 0, 0, SRV(aws_imds_endpoint_url)},
    {SECTION_AWS, "max_attempts", KEY_UINT, "5", 1, 20, SRV(aws_max_attempts)},
    {SECTION_AWS, "route53_rate", KEY_UINT, "5", 1, 100, SRV(aws_route53_rate)},
    {SECTION_SYNC, "state_dir", KEY_PATH, "/var/lib/vpcdns", 0, 0, SRV(state_dir)},
    {SECTION_SYNC, "interval", KEY_UINT, "60", 5, 86400, SRV(sync_interval)},
    {SECTION_SYNC, "max_delete_ratio", KEY_RATIO, "0.3", 0, 100, SRV(max_delete_percent)},
    {SECTION_SYNC, "tier_tag", KEY_STRING, "Tier", 0, 0, SRV(tier_tag)},
    {SECTION_SYNC, "vpc", KEY_STRING, NULL, 0, 0, SRV(sync_vpc)},
    {SECTION_SYNC, "resolver", KEY_STRING, NULL, 0, 0, SRV(sync_resolver)},
};
#define NKEYS (sizeof(key_defs) / sizeof(key_defs[0]))

struct parse_state {
	struct config *config;
	const char *path;
	char *dir;
	int line; /* of the header or key being handled */
	enum section_kind section;
	int section_line;
	int single_line[SECTION_UNKNOWN]; /* where [server], [cache], [aws], [sync] began */
	struct config_zone *zone;
	struct config_forward *forward;
	/* Which keys were set in the current section, and the line that set them. */
	int key_line[NKEYS];
	const struct key_def *last_key;
	struct ini_errors errs;
};

static void config_error(struct parse_state *st, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void config_error(struct parse_state *st, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ini_verror(&st->errs, line, fmt, ap);
	va_end(ap);
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

int config_normalize_name(char *name)
{
	size_t len = strlen(name), label = 0;

	if (len > 1 && name[len - 1] == '.')
		name[--len] = '\0';
	if (len == 0 || len > 253)
		return -1;
	if (strcmp(name, ".") == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-' && c != '_')
			return -1;
		name[i] = (char)tolower(c);
		if (++label > 63)
			return -1;
	}
	return label == 0 ? -1 : 0;
}

static void *field(struct parse_state *st, const struct key_def *def)
{
	char *base;

	switch (def->section) {
	case SECTION_ZONE:
		base = (char *)st->zone;
		break;
	case SECTION_FORWARD:
		base = (char *)st->forward;
		break;
	default:
		base = (char *)st->config;
	}
	return base + def->offset;
}

/* A comma or space separated list of address[:port]; port 53 when omitted. */
static int parse_addrs(struct parse_state *st, const struct key_def *def, const char *value,
		       bool append, int line, struct netaddr **list, size_t *count)
{
	const char *p = value;

	if (!append) {
		free(*list);
		*list = NULL;
		*count = 0;
	}
	for (char item[128]; (p = netaddr_next_item(p, item, sizeof(item))) != NULL;) {
		struct netaddr *grown = realloc(*list, (*count + 1) * sizeof(**list));
		if (grown == NULL)
			return -1;
		*list = grown;
		if (netaddr_parse(item, 53, &(*list)[*count]) < 0) {
			config_error(st, line, "%s: '%s' is not address[:port] (IPv6 in brackets)",
				     def->key, item);
			return -1;
		}
		(*count)++;
	}
	return 0;
}

static int parse_value(struct parse_state *st, const struct key_def *def, const char *value,
		       bool append, int line)
{
	void *dst = field(st, def);
	char bad[128];

	switch (def->type) {
	case KEY_UINT: {
		char *end;
		unsigned long v;
		errno = 0;
		v = strtoul(value, &end, 10);
		if (!isdigit((unsigned char)*value) || *end != '\0' || errno != 0 || v < def->min ||
		    v > def->max) {
			config_error(st, line, "%s: '%s' is not a number from %u to %u", def->key,
				     value, def->min, def->max);
			return -1;
		}
		*(unsigned *)dst = (unsigned)v;
		return 0;
	}
	case KEY_BOOL:
		if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0 ||
		    strcmp(value, "1") == 0 || strcasecmp(value, "on") == 0) {
			*(bool *)dst = true;
		} else if (strcasecmp(value, "no") == 0 || strcasecmp(value, "false") == 0 ||
			   strcmp(value, "0") == 0 || strcasecmp(value, "off") == 0) {
			*(bool *)dst = false;
		} else {
			config_error(st, line, "%s: '%s' is not yes or no", def->key, value);
			return -1;
		}
		return 0;
	case KEY_STRING:
	case KEY_PATH: {
		char **s = dst;
		char *copy;
		if (def->type == KEY_PATH && value[0] != '/' && value[0] != '\0') {
			size_t n = strlen(st->dir) + strlen(value) + 2;
			copy = malloc(n);
			if (copy != NULL)
				snprintf(copy, n, "%s/%s", st->dir, value);
		} else {
			copy = strdup(value);
		}
		if (copy == NULL) {
			config_error(st, line, "%s: out of memory", def->key);
			return -1;
		}
		free(*s);
		*s = copy;
		return 0;
	}
	case KEY_ACL: {
		struct acl **acl = dst;
		struct acl *parsed = acl_parse(value, bad, sizeof(bad));
		if (parsed == NULL) {
			config_error(st, line, "%s: '%s' is not an address or CIDR prefix",
				     def->key, bad);
			return -1;
		}
		if (append && *acl != NULL) {
			int rc = acl_extend(acl, parsed);
			free(parsed);
			return rc;
		}
		free(*acl);
		*acl = parsed;
		return 0;
	}
	case KEY_LISTEN:
		return parse_addrs(st, def, value, append, line, &st->config->listen,
				   &st->config->nlisten);
	case KEY_UPSTREAM:
		return parse_addrs(st, def, value, append, line, &st->forward->upstreams,
				   &st->forward->nupstreams);
	case KEY_RATIO: {
		char *end;
		double v = strtod(value, &end);
		if (end == value || *end != '\0' || v < 0 || v > 1) {
			config_error(st, line, "%s: '%s' is not a ratio from 0 to 1", def->key,
				     value);
			return -1;
		}
		*(unsigned *)dst = (unsigned)(v * 100 + 0.5);
		return 0;
	}
	case KEY_SIZE: {
		char *end;
		unsigned long long v;
		errno = 0;
		v = strtoull(value, &end, 10);
		if (*end == 'k' || *end == 'K')
			v <<= 10, end++;
		else if (*end == 'm' || *end == 'M')
			v <<= 20, end++;
		else if (*end == 'g' || *end == 'G')
			v <<= 30, end++;
		if (!isdigit((unsigned char)*value) || *end != '\0' || errno != 0 ||
		    v < (1 << 20)) {
			config_error(st, line,
				     "%s: '%s' is not a size of at least 1M (suffix K, M or G)",
				     def->key, value);
			return -1;
		}
		*(unsigned long long *)dst = v;
		return 0;
	}
	case KEY_POLICY: {
		char **p = dst;
		if (strcmp(value, "fastest") != 0 && strcmp(value, "ordered") != 0) {
			config_error(st, line, "%s: '%s' is not fastest or ordered", def->key,
				     value);
			return -1;
		}
		free(*p);
		*p = strdup(value);
		return *p != NULL ? 0 : -1;
	}
	}
	return -1;
}

static const struct key_def *find_key(enum section_kind section, const char *key)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (key_defs[i].section == section && strcmp(key_defs[i].key, key) == 0)
			return &key_defs[i];
	return NULL;
}

static void apply_defaults(struct parse_state *st, enum section_kind section)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (key_defs[i].section == section && key_defs[i].def != NULL)
			parse_value(st, &key_defs[i], key_defs[i].def, false, 0);
}

static const struct {
	const char *name;
	enum section_kind kind;
} single_sections[] = {
    {"server", SECTION_SERVER},
    {"cache", SECTION_CACHE},
    {"aws", SECTION_AWS},
    {"sync", SECTION_SYNC},
};

static void begin_section(struct parse_state *st, const char *header)
{
	char name[300];

	snprintf(name, sizeof(name), "%s", header);
	st->section_line = st->line;
	st->last_key = NULL;
	for (size_t i = 0; i < NKEYS; i++)
		st->key_line[i] = 0;
	/* Sections that may appear once. */
	for (size_t i = 0; i < sizeof(single_sections) / sizeof(single_sections[0]); i++) {
		enum section_kind kind = single_sections[i].kind;
		if (strcmp(name, single_sections[i].name) != 0)
			continue;
		if (st->single_line[kind] != 0) {
			config_error(st, st->line, "[%s] is already at line %d", name,
				     st->single_line[kind]);
			st->section = SECTION_UNKNOWN;
			return;
		}
		st->single_line[kind] = st->line;
		st->section = kind;
		return;
	}
	if (strncmp(name, "zone:", 5) == 0) {
		struct config *c = st->config;
		char *zname = trim(name + 5);
		struct config_zone *grown;

		st->section = SECTION_UNKNOWN;
		if (config_normalize_name(zname) < 0) {
			config_error(st, st->line, "[zone:%s]: not a valid zone name", zname);
			return;
		}
		for (size_t i = 0; i < c->nzones; i++) {
			if (strcmp(c->zones[i].name, zname) == 0) {
				config_error(st, st->line, "zone %s is already defined at line %d",
					     zname, c->zones[i].line);
				return;
			}
		}
		grown = realloc(c->zones, (c->nzones + 1) * sizeof(*c->zones));
		if (grown == NULL) {
			config_error(st, st->line, "out of memory");
			return;
		}
		c->zones = grown;
		st->zone = &c->zones[c->nzones++];
		memset(st->zone, 0, sizeof(*st->zone));
		st->zone->name = strdup(zname);
		st->zone->line = st->line;
		st->section = SECTION_ZONE;
		apply_defaults(st, SECTION_ZONE);
		return;
	}
	if (strcmp(name, "forward") == 0 || strncmp(name, "forward:", 8) == 0) {
		struct config *c = st->config;
		char fname[300];
		struct config_forward *grown;

		st->section = SECTION_UNKNOWN;
		snprintf(fname, sizeof(fname), "%s", name[7] == ':' ? trim(name + 8) : ".");
		if (config_normalize_name(fname) < 0) {
			config_error(st, st->line, "[%s]: not a valid domain name", name);
			return;
		}
		for (size_t i = 0; i < c->nforwards; i++) {
			if (strcmp(c->forwards[i].name, fname) == 0) {
				config_error(st, st->line,
					     "forward rule for %s is already at line %d", fname,
					     c->forwards[i].line);
				return;
			}
		}
		grown = realloc(c->forwards, (c->nforwards + 1) * sizeof(*c->forwards));
		if (grown == NULL) {
			config_error(st, st->line, "out of memory");
			return;
		}
		c->forwards = grown;
		st->forward = &c->forwards[c->nforwards++];
		memset(st->forward, 0, sizeof(*st->forward));
		st->forward->name = strdup(fname);
		st->forward->line = st->line;
		st->section = SECTION_FORWARD;
		apply_defaults(st, SECTION_FORWARD);
		return;
	}
	config_error(st, st->line,
		     "unknown section [%s] (expected [server], [zone:NAME], [forward], "
		     "[forward:DOMAIN], [cache], [aws] or [sync])",
		     name);
	st->section = SECTION_UNKNOWN;
}

/* conf/ini calls this for each section header and each key, with its line. */
static void on_line(void *user, int line, const char *section, const char *name, const char *value,
		    bool continued)
{
	struct parse_state *st = user;
	const struct key_def *def;
	size_t idx;

	st->line = line;
	if (name == NULL) {
		if (section == NULL)
			st->section = SECTION_UNKNOWN; /* malformed, already reported */
		else
			begin_section(st, section);
		return;
	}
	if (st->section == SECTION_UNKNOWN || st->section == SECTION_NONE)
		return; /* already reported */
	if (continued && st->last_key != NULL && strcmp(st->last_key->key, name) == 0) {
		if (st->last_key->type != KEY_ACL && st->last_key->type != KEY_LISTEN &&
		    st->last_key->type != KEY_UPSTREAM) {
			config_error(st, st->line, "%s takes one value", name);
			return;
		}
		parse_value(st, st->last_key, value, true, st->line);
		return;
	}
	def = find_key(st->section, name);
	if (def == NULL) {
		static const char *const names[] = {"",        "server", "zone:NAME",
						    "forward", "cache",  ""};
		config_error(st, st->line, "unknown key '%s' in [%s]", name, names[st->section]);
		st->last_key = NULL;
		return;
	}
	idx = (size_t)(def - key_defs);
	if (st->key_line[idx] != 0) {
		config_error(st, st->line, "%s is already set at line %d", name, st->key_line[idx]);
		return;
	}
	st->key_line[idx] = st->line;
	st->last_key = def;
	parse_value(st, def, value, false, st->line);
	return;
}

static bool zone_is_reverse(const char *name)
{
	size_t n = strlen(name);
	return (n >= 12 && strcmp(name + n - 12, "in-addr.arpa") == 0) ||
	       (n >= 8 && strcmp(name + n - 8, "ip6.arpa") == 0);
}

/*
 * With no [forward] section, forward to the nameservers of /etc/resolv.conf,
 * as the system's own resolver library would, skipping our own listen addresses.
 */
static void default_forward(struct config *c)
{
	FILE *fp = fopen(CONFIG_RESOLV_CONF, "r");
	struct config_forward *f;
	char line[512];

	if (fp == NULL)
		return;
	f = realloc(c->forwards, (c->nforwards + 1) * sizeof(*c->forwards));
	if (f == NULL) {
		fclose(fp);
		return;
	}
	c->forwards = f;
	f = &c->forwards[c->nforwards];
	memset(f, 0, sizeof(*f));
	while (fgets(line, sizeof(line), fp) != NULL) {
		char addr[128];
		struct netaddr na;
		bool ours = false;
		if (sscanf(line, " nameserver %127s", addr) != 1 ||
		    netaddr_parse(addr, 53, &na) < 0)
			continue;
		for (size_t i = 0; i < c->nlisten; i++)
			if (c->listen[i].len == na.len &&
			    memcmp(&c->listen[i].ss, &na.ss, na.len) == 0)
				ours = true;
		if (ours)
			continue;
		struct netaddr *grown = realloc(f->upstreams, (f->nupstreams + 1) * sizeof(na));
		if (grown == NULL)
			break;
		f->upstreams = grown;
		f->upstreams[f->nupstreams++] = na;
	}
	fclose(fp);
	if (f->nupstreams == 0) {
		free(f->upstreams);
		return;
	}
	f->name = strdup(".");
	f->policy = strdup("ordered");
	c->nforwards++;
}

static void check_config(struct parse_state *st)
{
	struct config *c = st->config;
	bool have_default = false;

	for (size_t i = 0; i < c->nforwards; i++) {
		struct config_forward *f = &c->forwards[i];
		if (strcmp(f->name, ".") == 0)
			have_default = true;
		if (f->nupstreams == 0)
			config_error(st, f->line, "forward %s: no upstream", f->name);
		if (f->tls && f->tls_name == NULL)
			config_error(st, f->line, "forward %s: tls = yes needs tls_name", f->name);
	}
	if (!have_default && c->recursion)
		default_forward(c);

	if (c->nlisten == 0)
		config_error(st, 1, "listen: no address to listen on");
	if (c->workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		c->workers = n > 0 ? (unsigned)n : 1;
	}
	for (size_t i = 0; i < c->nzones; i++) {
		struct config_zone *z = &c->zones[i];
		if (z->synthesize_ptr && !zone_is_reverse(z->name))
			config_error(
			    st, z->line,
			    "zone %s: synthesize_ptr needs an in-addr.arpa or ip6.arpa zone",
			    z->name);
		if (z->file == NULL && !z->synthesize_ptr && !config_zone_synced(z))
			config_error(
			    st, z->line,
			    "zone %s: no data source (set file, synthesize_ptr, route53 or "
			    "inventory)",
			    z->name);
		if (z->synthesize_ptr && config_zone_synced(z))
			config_error(st, z->line,
				     "zone %s: synthesize_ptr cannot be combined with route53 or "
				     "inventory",
				     z->name);
	}
}

int config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	struct parse_state st;
	struct config *c = calloc(1, sizeof(*c));
	char *slash;

	memset(&st, 0, sizeof(st));
	st.config = c;
	st.path = path;
	st.errs.buf = err;
	st.errs.len = errlen;
	st.errs.path = path;
	if (errlen > 0)
		err[0] = '\0';
	if (c == NULL) {
		snprintf(err, errlen, "%s: out of memory\n", path);
		return -1;
	}
	c->path = strdup(path);
	st.dir = strdup(path);
	slash = st.dir != NULL ? strrchr(st.dir, '/') : NULL;
	if (slash != NULL)
		*slash = '\0';
	else if (st.dir != NULL)
		strcpy(st.dir, ".");
	apply_defaults(&st, SECTION_SERVER);
	apply_defaults(&st, SECTION_CACHE);
	apply_defaults(&st, SECTION_AWS);
	apply_defaults(&st, SECTION_SYNC);
	ini_read(path, on_line, &st, &st.errs);
	if (st.errs.count == 0)
		check_config(&st);
	free(st.dir);
	if (st.errs.count > 0) {
		config_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

void config_free(struct config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nzones; i++) {
		free(c->zones[i].name);
		free(c->zones[i].file);
		free(c->zones[i].allow);
		free(c->zones[i].route53);
		free(c->zones[i].inventory);
		free(c->zones[i].tiers);
		free(c->zones[i].instance_name);
		free(c->zones[i].address_name);
		free(c->zones[i].id_name);
		free(c->zones[i].db_name);
	}
	free(c->zones);
	for (size_t i = 0; i < c->nforwards; i++) {
		free(c->forwards[i].name);
		free(c->forwards[i].upstreams);
		free(c->forwards[i].policy);
		free(c->forwards[i].tls_name);
		free(c->forwards[i].tls_ca);
	}
	free(c->forwards);
	free(c->pidfile);
	free(c->aws_region);
	free(c->aws_profile);
	free(c->aws_role_arn);
	free(c->aws_endpoint_url);
	free(c->aws_route53_endpoint_url);
	free(c->aws_ec2_endpoint_url);
	free(c->aws_rds_endpoint_url);
	free(c->aws_sts_endpoint_url);
	free(c->aws_imds_endpoint_url);
	free(c->state_dir);
	free(c->tier_tag);
	free(c->sync_vpc);
	free(c->sync_resolver);
	free(c->listen);
	free(c->user);
	free(c->allow);
	free(c->identity);
	free(c->version);
	free(c->path);
	free(c);
}

const struct config_forward *config_find_forward(const struct config *config, const char *name)
{
	for (size_t i = 0; i < config->nforwards; i++)
		if (strcmp(config->forwards[i].name, name) == 0)
			return &config->forwards[i];
	return NULL;
}

const struct config_zone *config_find_zone(const struct config *config, const char *name)
{
	for (size_t i = 0; i < config->nzones; i++)
		if (strcmp(config->zones[i].name, name) == 0)
			return &config->zones[i];
	return NULL;
}

static void print_acl(FILE *out, const char *key, const struct acl *acl)
{
	fprintf(out, "%s =", key);
	for (size_t i = 0; i < acl->count; i++) {
		char host[64];
		const struct acl_entry *e = &acl->entries[i];
		inet_ntop(e->family, e->addr, host, sizeof(host));
		fprintf(out, "%s %s/%u", i > 0 ? "," : "", host, e->prefix);
	}
	fputc('\n', out);
}

void config_print(const struct config *c, FILE *out)
{
	fprintf(out, "[server]\nlisten =");
	for (size_t i = 0; i < c->nlisten; i++) {
		char buf[80];
		netaddr_format(&c->listen[i], buf, sizeof(buf));
		fprintf(out, "%s %s", i > 0 ? "," : "", buf);
	}
	fprintf(out, "\nworkers = %u\nuser = %s\nedns_udp_size = %u\n", c->workers, c->user,
		c->edns_udp_size);
	fprintf(out, "tcp_idle_timeout = %u\ntcp_max_connections = %u\n", c->tcp_idle_timeout,
		c->tcp_max_connections);
	print_acl(out, "allow", c->allow);
	fprintf(out, "chaos = %s\nidentity = %s\nversion = %s\n", c->chaos ? "yes" : "no",
		c->identity, c->version);
	for (size_t i = 0; i < c->nzones; i++) {
		const struct config_zone *z = &c->zones[i];
		fprintf(out, "\n[zone:%s]\n", z->name);
		if (z->file != NULL)
			fprintf(out, "file = %s\n", z->file);
		if (z->allow != NULL)
			print_acl(out, "allow", z->allow);
		if (z->synthesize_ptr)
			fprintf(out, "synthesize_ptr = yes\n");
	}
}
