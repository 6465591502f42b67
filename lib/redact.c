/*
 * URI password redaction (redact.h). The scan is deliberately forgiving:
 * a password holding a raw '@' or ':' is invalid in a URI but happens, and
 * over-redacting is always preferred to printing a secret.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "redact.h"

static const char *const schemes[] = {"mongodb://", "mongodb+srv://"};

/* Length of the scheme at p, or 0 when no MongoDB URI starts there. */
static size_t
scheme_at(const char *p)
{
	size_t i, n;

	for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
		n = strlen(schemes[i]);
		if (strncasecmp(p, schemes[i], n) == 0)
			return n;
	}
	return 0;
}

/*
 * A URI ends at whitespace, a quote or angle bracket, the start of the next
 * URI, or the end of the text.
 */
static size_t
uri_span(const char *p)
{
	size_t n = 0;

	while (p[n] && !strchr(" \t\r\n\f\v\"'`<>", p[n])) {
		if (n > 0 && scheme_at(p + n))
			break;
		n++;
	}
	return n;
}

/* Finds the last c in [p, p + n), or NULL. */
static const char *
last_of(const char *p, size_t n, char c)
{
	while (n-- > 0)
		if (p[n] == c)
			return p + n;
	return NULL;
}

/*
 * For the authority part of one URI (after the scheme, n bytes), sets
 * *pw_start / *pw_len to the password to hide; false when there is none.
 */
static bool
find_password(const char *auth, size_t n, size_t *pw_start, size_t *pw_len)
{
	const char *query, *at, *last_at, *colon;
	size_t region = n;

	/*
	 * Userinfo ends at the last '@' before the options, so raw '@', ':' and
	 * '/' in a password are covered and an '@' inside an option value is
	 * not taken for the separator. But options follow "host/" or
	 * "host/db" and are key=value pairs: a first '?' with no '/' between
	 * that '@' and it, or no '=' between it and the last '@', was part of
	 * the password, and the last '@' of the URI is the separator. (A
	 * password holding raw '@', '/', '?' and '=' in that order stays
	 * ambiguous with an option value holding '@'.)
	 */
	query = memchr(auth, '?', n);
	if (query)
		region = (size_t)(query - auth);
	at = last_of(auth, region, '@');
	last_at = last_of(auth, n, '@');
	if (query && last_at > query) {
		/* Options are key=value pairs: a '?' followed by no '=' before
		 * the last '@' is part of the password too. */
		if (!at || !memchr(at, '/', (size_t)(query - at)) ||
		    !memchr(query, '=', (size_t)(last_at - query)))
			at = last_at;
	}
	if (!at)
		return false;
	colon = memchr(auth, ':', (size_t)(at - auth));
	if (!colon || colon + 1 == at)
		return false;
	*pw_start = (size_t)(colon + 1 - auth);
	*pw_len = (size_t)(at - colon - 1);
	return true;
}

char *
redact_uri_text(const char *text)
{
	size_t len, out_len = 0, scheme_len, span, pw_start, pw_len;
	const char *p;
	char *out;

	if (!text)
		text = "";
	len = strlen(text);
	/* The result is never longer than the input plus "***" per URI, and a
	 * URI needs at least 10 bytes: len + len/10*3 + 4 is always enough. */
	out = malloc(len + len / 10 * 3 + 4);
	if (!out)
		return NULL;
	p = text;
	while (*p) {
		scheme_len = scheme_at(p);
		if (!scheme_len) {
			out[out_len++] = *p++;
			continue;
		}
		span = uri_span(p);
		if (find_password(p + scheme_len, span - scheme_len, &pw_start, &pw_len)) {
			memcpy(out + out_len, p, scheme_len + pw_start);
			out_len += scheme_len + pw_start;
			memcpy(out + out_len, "***", 3);
			out_len += 3;
			memcpy(out + out_len, p + scheme_len + pw_start + pw_len,
			       span - scheme_len - pw_start - pw_len);
			out_len += span - scheme_len - pw_start - pw_len;
		} else {
			memcpy(out + out_len, p, span);
			out_len += span;
		}
		p += span;
	}
	out[out_len] = '\0';
	return out;
}
