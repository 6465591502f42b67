/*
 * Unit tests of when cdc-capture asks for showExpandedEvents (lib/capture.h):
 * 6.0+ sources by buildInfo's versionArray, the server's version alone.
 */
#include <mongoc/mongoc.h>

#include "capture.h"
#include "unit.h"

/* Whether a buildInfo with versionArray [major, minor, patch] has it. */
static bool
has_expanded(int32_t major, int32_t minor, int32_t patch)
{
	bson_t *info = BCON_NEW("versionArray", "[", BCON_INT32(major), BCON_INT32(minor),
				BCON_INT32(patch), BCON_INT32(0), "]");
	bool yes = capture_version_has_expanded_events(info);

	bson_destroy(info);
	return yes;
}

static void
case_versions(void)
{
	bson_t empty = BSON_INITIALIZER;

	CHECK(has_expanded(6, 0, 0));
	CHECK(has_expanded(6, 1, 0));
	CHECK(has_expanded(7, 0, 2));
	CHECK(!has_expanded(5, 0, 20));
	CHECK(!has_expanded(4, 4, 0));
	CHECK(!capture_version_has_expanded_events(&empty));
}

static const unit_case_t cases[] = {
	{"versions", case_versions},
};

UNIT_MAIN(cases)
