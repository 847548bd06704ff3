/* fuzz_tz: a chat's time zone name (worker/chat/tz.c) at any instant. The first
 * 8 bytes are the instant (ms since the epoch, any int64), the rest the name.
 * A known zone gives minute_of_day 0..1439, hour 0..23 matching it, wday 0..6
 * and an offset within a day; an unknown one says so in valid UTF-8. */
#include "common/utf8.h"
#include "tests/fuzz/fuzz.h"
#include "worker/chat/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t now = 0;
	struct tz_local l;
	char err[96];
	char *zone;

	if (size >= 8) {
		memcpy(&now, data, 8);
		data += 8;
		size -= 8;
	}
	zone = fuzz_str(data, size);
	err[0] = '\0';
	if (tz_local(zone, now, &l, err, sizeof(err)) == 0) {
		FUZZ_ASSERT(l.minute_of_day >= 0 && l.minute_of_day < 1440);
		FUZZ_ASSERT(l.hour >= 0 && l.hour < 24 && l.hour == l.minute_of_day / 60);
		FUZZ_ASSERT(l.wday >= 0 && l.wday < 7);
		FUZZ_ASSERT(l.utc_offset_s > -86400 && l.utc_offset_s < 86400);
	} else {
		FUZZ_ASSERT(err[0] && utf8_valid(err, strlen(err)));
	}
	if (tz_cache_misses() % 4096 == 0)
		tz_cache_clear();
	free(zone);
	return 0;
}
