/* fa_llm.h: the fake OpenAI-compatible provider, /v1/chat/completions, /v1/embeddings
 * and /v1/models. */
#ifndef FA_LLM_H
#define FA_LLM_H

#include "tests/fakeapi/fa_http.h"

/* path is what follows "/v1". Fills req->ans; *delay_ms > 0 asks for a delayed answer. */
int fa_llm_handle(struct fa_req *req, const char *path, const char *http_method, int *delay_ms);

/* GET /_prompts: the messages of the last FA_LLM_PROMPTS chat completions asked,
 * oldest first, so a test can see what a bot was prompted with. */
#define FA_LLM_PROMPTS 64
json_t *fa_llm_prompts_json(void);
/* /_control/reset forgets them. */
void fa_llm_prompts_reset(void);

#endif
