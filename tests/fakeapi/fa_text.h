/* fa_text.h: generated LLM content (Turkish market chatter, unique per call) and
 * deterministic embeddings. */
#ifndef FA_TEXT_H
#define FA_TEXT_H

#include <stddef.h>
#include <stdint.h>

#define FA_EMBED_DIM 64

/* Builds completion number n (0, 1, 2, ...): distinct n give distinct texts. `rnd` only
 * picks decorations that cannot make two texts equal. Returns a malloc'd string. */
char *fa_text_completion(uint64_t n, uint64_t rnd);

/* Hashed character trigrams, L2-normalised: similar texts get a high cosine. */
void fa_text_embed(const char *text, float out[FA_EMBED_DIM]);

/* Number of UTF-8 code points (continuation bytes are not counted). */
size_t fa_text_codepoints(const char *s);

#endif
