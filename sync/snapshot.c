#include "sync/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void snapshot_path(const char *dir, const char *zone, const char *suffix, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s%s", dir, zone, suffix);
}

struct lines {
	char **v;
	size_t n, cap;
};

static int lines_add(struct lines *l, const char *s, size_t len)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		char **grown = realloc(l->v, cap * sizeof(*grown));
		if (grown == NULL)
			return -1;
		l->v = grown;
		l->cap = cap;
	}
	l->v[l->n] = strndup(s, len);
	if (l->v[l->n] == NULL)
		return -1;
	l->n++;
	return 0;
}

static void lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The record lines of the current snapshot (our own format: one record a line) and its serial. */
static int read_old(const char *path, struct lines *l, uint32_t *serial, unsigned *soa_ttl,
		    unsigned *soa_min)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	*serial = 0;
	if (f == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((n = getline(&line, &cap, f)) > 0) {
		char owner[1100], type[16];
		unsigned ttl, ser;
		if (line[0] == ';' || line[0] == '$' || line[0] == '\n')
			continue;
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (sscanf(line, "%1099s %u IN %15s", owner, &ttl, type) == 3 &&
		    strcmp(type, "SOA") == 0) {
			const char *p = strstr(line, "SOA");
			char mname[1100], rname[1100];
			unsigned refresh, retry, expire, minimum;
			if (p != NULL && sscanf(p + 3, "%1099s %1099s %u %u %u %u %u", mname, rname,
						&ser, &refresh, &retry, &expire, &minimum) == 7) {
				*serial = ser;
				*soa_min = minimum;
			}
			*soa_ttl = ttl;
			continue;
		}
		if (lines_add(l, line, (size_t)n) < 0) {
			free(line);
			fclose(f);
			return -1;
		}
	}
	free(line);
	fclose(f);
	qsort(l->v, l->n, sizeof(*l->v), cmp_str);
	return 0;
}

static int write_file(const struct snapshot_opts *o, const struct lines *cur, uint32_t serial,
		      const char *mname, char *err, size_t errlen)
{
	char path[4096], tmp[4200];
	int fd, dfd;
	FILE *f;

	snapshot_path(o->dir, o->zone, ".zone", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot create (%s)", tmp, strerror(errno));
		return -1;
	}
	fchmod(fd, 0644);
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		unlink(tmp);
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	fprintf(f, "; %s: written by vpcdns-sync; changes here are overwritten.\n", o->zone);
	fprintf(f, "$ORIGIN %s.\n", o->zone);
	/* RFC 2308: the SOA's TTL and MINIMUM both say how long a name may stay NXDOMAIN. */
	fprintf(f, "%s.\t%u\tIN\tSOA\t%s hostmaster.%s. %u 3600 600 1209600 %u\n", o->zone,
		o->negative_ttl, mname, o->zone, serial, o->negative_ttl);
	for (size_t i = 0; i < cur->n; i++)
		fprintf(f, "%s\n", cur->v[i]);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0 || ferror(f)) {
		snprintf(err, errlen, "%s: write failed (%s)", tmp, strerror(errno));
		fclose(f);
		unlink(tmp);
		return -1;
	}
	fclose(f);
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "%s: rename failed (%s)", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	/* The rename is durable once the folder is on disk too. */
	dfd = open(o->dir, O_RDONLY | O_DIRECTORY);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int snapshot_update(const struct snapshot_opts *o, const struct records *recs,
		    struct snapshot_result *res, char *err, size_t errlen)
{
	struct lines old = {0}, cur = {0};
	char path[4096], mname[1100] = "localhost.";
	uint32_t old_serial;
	unsigned soa_ttl = 0, soa_min = 0;
	bool have_ns = false;
	size_t below_apex = 0; /* records of the new zone other than its apex's */
	int rc = -1;

	memset(res, 0, sizeof(*res));
	snapshot_path(o->dir, o->zone, ".zone", path, sizeof(path));
	if (read_old(path, &old, &old_serial, &soa_ttl, &soa_min) < 0) {
		snprintf(err, errlen, "%s: cannot read (%s)", path, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < recs->n; i++) {
		const struct record *r = &recs->v[i];
		char line[8192];
		int n;
		if (strcmp(r->type, "SOA") == 0)
			continue;
		below_apex += strlen(r->owner) != strlen(o->zone) + 1;
		if (strcmp(r->type, "NS") == 0 && strlen(r->owner) == strlen(o->zone) + 1) {
			if (!have_ns)
				snprintf(mname, sizeof(mname), "%s", r->rdata);
			have_ns = true;
		}
		n = snprintf(line, sizeof(line), "%s\t%u\tIN\t%s\t%s", r->owner, r->ttl, r->type,
			     r->rdata);
		if (n < 0 || (size_t)n >= sizeof(line) || lines_add(&cur, line, (size_t)n) < 0)
			goto oom;
	}
	if (!have_ns) {
		/* vpcdnsd wants NS at the apex; a private zone has no other servers to name. */
		char line[1200];
		int n = snprintf(line, sizeof(line), "%s.\t%u\tIN\tNS\tlocalhost.", o->zone, 3600);
		if (lines_add(&cur, line, (size_t)n) < 0)
			goto oom;
	}
	qsort(cur.v, cur.n, sizeof(*cur.v), cmp_str);
	res->total = cur.n;
	/* Both lists are sorted: one merge walk gives the diff. */
	for (size_t i = 0, j = 0; i < old.n || j < cur.n;) {
		int c = i >= old.n ? 1 : j >= cur.n ? -1 : strcmp(old.v[i], cur.v[j]);
		if (c < 0) {
			res->removed++;
			if (o->diff != NULL)
				fprintf(o->diff, "-%s\n", old.v[i]);
			i++;
		} else if (c > 0) {
			res->added++;
			if (o->diff != NULL)
				fprintf(o->diff, "+%s\n", cur.v[j]);
			j++;
		} else {
			i++;
			j++;
		}
	}
	/* A new negative_ttl is a change too: it lives in the SOA. */
	res->changed = res->added > 0 || res->removed > 0 || access(path, F_OK) != 0 ||
		       soa_ttl != o->negative_ttl || soa_min != o->negative_ttl;
	res->serial = old_serial;
	if (!res->changed) {
		rc = 0;
		goto out;
	}
	/*
	 * A small zone is exempt (as octoDNS does it): removing one of three
	 * instances is ordinary scale-in, not a sign of a partial listing. Left
	 * with nothing below its apex, it is guarded all the same.
	 */
	if ((old.n >= SNAPSHOT_GUARD_MIN || below_apex == 0) && !o->force &&
	    res->removed * 100 > (size_t)o->max_delete_percent * old.n) {
		snprintf(err, errlen,
			 "zone %s: refusing to delete %zu of %zu records (more than "
			 "max_delete_ratio %u%%); run with --force if this is intended",
			 o->zone, res->removed, old.n, o->max_delete_percent);
		goto out;
	}
	res->serial = old_serial + 1;
	if (res->serial < (uint32_t)time(NULL))
		res->serial = (uint32_t)time(NULL);
	if (o->dry_run) {
		rc = 0;
		goto out;
	}
	if (write_file(o, &cur, res->serial, mname, err, errlen) < 0)
		goto out;
	res->written = true;
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "zone %s: out of memory", o->zone);
out:
	lines_free(&old);
	lines_free(&cur);
	return rc;
}
