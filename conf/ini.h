/*
 * ini: the INI reading shared by the network file of vpcdns-provision (and
 * any INI a vpcdns tool reads besides vpcdns.ini): inih does the parsing, this
 * layer adds line numbers, a clear message for lines inih would reject, and an
 * error list whose every line reads "file:line: message".
 *
 * The callback gets each section header (key == NULL; section == NULL for a
 * malformed header, already reported: ignore what follows until the next one)
 * and each "key = value" (or "key: value"). An indented line continues the
 * previous key's list: the callback gets it as the same key again with
 * continued = true.
 */
#ifndef CONF_INI_H
#define CONF_INI_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct ini_errors {
	const char *path;
	char *buf; /* "file:line: message\n" lines, NUL-terminated */
	size_t len, used;
	int count;
};

typedef void (*ini_fn)(void *user, int line, const char *section, const char *key,
		       const char *value, bool continued);

/*
 * Appends one "path:line: message" line to errs (truncated when buf is full);
 * line 0 gives "path: message", for what belongs to no line.
 */
void ini_error(struct ini_errors *errs, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ini_verror(struct ini_errors *errs, int line, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/*
 * Reads path, calling fn for each header and key. 0 when the file could be
 * read (errors found by fn or by the reader are counted in errs), -1 when it
 * could not be opened (reported in errs).
 */
int ini_read(const char *path, ini_fn fn, void *user, struct ini_errors *errs);

#endif
