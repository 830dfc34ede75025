/* /etc/ld.so.preload's entries, found and edited as ld.so reads them. */
#include "preloadfile.h"

#include <stdlib.h>
#include <string.h>

static bool is_separator(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == ':';
}

/* The end of the line that starts at `line`: its '\n', or `end`. */
static const char *line_end(const char *line, const char *end)
{
	const char *newline = memchr(line, '\n', (size_t)(end - line));
	return newline != NULL ? newline : end;
}

/* Where the line's entries stop: its comment, or its end. */
static const char *entries_end(const char *line, const char *eol)
{
	const char *comment = memchr(line, '#', (size_t)(eol - line));
	return comment != NULL ? comment : eol;
}

/* The first entry of [p, stop) in *word and *len (0: none left); returns
 * where the search goes on. */
static const char *next_entry(const char *p, const char *stop, const char **word, size_t *len)
{
	while (p < stop && is_separator(*p))
		p++;
	*word = p;
	while (p < stop && !is_separator(*p))
		p++;
	*len = (size_t)(p - *word);
	return p;
}

static bool is_path(const char *word, size_t len, const char *path, size_t path_len)
{
	return len == path_len && memcmp(word, path, path_len) == 0;
}

void nsc_preload_each(const char *text, size_t len, nsc_preload_entry_fn *each, void *arg)
{
	const char *end = text + len, *word;
	size_t n;
	for (const char *line = text; line < end;) {
		const char *eol = line_end(line, end);
		const char *stop = entries_end(line, eol);
		for (const char *p = next_entry(line, stop, &word, &n); n > 0;
		     p = next_entry(p, stop, &word, &n))
			if (!each(word, n, arg))
				return;
		line = eol < end ? eol + 1 : end;
	}
}

struct wanted {
	const char *path;
	size_t len;
	bool found;
};

static bool find_path(const char *entry, size_t len, void *arg)
{
	struct wanted *w = arg;
	w->found = is_path(entry, len, w->path, w->len);
	return !w->found;
}

bool nsc_preload_names(const char *text, size_t len, const char *path)
{
	struct wanted w = { path, strlen(path), false };
	nsc_preload_each(text, len, find_path, &w);
	return w.found;
}

bool nsc_preload_is_ours(const char *entry, size_t len)
{
	size_t name = strlen(NSC_LIBRARY_NAME);
	return len >= name && memcmp(entry + len - name, NSC_LIBRARY_NAME, name) == 0 &&
	       (len == name || entry[len - name - 1] == '/');
}

char *nsc_preload_add(const char *text, size_t len, const char *path, size_t *out_len)
{
	size_t path_len = strlen(path);
	bool newline_first = len > 0 && text[len - 1] != '\n';
	char *out = malloc(len + newline_first + path_len + 2);
	if (out == NULL)
		return NULL;
	memcpy(out, text, len);
	size_t n = len;
	if (newline_first)
		out[n++] = '\n';
	memcpy(out + n, path, path_len);
	n += path_len;
	out[n++] = '\n';
	out[n] = '\0';
	*out_len = n;
	return out;
}

/* How many entries of [from, to) are path, and how many are not. */
static void count_path(const char *from, const char *to, const char *path, size_t path_len,
		       size_t *ours, size_t *others)
{
	const char *word;
	size_t n;
	*ours = *others = 0;
	for (const char *p = next_entry(from, to, &word, &n); n > 0; p = next_entry(p, to, &word, &n))
		++*(is_path(word, n, path, path_len) ? ours : others);
}

/* Appends [line, next) to out, less each entry equal to path and one
 * separator beside it (the one before, or after at the line's start). */
static size_t copy_without(char *out, size_t n, const char *line, const char *stop,
			   const char *next, const char *path, size_t path_len)
{
	bool after_separator = false; /* what was last appended: one separator */
	for (const char *p = line; p < next;) {
		const char *word = p;
		while (p < stop && !is_separator(*p))
			p++;
		if (p > word && is_path(word, (size_t)(p - word), path, path_len)) {
			if (after_separator)
				n--;
			else if (p < stop && is_separator(*p))
				p++;
			after_separator = false;
			continue;
		}
		after_separator = p == word && p < stop;
		if (p == word) /* a separator; or the comment and the newline */
			p = p < stop ? p + 1 : next;
		memcpy(out + n, word, (size_t)(p - word));
		n += (size_t)(p - word);
	}
	return n;
}

char *nsc_preload_remove(const char *text, size_t len, const char *path, size_t *out_len)
{
	size_t path_len = strlen(path);
	char *out = malloc(len + 1);
	if (out == NULL)
		return NULL;
	size_t n = 0;
	const char *end = text + len;
	for (const char *line = text; line < end;) {
		const char *eol = line_end(line, end);
		const char *next = eol < end ? eol + 1 : end;
		const char *stop = entries_end(line, eol);
		size_t ours, others;
		count_path(line, stop, path, path_len, &ours, &others);
		if (ours == 0) {
			memcpy(out + n, line, (size_t)(next - line));
			n += (size_t)(next - line);
		} else if (stop < eol || others > 0) {
			n = copy_without(out, n, line, stop, next, path, path_len);
		} /* else the whole line was ours: it goes */
		line = next;
	}
	out[n] = '\0';
	*out_len = n;
	return out;
}
