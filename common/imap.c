/* imap: see imap.h. Linear probing with backward-shift deletion (no tombstones),
 * grown at 70% load. */
#include "common/imap.h"

#include <stdlib.h>

struct imap_ent {
	int64_t key;
	void *val; /* NULL = empty slot */
};

struct imap {
	struct imap_ent *e;
	size_t cap; /* power of two */
	size_t n;
};

static size_t slot_of(int64_t key, size_t cap)
{
	uint64_t x = (uint64_t)key * 0x9E3779B97F4A7C15ull;

	return (size_t)(x ^ (x >> 29)) & (cap - 1);
}

struct imap *imap_new(void)
{
	struct imap *m = calloc(1, sizeof *m);

	if (!m)
		return NULL;
	m->cap = 8; /* grows; many maps (a bot's chats) hold one or two keys */
	if (!(m->e = calloc(m->cap, sizeof *m->e))) {
		free(m);
		return NULL;
	}
	return m;
}

void imap_free(struct imap *m)
{
	if (!m)
		return;
	free(m->e);
	free(m);
}

static struct imap_ent *find(const struct imap *m, int64_t key)
{
	for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (!m->e[i].val || m->e[i].key == key)
			return &m->e[i];
	}
}

void *imap_get(const struct imap *m, int64_t key)
{
	return find(m, key)->val;
}

static int grow(struct imap *m)
{
	struct imap_ent *old = m->e;
	size_t oldcap = m->cap;

	if (!(m->e = calloc(oldcap * 2, sizeof *m->e))) {
		m->e = old;
		return -1;
	}
	m->cap = oldcap * 2;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].val)
			*find(m, old[i].key) = old[i];
	free(old);
	return 0;
}

int imap_put(struct imap *m, int64_t key, void *val)
{
	struct imap_ent *e;

	if (!val)
		return -1;
	if ((m->n + 1) * 10 > m->cap * 7 && grow(m) < 0)
		return -1;
	e = find(m, key);
	if (!e->val)
		m->n++;
	e->key = key;
	e->val = val;
	return 0;
}

void *imap_del(struct imap *m, int64_t key)
{
	struct imap_ent *e = find(m, key);
	size_t i = (size_t)(e - m->e), j = i;
	void *val = e->val;

	if (!val)
		return NULL;
	m->n--;
	/* Backward shift: pull later members of the probe run into the hole. */
	for (;;) {
		m->e[i].val = NULL;
		for (;;) {
			j = (j + 1) & (m->cap - 1);
			if (!m->e[j].val)
				return val;
			size_t home = slot_of(m->e[j].key, m->cap);
			/* j's home lies cyclically in (i, j]: it may not move to i. */
			if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
				continue;
			break;
		}
		m->e[i] = m->e[j];
		i = j;
	}
}

size_t imap_count(const struct imap *m)
{
	return m->n;
}

void imap_each(const struct imap *m, void (*fn)(int64_t, void *, void *), void *arg)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->e[i].val)
			fn(m->e[i].key, m->e[i].val, arg);
}
