/*
 * What cdc-status shows of one namespace (docs/DESIGN.md, "Programs"; the
 * README's "cdc-status"): read from the target's staging and meta
 * collections through their own codecs (checkpoint.h, marker.h, lease.h,
 * staging_query.h) and, with a state directory, from the files the
 * drivers keep there (status_files.h). Reading only: nothing is written
 * anywhere.
 */
#ifndef CSM_STATUS_VIEW_H
#define CSM_STATUS_VIEW_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "checkpoint.h"
#include "lease.h"
#include "marker.h"
#include "status_files.h"

/* One namespace as cdc-status shows it. */
typedef struct status_view {
	char ns[256];
	char target_ns[256]; /* the marker's target ns; ns without a marker */
	bool has_checkpoint;
	checkpoint_t cp;
	bool has_marker;
	restore_marker_t marker;
	int64_t staged;          /* highest staged seq; 0 none */
	int64_t applied;         /* highest seq marked done; 0 none */
	int64_t pending;         /* pending staged documents */
	int64_t staging_docs;    /* staged documents present (purge removes done ones) */
	int64_t applied_wall_ms; /* wallTime (else clusterTime) of the newest done event; 0 */
	lease_info_t capture_lease, apply_lease;
	status_files_t files;
	bool has_files; /* a state directory was given */
	int64_t now_ms; /* when it was read */
} status_view_t;

/* Frees what view holds (the checkpoint and marker); view may be read into again. */
void status_view_cleanup(status_view_t *view);

/*
 * The namespaces of db known to the meta collection meta (checkpoints,
 * restore markers' sourceNs, capture leases), to the staged documents of
 * staging and, when state_dir is not NULL, to its token files, sorted and
 * without duplicates, into *list (bson_strfreev) and *n. false + the
 * driver's error.
 */
bool status_view_list(mongoc_collection_t *staging, mongoc_collection_t *meta, const char *db,
		      const char *state_dir, char ***list, size_t *n, bson_error_t *error);

/*
 * Reads ns into view (initialized by the call; status_view_cleanup after)
 * from staging and meta and, when state_dir is not NULL, its files.
 * false + the driver's error (view is cleaned up then).
 */
bool status_view_read(mongoc_collection_t *staging, mongoc_collection_t *meta, const char *ns,
		      const char *state_dir, status_view_t *view, bson_error_t *error);

#endif
