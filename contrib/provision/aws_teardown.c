/*
 * aws_teardown: deletes what the network no longer wants, in the order AWS
 * allows: route table associations, routes and peering, NAT gateways (waited
 * until deleted), addresses, internet gateways, security groups, subnets,
 * route tables, DHCP options (the VPC back on "default" first), hosted zones,
 * VPCs last.
 */
#include <stdio.h>
#include <string.h>

#include "contrib/provision/aws_backend.h"

static bool going(const struct aws_res *x)
{
	return !x->keep && !x->gone;
}

static const char *label(const struct aws_res *x)
{
	return x->name[0] != '\0' ? x->name : "(no vpcdns:name)";
}

static struct aws_res *by_id(const struct aws_run *r, enum aws_kind kind, const char *id)
{
	for (size_t i = 0; i < r->inv.n; i++) {
		struct aws_res *x = r->inv.v[i];
		if (x->kind == kind && !x->gone && strcmp(x->id, id) == 0)
			return x;
	}
	return NULL;
}

static bool id_going(const struct aws_run *r, enum aws_kind kind, const char *id)
{
	const struct aws_res *x = by_id(r, kind, id);

	return x != NULL && going(x);
}

/* One call with one id parameter (and an optional second one); nothing in plan mode. */
static int call2(struct aws_run *r, const char *action, const char *context, const char *k1,
		 const char *v1, const char *k2, const char *v2)
{
	struct aws_form f;
	char ctx[AWS_CONTEXT_LEN];

	if (!aws_doing(r))
		return 0;
	aws_ec2_form_init(&f, action);
	aws_ec2_form_add(&f, v1, "%s", k1);
	if (k2 != NULL)
		aws_ec2_form_add(&f, v2, "%s", k2);
	snprintf(ctx, sizeof(ctx), "%s %s", action, context);
	return aws_ec2_call(r, &f, ctx, NULL, NULL, 0);
}

/* The step and the Delete call of one resource. */
static int delete_one(struct aws_run *r, struct aws_res *x, const char *kind, const char *action,
		      const char *param)
{
	plan_step(&r->plan, PLAN_DELETE, kind, label(x), "%s", x->id);
	x->gone = true;
	return call2(r, action, label(x), param, x->id, NULL, NULL);
}

/* Kept zones let go of VPCs about to be deleted (never their last one). */
static int release_zone_vpcs(struct aws_run *r)
{
	for (size_t i = 0; i < r->inv.n; i++) {
		struct aws_res *z = r->inv.v[i];
		size_t staying = 0;
		if (z->kind != AWS_KIND_ZONE || !z->keep || z->gone)
			continue;
		for (size_t k = 0; k < z->nvpcs; k++)
			staying += !id_going(r, AWS_KIND_VPC, z->vpcs[k]);
		for (size_t k = 0; k < z->nvpcs && staying > 0;) {
			if (!id_going(r, AWS_KIND_VPC, z->vpcs[k])) {
				k++;
				continue;
			}
			plan_step(&r->plan, PLAN_CHANGE, "hosted-zone", label(z), "disassociate %s",
				  z->vpcs[k]);
			if (aws_doing(r) && aws_zone_disassociate(r, z, z->vpcs[k]) < 0)
				return -1;
			memmove(z->vpcs[k], z->vpcs[k + 1],
				(z->nvpcs - k - 1) * sizeof(z->vpcs[0]));
			z->nvpcs--;
		}
	}
	return 0;
}

/* Associations of route tables or subnets about to be deleted (part of their delete). */
static int disassociate_rtbs(struct aws_run *r)
{
	for (size_t i = 0; i < r->inv.n; i++) {
		struct aws_res *x = r->inv.v[i];
		if (x->kind != AWS_KIND_RTB || x->gone)
			continue;
		for (size_t k = 0; k < x->nassocs; k++) {
			struct aws_assoc *a = &x->assocs[k];
			if (a->main || a->subnet[0] == '\0' ||
			    (!going(x) && !id_going(r, AWS_KIND_SUBNET, a->subnet)))
				continue;
			if (call2(r, "DisassociateRouteTable", label(x), "AssociationId", a->id,
				  NULL, NULL) < 0)
				return -1;
			a->subnet[0] = '\0';
		}
	}
	return 0;
}

/* Routes of kept route tables through gateways and peerings about to be deleted. */
static int drop_routes(struct aws_run *r)
{
	for (size_t i = 0; i < r->inv.n; i++) {
		struct aws_res *x = r->inv.v[i];
		if (x->kind != AWS_KIND_RTB || !x->keep || x->gone)
			continue;
		for (size_t k = 0; k < x->nroutes;) {
			const struct aws_route *rt = &x->routes[k];
			if (!id_going(r, AWS_KIND_PCX, rt->target) &&
			    !id_going(r, AWS_KIND_NAT, rt->target) &&
			    !id_going(r, AWS_KIND_IGW, rt->target)) {
				k++;
				continue;
			}
			plan_step(&r->plan, PLAN_DELETE, "route", label(x), "%s via %s", rt->dest,
				  rt->target);
			if (call2(r, "DeleteRoute", label(x), "RouteTableId", x->id,
				  "DestinationCidrBlock", rt->dest) < 0)
				return -1;
			x->routes[k] = x->routes[--x->nroutes];
		}
	}
	return 0;
}

/* NAT gateways: deleted, then waited for, so their addresses and subnets can go. */
static int delete_nats(struct aws_run *r)
{
	for (size_t i = 0; i < r->inv.n; i++) {
		struct aws_res *x = r->inv.v[i];
		if (x->kind != AWS_KIND_NAT || !going(x))
			continue;
		if (strcmp(x->state, "deleting") == 0) {
			x->gone = true; /* already on its way: only waited for */
			continue;
		}
		if (delete_one(r, x, "nat-gateway", "DeleteNatGateway", "NatGatewayId") < 0)
			return -1;
	}
	for (size_t i = 0; i < r->inv.n && aws_doing(r); i++) {
		struct aws_res *x = r->inv.v[i];
		if (x->kind == AWS_KIND_NAT && x->gone && !x->keep &&
		    aws_ec2_wait(r, AWS_KIND_NAT, x->id, "deleted") < 0)
			return -1;
	}
	return 0;
}

static int delete_igws(struct aws_run *r)
{
	for (size_t i = 0; i < r->inv.n; i++) {
		struct aws_res *x = r->inv.v[i];
		if (x->kind != AWS_KIND_IGW || x->gone)
			continue;
		for (size_t k = 0; k < x->nvpcs; k++) {
			if (!going(x) && !id_going(r, AWS_KIND_VPC, x->vpcs[k]))
				continue;
			if (!going(x))
				plan_step(&r->plan, PLAN_CHANGE, "internet-gateway", label(x),
					  "detach from %s", x->vpcs[k]);
			if (call2(r, "DetachInternetGateway", label(x), "InternetGatewayId", x->id,
				  "VpcId", x->vpcs[k]) < 0)
				return -1;
			x->vpcs[k][0] = '\0';
		}
		if (going(x) && delete_one(r, x, "internet-gateway", "DeleteInternetGateway",
					   "InternetGatewayId") < 0)
			return -1;
	}
	return 0;
}

/* DHCP options: their VPCs go back to "default" first (a kept VPC only when final). */
static int delete_dhcp(struct aws_run *r, bool final)
{
	for (size_t i = 0; i < r->inv.n; i++) {
		struct aws_res *x = r->inv.v[i];
		bool in_use = false;
		if (x->kind != AWS_KIND_DHCP || !going(x))
			continue;
		for (size_t k = 0; k < r->inv.n; k++) {
			const struct aws_res *v = r->inv.v[k];
			in_use |= v->kind == AWS_KIND_VPC && v->keep && strcmp(v->dhcp, x->id) == 0;
		}
		if (in_use && !final)
			continue; /* the network's new options are associated first */
		for (size_t k = 0; k < r->inv.n; k++) {
			struct aws_res *v = r->inv.v[k];
			if (v->kind != AWS_KIND_VPC || v->gone || strcmp(v->dhcp, x->id) != 0)
				continue;
			if (call2(r, "AssociateDhcpOptions", label(v), "DhcpOptionsId", "default",
				  "VpcId", v->id) < 0)
				return -1;
			snprintf(v->dhcp, sizeof(v->dhcp), "default");
		}
		if (delete_one(r, x, "dhcp-options", "DeleteDhcpOptions", "DhcpOptionsId") < 0)
			return -1;
	}
	return 0;
}

static int delete_zones(struct aws_run *r)
{
	for (size_t i = 0; i < r->inv.n; i++) {
		struct aws_res *z = r->inv.v[i];
		if (z->kind != AWS_KIND_ZONE || !going(z))
			continue;
		plan_step(&r->plan, PLAN_DELETE, "hosted-zone", label(z), "%s, %s", z->label,
			  z->id);
		z->gone = true;
		if (aws_doing(r) && aws_zone_delete(r, z) < 0)
			return -1;
	}
	return 0;
}

/* Every resource of kind that is going, with its Delete call. */
static int delete_kind(struct aws_run *r, enum aws_kind kind, const char *text, const char *action,
		       const char *param)
{
	for (size_t i = 0; i < r->inv.n; i++) {
		struct aws_res *x = r->inv.v[i];
		if (x->kind == kind && going(x) && delete_one(r, x, text, action, param) < 0)
			return -1;
	}
	return 0;
}

int aws_teardown(struct aws_run *r, bool final)
{
	if (release_zone_vpcs(r) < 0 || disassociate_rtbs(r) < 0 || drop_routes(r) < 0)
		return -1;
	if (delete_kind(r, AWS_KIND_PCX, "peering", "DeleteVpcPeeringConnection",
			"VpcPeeringConnectionId") < 0 ||
	    delete_nats(r) < 0 ||
	    delete_kind(r, AWS_KIND_EIP, "elastic-ip", "ReleaseAddress", "AllocationId") < 0 ||
	    delete_igws(r) < 0)
		return -1;
	if (delete_kind(r, AWS_KIND_SG, "security-group", "DeleteSecurityGroup", "GroupId") < 0 ||
	    delete_kind(r, AWS_KIND_SUBNET, "subnet", "DeleteSubnet", "SubnetId") < 0 ||
	    delete_kind(r, AWS_KIND_RTB, "route-table", "DeleteRouteTable", "RouteTableId") < 0)
		return -1;
	if (delete_dhcp(r, final) < 0 || delete_zones(r) < 0)
		return -1;
	return delete_kind(r, AWS_KIND_VPC, "vpc", "DeleteVpc", "VpcId");
}
