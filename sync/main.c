/*
 * vpcdns-sync: keeps synced zones in step with Route 53 and the VPC inventory
 * (EC2 instances, RDS databases), writes each as a snapshot and tells vpcdnsd
 * to reload.
 * Never replaces good data with empty or partial data: any failed call
 * leaves the zone's previous snapshot as it was.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "conf/config.h"
#include "conf/log.h"
#include "sync/aws.h"
#include "sync/inventory.h"
#include "sync/records.h"
#include "sync/route53.h"
#include "sync/snapshot.h"
#include "zones/dns.h"
#include "zones/zone.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

struct options {
	const char *config;
	bool once, dry_run, force, status;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: vpcdns-sync [-c FILE] [--once] [--dry-run] [--force] [--status] [-d]\n"
		"  -c FILE    configuration (default " CONFIG_DEFAULT_PATH ")\n"
		"  --once     sync every zone once, print the changes, exit\n"
		"  --dry-run  with --once: show the changes, write nothing\n"
		"  --force    write even past the max_delete_ratio guard\n"
		"  --status   print the last sync of each zone and exit\n"
		"  -d         debug logging\n");
	exit(1);
}

/* ---- the zone's own file, as records ---- */

struct file_walk {
	const struct zone *zone;
	struct records *out;
	int failed;
};

static void file_node(const struct zone_node *node, void *arg)
{
	struct file_walk *w = arg;

	for (size_t s = 0; s < node->nrrsets; s++) {
		const struct zone_rrset *set = &node->rrsets[s];
		for (size_t i = 0; i < set->count; i++) {
			uint8_t wire[65536 + 2];
			size_t pos = 0;
			ldns_rr *rr = ldns_rr_new();
			char *text, *f[5], *save = NULL;
			int nf = 0;
			if (rr == NULL) {
				w->failed = 1;
				return;
			}
			ldns_rr_set_owner(rr, ldns_dname_new_frm_data(node->name_len, node->name));
			ldns_rr_set_type(rr, (ldns_rr_type)set->type);
			ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
			ldns_rr_set_ttl(rr, set->ttl);
			dns_put16(wire, set->rdata[i]->len);
			memcpy(wire + 2, set->rdata[i]->data, set->rdata[i]->len);
			if (ldns_wire2rdf(rr, wire, set->rdata[i]->len + 2u, &pos) !=
			    LDNS_STATUS_OK) {
				ldns_rr_free(rr);
				continue;
			}
			text = ldns_rr2str(rr);
			ldns_rr_free(rr);
			if (text == NULL)
				continue;
			/* "owner\tttl\tIN\tTYPE\trdata\n" */
			text[strcspn(text, "\n")] = '\0';
			for (char *t = strtok_r(text, "\t", &save); t != NULL && nf < 5;
			     t = strtok_r(NULL, nf == 4 ? "" : "\t", &save))
				f[nf++] = t;
			if (nf == 5 && strcmp(f[3], "SOA") != 0 &&
			    records_add(w->out, f[0], (uint32_t)strtoul(f[1], NULL, 10), f[3], f[4],
					SOURCE_FILE) < 0)
				w->failed = 1;
			free(text);
		}
	}
}

static int file_records(const struct config_zone *cz, struct records *out, char *err, size_t errlen)
{
	struct zone *z = zone_load(cz->name, cz->file, err, errlen);
	struct file_walk w = {z, out, 0};

	if (z == NULL)
		return -1;
	zone_foreach(z, file_node, &w);
	zone_unref(z);
	if (w.failed) {
		snprintf(err, errlen, "%s: out of memory", cz->file);
		return -1;
	}
	return 0;
}

/* ---- status beside the snapshot ---- */

/* What one source of a zone did in the last attempt. */
struct source_status {
	bool used;
	const char *state; /* "ok", "failed", "not reached" */
	size_t records;
	struct aws_stats aws;
	char error[300];
};

enum { SRC_FILE, SRC_ROUTE53, SRC_INVENTORY, NSRC };

struct zone_status {
	time_t attempt, success;
	size_t records, added, removed, problems;
	uint32_t serial;
	struct aws_stats aws;
	char error[600];
	struct source_status src[NSRC];
};

static const char *const src_names[NSRC] = {"file", "route53", "inventory"};

/* Notes how a source went: records it added, AWS calls it made since before. */
static void source_done(struct zone_status *st, int src, int rc, size_t records,
			const struct aws_stats *before, struct aws_client *aws, const char *err)
{
	struct aws_stats now;

	aws_client_stats(aws, &now);
	st->src[src].used = true;
	st->src[src].state = rc == 0 ? "ok" : "failed";
	st->src[src].records = records;
	st->src[src].aws.calls = now.calls - before->calls;
	st->src[src].aws.retries = now.retries - before->retries;
	st->src[src].aws.throttles = now.throttles - before->throttles;
	if (rc != 0)
		snprintf(st->src[src].error, sizeof(st->src[src].error), "%.290s", err);
}

static void read_status_time(const char *path, const char *key, time_t *out)
{
	FILE *f = fopen(path, "r");
	char line[700];
	size_t klen = strlen(key);

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == '=')
			*out = (time_t)strtoll(line + klen + 1, NULL, 10);
	fclose(f);
}

static void write_status(const struct config *c, const char *zone, const struct zone_status *s)
{
	char path[4096], tmp[4200], when[64], ok[64];
	FILE *f;
	struct tm tm;

	snapshot_path(c->state_dir, zone, ".status", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL) {
		log_warn("status %s", tmp);
		return;
	}
	gmtime_r(&s->attempt, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	ok[0] = '\0';
	if (s->success != 0) {
		gmtime_r(&s->success, &tm);
		strftime(ok, sizeof(ok), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	fprintf(f,
		"zone=%s\nlast_attempt=%lld\nlast_attempt_time=%s\nlast_success=%lld\n"
		"last_success_time=%s\nok=%s\nrecords=%zu\nserial=%u\nadded=%zu\nremoved=%zu\n"
		"skipped_records=%zu\napi_calls=%lu\napi_retries=%lu\napi_throttles=%lu\n"
		"last_error=%s\n",
		zone, (long long)s->attempt, when, (long long)s->success, ok,
		s->error[0] == '\0' ? "yes" : "no", s->records, s->serial, s->added, s->removed,
		s->problems, s->aws.calls, s->aws.retries, s->aws.throttles, s->error);
	for (int i = 0; i < NSRC; i++) {
		const struct source_status *ss = &s->src[i];
		if (!ss->used)
			continue;
		fprintf(f,
			"%s_state=%s\n%s_records=%zu\n%s_api_calls=%lu\n%s_api_throttles=%lu\n"
			"%s_last_error=%s\n",
			src_names[i], ss->state, src_names[i], ss->records, src_names[i],
			ss->aws.calls, src_names[i], ss->aws.throttles, src_names[i], ss->error);
	}
	fclose(f);
	rename(tmp, path);
}

static int print_status(const struct config *c)
{
	for (size_t i = 0; i < c->nzones; i++) {
		char path[4096], line[700];
		FILE *f;
		if (!config_zone_synced(&c->zones[i]))
			continue;
		snapshot_path(c->state_dir, c->zones[i].name, ".status", path, sizeof(path));
		f = fopen(path, "r");
		printf("[%s]\n", c->zones[i].name);
		if (f == NULL) {
			printf("never synced (%s)\n\n", path);
			continue;
		}
		while (fgets(line, sizeof(line), f) != NULL)
			fputs(line, stdout);
		fclose(f);
		putchar('\n');
	}
	return 0;
}

/* ---- one zone ---- */

/* True when owner ("a.b.zone.", final dot) lies in zone ("zone"). */
static bool owner_in(const char *owner, const char *zone)
{
	size_t o = strlen(owner), z = strlen(zone);

	if (o == z + 1)
		return strncmp(owner, zone, z) == 0;
	return o > z + 1 && owner[o - z - 2] == '.' && strncmp(owner + o - z - 1, zone, z) == 0;
}

/* The most specific configured zone holding owner, or NULL. */
static const struct config_zone *zone_of(const struct config *c, const char *owner)
{
	const struct config_zone *best = NULL;

	for (size_t i = 0; i < c->nzones; i++)
		if (owner_in(owner, c->zones[i].name) &&
		    (best == NULL || strlen(c->zones[i].name) > strlen(best->name)))
			best = &c->zones[i];
	return best;
}

static bool same_route53(const struct config_zone *a, const struct config_zone *b)
{
	return a->route53 != NULL && b->route53 != NULL && strcmp(a->route53, b->route53) == 0;
}

/*
 * The zone named like the hosted zone cz->route53 reads: the topmost
 * configured zone above cz (or cz) reading the same one. A tier zone that
 * reads its environment's hosted zone takes only the names below it.
 */
static const struct config_zone *route53_home(const struct config *c, const struct config_zone *cz)
{
	const struct config_zone *home = cz;

	for (size_t i = 0; i < c->nzones; i++) {
		char owner[300];
		snprintf(owner, sizeof(owner), "%s.", cz->name);
		if (same_route53(&c->zones[i], cz) && owner_in(owner, c->zones[i].name) &&
		    strlen(c->zones[i].name) < strlen(home->name))
			home = &c->zones[i];
	}
	return home;
}

struct placing {
	const struct config *c;
	const struct config_zone *cz;
};

/*
 * A record goes to the most specific configured zone holding its name, as
 * vpcdnsd answers. Route 53 records that zone reads too are left to it quietly;
 * anything else would never be answered, so it is reported.
 */
static enum records_fate place_record(void *arg, const char *owner, enum record_source source,
				      char *why, size_t whylen)
{
	const struct placing *p = arg;
	const struct config_zone *best = zone_of(p->c, owner);

	if (best == p->cz)
		return RECORDS_KEEP;
	if (best != NULL && source == SOURCE_ROUTE53 && same_route53(best, p->cz))
		return RECORDS_SKIP;
	if (best == NULL || !owner_in(owner, p->cz->name))
		snprintf(why, whylen, "outside the zone %s", p->cz->name);
	else
		snprintf(why, whylen,
			 "below zone %s, which vpcdnsd serves on its own: give that zone "
			 "this source too",
			 best->name);
	return RECORDS_REPORT;
}

/*
 * One sync cycle reads each hosted zone once, however many configured zones
 * (an environment's and its tiers') take records from it.
 */
static struct route53_cached {
	char id[128];
	struct records recs;
} r53_cache[32];
static size_t r53_ncached;

static void r53_cache_clear(void)
{
	for (size_t i = 0; i < r53_ncached; i++)
		records_free(&r53_cache[i].recs);
	r53_ncached = 0;
}

static int fetch_route53(const struct config *c, const struct config_zone *cz,
			 struct aws_client *aws, const char *id, struct records *out,
			 struct aws_error *e)
{
	struct route53_cached *hit = NULL;
	struct records fresh;

	for (size_t i = 0; i < r53_ncached; i++)
		if (strcmp(r53_cache[i].id, id) == 0)
			hit = &r53_cache[i];
	if (hit == NULL) {
		records_init(&fresh);
		if (route53_fetch(aws, id, route53_home(c, cz)->name, aws_client_region(aws),
				  c->sync_interval < 60 ? c->sync_interval : 60, &fresh, e) < 0) {
			records_free(&fresh);
			return -1;
		}
		if (r53_ncached == sizeof(r53_cache) / sizeof(r53_cache[0]))
			return records_take(out, &fresh) < 0 ? -1 : 0;
		hit = &r53_cache[r53_ncached++];
		snprintf(hit->id, sizeof(hit->id), "%s", id);
		hit->recs = fresh;
	}
	for (size_t i = 0; i < hit->recs.n; i++) {
		const struct record *r = &hit->recs.v[i];
		if (records_add(out, r->owner, r->ttl, r->type, r->rdata, r->source) < 0)
			return -1;
	}
	/* A problem ("owner TYPE: why") is told by the zone that would have held it. */
	for (size_t i = 0; i < hit->recs.nproblems; i++) {
		char owner[300];
		if (sscanf(hit->recs.problems[i], "%299s", owner) == 1 && zone_of(c, owner) == cz)
			records_problem(out, "%s", hit->recs.problems[i]);
	}
	return 0;
}

static int sync_zone(const struct config *c, const struct config_zone *cz, struct aws_client *aws,
		     const struct options *o, bool *changed)
{
	struct records recs;
	struct zone_status st;
	struct aws_error e;
	struct aws_stats before, after;
	char err[1024] = "", spath[4096];
	int rc = -1;

	memset(&st, 0, sizeof(st));
	st.attempt = time(NULL);
	snapshot_path(c->state_dir, cz->name, ".status", spath, sizeof(spath));
	read_status_time(spath, "last_success", &st.success);
	records_init(&recs);
	aws_client_stats(aws, &before);
	if (cz->file != NULL) {
		int frc = file_records(cz, &recs, err, sizeof(err));
		source_done(&st, SRC_FILE, frc, recs.n, &before, aws, err);
		if (frc < 0)
			goto out;
	}
	if (cz->route53 != NULL)
		st.src[SRC_ROUTE53] = (struct source_status){true, "not reached", 0, {0}, ""};
	if (cz->inventory != NULL)
		st.src[SRC_INVENTORY] = (struct source_status){true, "not reached", 0, {0}, ""};
	if (cz->route53 != NULL) {
		char id[128];
		struct aws_stats b;
		size_t n0 = recs.n;
		aws_client_stats(aws, &b);
		if (strcmp(cz->route53, "auto") == 0) {
			if (c->sync_vpc == NULL) {
				snprintf(err, sizeof(err),
					 "route53 = auto needs [sync] vpc (the VPC the zone is "
					 "associated with)");
				goto out;
			}
			if (route53_find_zone(aws, cz->name, c->sync_vpc, aws_client_region(aws),
					      id, sizeof(id), &e) < 0) {
				snprintf(err, sizeof(err), "route53: %s: %s", e.code, e.message);
				goto out;
			}
		} else {
			snprintf(id, sizeof(id), "%s", cz->route53);
		}
		if (fetch_route53(c, cz, aws, id, &recs, &e) < 0) {
			snprintf(err, sizeof(err), "route53 %s: %s: %s", id, e.code, e.message);
			source_done(&st, SRC_ROUTE53, -1, 0, &b, aws, err);
			goto out;
		}
		source_done(&st, SRC_ROUTE53, 0, recs.n - n0, &b, aws, "");
	}
	if (cz->inventory != NULL) {
		struct inventory_policy ip = {cz->name,    cz->inventory,     c->tier_tag,
					      cz->tiers,   cz->instance_name, cz->address_name,
					      cz->id_name, cz->db_name,       cz->inventory_ttl};
		struct aws_stats b;
		size_t n0 = recs.n;
		aws_client_stats(aws, &b);
		if (inventory_fetch(aws, &ip, &recs, &e) < 0) {
			snprintf(err, sizeof(err), "inventory %s: %s: %s", cz->inventory, e.code,
				 e.message);
			source_done(&st, SRC_INVENTORY, -1, 0, &b, aws, err);
			goto out;
		}
		source_done(&st, SRC_INVENTORY, 0, recs.n - n0, &b, aws, "");
	}
	records_place(&recs, place_record, &(struct placing){c, cz});
	records_normalize(&recs, cz->name);
	for (size_t i = 0; i < recs.nproblems; i++)
		log_warnx("zone %s: skipped %s", cz->name, recs.problems[i]);
	st.problems = recs.nproblems;
	{
		struct snapshot_opts so = {c->state_dir,           cz->name, cz->negative_ttl,
					   c->max_delete_percent,  o->force, o->dry_run,
					   o->once ? stdout : NULL};
		struct snapshot_result res;
		if (o->once)
			printf("zone %s:\n", cz->name);
		if (snapshot_update(&so, &recs, &res, err, sizeof(err)) < 0)
			goto out;
		st.records = res.total;
		st.added = res.added;
		st.removed = res.removed;
		st.serial = res.serial;
		*changed |= res.written;
		if (o->once)
			printf("zone %s: %zu records, +%zu -%zu%s\n", cz->name, res.total,
			       res.added, res.removed,
			       !res.changed ? ", unchanged"
			       : o->dry_run ? " (dry run: not written)"
					    : "");
		log_info("zone %s: %zu records, +%zu -%zu, serial %u%s", cz->name, res.total,
			 res.added, res.removed, res.serial, res.written ? ", written" : "");
	}
	st.success = st.attempt;
	rc = 0;
out:
	aws_client_stats(aws, &after);
	st.aws.calls = after.calls - before.calls;
	st.aws.retries = after.retries - before.retries;
	st.aws.throttles = after.throttles - before.throttles;
	if (rc < 0) {
		snprintf(st.error, sizeof(st.error), "%.590s", err);
		log_errx("zone %s: sync failed, the previous snapshot stays (%s)", cz->name, err);
	}
	if (!o->dry_run)
		write_status(c, cz->name, &st);
	records_free(&recs);
	return rc;
}

/* vpcdnsd learns of new snapshots by SIGHUP, found through its pidfile. */
static void reload_vpcdnsd(const struct config *c)
{
	FILE *f;
	long pid = 0;

	if (c->pidfile == NULL) {
		log_info("snapshots changed; set [server] pidfile so vpcdnsd is told to reload");
		return;
	}
	f = fopen(c->pidfile, "r");
	if (f == NULL || fscanf(f, "%ld", &pid) != 1 || pid <= 1) {
		log_warnx("pidfile %s: no vpcdnsd to reload", c->pidfile);
		if (f != NULL)
			fclose(f);
		return;
	}
	fclose(f);
	{
		/* A stale pidfile may name another process by now: only signal a vpcdnsd. */
		char path[64], comm[64] = "";
		FILE *cf;
		snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
		cf = fopen(path, "r");
		if (cf != NULL) {
			if (fgets(comm, sizeof(comm), cf) == NULL)
				comm[0] = '\0';
			fclose(cf);
		}
		comm[strcspn(comm, "\n")] = '\0';
		if (strcmp(comm, "vpcdnsd") != 0) {
			log_warnx("pidfile %s: process %ld is not vpcdnsd (stale pidfile)",
				  c->pidfile, pid);
			return;
		}
	}
	if (kill((pid_t)pid, SIGHUP) < 0)
		log_warn("reload vpcdnsd (pid %ld)", pid);
	else
		log_info("told vpcdnsd (pid %ld) to reload", pid);
}

static struct aws_client *make_client(const struct config *c)
{
	struct aws_settings s;
	char err[256];
	struct aws_client *aws;

	memset(&s, 0, sizeof(s));
	s.region = c->aws_region;
	s.profile = c->aws_profile;
	s.role_arn = c->aws_role_arn;
	s.endpoint_url = c->aws_endpoint_url;
	s.service_endpoint[AWS_ROUTE53] = c->aws_route53_endpoint_url;
	s.service_endpoint[AWS_EC2] = c->aws_ec2_endpoint_url;
	s.service_endpoint[AWS_RDS] = c->aws_rds_endpoint_url;
	s.service_endpoint[AWS_STS] = c->aws_sts_endpoint_url;
	s.imds_endpoint_url = c->aws_imds_endpoint_url;
	s.max_attempts = c->aws_max_attempts;
	s.route53_rate = c->aws_route53_rate;
	aws = aws_client_new(&s, err, sizeof(err));
	if (aws == NULL)
		log_errx("%s", err);
	return aws;
}

static void sleep_interval(unsigned seconds)
{
	uint32_t r = 0;
	/* A tenth of jitter, so that many instances do not call AWS in step. */
	unsigned ms = seconds * 1000, jitter = ms / 10;

	if (getrandom(&r, sizeof(r), 0) == sizeof(r) && jitter > 0)
		ms = ms - jitter + r % (2 * jitter);
	for (unsigned slept = 0; slept < ms && !stop_requested; slept += 100) {
		struct timespec ts = {0, 100 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"once", no_argument, NULL, 'o'},         {"dry-run", no_argument, NULL, 'n'},
	    {"force", no_argument, NULL, 'f'},        {"status", no_argument, NULL, 's'},
	    {"config", required_argument, NULL, 'c'}, {NULL, 0, NULL, 0}};
	struct options o = {CONFIG_DEFAULT_PATH, false, false, false, false};
	enum log_level level = LOG_LEVEL_INFO;
	static char err[16384];
	int opt, failures = 0;
	unsigned retry_s = 0;

	while ((opt = getopt_long(argc, argv, "c:dh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			o.config = optarg;
			break;
		case 'o':
			o.once = true;
			break;
		case 'n':
			o.dry_run = true;
			break;
		case 'f':
			o.force = true;
			break;
		case 's':
			o.status = true;
			break;
		case 'd':
			level = LOG_LEVEL_DEBUG;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || (o.dry_run && !o.once))
		usage();
	log_init("vpcdns-sync", level);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);

	for (bool first = true; !stop_requested; first = false) {
		struct config *c = NULL;
		struct aws_client *aws;
		bool changed = false;
		size_t synced = 0;

		if (config_load(o.config, &c, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s", err);
			if (first || o.once)
				return 1;
			sleep_interval(60);
			continue;
		}
		if (o.status) {
			print_status(c);
			config_free(c);
			return 0;
		}
		if (!o.dry_run && mkdir(c->state_dir, 0755) < 0 && errno != EEXIST) {
			log_err("state_dir %s", c->state_dir);
			config_free(c);
			return 1;
		}
		route53_set_resolver(c->sync_resolver);
		aws = make_client(c);
		if (aws == NULL) {
			config_free(c);
			return 1;
		}
		failures = 0;
		r53_cache_clear();
		for (size_t i = 0; i < c->nzones && !stop_requested; i++) {
			if (!config_zone_synced(&c->zones[i]))
				continue;
			synced++;
			if (sync_zone(c, &c->zones[i], aws, &o, &changed) < 0)
				failures++;
		}
		if (synced == 0)
			log_info("no zone has route53 or inventory: nothing to sync");
		r53_cache_clear();
		if (changed)
			reload_vpcdnsd(c);
		aws_client_free(aws);
		if (o.once) {
			route53_set_resolver(NULL);
			config_free(c);
			return failures > 0 ? 1 : 0;
		}
		/*
		 * A failed zone is tried again sooner, backing off from 5 s up to the
		 * interval (a throttled or offline start-up); vpcdnsd serves meanwhile.
		 */
		{
			unsigned interval = c->sync_interval;
			if (failures > 0) {
				retry_s = retry_s == 0 ? 5 : retry_s * 2;
				if (retry_s < interval)
					interval = retry_s;
			} else {
				retry_s = 0;
			}
			route53_set_resolver(NULL);
			config_free(c);
			sleep_interval(interval);
		}
	}
	return 0;
}
