/*
 * Password redaction for every string that may hold a MongoDB URI
 * (docs/DESIGN.md, "Connections and secrets").
 */
#ifndef CSM_REDACT_H
#define CSM_REDACT_H

/*
 * Returns a newly allocated copy of text in which the password of every
 * mongodb:// or mongodb+srv:// URI is replaced by "***"
 * ("mongodb://user:***@host1,host2/db"). Percent-encoded passwords and
 * passwords holding '@' or ':' are handled. The caller frees with free().
 * Returns NULL only when memory runs out.
 */
char *redact_uri_text(const char *text);

#endif
