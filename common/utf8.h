/* utf8: text from outside (a Telegram description, jansson's error text, a job,
 * a time zone name, a path into a cast file) made safe to cut, store and log.
 *
 * PostgreSQL refuses a text parameter that is not UTF-8 (22021), jansson refuses
 * to encode such a string (a JSON log line or an outbox row is then lost), and a
 * byte limit applied with "%.200s" or a small buffer may cut a character in two.
 * So every text from outside that is cut or copied into a fixed buffer goes
 * through utf8_cut or utf8_fmt: the result is always well-formed UTF-8, cut on a
 * character boundary.
 *
 * Well-formed means RFC 3629 as jansson and PostgreSQL read it: no overlong form,
 * no surrogate, nothing above U+10FFFF. Pure functions, no allocation. */
#ifndef PIYASA_UTF8_H
#define PIYASA_UTF8_H

#include <stddef.h>

/* What an invalid byte becomes: one byte, so a string never grows when cleaned. */
#define UTF8_BAD_BYTE '?'

/* Bytes (1..4) of the well-formed character at the start of s[0..n), or 0 when s
 * starts a malformed or incomplete sequence, or n is 0. A NUL counts as a
 * one-byte character. Never reads past a NUL: pass SIZE_MAX as n for a
 * NUL-terminated string. Inline: compose decodes every character of a prompt. */
static inline size_t utf8_char(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len;

	if (n == 0)
		return 0;
	if (u[0] < 0x80)
		return 1;
	if (u[0] >= 0xC2 && u[0] <= 0xDF)
		len = 2;
	else if (u[0] >= 0xE0 && u[0] <= 0xEF)
		len = 3;
	else if (u[0] >= 0xF0 && u[0] <= 0xF4)
		len = 4;
	else
		return 0;
	for (size_t k = 1; k < len; k++)
		if (k >= n || (u[k] & 0xC0) != 0x80)
			return 0;
	if ((u[0] == 0xE0 && u[1] < 0xA0) || (u[0] == 0xED && u[1] > 0x9F) ||
	    (u[0] == 0xF0 && u[1] < 0x90) || (u[0] == 0xF4 && u[1] > 0x8F))
		return 0;
	return len;
}

/* 1 when the n bytes at s are well-formed UTF-8 with no NUL among them (what a
 * PostgreSQL text parameter and a jansson string need), else 0. */
int utf8_valid(const char *s, size_t n);

/* Copies the NUL-terminated src into dst (size bytes; nothing is written when
 * size is 0), as well-formed UTF-8: a byte that starts no well-formed character
 * becomes UTF8_BAD_BYTE, and the copy ends at the last whole character that fits
 * with its NUL (a sequence left incomplete by the end of src is dropped). dst may
 * be src (cleans in place). Returns the bytes written, NUL excluded. */
size_t utf8_cut(char *dst, size_t size, const char *src);

/* snprintf into dst, then the result cleaned as utf8_cut does: an argument cut
 * by the buffer's end never leaves half a character, an invalid byte in an
 * argument becomes UTF8_BAD_BYTE. Returns the bytes written, NUL excluded. */
size_t utf8_fmt(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
