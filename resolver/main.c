/*
 * vpcdnsd: the vpcdns DNS server. Runs in the foreground (systemd style) and
 * logs to stderr. SIGHUP reloads the config and zones; SIGTERM stops.
 */
#include <errno.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf/config.h"
#include "conf/log.h"
#include "resolver/forward.h"
#include "resolver/server.h"
#include "zones/zonedb.h"

#define ERR_LEN 16384

static void usage(void)
{
	fprintf(stderr, "usage: vpcdnsd [-t] [-d] [-c FILE]\n"
			"  -c FILE  configuration (default " CONFIG_DEFAULT_PATH ")\n"
			"  -t       check the configuration and zones, print a summary, exit\n"
			"  -d       debug logging\n"
			"  -V       print the version\n");
	exit(1);
}

/* Prints each "file:line: message" line of err at error level. */
static void log_lines(const char *prefix, const char *err)
{
	const char *p = err;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		int n = nl != NULL ? (int)(nl - p) : (int)strlen(p);
		if (n > 0)
			log_errx("%s%.*s", prefix, n, p);
		p += n + (nl != NULL);
	}
}

static struct view *view_load(const char *path, const struct view *old, char *err, size_t errlen)
{
	struct view *v = calloc(1, sizeof(*v));

	if (v == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (config_load(path, &v->config, err, errlen) < 0) {
		free(v);
		return NULL;
	}
	v->zones = zonedb_build(v->config, old != NULL ? old->zones : NULL, err, errlen);
	if (v->zones == NULL) {
		config_free(v->config);
		free(v);
		return NULL;
	}
	if (v->config->recursion && v->config->nforwards > 0) {
		v->forwards = forward_table_build(v->config, err, errlen);
		if (v->forwards == NULL) {
			view_free(v);
			return NULL;
		}
	}
	if (v->config->identity[0] != '\0')
		snprintf(v->identity, sizeof(v->identity), "%s", v->config->identity);
	else if (gethostname(v->identity, sizeof(v->identity) - 1) < 0)
		snprintf(v->identity, sizeof(v->identity), "vpcdnsd");
	return v;
}

static void print_summary(const struct view *v)
{
	size_t records = 0, zones = 0, local = 0;

	for (size_t i = 0; i < zonedb_count(v->zones); i++) {
		if (zonedb_entry(v->zones, i)->local) {
			local++;
			continue;
		}
		zones++;
		if (zonedb_entry(v->zones, i)->zone != NULL)
			records += zone_record_count(zonedb_entry(v->zones, i)->zone);
	}
	printf("%s: ok: %zu zones, %zu records, %zu listeners, %u workers\n", v->config->path,
	       zones, records, v->config->nlisten, v->config->workers);
	for (size_t i = 0; i < zonedb_count(v->zones); i++) {
		const struct zone *z = zonedb_entry(v->zones, i)->zone;
		if (zonedb_entry(v->zones, i)->local)
			continue;
		if (z == NULL) {
			printf("zone %.*s: no data yet (waiting for vpcdns-sync)\n",
			       (int)strlen(v->config->zones[i].name), v->config->zones[i].name);
			continue;
		}
		printf("zone %s: serial %u, %zu records%s%s\n", zone_name(z), zone_serial(z),
		       zone_record_count(z), zone_file(z) ? ", file " : " (synthesized)",
		       zone_file(z) ? zone_file(z) : "");
	}
	for (size_t i = 0; i < v->config->nlisten; i++) {
		char buf[80];
		netaddr_format(&v->config->listen[i], buf, sizeof(buf));
		printf("listen %s udp+tcp\n", buf);
	}
	for (size_t i = 0; i < v->config->nforwards; i++) {
		const struct config_forward *f = &v->config->forwards[i];
		printf("forward %s: %zu upstreams, policy %s%s\n", f->name, f->nupstreams,
		       f->policy, v->config->recursion ? "" : " (recursion = no: unused)");
	}
	if (local > 0)
		printf("local zones: %zu private reverse zones answered here (RFC 6303)\n", local);
}

static int drop_privileges(const char *user)
{
	struct passwd *pw;

	if (user == NULL || user[0] == '\0' || geteuid() != 0)
		return 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		log_errx("user %s: no such user", user);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		log_err("dropping privileges to %s", user);
		return -1;
	}
	log_info("running as %s", user);
	return 0;
}

struct daemon_state {
	const char *path;
	struct event_base *base;
	struct server *server;
};

static void on_stats(evutil_socket_t sig, short what, void *arg)
{
	struct daemon_state *d = arg;

	(void)sig;
	(void)what;
	server_log_stats(d->server);
}

static void on_reload(evutil_socket_t sig, short what, void *arg)
{
	struct daemon_state *d = arg;
	struct view *old = server_current_view(), *v;
	static char err[ERR_LEN];

	(void)sig;
	(void)what;
	log_info("reload: reading %s", d->path);
	v = view_load(d->path, old, err, sizeof(err));
	if (v == NULL) {
		log_lines("reload failed, still serving the previous zones: ", err);
		return;
	}
	if (v->config->nlisten != old->config->nlisten ||
	    memcmp(v->config->listen, old->config->listen,
		   v->config->nlisten * sizeof(v->config->listen[0])) != 0 ||
	    v->config->workers != old->config->workers)
		log_warnx("reload: listen and workers changes take effect after a restart");
	for (size_t i = 0; i < zonedb_count(v->zones); i++) {
		const struct zone *z = zonedb_entry(v->zones, i)->zone;
		if (zonedb_entry(v->zones, i)->local)
			continue;
		if (z == NULL)
			log_info("zone %s: no data yet (SERVFAIL until vpcdns-sync writes it)",
				 v->config->zones[i].name);
		else
			log_info("zone %s: serial %u, %zu records", zone_name(z), zone_serial(z),
				 zone_record_count(z));
	}
	server_publish(v);
	log_info("reload: done");
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct daemon_state *d = arg;

	(void)what;
	log_info("stopping on signal %d", (int)sig);
	event_base_loopbreak(d->base);
}

int main(int argc, char **argv)
{
	const char *path = CONFIG_DEFAULT_PATH;
	bool check = false;
	enum log_level level = LOG_LEVEL_INFO;
	static char err[ERR_LEN];
	struct daemon_state d;
	struct server *server;
	struct view *view;
	struct event *ev_hup, *ev_term, *ev_int, *ev_usr1;
	sigset_t handled;
	int opt;

	while ((opt = getopt(argc, argv, "c:tdVh")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check = true;
			break;
		case 'd':
			level = LOG_LEVEL_DEBUG;
			break;
		case 'V':
			printf("vpcdnsd %s\n", VPCDNS_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("vpcdnsd", level);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Zone loading makes and frees buffers of some 64 KiB per record (ldns):
	 * without a higher trim threshold glibc gives the heap back and grows it
	 * again for every record, which made loading several times slower.
	 */
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
	mallopt(M_TOP_PAD, 16 * 1024 * 1024);
	/*
	 * Hold the signals we handle until the event loop can take them: the
	 * workers answer before the main loop runs, and a SIGTERM in between must
	 * still stop the server cleanly rather than kill it.
	 */
	sigemptyset(&handled);
	sigaddset(&handled, SIGHUP);
	sigaddset(&handled, SIGTERM);
	sigaddset(&handled, SIGINT);
	sigaddset(&handled, SIGUSR1);
	sigprocmask(SIG_BLOCK, &handled, NULL);

	view = view_load(path, NULL, err, sizeof(err));
	if (view == NULL) {
		log_lines("", err);
		return 1;
	}
	if (check) {
		print_summary(view);
		view_free(view);
		return 0;
	}
	server = server_new(view->config, err, sizeof(err));
	if (server == NULL) {
		log_errx("%s", err);
		view_free(view);
		return 1;
	}
	if (drop_privileges(view->config->user) < 0) {
		server_free(server);
		view_free(view);
		return 1;
	}
	server_publish(view);
	if (server_start(server, err, sizeof(err)) < 0) {
		log_errx("%s", err);
		server_free(server);
		return 1;
	}
	d.path = path;
	d.server = server;
	d.base = event_base_new();
	if (d.base == NULL)
		fatalx("event loop: cannot create");
	ev_hup = evsignal_new(d.base, SIGHUP, on_reload, &d);
	ev_term = evsignal_new(d.base, SIGTERM, on_stop, &d);
	ev_int = evsignal_new(d.base, SIGINT, on_stop, &d);
	ev_usr1 = evsignal_new(d.base, SIGUSR1, on_stats, &d);
	evsignal_add(ev_usr1, NULL);
	evsignal_add(ev_hup, NULL);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);
	{
		char buf[80];
		size_t local = 0;
		for (size_t i = 0; i < zonedb_count(view->zones); i++)
			local += zonedb_entry(view->zones, i)->local;
		netaddr_format(&view->config->listen[0], buf, sizeof(buf));
		log_info("serving %zu zones (and %zu local reverse zones) on %s and %zu more "
			 "addresses with %u workers",
			 zonedb_count(view->zones) - local, local, buf, view->config->nlisten - 1,
			 view->config->workers);
	}
	sigprocmask(SIG_UNBLOCK, &handled, NULL);
	if (view->config->pidfile != NULL) {
		FILE *pf = fopen(view->config->pidfile, "w");
		if (pf == NULL) {
			log_warn("pidfile %s", view->config->pidfile);
		} else {
			fprintf(pf, "%ld\n", (long)getpid());
			fclose(pf);
		}
	}
	event_base_dispatch(d.base);
	if (server_current_view()->config->pidfile != NULL)
		unlink(server_current_view()->config->pidfile);
	event_free(ev_hup);
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_usr1);
	event_base_free(d.base);
	server_free(server);
	log_info("stopped");
	return 0;
}
