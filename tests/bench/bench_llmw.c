/* bench_llmw: CPU per LLM request body (llmw_request) and per answer parse
 * (llmw_parse) on a 2.5 KB system and a 2 KB user prompt of Turkish text; run by
 * scripts/bench-llmw. Built by make against worker/calls/llmw.c; the script
 * compiles it again with another llmw.c for LLMW_SRC.
 *
 *   bench_llmw [N]     N calls each (default 20000) */
#include "worker/calls/llmw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const char line_sys[] =
		"Sen Ayşe, Borsa İstanbul'da işlem yapan 34 yaşında bir "
		"yatırımcısın. Üslubun: samimi, esprili, bazen iğneleyici. \"Risk\" profilin: orta.\n";
	static const char line_user[] = "[Mehmet]: THYAO bugün yine uçtu, 300'ü görür mü sizce?\n";
	static const char answer[] =
		"{\"id\":\"c1\",\"object\":\"chat.completion\",\"choices\":"
		"[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"THYAO bence 300'ü "
		"görür ama acele etmeyin, hacim zayıf.\"},\"finish_reason\":\"stop\"}],\"usage\":"
		"{\"prompt_tokens\":812,\"completion_tokens\":40,\"total_tokens\":852}}";
	char sys[4096] = "", user[4096] = "";
	struct llmw_params p = { 1.3, 0.92, 0.3, 0.4, 150 };
	int n = argc > 1 ? atoi(argv[1]) : 20000;
	size_t bytes = 0;
	double t;

	while (strlen(sys) + sizeof line_sys < 2500)
		strcat(sys, line_sys);
	while (strlen(user) + sizeof line_user < 2000)
		strcat(user, line_user);
	struct llmw_msg m[2] = { { "system", sys }, { "user", user } };
	t = now();
	for (int i = 0; i < n; i++) {
		char *b = llmw_request("gpt-4o-mini", m, 2, &p);

		bytes = strlen(b);
		free(b);
	}
	printf("llmw_request: %.1f us per %zu-byte body\n", (now() - t) / n * 1e6, bytes);
	t = now();
	for (int i = 0; i < n; i++) {
		struct llmw_result r;
		char err[128];

		if (llmw_parse(answer, strlen(answer), &r, err, sizeof err) == 0)
			llmw_result_clear(&r);
	}
	printf("llmw_parse:   %.1f us per answer\n", (now() - t) / n * 1e6);
	return 0;
}
