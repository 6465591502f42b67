/*
 * A few macros shared by the unit test programs. Each program holds named
 * cases; with no argument it runs them all, with names only those. A failed
 * check prints file, line and what was expected; the exit status is the
 * number of failed cases (capped at 100), 2 for an unknown case name.
 */
#ifndef CSM_UNIT_H
#define CSM_UNIT_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct unit_case {
	const char *name;
	void (*run)(void);
} unit_case_t;

static int unit_failed_checks;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			unit_failed_checks++;                                                      \
		}                                                                                  \
	} while (0)

#define CHECK_STR(got, want)                                                                       \
	do {                                                                                       \
		const char *got_ = (got), *want_ = (want);                                         \
		if (!got_ || strcmp(got_, want_) != 0) {                                           \
			fprintf(stderr, "%s:%d: %s\n  got:  %s\n  want: %s\n", __FILE__, __LINE__, \
				#got, got_ ? got_ : "(null)", want_);                              \
			unit_failed_checks++;                                                      \
		}                                                                                  \
	} while (0)

#define CHECK_CONTAINS(text, part)                                                                 \
	do {                                                                                       \
		const char *text_ = (text), *part_ = (part);                                       \
		if (!text_ || !strstr(text_, part_)) {                                             \
			fprintf(stderr, "%s:%d: %s does not contain '%s'\n  text: %s\n", __FILE__, \
				__LINE__, #text, part_, text_ ? text_ : "(null)");                 \
			unit_failed_checks++;                                                      \
		}                                                                                  \
	} while (0)

#define CHECK_LACKS(text, part)                                                                    \
	do {                                                                                       \
		const char *text_ = (text), *part_ = (part);                                       \
		if (text_ && strstr(text_, part_)) {                                               \
			fprintf(stderr, "%s:%d: %s must not contain '%s'\n  text: %s\n", __FILE__, \
				__LINE__, #text, part_, text_);                                    \
			unit_failed_checks++;                                                      \
		}                                                                                  \
	} while (0)

#define CHECK_INT(got, want)                                                                       \
	do {                                                                                       \
		long long got_ = (long long)(got), want_ = (long long)(want);                      \
		if (got_ != want_) {                                                               \
			fprintf(stderr, "%s:%d: %s is %lld, want %lld\n", __FILE__, __LINE__,      \
				#got, got_, want_);                                                \
			unit_failed_checks++;                                                      \
		}                                                                                  \
	} while (0)

/*
 * A fresh empty directory for one case, $BATS_TEST_TMPDIR (or /tmp)/
 * PREFIX-NAME-PID, emptied first when a run before left it. The path is in
 * a static buffer, valid until the next call.
 */
static inline const char *
unit_scratch_dir(const char *prefix, const char *name)
{
	static char scratch[512];
	const char *base = getenv("BATS_TEST_TMPDIR");
	char cmd[1100];

	snprintf(scratch, sizeof scratch, "%s/%s-%s-%d", base ? base : "/tmp", prefix, name,
		 (int)getpid());
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot clean %s\n", scratch);
	if (mkdir(scratch, 0755) != 0)
		fprintf(stderr, "cannot create %s: %s\n", scratch, strerror(errno));
	return scratch;
}

/* Runs the cases named in argv (all when none); see the header comment. */
static inline int
unit_main(const unit_case_t *cases, size_t n_cases, int argc, char **argv)
{
	int failed_cases = 0, i;
	size_t c;

	for (c = 0; c < n_cases; c++) {
		int wanted = argc < 2;

		for (i = 1; i < argc; i++)
			if (strcmp(argv[i], cases[c].name) == 0)
				wanted = 1;
		if (!wanted)
			continue;
		unit_failed_checks = 0;
		cases[c].run();
		if (unit_failed_checks) {
			fprintf(stderr, "FAIL %s (%d checks)\n", cases[c].name, unit_failed_checks);
			failed_cases++;
		} else {
			fprintf(stderr, "ok %s\n", cases[c].name);
		}
	}
	for (i = 1; i < argc; i++) {
		for (c = 0; c < n_cases; c++)
			if (strcmp(argv[i], cases[c].name) == 0)
				break;
		if (c == n_cases) {
			fprintf(stderr, "unknown case '%s'\n", argv[i]);
			return 2;
		}
	}
	return failed_cases > 100 ? 100 : failed_cases;
}

#define UNIT_MAIN(cases)                                                                           \
	int main(int argc, char **argv)                                                            \
	{                                                                                          \
		return unit_main(cases, sizeof cases / sizeof cases[0], argc, argv);               \
	}

#endif
