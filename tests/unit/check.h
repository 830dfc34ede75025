/* The unit tests' one assertion: counts, and names the line that failed. */
#ifndef NOSELFCONN_TEST_CHECK_H
#define NOSELFCONN_TEST_CHECK_H

#include <stdio.h>

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

#endif
