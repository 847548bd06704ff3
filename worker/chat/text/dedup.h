/* dedup: is a new message the same as one the bot already sent?
 * (BEHAVIOUR.md, point 7, and the dedup_* / semantic_dedup_* settings.)
 *
 * Exact: both texts normalised (lowercase the Turkish way, punctuation and emoji
 * gone, spaces collapsed, the first 400 characters) and compared; the FNV-1a hash
 * of the normalised text is the exact key.
 * Semantic: the cosine similarity of the new message's embedding against those of
 * recent messages, a duplicate at or above semantic_dedup_threshold (0.85).
 * The worker fetches embeddings (worker/embb.c); this module checks the answer
 * and compares vectors. Pure functions: no I/O, no logging, no state. */
#ifndef PIYASA_DEDUP_H
#define PIYASA_DEDUP_H

#include <stddef.h>
#include <stdint.h>

/* Code points kept by dedup_normalise. */
#define DEDUP_NORM_CP 400
/* A buffer this large always holds a normalised text (4 bytes per code point). */
#define DEDUP_NORM_MAX (DEDUP_NORM_CP * 4 + 1)

/* Writes the normalised form of in (NULL counts as "") into out: ASCII and the
 * Turkish capitals lowercased (İ->i, I->ı, Ş->ş, Ğ->ğ, Ü->ü, Ö->ö, Ç->ç; the other
 * Latin-1 / Latin Extended-A capitals too); every code point that is not a letter
 * or a digit (punctuation, symbols, emoji, invalid bytes) becomes a space;
 * combining marks are dropped; spaces collapsed and trimmed; at most
 * DEDUP_NORM_CP code points. Always NUL-terminates when outlen > 0, cutting on a
 * character boundary when out is short. Returns the length written (bytes).
 * "Dolar 34,50'yi GEÇTİ!!! 🚀" -> "dolar 34 50 yi geçti". */
size_t dedup_normalise(const char *in, char *out, size_t outlen);

/* FNV-1a 64 of dedup_normalise(text). */
uint64_t dedup_hash(const char *text);

/* 1 when text normalises to the same string as one of recent[0..n) (NULL entries
 * are skipped), else 0. A text with nothing left after normalising (emoji only)
 * is never a duplicate: the emoji-only reactions repeat by design. */
int dedup_exact(const char *text, const char *const *recent, size_t n);

/* dedup_exact against the stored hashes (dedup_hash) of the recent texts, so
 * they are not normalised again for every draft. The same answers as
 * dedup_exact, short of a 64-bit hash collision. */
int dedup_exact_hash(const char *text, const uint64_t *recent, size_t n);

/* Cosine similarity in [-1, 1]; 0 when either vector is all zeros or dim is 0. */
double dedup_cosine(const float *a, const float *b, size_t dim);

/* 1 when the cosine of v against any of recent[0..n) (NULL entries skipped) is >=
 * threshold. *best (may be NULL) receives the highest similarity seen, 0 when
 * there was nothing to compare. */
int dedup_semantic(const float *v, const float *const *recent, size_t n, size_t dim,
		   double threshold, double *best);

/* A vector kept for later comparisons, in a quarter of the space: each
 * component scaled by 127 / the largest magnitude and rounded. Cosines against
 * it differ from the float ones by well under 0.01, far inside any threshold's
 * meaning. out has dim bytes. */
void dedup_quantize(const float *v, size_t dim, int8_t *out);
/* dedup_cosine of a against a quantized vector. */
double dedup_cosine_q(const float *a, const int8_t *q, size_t dim);
/* dedup_semantic against quantized recent vectors. */
int dedup_semantic_q(const float *v, const int8_t *const *recent, size_t n, size_t dim,
		     double threshold, double *best);

#endif
