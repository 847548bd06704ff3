/* fuzz_embw: an embeddings answer (worker/calls/embw.c) on arbitrary bytes, for
 * 1..4 inputs (the first byte chooses). Parsed: n vectors of 1..EMBW_MAX_DIM
 * finite floats; refused: no vectors and a reason in valid UTF-8. */
#include "common/utf8.h"
#include "tests/fuzz/fuzz.h"
#include "worker/calls/embw.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = size ? 1 + data[0] % 4 : 1, dim = 0;
	float *vecs = (float *)1;
	char err[256];

	if (size) {
		data++;
		size--;
	}
	err[0] = '\0';
	if (embw_parse((const char *)data, size, n, &vecs, &dim, err, sizeof(err)) == 0) {
		FUZZ_ASSERT(vecs);
		FUZZ_ASSERT(dim >= 1 && dim <= EMBW_MAX_DIM);
		for (size_t i = 0; i < n * dim; i++)
			FUZZ_ASSERT(isfinite(vecs[i]));
		free(vecs);
	} else {
		FUZZ_ASSERT(vecs == NULL);
		FUZZ_ASSERT(err[0] && utf8_valid(err, strlen(err)));
	}
	return 0;
}
