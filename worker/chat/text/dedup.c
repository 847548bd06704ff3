/* dedup: see dedup.h. Normalising leans on textcheck's UTF-8 helpers, so the
 * content filter, the dedup key and the humanisers agree on what a letter is. */
#include "worker/chat/text/dedup.h"

#include "worker/chat/text/textcheck.h"

#include <math.h>
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
		return 0;     /* as dedup_exact: nothing left is never a duplicate */
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
