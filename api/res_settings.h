/* res_settings: /api/v1/settings, the fleet's behaviour knobs (common/settings):
 * list with defaults, meanings and ranges; get; set (checked by
 * settings_check, as `piyasactl settings set`; stored with an audit row in
 * one statement; announced with PUBLISH <prefix>:settings KEY, so the workers
 * reload within a second); unset. */
#ifndef PIYASA_RES_SETTINGS_H
#define PIYASA_RES_SETTINGS_H

#include "api/call.h"

void res_settings_list(struct call *c);
void res_settings_get(struct call *c);
void res_settings_set(struct call *c);
void res_settings_unset(struct call *c);

#endif
