/* fa_kind.h: what a chat completion is for, read from its prompt (chatter, the
 * consistency guard, the memory summary), and the answers of the two non-chat kinds. */
#ifndef FA_KIND_H
#define FA_KIND_H

#include "tests/fakeapi/fa_state.h"
#include "tests/fakeapi/fa_text.h"

#include <stdint.h>

/* system and user are the prompt's system and user texts (each role's messages joined;
 * may be NULL). Returns the kind: FA_KIND_GUARD when the system prompt starts with
 * "TUTARLILIK DENETİMİ", FA_KIND_MEMORIZE when it starts with "HAFIZA ÖZETİ", else
 * FA_KIND_CHAT, and then fills req: no emoji when the system prompt holds
 * "Emoji kullanma.", a reply opener when the user prompt holds "Şu mesaja cevap ver:",
 * the topic of the user prompt's last "Odak: X" line, else its last "Konu: X" line; FA_KIND_PARAPHRASE (answered
 * as chatter) when the user prompt starts with the worker's "Şu mesajı aynı anlamda". */
enum fa_kind fa_kind_read(const char *system, const char *user, struct fa_text_req *req);

/* The guard's verdict: "EVET", or when reject "HAYIR: <short reason>" naming a symbol
 * of the user prompt when it has one. Malloc'd. */
char *fa_kind_guard(uint64_t n, int reject, const char *user);

/* The memory summary: a JSON array (as text) of 1..3 objects {memory_type, content},
 * memory_type one of past_event, preference, personal_fact, the content a short
 * Turkish sentence about a symbol of the user prompt (or a general one). broken: the
 * text is cut in half (no longer JSON), for clients' error paths. Malloc'd. */
char *fa_kind_memorize(uint64_t n, uint64_t rnd, const char *user, int broken);

#endif
