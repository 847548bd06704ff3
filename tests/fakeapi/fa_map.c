/* fa_map.c: open-addressing int64 map and fingerprint set (linear probing, no deletion:
 * the fake only ever clears whole containers, on /_control/reset). */
#include "tests/fakeapi/fa_map.h"

#include <stdlib.h>
#include <string.h>

static size_t fa_mix(uint64_t x)
{
    /* splitmix64 finaliser: chat ids are small or sequential, spread them out. */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return (size_t)x;
}

uint64_t fa_hash64(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL ^ fa_mix(seed);

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return (uint64_t)fa_mix(h);
}

static struct fa_map_slot *fa_map_find(struct fa_map_slot *slots, size_t cap, int64_t key)
{
    size_t i = fa_mix((uint64_t)key) & (cap - 1);

    while (slots[i].val && slots[i].key != key)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static int fa_map_grow(struct fa_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    struct fa_map_slot *ns = calloc(ncap, sizeof(*ns));

    if (!ns)
        return -1;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].val)
            *fa_map_find(ns, ncap, m->slots[i].key) = m->slots[i];
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

void *fa_map_get(const struct fa_map *m, int64_t key)
{
    if (!m->cap)
        return NULL;
    return fa_map_find(m->slots, m->cap, key)->val;
}

int fa_map_put(struct fa_map *m, int64_t key, void *val)
{
    struct fa_map_slot *s;

    if ((m->len + 1) * 4 > m->cap * 3 && fa_map_grow(m) < 0)
        return -1;
    s = fa_map_find(m->slots, m->cap, key);
    if (!s->val)
        m->len++;
    s->key = key;
    s->val = val;
    return 0;
}

void fa_map_clear(struct fa_map *m, void (*fn)(void *val))
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].val && fn)
            fn(m->slots[i].val);
    free(m->slots);
    m->slots = NULL;
    m->cap = 0;
    m->len = 0;
}

static struct fa_fp *fa_fpset_find(struct fa_fp *slots, size_t cap, struct fa_fp fp)
{
    size_t i = (size_t)fp.a & (cap - 1);

    while ((slots[i].a || slots[i].b) && (slots[i].a != fp.a || slots[i].b != fp.b))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static int fa_fpset_grow(struct fa_fpset *s)
{
    size_t ncap = s->cap ? s->cap * 2 : 1024;
    struct fa_fp *ns = calloc(ncap, sizeof(*ns));

    if (!ns)
        return -1;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i].a || s->slots[i].b)
            *fa_fpset_find(ns, ncap, s->slots[i]) = s->slots[i];
    free(s->slots);
    s->slots = ns;
    s->cap = ncap;
    return 0;
}

int fa_fpset_add(struct fa_fpset *s, struct fa_fp fp)
{
    struct fa_fp *slot;

    fp.b |= 1; /* the all-zero fingerprint marks an empty slot */
    if ((s->len + 1) * 4 > s->cap * 3 && fa_fpset_grow(s) < 0)
        return -1;
    slot = fa_fpset_find(s->slots, s->cap, fp);
    if (slot->a || slot->b)
        return 1;
    *slot = fp;
    s->len++;
    return 0;
}

void fa_fpset_clear(struct fa_fpset *s)
{
    free(s->slots);
    s->slots = NULL;
    s->cap = 0;
    s->len = 0;
}
