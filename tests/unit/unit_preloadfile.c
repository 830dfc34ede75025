/* Unit tests of /etc/ld.so.preload's editing (shim/common/preloadfile.c):
 * entries as ld.so reads them, ours added once and taken out exactly. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "preloadfile.h"

#define OURS "/usr/local/$LIB/noselfconn/libnoselfconn.so"

static bool names(const char *text, const char *path)
{
	return nsc_preload_names(text, strlen(text), path);
}

/* add(text) then remove: the text again, byte for byte (with the newline
 * added to a last line that had none). */
static void round_trip(const char *text, const char *added, const char *back_want)
{
	size_t len, back_len;
	char *with = nsc_preload_add(text, strlen(text), OURS, &len);
	CHECK_STR(with, added);
	CHECK_EQ(len, strlen(added));
	CHECK(names(with, OURS));
	char *back = nsc_preload_remove(with, len, OURS, &back_len);
	CHECK_STR(back, back_want);
	free(with);
	free(back);
}

static void removed(const char *text, const char *want)
{
	size_t len;
	char *out = nsc_preload_remove(text, strlen(text), OURS, &len);
	CHECK_STR(out, want);
	CHECK_EQ(len, strlen(want));
	CHECK(!names(out, OURS));
	free(out);
}

static void test_entries(void)
{
	/* Separators: blanks, tabs, newlines and colons; '#' to the line's end. */
	CHECK(names(OURS "\n", OURS));
	CHECK(names("/a.so:" OURS ":/b.so", OURS));
	CHECK(names("/a.so \t" OURS "\n", OURS));
	CHECK(!names("# " OURS "\n", OURS));
	CHECK(!names("/a.so # " OURS "\n", OURS));
	CHECK(names("# comment\n" OURS, OURS));
	CHECK(!names(OURS "x\n", OURS));
	CHECK(!names("x" OURS "\n", OURS));
	CHECK(!names("", OURS));
	/* Which entries are a libnoselfconn.so. */
	CHECK(nsc_preload_is_ours("/opt/lib/libnoselfconn.so", 25));
	CHECK(nsc_preload_is_ours("libnoselfconn.so", 16));
	CHECK(!nsc_preload_is_ours("/opt/lib/xlibnoselfconn.so", 26));
	CHECK(!nsc_preload_is_ours("/opt/libnoselfconn.so.1", 23));
}

static void test_add_remove(void)
{
	round_trip("", OURS "\n", "");
	round_trip("/lib/other.so\n", "/lib/other.so\n" OURS "\n", "/lib/other.so\n");
	round_trip("# a comment\n\n/a.so:/b.so\n", "# a comment\n\n/a.so:/b.so\n" OURS "\n",
		   "# a comment\n\n/a.so:/b.so\n");
	/* A last line without its newline gets one first (kept on removal). */
	round_trip("/a.so", "/a.so\n" OURS "\n", "/a.so\n");
	/* Taken out wherever it is; a line that held nothing else goes whole. */
	removed(OURS "\n", "");
	removed("/a.so\n" OURS "\n/b.so\n", "/a.so\n/b.so\n");
	removed("  " OURS "  \n/b.so\n", "/b.so\n");
	removed("/a.so " OURS " /b.so\n", "/a.so /b.so\n");
	removed(OURS ":/b.so\n", "/b.so\n");
	removed("/a.so:" OURS "\n", "/a.so\n");
	removed(OURS " # why\n", "# why\n");
	removed("# " OURS "\n", "# " OURS "\n");
	removed(OURS "\n" OURS "\n", "");
	removed(OURS, "");
	removed("/a.so\n" OURS, "/a.so\n");
	/* Others' entries that only contain ours are theirs. */
	removed(OURS "x\n", OURS "x\n");
}

int main(void)
{
	test_entries();
	test_add_remove();
	printf("unit_preloadfile: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
