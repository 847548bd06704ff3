/* fa_http.h: the per-request context and the answer type shared by every endpoint of the
 * fake API, plus helpers that turn jansson values into answers. */
#ifndef FA_HTTP_H
#define FA_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

/* An answer ready to be queued: status, an owned body and the few headers we ever add. */
struct fa_answer {
    unsigned status;
    char *body; /* malloc'd, handed to MHD with MHD_RESPMEM_MUST_FREE */
    size_t len;
    int retry_after;   /* > 0: add Retry-After */
    int llm_ratelimit; /* add x-ratelimit-reset-requests (OpenAI style) */
    const char *ctype; /* Content-Type (a static string); NULL: application/json */
};

enum fa_wait_kind {
    FA_WAIT_NONE = 0,
    FA_WAIT_DEFER, /* answer is ready, deliver at the deadline (latency, hang) */
    FA_WAIT_POLL,  /* getUpdates long poll: answer is built when resumed */
};

struct fa_req {
    struct MHD_Connection *conn;
    char *body;
    size_t body_len, body_cap;
    int too_big;

    /* Guarded by the state lock while the request waits (see fa_wait.c). */
    int wait_kind;
    int waiting; /* in the heap, connection suspended */
    int resumed; /* a waiter was claimed and resumed: the next handler call answers */
    int64_t deadline_ms;
    size_t heap_idx;
    struct fa_answer ans;
    int64_t poll_bot;
    int poll_limit;
    int poll_conflict; /* terminated by a newer getUpdates: answer 409 */
};

/* Answer constructors; each steals `j` (may be NULL on allocation failure). */
void fa_answer_json(struct fa_answer *a, unsigned status, json_t *j);
void fa_answer_tg_ok(struct fa_answer *a, json_t *result);
void fa_answer_tg_err(struct fa_answer *a, unsigned code, const char *description);
void fa_answer_free(struct fa_answer *a);

/* Queues the answer on the connection (takes ownership of the body). */
enum MHD_Result fa_answer_send(struct MHD_Connection *conn, struct fa_answer *a);

/* The libmicrohttpd callbacks. */
enum MHD_Result fa_http_access(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls);
void fa_http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                       enum MHD_RequestTerminationCode toe);

/* Request parameters merged from a JSON or form body and the query string (body wins).
 * Returns a new object, or NULL with *bad = 1 when the body is not a JSON object. */
json_t *fa_req_params(struct fa_req *req, int *bad);

/* Parameter helpers: integers may arrive as JSON numbers or as decimal strings. */
int fa_param_int(json_t *params, const char *key, int64_t *out);
const char *fa_param_str(json_t *params, const char *key);

#endif
