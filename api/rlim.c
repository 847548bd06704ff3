/* rlim: see rlim.h. Open hashing with chains; when the table is full, names
 * whose buckets have refilled (idle: forgetting them changes nothing) are
 * swept, and if none is, the oldest is dropped: a flood of new addresses
 * costs memory up to max, never more. */
#include "api/rlim.h"

#include "common/tbucket.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ent {
	struct ent *next;
	struct tb b;
	int64_t used_ms;
	double per_minute, burst;
	char name[];
};

struct rlim {
	struct ent **tab;
	size_t nbuckets, count, max;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

struct rlim *rlim_new(size_t max)
{
	struct rlim *r = calloc(1, sizeof *r);

	if (!r)
		return NULL;
	r->max = max ? max : 1;
	r->nbuckets = 1024;
	while (r->nbuckets < r->max)
		r->nbuckets *= 2;
	if (!(r->tab = calloc(r->nbuckets, sizeof *r->tab))) {
		free(r);
		return NULL;
	}
	return r;
}

void rlim_free(struct rlim *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nbuckets; i++)
		for (struct ent *e = r->tab[i], *n; e; e = n) {
			n = e->next;
			free(e);
		}
	free(r->tab);
	free(r);
}

static int idle(const struct ent *e, int64_t now_ms)
{
	return tb_tokens(&e->b, now_ms) >= e->burst;
}

/* Room for one more: drop the idle, or else the least recently used. */
static void sweep(struct rlim *r, int64_t now_ms)
{
	struct ent **oldest = NULL;

	for (size_t i = 0; i < r->nbuckets; i++)
		for (struct ent **p = &r->tab[i]; *p;) {
			if (idle(*p, now_ms)) {
				struct ent *e = *p;
				*p = e->next;
				free(e);
				r->count--;
				continue;
			}
			if (!oldest || (*p)->used_ms < (*oldest)->used_ms)
				oldest = p;
			p = &(*p)->next;
		}
	if (r->count >= r->max && oldest) {
		struct ent *e = *oldest;
		*oldest = e->next;
		free(e);
		r->count--;
	}
}

void rlim_take(struct rlim *r, const char *name, double per_minute, double burst, int64_t now_ms,
	       struct rlim_result *out)
{
	size_t i = hash(name) & (r->nbuckets - 1);
	struct ent *e;
	double tokens;
	int64_t wait;

	for (e = r->tab[i]; e && strcmp(e->name, name); e = e->next)
		;
	if (!e) {
		if (r->count >= r->max)
			sweep(r, now_ms);
		if ((e = calloc(1, sizeof *e + strlen(name) + 1))) {
			strcpy(e->name, name);
			tb_init(&e->b, per_minute / 60.0, burst, now_ms);
			e->per_minute = per_minute;
			e->burst = burst;
			e->next = r->tab[i];
			r->tab[i] = e;
			r->count++;
		}
	}
	memset(out, 0, sizeof *out);
	out->limit = (long)burst;
	if (!e) { /* out of memory: let it through rather than lock everyone out */
		out->ok = 1;
		return;
	}
	if (e->per_minute != per_minute || e->burst != burst) { /* a reload */
		tb_set_rate(&e->b, per_minute / 60.0, burst, now_ms);
		e->per_minute = per_minute;
		e->burst = burst;
	}
	e->used_ms = now_ms;
	out->ok = tb_take(&e->b, now_ms, 1);
	tokens = tb_tokens(&e->b, now_ms);
	out->remaining = (long)floor(tokens);
	out->reset_s = (long)ceil((burst - tokens) * 60.0 / per_minute);
	if (!out->ok) {
		wait = tb_wait_ms(&e->b, now_ms, 1);
		out->retry_after_s = wait < 0 ? 60 : (long)((wait + 999) / 1000);
		if (out->retry_after_s < 1)
			out->retry_after_s = 1;
	}
}

void rlim_forget(struct rlim *r, const char *name)
{
	size_t i = hash(name) & (r->nbuckets - 1);

	for (struct ent **p = &r->tab[i]; *p; p = &(*p)->next)
		if (!strcmp((*p)->name, name)) {
			struct ent *e = *p;
			*p = e->next;
			free(e);
			r->count--;
			return;
		}
}

size_t rlim_count(const struct rlim *r)
{
	return r->count;
}
