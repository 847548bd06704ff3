/* embw: the wire format of the embeddings API (OpenAI's /v1/embeddings): the
 * answer parsed into vectors, every malformed shape refused with its reason. */
#ifndef PIYASA_EMBW_H
#define PIYASA_EMBW_H

#include <stddef.h>

/* Embeddings with more dimensions than this are refused as malformed. */
#define EMBW_MAX_DIM 8192

/* Parses an OpenAI /v1/embeddings answer to a request of n inputs
 *   {"data":[{"embedding":[0.1, ...],"index":0}, ...],"usage":{...}}
 * 0: *vecs is a malloc'd array of n * *dim floats (the caller frees it), input
 * i's vector at *vecs + i * *dim: the item whose "index" is i, or the i-th
 * item when the items carry no index. -1: err says why (not JSON, an "error"
 * object from the API, missing data, not n items, a missing, repeated or out of
 * range index, a missing or non-array embedding, a non-number, a value out of
 * float range, an empty vector, more than EMBW_MAX_DIM dimensions, items of
 * different dimensions); *vecs is NULL. */
int embw_parse(const char *body, size_t len, size_t n, float **vecs, size_t *dim, char *err,
	       size_t errlen) __attribute__((warn_unused_result));

#endif
