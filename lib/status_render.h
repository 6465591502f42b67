/*
 * What cdc-status makes of a status_view_t (status_view.h): the phase of
 * the namespace with its reason, whether it is healthy, and its two
 * renderings, one JSON object per namespace (the keys the README lists
 * under "cdc-status") and a table row.
 */
#ifndef CSM_STATUS_RENDER_H
#define CSM_STATUS_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "status_view.h"

/*
 * The phase: "probed", "capturing", "dumped", "restored", "replaying",
 * "caught up", "drained" or "stopped", or "none" when nothing of the ns is
 * known (a name given with --coll); the reason of a stopped or unknown one
 * goes into reason_buf of reason_size ("" otherwise).
 */
const char *status_phase(const status_view_t *view, char *reason_buf, size_t reason_size);

/*
 * Healthy unless the phase is "stopped" or "none", or capture's checkpoint says
 * "running" with a heartbeat older than three heartbeat intervals
 * (REPLAY_CAPTURE_SILENT_MS, the age at which --drain too says capture
 * does not run).
 */
bool status_healthy(const status_view_t *view);

/* The JSON object of view (new reference). */
json_t *status_json(const status_view_t *view);

/* The table's heading, then one row per view. */
void status_table_header(FILE *out);
void status_table_row(FILE *out, const status_view_t *view);

#endif
