/* chats: each chat's recent history as a transcript ("[speaker]: text" lines,
 * oldest first), cached briefly and dropped when a message is written, so every
 * persona reads what the others said before it speaks. */
#ifndef PIYASA_CHATS_H
#define PIYASA_CHATS_H

#include <stddef.h>
#include <stdint.h>

struct wk;

#define CHATS_HISTORY 15

/* transcript is a const char *: "" for an empty chat, NULL with err on
 * failure. Copy it. (The signature is the cache's own, lcache_cb.) */
typedef void (*chats_cb)(const void *transcript, const char *err, void *arg);

struct chats *chats_new(struct wk *w);
void chats_free(struct chats *c);
void chats_history(struct chats *c, int64_t chat_id, chats_cb cb, void *arg);
void chats_invalidate(struct chats *c, int64_t chat_id);
void chats_stats(const struct chats *c, uint64_t *hits, uint64_t *misses, size_t *size);

#endif
