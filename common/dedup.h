/* dedup: is a new message the same as one the bot already sent?
 * (BEHAVIOUR.md, point 7, and the dedup_* / semantic_dedup_* settings.)
 *
 * Exact: both texts normalised (lowercase the Turkish way, punctuation and emoji
 * gone, spaces collapsed, the first 400 characters) and compared; the FNV-1a hash
 * of the normalised text is the exact key and the embeddings cache key.
 * Semantic: the cosine similarity of the new message's embedding against those of
 * recent messages, a duplicate at or above semantic_dedup_threshold (0.85).
 * The worker fetches embeddings; this module builds the request body and checks
 * the answer. Pure functions: no I/O, no logging, no state. */
#ifndef PIYASA_DEDUP_H
#define PIYASA_DEDUP_H

#include <stddef.h>
#include <stdint.h>

/* Code points kept by dedup_normalise. */
#define DEDUP_NORM_CP 400
/* A buffer this large always holds a normalised text (4 bytes per code point). */
#define DEDUP_NORM_MAX (DEDUP_NORM_CP * 4 + 1)
/* Embeddings with more dimensions than this are refused as malformed. */
#define DEDUP_MAX_DIM 8192

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

/* Parses an OpenAI /v1/embeddings answer
 *   {"data":[{"embedding":[0.1, ...],"index":0}],"usage":{...}}
 * taking the item with index 0 (the first when none says so). 0: *vec is a
 * malloc'd array of *dim floats (the caller frees it). -1: err says why (not
 * JSON, an "error" object from the API, missing or empty data, a missing or
 * non-array embedding, a non-number, a value out of float range, an empty vector,
 * more than DEDUP_MAX_DIM dimensions); *vec is NULL. */
int dedup_embedding_parse(const char *body, size_t len, float **vec, size_t *dim, char *err,
			  size_t errlen) __attribute__((warn_unused_result));

/* The request body {"model": model, "input": text}, malloc'd (free()); NULL when
 * an argument is NULL, text is not valid UTF-8, or memory runs out. */
char *dedup_embedding_request(const char *model, const char *text);

#endif
