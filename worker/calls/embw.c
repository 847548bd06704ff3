/* embw: see embw.h. */
#include "worker/calls/embw.h"

#include "common/utf8.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		utf8_cut(err, errlen, err); /* jansson's text, the API's message */
	}
	return -1;
}

/* Fills vec[0..dim) from the array emb; *dim is 0 for the first item, which
 * sets it, and every later one must match it. */
static int fill_vector(json_t *emb, size_t item, float *vec, size_t *dim, char *err, size_t errlen)
{
	size_t n = json_array_size(emb), i;
	json_t *x;

	if (!json_is_array(emb))
		return errf(err, errlen, "data[%zu].embedding: expected an array of numbers", item);
	if (n == 0)
		return errf(err, errlen, "data[%zu]: embedding is empty", item);
	if (n > EMBW_MAX_DIM)
		return errf(err, errlen, "data[%zu]: embedding has %zu dimensions (max %d)", item,
			    n, EMBW_MAX_DIM);
	if (*dim && n != *dim)
		return errf(err, errlen, "data[%zu]: %zu dimensions, the first item had %zu", item,
			    n, *dim);
	json_array_foreach(emb, i, x) {
		if (!json_is_number(x))
			return errf(err, errlen, "data[%zu].embedding[%zu]: not a number", item, i);
		double d = json_number_value(x);
		if (!isfinite(d) || fabs(d) > FLT_MAX)
			return errf(err, errlen, "data[%zu].embedding[%zu]: out of float range",
				    item, i);
		vec[i] = (float)d;
	}
	*dim = n;
	return 0;
}

/* The vectors of data[] into *vecs, item i's at position "index" (or i when
 * no item has one). */
static int fill_vectors(json_t *data, size_t n, float **vecs, size_t *dim, char *err, size_t errlen)
{
	size_t i, dim0 = json_array_size(json_object_get(json_array_get(data, 0), "embedding"));
	unsigned char *seen;
	json_t *it;
	int indexed = json_is_integer(json_object_get(json_array_get(data, 0), "index"));

	if (json_array_size(data) != n)
		return errf(err, errlen, "data has %zu items for %zu inputs", json_array_size(data), n);
	if (dim0 == 0 || dim0 > EMBW_MAX_DIM)
		dim0 = 1; /* fill_vector says why */
	if (!(*vecs = calloc(n * dim0, sizeof(float))) || !(seen = calloc(n, 1))) {
		free(*vecs);
		*vecs = NULL;
		return errf(err, errlen, "out of memory");
	}
	json_array_foreach(data, i, it) {
		json_t *idx = json_object_get(it, "index");
		json_int_t at = (json_int_t)i;

		if (!json_is_object(it)) {
			errf(err, errlen, "data[%zu]: expected an object", i);
			break;
		}
		if (indexed && !json_is_integer(idx)) {
			errf(err, errlen, "data[%zu]: missing index", i);
			break;
		}
		if (indexed && ((at = json_integer_value(idx)) < 0 || (size_t)at >= n || seen[at])) {
			errf(err, errlen, "data[%zu]: index %lld out of range or repeated", i,
			     (long long)at);
			break;
		}
		if (!json_object_get(it, "embedding")) {
			errf(err, errlen, "data[%zu]: missing embedding", i);
			break;
		}
		if (fill_vector(json_object_get(it, "embedding"), i, *vecs + (size_t)at * dim0, dim,
				err, errlen) < 0)
			break;
		seen[at] = 1;
	}
	free(seen);
	if (i < n) {
		free(*vecs);
		*vecs = NULL;
		*dim = 0;
		return -1;
	}
	return 0;
}

int embw_parse(const char *body, size_t len, size_t n, float **vecs, size_t *dim, char *err,
	       size_t errlen)
{
	json_error_t je;
	json_t *root, *data, *e;
	int rc;

	*vecs = NULL;
	*dim = 0;
	root = body ? json_loadb(body, len, 0, &je) : NULL;
	if (!root)
		return errf(err, errlen, "not JSON: %s", body ? je.text : "no body");
	if (!json_is_object(root)) {
		rc = errf(err, errlen, "expected an object");
	} else if ((e = json_object_get(root, "error")) && !json_is_null(e)) {
		const char *m = json_string_value(json_object_get(e, "message"));
		rc = errf(err, errlen, "api error: %s",
			  m                   ? m
			  : json_is_string(e) ? json_string_value(e)
					      : "(no message)");
	} else if (!json_is_array(data = json_object_get(root, "data"))) {
		rc = errf(err, errlen, "missing data");
	} else if (json_array_size(data) == 0 || n == 0) {
		rc = errf(err, errlen, "data is empty");
	} else {
		rc = fill_vectors(data, n, vecs, dim, err, errlen);
	}
	json_decref(root);
	return rc;
}
