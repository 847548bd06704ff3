/* fuzz.h: what every libFuzzer target (tests/fuzz/fuzz_*.c) shares: the entry
 * point's prototype, the input as a NUL-terminated copy, and an assertion that
 * aborts (so libFuzzer reports it) even in a build with NDEBUG. */
#ifndef PIYASA_FUZZ_H
#define PIYASA_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                                            \
	do {                                                                                         \
		if (!(cond)) {                                                                       \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                     \
		}                                                                                    \
	} while (0)

/* The input as a malloc'd NUL-terminated string (it may hold NULs before the end). */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
