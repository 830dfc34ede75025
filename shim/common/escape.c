/* See escape.h. */
#include "escape.h"

static int is_plain(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e && c != '\\' && c != '"';
}

size_t nsc_escape(char *out, size_t size, const char *in, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t len = 0, i = 0;
	if (size == 0)
		return 0;
	for (; i < max && in[i] != '\0'; i++) {
		unsigned char c = (unsigned char)in[i];
		size_t need = is_plain(c) ? 1 : 4;
		if (len + need >= size)
			break;
		if (need == 1) {
			out[len++] = (char)c;
			continue;
		}
		out[len++] = '\\';
		out[len++] = 'x';
		out[len++] = hex[c >> 4];
		out[len++] = hex[c & 0xf];
	}
	if (in[i] != '\0' && len + 3 < size) {
		out[len++] = '.';
		out[len++] = '.';
		out[len++] = '.';
	}
	out[len] = '\0';
	return len;
}
