/*
 * Reading one top-level field of a document the toolkit wrote or a server
 * sent, with the absent-or-mistyped case answered the same way everywhere:
 * a default, an empty string, false. The codecs of the meta documents
 * (checkpoint, marker, lease) and the staging writer read through these.
 */
#ifndef CSM_BSONFIELD_H
#define CSM_BSONFIELD_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* doc[key] as an int64 when it holds any number, else dflt. */
int64_t bsonfield_int64(const bson_t *doc, const char *key, int64_t dflt);

/* doc[key] as Unix ms when it holds a Date, else 0. */
int64_t bsonfield_date(const bson_t *doc, const char *key);

/* Copies doc[key] into out (size bytes, always NUL-terminated) when it
 * holds a string; else out becomes "". True when it did. */
bool bsonfield_utf8(const bson_t *doc, const char *key, char *out, size_t size);

/* A bson_strdup() of doc[key] when it holds a string, else NULL. */
char *bsonfield_utf8_dup(const bson_t *doc, const char *key);

/* Replaces out (an initialized bson_t) by a copy of doc[key] when it holds
 * a document; else out is left alone and false returned. */
bool bsonfield_document(const bson_t *doc, const char *key, bson_t *out);

#endif
