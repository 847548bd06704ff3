/* ownlog: see ownlog.h. Each message is one refcounted allocation (strings
 * inline), shared by the histories and the journal that hold it, so copying a
 * history for copy-on-write copies pointers, never the texts. A history is a
 * ring, newest at m[head]: an append writes one slot. Rings and journals grow
 * geometrically from a few slots: most bots have sent a handful of messages,
 * and thousands of full-sized ones would be mostly empty. */
#include "worker/chat/ownlog.h"

#include "common/imap.h"

#include <stdlib.h>
#include <string.h>

struct omsg {
	uint32_t refs;
	uint32_t bytes;      /* of this allocation, for the budget */
	struct ownlog_msg m; /* the strings point into buf */
	char buf[];
};

struct ownlog_hist {
	uint32_t refs;        /* the cache's (while cached) and the readers' */
	uint8_t n, head, cap; /* cap <= OWNLOG_MAX slots in m */
	size_t bytes;         /* the struct, its slots and its messages */
	struct omsg *m[];
};

_Static_assert(OWNLOG_MAX <= UINT8_MAX, "ring indexes are bytes");
_Static_assert(OWNLOG_JOURNAL_MAX <= UINT8_MAX, "journal counts are bytes");

struct entry {
	int64_t bot;
	struct entry *prev, *next; /* LRU, most recent first */
	struct ownlog_hist *hist;  /* NULL: not loaded, the journal only */
	int64_t loaded_ms, window_ms;
	struct omsg **journal; /* this worker's sends, newest first */
	uint8_t njournal, jcap;
	size_t bytes; /* counted in ownlog.bytes */
};

struct ownlog {
	struct imap *bots;
	struct entry *first, *last;
	size_t bytes, max_bytes;
	int64_t ttl_ms;
};

/* ---- messages ---- */

/* src with the vector of known when src has none (a row loaded again). */
static struct omsg *omsg_new(const struct ownlog_msg *src, const struct ownlog_msg *known)
{
	const char *topic = src->topic ? src->topic : "";
	const char *text = src->text ? src->text : "";
	const char *job = src->job_id ? src->job_id : "";
	const struct ownlog_msg *vm = src->vec && src->dim ? src : known;
	size_t dim = vm && vm->vec ? vm->dim : 0;
	size_t lt = strlen(topic) + 1, lx = strlen(text) + 1, lj = strlen(job) + 1;
	size_t bytes = sizeof(struct omsg) + dim + lt + lx + lj;
	struct omsg *o = bytes <= UINT32_MAX ? malloc(bytes) : NULL;
	char *p;

	if (!o)
		return NULL;
	o->refs = 1;
	o->bytes = (uint32_t)bytes;
	o->m.at_ms = src->at_ms;
	o->m.hash = src->hash;
	p = o->buf;
	o->m.vec = dim ? memcpy(p, vm->vec, dim) : NULL; /* first: int8 needs no alignment */
	o->m.dim = (uint32_t)dim;
	o->m.topic = memcpy(p += dim, topic, lt);
	o->m.text = memcpy(p += lt, text, lx);
	o->m.job_id = memcpy(p += lx, job, lj);
	return o;
}

static struct omsg *omsg_ref(struct omsg *o)
{
	o->refs++;
	return o;
}

static void omsg_unref(struct omsg *o)
{
	if (o && --o->refs == 0)
		free(o);
}

/* ---- histories ---- */

static size_t hist_size(size_t cap)
{
	return sizeof(struct ownlog_hist) + cap * sizeof(struct omsg *);
}

/* An empty history with room for cap messages. */
static struct ownlog_hist *hist_new(size_t cap)
{
	struct ownlog_hist *h = malloc(hist_size(cap));

	if (h) {
		h->refs = 1;
		h->n = h->head = 0;
		h->cap = (uint8_t)cap;
		h->bytes = hist_size(cap);
	}
	return h;
}

static struct omsg **slot(struct ownlog_hist *h, size_t i)
{
	return &h->m[(h->head + i) % h->cap];
}

/* Takes the caller's reference to o; a full history ignores it. */
static void hist_push_oldest(struct ownlog_hist *h, struct omsg *o)
{
	if (h->n == h->cap) {
		omsg_unref(o);
		return;
	}
	*slot(h, h->n++) = o;
	h->bytes += o->bytes;
}

/* Takes the caller's reference to o; the oldest falls off a full history.
 * The caller made room unless h holds OWNLOG_MAX (hist_cow). */
static void hist_push_newest(struct ownlog_hist *h, struct omsg *o)
{
	h->head = (uint8_t)((h->head + h->cap - 1) % h->cap);
	if (h->n == h->cap) {
		h->bytes -= h->m[h->head]->bytes;
		omsg_unref(h->m[h->head]); /* the slot before the newest is the oldest */
	} else {
		h->n++;
	}
	h->m[h->head] = o;
	h->bytes += o->bytes;
}

/* The cache's own copy of h with room for one more message (or full at
 * OWNLOG_MAX), to change: h itself when no reader holds it and it has the
 * room. A full ring doubles. NULL when memory runs out (h is left as it was). */
static struct ownlog_hist *hist_cow(struct ownlog_hist *h)
{
	size_t cap = h->cap;
	struct ownlog_hist *c;

	if (h->n == cap && cap < OWNLOG_MAX)
		cap = cap < 2 ? 2 : cap * 2 < OWNLOG_MAX ? cap * 2 : OWNLOG_MAX;
	if (h->refs == 1 && cap == h->cap)
		return h;
	if (!(c = hist_new(cap)))
		return NULL;
	for (size_t i = 0; i < h->n; i++)
		c->m[i] = *slot(h, i);
	c->n = h->n;
	c->bytes = h->bytes - hist_size(h->cap) + hist_size(cap);
	if (h->refs == 1) {
		free(h); /* no reader: its messages move to c */
		return c;
	}
	for (size_t i = 0; i < c->n; i++)
		omsg_ref(c->m[i]);
	h->refs--; /* the cache's reference moves to the copy */
	return c;
}

void ownlog_unref(struct ownlog_hist *h)
{
	if (!h || --h->refs > 0)
		return;
	for (size_t i = 0; i < h->n; i++)
		omsg_unref(*slot(h, i));
	free(h);
}

size_t ownlog_len(const struct ownlog_hist *h)
{
	return h ? h->n : 0;
}

const struct ownlog_msg *ownlog_at(const struct ownlog_hist *h, size_t i)
{
	if (!h || i >= h->n)
		return NULL;
	return &h->m[(h->head + i) % h->cap]->m;
}

/* ---- entries: the LRU list and the budget ---- */

static void lru_unlink(struct ownlog *ol, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		ol->first = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		ol->last = e->prev;
	e->prev = e->next = NULL;
}

static void lru_front(struct ownlog *ol, struct entry *e)
{
	if (ol->first == e)
		return;
	if (e->prev || e->next || ol->last == e)
		lru_unlink(ol, e);
	e->next = ol->first;
	if (ol->first)
		ol->first->prev = e;
	ol->first = e;
	if (!ol->last)
		ol->last = e;
}

/* The journal's sends are counted only without a history: with one, they are
 * in it (shared), short of a load that cut them off past OWNLOG_MAX. */
static void resize(struct ownlog *ol, struct entry *e)
{
	size_t b = sizeof *e + e->jcap * sizeof *e->journal;

	if (e->hist)
		b += e->hist->bytes;
	else
		for (size_t i = 0; i < e->njournal; i++)
			b += e->journal[i]->bytes;
	ol->bytes = ol->bytes - e->bytes + b;
	e->bytes = b;
}

static void drop_hist(struct ownlog *ol, struct entry *e)
{
	ownlog_unref(e->hist);
	e->hist = NULL;
	resize(ol, e);
}

static void drop_entry(struct ownlog *ol, struct entry *e)
{
	lru_unlink(ol, e);
	imap_del(ol->bots, e->bot);
	ownlog_unref(e->hist);
	for (size_t i = 0; i < e->njournal; i++)
		omsg_unref(e->journal[i]);
	free(e->journal);
	ol->bytes -= e->bytes;
	free(e);
}

static struct entry *entry_of(struct ownlog *ol, int64_t bot, int create)
{
	struct entry *e = imap_get(ol->bots, bot);

	if (e || !create)
		return e;
	if (!(e = calloc(1, sizeof *e)))
		return NULL;
	e->bot = bot;
	if (imap_put(ol->bots, bot, e) < 0) {
		free(e);
		return NULL;
	}
	lru_front(ol, e);
	resize(ol, e);
	return e;
}

/* Least recently used first, never keep unless it alone is over the budget:
 * then its history goes (the caller's reference outlives it), then itself. */
static void fit(struct ownlog *ol, struct entry *keep)
{
	struct entry *e = ol->last, *prev;

	for (; e && ol->bytes > ol->max_bytes; e = prev) {
		prev = e->prev;
		if (e != keep)
			drop_entry(ol, e);
	}
	if (keep && ol->bytes > ol->max_bytes && keep->hist)
		drop_hist(ol, keep);
	if (keep && ol->bytes > ol->max_bytes)
		drop_entry(ol, keep);
}

static int expired(const struct ownlog *ol, const struct entry *e, int64_t now_ms)
{
	return now_ms < e->loaded_ms || now_ms - e->loaded_ms >= ol->ttl_ms;
}

/* Sends older than OWNLOG_JOURNAL_MS are visible to any load by now. An
 * empty journal gives its slots back: most bots send rarely. */
static void journal_prune(struct entry *e, int64_t now_ms)
{
	while (e->njournal && e->journal[e->njournal - 1]->m.at_ms <= now_ms - OWNLOG_JOURNAL_MS)
		omsg_unref(e->journal[--e->njournal]);
	if (!e->njournal && e->journal) {
		free(e->journal);
		e->journal = NULL;
		e->jcap = 0;
	}
}

/* 0, or -1 when there is no memory for o (the journal is unchanged). */
static int journal_add(struct entry *e, struct omsg *o)
{
	if (e->njournal == e->jcap && e->jcap < OWNLOG_JOURNAL_MAX) {
		size_t cap = e->jcap ? e->jcap * 2u : 2u;
		struct omsg **j;

		if (cap > OWNLOG_JOURNAL_MAX)
			cap = OWNLOG_JOURNAL_MAX;
		if (!(j = realloc(e->journal, cap * sizeof *j)))
			return -1;
		e->journal = j;
		e->jcap = (uint8_t)cap;
	}
	if (e->njournal == OWNLOG_JOURNAL_MAX)
		omsg_unref(e->journal[--e->njournal]);
	memmove(e->journal + 1, e->journal, e->njournal * sizeof *e->journal);
	e->journal[0] = omsg_ref(o);
	e->njournal++;
	return 0;
}

/* ---- the cache ---- */

struct ownlog *ownlog_new(size_t max_bytes, int64_t ttl_ms)
{
	struct ownlog *ol = calloc(1, sizeof *ol);

	if (!ol)
		return NULL;
	if (!(ol->bots = imap_new())) {
		free(ol);
		return NULL;
	}
	ol->max_bytes = max_bytes ? max_bytes : OWNLOG_BYTES_DEFAULT;
	ol->ttl_ms = ttl_ms > 0 ? ttl_ms : OWNLOG_TTL_MS_DEFAULT;
	return ol;
}

void ownlog_free(struct ownlog *ol)
{
	if (!ol)
		return;
	while (ol->first)
		drop_entry(ol, ol->first);
	imap_free(ol->bots);
	free(ol);
}

struct ownlog_hist *ownlog_get(struct ownlog *ol, int64_t bot, int64_t now_ms, int64_t window_ms)
{
	struct entry *e = entry_of(ol, bot, 0);

	if (!e || !e->hist)
		return NULL;
	/* An expired history stays until the reload replaces it, which takes
	 * its vectors over (or the budget evicts it). */
	if (expired(ol, e, now_ms))
		return NULL;
	if (e->window_ms < window_ms)
		return NULL;
	lru_front(ol, e);
	e->hist->refs++;
	return e->hist;
}

static int in_rows(const struct omsg *o, const struct ownlog_msg *rows, size_t n)
{
	if (!*o->m.job_id)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (rows[i].job_id && strcmp(rows[i].job_id, o->m.job_id) == 0)
			return 1;
	return 0;
}

/* The message the cache holds for row (same job, same text), or NULL. */
static const struct ownlog_msg *known(const struct entry *e, const struct ownlog_msg *row)
{
	const struct ownlog_hist *h = e ? e->hist : NULL;

	if (!row->job_id || !*row->job_id || (row->vec && row->dim))
		return NULL;
	for (size_t i = 0; i < ownlog_len(h); i++) {
		const struct ownlog_msg *m = ownlog_at(h, i);
		if (m->vec && m->hash == row->hash && strcmp(m->job_id, row->job_id) == 0)
			return m;
	}
	for (size_t i = 0; e && i < e->njournal; i++) {
		const struct ownlog_msg *m = &e->journal[i]->m;
		if (m->vec && m->hash == row->hash && strcmp(m->job_id, row->job_id) == 0)
			return m;
	}
	return NULL;
}

/* rows (newest first) and the journal's sends that rows lacks, merged by time. */
static struct ownlog_hist *merge(const struct ownlog_msg *rows, size_t n, struct entry *e)
{
	struct ownlog_hist *h;
	struct omsg *extra[OWNLOG_JOURNAL_MAX];
	size_t nx = 0, i = 0, j = 0;

	for (size_t k = 0; e && k < e->njournal; k++)
		if (!in_rows(e->journal[k], rows, n))
			extra[nx++] = e->journal[k];
	if (!(h = hist_new(n + nx < OWNLOG_MAX ? n + nx : OWNLOG_MAX)))
		return NULL;
	while (h->n < h->cap && (i < n || j < nx)) {
		struct omsg *o;

		if (j < nx && (i >= n || extra[j]->m.at_ms > rows[i].at_ms)) {
			o = omsg_ref(extra[j++]);
		} else if (!(o = omsg_new(&rows[i], known(e, &rows[i])))) {
			ownlog_unref(h);
			return NULL;
		} else {
			i++;
		}
		hist_push_oldest(h, o);
	}
	return h;
}

struct ownlog_hist *ownlog_put(struct ownlog *ol, int64_t bot, int64_t now_ms, int64_t window_ms,
			       const struct ownlog_msg *rows, size_t n)
{
	struct entry *e = entry_of(ol, bot, 0);
	struct ownlog_hist *h;

	if (e)
		journal_prune(e, now_ms);
	if (n > OWNLOG_MAX)
		n = OWNLOG_MAX;
	if (!(h = merge(rows, n, e)))
		return NULL;
	if (!e && !(e = entry_of(ol, bot, 1)))
		return h; /* usable, only not cached */
	ownlog_unref(e->hist);
	e->hist = h;
	h->refs++; /* the cache's */
	e->loaded_ms = now_ms;
	e->window_ms = window_ms;
	lru_front(ol, e);
	resize(ol, e);
	fit(ol, e);
	return h;
}

void ownlog_add(struct ownlog *ol, int64_t bot, int64_t now_ms, const struct ownlog_msg *m)
{
	struct omsg *o = omsg_new(m, NULL);
	struct entry *e = entry_of(ol, bot, o != NULL);
	struct ownlog_hist *h;

	if (!o || !e) {
		if (e && e->hist)
			drop_hist(ol, e); /* a history missing a send must not be served */
		omsg_unref(o);
		return;
	}
	journal_prune(e, now_ms);
	if (journal_add(e, o) < 0) { /* as when o itself could not be made */
		omsg_unref(o);
		if (e->hist)
			drop_hist(ol, e);
		if (!e->njournal)
			drop_entry(ol, e);
		return;
	}
	if (e->hist && !expired(ol, e, now_ms)) {
		if ((h = hist_cow(e->hist))) {
			hist_push_newest(h, omsg_ref(o));
			e->hist = h;
		} else {
			ownlog_unref(e->hist);
			e->hist = NULL;
		}
	}
	omsg_unref(o);
	lru_front(ol, e);
	resize(ol, e);
	fit(ol, e);
}

void ownlog_set_max_bytes(struct ownlog *ol, size_t max_bytes)
{
	if (!ol)
		return;
	ol->max_bytes = max_bytes ? max_bytes : OWNLOG_BYTES_DEFAULT;
	fit(ol, NULL);
}

size_t ownlog_bytes(const struct ownlog *ol)
{
	return ol ? ol->bytes : 0;
}

size_t ownlog_count(const struct ownlog *ol)
{
	return ol ? imap_count(ol->bots) : 0;
}
