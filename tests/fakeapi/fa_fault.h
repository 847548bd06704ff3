/* fa_fault.h: injected faults (429, 5xx, hang, bad JSON), drawn per request. */
#ifndef FA_FAULT_H
#define FA_FAULT_H

#include "tests/fakeapi/fa_http.h"
#include "tests/fakeapi/fa_state.h"

/* Draws the fault for one request of the given family (is_llm) and counts it. */
enum fa_fault fa_fault_draw(const struct fa_settings *s, int is_llm);
/* Fills a with the 429 or 5xx answer of the family. */
void fa_fault_answer(struct fa_answer *a, enum fa_fault f, const struct fa_settings *s, int is_llm);
/* Cuts the body of a in half: still HTTP 200, no longer parseable JSON. */
void fa_fault_truncate(struct fa_answer *a);

#endif
