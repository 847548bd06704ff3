/* fa_map.h: tiny open-addressing containers for the fake API server: an int64 -> pointer
 * map (bots, chats) and a set of 128-bit fingerprints (duplicate-send detection). */
#ifndef FA_MAP_H
#define FA_MAP_H

#include <stddef.h>
#include <stdint.h>

struct fa_map_slot {
    int64_t key;
    void *val; /* NULL marks an empty slot */
};

struct fa_map {
    struct fa_map_slot *slots;
    size_t cap; /* power of two or 0 */
    size_t len;
};

void *fa_map_get(const struct fa_map *m, int64_t key);
int fa_map_put(struct fa_map *m, int64_t key, void *val);
/* Calls fn on every value, then empties the map (fn may free the value). */
void fa_map_clear(struct fa_map *m, void (*fn)(void *val));

/* Iteration: for (size_t i = 0; i < m->cap; i++) if (m->slots[i].val) ... */

struct fa_fp {
    uint64_t a, b;
};

struct fa_fpset {
    struct fa_fp *slots;
    size_t cap;
    size_t len;
};

/* Inserts fp; returns 1 if it was already present, 0 if new, -1 on allocation failure. */
int fa_fpset_add(struct fa_fpset *s, struct fa_fp fp);
void fa_fpset_clear(struct fa_fpset *s);

uint64_t fa_hash64(const void *data, size_t len, uint64_t seed);

#endif
