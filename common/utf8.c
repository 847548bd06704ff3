/* utf8: see utf8.h. */
#include "common/utf8.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int utf8_valid(const char *s, size_t n)
{
	for (size_t i = 0, c; i < n; i += c)
		if (s[i] == 0 || (c = utf8_char(s + i, n - i)) == 0)
			return 0;
	return 1;
}

/* 1 when s holds the start of a character and nothing after it: what a cut
 * by a byte limit (snprintf's, or "%.200s") leaves at the end of a string. */
static int cut_short(const char *s)
{
	unsigned char c = (unsigned char)s[0];
	size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2, k = 1;

	if (c < 0xC2 || c > 0xF4)
		return 0;
	while (k < need && ((unsigned char)s[k] & 0xC0) == 0x80)
		k++;
	return k < need && s[k] == 0;
}

size_t utf8_cut(char *dst, size_t size, const char *src)
{
	size_t i = 0, o = 0, c;

	if (size == 0)
		return 0;
	while (src[i]) {
		if ((c = utf8_char(src + i, SIZE_MAX)) == 0) {
			if (cut_short(src + i) || o + 2 > size)
				break;
			dst[o++] = UTF8_BAD_BYTE;
			i++;
			continue;
		}
		if (o + c + 1 > size)
			break;
		memmove(dst + o, src + i, c); /* o <= i: in place works */
		o += c;
		i += c;
	}
	dst[o] = 0;
	return o;
}

size_t utf8_fmt(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (size == 0)
		return 0;
	va_start(ap, fmt);
	vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	return utf8_cut(dst, size, dst);
}
