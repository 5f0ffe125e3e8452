/* plan: steps printed the same way by every backend (see plan.h). */
#include <stdarg.h>
#include <stdio.h>

#include "contrib/provision/plan.h"

void plan_step(struct plan *p, enum plan_op op, const char *kind, const char *name,
	       const char *detail_fmt, ...)
{
	const char *verb = op == PLAN_CREATE ? "create" : op == PLAN_CHANGE ? "change" : "delete";
	char detail[512] = "";
	va_list ap;

	if (detail_fmt != NULL) {
		va_start(ap, detail_fmt);
		vsnprintf(detail, sizeof(detail), detail_fmt, ap);
		va_end(ap);
	}
	if (op == PLAN_CREATE)
		p->created++;
	else if (op == PLAN_CHANGE)
		p->changed++;
	else
		p->deleted++;
	fprintf(p->out, "%c %s %s %s%s%s%s\n", (char)op, verb, kind, name,
		detail[0] != '\0' ? " (" : "", detail, detail[0] != '\0' ? ")" : "");
	fflush(p->out);
}

void plan_summary(const struct plan *p, const char *verb)
{
	if (p->created + p->changed + p->deleted == 0) {
		fprintf(p->out, "No changes.\n");
		return;
	}
	fprintf(p->out, "%s: %u to create, %u to change, %u to delete.\n", verb, p->created,
		p->changed, p->deleted);
}
