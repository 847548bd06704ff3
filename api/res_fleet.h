/* res_fleet: the fleet as the operator steers it.
 *
 *   GET   /api/v1/control  simulation on/off and the scale factor (settings)
 *   PATCH /api/v1/control  {simulation_active?, scale_factor?}: both through the
 *                          settings path (checked, audited, announced)
 *   GET   /api/v1/fleet    the supervisor's /status (workers, pids, heartbeats,
 *                          restarts, crash loops, the API itself), fetched from
 *                          its HTTP port: the API never reads the supervisor's
 *                          memory, and a supervisor without http_port says 503
 *   POST  /api/v1/fleet/resize {workers: N}: written into the API's slot of
 *                          the shared segment (shm_ask_workers); the
 *                          supervisor reads it on its next tick and resizes
 *                          as on SIGTTIN/SIGTTOU (drain, reshard, start), so
 *                          no job is lost or run twice. 202: asked, not done;
 *                          GET /api/v1/fleet shows the phase and the count.
 *   GET   /api/v1/queues   depth per priority, delayed and leased jobs, the
 *                          oldest ready job's age, from Redis */
#ifndef PIYASA_RES_FLEET_H
#define PIYASA_RES_FLEET_H

#include "api/call.h"

void res_control_get(struct call *c);
void res_control_set(struct call *c);
void res_fleet_status(struct call *c);
void res_fleet_resize(struct call *c);
void res_queues(struct call *c);

#endif
