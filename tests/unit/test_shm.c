/* test_shm: the segment as the supervisor and a worker see it. Workers are real
 * forked children that attach through the inherited descriptor, so what the test
 * checks is what crosses a process boundary, not what one mapping sees twice. */
#include "common/shm.h"
#include "tests/check_main.h"

#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static char err[256];

static struct shm *must_create(int n)
{
	struct shm *s = shm_create(n, err, sizeof err);

	ck_assert_msg(s != NULL, "shm_create: %s", err);
	return s;
}

/* Fork a child that attaches a dup of the segment's fd and runs fn on it. */
static pid_t child(struct shm *s, void (*fn)(struct shm *, int), int arg)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = dup(shm_fd(s));
		struct shm *w = shm_attach(fd, err, sizeof err);

		if (!w)
			_exit(2);
		fn(w, arg);
		shm_free(w);
		_exit(0);
	}
	return pid;
}

static void wait_ok(pid_t pid)
{
	int st;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
}

START_TEST(create_sizes_and_zeroes)
{
	struct shm *s = must_create(4);

	ck_assert_int_eq(shm_nslots(s), 4);
	ck_assert_int_ge(shm_fd(s), 0);
	ck_assert_ptr_null(shm_slot(s, 4));
	ck_assert_ptr_null(shm_slot(s, -1));
	ck_assert_ptr_null(shm_slot(NULL, 0));
	for (int i = 0; i < 4; i++) {
		struct shm_slot *sl = shm_slot(s, i);
		ck_assert_ptr_nonnull(sl);
		ck_assert_int_eq(sl->state, SHM_EMPTY);
		ck_assert_int_eq(shm_load(&sl->counters[SHM_C_LEASED]), 0);
		ck_assert_int_eq((uintptr_t)sl % 64, 0); /* one cache line per worker */
	}
	ck_assert(fcntl(shm_fd(s), F_GETFD) & FD_CLOEXEC);
	shm_free(s);
	shm_free(NULL);
}
END_TEST

START_TEST(create_rejects_bad_counts)
{
	ck_assert_ptr_null(shm_create(0, err, sizeof err));
	ck_assert_ptr_null(shm_create(SHM_NSLOTS + 1, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "slots"));
}
END_TEST

START_TEST(size_is_sealed)
{
	struct shm *s = must_create(2);

	/* A worker must not be able to shrink the segment under the supervisor. */
	ck_assert_int_lt(ftruncate(shm_fd(s), 0), 0);
	shm_free(s);
}
END_TEST

static void work_counts(struct shm *w, int idx)
{
	struct shm_slot *sl = shm_slot(w, idx);

	shm_set_state(sl, SHM_STARTING);
	for (int i = 0; i < 100000; i++) {
		shm_count(sl, SHM_C_LEASED, 1);
		shm_job(sl, 1, SHM_OUT_SENT);
	}
	shm_pcount(sl, 2, SHM_P_PROMPT_TOKENS, 1234);
	shm_gauge(sl, SHM_G_QUEUE_HIGH, 7 + idx);
	shm_heartbeat(sl);
	shm_set_state(sl, SHM_READY);
}

START_TEST(children_write_their_slots)
{
	struct shm *s = must_create(3);
	pid_t p[3];

	for (int i = 0; i < 3; i++)
		p[i] = child(s, work_counts, i);
	for (int i = 0; i < 3; i++)
		wait_ok(p[i]);
	for (int i = 0; i < 3; i++) {
		struct shm_slot *sl = shm_slot(s, i);
		ck_assert_int_eq(shm_load_i32(&sl->state), SHM_READY);
		ck_assert_int_eq(shm_load_i32(&sl->pid), p[i]);
		ck_assert_int_gt(shm_load_i64(&sl->heartbeat_ms), 0);
		ck_assert_int_le(shm_load_i64(&sl->heartbeat_ms), shm_now_ms());
		ck_assert_int_eq(shm_load(&sl->counters[SHM_C_LEASED]), 100000);
		ck_assert_int_eq(shm_load(&sl->jobs[1][SHM_OUT_SENT]), 100000);
		ck_assert_int_eq(shm_load(&sl->pcounters[2][SHM_P_PROMPT_TOKENS]), 1234);
		ck_assert_int_eq(shm_load_i64(&sl->gauges[SHM_G_QUEUE_HIGH]), 7 + i);
	}
	shm_free(s);
}
END_TEST

static void work_nothing(struct shm *w, int idx)
{
	(void)w;
	(void)idx;
}

START_TEST(attach_checks_header)
{
	struct shm *s = must_create(2);
	int fd = memfd_create("junk", 0);
	char junk[4096];

	wait_ok(child(s, work_nothing, 0));
	memset(junk, 0xab, sizeof junk);
	ck_assert_int_eq(write(fd, junk, sizeof junk), sizeof junk);
	ck_assert_ptr_null(shm_attach(fd, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "magic"));
	/* A segment of another layout version is refused, loudly. */
	uint32_t hdr[4] = { SHM_MAGIC, SHM_VERSION + 1, 2, sizeof(struct shm_slot) };
	ck_assert_int_eq(pwrite(fd, hdr, sizeof hdr, 0), sizeof hdr);
	ck_assert_ptr_null(shm_attach(fd, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "version"));
	/* A header that claims more slots than the file holds. */
	hdr[1] = SHM_VERSION;
	hdr[2] = 200;
	ck_assert_int_eq(pwrite(fd, hdr, sizeof hdr, 0), sizeof hdr);
	ck_assert_ptr_null(shm_attach(fd, err, sizeof err));
	ck_assert_ptr_null(shm_attach(-1, err, sizeof err));
	close(fd);
	shm_free(s);
}
END_TEST

START_TEST(observe_buckets)
{
	struct shm *s = must_create(1);
	struct shm_slot *sl = shm_slot(s, 0);
	struct shm_hist_data *h = &sl->hist[SHM_H_LLM_SECONDS];

	ck_assert(isinf(shm_bucket_bounds[SHM_NBUCKETS - 1]));
	for (int i = 1; i < SHM_NBUCKETS; i++)
		ck_assert(shm_bucket_bounds[i] > shm_bucket_bounds[i - 1]);
	shm_observe(sl, SHM_H_LLM_SECONDS, 0.0005); /* le 0.001 */
	shm_observe(sl, SHM_H_LLM_SECONDS, 0.001);  /* le 0.001: bounds are inclusive */
	shm_observe(sl, SHM_H_LLM_SECONDS, 0.3);    /* le 0.5 */
	shm_observe(sl, SHM_H_LLM_SECONDS, 61);     /* +Inf */
	shm_observe(sl, SHM_H_LLM_SECONDS, -1);     /* clamped to 0 */
	shm_observe(sl, SHM_H_LLM_SECONDS, NAN);
	shm_observe(sl, SHM_H_COUNT, 1); /* ignored */
	ck_assert_int_eq(shm_load(&h->buckets[0]), 4);
	ck_assert_int_eq(shm_load(&h->buckets[8]), 1);
	ck_assert_int_eq(shm_load(&h->buckets[SHM_NBUCKETS - 1]), 1);
	ck_assert_int_eq(shm_load(&h->count), 6);
	ck_assert_int_eq(shm_load(&h->sum_us), 500 + 1000 + 300000 + 61000000);
	shm_free(s);
}
END_TEST

START_TEST(out_of_range_writes_are_ignored)
{
	struct shm *s = must_create(1);
	struct shm_slot *sl = shm_slot(s, 0), zero;

	shm_count(sl, SHM_C_COUNT, 1);
	shm_job(sl, 3, SHM_OUT_SENT);
	shm_job(sl, -1, SHM_OUT_SENT);
	shm_job(sl, 0, SHM_OUT_COUNT);
	shm_pcount(sl, SHM_MAX_PROVIDERS, SHM_P_CALLS_OK, 1);
	shm_pcount(sl, -1, SHM_P_CALLS_OK, 1);
	shm_gauge(sl, SHM_G_COUNT, 1);
	memset(&zero, 0, sizeof zero);
	ck_assert_int_eq(memcmp(sl, &zero, sizeof zero), 0);
	shm_free(s);
}
END_TEST

START_TEST(fold_then_reset_keeps_totals)
{
	struct shm *s = must_create(2);
	struct shm_slot base, *sl = shm_slot(s, 1);

	memset(&base, 0, sizeof base);
	wait_ok(child(s, work_counts, 1));
	shm_observe(sl, SHM_H_JOB_SECONDS, 0.02);
	shm_fold(&base, sl);
	shm_reset(sl);
	ck_assert_int_eq(sl->state, SHM_EMPTY);
	ck_assert_int_eq(sl->pid, 0);
	ck_assert_int_eq(sl->gauges[SHM_G_QUEUE_HIGH], 0);
	ck_assert_int_eq(shm_load(&sl->counters[SHM_C_LEASED]), 0);
	ck_assert_int_eq(shm_load(&sl->hist[SHM_H_JOB_SECONDS].count), 0);
	/* A second life adds to the base: the exported sum never goes backwards. */
	wait_ok(child(s, work_counts, 1));
	shm_fold(&base, sl);
	ck_assert_int_eq(base.counters[SHM_C_LEASED], 200000);
	ck_assert_int_eq(base.jobs[1][SHM_OUT_SENT], 200000);
	ck_assert_int_eq(base.pcounters[2][SHM_P_PROMPT_TOKENS], 2468);
	ck_assert_int_eq(base.hist[SHM_H_JOB_SECONDS].count, 1);
	ck_assert_int_eq(base.hist[SHM_H_JOB_SECONDS].buckets[4], 1);
	ck_assert_int_eq(base.hist[SHM_H_JOB_SECONDS].sum_us, 20000);
	ck_assert_int_eq(base.gauges[SHM_G_QUEUE_HIGH], 0); /* gauges are not folded */
	ck_assert_int_eq(base.state, 0);
	shm_free(s);
}
END_TEST

START_TEST(first_starting_stamps_identity_once)
{
	struct shm *s = must_create(1);
	struct shm_slot *sl = shm_slot(s, 0);
	int64_t started;

	shm_set_state(sl, SHM_STARTING);
	ck_assert_int_eq(shm_load_i32(&sl->pid), getpid());
	started = shm_load_i64(&sl->started_ms);
	ck_assert_int_gt(started, 0);
	ck_assert_int_eq(shm_load_i64(&sl->heartbeat_ms), started);
	shm_set_state(sl, SHM_READY);
	usleep(5000);
	/* Back to STARTING (Redis went away): the state changes, the times do not. */
	shm_set_state(sl, SHM_STARTING);
	ck_assert_int_eq(shm_load_i32(&sl->state), SHM_STARTING);
	ck_assert_int_eq(shm_load_i64(&sl->started_ms), started);
	ck_assert_int_eq(shm_load_i64(&sl->heartbeat_ms), started);
	shm_free(s);
}
END_TEST

START_TEST(state_names_and_clock)
{
	int64_t a = shm_now_ms(), b;

	ck_assert_str_eq(shm_state_name(SHM_READY), "ready");
	ck_assert_str_eq(shm_state_name(SHM_STARTING), "starting");
	ck_assert_str_eq(shm_state_name(99), "unknown");
	ck_assert_str_eq(shm_state_name(-1), "unknown");
	usleep(20000);
	b = shm_now_ms();
	ck_assert_int_ge(b - a, 19);
	ck_assert_int_lt(b - a, 2000);
}
END_TEST

static Suite *shm_suite(void)
{
	Suite *s = suite_create("shm");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, create_sizes_and_zeroes);
	tcase_add_test(tc, create_rejects_bad_counts);
	tcase_add_test(tc, size_is_sealed);
	tcase_add_test(tc, children_write_their_slots);
	tcase_add_test(tc, attach_checks_header);
	tcase_add_test(tc, observe_buckets);
	tcase_add_test(tc, out_of_range_writes_are_ignored);
	tcase_add_test(tc, fold_then_reset_keeps_totals);
	tcase_add_test(tc, first_starting_stamps_identity_once);
	tcase_add_test(tc, state_names_and_clock);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(shm_suite)
