/* fuzz_job: the job codec (common/job.c) on arbitrary bytes, as a job leased
 * from Redis may be. A decoded job has a known kind and priority, an id that
 * fits, a payload object, and encodes to a job that decodes to the same fields;
 * a refusal's reason is valid UTF-8 (it is stored with the dead letter).
 * job_raw_text always gives text PostgreSQL takes: the bytes themselves when
 * they are UTF-8 without a NUL, else the base64 mark. */
#include "common/job.h"
#include "common/utf8.h"
#include "tests/fuzz/fuzz.h"

static void check_raw(const uint8_t *data, size_t size)
{
	char *t = job_raw_text((const char *)data, size);

	FUZZ_ASSERT(t);
	FUZZ_ASSERT(utf8_valid(t, strlen(t)));
	if (utf8_valid((const char *)data, size))
		FUZZ_ASSERT(strlen(t) == size && memcmp(t, data, size) == 0);
	else
		FUZZ_ASSERT(strncmp(t, JOB_RAW_MARK, strlen(JOB_RAW_MARK)) == 0);
	free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct job j, k;
	char err[256];
	char *enc;

	check_raw(data, size);
	err[0] = '\0';
	if (job_decode(&j, (const char *)data, size, err, sizeof(err)) != 0) {
		FUZZ_ASSERT(err[0] && utf8_valid(err, strlen(err)));
		return 0;
	}
	FUZZ_ASSERT(j.kind >= 0 && j.kind < JOB_KIND_COUNT);
	FUZZ_ASSERT(j.prio >= 0 && j.prio < PRIO_COUNT);
	FUZZ_ASSERT(memchr(j.id, '\0', sizeof(j.id)) && j.id[0]);
	FUZZ_ASSERT(json_is_object(j.payload));
	FUZZ_ASSERT(j.attempts >= 0);
	enc = job_encode(&j);
	FUZZ_ASSERT(enc);
	if (job_decode(&k, enc, strlen(enc), err, sizeof(err)) != 0) {
		fprintf(stderr, "re-decode failed: %s\n%s\n", err, enc);
		abort();
	}
	FUZZ_ASSERT(strcmp(j.id, k.id) == 0 && j.kind == k.kind && j.prio == k.prio);
	FUZZ_ASSERT(j.bot_id == k.bot_id && j.chat_id == k.chat_id && j.attempts == k.attempts);
	FUZZ_ASSERT(j.not_before == k.not_before && j.enqueued_at == k.enqueued_at);
	FUZZ_ASSERT(json_equal(j.payload, k.payload));
	job_clear(&k);
	free(enc);
	job_clear(&j);
	return 0;
}
