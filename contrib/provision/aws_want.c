/*
 * aws_want: what the network wants on AWS (names, DHCP options, security
 * group rules), and which of the resources found is the one it wants.
 *
 * Security groups are kept simple: "ENV-vpcdnsd" (where vpcdnsd runs) admits
 * DNS (UDP and TCP 53) from its VPC and the VPCs peered with it; "ENV-TIER"
 * admits TCP from the subnets of the tiers that see TIER, in its own
 * environment and in the peered environments that see this one. Egress is
 * left as AWS makes it (all allowed).
 */
#include <stdio.h>
#include <string.h>

#include "contrib/provision/aws_backend.h"

/* ---- what the network wants ---- */

bool aws_want_tier(const struct network *net, size_t e, size_t t)
{
	for (size_t i = 0; i < net->nsubnets; i++)
		if (net->subnets[i].env == e && net->subnets[i].tier == t)
			return true;
	return false;
}

bool aws_want_internet(const struct network *net, size_t e, enum net_internet how)
{
	for (size_t t = 0; t < net->ntiers; t++)
		if (net->tiers[t].internet == how && aws_want_tier(net, e, t))
			return true;
	return false;
}

/* The NAT gateway's subnet: the first subnet of the first internet-facing tier. */
const struct net_subnet *aws_want_nat_subnet(const struct network *net, size_t e)
{
	for (size_t i = 0; i < net->nsubnets; i++)
		if (net->subnets[i].env == e &&
		    net->tiers[net->subnets[i].tier].internet == NET_INTERNET_IGW)
			return &net->subnets[i];
	return NULL;
}

bool aws_want_vpcdnsd(const struct network *net, size_t e)
{
	for (size_t i = 0; i < net->nhosts; i++)
		if (net->hosts[i].vpcdnsd && net->hosts[i].env == e)
			return true;
	return false;
}

void aws_want_rt_name(const struct network *net, size_t e, size_t t, char *buf, size_t len)
{
	snprintf(buf, len, "%s-%s-rt", net->envs[e].name, net->tiers[t].name);
}

void aws_want_pcx_name(const struct network *net, size_t a, size_t b, char *buf, size_t len)
{
	snprintf(buf, len, "%s-%s", net->envs[a].name, net->envs[b].name);
}

void aws_want_eip_name(const struct network *net, size_t e, char *buf, size_t len)
{
	snprintf(buf, len, "%s-nat", net->envs[e].name);
}

/* The peering between a and b (either direction), or NULL. */
struct aws_res *aws_want_pcx(const struct aws_run *r, size_t a, size_t b)
{
	char name[AWS_NAME_LEN];

	if (r->net->envs[a].peers & (1u << b))
		aws_want_pcx_name(r->net, a, b, name, sizeof(name));
	else
		aws_want_pcx_name(r->net, b, a, name, sizeof(name));
	return aws_kept(r, AWS_KIND_PCX, name);
}

/* The DHCP options env e hands out, in the order DescribeDhcpOptions lists them. */
size_t aws_want_options(const struct network *net, size_t e, struct aws_option *out)
{
	const struct net_env *env = &net->envs[e];
	size_t n = 0;

	for (size_t i = 0; i < env->ndns; i++) {
		snprintf(out[n].key, sizeof(out[n].key), "domain-name-servers");
		net_addr_text(env->dns[i], out[n].value, sizeof(out[n].value));
		n++;
	}
	snprintf(out[n].key, sizeof(out[n].key), "domain-name");
	snprintf(out[n].value, sizeof(out[n].value), "%s", env->zone);
	return n + 1;
}

bool aws_want_rule_eq(const struct aws_rule *a, const struct aws_rule *b)
{
	return strcmp(a->proto, b->proto) == 0 && a->from == b->from && a->to == b->to &&
	       strcmp(a->source, b->source) == 0;
}

static void add_rule(struct aws_rule *v, size_t *n, const char *proto, int port_from, int port_to,
		     const struct net_cidr *c)
{
	struct aws_rule x = {"", port_from, port_to, ""};

	snprintf(x.proto, sizeof(x.proto), "%s", proto);
	net_cidr_text(c, x.source, sizeof(x.source));
	for (size_t i = 0; i < *n; i++)
		if (aws_want_rule_eq(&v[i], &x))
			return;
	if (*n < AWS_MAX_RULES)
		v[(*n)++] = x;
}

/* Rules of ENV-TIER (tier t) or, with t == ntiers, of ENV-vpcdnsd. */
size_t aws_want_rules(const struct network *net, size_t e, size_t t, struct aws_rule *v)
{
	size_t n = 0;

	if (t == net->ntiers) {
		for (int udp = 1; udp >= 0; udp--)
			for (size_t j = 0; j < net->nenvs; j++)
				if (j == e || network_peered(net, e, j))
					add_rule(v, &n, udp ? "udp" : "tcp", 53, 53,
						 &net->envs[j].cidr);
		return n;
	}
	for (size_t i = 0; i < net->nsubnets; i++) {
		const struct net_subnet *s = &net->subnets[i];
		bool env_ok = s->env == e || (network_peered(net, e, s->env) &&
					      (net->envs[s->env].sees & (1u << e)));
		if (env_ok && (net->tiers[s->tier].sees & (1u << t)))
			add_rule(v, &n, "tcp", 0, 65535, &s->cidr);
	}
	return n;
}

/* ---- which found resource is the wanted one ---- */

/* How well x fits what is wanted: -1 not at all, higher is better. */
typedef int (*fit_fn)(const struct aws_run *r, const struct aws_res *x, const void *want);

/* Marks the found resource of kind and name that fits best as wanted. */
static struct aws_res *claim(struct aws_run *r, enum aws_kind kind, const char *name, fit_fn fit,
			     const void *want)
{
	struct aws_res *best = NULL;
	int best_score = -1;

	for (size_t i = 0; i < r->inv.n; i++) {
		struct aws_res *x = r->inv.v[i];
		int score;
		if (x->kind != kind || x->keep || strcmp(x->name, name) != 0)
			continue;
		score = fit != NULL ? fit(r, x, want) : 0;
		if (score > best_score) {
			best = x;
			best_score = score;
		}
	}
	if (best != NULL)
		best->keep = true;
	return best;
}

static int fit_vpc(const struct aws_run *r, const struct aws_res *x, const void *want)
{
	const struct net_env *env = want;
	char cidr[NET_CIDR_TEXT];
	int inside = 0;

	net_cidr_text(&env->cidr, cidr, sizeof(cidr));
	if (strcmp(x->cidr, cidr) != 0)
		return -1;
	/* Two VPCs of one name (a create retried): keep the one with more built in it. */
	for (size_t i = 0; i < r->inv.n; i++)
		inside +=
		    r->inv.v[i]->kind == AWS_KIND_SUBNET && strcmp(r->inv.v[i]->vpc, x->id) == 0;
	return inside;
}

static int fit_subnet(const struct aws_run *r, const struct aws_res *x, const void *want)
{
	const struct net_subnet *s = want;
	char cidr[NET_CIDR_TEXT];

	net_cidr_text(&s->cidr, cidr, sizeof(cidr));
	return strcmp(x->vpc, aws_kept_id(r, AWS_KIND_VPC, r->net->envs[s->env].name)) == 0 &&
		       strcmp(x->cidr, cidr) == 0 && strcmp(x->az, r->net->azs[s->az]) == 0
		   ? 0
		   : -1;
}

/* Gateways, route tables and groups: in the environment's VPC (or attached to it). */
static int fit_in_vpc(const struct aws_run *r, const struct aws_res *x, const void *want)
{
	const char *vpc = want;

	(void)r;
	if (x->kind == AWS_KIND_IGW)
		return aws_has_vpc(x, vpc) ? 1 : 0;
	return strcmp(x->vpc, vpc) == 0 ? 0 : -1;
}

static int fit_nat(const struct aws_run *r, const struct aws_res *x, const void *want)
{
	(void)r;
	if (strcmp(x->subnet, want) != 0)
		return -1;
	return strcmp(x->state, "available") == 0 ? 1 : strcmp(x->state, "pending") == 0 ? 0 : -1;
}

static int fit_eip(const struct aws_run *r, const struct aws_res *x, const void *want)
{
	const char *nat_alloc = want;

	(void)r;
	if (nat_alloc[0] != '\0')
		return strcmp(x->id, nat_alloc) == 0 ? 0 : -1;
	return x->assoc[0] == '\0' ? 0 : -1; /* free, left by an interrupted apply */
}

static int fit_dhcp(const struct aws_run *r, const struct aws_res *x, const void *want)
{
	const size_t *e = want;
	struct aws_option opts[NET_MAX_DNS + 1];
	size_t n = aws_want_options(r->net, *e, opts);
	const struct aws_res *vpc = aws_kept(r, AWS_KIND_VPC, r->net->envs[*e].name);

	if (x->noptions != n)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(x->options[i].key, opts[i].key) != 0 ||
		    strcmp(x->options[i].value, opts[i].value) != 0)
			return -1;
	return vpc != NULL && strcmp(vpc->dhcp, x->id) == 0 ? 1 : 0;
}

static int fit_pcx(const struct aws_run *r, const struct aws_res *x, const void *want)
{
	const size_t *ab = want;

	return strcmp(x->vpc, aws_kept_id(r, AWS_KIND_VPC, r->net->envs[ab[0]].name)) == 0 &&
		       strcmp(x->peer, aws_kept_id(r, AWS_KIND_VPC, r->net->envs[ab[1]].name)) == 0
		   ? 0
		   : -1;
}

static int fit_zone(const struct aws_run *r, const struct aws_res *x, const void *want)
{
	const struct net_env *env = want;

	(void)r;
	return strcmp(x->label, env->zone) == 0 ? 0 : -1;
}

static void claim_env(struct aws_run *r, size_t e)
{
	const struct network *net = r->net;
	const struct net_env *env = &net->envs[e];
	const struct net_subnet *ns = aws_want_nat_subnet(net, e);
	char name[AWS_NAME_LEN], vpc[AWS_ID_LEN];
	const struct aws_res *nat = NULL;

	claim(r, AWS_KIND_VPC, env->name, fit_vpc, env);
	snprintf(vpc, sizeof(vpc), "%s", aws_kept_id(r, AWS_KIND_VPC, env->name));
	for (size_t i = 0; i < net->nsubnets; i++)
		if (net->subnets[i].env == e)
			claim(r, AWS_KIND_SUBNET, net->subnets[i].name, fit_subnet,
			      &net->subnets[i]);
	if (aws_want_internet(net, e, NET_INTERNET_IGW))
		claim(r, AWS_KIND_IGW, env->name, fit_in_vpc, vpc);
	if (aws_want_internet(net, e, NET_INTERNET_NAT) && ns != NULL) {
		nat = claim(r, AWS_KIND_NAT, env->name, fit_nat,
			    aws_kept_id(r, AWS_KIND_SUBNET, ns->name));
		aws_want_eip_name(net, e, name, sizeof(name));
		claim(r, AWS_KIND_EIP, name, fit_eip, nat != NULL ? nat->alloc : "");
	}
	claim(r, AWS_KIND_DHCP, env->name, fit_dhcp, &e);
	for (size_t t = 0; t < net->ntiers; t++) {
		if (!aws_want_tier(net, e, t))
			continue;
		aws_want_rt_name(net, e, t, name, sizeof(name));
		claim(r, AWS_KIND_RTB, name, fit_in_vpc, vpc);
		snprintf(name, sizeof(name), "%s-%s", env->name, net->tiers[t].name);
		claim(r, AWS_KIND_SG, name, fit_in_vpc, vpc);
	}
	if (aws_want_vpcdnsd(net, e)) {
		snprintf(name, sizeof(name), "%s-vpcdnsd", env->name);
		claim(r, AWS_KIND_SG, name, fit_in_vpc, vpc);
	}
	claim(r, AWS_KIND_ZONE, env->name, fit_zone, env);
}

void aws_want_claim(struct aws_run *r)
{
	for (size_t e = 0; e < r->net->nenvs; e++)
		claim_env(r, e);
	for (size_t a = 0; a < r->net->nenvs; a++)
		for (size_t b = 0; b < r->net->nenvs; b++) {
			size_t ab[2] = {a, b};
			char name[AWS_NAME_LEN];
			if (!(r->net->envs[a].peers & (1u << b)))
				continue;
			aws_want_pcx_name(r->net, a, b, name, sizeof(name));
			claim(r, AWS_KIND_PCX, name, fit_pcx, ab);
		}
}
