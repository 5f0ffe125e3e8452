/*
 * aws_build: makes or changes what the network wants and what is missing or
 * different, in dependency order:
 *
 *   per environment: VPC (DNS support and host names on), subnets, internet
 *   gateway, Elastic IP and NAT gateway, DHCP options;
 *   peering connections (accepted, waited until active);
 *   per environment: one route table per tier with its routes and subnets,
 *   security groups; then the private hosted zones and their VPCs.
 *
 * A resource made in this run gets its parts (routes, associations, rules,
 * VPC attributes) as part of its own step; an existing one gets one step per
 * difference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contrib/provision/aws_backend.h"

/* ---- building: one environment's VPC, subnets, gateways, DHCP options ---- */

static int modify_vpc(struct aws_run *r, struct aws_res *vpc, const char *attr, bool *flag,
		      bool silent)
{
	struct aws_form f;
	char key[64], context[AWS_CONTEXT_LEN];

	if (*flag)
		return 0;
	if (!silent)
		plan_step(&r->plan, PLAN_CHANGE, "vpc", vpc->name, "%s true", attr);
	*flag = true;
	if (!aws_doing(r))
		return 0;
	aws_ec2_form_init(&f, "ModifyVpcAttribute");
	aws_ec2_form_add(&f, vpc->id, "VpcId");
	snprintf(key, sizeof(key), "%c%s.Value", attr[0] - 'a' + 'A', attr + 1);
	aws_ec2_form_add(&f, "true", "%s", key);
	snprintf(context, sizeof(context), "ModifyVpcAttribute %s %s", vpc->name, attr);
	return aws_ec2_call(r, &f, context, NULL, NULL, 0);
}

static int build_vpc(struct aws_run *r, size_t e)
{
	const struct net_env *env = &r->net->envs[e];
	struct aws_res *vpc = aws_kept(r, AWS_KIND_VPC, env->name);
	bool made = vpc == NULL;
	char cidr[NET_CIDR_TEXT], context[AWS_CONTEXT_LEN];
	struct aws_form f;

	net_cidr_text(&env->cidr, cidr, sizeof(cidr));
	if (made) {
		plan_step(&r->plan, PLAN_CREATE, "vpc", env->name, "%s", cidr);
		if ((vpc = aws_planned(r, AWS_KIND_VPC, env->name)) == NULL)
			return -1;
		snprintf(vpc->cidr, sizeof(vpc->cidr), "%s", cidr);
		if (aws_doing(r)) {
			aws_ec2_form_init(&f, "CreateVpc");
			aws_ec2_form_add(&f, cidr, "CidrBlock");
			aws_ec2_form_tags(&f, r, "vpc", env->name);
			snprintf(context, sizeof(context), "CreateVpc %s", env->name);
			if (aws_ec2_call(r, &f, context, "vpc/vpcId", vpc->id, sizeof(vpc->id)) < 0)
				return -1;
		}
	}
	/* Private hosted zones answer only in VPCs with both attributes on. */
	if (modify_vpc(r, vpc, "enableDnsSupport", &vpc->dns_support, made) < 0 ||
	    modify_vpc(r, vpc, "enableDnsHostnames", &vpc->dns_hostnames, made) < 0)
		return -1;
	return 0;
}

static int build_subnets(struct aws_run *r, size_t e)
{
	const struct network *net = r->net;
	const char *vpc = aws_kept_id(r, AWS_KIND_VPC, net->envs[e].name);

	for (size_t i = 0; i < net->nsubnets; i++) {
		const struct net_subnet *s = &net->subnets[i];
		char cidr[NET_CIDR_TEXT], context[AWS_CONTEXT_LEN];
		struct aws_res *x;
		struct aws_form f;
		if (s->env != e || aws_kept(r, AWS_KIND_SUBNET, s->name) != NULL)
			continue;
		net_cidr_text(&s->cidr, cidr, sizeof(cidr));
		plan_step(&r->plan, PLAN_CREATE, "subnet", s->name, "%s in %s", cidr,
			  net->azs[s->az]);
		if ((x = aws_planned(r, AWS_KIND_SUBNET, s->name)) == NULL)
			return -1;
		if (!aws_doing(r))
			continue;
		aws_ec2_form_init(&f, "CreateSubnet");
		aws_ec2_form_add(&f, vpc, "VpcId");
		aws_ec2_form_add(&f, cidr, "CidrBlock");
		aws_ec2_form_add(&f, net->azs[s->az], "AvailabilityZone");
		aws_ec2_form_tags(&f, r, "subnet", s->name);
		/* The tier, where vpcdns-sync's inventory looks ([sync] tier_tag, "Tier"). */
		aws_ec2_form_add(&f, "Tier", "TagSpecification.1.Tag.4.Key");
		aws_ec2_form_add(&f, net->tiers[s->tier].name, "TagSpecification.1.Tag.4.Value");
		snprintf(context, sizeof(context), "CreateSubnet %s", s->name);
		if (aws_ec2_call(r, &f, context, "subnet/subnetId", x->id, sizeof(x->id)) < 0)
			return -1;
	}
	return 0;
}

static int attach_igw(struct aws_run *r, struct aws_res *igw, const char *vpc)
{
	struct aws_form f;
	char context[AWS_CONTEXT_LEN];

	if (!aws_doing(r))
		return 0;
	aws_ec2_form_init(&f, "AttachInternetGateway");
	aws_ec2_form_add(&f, igw->id, "InternetGatewayId");
	aws_ec2_form_add(&f, vpc, "VpcId");
	snprintf(context, sizeof(context), "AttachInternetGateway %s", igw->name);
	return aws_ec2_call(r, &f, context, NULL, NULL, 0);
}

static int build_igw(struct aws_run *r, size_t e)
{
	const char *name = r->net->envs[e].name;
	struct aws_res *igw = aws_kept(r, AWS_KIND_IGW, name);
	const char *vpc = aws_kept_id(r, AWS_KIND_VPC, name);
	char context[AWS_CONTEXT_LEN];
	struct aws_form f;

	if (!aws_want_internet(r->net, e, NET_INTERNET_IGW))
		return 0;
	if (igw != NULL) {
		if (aws_has_vpc(igw, vpc) && vpc[0] != '\0')
			return 0;
		plan_step(&r->plan, PLAN_CHANGE, "internet-gateway", name, "attach to vpc %s",
			  name);
		return attach_igw(r, igw, vpc);
	}
	plan_step(&r->plan, PLAN_CREATE, "internet-gateway", name, "vpc %s", name);
	if ((igw = aws_planned(r, AWS_KIND_IGW, name)) == NULL)
		return -1;
	if (!aws_doing(r))
		return 0;
	aws_ec2_form_init(&f, "CreateInternetGateway");
	aws_ec2_form_tags(&f, r, "internet-gateway", name);
	snprintf(context, sizeof(context), "CreateInternetGateway %s", name);
	if (aws_ec2_call(r, &f, context, "internetGateway/internetGatewayId", igw->id,
			 sizeof(igw->id)) < 0)
		return -1;
	return attach_igw(r, igw, vpc);
}

/* An idempotency token that is new for each subnet and address (FNV-1a). */
static void client_token(const char *a, const char *b, const char *c, char *out, size_t len)
{
	unsigned long long h = 14695981039346656037ULL;
	const char *parts[3] = {a, b, c};

	for (int i = 0; i < 3; i++)
		for (const char *p = parts[i]; *p != '\0'; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	snprintf(out, len, "vpcdns-%016llx", h);
}

static int build_eip(struct aws_run *r, size_t e)
{
	char name[AWS_NAME_LEN], context[AWS_CONTEXT_LEN];
	struct aws_res *eip;
	struct aws_form f;

	aws_want_eip_name(r->net, e, name, sizeof(name));
	if (aws_kept(r, AWS_KIND_EIP, name) != NULL)
		return 0;
	plan_step(&r->plan, PLAN_CREATE, "elastic-ip", name, "for nat-gateway %s",
		  r->net->envs[e].name);
	if ((eip = aws_planned(r, AWS_KIND_EIP, name)) == NULL)
		return -1;
	if (!aws_doing(r))
		return 0;
	aws_ec2_form_init(&f, "AllocateAddress");
	aws_ec2_form_add(&f, "vpc", "Domain");
	aws_ec2_form_tags(&f, r, "elastic-ip", name);
	snprintf(context, sizeof(context), "AllocateAddress %s", name);
	return aws_ec2_call(r, &f, context, "allocationId", eip->id, sizeof(eip->id));
}

static int build_nat(struct aws_run *r, size_t e)
{
	const char *name = r->net->envs[e].name;
	const struct net_subnet *ns = aws_want_nat_subnet(r->net, e);
	struct aws_res *nat = aws_kept(r, AWS_KIND_NAT, name);
	char eip[AWS_NAME_LEN], token[64], context[AWS_CONTEXT_LEN];
	struct aws_form f;

	if (!aws_want_internet(r->net, e, NET_INTERNET_NAT) || ns == NULL)
		return 0;
	if (nat == NULL) {
		const char *subnet = aws_kept_id(r, AWS_KIND_SUBNET, ns->name);
		if (build_eip(r, e) < 0)
			return -1;
		aws_want_eip_name(r->net, e, eip, sizeof(eip));
		plan_step(&r->plan, PLAN_CREATE, "nat-gateway", name, "in %s, address %s", ns->name,
			  eip);
		if ((nat = aws_planned(r, AWS_KIND_NAT, name)) == NULL)
			return -1;
		if (!aws_doing(r))
			return 0;
		client_token(subnet, aws_kept_id(r, AWS_KIND_EIP, eip), r->net->stack, token,
			     sizeof(token));
		aws_ec2_form_init(&f, "CreateNatGateway");
		aws_ec2_form_add(&f, subnet, "SubnetId");
		aws_ec2_form_add(&f, aws_kept_id(r, AWS_KIND_EIP, eip), "AllocationId");
		aws_ec2_form_add(&f, token, "ClientToken");
		aws_ec2_form_tags(&f, r, "natgateway", name);
		snprintf(context, sizeof(context), "CreateNatGateway %s", name);
		if (aws_ec2_call(r, &f, context, "natGateway/natGatewayId", nat->id,
				 sizeof(nat->id)) < 0)
			return -1;
	}
	if (!aws_doing(r) || strcmp(nat->state, "available") == 0)
		return 0;
	if (aws_ec2_wait(r, AWS_KIND_NAT, nat->id, "available") < 0)
		return -1;
	snprintf(nat->state, sizeof(nat->state), "available");
	return 0;
}

static void options_text(const struct aws_option *o, size_t n, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++) {
		bool same = i > 0 && strcmp(o[i].key, o[i - 1].key) == 0;
		used += (size_t)snprintf(buf + used, len - used, "%s%s%s%s",
					 i == 0 ? ""
					 : same ? ", "
						: "; ",
					 same ? "" : o[i].key, same ? "" : " ", o[i].value);
	}
}

static int create_dhcp(struct aws_run *r, size_t e, struct aws_res *x, const struct aws_option *o,
		       size_t n)
{
	struct aws_form f;
	char context[AWS_CONTEXT_LEN];
	int key = 0, value = 0;

	aws_ec2_form_init(&f, "CreateDhcpOptions");
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || strcmp(o[i].key, o[i - 1].key) != 0) {
			aws_ec2_form_add(&f, o[i].key, "DhcpConfiguration.%d.Key", ++key);
			value = 0;
		}
		aws_ec2_form_add(&f, o[i].value, "DhcpConfiguration.%d.Value.%d", key, ++value);
	}
	aws_ec2_form_tags(&f, r, "dhcp-options", r->net->envs[e].name);
	snprintf(context, sizeof(context), "CreateDhcpOptions %s", r->net->envs[e].name);
	return aws_ec2_call(r, &f, context, "dhcpOptions/dhcpOptionsId", x->id, sizeof(x->id));
}

/* DHCP options are immutable: a change is a new set, associated; the old one goes later. */
static int build_dhcp(struct aws_run *r, size_t e)
{
	const char *name = r->net->envs[e].name;
	struct aws_res *x = aws_kept(r, AWS_KIND_DHCP, name),
		       *vpc = aws_kept(r, AWS_KIND_VPC, name);
	struct aws_option o[NET_MAX_DNS + 1];
	size_t n = aws_want_options(r->net, e, o);
	char text[512], context[AWS_CONTEXT_LEN];
	struct aws_form f;
	bool made = x == NULL;

	if (made) {
		bool replaces = false;
		for (size_t i = 0; i < r->inv.n; i++)
			replaces |= r->inv.v[i]->kind == AWS_KIND_DHCP && !r->inv.v[i]->gone &&
				    strcmp(r->inv.v[i]->name, name) == 0;
		options_text(o, n, text, sizeof(text));
		plan_step(&r->plan, replaces ? PLAN_CHANGE : PLAN_CREATE, "dhcp-options", name,
			  "%s", text);
		if ((x = aws_planned(r, AWS_KIND_DHCP, name)) == NULL)
			return -1;
		if (aws_doing(r) && create_dhcp(r, e, x, o, n) < 0)
			return -1;
	}
	if (strcmp(vpc->dhcp, x->id) == 0 && x->id[0] != '\0')
		return 0;
	if (!made)
		plan_step(&r->plan, PLAN_CHANGE, "dhcp-options", name, "associate with vpc %s",
			  name);
	snprintf(vpc->dhcp, sizeof(vpc->dhcp), "%s", x->id);
	if (!aws_doing(r))
		return 0;
	aws_ec2_form_init(&f, "AssociateDhcpOptions");
	aws_ec2_form_add(&f, x->id, "DhcpOptionsId");
	aws_ec2_form_add(&f, vpc->id, "VpcId");
	snprintf(context, sizeof(context), "AssociateDhcpOptions %s", name);
	return aws_ec2_call(r, &f, context, NULL, NULL, 0);
}

/* ---- building: peering ---- */

static int accept_pcx(struct aws_run *r, struct aws_res *x)
{
	struct aws_form f;
	char context[AWS_CONTEXT_LEN];

	snprintf(context, sizeof(context), "AcceptVpcPeeringConnection %s", x->name);
	if (aws_ec2_wait(r, AWS_KIND_PCX, x->id, "pending-acceptance|provisioning|active") < 0)
		return -1;
	aws_ec2_form_init(&f, "AcceptVpcPeeringConnection");
	aws_ec2_form_add(&f, x->id, "VpcPeeringConnectionId");
	if (aws_ec2_call(r, &f, context, NULL, NULL, 0) < 0)
		return -1;
	snprintf(x->state, sizeof(x->state), "provisioning");
	return 0;
}

static int build_pcx(struct aws_run *r, size_t a, size_t b)
{
	const struct network *net = r->net;
	char name[AWS_NAME_LEN], context[AWS_CONTEXT_LEN];
	struct aws_res *x;
	struct aws_form f;

	aws_want_pcx_name(net, a, b, name, sizeof(name));
	x = aws_kept(r, AWS_KIND_PCX, name);
	if (x == NULL) {
		plan_step(&r->plan, PLAN_CREATE, "peering", name, "vpc %s to vpc %s",
			  net->envs[a].name, net->envs[b].name);
		if ((x = aws_planned(r, AWS_KIND_PCX, name)) == NULL)
			return -1;
		if (!aws_doing(r))
			return 0;
		aws_ec2_form_init(&f, "CreateVpcPeeringConnection");
		aws_ec2_form_add(&f, aws_kept_id(r, AWS_KIND_VPC, net->envs[a].name), "VpcId");
		aws_ec2_form_add(&f, aws_kept_id(r, AWS_KIND_VPC, net->envs[b].name), "PeerVpcId");
		aws_ec2_form_tags(&f, r, "vpc-peering-connection", name);
		snprintf(context, sizeof(context), "CreateVpcPeeringConnection %s", name);
		if (aws_ec2_call(r, &f, context, "vpcPeeringConnection/vpcPeeringConnectionId",
				 x->id, sizeof(x->id)) < 0 ||
		    accept_pcx(r, x) < 0)
			return -1;
	} else if (strcmp(x->state, "pending-acceptance") == 0 ||
		   strcmp(x->state, "initiating-request") == 0) {
		plan_step(&r->plan, PLAN_CHANGE, "peering", name, "accept");
		if (aws_doing(r) && accept_pcx(r, x) < 0)
			return -1;
	}
	if (!aws_doing(r) || strcmp(x->state, "active") == 0)
		return 0;
	if (aws_ec2_wait(r, AWS_KIND_PCX, x->id, "active") < 0)
		return -1;
	snprintf(x->state, sizeof(x->state), "active");
	return 0;
}

/* ---- building: route tables ---- */

struct want_route {
	char dest[NET_CIDR_TEXT];
	char target[AWS_ID_LEN];
	char label[AWS_NAME_LEN + 24]; /* "internet-gateway production" */
};

static size_t want_routes(const struct aws_run *r, size_t e, size_t t, struct want_route *v)
{
	const struct network *net = r->net;
	const char *env = net->envs[e].name;
	size_t n = 0;

	if (net->tiers[t].internet != NET_INTERNET_NONE) {
		bool igw = net->tiers[t].internet == NET_INTERNET_IGW;
		snprintf(v[n].dest, sizeof(v[n].dest), "0.0.0.0/0");
		snprintf(v[n].target, sizeof(v[n].target), "%s",
			 aws_kept_id(r, igw ? AWS_KIND_IGW : AWS_KIND_NAT, env));
		snprintf(v[n].label, sizeof(v[n].label), "%s %s",
			 igw ? "internet-gateway" : "nat-gateway", env);
		n++;
	}
	for (size_t j = 0; j < net->nenvs; j++) {
		const struct aws_res *pcx;
		if (j == e || !network_peered(net, e, j))
			continue;
		pcx = aws_want_pcx(r, e, j);
		net_cidr_text(&net->envs[j].cidr, v[n].dest, sizeof(v[n].dest));
		snprintf(v[n].target, sizeof(v[n].target), "%s", pcx != NULL ? pcx->id : "");
		snprintf(v[n].label, sizeof(v[n].label), "peering %s",
			 pcx != NULL ? pcx->name : net->envs[j].name);
		n++;
	}
	return n;
}

static int route_call(struct aws_run *r, const char *action, const struct aws_res *rtb,
		      const char *dest, const char *target)
{
	struct aws_form f;
	char context[AWS_CONTEXT_LEN];

	if (!aws_doing(r))
		return 0;
	aws_ec2_form_init(&f, action);
	aws_ec2_form_add(&f, rtb->id, "RouteTableId");
	aws_ec2_form_add(&f, dest, "DestinationCidrBlock");
	if (strncmp(target, "igw-", 4) == 0)
		aws_ec2_form_add(&f, target, "GatewayId");
	else if (strncmp(target, "nat-", 4) == 0)
		aws_ec2_form_add(&f, target, "NatGatewayId");
	else if (strncmp(target, "pcx-", 4) == 0)
		aws_ec2_form_add(&f, target, "VpcPeeringConnectionId");
	snprintf(context, sizeof(context), "%s %s %s", action, rtb->name, dest);
	return aws_ec2_call(r, &f, context, NULL, NULL, 0);
}

static const struct aws_route *find_route(const struct aws_res *rtb, const char *dest)
{
	for (size_t i = 0; i < rtb->nroutes; i++)
		if (strcmp(rtb->routes[i].dest, dest) == 0)
			return &rtb->routes[i];
	return NULL;
}

static bool route_wanted(const struct want_route *w, size_t n, const struct aws_route *x)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(w[i].dest, x->dest) == 0)
			return true;
	return false;
}

/* Routes of a route table: made, replaced or deleted (silently when the table is new). */
static int sync_routes(struct aws_run *r, struct aws_res *rtb, size_t e, size_t t, bool made)
{
	struct want_route w[NET_MAX_ENVS + 1];
	size_t n = want_routes(r, e, t, w);

	for (size_t i = 0; i < n; i++) {
		const struct aws_route *x = find_route(rtb, w[i].dest);
		bool same = x != NULL && strcmp(x->target, w[i].target) == 0 &&
			    strcmp(x->state, "blackhole") != 0 && w[i].target[0] != '\0';
		if (same)
			continue;
		if (!made)
			plan_step(&r->plan, x != NULL ? PLAN_CHANGE : PLAN_CREATE, "route",
				  rtb->name, "%s via %s", w[i].dest, w[i].label);
		if (route_call(r, x != NULL ? "ReplaceRoute" : "CreateRoute", rtb, w[i].dest,
			       w[i].target) < 0)
			return -1;
	}
	for (size_t i = 0; i < rtb->nroutes; i++) {
		const struct aws_route *x = &rtb->routes[i];
		if (strcmp(x->target, "local") == 0 || route_wanted(w, n, x))
			continue;
		plan_step(&r->plan, PLAN_DELETE, "route", rtb->name, "%s via %s", x->dest,
			  x->target);
		if (route_call(r, "DeleteRoute", rtb, x->dest, "") < 0)
			return -1;
	}
	return 0;
}

/* The stack's route table a subnet is associated with, and which association. */
static struct aws_res *assoc_of(const struct aws_run *r, const char *subnet, size_t *which)
{
	for (size_t i = 0; i < r->inv.n; i++) {
		struct aws_res *x = r->inv.v[i];
		if (x->kind != AWS_KIND_RTB || x->gone)
			continue;
		for (size_t k = 0; k < x->nassocs; k++)
			if (strcmp(x->assocs[k].subnet, subnet) == 0) {
				*which = k;
				return x;
			}
	}
	return NULL;
}

static int associate(struct aws_run *r, struct aws_res *rtb, const struct net_subnet *s, bool made)
{
	const char *subnet = aws_kept_id(r, AWS_KIND_SUBNET, s->name);
	size_t k = 0;
	struct aws_res *old = subnet[0] != '\0' ? assoc_of(r, subnet, &k) : NULL;
	char context[AWS_CONTEXT_LEN];
	struct aws_form f;

	if (old == rtb && rtb->id[0] != '\0')
		return 0;
	if (!made)
		plan_step(&r->plan, old != NULL ? PLAN_CHANGE : PLAN_CREATE, "association", s->name,
			  "route-table %s", rtb->name);
	if (!aws_doing(r))
		return 0;
	snprintf(context, sizeof(context), "AssociateRouteTable %s %s", rtb->name, s->name);
	if (old != NULL) {
		aws_ec2_form_init(&f, "ReplaceRouteTableAssociation");
		aws_ec2_form_add(&f, old->assocs[k].id, "AssociationId");
		old->assocs[k].subnet[0] = '\0';
	} else {
		aws_ec2_form_init(&f, "AssociateRouteTable");
		aws_ec2_form_add(&f, subnet, "SubnetId");
	}
	aws_ec2_form_add(&f, rtb->id, "RouteTableId");
	return aws_ec2_call(r, &f, context, NULL, NULL, 0);
}

static int build_rtb(struct aws_run *r, size_t e, size_t t)
{
	const struct network *net = r->net;
	char name[AWS_NAME_LEN], context[AWS_CONTEXT_LEN];
	struct aws_res *rtb;
	struct aws_form f;
	bool made;

	aws_want_rt_name(net, e, t, name, sizeof(name));
	rtb = aws_kept(r, AWS_KIND_RTB, name);
	made = rtb == NULL;
	if (made) {
		plan_step(&r->plan, PLAN_CREATE, "route-table", name, "vpc %s, %s subnets",
			  net->envs[e].name, net->tiers[t].name);
		if ((rtb = aws_planned(r, AWS_KIND_RTB, name)) == NULL)
			return -1;
		if (aws_doing(r)) {
			aws_ec2_form_init(&f, "CreateRouteTable");
			aws_ec2_form_add(&f, aws_kept_id(r, AWS_KIND_VPC, net->envs[e].name),
					 "VpcId");
			aws_ec2_form_tags(&f, r, "route-table", name);
			snprintf(context, sizeof(context), "CreateRouteTable %s", name);
			if (aws_ec2_call(r, &f, context, "routeTable/routeTableId", rtb->id,
					 sizeof(rtb->id)) < 0)
				return -1;
		}
	}
	if (sync_routes(r, rtb, e, t, made) < 0)
		return -1;
	for (size_t i = 0; i < net->nsubnets; i++)
		if (net->subnets[i].env == e && net->subnets[i].tier == t &&
		    associate(r, rtb, &net->subnets[i], made) < 0)
			return -1;
	return 0;
}

/* ---- building: security groups ---- */

static void rules_text(const struct aws_rule *v, size_t n, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++) {
		bool same = i > 0 && strcmp(v[i].proto, v[i - 1].proto) == 0 &&
			    v[i].from == v[i - 1].from && v[i].to == v[i - 1].to;
		if (same)
			used += (size_t)snprintf(buf + used, len - used, ", %s", v[i].source);
		else if (v[i].from == v[i].to)
			used +=
			    (size_t)snprintf(buf + used, len - used, "%s%s %d from %s",
					     i > 0 ? "; " : "", v[i].proto, v[i].from, v[i].source);
		else
			used += (size_t)snprintf(buf + used, len - used, "%s%s %d-%d from %s",
						 i > 0 ? "; " : "", v[i].proto, v[i].from, v[i].to,
						 v[i].source);
	}
}

/* AuthorizeSecurityGroupIngress or RevokeSecurityGroupIngress for rules v. */
static int rules_call(struct aws_run *r, const char *action, const struct aws_res *sg,
		      const struct aws_rule *v, size_t n)
{
	struct aws_form f;
	char context[AWS_CONTEXT_LEN], port[16];

	if (n == 0 || !aws_doing(r))
		return 0;
	aws_ec2_form_init(&f, action);
	aws_ec2_form_add(&f, sg->id, "GroupId");
	for (size_t i = 0; i < n; i++) {
		int k = (int)i + 1;
		aws_ec2_form_add(&f, v[i].proto, "IpPermissions.%d.IpProtocol", k);
		if (v[i].from >= 0) {
			snprintf(port, sizeof(port), "%d", v[i].from);
			aws_ec2_form_add(&f, port, "IpPermissions.%d.FromPort", k);
			snprintf(port, sizeof(port), "%d", v[i].to);
			aws_ec2_form_add(&f, port, "IpPermissions.%d.ToPort", k);
		}
		if (strncmp(v[i].source, "sg-", 3) == 0)
			aws_ec2_form_add(&f, v[i].source, "IpPermissions.%d.Groups.1.GroupId", k);
		else
			aws_ec2_form_add(&f, v[i].source, "IpPermissions.%d.IpRanges.1.CidrIp", k);
	}
	snprintf(context, sizeof(context), "%s %s", action, sg->name);
	return aws_ec2_call(r, &f, context, NULL, NULL, 0);
}

static bool rule_in(const struct aws_rule *v, size_t n, const struct aws_rule *x)
{
	for (size_t i = 0; i < n; i++)
		if (aws_want_rule_eq(&v[i], x))
			return true;
	return false;
}

/* Authorizes what is missing, revokes what is not wanted; one step for both. */
static int sync_rules(struct aws_run *r, const struct aws_res *sg, const struct aws_rule *want,
		      size_t nwant, bool made)
{
	struct aws_rule *add = calloc(nwant + 1, sizeof(*add));
	struct aws_rule *drop = calloc(sg->nrules + 1, sizeof(*drop));
	size_t nadd = 0, ndrop = 0;
	char a[400], d[400];
	int rc = -1;

	if (add == NULL || drop == NULL)
		goto out;
	for (size_t i = 0; i < nwant; i++)
		if (!rule_in(sg->rules, sg->nrules, &want[i]))
			add[nadd++] = want[i];
	for (size_t i = 0; i < sg->nrules; i++)
		if (!rule_in(want, nwant, &sg->rules[i]))
			drop[ndrop++] = sg->rules[i];
	rules_text(add, nadd, a, sizeof(a));
	rules_text(drop, ndrop, d, sizeof(d));
	if (!made && nadd + ndrop > 0)
		plan_step(&r->plan, PLAN_CHANGE, "security-group", sg->name, "%s%s%s%s%s",
			  nadd > 0 ? "allow " : "", a, nadd > 0 && ndrop > 0 ? "; " : "",
			  ndrop > 0 ? "revoke " : "", d);
	if (rules_call(r, "RevokeSecurityGroupIngress", sg, drop, ndrop) < 0 ||
	    rules_call(r, "AuthorizeSecurityGroupIngress", sg, add, nadd) < 0)
		goto out;
	rc = 0;
out:
	free(add);
	free(drop);
	return rc;
}

/* Group ENV-TIER (t < ntiers) or ENV-vpcdnsd (t == ntiers). */
static int build_sg(struct aws_run *r, size_t e, size_t t)
{
	const struct network *net = r->net;
	struct aws_rule *want = calloc(AWS_MAX_RULES, sizeof(*want));
	size_t n = want != NULL ? aws_want_rules(net, e, t, want) : 0;
	char name[AWS_NAME_LEN], desc[AWS_CONTEXT_LEN], text[400], context[AWS_CONTEXT_LEN];
	struct aws_res *sg;
	struct aws_form f;
	int rc = -1;

	snprintf(name, sizeof(name), "%s-%s", net->envs[e].name,
		 t < net->ntiers ? net->tiers[t].name : "vpcdnsd");
	sg = aws_kept(r, AWS_KIND_SG, name);
	if (want == NULL)
		goto out;
	if (sg == NULL) {
		rules_text(want, n, text, sizeof(text));
		plan_step(&r->plan, PLAN_CREATE, "security-group", name, "%s",
			  n > 0 ? text : "no ingress");
		if ((sg = aws_planned(r, AWS_KIND_SG, name)) == NULL)
			goto out;
		if (aws_doing(r)) {
			snprintf(desc, sizeof(desc), "vpcdns %s: %s", net->stack, name);
			aws_ec2_form_init(&f, "CreateSecurityGroup");
			aws_ec2_form_add(&f, name, "GroupName");
			aws_ec2_form_add(&f, desc, "GroupDescription");
			aws_ec2_form_add(&f, aws_kept_id(r, AWS_KIND_VPC, net->envs[e].name),
					 "VpcId");
			aws_ec2_form_tags(&f, r, "security-group", name);
			snprintf(context, sizeof(context), "CreateSecurityGroup %s", name);
			if (aws_ec2_call(r, &f, context, "groupId", sg->id, sizeof(sg->id)) < 0)
				goto out;
		}
		rc = sync_rules(r, sg, want, n, true);
		goto out;
	}
	rc = sync_rules(r, sg, want, n, false);
out:
	free(want);
	return rc;
}

/* ---- building: hosted zones ---- */

static int build_zone(struct aws_run *r, size_t e)
{
	const struct network *net = r->net;
	const struct net_env *env = &net->envs[e];
	struct aws_res *z = aws_kept(r, AWS_KIND_ZONE, env->name);
	const char *own = aws_kept_id(r, AWS_KIND_VPC, env->name);
	bool made = z == NULL;

	if (made) {
		char vpcs[512];
		size_t used = (size_t)snprintf(vpcs, sizeof(vpcs), "%s", env->name);
		for (size_t k = 0; k < net->nenvs && used < sizeof(vpcs); k++)
			if (k != e && (net->envs[k].sees & (1u << e)))
				used += (size_t)snprintf(vpcs + used, sizeof(vpcs) - used, ", %s",
							 net->envs[k].name);
		plan_step(&r->plan, PLAN_CREATE, "hosted-zone", env->name, "%s, vpc %s", env->zone,
			  vpcs);
		if ((z = aws_planned(r, AWS_KIND_ZONE, env->name)) == NULL)
			return -1;
		snprintf(z->label, sizeof(z->label), "%s", env->zone);
		if (aws_doing(r) && aws_zone_create(r, z, own) < 0)
			return -1;
	} else if (!z->tagged) {
		plan_step(&r->plan, PLAN_CHANGE, "hosted-zone", env->name, "tag vpcdns:stack %s",
			  net->stack);
		if (aws_doing(r) && aws_zone_tag(r, z) < 0)
			return -1;
	}
	/* Its own VPC, then every environment that sees it; the extra ones after. */
	for (size_t j = 0; j <= net->nenvs; j++) {
		size_t k = j == 0 ? e : j - 1;
		const char *vpc = aws_kept_id(r, AWS_KIND_VPC, net->envs[k].name);
		if ((j > 0 && (k == e || !(net->envs[k].sees & (1u << e)))) ||
		    (aws_has_vpc(z, vpc) && vpc[0] != '\0') || (made && k == e))
			continue;
		if (!made)
			plan_step(&r->plan, PLAN_CHANGE, "hosted-zone", env->name,
				  "associate vpc %s", net->envs[k].name);
		if (aws_doing(r) && aws_zone_associate(r, z, vpc) < 0)
			return -1;
	}
	for (size_t i = 0; i < z->nvpcs; i++) {
		bool wanted = false;
		for (size_t k = 0; k < net->nenvs; k++)
			wanted |= (k == e || (net->envs[k].sees & (1u << e))) &&
				  strcmp(z->vpcs[i],
					 aws_kept_id(r, AWS_KIND_VPC, net->envs[k].name)) == 0;
		if (wanted)
			continue;
		plan_step(&r->plan, PLAN_CHANGE, "hosted-zone", env->name, "disassociate %s",
			  z->vpcs[i]);
		if (aws_doing(r) && aws_zone_disassociate(r, z, z->vpcs[i]) < 0)
			return -1;
	}
	return 0;
}

/* ---- the whole build ---- */

static int build_env(struct aws_run *r, size_t e)
{
	if (build_vpc(r, e) < 0 || build_subnets(r, e) < 0 || build_igw(r, e) < 0 ||
	    build_nat(r, e) < 0 || build_dhcp(r, e) < 0)
		return -1;
	return 0;
}

int aws_build(struct aws_run *r)
{
	const struct network *net = r->net;

	for (size_t e = 0; e < net->nenvs; e++)
		if (build_env(r, e) < 0)
			return -1;
	for (size_t a = 0; a < net->nenvs; a++)
		for (size_t b = 0; b < net->nenvs; b++)
			if ((net->envs[a].peers & (1u << b)) && build_pcx(r, a, b) < 0)
				return -1;
	for (size_t e = 0; e < net->nenvs; e++) {
		for (size_t t = 0; t < net->ntiers; t++)
			if (aws_want_tier(net, e, t) &&
			    (build_rtb(r, e, t) < 0 || build_sg(r, e, t) < 0))
				return -1;
		if (aws_want_vpcdnsd(net, e) && build_sg(r, e, net->ntiers) < 0)
			return -1;
	}
	for (size_t e = 0; e < net->nenvs; e++)
		if (build_zone(r, e) < 0)
			return -1;
	return 0;
}
