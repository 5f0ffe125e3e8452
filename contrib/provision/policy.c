/*
 * policy: the vpcdnsd zone policy of a network (see policy.h).
 *
 * Who may query a tier zone T.Z of environment E: every subnet of E whose
 * tier sees T, and every subnet of an environment that sees E whose tier
 * sees T. Who may query E's own zone Z: E and every environment that sees E.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "contrib/provision/policy.h"

/* Appends ", item" (or "item") to buf. */
static void append(char *buf, size_t len, const char *item)
{
	size_t used = strlen(buf);

	snprintf(buf + used, len - used, "%s%s", used > 0 ? ", " : "", item);
}

static bool env_sees(const struct network *net, size_t viewer, size_t env)
{
	return viewer == env || (net->envs[viewer].sees >> env) & 1u;
}

static bool env_has_tier(const struct network *net, size_t env, size_t tier)
{
	for (size_t i = 0; i < net->nsubnets; i++)
		if (net->subnets[i].env == env && net->subnets[i].tier == tier)
			return true;
	return false;
}

static void zone_allow(const struct network *net, size_t env, char *buf, size_t len)
{
	char text[NET_CIDR_TEXT];

	buf[0] = '\0';
	for (size_t j = 0; j < net->nenvs; j++)
		if (env_sees(net, j, env)) {
			net_cidr_text(&net->envs[j].cidr, text, sizeof(text));
			append(buf, len, text);
		}
}

static void tier_allow(const struct network *net, size_t env, size_t tier, char *buf, size_t len)
{
	char text[NET_CIDR_TEXT];

	buf[0] = '\0';
	for (size_t i = 0; i < net->nsubnets; i++) {
		const struct net_subnet *s = &net->subnets[i];
		if (env_sees(net, s->env, env) && (net->tiers[s->tier].sees >> tier) & 1u) {
			net_cidr_text(&s->cidr, text, sizeof(text));
			append(buf, len, text);
		}
	}
}

void policy_server_allow(const struct network *net, char *buf, size_t len)
{
	char text[NET_CIDR_TEXT];

	buf[0] = '\0';
	for (size_t j = 0; j < net->nenvs; j++) {
		net_cidr_text(&net->envs[j].cidr, text, sizeof(text));
		append(buf, len, text);
	}
}

void policy_write_list(FILE *out, const char *lead, const char *key, const char *list)
{
	const char *p = list;
	size_t col = strlen(key) + 3;
	bool first = true;

	fprintf(out, "%s%s = ", lead, key);
	while (*p != '\0') {
		const char *comma = strstr(p, ", ");
		size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (!first && col + n > 88) {
			fprintf(out, ",\n%s    ", lead);
			col = 4;
		} else if (!first) {
			fprintf(out, ", ");
			col += 2;
		}
		fprintf(out, "%.*s", (int)n, p);
		col += n;
		first = false;
		p += n + (comma != NULL ? 2 : 0);
	}
	fprintf(out, "\n");
}

static void write_env(const struct network *net, size_t env, const struct policy_opts *opts,
		      FILE *out)
{
	const struct net_env *e = &net->envs[env];
	const struct policy_env_source *src = opts->sources != NULL ? &opts->sources[env] : NULL;
	char allow[4096];

	fprintf(out, "\n; environment %s\n[zone:%s]\n", e->name, e->zone);
	zone_allow(net, env, allow, sizeof(allow));
	policy_write_list(out, "", "allow", allow);
	if (opts->zone_dir != NULL)
		fprintf(out, "file = %s/%s.zone\n", opts->zone_dir, e->zone);
	if (src != NULL && src->hosted_zone_id != NULL)
		fprintf(out, "route53 = %s\n", src->hosted_zone_id);
	for (size_t t = 0; t < net->ntiers; t++) {
		if (!env_has_tier(net, env, t))
			continue;
		fprintf(out, "\n[zone:%s.%s]\n", net->tiers[t].name, e->zone);
		tier_allow(net, env, t, allow, sizeof(allow));
		if (allow[0] == '\0')
			fprintf(out, "allow = 127.0.0.1/32 ; no tier sees %s\n",
				net->tiers[t].name);
		else
			policy_write_list(out, "", "allow", allow);
		if (opts->zone_dir != NULL)
			fprintf(out, "file = %s/%s.%s.zone\n", opts->zone_dir, net->tiers[t].name,
				e->zone);
		/* The environment's hosted zone too: its names below this tier are served here. */
		if (src != NULL && src->hosted_zone_id != NULL)
			fprintf(out, "route53 = %s\n", src->hosted_zone_id);
		/* Only this tier's instances by name: ip- and id names would list every tier.
		 * RDS databases go to the tiers without internet access. */
		if (src != NULL && src->vpc_id != NULL)
			fprintf(
			    out,
			    "inventory = %s\ntiers = %s\ninstance_name = {name}\naddress_name =\n"
			    "id_name =\ndb_name = %s\n",
			    src->vpc_id, net->tiers[t].name,
			    net->tiers[t].internet == NET_INTERNET_NONE ? "{id}" : "");
	}
}

void policy_write(const struct network *net, const struct policy_opts *opts, FILE *out)
{
	char allow[4096];

	fprintf(out,
		"; vpcdnsd zone policy of stack %s, made by vpcdns-provision from %s.\n"
		"; Each environment's zone, and one zone per tier below it: a client may query\n"
		"; a tier's names when its subnet's tier sees that tier, in its own environment\n"
		"; or in one it sees.\n",
		net->stack, net->path);
	policy_server_allow(net, allow, sizeof(allow));
	fprintf(out, "; [server] allow: every VPC of the stack\n");
	policy_write_list(out, "; ", "allow", allow);
	if (opts->sources != NULL)
		fprintf(out, "; Names outside these zones: the VPC's own resolver, e.g.\n"
			     "; [forward]\n; upstream = 169.254.169.253\n");
	for (size_t i = 0; i < net->nenvs; i++)
		write_env(net, i, opts, out);
}

/* Writes one zone file: SOA and NS, then the given records. */
static FILE *zone_open(const char *dir, const char *zone, const char *apex, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s.zone", dir, zone);
	f = fopen(path, "w");
	if (f == NULL)
		return NULL;
	fprintf(f,
		"; made by vpcdns-provision\n$ORIGIN %s.\n$TTL 60\n"
		"@ IN SOA dns.%s. hostmaster.%s. 1 3600 600 86400 60\n@ IN NS dns.%s.\n",
		zone, apex, apex, apex);
	return f;
}

static int zone_close(FILE *f)
{
	int rc = ferror(f) ? -1 : 0;

	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

int policy_write_zones(const struct network *net, const char *dir)
{
	char path[4096], zone[NET_ZONE_LEN + NET_NAME_LEN], addr[16];

	for (size_t i = 0; i < net->nenvs; i++) {
		const struct net_env *e = &net->envs[i];
		FILE *f = zone_open(dir, e->zone, e->zone, path, sizeof(path));
		if (f == NULL)
			return -1;
		for (size_t d = 0; d < e->ndns; d++) {
			net_addr_text(e->dns[d], addr, sizeof(addr));
			fprintf(f, "dns IN A %s\n", addr);
		}
		/*
		 * Short names (the DHCP search domain is the environment's zone): vpcdnsd
		 * follows each CNAME into its tier zone for clients that tier's allow
		 * list admits, so `getent hosts web-1` works where web-1 may be seen.
		 */
		for (size_t h = 0; h < net->nhosts; h++)
			if (net->hosts[h].env == i)
				fprintf(f, "%s IN CNAME %s.%s.%s.\n", net->hosts[h].name,
					net->hosts[h].name, net->tiers[net->hosts[h].tier].name,
					e->zone);
		if (zone_close(f) < 0)
			return -1;
		for (size_t t = 0; t < net->ntiers; t++) {
			if (!env_has_tier(net, i, t))
				continue;
			snprintf(zone, sizeof(zone), "%s.%s", net->tiers[t].name, e->zone);
			f = zone_open(dir, zone, e->zone, path, sizeof(path));
			if (f == NULL)
				return -1;
			for (size_t h = 0; h < net->nhosts; h++) {
				const struct net_host *host = &net->hosts[h];
				if (host->env != i || host->tier != t)
					continue;
				net_addr_text(host->address, addr, sizeof(addr));
				fprintf(f, "%s IN A %s\n", host->name, addr);
			}
			if (zone_close(f) < 0)
				return -1;
		}
	}
	return 0;
}
