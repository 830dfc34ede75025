/* /etc/ld.so.preload's text as ld.so reads it (glibc's rtld.c): entries
 * separated by blanks, tabs, newlines or colons, '#' starting a comment
 * that runs to the end of its line. Pure functions, shared by
 * --enable-host/--disable-host and --status; unit-tested. */
#ifndef NOSELFCONN_PRELOADFILE_H
#define NOSELFCONN_PRELOADFILE_H

#include <stdbool.h>
#include <stddef.h>

#define NSC_LD_SO_PRELOAD "/etc/ld.so.preload"
#define NSC_LIBRARY_NAME "libnoselfconn.so"

/* Called for each entry in order; return false to stop. */
typedef bool nsc_preload_entry_fn(const char *entry, size_t len, void *arg);

void nsc_preload_each(const char *text, size_t len, nsc_preload_entry_fn *each, void *arg);

/* Whether `path` is one of the entries of text. */
bool nsc_preload_names(const char *text, size_t len, const char *path);

/* Whether an entry is a libnoselfconn.so (by its last component). */
bool nsc_preload_is_ours(const char *entry, size_t len);

/* The text with `path` added on a line of its own after what is there (a
 * newline first where the last line has none). NUL-terminated, malloc'd,
 * its length in *out_len; NULL when out of memory. */
char *nsc_preload_add(const char *text, size_t len, const char *path, size_t *out_len);

/* The text with each entry equal to `path` taken out: a line that held
 * nothing else goes whole, every other byte stays. As nsc_preload_add. */
char *nsc_preload_remove(const char *text, size_t len, const char *path, size_t *out_len);

#endif
