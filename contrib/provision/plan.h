/*
 * plan: what a backend would create, change or delete, printed the same way by
 * every backend. A backend compares what it wants with what it finds (by the
 * vpcdns:stack and vpcdns:name tags on AWS, by namespaces and state files in
 * the lab) and records one step per difference; `plan` prints them, `apply`
 * and `destroy` print each as they carry it out.
 *
 *   + create vpc production (10.1.0.0/16)
 *   ~ change dhcp-options production (domain-name-servers 10.1.10.53)
 *   - delete subnet production-public-2 (subnet-0abc)
 *   Plan: 12 to create, 1 to change, 3 to delete.
 */
#ifndef PROVISION_PLAN_H
#define PROVISION_PLAN_H

#include <stdio.h>

enum plan_op { PLAN_CREATE = '+', PLAN_CHANGE = '~', PLAN_DELETE = '-' };

struct plan {
	FILE *out;
	unsigned created, changed, deleted;
};

/* Prints one step ("+ create KIND NAME (DETAIL)") and counts it. */
void plan_step(struct plan *p, enum plan_op op, const char *kind, const char *name,
	       const char *detail_fmt, ...) __attribute__((format(printf, 5, 6)));

/* Prints the totals line; "No changes." when nothing was recorded. */
void plan_summary(const struct plan *p, const char *verb);

#endif
