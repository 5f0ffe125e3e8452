/* ini: inih with line numbers and file:line errors (see ini.h). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "conf/ini.h"

struct ini_state {
	FILE *fp;
	int line;
	char section[256];
	char last_key[256];
	bool indented;    /* the line being parsed is an indented continuation */
	bool bad_section; /* keys are skipped until the next good header */
	ini_fn fn;
	void *user;
	struct ini_errors *errs;
};

void ini_verror(struct ini_errors *errs, int line, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t n, room;
	int head;

	errs->count++;
	if (errs->buf == NULL || errs->len == 0 || errs->used + 1 >= errs->len)
		return;
	if (line > 0)
		head = snprintf(msg, sizeof(msg), "%s:%d: ", errs->path, line);
	else
		head = snprintf(msg, sizeof(msg), "%s: ", errs->path);
	if (head < 0 || (size_t)head >= sizeof(msg))
		head = 0;
	vsnprintf(msg + head, sizeof(msg) - (size_t)head - 1, fmt, ap);
	n = strlen(msg);
	msg[n++] = '\n';
	/* What does not fit is cut off; the buffer stays terminated. */
	room = errs->len - errs->used - 1;
	if (n > room)
		n = room;
	memcpy(errs->buf + errs->used, msg, n);
	errs->used += n;
	errs->buf[errs->used] = '\0';
}

void ini_error(struct ini_errors *errs, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ini_verror(errs, line, fmt, ap);
	va_end(ap);
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* inih reads one line per call through here, so st->line is the line it parses. */
static char *read_line(char *str, int num, void *stream)
{
	struct ini_state *st = stream;
	char *line = NULL, *t;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, st->fp);

	if (n < 0) {
		free(line);
		return NULL;
	}
	st->line++;
	st->indented = false;
	t = trim(line);
	if (*t == '\0' || *t == ';' || *t == '#') {
		snprintf(str, (size_t)num, "\n");
	} else if ((size_t)n >= (size_t)num - 1) {
		ini_error(st->errs, st->line,
			  "line longer than %d characters (continue a list on indented lines)",
			  num - 2);
		snprintf(str, (size_t)num, "\n");
	} else if (isspace((unsigned char)line[0]) && st->last_key[0] != '\0') {
		/* An indented line continues the previous key's list, even "[::1]:53". */
		st->indented = true;
		snprintf(str, (size_t)num, "%s", line);
	} else if (*t == '[') {
		char *close = strchr(t, ']');
		char *rest = close != NULL ? trim(close + 1) : NULL;
		st->last_key[0] = '\0';
		if (close == NULL || (*rest != '\0' && *rest != ';' && *rest != '#')) {
			ini_error(st->errs, st->line, "malformed section header");
			st->bad_section = true;
			st->fn(st->user, st->line, NULL, NULL, NULL, false);
		} else {
			*close = '\0';
			snprintf(st->section, sizeof(st->section), "%s", trim(t + 1));
			st->bad_section = false;
			st->fn(st->user, st->line, st->section, NULL, NULL, false);
		}
		snprintf(str, (size_t)num, "\n");
	} else if (strpbrk(t, "=:") == NULL) {
		ini_error(st->errs, st->line, "expected 'key = value', got '%s'", t);
		snprintf(str, (size_t)num, "\n");
	} else {
		snprintf(str, (size_t)num, "%s", line);
	}
	free(line);
	return str;
}

static int handle(void *user, const char *section, const char *key, const char *value)
{
	struct ini_state *st = user;
	bool continued = st->indented && strcmp(key, st->last_key) == 0;

	(void)section;
	if (st->bad_section)
		return 1;
	if (st->section[0] == '\0') {
		ini_error(st->errs, st->line, "'%s' outside any section", key);
		return 1;
	}
	snprintf(st->last_key, sizeof(st->last_key), "%s", key);
	st->fn(st->user, st->line, st->section, key, value, continued);
	return 1;
}

int ini_read(const char *path, ini_fn fn, void *user, struct ini_errors *errs)
{
	struct ini_state st = {.fn = fn, .user = user, .errs = errs};
	int rc;

	errs->path = path;
	st.fp = fopen(path, "r");
	if (st.fp == NULL) {
		ini_error(errs, 0, "cannot open (%s)", strerror(errno));
		return -1;
	}
	rc = ini_parse_stream(read_line, &st, handle, &st);
	fclose(st.fp);
	if (rc > 0 && errs->count == 0)
		ini_error(errs, rc, "syntax error");
	return 0;
}
