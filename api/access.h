/* access: who is calling. A session cookie (piyasa_session) or a Bearer API
 * key is looked up by its hash (the id itself is never stored, logged or
 * returned after it is made); login, logout and me.
 *
 * Sessions: POST /api/v1/login with {name, password[, totp]} checks the
 * password (Argon2id, libsodium, off the loop thread: a check takes tens of
 * milliseconds), makes a random id and a CSRF token, stores the id's BLAKE2b
 * hash with an expiry, and sets the cookie HttpOnly, SameSite=Strict, Secure
 * when the request came through TLS (X-Forwarded-Proto: https from the proxy)
 * or api.cookie_secure is on. Every state-changing request of a session must
 * carry the token in X-CSRF-Token. Logins are throttled per user name and per
 * address (api.login_per_minute): a refusal is 429 like any other limit. */
#ifndef PIYASA_ACCESS_H
#define PIYASA_ACCESS_H

#include "api/call.h"
#include "api/rlim.h"

#define ACCESS_COOKIE "piyasa_session"

/* Find the caller of c (cookie or Authorization), then next(c) with actor and
 * role set, or answer 401 (no or bad credentials) and not call next. */
void access_resolve(struct call *c, void (*next)(struct call *));

/* 1 when a session's request carries its CSRF token (or is no session's, or
 * does not change state); else answers 403 and returns 0. */
int access_csrf_ok(struct call *c);

/* The handlers: POST /api/v1/login, POST /api/v1/logout, GET /api/v1/me.
 * Login throttling uses lim. */
void access_login(struct call *c, struct rlim *lim);
void access_logout(struct call *c);
void access_me(struct call *c);

/* Hex BLAKE2b-256 of a secret (session id, key) into out[65] (auth_token_hash). */
void access_hash(const char *secret, char out[65]);

#endif
