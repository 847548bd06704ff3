/* res_users: users, API keys and the audit trail (admin only), through the
 * statements of common/authdb that `piyasactl user` runs too: each change and
 * its audit row are one statement.
 *
 *   GET    /api/v1/users
 *   POST   /api/v1/users {name, password, role}        201
 *   PATCH  /api/v1/users/{name} {role} | {disabled} | {password}  one at a time
 *   GET    /api/v1/keys[?revoked=true]
 *   POST   /api/v1/keys {name, role}   201 with the key: shown this once
 *   DELETE /api/v1/keys/{id}           revoked (kept, for the audit)
 *   GET    /api/v1/audit?since=&actor=&action=&limit=   action may end in '*'
 * A password is hashed (Argon2id) off the loop thread. */
#ifndef PIYASA_RES_USERS_H
#define PIYASA_RES_USERS_H

#include "api/call.h"

void res_users_list(struct call *c);
void res_users_add(struct call *c);
void res_users_edit(struct call *c);
void res_keys_list(struct call *c);
void res_keys_add(struct call *c);
void res_keys_revoke(struct call *c);
void res_audit_list(struct call *c);

#endif
