/*
 * config: the one INI file of vpcdns (zone policy), parsed with inih into one
 * structure that every vpcdns program shares.
 *
 * Every key is declared once in the table in config.c (section, key, type,
 * default, range, help); parsing, defaults, `vpcdnsd -t` and config_print all
 * come from it. Errors name file:line; config_load reports every error it
 * finds, not only the first.
 */
#ifndef CONF_CONFIG_H
#define CONF_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "conf/netaddr.h"

#define CONFIG_DEFAULT_PATH "/etc/vpcdns/vpcdns.ini"
#define CONFIG_RESOLV_CONF  "/etc/resolv.conf"

struct config_zone {
	char *name;        /* lower case, no trailing dot */
	int line;          /* line of the [zone:NAME] header */
	char *file;        /* master file, resolved against the INI's folder; NULL if none */
	struct acl *allow; /* NULL: the server-wide allow list applies */
	bool synthesize_ptr;
	/* vpcdns-sync sources: the zone is then served from STATE_DIR/NAME.zone */
	char *route53;   /* hosted zone id, or "auto"; NULL if none */
	char *inventory; /* VPC ids, comma separated; NULL if none */
	unsigned negative_ttl;
	/* inventory policy: published tiers and name templates */
	char *tiers;
	char *instance_name, *address_name, *id_name, *db_name;
	unsigned inventory_ttl;
};

/* True when vpcdns-sync writes this zone (route53 or inventory). */
static inline bool config_zone_synced(const struct config_zone *z)
{
	return z->route53 != NULL || z->inventory != NULL;
}

/* A [forward] (name ".") or [forward:DOMAIN] rule. */
struct config_forward {
	char *name; /* lower case, no trailing dot; "." for the default rule */
	int line;
	struct netaddr *upstreams;
	size_t nupstreams;
	char *policy; /* "fastest" or "ordered" */
	bool tls;
	char *tls_name;
	char *tls_ca; /* CA file; NULL: the system trust store */
};

struct config {
	char *path;
	/* [server] */
	struct netaddr *listen;
	size_t nlisten;
	unsigned workers; /* 0 in the file means one per core; resolved on load */
	char *user;
	unsigned edns_udp_size;
	unsigned tcp_idle_timeout;
	unsigned tcp_max_connections;
	struct acl *allow;
	bool chaos;
	char *identity;
	char *version;
	bool recursion;                /* forward names outside our zones */
	unsigned upstream_timeout;     /* ms a forwarded query may take in all */
	unsigned upstream_max_pending; /* outstanding upstream queries per worker */
	/* [zone:NAME] */
	struct config_zone *zones;
	size_t nzones;
	/* [forward], [forward:DOMAIN]; from /etc/resolv.conf when the file has none */
	struct config_forward *forwards;
	size_t nforwards;
	char *pidfile; /* [server] pidfile: where vpcdnsd writes its PID (for vpcdns-sync) */
	/* [aws] */
	char *aws_region, *aws_profile, *aws_role_arn, *aws_endpoint_url;
	char *aws_route53_endpoint_url, *aws_ec2_endpoint_url, *aws_rds_endpoint_url;
	char *aws_sts_endpoint_url, *aws_imds_endpoint_url;
	unsigned aws_max_attempts;
	unsigned aws_route53_rate;
	/* [sync] */
	char *state_dir;
	unsigned sync_interval;
	unsigned max_delete_percent; /* max_delete_ratio as a percentage */
	char *tier_tag;
	char *sync_vpc;
	char *sync_resolver; /* where alias targets are resolved; NULL: the system's */
	/* [cache] */
	unsigned long long cache_size; /* bytes */
	unsigned cache_min_ttl;
	unsigned cache_max_ttl;
	unsigned cache_max_negative_ttl;
	unsigned cache_servfail_ttl;
	bool serve_stale;
	unsigned stale_ttl;
	bool prefetch;
};

/*
 * Loads path. On success returns 0 and a new config in *out (free with
 * config_free). On failure returns -1 and writes one "file:line: message" line
 * per problem into err (truncated to errlen).
 */
int config_load(const char *path, struct config **out, char *err, size_t errlen);

void config_free(struct config *config);

/*
 * Lower-cases a zone name in place and strips one trailing dot ("." stays the
 * root). 0, or -1 when it is not a host-style DNS name (letters, digits, '-'
 * and '_' in labels of at most 63, 253 in all).
 */
int config_normalize_name(char *name);

/* Returns the zone named name (lower case, no trailing dot) or NULL. */
const struct config_zone *config_find_zone(const struct config *config, const char *name);

/* Returns the forward rule named name, or NULL. */
const struct config_forward *config_find_forward(const struct config *config, const char *name);

/* Prints the effective configuration as an INI file. */
void config_print(const struct config *config, FILE *out);

#endif
