/* sched: heap, delay model and policy; see sched.h for the contracts.
 *
 * Layout. Each bot has an entry in a pool (an array that only grows; freed
 * entries go on a free list). An open-addressing hash table (linear probing,
 * backward-shift deletion, so no tombstones pile up as bots come and go) maps the
 * bot id to its entry. The heap is an array of {due, id, entry} nodes, so sifting
 * compares nodes without chasing pointers; each entry knows its heap position,
 * which makes moving and removing a bot O(log n). An entry lives until
 * sched_forget: popping or removing a bot keeps its send history.
 *
 * Send history. A ring of the bot's send times in ascending order, kept for one
 * hour before the newest (the cap window is never longer), so its size follows
 * the bot's real rate (12 sends an hour: 16 slots) and only grows towards
 * SCHED_RING_MAX for bots that really send that much. Out-of-order notes (seeding)
 * are inserted in place, which costs the few entries newer than them. */
#include "worker/chat/sched.h"

#include "common/backoff.h"
#include "common/cast.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX
#define HOUR_MS 3600000LL
#define DAY_MIN 1440

struct ring {
	int64_t *t; /* cap slots, power of two; NULL until the first send */
	uint32_t head, n, cap;
};

struct entry {
	int64_t id;
	uint32_t pos; /* heap index, NONE when not queued; next free when unused */
	struct ring r;
};

struct hnode {
	int64_t due, id;
	uint32_t e;
};

struct slot {
	int64_t id;
	uint32_t e; /* NONE = empty */
};

struct sched {
	struct entry *ents;
	uint32_t nents, capents, free_head;
	struct hnode *heap;
	size_t nheap, capheap;
	struct slot *tab;
	size_t tabcap, tabused; /* tabcap is a power of two */
	uint64_t touched;
};

/* ---- parameters ---- */

void sched_params_default(struct sched_params *p)
{
	memset(p, 0, sizeof *p);
	p->scale_factor = 1.0;
	p->mean_s = 30.0;
	p->prime_mean_s = 18.0;
	p->prime_boost = 1;
	p->nprime = 2;
	p->prime_from[0] = 9 * 60 + 30;
	p->prime_to[0] = 12 * 60;
	p->prime_from[1] = 14 * 60;
	p->prime_to[1] = 18 * 60;
	p->hourly_min = 6;
	p->hourly_max = 12;
	p->hour_ms = HOUR_MS;
}

/* A usable scale: NaN and infinities as 1, then the floor. */
static double clean_scale(double f)
{
	if (!isfinite(f))
		return 1.0;
	return f > SCHED_MIN_SCALE ? f : SCHED_MIN_SCALE;
}

int64_t sched_params_window_ms(const struct sched_params *p)
{
	double f = clean_scale(p->scale_factor);
	int64_t w;

	if (f <= 1.0)
		return HOUR_MS;
	w = (int64_t)llround((double)HOUR_MS / f);
	return w > 0 ? w : 1;
}

/* The window the policy uses: hour_ms, at most the hour of history kept. */
static int64_t window_of(const struct sched_params *p)
{
	if (p->hour_ms <= 0)
		return sched_params_window_ms(p);
	return p->hour_ms < HOUR_MS ? p->hour_ms : HOUR_MS;
}

/* ---- hours ---- */

static int fail(char *err, size_t errlen, const char *fmt, const char *a, int b)
{
	snprintf(err, errlen, fmt, a, b);
	return -1;
}

/* ["HH:MM-HH:MM", ...] into h, at most max ranges; NULL/null = none. */
static int parse_hours(const json_t *v, const char *path, int max, struct sched_hours *h, char *err,
		       size_t errlen)
{
	size_t i;
	json_t *e;

	memset(h, 0, sizeof *h);
	if (!v || json_is_null(v))
		return 0;
	if (cast_check_hours(v, path, err, errlen) < 0)
		return -1;
	if (json_array_size(v) > (size_t)max)
		return fail(err, errlen, "%s: at most %d ranges", path, max);
	json_array_foreach(v, i, e) {
		if (cast_parse_range(json_string_value(e), &h->from[i], &h->to[i]) < 0)
			return fail(err, errlen, "%s[%d]: expected \"HH:MM-HH:MM\"", path, (int)i);
		h->n++;
	}
	return 0;
}

int sched_hours_from_json(const json_t *active_hours, struct sched_hours *out, char *err, size_t errlen)
{
	struct sched_hours h;

	if (parse_hours(active_hours, "active_hours", SCHED_MAX_HOURS, &h, err, errlen) < 0)
		return -1;
	*out = h;
	return 0;
}

int sched_params_set_prime(struct sched_params *p, const json_t *prime_hours, char *err, size_t errlen)
{
	struct sched_hours h;

	if (parse_hours(prime_hours, "prime_hours", SCHED_MAX_PRIME, &h, err, errlen) < 0)
		return -1;
	p->nprime = h.n;
	for (int i = 0; i < h.n; i++) {
		p->prime_from[i] = h.from[i];
		p->prime_to[i] = h.to[i];
	}
	return 0;
}

static int range_contains(int from, int to, int m)
{
	if (from < to)
		return m >= from && m < to;
	return m >= from || m < to; /* wraps midnight */
}

static int norm_minute(int m)
{
	return ((m % DAY_MIN) + DAY_MIN) % DAY_MIN;
}

int sched_hours_contain(const struct sched_hours *h, int minute_of_day)
{
	int m = norm_minute(minute_of_day);

	if (!h || h->n <= 0)
		return 1;
	for (int i = 0; i < h->n && i < SCHED_MAX_HOURS; i++)
		if (range_contains(h->from[i], h->to[i], m))
			return 1;
	return 0;
}

int sched_hours_next_start(const struct sched_hours *h, int minute_of_day)
{
	int m = norm_minute(minute_of_day), best = DAY_MIN;

	if (sched_hours_contain(h, m))
		return 0;
	for (int i = 0; i < h->n && i < SCHED_MAX_HOURS; i++) {
		int d = norm_minute(h->from[i] - m);

		best = d < best ? d : best;
	}
	return best;
}

int sched_in_prime(const struct sched_params *p, int minute_of_day)
{
	int m = norm_minute(minute_of_day);

	for (int i = 0; i < p->nprime && i < SCHED_MAX_PRIME; i++)
		if (range_contains(p->prime_from[i], p->prime_to[i], m))
			return 1;
	return 0;
}

/* ---- speed ---- */

void sched_speed_default(struct sched_speed *sp)
{
	sp->base_delay_s = 0.0;
	sp->delay_multiplier = 1.0;
	sp->jitter_min = 0.7;
	sp->jitter_max = 1.3;
	sp->min_s = 2.0;
	sp->max_s = 180.0;
}

static void read_num(const json_t *o, const char *key, double *dst)
{
	json_t *v = json_object_get(o, key);

	if (json_is_number(v))
		*dst = json_number_value(v);
}

int sched_speed_from_json(const json_t *speed_profile, struct sched_speed *out, char *err, size_t errlen)
{
	struct sched_speed sp;
	json_t *d;

	sched_speed_default(&sp);
	if (speed_profile && !json_is_null(speed_profile)) {
		if (cast_check_speed(speed_profile, "speed_profile", err, errlen) < 0)
			return -1;
		d = json_object_get(speed_profile, "delay");
		read_num(d, "base_delay_seconds", &sp.base_delay_s);
		read_num(d, "delay_multiplier", &sp.delay_multiplier);
		read_num(d, "jitter_min", &sp.jitter_min);
		read_num(d, "jitter_max", &sp.jitter_max);
		read_num(d, "min_seconds", &sp.min_s);
		read_num(d, "max_seconds", &sp.max_s);
	}
	/* Each pair is checked by cast only when both are given; defaults fill gaps. */
	if (sp.jitter_min > sp.jitter_max) {
		snprintf(err, errlen, "speed_profile.delay: jitter_min %g above jitter_max %g",
			 sp.jitter_min, sp.jitter_max);
		return -1;
	}
	if (sp.min_s > sp.max_s) {
		snprintf(err, errlen, "speed_profile.delay: min_seconds %g above max_seconds %g",
			 sp.min_s, sp.max_s);
		return -1;
	}
	*out = sp;
	return 0;
}

/* ---- delay model ---- */

double sched_mean_s(const struct sched_params *p, const struct sched_speed *sp, int minute_of_day,
		    int favoured)
{
	struct sched_speed def;
	int prime = p->prime_boost && sched_in_prime(p, minute_of_day);
	double m;

	if (!sp) {
		sched_speed_default(&def);
		sp = &def;
	}
	if (sp->base_delay_s > 0) {
		m = sp->base_delay_s;
		if (prime && p->mean_s > 0)
			m *= p->prime_mean_s / p->mean_s;
	} else {
		m = prime ? p->prime_mean_s : p->mean_s;
	}
	m /= clean_scale(p->scale_factor);
	if (sp->delay_multiplier > 0 && isfinite(sp->delay_multiplier))
		m *= sp->delay_multiplier;
	if (favoured)
		m /= 2;
	return m > 0 && isfinite(m) ? m : 0.0;
}

double sched_delay_s(const struct sched_params *p, const struct sched_speed *sp, int minute_of_day,
		     int favoured, uint64_t *rng)
{
	struct sched_speed def;
	double scale = clean_scale(p->scale_factor), lo, hi, d, j;

	if (!sp) {
		sched_speed_default(&def);
		sp = &def;
	}
	/* 1 - u is in (0, 1], so the logarithm is finite: at most about 36.7 means. */
	d = -log(1.0 - backoff_uniform(rng)) * sched_mean_s(p, sp, minute_of_day, favoured);
	j = sp->jitter_min + (sp->jitter_max - sp->jitter_min) * backoff_uniform(rng);
	d *= j;
	lo = sp->min_s / scale;
	lo = lo > SCHED_MIN_DELAY_S ? lo : SCHED_MIN_DELAY_S;
	hi = sp->max_s / scale;
	hi = hi > lo ? hi : lo;
	if (!(d >= lo)) /* also NaN */
		d = lo;
	return d < hi ? d : hi;
}

/* ---- hash table ---- */

static uint64_t hash_id(int64_t id)
{
	uint64_t x = (uint64_t)id;

	/* splitmix64's finaliser: sequential ids spread over the table. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* The slot holding id, or the empty slot where it would go. */
static size_t tab_find(const struct sched *s, int64_t id)
{
	size_t mask = s->tabcap - 1, i = hash_id(id) & mask;

	while (s->tab[i].e != NONE && s->tab[i].id != id)
		i = (i + 1) & mask;
	return i;
}

static uint32_t lookup(const struct sched *s, int64_t id)
{
	return s->tab[tab_find(s, id)].e;
}

static int tab_grow(struct sched *s)
{
	size_t ncap = s->tabcap * 2;
	struct slot *old = s->tab, *nt = malloc(ncap * sizeof *nt);
	size_t oldcap = s->tabcap;

	if (!nt)
		return -1;
	for (size_t i = 0; i < ncap; i++)
		nt[i].e = NONE;
	s->tab = nt;
	s->tabcap = ncap;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].e != NONE)
			s->tab[tab_find(s, old[i].id)] = old[i];
	free(old);
	return 0;
}

/* Backward-shift deletion: later members of the probe run move up into the gap
 * unless their home slot lies cyclically in (gap, their slot]. */
static void tab_delete(struct sched *s, int64_t id)
{
	size_t mask = s->tabcap - 1, i = tab_find(s, id), j = i;

	if (s->tab[i].e == NONE)
		return;
	for (;;) {
		size_t k;

		j = (j + 1) & mask;
		if (s->tab[j].e == NONE)
			break;
		k = hash_id(s->tab[j].id) & mask;
		if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
			s->tab[i] = s->tab[j];
			i = j;
		}
	}
	s->tab[i].e = NONE;
	s->tabused--;
}

/* ---- entries ---- */

/* The entry of id, created if needed: its index, or NONE when out of memory. */
static uint32_t entry_get(struct sched *s, int64_t id)
{
	uint32_t e = lookup(s, id);
	size_t sl;

	if (e != NONE)
		return e;
	if ((s->tabused + 1) * 2 > s->tabcap && tab_grow(s) < 0)
		return NONE;
	if (s->free_head != NONE) {
		e = s->free_head;
		s->free_head = s->ents[e].pos;
	} else {
		if (s->nents == s->capents) {
			uint32_t ncap = s->capents ? s->capents * 2 : 64;
			struct entry *ne;

			if (ncap >= NONE || !(ne = realloc(s->ents, (size_t)ncap * sizeof *ne)))
				return NONE;
			s->ents = ne;
			s->capents = ncap;
		}
		e = s->nents++;
	}
	memset(&s->ents[e], 0, sizeof s->ents[e]);
	s->ents[e].id = id;
	s->ents[e].pos = NONE;
	sl = tab_find(s, id);
	s->tab[sl].id = id;
	s->tab[sl].e = e;
	s->tabused++;
	return e;
}

static void entry_free(struct sched *s, uint32_t e)
{
	tab_delete(s, s->ents[e].id);
	free(s->ents[e].r.t);
	memset(&s->ents[e], 0, sizeof s->ents[e]);
	s->ents[e].pos = s->free_head;
	s->free_head = e;
}

/* ---- heap ---- */

static int node_less(const struct hnode *a, const struct hnode *b)
{
	return a->due < b->due || (a->due == b->due && a->id < b->id);
}

static void heap_set(struct sched *s, size_t pos, struct hnode n)
{
	s->heap[pos] = n;
	s->ents[n.e].pos = (uint32_t)pos;
	s->touched++;
}

static void sift_up(struct sched *s, size_t pos)
{
	struct hnode n = s->heap[pos];

	while (pos > 0) {
		size_t parent = (pos - 1) / 2;

		if (!node_less(&n, &s->heap[parent]))
			break;
		heap_set(s, pos, s->heap[parent]);
		pos = parent;
	}
	heap_set(s, pos, n);
}

static void sift_down(struct sched *s, size_t pos)
{
	struct hnode n = s->heap[pos];

	for (;;) {
		size_t c = 2 * pos + 1;

		if (c >= s->nheap)
			break;
		if (c + 1 < s->nheap && node_less(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!node_less(&s->heap[c], &n))
			break;
		heap_set(s, pos, s->heap[c]);
		pos = c;
	}
	heap_set(s, pos, n);
}

/* Restore the order around pos after its node changed. */
static void sift(struct sched *s, size_t pos)
{
	if (pos > 0 && node_less(&s->heap[pos], &s->heap[(pos - 1) / 2]))
		sift_up(s, pos);
	else
		sift_down(s, pos);
}

static void heap_remove_at(struct sched *s, size_t pos)
{
	s->ents[s->heap[pos].e].pos = NONE;
	if (--s->nheap == pos)
		return;
	heap_set(s, pos, s->heap[s->nheap]);
	sift(s, pos);
}

/* ---- lifecycle and queue ---- */

struct sched *sched_new(void)
{
	struct sched *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->tabcap = 64;
	s->free_head = NONE;
	if (!(s->tab = malloc(s->tabcap * sizeof *s->tab))) {
		free(s);
		return NULL;
	}
	for (size_t i = 0; i < s->tabcap; i++)
		s->tab[i].e = NONE;
	return s;
}

void sched_free(struct sched *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->nents; i++)
		free(s->ents[i].r.t);
	free(s->ents);
	free(s->heap);
	free(s->tab);
	free(s);
}

int sched_add(struct sched *s, int64_t id, int64_t due_ms)
{
	uint32_t e;

	if (s->nheap == s->capheap) {
		size_t ncap = s->capheap ? s->capheap * 2 : 64;
		struct hnode *nh = realloc(s->heap, ncap * sizeof *nh);

		if (!nh)
			return -1;
		s->heap = nh;
		s->capheap = ncap;
	}
	if ((e = entry_get(s, id)) == NONE)
		return -1;
	if (s->ents[e].pos != NONE) {
		s->heap[s->ents[e].pos].due = due_ms;
		sift(s, s->ents[e].pos);
		return 0;
	}
	s->heap[s->nheap] = (struct hnode){ .due = due_ms, .id = id, .e = e };
	s->ents[e].pos = (uint32_t)s->nheap;
	sift_up(s, s->nheap++);
	return 0;
}

int sched_remove(struct sched *s, int64_t id)
{
	uint32_t e = lookup(s, id);

	if (e == NONE || s->ents[e].pos == NONE)
		return -1;
	heap_remove_at(s, s->ents[e].pos);
	return 0;
}

void sched_forget(struct sched *s, int64_t id)
{
	uint32_t e = lookup(s, id);

	if (e == NONE)
		return;
	if (s->ents[e].pos != NONE)
		heap_remove_at(s, s->ents[e].pos);
	entry_free(s, e);
}

int64_t sched_next_due(const struct sched *s)
{
	return s->nheap ? s->heap[0].due : INT64_MAX;
}

int64_t sched_due(const struct sched *s, int64_t id)
{
	uint32_t e = lookup(s, id);

	if (e == NONE || s->ents[e].pos == NONE)
		return INT64_MAX;
	return s->heap[s->ents[e].pos].due;
}

size_t sched_pop_due(struct sched *s, int64_t now_ms, int64_t *ids, size_t max)
{
	size_t k = 0;

	s->touched++; /* the peek */
	while (k < max && s->nheap && s->heap[0].due <= now_ms) {
		ids[k++] = s->heap[0].id;
		heap_remove_at(s, 0);
	}
	return k;
}

size_t sched_size(const struct sched *s)
{
	return s->nheap;
}

uint64_t sched_touched(const struct sched *s)
{
	return s->touched;
}

/* ---- send history ---- */

static int64_t *ring_at(const struct ring *r, uint32_t i)
{
	return &r->t[(r->head + i) & (r->cap - 1)];
}

static int ring_grow(struct ring *r)
{
	uint32_t ncap = r->cap ? r->cap * 2 : 8;
	int64_t *nt = malloc((size_t)ncap * sizeof *nt);

	if (!nt)
		return -1;
	for (uint32_t i = 0; i < r->n; i++)
		nt[i] = *ring_at(r, i);
	free(r->t);
	r->t = nt;
	r->cap = ncap;
	r->head = 0;
	return 0;
}

static int ring_note(struct ring *r, int64_t t)
{
	int64_t newest = r->n && *ring_at(r, r->n - 1) > t ? *ring_at(r, r->n - 1) : t;
	uint32_t i;

	if (t <= newest - HOUR_MS)
		return 0; /* older than any window: it can never count */
	while (r->n && *ring_at(r, 0) <= newest - HOUR_MS) {
		r->head = (r->head + 1) & (r->cap - 1);
		r->n--;
	}
	if (r->n == r->cap) {
		if (r->cap < SCHED_RING_MAX) {
			if (ring_grow(r) < 0)
				return -1;
		} else if (t <= *ring_at(r, 0)) {
			return 0; /* full of newer sends: the count saturates anyway */
		} else {
			r->head = (r->head + 1) & (r->cap - 1);
			r->n--;
		}
	}
	for (i = r->n; i > 0 && *ring_at(r, i - 1) > t; i--)
		*ring_at(r, i) = *ring_at(r, i - 1);
	*ring_at(r, i) = t;
	r->n++;
	return 0;
}

/* Index of the first send after lower (r->n when none). */
static uint32_t ring_first_after(const struct ring *r, int64_t lower)
{
	uint32_t lo = 0, hi = r->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (*ring_at(r, mid) > lower)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

int sched_note_sent(struct sched *s, int64_t id, int64_t t_ms)
{
	uint32_t e = entry_get(s, id);

	if (e == NONE)
		return -1;
	return ring_note(&s->ents[e].r, t_ms);
}

static const struct ring *ring_of(const struct sched *s, int64_t id)
{
	uint32_t e = lookup(s, id);

	return e == NONE ? NULL : &s->ents[e].r;
}

int sched_sent_last_hour(const struct sched *s, int64_t id, int64_t now_ms, int64_t hour_ms)
{
	const struct ring *r = ring_of(s, id);

	if (!r)
		return 0;
	if (hour_ms <= 0 || hour_ms > HOUR_MS)
		hour_ms = HOUR_MS;
	return (int)(r->n - ring_first_after(r, now_ms - hour_ms));
}

/* ---- policy ---- */

int sched_favoured(const struct sched_params *p, const struct sched *s, int64_t id, int64_t now_ms)
{
	return sched_sent_last_hour(s, id, now_ms, window_of(p)) < p->hourly_min;
}

/* Until enough sends leave the window for one more to fit under cap (> 0). */
static int64_t capped_retry(const struct ring *r, int64_t now_ms, int64_t window, int cap)
{
	uint32_t first = ring_first_after(r, now_ms - window);
	uint32_t count = r->n - first;

	/* With count sends inside, count - cap + 1 must leave: the last of them is at
	 * index first + count - cap, and it leaves at its time + window. */
	return *ring_at(r, first + count - (uint32_t)cap) + window - now_ms;
}

enum sched_verdict sched_check(const struct sched_params *p, const struct sched *s, int64_t id,
			       int64_t now_ms, int minute_of_day, const struct sched_hours *active,
			       int last_author_is_self, int64_t *retry_in_ms)
{
	int64_t window = window_of(p), retry = 0;
	int cap = p->hourly_max < SCHED_RING_MAX ? p->hourly_max : SCHED_RING_MAX;
	enum sched_verdict v = SCHED_SPEAK;

	if (cap < 0)
		cap = 0;
	if (!sched_hours_contain(active, minute_of_day)) {
		int64_t into_minute = ((now_ms % 60000) + 60000) % 60000;

		v = SCHED_INACTIVE;
		retry = (int64_t)sched_hours_next_start(active, minute_of_day) * 60000 - into_minute;
	} else if (sched_sent_last_hour(s, id, now_ms, window) >= cap) {
		v = SCHED_CAPPED;
		retry = cap == 0 ? window : capped_retry(ring_of(s, id), now_ms, window, cap);
	} else if (last_author_is_self) {
		v = SCHED_OWN_LAST;
	}
	if (retry_in_ms)
		*retry_in_ms = retry;
	return v;
}
