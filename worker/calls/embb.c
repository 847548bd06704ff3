/* embb: see embb.h. An item holds its text as a jansson string, made (and so
 * checked as UTF-8) when it is queued: a text the request could not carry fails
 * alone, at once, instead of failing the batch it would have joined. */
#include "worker/calls/embb.h"

#include "worker/calls/embw.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMBB_TIMEOUT_MS 5000
#define EMBB_CONNECT_TIMEOUT_MS 2000

struct item {
	struct item *next;
	size_t size; /* of buf */
	embb_cb cb;
	void *arg;
	json_t *text;
	size_t len;
	const char *url, *auth, *model; /* into buf */
	char buf[];
};

struct embb {
	uv_loop_t *loop;
	struct httpc *http;
	uv_timer_t turn; /* 0 ms: the texts of this turn go together */
	struct item *head, **tail;
	int closing;
	unsigned long requests, texts;
};

/* One request in flight; needs nothing of the embb, which may be gone when
 * the answer comes. */
struct batch {
	size_t n;
	struct item *items[EMBB_MAX_INPUTS];
};

static void item_answer(struct item *it, const float *v, size_t dim, const char *err)
{
	it->cb(v, dim, err, it->arg);
	json_decref(it->text);
	explicit_bzero(it->buf, it->size); /* the API key */
	free(it);
}

static void batch_fail(struct batch *bt, const char *err)
{
	for (size_t i = 0; i < bt->n; i++)
		item_answer(bt->items[i], NULL, 0, err);
	free(bt);
}

static void on_answer(const struct httpc_resp *r, void *arg)
{
	struct batch *bt = arg;
	char err[200];
	float *vecs;
	size_t dim;

	if (r->err_kind != HTTPC_OK) {
		snprintf(err, sizeof err, "embeddings request failed: %s", r->err);
		batch_fail(bt, err);
		return;
	}
	if (r->status != 200) {
		snprintf(err, sizeof err, "embeddings request answered HTTP %d", r->status);
		batch_fail(bt, err);
		return;
	}
	if (embw_parse(r->body, r->body_len, bt->n, &vecs, &dim, err, sizeof err) < 0) {
		batch_fail(bt, err);
		return;
	}
	for (size_t i = 0; i < bt->n; i++)
		item_answer(bt->items[i], vecs + i * dim, dim, NULL);
	free(vecs);
	free(bt);
}

static int same_target(const struct item *a, const struct item *b)
{
	return strcmp(a->url, b->url) == 0 && strcmp(a->auth, b->auth) == 0 &&
	       strcmp(a->model, b->model) == 0;
}

/* Takes the first queued item and those of its target that fit with it. */
static struct batch *take_batch(struct embb *b)
{
	struct batch *bt = malloc(sizeof *bt);
	struct item **pp = &b->head, *it;
	size_t bytes = 0;

	if (!bt)
		return NULL;
	bt->n = 0;
	while ((it = *pp) && bt->n < EMBB_MAX_INPUTS) {
		if ((bt->n && !same_target(bt->items[0], it)) ||
		    (bt->n && bytes + it->len > EMBB_MAX_BYTES)) {
			pp = &it->next;
			continue;
		}
		*pp = it->next;
		bytes += it->len;
		bt->items[bt->n++] = it;
	}
	for (b->tail = &b->head; *b->tail; b->tail = &(*b->tail)->next)
		;
	return bt;
}

static void send_batch(struct embb *b, struct batch *bt)
{
	const struct item *first = bt->items[0];
	const char *headers[] = { "Content-Type: application/json", first->auth, NULL };
	struct httpc_req req = { 0 };
	json_t *in = json_array(), *body = NULL;
	char *text = NULL;

	for (size_t i = 0; in && i < bt->n; i++)
		if (json_array_append(in, bt->items[i]->text) < 0)
			break;
	if (in && json_array_size(in) == bt->n)
		body = json_pack("{s:s, s:O}", "model", first->model, "input", in);
	if (body)
		text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	json_decref(in);
	if (!text) { /* no memory, or a model name that is not UTF-8 */
		batch_fail(bt, "embeddings request not built");
		return;
	}
	req.method = "POST";
	req.url = first->url;
	req.headers = headers;
	req.body = text;
	req.body_len = strlen(text);
	req.timeout_ms = EMBB_TIMEOUT_MS;
	req.connect_timeout_ms = EMBB_CONNECT_TIMEOUT_MS;
	if (httpc_request(b->http, &req, on_answer, bt) < 0) {
		free(text);
		batch_fail(bt, "embeddings request not started");
		return;
	}
	free(text);
	b->requests++;
	b->texts += bt->n;
}

static void on_turn(uv_timer_t *h)
{
	struct embb *b = h->data;
	struct batch *bt;

	while (b->head) {
		if (!(bt = take_batch(b))) {
			struct item *it = b->head;
			b->head = it->next;
			if (!b->head)
				b->tail = &b->head;
			item_answer(it, NULL, 0, "out of memory");
			continue;
		}
		send_batch(b, bt);
	}
}

struct embb *embb_new(uv_loop_t *loop, struct httpc *http)
{
	struct embb *b = calloc(1, sizeof *b);

	if (!b)
		return NULL;
	b->loop = loop;
	b->http = http;
	b->tail = &b->head;
	uv_timer_init(loop, &b->turn);
	b->turn.data = b;
	return b;
}

static void on_turn_closed(uv_handle_t *h)
{
	free(h->data);
}

void embb_free(struct embb *b)
{
	struct item *it;

	if (!b || b->closing)
		return;
	b->closing = 1;
	uv_timer_stop(&b->turn);
	while ((it = b->head)) {
		b->head = it->next;
		item_answer(it, NULL, 0, "closing");
	}
	b->tail = &b->head;
	uv_close((uv_handle_t *)&b->turn, on_turn_closed);
}

int embb_get(struct embb *b, const struct embb_target *to, const char *text, embb_cb cb, void *arg)
{
	size_t lu, la, lm;
	struct item *it;

	if (!b || b->closing || !to || !to->base_url || !to->api_key || !to->model || !text)
		return -1;
	lu = strlen(to->base_url) + sizeof "/embeddings";
	la = strlen(to->api_key) + sizeof "Authorization: Bearer ";
	lm = strlen(to->model) + 1;
	if (!(it = malloc(sizeof *it + lu + la + lm)))
		return -1;
	if (!(it->text = json_string(text))) { /* not UTF-8, or no memory */
		free(it);
		return -1;
	}
	snprintf(it->buf, lu, "%s/embeddings", to->base_url);
	snprintf(it->buf + lu, la, "Authorization: Bearer %s", to->api_key);
	memcpy(it->buf + lu + la, to->model, lm);
	it->size = lu + la + lm;
	it->url = it->buf;
	it->auth = it->buf + lu;
	it->model = it->buf + lu + la;
	it->len = strlen(text);
	it->cb = cb;
	it->arg = arg;
	it->next = NULL;
	*b->tail = it;
	b->tail = &it->next;
	if (!uv_is_active((uv_handle_t *)&b->turn))
		uv_timer_start(&b->turn, on_turn, 0, 0);
	return 0;
}

void embb_stats(const struct embb *b, unsigned long *requests, unsigned long *texts)
{
	*requests = b ? b->requests : 0;
	*texts = b ? b->texts : 0;
}
