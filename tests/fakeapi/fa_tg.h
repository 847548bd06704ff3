/* fa_tg.h: the fake Telegram Bot API, /bot<TOKEN>/<method>. */
#ifndef FA_TG_H
#define FA_TG_H

#include "tests/fakeapi/fa_http.h"

/* path is what follows "/bot". Fills req->ans; returns 1 if req was suspended as a long
 * poll, 0 otherwise (then *delay_ms > 0 asks for a delayed answer). */
int fa_tg_handle(struct fa_req *req, const char *path, const char *http_method, int *delay_ms);
/* Builds the answer of a resumed getUpdates long poll into req->ans. */
void fa_tg_poll_answer(struct fa_req *req);

#endif
