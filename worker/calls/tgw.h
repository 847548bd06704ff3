/* tgw: the Telegram Bot API wire format (JSON bodies in, results out).
 * Pure functions: no I/O, so a bad answer is an error value, never a crash. */
#ifndef PIYASA_TGW_H
#define PIYASA_TGW_H

#include <stddef.h>
#include <stdint.h>

#define TGW_MAX_TEXT 4096 /* characters (code points) Telegram accepts */

/* JSON body of sendMessage: plain text (no parse_mode), cut to TGW_MAX_TEXT
 * characters on a character boundary; reply_to 0 = none. malloc'd, or NULL when
 * memory runs out or text is not UTF-8 (never a body without its text). */
char *tgw_send_message(int64_t chat_id, const char *text, int64_t reply_to);

/* JSON body of sendChatAction. malloc'd or NULL. */
char *tgw_chat_action(int64_t chat_id, const char *action);

struct tgw_result {
	int ok;
	int error_code;        /* Telegram's, when !ok */
	long retry_after;      /* parameters.retry_after, or -1 */
	int64_t message_id;    /* result.message_id of a sent message, or 0 */
	char description[256]; /* cut on a character boundary */
};

/* Parse an answer. 0 when it is a well-formed Bot API answer (ok or not), -1
 * with err when it is not JSON or lacks "ok". */
int tgw_parse(const char *body, size_t len, struct tgw_result *r, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* What a refused send records (messages.error, the dead letter's reason):
 * "telegram <error_code>: <description>", the description cut to
 * TGW_FAILURE_DESC bytes; out (n bytes) is always valid UTF-8, so PostgreSQL and
 * jansson take it. Returns its length. */
#define TGW_FAILURE_DESC 200
size_t tgw_failure_text(const struct tgw_result *r, char *out, size_t n);

/* Bytes of s that hold at most max_cp UTF-8 characters. */
size_t tgw_utf8_prefix(const char *s, size_t max_cp);

#endif
