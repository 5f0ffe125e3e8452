#include "conf/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *log_progname = "vpcdns";
static enum log_level log_max = LOG_LEVEL_INFO;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void log_init(const char *progname, enum log_level level)
{
	log_progname = progname;
	log_max = level;
}

static void vlog(enum log_level level, int with_errno, const char *fmt, va_list ap)
{
	char msg[1024];
	int saved = errno;

	if (level > log_max)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* One fprintf per message keeps lines from different threads whole. */
	if (with_errno)
		fprintf(stderr, "%s[%s]: %s: %s\n", log_progname, level_names[level], msg,
			strerror(saved));
	else
		fprintf(stderr, "%s[%s]: %s\n", log_progname, level_names[level], msg);
	errno = saved;
}

#define LOG_FN(name, level, with_errno)           \
	void name(const char *fmt, ...)           \
	{                                         \
		va_list ap;                       \
		va_start(ap, fmt);                \
		vlog(level, with_errno, fmt, ap); \
		va_end(ap);                       \
	}

LOG_FN(log_errx, LOG_LEVEL_ERR, 0)
LOG_FN(log_err, LOG_LEVEL_ERR, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARN, 0)
LOG_FN(log_warn, LOG_LEVEL_WARN, 1)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)

void fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}
