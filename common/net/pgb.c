/* pgb: see pgb.h. Rows wait in `pending` until the timer (0 ms, so the next
 * turn of the loop) or a full batch sends them; a sent batch owns its rows until
 * pgc answers. With a window, batches beyond it wait in `ready` (full ones) or
 * go on filling `pending` until a statement comes back. The pgb itself is reference counted by its
 * sent batches, so pgb_free may run while statements are still out. */
#include "common/net/pgb.h"

#include <stdlib.h>
#include <string.h>

struct item {
	char *key;
	json_t *row;
	pgb_cb cb;
	void *arg;
	int res_row;
};

struct batch {
	struct pgb *b;
	size_t n;
	int solo;           /* a resend of one row of a rejected batch */
	const char *err;    /* set when it could not be sent */
	struct batch *next; /* in b->failed or b->ready */
	struct item items[];
};

struct pgb {
	uv_loop_t *loop;
	uv_timer_t timer;
	char *sql;
	size_t max_rows;
	pgb_conn_fn conn;
	void *conn_arg;
	struct batch *pending;
	struct batch *ready, *ready_tail; /* closed batches waiting for the window */
	struct batch *failed;             /* could not be sent: answered on the timer */
	size_t window, out;               /* statements allowed out at once (0: any), out now */
	uint64_t delay_ms;                /* a first row waits this long for company */
	int refs;                         /* 1 for the owner + one per batch out */
	int closing;
	unsigned long long rows, statements;
};

static void unref(struct pgb *b);

static void on_timer_closed(uv_handle_t *h)
{
	unref(h->data);
}

static void unref(struct pgb *b)
{
	if (--b->refs > 0)
		return;
	free(b->sql);
	free(b);
}

static struct batch *batch_new(struct pgb *b, size_t cap)
{
	struct batch *bt = calloc(1, sizeof *bt + cap * sizeof(struct item));

	if (bt)
		bt->b = b;
	return bt;
}

static void batch_free(struct batch *bt)
{
	for (size_t i = 0; i < bt->n; i++) {
		free(bt->items[i].key);
		json_decref(bt->items[i].row);
	}
	free(bt);
}

static void fail_all(struct batch *bt, const char *err)
{
	for (size_t i = 0; i < bt->n; i++)
		bt->items[i].cb(NULL, -1, err, bt->items[i].arg);
	batch_free(bt);
}

static int cmp_item(const void *a, const void *b)
{
	return strcmp((*(const struct item *const *)a)->key, (*(const struct item *const *)b)->key);
}

/* Each item's result row, matched on column 0. */
static void match_rows(struct batch *bt, PGresult *res)
{
	int nt = PQntuples(res);
	struct item **idx;

	for (size_t i = 0; i < bt->n; i++)
		bt->items[i].res_row = -1;
	if (nt == 0 || PQnfields(res) == 0)
		return;
	if (bt->n == 1) {
		bt->items[0].res_row = 0;
		return;
	}
	if (!(idx = malloc(bt->n * sizeof *idx)))
		return;
	for (size_t i = 0; i < bt->n; i++)
		idx[i] = &bt->items[i];
	qsort(idx, bt->n, sizeof *idx, cmp_item);
	for (int r = 0; r < nt; r++) {
		struct item key = { .key = PQgetvalue(res, r, 0) }, *kp = &key, **hit;

		hit = bsearch(&kp, idx, bt->n, sizeof *idx, cmp_item);
		if (hit)
			(*hit)->res_row = r;
	}
	free(idx);
}

static int send_batch(struct batch *bt);
static void on_turn(uv_timer_t *h);

/* A rejected statement: each row again on its own, so only the bad one fails. */
static void resend_solo(struct batch *bt, const char *err)
{
	for (size_t i = 0; i < bt->n; i++) {
		struct batch *one = batch_new(bt->b, 1);

		if (!one) {
			bt->items[i].cb(NULL, -1, err, bt->items[i].arg);
			continue;
		}
		one->items[0] = bt->items[i];
		one->n = 1;
		one->solo = 1;
		bt->items[i].key = NULL;
		bt->items[i].row = NULL;
		if (send_batch(one) < 0)
			fail_all(one, err);
	}
	batch_free(bt);
}

static void on_result(PGresult *res, const char *err, void *arg)
{
	struct batch *bt = arg;
	struct pgb *b = bt->b;

	b->out--;
	if (!b->closing && (b->ready || b->pending))
		uv_timer_start(&b->timer, on_turn, 0, 0);
	if (!res) {
		if (bt->n > 1 && !bt->solo && !b->closing && strcmp(err, "closing") != 0 &&
		    strncmp(err, "connection lost", 15) != 0)
			resend_solo(bt, err);
		else
			fail_all(bt, err);
	} else {
		match_rows(bt, res);
		for (size_t i = 0; i < bt->n; i++)
			bt->items[i].cb(res, bt->items[i].res_row, NULL, bt->items[i].arg);
		batch_free(bt);
	}
	unref(b);
}

static int send_batch(struct batch *bt)
{
	struct pgb *b = bt->b;
	json_t *arr = json_array();
	struct pgc *c;
	char *text;
	const char *p[1];
	int rc = -1;

	if (!arr)
		return -1;
	for (size_t i = 0; i < bt->n; i++)
		json_array_append(arr, bt->items[i].row);
	text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	if (!text)
		return -1;
	p[0] = text;
	if ((c = b->conn(b->conn_arg)) && pgc_query(c, b->sql, 1, p, on_result, bt) == 0) {
		b->refs++;
		b->out++;
		b->statements++;
		b->rows += bt->n;
		rc = 0;
	}
	free(text);
	return rc;
}

/* A batch that cannot go is answered on the next timer run (never inside
 * pgb_add). */
static void send_or_fail(struct pgb *b, struct batch *bt)
{
	if (send_batch(bt) < 0) {
		bt->err = "connection lost: no database connection";
		bt->next = b->failed;
		b->failed = bt;
		uv_timer_start(&b->timer, on_turn, 0, 0);
	}
}

/* Close the batch being filled: it goes after those already waiting. */
static void close_pending(struct pgb *b)
{
	struct batch *bt = b->pending;

	b->pending = NULL;
	if (!bt || bt->n == 0) {
		free(bt);
		return;
	}
	bt->next = NULL;
	if (b->ready_tail)
		b->ready_tail->next = bt;
	else
		b->ready = bt;
	b->ready_tail = bt;
}

/* Send what waits, oldest first, as far as the window allows. While it is
 * full, new rows go on filling `pending`: under load the batches grow instead
 * of queueing up as many small statements. */
static void flush(struct pgb *b)
{
	while (b->window == 0 || b->out < b->window) {
		struct batch *bt = b->ready;

		if (!bt) {
			if (!b->pending || b->pending->n == 0)
				return;
			close_pending(b);
			continue;
		}
		if (!(b->ready = bt->next))
			b->ready_tail = NULL;
		bt->next = NULL;
		send_or_fail(b, bt);
	}
}

static void on_turn(uv_timer_t *h)
{
	struct pgb *b = h->data;
	struct batch *f;

	while ((f = b->failed)) {
		b->failed = f->next;
		fail_all(f, f->err);
	}
	flush(b);
}

struct pgb *pgb_new(uv_loop_t *loop, const char *sql, size_t max_rows, pgb_conn_fn conn, void *conn_arg)
{
	struct pgb *b = calloc(1, sizeof *b);

	if (!b || !(b->sql = strdup(sql))) {
		free(b);
		return NULL;
	}
	b->loop = loop;
	b->max_rows = max_rows ? max_rows : 1;
	b->conn = conn;
	b->conn_arg = conn_arg;
	b->refs = 1;
	uv_timer_init(loop, &b->timer);
	b->timer.data = b;
	return b;
}

static int pending_has(const struct batch *bt, const char *key)
{
	for (size_t i = 0; bt && i < bt->n; i++)
		if (strcmp(bt->items[i].key, key) == 0)
			return 1;
	return 0;
}

int pgb_add(struct pgb *b, const char *key, json_t *row, pgb_cb cb, void *arg)
{
	struct item *it;
	char *k;

	if (b->closing || !row || !b->conn(b->conn_arg) || !(k = strdup(key))) {
		json_decref(row);
		return -1;
	}
	if (b->pending && (b->pending->n == b->max_rows || pending_has(b->pending, key))) {
		close_pending(b);
		flush(b);
	}
	if (!b->pending && !(b->pending = batch_new(b, b->max_rows))) {
		free(k);
		json_decref(row);
		return -1;
	}
	it = &b->pending->items[b->pending->n++];
	it->key = k;
	it->row = row;
	it->cb = cb;
	it->arg = arg;
	if (!uv_is_active((uv_handle_t *)&b->timer))
		uv_timer_start(&b->timer, on_turn, b->delay_ms, 0);
	return 0;
}

void pgb_set_window(struct pgb *b, size_t statements)
{
	b->window = statements;
}

void pgb_set_delay(struct pgb *b, unsigned ms)
{
	b->delay_ms = ms;
}

void pgb_stats(const struct pgb *b, unsigned long long *rows, unsigned long long *statements)
{
	*rows = b->rows;
	*statements = b->statements;
}

void pgb_free(struct pgb *b)
{
	struct batch *f;

	if (!b || b->closing)
		return;
	b->closing = 1;
	uv_timer_stop(&b->timer);
	while ((f = b->failed)) {
		b->failed = f->next;
		fail_all(f, f->err);
	}
	close_pending(b);
	while ((f = b->ready)) {
		b->ready = f->next;
		fail_all(f, "closing");
	}
	b->ready_tail = NULL;
	uv_close((uv_handle_t *)&b->timer, on_timer_closed);
}
