/* fa_http.c: the libmicrohttpd side of the fake: per-request context, body collection
 * (JSON, or url-encoded and multipart forms through MHD's post processor), routing to the
 * Telegram, LLM and control modules, and turning answers into responses. A request
 * that must wait (latency, hang, long poll) is suspended; when resumed, the handler is
 * called again and sends the answer prepared for it. */
#include "tests/fakeapi/fa_http.h"

#include "tests/fakeapi/fa_ctl.h"
#include "tests/fakeapi/fa_llm.h"
#include "tests/fakeapi/fa_tg.h"
#include "tests/fakeapi/fa_util.h"
#include "tests/fakeapi/fa_wait.h"

#include <stdlib.h>
#include <string.h>

#define FA_MAX_BODY (4 * 1024 * 1024) /* generous: long LLM prompts */

/* ---- answers ---- */

void fa_answer_json(struct fa_answer *a, unsigned status, json_t *j)
{
    fa_answer_free(a);
    a->status = status;
    a->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    a->len = a->body ? strlen(a->body) : 0;
    json_decref(j);
    if (!a->body)
        a->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
}

void fa_answer_tg_ok(struct fa_answer *a, json_t *result)
{
    fa_answer_json(a, MHD_HTTP_OK, json_pack("{s:b, s:o}", "ok", 1, "result", result));
}

void fa_answer_tg_err(struct fa_answer *a, unsigned code, const char *description)
{
    fa_answer_json(a, code,
                   json_pack("{s:b, s:i, s:s}", "ok", 0, "error_code", (int)code, "description",
                             description));
}

void fa_answer_free(struct fa_answer *a)
{
    free(a->body);
    memset(a, 0, sizeof(*a));
}

enum MHD_Result fa_answer_send(struct MHD_Connection *conn, struct fa_answer *a)
{
    struct MHD_Response *resp;
    enum MHD_Result rc;
    char num[24];

    resp = MHD_create_response_from_buffer(a->len, a->body, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        return MHD_NO;
    a->body = NULL; /* owned by the response now */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            a->ctype ? a->ctype : "application/json");
    if (a->retry_after > 0) {
        snprintf(num, sizeof(num), "%d", a->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, num);
        if (a->llm_ratelimit) {
            snprintf(num, sizeof(num), "%ds", a->retry_after);
            MHD_add_response_header(resp, "x-ratelimit-reset-requests", num);
        }
    }
    rc = MHD_queue_response(conn, a->status ? a->status : MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    fa_answer_free(a);
    return rc;
}

/* ---- parameters ---- */

int fa_param_int(json_t *params, const char *key, int64_t *out)
{
    json_t *v = json_object_get(params, key);
    const char *s;
    char *end;

    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_real(v) && json_real_value(v) == (double)(int64_t)json_real_value(v)) {
        *out = (int64_t)json_real_value(v);
        return 0;
    }
    if (!json_is_string(v))
        return -1;
    s = json_string_value(v);
    *out = strtoll(s, &end, 10);
    return (end != s && *end == '\0') ? 0 : -1;
}

const char *fa_param_str(json_t *params, const char *key)
{
    return json_string_value(json_object_get(params, key));
}

static enum MHD_Result fa_query_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    json_t *params = cls;

    (void)kind;
    /* The body wins over the query string, as in the Bot API. */
    if (key && !json_object_get(params, key))
        json_object_set_new(params, key, json_string(value ? value : ""));
    return MHD_YES;
}

/* Declared below: parses a form body with MHD's post processor. */
static json_t *fa_req_form(struct fa_req *req);

static int fa_looks_json(const char *s, size_t len)
{
    size_t i = 0;

    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    return i < len && (s[i] == '{' || s[i] == '[');
}

json_t *fa_req_params(struct fa_req *req, int *bad)
{
    json_t *p = NULL;

    *bad = 0;
    /* Clients often POST JSON with libcurl's default form content type: the body's
     * first character decides, the header only matters for real forms. */
    if (req->body_len > 0 && fa_looks_json(req->body, req->body_len)) {
        p = json_loadb(req->body, req->body_len, 0, NULL);
        if (!json_is_object(p)) {
            json_decref(p);
            *bad = 1;
            return NULL;
        }
    } else if (req->body_len > 0) {
        p = fa_req_form(req);
    }
    if (!p)
        p = json_object();
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, fa_query_iter, p);
    return p;
}

/* ---- body collection ---- */

static enum MHD_Result fa_post_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *filename, const char *content_type,
                                    const char *transfer_encoding, const char *data, uint64_t off,
                                    size_t size)
{
    json_t *form = cls;
    const char *prev = off > 0 ? json_string_value(json_object_get(form, key)) : NULL;
    size_t plen = prev ? strlen(prev) : 0;
    char *joined = malloc(plen + size + 1);

    (void)kind, (void)filename, (void)content_type, (void)transfer_encoding;
    if (!joined)
        return MHD_NO;
    /* Long values arrive in pieces (off > 0): append to what we have. */
    memcpy(joined, prev ? prev : "", plen);
    memcpy(joined + plen, data, size);
    joined[plen + size] = '\0';
    json_object_set_new(form, key, json_stringn(joined, plen + size));
    free(joined);
    return MHD_YES;
}

static json_t *fa_req_form(struct fa_req *req)
{
    json_t *form = json_object();
    struct MHD_PostProcessor *pp;

    pp = MHD_create_post_processor(req->conn, 16 * 1024, fa_post_iter, form);
    if (!pp) /* not a form content type MHD knows: no parameters from the body */
        return form;
    MHD_post_process(pp, req->body, req->body_len);
    MHD_destroy_post_processor(pp);
    return form;
}

static void fa_req_feed(struct fa_req *req, const char *data, size_t size)
{
    size_t ncap = req->body_cap ? req->body_cap : 1024;
    char *n;

    if (req->too_big)
        return;
    if (req->body_len + size > FA_MAX_BODY) {
        req->too_big = 1;
        return;
    }
    if (req->body_len + size + 1 > req->body_cap) {
        while (ncap < req->body_len + size + 1)
            ncap *= 2;
        n = realloc(req->body, ncap);
        if (!n) {
            req->too_big = 1;
            return;
        }
        req->body = n;
        req->body_cap = ncap;
    }
    memcpy(req->body + req->body_len, data, size);
    req->body_len += size;
    req->body[req->body_len] = '\0';
}

static enum MHD_Result fa_req_begin(struct MHD_Connection *conn, void **con_cls)
{
    struct fa_req *req = calloc(1, sizeof(*req));

    if (!req)
        return MHD_NO;
    req->conn = conn;
    *con_cls = req;
    return MHD_YES;
}

void fa_http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                       enum MHD_RequestTerminationCode toe)
{
    struct fa_req *req = *con_cls;

    (void)cls, (void)conn, (void)toe;
    if (!req)
        return;
    free(req->body);
    fa_answer_free(&req->ans);
    free(req);
    *con_cls = NULL;
}

/* ---- routing ---- */

static enum MHD_Result fa_req_resumed(struct fa_req *req)
{
    req->resumed = 0;
    if (req->wait_kind == FA_WAIT_POLL)
        fa_tg_poll_answer(req);
    req->wait_kind = FA_WAIT_NONE;
    return fa_answer_send(req->conn, &req->ans);
}

static enum MHD_Result fa_route(struct fa_req *req, const char *url, const char *method)
{
    int delay_ms = 0, rc = 0;

    if (req->too_big)
        fa_answer_json(&req->ans, MHD_HTTP_CONTENT_TOO_LARGE,
                       json_pack("{s:b, s:s}", "ok", 0, "description", "body too large"));
    else if (strncmp(url, "/bot", 4) == 0)
        rc = fa_tg_handle(req, url + 4, method, &delay_ms);
    else if (strncmp(url, "/v1/", 4) == 0)
        rc = fa_llm_handle(req, url + 3, method, &delay_ms);
    else if (strncmp(url, "/_", 2) == 0)
        fa_ctl_handle(req, url, method);
    else
        fa_answer_json(&req->ans, MHD_HTTP_NOT_FOUND,
                       json_pack("{s:b, s:i, s:s}", "ok", 0, "error_code", 404, "description",
                                 "Not Found"));
    if (rc == 1)
        return MHD_YES; /* suspended as a long poll */
    if (delay_ms > 0 && fa_wait_defer(req, delay_ms) == 0)
        return MHD_YES;
    return fa_answer_send(req->conn, &req->ans);
}

enum MHD_Result fa_http_access(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    struct fa_req *req = *con_cls;

    (void)cls, (void)version;
    if (!req)
        return fa_req_begin(conn, con_cls);
    if (req->resumed)
        return fa_req_resumed(req);
    if (*upload_data_size > 0) {
        fa_req_feed(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return fa_route(req, url, method);
}
