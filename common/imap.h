/* imap: an open-addressing hash map from int64 keys to pointers, for the
 * worker's caches (bots, chats). Not thread-safe; the worker has one thread. */
#ifndef PIYASA_IMAP_H
#define PIYASA_IMAP_H

#include <stddef.h>
#include <stdint.h>

struct imap;

struct imap *imap_new(void);
/* Frees the table, not the values (walk them first with imap_each). */
void imap_free(struct imap *m);
void *imap_get(const struct imap *m, int64_t key);
/* Insert or replace; -1 on allocation failure. */
int imap_put(struct imap *m, int64_t key, void *val);
/* Remove and return the value (NULL when absent). */
void *imap_del(struct imap *m, int64_t key);
size_t imap_count(const struct imap *m);
/* Calls fn on every entry; fn must not change the map. */
void imap_each(const struct imap *m, void (*fn)(int64_t key, void *val, void *arg), void *arg);

#endif
