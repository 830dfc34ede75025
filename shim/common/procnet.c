/* Pure helpers for the audit: see procnet.h. */
#include "procnet.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* The kernel prints each 32-bit word of the address with %08X as the host
 * reads it; storing the parsed word back in host order restores the bytes. */
static bool parse_hex_address(const char *text, size_t words, unsigned char *out)
{
	for (size_t i = 0; i < words; i++) {
		char word[9];
		memcpy(word, text + 8 * i, 8);
		word[8] = '\0';
		char *end;
		unsigned long value = strtoul(word, &end, 16);
		if (*end != '\0')
			return false;
		uint32_t host = (uint32_t)value;
		memcpy(out + 4 * i, &host, 4);
	}
	return true;
}

static bool parse_endpoint(const char *text, size_t words, unsigned char *addr, uint16_t *port)
{
	size_t hex = 8 * words;
	if (strlen(text) != hex + 5 || text[hex] != ':')
		return false;
	char *end;
	unsigned long value = strtoul(text + hex + 1, &end, 16);
	if (*end != '\0' || value > 65535)
		return false;
	*port = (uint16_t)value;
	return parse_hex_address(text, words, addr);
}

/* Field `index` of a blank-separated line, copied into `field`. */
static bool get_field(const char *line, int index, char *field, size_t size)
{
	const char *p = line;
	for (int i = 0;; i++) {
		p += strspn(p, " \t");
		size_t n = strcspn(p, " \t\n");
		if (n == 0)
			return false;
		if (i == index) {
			if (n >= size)
				return false;
			memcpy(field, p, n);
			field[n] = '\0';
			return true;
		}
		p += n;
	}
}

static bool get_number(const char *line, int index, int base, unsigned long *value)
{
	char field[32];
	char *end;
	if (!get_field(line, index, field, sizeof(field)))
		return false;
	*value = strtoul(field, &end, base);
	return end != field && *end == '\0';
}

bool nsc_parse_tcp_line(const char *line, int family, struct nsc_tcp_socket *out)
{
	/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
	enum { LOCAL = 1, REMOTE = 2, STATE = 3, UID = 7, INODE = 9 };
	char local[40], remote[40];
	unsigned long state, uid, inode;
	if (!get_field(line, LOCAL, local, sizeof(local)) ||
	    !get_field(line, REMOTE, remote, sizeof(remote)) ||
	    !get_number(line, STATE, 16, &state) || !get_number(line, UID, 10, &uid) ||
	    !get_number(line, INODE, 10, &inode))
		return false;
	size_t words = family == AF_INET6 ? 4 : 1;
	memset(out, 0, sizeof(*out));
	out->family = family;
	out->state = (unsigned)state;
	out->uid = uid;
	out->inode = inode;
	return parse_endpoint(local, words, out->local, &out->local_port) &&
	       parse_endpoint(remote, words, out->remote, &out->remote_port);
}

bool nsc_tcp_is_self(const struct nsc_tcp_socket *s)
{
	return s->local_port == s->remote_port && s->local_port != 0 &&
	       memcmp(s->local, s->remote, sizeof(s->local)) == 0;
}

const char *nsc_tcp_state_name(unsigned state)
{
	static const char *const names[] = {
		"UNKNOWN",   "ESTABLISHED", "SYN_SENT", "SYN_RECV",   "FIN_WAIT1", "FIN_WAIT2",
		"TIME_WAIT", "CLOSE",	    "CLOSE_WAIT", "LAST_ACK", "LISTEN",	   "CLOSING",
		"NEW_SYN_RECV",
	};
	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "UNKNOWN";
}

void nsc_format_address(int family, const unsigned char addr[16], char *text, size_t size)
{
	if (inet_ntop(family, addr, text, (socklen_t)size) == NULL)
		snprintf(text, size, "?");
}

void nsc_port_set_add(struct nsc_port_set *set, unsigned port)
{
	if (port < 65536)
		set->bits[port / 8] |= (uint8_t)(1U << (port % 8));
}

bool nsc_port_set_has(const struct nsc_port_set *set, unsigned port)
{
	return port < 65536 && (set->bits[port / 8] >> (port % 8)) & 1;
}

static const char *parse_port_number(const char *p, unsigned *port)
{
	char *end;
	if (*p < '0' || *p > '9')
		return NULL;
	unsigned long value = strtoul(p, &end, 10);
	if (value > 65535)
		return NULL;
	*port = (unsigned)value;
	return end;
}

bool nsc_port_set_parse(struct nsc_port_set *set, const char *text)
{
	const char *p = text;
	while (*p == ' ' || *p == '\n' || *p == '\t')
		p++;
	while (*p != '\0') {
		unsigned low, high;
		p = parse_port_number(p, &low);
		if (p == NULL)
			return false;
		high = low;
		if (*p == '-' && (p = parse_port_number(p + 1, &high)) == NULL)
			return false;
		if (low > high)
			return false;
		for (unsigned port = low; port <= high; port++)
			nsc_port_set_add(set, port);
		if (*p == ',')
			p++;
		else if (*p == '\n' || *p == ' ' || *p == '\t')
			while (*p == '\n' || *p == ' ' || *p == '\t')
				p++;
		else if (*p != '\0')
			return false;
	}
	return true;
}

unsigned nsc_port_set_count(const struct nsc_port_set *set, unsigned low, unsigned high)
{
	unsigned count = 0;
	for (unsigned port = low; port <= high && port < 65536; port++)
		count += nsc_port_set_has(set, port);
	return count;
}

/* Appends like snprintf at text+len, counting what did not fit. */
static size_t append_range(char *text, size_t size, size_t len, unsigned low, unsigned high)
{
	char piece[16];
	int n = low == high ? snprintf(piece, sizeof(piece), "%s%u", len ? "," : "", low)
			    : snprintf(piece, sizeof(piece), "%s%u-%u", len ? "," : "", low, high);
	size_t piece_len = n > 0 ? (size_t)n : 0;
	if (len < size) {
		size_t room = size - len - 1, copy = piece_len < room ? piece_len : room;
		memcpy(text + len, piece, copy);
		text[len + copy] = '\0';
	}
	return len + piece_len;
}

size_t nsc_port_set_format(const struct nsc_port_set *set, char *text, size_t size)
{
	size_t len = 0;
	if (size > 0)
		text[0] = '\0';
	for (unsigned port = 1; port < 65536; port++) {
		if (!nsc_port_set_has(set, port))
			continue;
		unsigned last = port;
		while (last + 1 < 65536 && nsc_port_set_has(set, last + 1))
			last++;
		len = append_range(text, size, len, port, last);
		port = last;
	}
	return len;
}

/* Length of the valid UTF-8 sequence at s (of n bytes), its code point in
 * *cp; 0 when the first byte starts none. */
static size_t utf8_sequence(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t need;
	uint32_t min, value;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2, min = 0x80, value = s[0] & 0x1fU;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3, min = 0x800, value = s[0] & 0x0fU;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4, min = 0x10000, value = s[0] & 0x07U;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		value = value << 6 | (s[i] & 0x3fU);
	}
	if (value < min || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff))
		return 0;
	*cp = value;
	return need;
}

static size_t append_text(char *out, size_t size, size_t len, const char *piece, size_t n)
{
	if (len < size) {
		size_t room = size - len - 1, copy = n < room ? n : room;
		memcpy(out + len, piece, copy);
		out[len + copy] = '\0';
	}
	return len + n;
}

size_t nsc_json_escape(char *out, size_t size, const char *in, size_t len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t written = 0;
	if (size > 0)
		out[0] = '\0';
	for (size_t i = 0; i < len;) {
		uint32_t cp = 0xfffd;
		size_t n = utf8_sequence(s + i, len - i, &cp);
		i += n ? n : 1; /* an invalid byte: U+FFFD, then the next byte */
		char piece[16];
		int k;
		if (cp == '"' || cp == '\\')
			k = snprintf(piece, sizeof(piece), "\\%c", (char)cp);
		else if (cp >= 0x20 && cp < 0x7f)
			k = snprintf(piece, sizeof(piece), "%c", (char)cp);
		else if (cp < 0x10000)
			k = snprintf(piece, sizeof(piece), "\\u%04x", (unsigned)cp);
		else
			k = snprintf(piece, sizeof(piece), "\\u%04x\\u%04x",
				     (unsigned)(0xd800 + ((cp - 0x10000) >> 10)),
				     (unsigned)(0xdc00 + ((cp - 0x10000) & 0x3ff)));
		written = append_text(out, size, written, piece, k > 0 ? (size_t)k : 0);
	}
	return written;
}

bool nsc_parse_status_field(const char *status, const char *field, unsigned long *value)
{
	size_t n = strlen(field);
	const char *p = status;
	while (strncmp(p, field, n) != 0 || p[n] != ':') {
		p = strchr(p, '\n');
		if (p == NULL)
			return false;
		p++;
	}
	p += n + 1;
	p += strspn(p, " \t");
	char *end;
	if (*p < '0' || *p > '9')
		return false;
	*value = strtoul(p, &end, 10);
	return *end == '\t' || *end == ' ' || *end == '\n' || *end == '\0';
}

bool nsc_maps_line_is_library(const char *line)
{
	static const char name[] = "/libnoselfconn.so";
	size_t len = strcspn(line, "\n");
	static const char deleted[] = " (deleted)";
	size_t d = sizeof(deleted) - 1, n = sizeof(name) - 1;
	if (len >= d && memcmp(line + len - d, deleted, d) == 0)
		len -= d;
	return len >= n && memcmp(line + len - n, name, n) == 0;
}
