/* See escape.h. */
#include "escape.h"

#include <stdbool.h>

static int is_plain(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e && c != '\\' && c != '"';
}

/* Up to `len` bytes of `in` (to its NUL, when `to_nul`) escaped into
 * `out`; *done is how many bytes of `in` were taken. */
static size_t escape_bytes(char *out, size_t size, const char *in, size_t len, bool to_nul,
			   size_t *done)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0, i = 0;
	for (; i < len && !(to_nul && in[i] == '\0'); i++) {
		unsigned char c = (unsigned char)in[i];
		size_t need = is_plain(c) ? 1 : 4;
		if (n + need >= size)
			break;
		if (need == 1) {
			out[n++] = (char)c;
			continue;
		}
		out[n++] = '\\';
		out[n++] = 'x';
		out[n++] = hex[c >> 4];
		out[n++] = hex[c & 0xf];
	}
	*done = i;
	return n;
}

/* "..." after `n` bytes of `out` when there is room, then the NUL. */
static size_t finish(char *out, size_t size, size_t n, bool clipped)
{
	if (clipped && n + 3 < size) {
		out[n++] = '.';
		out[n++] = '.';
		out[n++] = '.';
	}
	out[n] = '\0';
	return n;
}

size_t nsc_escape(char *out, size_t size, const char *in, size_t max)
{
	if (size == 0)
		return 0;
	size_t done, n = escape_bytes(out, size, in, max, true, &done);
	return finish(out, size, n, in[done] != '\0');
}

size_t nsc_escape_len(char *out, size_t size, const char *in, size_t len)
{
	if (size == 0)
		return 0;
	size_t done, n = escape_bytes(out, size, in, len, false, &done);
	return finish(out, size, n, done < len);
}
