/* res_console: see res_console.h. */
#include "api/res_console.h"

#include "console/assets.h"

#include <string.h>

int res_console(struct call *c)
{
	const char *path = req_path(c->rq), *m = req_method(c->rq);
	const struct asset *a;

	if (strcmp(path, "/") && strncmp(path, "/assets/", 8))
		return 0;
	if (strcmp(m, "GET") && strcmp(m, "HEAD")) {
		req_add_header(c->rq, "Allow", "GET, HEAD");
		call_problem(c, 405, "Method not allowed", NULL, "%s is not allowed on %s", m, path);
		return 1;
	}
	if (!(a = assets_find(path))) {
		call_problem(c, 404, "Not found", NULL, "no resource at %s", path);
		return 1;
	}
	for (int i = 0; assets_headers[i]; i += 2)
		req_add_header(c->rq, assets_headers[i], assets_headers[i + 1]);
	req_add_header(c->rq, "ETag", a->etag);
	if (assets_etag_matches(a, req_header(c->rq, "If-None-Match"))) {
		call_reply(c, 304, a->type, "", 0);
		return 1;
	}
	call_reply(c, 200, a->type, a->bytes, a->length);
	return 1;
}
