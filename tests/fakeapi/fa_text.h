/* fa_text.h: generated LLM content (Turkish market chatter, unique per call) and
 * deterministic embeddings. */
#ifndef FA_TEXT_H
#define FA_TEXT_H

#include <stddef.h>
#include <stdint.h>

#define FA_EMBED_DIM 64

/* What a chat prompt asks of the text (read by fa_kind_prompt). */
struct fa_text_req {
    int no_emoji;   /* the system prompt says "Emoji kullanma." */
    int reply;      /* the user prompt says "Şu mesaja cevap ver:" */
    char topic[64]; /* the user prompt's "Konu: X" line, "" when none */
};

/* Builds completion number n (0, 1, 2, ...): distinct n give distinct texts, whatever
 * req asks for. req (may be NULL) picks the assets (a topic: BIST, FX, Kripto, Makro,
 * a known asset or a ticker), forbids the emoji, asks for a reply opener. `rnd` only
 * picks decorations (emoji, whether and which reply opener) that cannot make two texts
 * equal. Returns a malloc'd string. */
char *fa_text_completion(uint64_t n, uint64_t rnd, const struct fa_text_req *req);

/* Up to max asset names (tickers such as THYAO, BTC, or BIST 100, dolar/TL ...) that
 * occur in text, in order of first appearance, without duplicates; each out[i] is a
 * static string or a copy in bufs[i]. Returns how many. */
size_t fa_text_symbols(const char *text, const char **out, char bufs[][16], size_t max);

/* Hashed character trigrams, L2-normalised: similar texts get a high cosine. */
void fa_text_embed(const char *text, float out[FA_EMBED_DIM]);

/* Number of UTF-8 code points (continuation bytes are not counted). */
size_t fa_text_codepoints(const char *s);

#endif
