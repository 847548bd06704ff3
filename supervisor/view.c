/* view: see view.h. Every function takes the mutex for a handful of copies only;
 * formatting happens outside it, so a slow scrape never holds up the loop. */
#include "supervisor/view.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int view_init(struct view *v, struct shm *shm)
{
	memset(v, 0, sizeof *v);
	if (pthread_mutex_init(&v->mu, NULL) != 0)
		return -1;
	v->shm = shm;
	v->pid = (int)getpid();
	v->start_ms = shm_now_ms();
	v->live_ms = v->start_ms;
	snprintf(v->phase, sizeof v->phase, "starting");
	return 0;
}

void view_destroy(struct view *v)
{
	pthread_mutex_destroy(&v->mu);
}

static void copy_cfg(struct view_cfg *d, const struct cfg *c)
{
	memset(d, 0, sizeof *d);
	snprintf(d->path, sizeof d->path, "%s", c->path);
	d->workers = c->workers;
	d->heartbeat_ms = c->heartbeat_ms;
	d->worker_timeout_ms = c->worker_timeout_ms;
	d->drain_timeout_ms = c->drain_timeout_ms;
	d->respawn_max_ms = c->respawn_max_ms;
	d->max_inflight = c->max_inflight;
	d->http_port = c->http_port;
	snprintf(d->http_bind, sizeof d->http_bind, "%s", c->http_bind);
	snprintf(d->redis_prefix, sizeof d->redis_prefix, "%s", c->redis_prefix);
	snprintf(d->log_level, sizeof d->log_level, "%s", c->log_level);
	snprintf(d->log_format, sizeof d->log_format, "%s", c->log_format);
	d->api_enabled = c->api_enabled;
	snprintf(d->api_listen, sizeof d->api_listen, "%s", c->api_listen);
	d->nproviders = c->nproviders;
	for (int i = 0; i < c->nproviders && i < CFG_MAX_PROVIDERS; i++) {
		snprintf(d->providers[i], sizeof d->providers[i], "%s", c->providers[i].name);
		snprintf(d->models[i], sizeof d->models[i], "%s", c->providers[i].model);
		d->daily_tokens[i] = c->providers[i].daily_tokens;
	}
}

void view_set_config(struct view *v, const struct cfg *c)
{
	struct view_cfg tmp;

	copy_cfg(&tmp, c);
	pthread_mutex_lock(&v->mu);
	v->cfg = tmp;
	pthread_mutex_unlock(&v->mu);
}

void view_set_fleet(struct view *v, int count, const char *phase)
{
	pthread_mutex_lock(&v->mu);
	v->count = count;
	if (count > v->seen)
		v->seen = count;
	snprintf(v->phase, sizeof v->phase, "%s", phase);
	pthread_mutex_unlock(&v->mu);
}

void view_set_worker(struct view *v, int index, const struct view_worker *w)
{
	if (index < 0 || index >= SHM_NSLOTS)
		return;
	pthread_mutex_lock(&v->mu);
	v->w[index] = *w;
	pthread_mutex_unlock(&v->mu);
}

void view_count_reload(struct view *v)
{
	pthread_mutex_lock(&v->mu);
	v->reloads++;
	pthread_mutex_unlock(&v->mu);
}

void view_count_reload_refused(struct view *v)
{
	pthread_mutex_lock(&v->mu);
	v->reloads_refused++;
	pthread_mutex_unlock(&v->mu);
}

void view_count_resize(struct view *v)
{
	pthread_mutex_lock(&v->mu);
	v->resizes++;
	pthread_mutex_unlock(&v->mu);
}

void view_retire_slot(struct view *v, int index)
{
	struct shm_slot *sl = shm_slot(v->shm, index);

	if (!sl)
		return;
	/* Fold and reset in one critical section: a scrape sees the counters either
	 * in the slot or in the base, never in both and never in neither. */
	pthread_mutex_lock(&v->mu);
	shm_fold(&v->base[index], sl);
	shm_reset(sl);
	pthread_mutex_unlock(&v->mu);
}

void view_stamp_live(struct view *v, int64_t now_ms)
{
	__atomic_store_n(&v->live_ms, now_ms, __ATOMIC_RELAXED);
}

static void snap_slot(struct snap *s, int i, struct shm_slot *sl)
{
	struct snap_worker *w = &s->w[i];

	w->state = shm_load_i32(&sl->state);
	w->heartbeat_ms = shm_load_i64(&sl->heartbeat_ms);
	for (int g = 0; g < SHM_G_COUNT; g++)
		w->gauges[g] = shm_load_i64(&sl->gauges[g]);
	for (int p = 0; p < SHM_MAX_PROVIDERS; p++)
		w->pbreaker[p] = shm_load_i64(&sl->pbreaker[p]);
	if (!w->v.pid || i == SHM_API_SLOT) /* the sums are the workers' */
		return;
	for (int g = 0; g < SHM_G_COUNT; g++)
		s->gauge_sum[g] += w->gauges[g];
}

void view_snapshot(struct view *v, struct snap *s)
{
	int n = shm_nslots(v->shm) < SHM_NSLOTS ? shm_nslots(v->shm) : SHM_NSLOTS;

	memset(s, 0, sizeof *s);
	s->now_ms = shm_now_ms();
	s->start_ms = v->start_ms;
	s->pid = v->pid;
	s->live_ms = __atomic_load_n(&v->live_ms, __ATOMIC_RELAXED);
	pthread_mutex_lock(&v->mu);
	s->count = v->count;
	s->seen = v->seen;
	memcpy(s->phase, v->phase, sizeof s->phase);
	s->reloads = v->reloads;
	s->reloads_refused = v->reloads_refused;
	s->resizes = v->resizes;
	s->cfg = v->cfg;
	for (int i = 0; i < n; i++) {
		struct shm_slot *sl = shm_slot(v->shm, i);

		s->w[i].v = v->w[i];
		shm_fold(&s->total, &v->base[i]);
		shm_fold(&s->total, sl);
		snap_slot(s, i, sl);
	}
	pthread_mutex_unlock(&v->mu);
}

int64_t snap_heartbeat_age(const struct snap *s, int index)
{
	const struct snap_worker *w = &s->w[index];
	int64_t ref;

	if (!w->v.pid || w->state < SHM_STARTING)
		return -1;
	/* A worker that said STARTING but has not beaten yet is as old as its spawn. */
	ref = w->heartbeat_ms > w->v.spawned_ms ? w->heartbeat_ms : w->v.spawned_ms;
	return s->now_ms > ref ? s->now_ms - ref : 0;
}
