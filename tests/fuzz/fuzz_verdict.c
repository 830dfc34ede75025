/*
 * libFuzzer target over the pure code (shim/common, the report line): arbitrary
 * address bytes, lengths, families, ports and ranges. It must never crash,
 * read past what it was given, or guard what it must pass through.
 *
 * Input: low(2) high(2) socket_range(4) dest_len(1) local_len(1) then the
 * destination's bytes, then the local address's bytes; the whole input is
 * also fed to the text parsers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "report.h"
#include "settings.h"
#include "verdict.h"

#define REQUIRE(cond) \
	do { \
		if (!(cond)) \
			abort(); \
	} while (0)

/* Exactly `len` bytes on the heap, so AddressSanitizer catches any over-read. */
static struct sockaddr *copy_exact(const uint8_t *data, size_t len)
{
	struct sockaddr *a = malloc(len ? len : 1);
	memcpy(a, data, len);
	return a;
}

static void check_text_parsers(const uint8_t *data, size_t size)
{
	struct nsc_port_range r;
	if (nsc_parse_port_range((const char *)data, size, &r))
		REQUIRE(r.low >= 1 && r.low <= r.high);

	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	int value;
	if (nsc_parse_setting(NSC_SETTING_MODE, text, &value))
		REQUIRE(value == NSC_MODE_CHECK || value == NSC_MODE_PREBIND || value == NSC_MODE_OFF);
	if (nsc_parse_setting(NSC_SETTING_LOG, text, &value))
		REQUIRE(value == NSC_LOG_OFF || value == NSC_LOG_STDERR || value == NSC_LOG_SYSLOG);

	/* Escaped text is printable ASCII, within its room, whatever came in. */
	char out[96];
	size_t room = size % sizeof(out);
	size_t len = nsc_escape(out, room, text, size % 80);
	REQUIRE(room == 0 || (len < room && out[len] == '\0'));
	for (size_t i = 0; i < len; i++)
		REQUIRE(out[i] >= 0x20 && out[i] <= 0x7e);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_text_parsers(data, size);
	if (size < 10)
		return 0;
	struct nsc_port_range range = { (uint16_t)(data[0] << 8 | data[1]), (uint16_t)(data[2] << 8 | data[3]) };
	uint32_t socket_range;
	memcpy(&socket_range, data + 4, 4);
	size_t dest_len = data[8], local_len = data[9];
	data += 10;
	size -= 10;
	if (dest_len > size)
		dest_len = size;
	if (local_len > size - dest_len)
		local_len = size - dest_len;

	struct sockaddr *dest = copy_exact(data, dest_len);
	struct sockaddr *local = copy_exact(data + dest_len, local_len);

	REQUIRE(nsc_dial_verdict(NULL, (socklen_t)dest_len, range) == NSC_PASS);
	if (nsc_dial_verdict(dest, (socklen_t)dest_len, range) == NSC_GUARD) {
		/* Guarded only: INET of full length, or INET6 of 24+ bytes, in range. */
		REQUIRE(dest_len >= 2);
		REQUIRE((dest->sa_family == AF_INET && dest_len >= 16) ||
			(dest->sa_family == AF_INET6 && dest_len >= 24));
		uint16_t port = nsc_dest_port(dest);
		REQUIRE(port != 0 && port >= range.low && port <= range.high);
	}
	if (nsc_dial_verdict(dest, (socklen_t)dest_len, NSC_ANY_PORT) == NSC_GUARD) {
		/* The report line: one line, printable, whatever the address. */
		char line[512];
		size_t n = nsc_format_prevented(line, sizeof(line), NSC_LOG_SYSLOG, "fuzz", 1, dest);
		REQUIRE(n > 0 && n < sizeof(line) && line[n - 1] == '\n' && strchr(line, '\n') == line + n - 1);
	}
	if (nsc_is_self_connection(dest, (socklen_t)dest_len, local, (socklen_t)local_len)) {
		REQUIRE(dest->sa_family == local->sa_family);
		REQUIRE(nsc_dest_port(dest) == nsc_dest_port(local));
	}

	struct nsc_port_range effective = nsc_effective_range(range, socket_range);
	if (range.low <= range.high)
		REQUIRE(effective.low >= range.low && effective.high <= range.high);
	uint32_t without;
	uint16_t target = (uint16_t)(socket_range & 0xffff);
	if (nsc_range_without(range, target, &without)) {
		uint16_t lo = without & 0xffff, hi = without >> 16;
		REQUIRE(lo <= hi && lo >= range.low && hi <= range.high);
		REQUIRE(target < lo || target > hi);
	}
	free(dest);
	free(local);
	return 0;
}
