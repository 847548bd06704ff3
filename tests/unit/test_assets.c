/* test_assets: the console's files as piyasa-api serves them. Every web file under
 * console/ is in the table with its own bytes, its type and an ETag of its
 * sha256; nothing else is found (no path trick reaches the table); If-None-Match
 * is read as RFC 9110 says; the pages are written for the strict CSP (no inline
 * script, no inline handler or style attribute, no eval) and every module they
 * import and every file index.html names is in the table. Runs from the root of
 * the tree, as scripts/test runs it. */
#include "console/assets.h"
#include "tests/check_main.h"

#include <check.h>
#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* The file under console/ an asset was made from. */
static void file_of(const struct asset *a, char *out, size_t size)
{
	if (!strcmp(a->path, "/"))
		snprintf(out, size, "console/index.html");
	else
		snprintf(out, size, "console/%s", a->path + strlen("/assets/"));
}

START_TEST(each_asset_is_its_file)
{
	ck_assert_int_ge(assets_count(), 10);
	for (size_t i = 0; i < assets_count(); i++) {
		const struct asset *a = assets_at(i);
		char path[512], hex[65], want[32];
		unsigned char sum[crypto_hash_sha256_BYTES];
		size_t len;
		char *data;

		file_of(a, path, sizeof path);
		data = slurp(path, &len);
		ck_assert_msg(data, "%s: no file %s", a->path, path);
		ck_assert_uint_eq(a->length, len);
		ck_assert_msg(!memcmp(a->bytes, data, len), "%s differs from %s", a->path, path);
		ck_assert_int_eq(a->bytes[a->length], 0);
		crypto_hash_sha256(sum, (const unsigned char *)data, len);
		sodium_bin2hex(hex, sizeof hex, sum, sizeof sum);
		snprintf(want, sizeof want, "\"%.20s\"", hex);
		ck_assert_str_eq(a->etag, want);
		ck_assert_ptr_eq(assets_find(a->path), a);
		if (i > 0)
			ck_assert_int_lt(strcmp(assets_at(i - 1)->path, a->path), 0);
		free(data);
	}
	ck_assert_ptr_null(assets_at(assets_count()));
}
END_TEST

static int is_web(const char *name)
{
	static const char *const ext[] = { ".html", ".js", ".mjs", ".css", ".svg" };
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; dot && i < sizeof ext / sizeof ext[0]; i++)
		if (!strcmp(dot, ext[i]))
			return 1;
	return 0;
}

/* Every web file of these folders is served (a file the Makefile forgot is not). */
START_TEST(every_file_is_served)
{
	static const char *const dirs[] = { "console", "console/js", "console/js/pages",
					    "console/vendor" };
	int seen = 0;
	for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
		DIR *dir = opendir(dirs[d]);
		struct dirent *e;
		ck_assert_ptr_nonnull(dir);
		while ((e = readdir(dir))) {
			char url[512];
			if (!is_web(e->d_name))
				continue;
			if (!strcmp(dirs[d], "console") && !strcmp(e->d_name, "index.html"))
				snprintf(url, sizeof url, "/");
			else
				snprintf(url, sizeof url, "/assets/%s/%s",
					 dirs[d] + strlen("console"), e->d_name);
			/* "/assets//x" from the root folder: fold the double slash */
			if (!strncmp(url, "/assets//", 9))
				memmove(url + 8, url + 9, strlen(url + 9) + 1);
			ck_assert_msg(assets_find(url), "%s/%s is not served (as %s)", dirs[d],
				      e->d_name, url);
			seen++;
		}
		closedir(dir);
	}
	ck_assert_int_eq(seen, (int)assets_count());
}
END_TEST

START_TEST(types)
{
	ck_assert_str_eq(assets_find("/")->type, "text/html; charset=utf-8");
	ck_assert_str_eq(assets_find("/assets/js/app.js")->type, "text/javascript; charset=utf-8");
	ck_assert_str_eq(assets_find("/assets/vendor/preact.mjs")->type,
			 "text/javascript; charset=utf-8");
	ck_assert_str_eq(assets_find("/assets/app.css")->type, "text/css; charset=utf-8");
	ck_assert_str_eq(assets_find("/assets/favicon.svg")->type, "image/svg+xml");
}
END_TEST

START_TEST(nothing_else_is_found)
{
	static const char *const no[] = {
		"",
		"/index.html",
		"/assets",
		"/assets/",
		"/assets/app.css/",
		"/assets/./app.css",
		"/assets/js/../app.css",
		"/assets/../console/index.html",
		"//",
		"/ASSETS/app.css",
		"/assets/app.css?x=1",
		"/assets/app.css%00",
		"/assets/vendor/LOCK",
		"/assets/vendor/SHA256SUMS",
		"/assets/assets.c",
		"/api/v1/me",
		"/assets/app",
	};
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		ck_assert_msg(!assets_find(no[i]), "'%s' was found", no[i]);
	ck_assert_ptr_null(assets_find(NULL));
}
END_TEST

START_TEST(if_none_match)
{
	const struct asset *a = assets_find("/assets/app.css");
	char weak[64], list[128];

	snprintf(weak, sizeof weak, "W/%s", a->etag);
	snprintf(list, sizeof list, "\"abc\", %s , \"def\"", a->etag);
	ck_assert_int_eq(assets_etag_matches(a, a->etag), 1);
	ck_assert_int_eq(assets_etag_matches(a, weak), 1);
	ck_assert_int_eq(assets_etag_matches(a, list), 1);
	ck_assert_int_eq(assets_etag_matches(a, "*"), 1);
	ck_assert_int_eq(assets_etag_matches(a, "\"0000\""), 0);
	ck_assert_int_eq(assets_etag_matches(a, assets_find("/")->etag), 0);
	ck_assert_int_eq(assets_etag_matches(a, ""), 0);
	ck_assert_int_eq(assets_etag_matches(a, " , ,"), 0);
	ck_assert_int_eq(assets_etag_matches(a, "\"unterminated"), 0);
	ck_assert_int_eq(assets_etag_matches(a, "W/"), 0);
	ck_assert_int_eq(assets_etag_matches(a, NULL), 0);
	ck_assert_int_eq(assets_etag_matches(NULL, "*"), 0);
	/* the tag without its quotes is another tag */
	snprintf(list, sizeof list, "%.*s", (int)strlen(a->etag) - 2, a->etag + 1);
	ck_assert_int_eq(assets_etag_matches(a, list), 0);
}
END_TEST

START_TEST(headers_are_strict)
{
	int n = 0;
	for (; assets_headers[n]; n += 2)
		ck_assert_ptr_nonnull(assets_headers[n + 1]);
	ck_assert_int_ge(n, 6);
	ck_assert_str_eq(assets_headers[0], "Content-Security-Policy");
	ck_assert_ptr_nonnull(strstr(ASSETS_CSP, "default-src 'none'"));
	ck_assert_ptr_nonnull(strstr(ASSETS_CSP, "script-src 'self';"));
	ck_assert_ptr_nonnull(strstr(ASSETS_CSP, "frame-ancestors 'none'"));
	ck_assert_ptr_null(strstr(ASSETS_CSP, "unsafe"));
	ck_assert_str_eq(assets_headers[2], "Referrer-Policy");
}
END_TEST

/* What the CSP would block, in the console's own files (the vendored libraries
 * are checked in a browser by the browser test). */
START_TEST(pages_fit_the_csp)
{
	const char *html = (const char *)assets_find("/")->bytes, *p;
	ck_assert_ptr_nonnull(strstr(html, "<script type=\"module\" src=\"/assets/js/app.js\">"));
	for (p = html; (p = strstr(p, "<script")); p++)
		ck_assert_msg(!strncmp(p, "<script type=\"module\" src=", 26), "inline script");
	ck_assert_ptr_null(strstr(html, " style="));
	ck_assert_ptr_null(strstr(html, " onload="));
	for (size_t i = 0; i < assets_count(); i++) {
		const struct asset *a = assets_at(i);
		const char *s = (const char *)a->bytes;
		if (strncmp(a->path, "/assets/js/", 11))
			continue;
		ck_assert_msg(!strstr(s, "innerHTML"), "%s: innerHTML", a->path);
		ck_assert_msg(!strstr(s, "eval("), "%s: eval", a->path);
		ck_assert_msg(!strstr(s, "new Function"), "%s: new Function", a->path);
		ck_assert_msg(!strstr(s, "style=\""), "%s: a style attribute", a->path);
		ck_assert_msg(!strstr(s, "cssText"), "%s: cssText", a->path);
	}
}
END_TEST

/* Resolve a relative import spec against an asset's folder into out. */
static void resolve(const char *from, const char *spec, size_t len, char *out, size_t size)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", from);
	*strrchr(buf, '/') = 0;
	while (len >= 3 && !strncmp(spec, "../", 3)) {
		*strrchr(buf, '/') = 0;
		spec += 3, len -= 3;
	}
	if (len >= 2 && !strncmp(spec, "./", 2))
		spec += 2, len -= 2;
	int n = snprintf(out, size, "%s/%.*s", buf, (int)len, spec);
	ck_assert(n > 0 && (size_t)n < size);
}

/* Every module a script imports, and every file index.html names, is served. */
START_TEST(every_reference_is_served)
{
	int refs = 0;
	for (size_t i = 0; i < assets_count(); i++) {
		const struct asset *a = assets_at(i);
		const char *s = (const char *)a->bytes, *p;
		if (!strstr(a->type, "javascript"))
			continue;
		for (p = s; (p = strstr(p, "from")); p += 4) {
			const char *q = p + 4, *end;
			char url[512];
			while (*q == ' ')
				q++;
			if ((*q != '\'' && *q != '"') || q[1] != '.')
				continue;
			end = strchr(q + 1, *q);
			ck_assert_ptr_nonnull(end);
			resolve(a->path, q + 1, (size_t)(end - q - 1), url, sizeof url);
			ck_assert_msg(assets_find(url), "%s imports %s: not served", a->path, url);
			refs++;
		}
	}
	const char *html = (const char *)assets_find("/")->bytes, *p = html;
	while ((p = strstr(p, "\"/assets/"))) {
		char url[256];
		const char *end = strchr(p + 1, '"');
		snprintf(url, sizeof url, "%.*s", (int)(end - p - 1), p + 1);
		ck_assert_msg(assets_find(url), "index.html names %s: not served", url);
		refs++;
		p = end;
	}
	ck_assert_int_ge(refs, 20);
}
END_TEST

/* The vendored files are what scripts/vendor-console took from npm: each matches
 * its line of console/vendor/SHA256SUMS (a hand edit shows here), and each
 * served vendor file has a line. */
START_TEST(vendored_files_match_their_sums)
{
	size_t len, n = 0;
	char *sums = slurp("console/vendor/SHA256SUMS", &len), *line, *save = NULL;

	ck_assert_ptr_nonnull(sums);
	for (line = strtok_r(sums, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char want[65], name[256], path[300], hex[65];
		unsigned char sum[crypto_hash_sha256_BYTES];
		size_t flen;
		char *data;

		ck_assert_int_eq(sscanf(line, "%64s %255s", want, name), 2);
		snprintf(path, sizeof path, "console/vendor/%s", name);
		data = slurp(path, &flen);
		ck_assert_msg(data, "%s: missing", path);
		crypto_hash_sha256(sum, (const unsigned char *)data, flen);
		sodium_bin2hex(hex, sizeof hex, sum, sizeof sum);
		ck_assert_msg(!strcmp(hex, want), "%s differs from SHA256SUMS (edited by hand?)", path);
		free(data);
		n++;
	}
	free(sums);
	ck_assert_uint_ge(n, 5);
	for (size_t i = 0; i < assets_count(); i++) {
		const struct asset *a = assets_at(i);
		char needle[300];
		if (strncmp(a->path, "/assets/vendor/", 15))
			continue;
		snprintf(needle, sizeof needle, " %s\n", a->path + 15);
		sums = slurp("console/vendor/SHA256SUMS", &len);
		ck_assert_msg(strstr(sums, needle), "%s is served but not in SHA256SUMS", a->path);
		free(sums);
	}
}
END_TEST

static Suite *assets_suite(void)
{
	Suite *s = suite_create("assets");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, each_asset_is_its_file);
	tcase_add_test(tc, every_file_is_served);
	tcase_add_test(tc, types);
	tcase_add_test(tc, nothing_else_is_found);
	tcase_add_test(tc, if_none_match);
	tcase_add_test(tc, headers_are_strict);
	tcase_add_test(tc, pages_fit_the_csp);
	tcase_add_test(tc, every_reference_is_served);
	tcase_add_test(tc, vendored_files_match_their_sums);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(assets_suite)
