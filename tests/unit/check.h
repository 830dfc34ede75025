/* The unit tests' assertions: counts, and names the line that failed. */
#ifndef NOSELFCONN_TEST_CHECK_H
#define NOSELFCONN_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int passed, failed;

#define CHECK(cond)                                                        \
	do {                                                               \
		if (cond) {                                                \
			passed++;                                          \
		} else {                                                   \
			failed++;                                          \
			printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		}                                                          \
	} while (0)

/* Two integers that must be equal: a failure prints both. */
#define CHECK_EQ(got, want)                                                          \
	do {                                                                         \
		long long got_ = (long long)(got), want_ = (long long)(want);        \
		if (got_ == want_) {                                                 \
			passed++;                                                    \
		} else {                                                             \
			failed++;                                                    \
			printf("FAIL %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, \
			       __LINE__, #got, got_, #want, want_);                  \
		}                                                                    \
	} while (0)

/* Two strings that must be equal: a failure prints both. */
#define CHECK_STR(got, want)                                                       \
	do {                                                                       \
		const char *got_ = (got), *want_ = (want);                         \
		if (strcmp(got_, want_) == 0) {                                    \
			passed++;                                                  \
		} else {                                                           \
			failed++;                                                  \
			printf("FAIL %s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, \
			       __LINE__, #got, got_, want_);                       \
		}                                                                  \
	} while (0)

#endif
