/* dedup: see dedup.h. Normalising leans on textcheck's UTF-8 helpers, so the
 * content filter, the dedup key and the humanisers agree on what a letter is. */
#include "worker/chat/text/dedup.h"
#include "worker/chat/text/textcheck.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

size_t dedup_normalise(const char *in, char *out, size_t outlen)
{
	size_t len, i = 0, o = 0, cps = 0;
	int pending_space = 0;
	uint32_t cp;
	char enc[4];

	if (outlen == 0)
		return 0;
	len = in ? strlen(in) : 0;
	while (i < len && cps < DEDUP_NORM_CP) {
		i += textcheck_utf8_next(in + i, len - i, &cp);
		if (cp >= 0x300 && cp <= 0x36F)
			continue; /* a combining mark belongs to the letter before it */
		if (!textcheck_is_letter(cp) && !(cp >= '0' && cp <= '9')) {
			pending_space = o > 0;
			continue;
		}
		size_t n = textcheck_utf8_put(textcheck_lower(cp), enc);
		if (o + pending_space + n + 1 > outlen)
			break;
		if (pending_space) {
			out[o++] = ' ';
			cps++;
			pending_space = 0;
			if (cps >= DEDUP_NORM_CP)
				break;
		}
		memcpy(out + o, enc, n);
		o += n;
		cps++;
	}
	out[o] = '\0';
	return o;
}

uint64_t dedup_hash(const char *text)
{
	char norm[DEDUP_NORM_MAX];
	size_t n = dedup_normalise(text, norm, sizeof(norm));
	uint64_t h = FNV_OFFSET;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)norm[i];
		h *= FNV_PRIME;
	}
	return h;
}

int dedup_exact(const char *text, const char *const *recent, size_t n)
{
	char a[DEDUP_NORM_MAX], b[DEDUP_NORM_MAX];
	size_t la = dedup_normalise(text, a, sizeof(a));

	if (la == 0 || !recent)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!recent[i])
			continue;
		if (dedup_normalise(recent[i], b, sizeof(b)) == la && !memcmp(a, b, la))
			return 1;
	}
	return 0;
}

int dedup_exact_hash(const char *text, const uint64_t *recent, size_t n)
{
	char a[DEDUP_NORM_MAX];
	uint64_t h;

	if (dedup_normalise(text, a, sizeof(a)) == 0 || !recent)
		return 0; /* as dedup_exact: nothing left is never a duplicate */
	h = dedup_hash(text); /* normalises once more: one draft, no matter */
	for (size_t i = 0; i < n; i++)
		if (recent[i] == h)
			return 1;
	return 0;
}

double dedup_cosine(const float *a, const float *b, size_t dim)
{
	double dot = 0, na = 0, nb = 0, c;

	for (size_t i = 0; i < dim; i++) {
		dot += (double)a[i] * b[i];
		na += (double)a[i] * a[i];
		nb += (double)b[i] * b[i];
	}
	if (na <= 0 || nb <= 0)
		return 0;
	c = dot / (sqrt(na) * sqrt(nb));
	return c > 1 ? 1 : c < -1 ? -1 : c; /* rounding may step just past +-1 */
}

/* The best of cos(v, recent[i]) over the non-NULL recent vectors. */
static int most_similar(const float *v, const void *const *recent, size_t n, size_t dim,
			double (*cos)(const float *, const void *, size_t), double threshold,
			double *best)
{
	double top = 0;
	int seen = 0;

	for (size_t i = 0; v && recent && i < n; i++) {
		if (!recent[i])
			continue;
		double c = cos(v, recent[i], dim);
		if (!seen || c > top)
			top = c;
		seen = 1;
	}
	if (best)
		*best = top;
	return seen && top >= threshold;
}

static double cos_f(const float *a, const void *b, size_t dim)
{
	return dedup_cosine(a, b, dim);
}

static double cos_q(const float *a, const void *q, size_t dim)
{
	return dedup_cosine_q(a, q, dim);
}

int dedup_semantic(const float *v, const float *const *recent, size_t n, size_t dim,
		   double threshold, double *best)
{
	return most_similar(v, (const void *const *)recent, n, dim, cos_f, threshold, best);
}

void dedup_quantize(const float *v, size_t dim, int8_t *out)
{
	float top = 0;

	for (size_t i = 0; i < dim; i++)
		top = fabsf(v[i]) > top ? fabsf(v[i]) : top;
	for (size_t i = 0; i < dim; i++)
		out[i] = top > 0 ? (int8_t)lrintf(v[i] / top * 127.0f) : 0;
}

double dedup_cosine_q(const float *a, const int8_t *q, size_t dim)
{
	double dot = 0, na = 0, nq = 0, c;

	for (size_t i = 0; i < dim; i++) {
		dot += (double)a[i] * q[i];
		na += (double)a[i] * a[i];
		nq += (double)q[i] * q[i];
	}
	if (na <= 0 || nq <= 0)
		return 0;
	c = dot / (sqrt(na) * sqrt(nq));
	return c > 1 ? 1 : c < -1 ? -1 : c;
}

int dedup_semantic_q(const float *v, const int8_t *const *recent, size_t n, size_t dim,
		     double threshold, double *best)
{
	return most_similar(v, (const void *const *)recent, n, dim, cos_q, threshold, best);
}

static int errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Fills vec[0..dim) from the array emb; *dim is 0 for the first item, which
 * sets it, and every later one must match it. */
static int fill_vector(json_t *emb, size_t item, float *vec, size_t *dim, char *err,
		       size_t errlen)
{
	size_t n = json_array_size(emb), i;
	json_t *x;

	if (!json_is_array(emb))
		return errf(err, errlen, "data[%zu].embedding: expected an array of numbers", item);
	if (n == 0)
		return errf(err, errlen, "data[%zu]: embedding is empty", item);
	if (n > DEDUP_MAX_DIM)
		return errf(err, errlen, "data[%zu]: embedding has %zu dimensions (max %d)", item, n,
			    DEDUP_MAX_DIM);
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
static int fill_vectors(json_t *data, size_t n, float **vecs, size_t *dim, char *err,
			size_t errlen)
{
	size_t i, dim0 = json_array_size(json_object_get(json_array_get(data, 0), "embedding"));
	unsigned char *seen;
	json_t *it;
	int indexed = json_is_integer(json_object_get(json_array_get(data, 0), "index"));

	if (json_array_size(data) != n)
		return errf(err, errlen, "data has %zu items for %zu inputs", json_array_size(data),
			    n);
	if (dim0 == 0 || dim0 > DEDUP_MAX_DIM)
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
		if (indexed && ((at = json_integer_value(idx)) < 0 || (size_t)at >= n ||
				seen[at])) {
			errf(err, errlen, "data[%zu]: index %lld out of range or repeated", i,
			     (long long)at);
			break;
		}
		if (!json_object_get(it, "embedding")) {
			errf(err, errlen, "data[%zu]: missing embedding", i);
			break;
		}
		if (fill_vector(json_object_get(it, "embedding"), i, *vecs + (size_t)at * dim0,
				dim, err, errlen) < 0)
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

int dedup_embeddings_parse(const char *body, size_t len, size_t n, float **vecs, size_t *dim,
			   char *err, size_t errlen)
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
			  m ? m : json_is_string(e) ? json_string_value(e) : "(no message)");
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
