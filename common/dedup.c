/* dedup: see dedup.h. Normalising leans on textcheck's UTF-8 helpers, so the
 * content filter, the dedup key and the humanisers agree on what a letter is. */
#include "dedup.h"
#include "textcheck.h"

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

int dedup_semantic(const float *v, const float *const *recent, size_t n, size_t dim,
		   double threshold, double *best)
{
	double top = 0;
	int seen = 0;

	for (size_t i = 0; v && recent && i < n; i++) {
		if (!recent[i])
			continue;
		double c = dedup_cosine(v, recent[i], dim);
		if (!seen || c > top)
			top = c;
		seen = 1;
	}
	if (best)
		*best = top;
	return seen && top >= threshold;
}

static int parse_fail(char *err, size_t errlen, float **vec, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int parse_fail(char *err, size_t errlen, float **vec, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	free(*vec);
	*vec = NULL;
	return -1;
}

/* data[] item with "index": 0, else the first one. */
static json_t *pick_item(json_t *data)
{
	size_t i;
	json_t *it;

	json_array_foreach(data, i, it) {
		json_t *idx = json_object_get(it, "index");
		if (json_is_integer(idx) && json_integer_value(idx) == 0)
			return it;
	}
	return json_array_get(data, 0);
}

static int fill_vector(json_t *emb, float **vec, size_t *dim, char *err, size_t errlen)
{
	size_t n = json_array_size(emb), i;
	json_t *x;

	if (n == 0)
		return parse_fail(err, errlen, vec, "embedding is empty");
	if (n > DEDUP_MAX_DIM)
		return parse_fail(err, errlen, vec, "embedding has %zu dimensions (max %d)", n,
				  DEDUP_MAX_DIM);
	*vec = malloc(n * sizeof(float));
	if (!*vec)
		return parse_fail(err, errlen, vec, "out of memory");
	json_array_foreach(emb, i, x) {
		if (!json_is_number(x))
			return parse_fail(err, errlen, vec, "embedding[%zu]: not a number", i);
		double d = json_number_value(x);
		if (!isfinite(d) || fabs(d) > FLT_MAX)
			return parse_fail(err, errlen, vec, "embedding[%zu]: out of float range", i);
		(*vec)[i] = (float)d;
	}
	*dim = n;
	return 0;
}

int dedup_embedding_parse(const char *body, size_t len, float **vec, size_t *dim, char *err,
			  size_t errlen)
{
	json_error_t je;
	json_t *root, *data, *item, *emb, *e;
	int rc;

	*vec = NULL;
	*dim = 0;
	root = body ? json_loadb(body, len, 0, &je) : NULL;
	if (!root)
		return parse_fail(err, errlen, vec, "not JSON: %s", body ? je.text : "no body");
	if (!json_is_object(root)) {
		rc = parse_fail(err, errlen, vec, "expected an object");
	} else if ((e = json_object_get(root, "error")) && !json_is_null(e)) {
		const char *m = json_string_value(json_object_get(e, "message"));
		rc = parse_fail(err, errlen, vec, "api error: %s",
				m ? m : json_is_string(e) ? json_string_value(e) : "(no message)");
	} else if (!json_is_array(data = json_object_get(root, "data"))) {
		rc = parse_fail(err, errlen, vec, "missing data");
	} else if (json_array_size(data) == 0) {
		rc = parse_fail(err, errlen, vec, "data is empty");
	} else if (!json_is_object(item = pick_item(data))) {
		rc = parse_fail(err, errlen, vec, "data[0]: expected an object");
	} else if (!(emb = json_object_get(item, "embedding"))) {
		rc = parse_fail(err, errlen, vec, "missing embedding");
	} else if (!json_is_array(emb)) {
		rc = parse_fail(err, errlen, vec, "embedding: expected an array of numbers");
	} else {
		rc = fill_vector(emb, vec, dim, err, errlen);
	}
	json_decref(root);
	return rc;
}

char *dedup_embedding_request(const char *model, const char *text)
{
	json_t *req;
	char *body;

	if (!model || !text)
		return NULL;
	req = json_pack("{s:s, s:s}", "model", model, "input", text);
	if (!req)
		return NULL; /* jansson refuses invalid UTF-8 */
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	return body;
}
