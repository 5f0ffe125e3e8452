/*
 * log: leveled messages to stderr, shared by every vpcdns program.
 *
 * Messages read "context: what happened (reason)". log_warn and log_err append
 * strerror(errno); the *x variants do not. Nothing here is called per query.
 */
#ifndef CONF_LOG_H
#define CONF_LOG_H

enum log_level { LOG_LEVEL_ERR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Sets the most verbose level printed (default LOG_LEVEL_INFO) and the program name. */
void log_init(const char *progname, enum log_level level);

void log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Logs at error level and exits with status 1. Only while starting up. */
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
