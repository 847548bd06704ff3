/* shm: see shm.h. The segment is a memfd: anonymous, gone when the last process
 * holding it exits, and passed to workers as an inherited descriptor, so there is
 * no name in /dev/shm to leak, guess or clean up. Layout: one 64-byte header, then
 * nslots slots, each padded to a cache line so two workers never write the same
 * line. The supervisor seals the size, so a buggy worker cannot shrink the file
 * under everyone's mapping (which would SIGBUS the supervisor). */
#include "common/shm.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const double shm_bucket_bounds[SHM_NBUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, INFINITY,
};

struct shm_header {
	uint32_t magic;
	uint32_t version;
	uint32_t nslots;
	uint32_t slot_size; /* sizeof(struct shm_slot): catches a layout change that
			       forgot to bump SHM_VERSION */
	uint8_t pad[48];
};

struct shm {
	int fd;
	int nslots;
	size_t size;
	unsigned char *map;
};

#define SHM_LINE 64
#define SHM_STRIDE ((sizeof(struct shm_slot) + SHM_LINE - 1) / SHM_LINE * SHM_LINE)

_Static_assert(sizeof(struct shm_header) == SHM_LINE, "header is one cache line");
_Static_assert(SHM_H_COUNT *SHM_NBUCKETS > 0, "histograms");

static size_t segment_size(int nslots)
{
	return sizeof(struct shm_header) + (size_t)nslots * SHM_STRIDE;
}

static struct shm *shm_wrap(int fd, int nslots, size_t size, char *err, size_t errlen)
{
	struct shm *s = calloc(1, sizeof *s);
	void *map;

	if (!s) {
		snprintf(err, errlen, "shm: out of memory");
		return NULL;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		snprintf(err, errlen, "shm: mmap %zu bytes: %s", size, strerror(errno));
		free(s);
		return NULL;
	}
	s->fd = fd;
	s->nslots = nslots;
	s->size = size;
	s->map = map;
	return s;
}

struct shm *shm_create(int nslots, char *err, size_t errlen)
{
	struct shm_header *h;
	struct shm *s;
	size_t size;
	int fd;

	if (nslots < 1 || nslots > SHM_NSLOTS) {
		snprintf(err, errlen, "shm: %d slots is outside 1..%d", nslots, SHM_NSLOTS);
		return NULL;
	}
	size = segment_size(nslots);
	/* CLOEXEC: only the children we hand it to (as fd 3) get it. */
	fd = memfd_create("piyasa-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		snprintf(err, errlen, "shm: memfd_create: %s", strerror(errno));
		return NULL;
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		snprintf(err, errlen, "shm: ftruncate %zu: %s", size, strerror(errno));
		close(fd);
		return NULL;
	}
	/* Best effort: a kernel without sealing still works, only less protected. */
	(void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	if (!(s = shm_wrap(fd, nslots, size, err, errlen))) {
		close(fd);
		return NULL;
	}
	h = (struct shm_header *)s->map;
	h->version = SHM_VERSION;
	h->nslots = (uint32_t)nslots;
	h->slot_size = (uint32_t)sizeof(struct shm_slot);
	/* The magic last: a segment is valid only once everything else is written. */
	__atomic_store_n(&h->magic, SHM_MAGIC, __ATOMIC_RELEASE);
	return s;
}

static int check_header(const struct shm_header *h, off_t fsize, char *err, size_t errlen)
{
	if (h->magic != SHM_MAGIC) {
		snprintf(err, errlen, "shm: bad magic 0x%08x (want 0x%08x): not a piyasa segment",
			 h->magic, SHM_MAGIC);
		return -1;
	}
	if (h->version != SHM_VERSION || h->slot_size != sizeof(struct shm_slot)) {
		snprintf(err, errlen,
			 "shm: layout version %u (slot %u bytes) but this binary speaks %d (%zu):"
			 " supervisor and worker are from different builds",
			 h->version, h->slot_size, SHM_VERSION, sizeof(struct shm_slot));
		return -1;
	}
	if (h->nslots < 1 || h->nslots > SHM_NSLOTS || (size_t)fsize < segment_size((int)h->nslots)) {
		snprintf(err, errlen, "shm: %u slots do not fit a %lld-byte segment", h->nslots,
			 (long long)fsize);
		return -1;
	}
	return 0;
}

struct shm *shm_attach(int fd, char *err, size_t errlen)
{
	struct shm_header h;
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "shm: fd %d: %s", fd, strerror(errno));
		return NULL;
	}
	n = pread(fd, &h, sizeof h, 0);
	if (n != (ssize_t)sizeof h) {
		snprintf(err, errlen, "shm: fd %d: cannot read the header: %s", fd,
			 n < 0 ? strerror(errno) : "segment too small");
		return NULL;
	}
	if (check_header(&h, st.st_size, err, errlen) < 0)
		return NULL;
	return shm_wrap(fd, (int)h.nslots, segment_size((int)h.nslots), err, errlen);
}

void shm_free(struct shm *s)
{
	if (!s)
		return;
	munmap(s->map, s->size);
	close(s->fd);
	free(s);
}

int shm_fd(const struct shm *s)
{
	return s->fd;
}

int shm_nslots(const struct shm *s)
{
	return s->nslots;
}

struct shm_slot *shm_slot(struct shm *s, int index)
{
	if (!s || index < 0 || index >= s->nslots)
		return NULL;
	return (struct shm_slot *)(s->map + sizeof(struct shm_header) + (size_t)index * SHM_STRIDE);
}

int64_t shm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- writers --- */

#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)

void shm_heartbeat(struct shm_slot *sl)
{
	STORE(&sl->heartbeat_ms, shm_now_ms());
}

void shm_set_state(struct shm_slot *sl, enum shm_state st)
{
	/* The first STARTING of a fresh (zeroed) slot fills in who and since when;
	 * a worker that falls back to STARTING later (Redis down) keeps its times. */
	if (st == SHM_STARTING && shm_load_i32(&sl->pid) == 0) {
		int64_t now = shm_now_ms();

		STORE(&sl->pid, (int32_t)getpid());
		if (shm_load_i64(&sl->started_ms) == 0)
			STORE(&sl->started_ms, now);
		if (shm_load_i64(&sl->heartbeat_ms) == 0)
			STORE(&sl->heartbeat_ms, now);
	}
	STORE(&sl->state, (int32_t)st);
}

void shm_count(struct shm_slot *sl, enum shm_counter c, uint64_t n)
{
	if ((unsigned)c < SHM_C_COUNT)
		ADD(&sl->counters[c], n);
}

void shm_job(struct shm_slot *sl, int kind, enum shm_outcome o)
{
	if (kind >= 0 && kind < 3 && (unsigned)o < SHM_OUT_COUNT)
		ADD(&sl->jobs[kind][o], 1);
}

void shm_pcount(struct shm_slot *sl, int provider, enum shm_pcounter c, uint64_t n)
{
	if (provider >= 0 && provider < SHM_MAX_PROVIDERS && (unsigned)c < SHM_P_COUNT)
		ADD(&sl->pcounters[provider][c], n);
}

void shm_gauge(struct shm_slot *sl, enum shm_gauge g, int64_t v)
{
	if ((unsigned)g < SHM_G_COUNT)
		STORE(&sl->gauges[g], v);
}

void shm_set_breaker(struct shm_slot *sl, int provider, int state)
{
	if ((unsigned)provider < SHM_MAX_PROVIDERS)
		STORE(&sl->pbreaker[provider], (int64_t)state);
}

void shm_ask_workers(struct shm_slot *sl, int n)
{
	__atomic_store_n(&sl->ask_workers, (int64_t)n, __ATOMIC_RELAXED);
	__atomic_fetch_add(&sl->ask_seq, 1, __ATOMIC_RELEASE);
}

uint64_t shm_asked_workers(const struct shm_slot *sl, int *n)
{
	uint64_t seq = __atomic_load_n(&sl->ask_seq, __ATOMIC_ACQUIRE);

	*n = (int)__atomic_load_n(&sl->ask_workers, __ATOMIC_RELAXED);
	return seq;
}

static void observe(struct shm_hist_data *d, double seconds)
{
	int i = 0;

	if (!(seconds > 0)) /* negative, zero or NaN: a clock step, count it as 0 */
		seconds = 0;
	if (seconds > 1e9) /* keeps sum_us far from overflow; 30 years is "slow" enough */
		seconds = 1e9;
	while (i < SHM_NBUCKETS - 1 && seconds > shm_bucket_bounds[i])
		i++;
	ADD(&d->buckets[i], 1);
	ADD(&d->sum_us, (uint64_t)(seconds * 1e6 + 0.5));
	ADD(&d->count, 1);
}

void shm_observe(struct shm_slot *sl, enum shm_hist h, double seconds)
{
	if ((unsigned)h < SHM_H_COUNT)
		observe(&sl->hist[h], seconds);
}

void shm_observe_llm(struct shm_slot *sl, int provider, double seconds)
{
	observe(&sl->hist[SHM_H_LLM_SECONDS], seconds);
	if ((unsigned)provider < SHM_MAX_PROVIDERS)
		observe(&sl->llm_hist[provider], seconds);
}

void shm_observe_job(struct shm_slot *sl, int kind, double seconds)
{
	observe(&sl->hist[SHM_H_JOB_SECONDS], seconds);
	if ((unsigned)kind < 3)
		observe(&sl->job_hist[kind], seconds);
}

/* --- readers --- */

uint64_t shm_load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

int64_t shm_load_i64(const int64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

int32_t shm_load_i32(const int32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

const char *shm_state_name(int state)
{
	static const char *const names[] = { "empty", "starting", "ready", "draining", "exited" };

	if (state < 0 || state > SHM_EXITED)
		return "unknown";
	return names[state];
}

/* --- supervisor side --- */

static void zero_u64(uint64_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		STORE(&p[i], 0);
}

static void add_u64(uint64_t *acc, const uint64_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		acc[i] += shm_load(&src[i]);
}

#define NWORDS(field) (sizeof(field) / sizeof(uint64_t))
#define HIST_WORDS (sizeof(struct shm_hist_data) / sizeof(uint64_t))

void shm_reset(struct shm_slot *sl)
{
	STORE(&sl->state, (int32_t)SHM_EMPTY);
	STORE(&sl->pid, 0);
	STORE(&sl->heartbeat_ms, 0);
	STORE(&sl->started_ms, 0);
	zero_u64(&sl->jobs[0][0], NWORDS(sl->jobs));
	zero_u64(sl->counters, NWORDS(sl->counters));
	zero_u64(&sl->pcounters[0][0], NWORDS(sl->pcounters));
	for (int i = 0; i < SHM_MAX_PROVIDERS; i++)
		STORE(&sl->pbreaker[i], 0);
	for (int i = 0; i < SHM_G_COUNT; i++)
		STORE(&sl->gauges[i], 0);
	for (int h = 0; h < SHM_H_COUNT; h++) {
		zero_u64(sl->hist[h].buckets, SHM_NBUCKETS);
		STORE(&sl->hist[h].count, 0);
		STORE(&sl->hist[h].sum_us, 0);
	}
	/* The labelled histograms are uint64 words only. */
	zero_u64(&sl->llm_hist[0].buckets[0], SHM_MAX_PROVIDERS * HIST_WORDS);
	zero_u64(&sl->job_hist[0].buckets[0], 3 * HIST_WORDS);
	STORE(&sl->ask_workers, 0);
	STORE(&sl->ask_seq, 0);
}

static void fold_hist(struct shm_hist_data *acc, const struct shm_hist_data *h)
{
	add_u64(acc->buckets, h->buckets, SHM_NBUCKETS);
	acc->count += shm_load(&h->count);
	acc->sum_us += shm_load(&h->sum_us);
}

void shm_fold(struct shm_slot *acc, const struct shm_slot *sl)
{
	add_u64(&acc->jobs[0][0], &sl->jobs[0][0], NWORDS(sl->jobs));
	add_u64(acc->counters, sl->counters, NWORDS(sl->counters));
	add_u64(&acc->pcounters[0][0], &sl->pcounters[0][0], NWORDS(sl->pcounters));
	for (int h = 0; h < SHM_H_COUNT; h++)
		fold_hist(&acc->hist[h], &sl->hist[h]);
	for (int p = 0; p < SHM_MAX_PROVIDERS; p++)
		fold_hist(&acc->llm_hist[p], &sl->llm_hist[p]);
	for (int k = 0; k < 3; k++)
		fold_hist(&acc->job_hist[k], &sl->job_hist[k]);
}
