/* fuzz_llmw: an LLM provider's answers (worker/calls/llmw.c) on arbitrary bytes.
 * A parsed answer has content and usage counts in 0..LLMW_TOKENS_MAX, so their
 * sum fits an int (issue 19, item 6); a refusal says why in valid UTF-8;
 * llmw_classify gives one of its four outcomes for any status and body. */
#include "common/utf8.h"
#include "tests/fuzz/fuzz.h"
#include "worker/calls/llmw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct llmw_result r;
	char err[256];
	int status = size >= 2 ? 100 + (data[0] << 8 | data[1]) % 500 : 429;
	enum llmw_failure f;

	memset(&r, 0, sizeof(r));
	err[0] = '\0';
	if (llmw_parse((const char *)data, size, &r, err, sizeof(err)) == 0) {
		FUZZ_ASSERT(r.content);
		FUZZ_ASSERT(r.prompt_tokens >= 0 && r.prompt_tokens <= LLMW_TOKENS_MAX);
		FUZZ_ASSERT(r.completion_tokens >= 0 && r.completion_tokens <= LLMW_TOKENS_MAX);
		llmw_result_clear(&r);
	} else {
		FUZZ_ASSERT(err[0] && utf8_valid(err, strlen(err)));
		FUZZ_ASSERT(r.content == NULL);
	}
	f = llmw_classify(status, (const char *)data, size);
	FUZZ_ASSERT(f == LLMW_RATE_LIMIT || f == LLMW_QUOTA || f == LLMW_SERVER ||
		    f == LLMW_BAD_REQUEST);
	f = llmw_classify(429, (const char *)data, size);
	FUZZ_ASSERT(f == LLMW_RATE_LIMIT || f == LLMW_QUOTA);
	return 0;
}
