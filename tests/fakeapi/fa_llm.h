/* fa_llm.h: the fake OpenAI-compatible provider, /v1/chat/completions, /v1/embeddings
 * and /v1/models. */
#ifndef FA_LLM_H
#define FA_LLM_H

#include "tests/fakeapi/fa_http.h"

/* path is what follows "/v1". Fills req->ans; *delay_ms > 0 asks for a delayed answer. */
int fa_llm_handle(struct fa_req *req, const char *path, const char *http_method, int *delay_ms);

#endif
