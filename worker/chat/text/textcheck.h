/* textcheck: the content filter every completion passes before it may be sent
 * (BEHAVIOUR.md, "One message, step by step", point 7), and the small UTF-8
 * helpers that dedup and humanise share with it.
 *
 * A completion is dropped when it promises gains ("kesin kazanç", "garanti", ...)
 * or says it is an AI / assistant / language model; traces of an assistant voice
 * that can simply be cut are cut instead: a leading "Tabii ki!" or "Sure!", a
 * speaker label the model copied from the transcript ("Ahmet:", "[Ahmet]:"),
 * quotes around the whole message, markdown (bold, bullets, headings). Whitespace
 * and newlines become single spaces and the text is capped at 500 code points on
 * a word (or sentence) boundary. Matching is case-insensitive with the Turkish
 * capitals (İ/I) and also ignores the Turkish letters' dots and cedillas, so
 * "KESİN KAZANÇ", "KESIN KAZANC" and "kesin kazanç" are one phrase.
 *
 * Pure functions: no I/O, no logging, no state but the phrase lists folded once
 * (thread-safe); the only allocation is scratch space inside textcheck_clean. */
#ifndef PIYASA_TEXTCHECK_H
#define PIYASA_TEXTCHECK_H

#include <stddef.h>
#include <stdint.h>

/* The cap on a message, in code points (Unicode characters, not bytes). */
#define TEXTCHECK_MAX_CP 500
/* An output buffer this large always holds a cleaned message (4 bytes per code
 * point at most, plus the NUL). */
#define TEXTCHECK_OUT_MAX (TEXTCHECK_MAX_CP * 4 + 1)
/* What textcheck_utf8_next reports for a byte that starts no valid sequence. */
#define TEXTCHECK_BAD_CP 0xFFFFFFFFu

/* Cleans one completion into out (outlen bytes, TEXTCHECK_OUT_MAX always enough).
 * 0: out holds the text to send (valid UTF-8, <= TEXTCHECK_MAX_CP code points,
 * never empty). -1: the message must not be sent; why says which rule refused it:
 *   "promise of gain: 'kesin kazanç'"  (the phrase as listed, not as written)
 *   "assistant voice: 'yapay zeka olarak'"
 *   "empty answer"                      (NULL, blank, or nothing left after cleaning)
 *   "output buffer too small"
 * A negated promise ("garanti değil", "kesin kazanç yok") and the bank Garanti
 * ("Garanti BBVA", "Garanti'nin hisseleri") are not promises. Invalid UTF-8 bytes,
 * control characters and invisible ones are dropped: every bidirectional control
 * (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069), the zero-width space
 * and non-joiner, U+2060..U+206F, the BOM; the zero-width joiner U+200D only
 * stays between two emoji (an emoji sequence such as a family or "❤️‍🔥"). No
 * language the chats use needs the others in a message. */
int textcheck_clean(const char *in, char *out, size_t outlen, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/* Cuts the NUL-terminated s in place to at most max_cp code points: at the end of
 * a sentence when one ends within the last 150 code points of the limit, else at
 * the last space (dropping a dangling comma or dash), else at a character
 * boundary. A string already short enough is left alone. Returns the new length
 * in bytes. s must be valid UTF-8. */
size_t textcheck_cap(char *s, size_t max_cp);

/* --- phrase matching under the filter's fold ------------------------------ */

/* Bytes at the start of s (len bytes) that match pat when case, the Turkish dots
 * (İ/I/ı/i) and cedillas (ş/s, ç/c, ğ/g, ö/o, ü/u) are ignored; 0 when they don't. */
size_t textcheck_fold_prefix(const char *s, size_t len, const char *pat);

/* 1 when pat occurs anywhere in the NUL-terminated s under the same fold. */
int textcheck_fold_contains(const char *s, const char *pat);

/* --- UTF-8 helpers ------------------------------------------------------- */

/* Decodes the code point at s (len > 0 bytes available) into *cp and returns its
 * length, 1..4. Overlong forms, surrogates, values above U+10FFFF and truncated
 * sequences give *cp = TEXTCHECK_BAD_CP and a length of 1, so a caller that skips
 * the returned length always makes progress. */
size_t textcheck_utf8_next(const char *s, size_t len, uint32_t *cp);

/* Writes cp as UTF-8 into out (room for 4 bytes) and returns the length; a value
 * that is not a Unicode scalar writes U+FFFD. */
size_t textcheck_utf8_put(uint32_t cp, char *out);

/* 1 when the len bytes at s are valid UTF-8 (no NUL inside is required). */
int textcheck_utf8_valid(const char *s, size_t len);

/* Code points in the NUL-terminated s (an invalid byte counts as one). */
size_t textcheck_utf8_count(const char *s);

/* Drops invalid UTF-8 bytes from the NUL-terminated s in place; returns the new
 * length. */
size_t textcheck_utf8_sanitize(char *s);

/* Lower / upper case for ASCII, Latin-1 and Latin Extended-A, the Turkish way:
 * I <-> ı, İ <-> i. Anything else is returned unchanged. */
uint32_t textcheck_lower(uint32_t cp);
uint32_t textcheck_upper(uint32_t cp);

/* 1 for a letter: ASCII and Latin letters, the other alphabets below U+2000 (bar
 * their punctuation and combining marks), CJK, Hangul and the like. Symbols,
 * punctuation and emoji (anything else from U+2000 up) are not letters. Digits
 * are not letters either. */
int textcheck_is_letter(uint32_t cp);

/* 1 for an emoji or pictograph, and for the joiners, variation selectors, skin
 * tones and keycap marks that glue emoji sequences together. */
int textcheck_is_emoji(uint32_t cp);

#endif
