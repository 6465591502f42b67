/*
 * mongod-lite: a MongoDB-wire-compatible single-node replica set for tests.
 * Options, listening socket, one thread per connection, clean shutdown on
 * SIGTERM/SIGINT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmd_auth.h"
#include "dispatch.h"
#include "oplog.h"
#include "server.h"
#include "wire.h"

server_config_t server_config = {
	.bind_addr = "127.0.0.1",
	.replset = "rs0",
	.log_level = 0,
	.sync_policy = SYNC_BATCH,
	.oplog_max_entries = 1000000,
	.shards = 2,
	.version = "7.0.0",
	.version_array = {7, 0, 0},
};
char server_me[256];
volatile sig_atomic_t server_shutting_down;

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: mongod-lite [--port N] [--port-file FILE] [--bind ADDR] [--replset NAME]\n"
		"                   [--host-name HOST:PORT] [--log-level N] [--standalone]\n"
		"                   [--dbpath DIR] [--sync-policy always|batch|none]\n"
		"                   [--oplog-max-entries N]\n"
		"                   [--auth-user USER --auth-password-file FILE]\n"
		"                   [--router [--shards N]] [--server-version X.Y.Z]\n"
		"\n"
		"A MongoDB-wire-compatible test server: a one-node replica set primary\n"
		"(or a standalone) on a loopback port. --port 0 picks a free port and\n"
		"--port-file receives it once the server listens.\n"
		"With --auth-user, every command but the handshake needs SASL PLAIN\n"
		"authentication (authSource $external) as USER with the password\n"
		"held in FILE; without it, any PLAIN credentials are accepted.\n"
		"--router answers as a MongoDB 7.0 mongos in front of N shards (default 2)\n"
		"that share one store.\n"
		"--server-version reports X.Y.Z (default 7.0.0) in buildInfo and\n"
		"serverStatus; below 6.0 $changeStream refuses showExpandedEvents as\n"
		"MongoDB 5.0 does.\n");
}

/* Says what is wrong with the command line and how to use it, on stderr;
 * returns the usage exit code, 64. */
static int misuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
misuse(const char *fmt, ...)
{
	va_list ap;

	fputs("mongod-lite: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	return 64;
}

/* Parses a whole decimal number in [min, max]; false otherwise. */
static bool
parse_number(const char *s, long long min, long long max, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static void
on_signal(int sig)
{
	(void)sig;
	server_shutting_down = 1;
}

/* Writes the port to path through path.tmp + rename. */
static bool
write_port_file(const char *path, int port)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return false;
	fprintf(f, "%d\n", port);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		return false;
	}
	if (fclose(f) != 0)
		return false;
	return rename(tmp, path) == 0;
}

/*
 * Restarts the program once with glibc's malloc backing its heap with
 * transparent huge pages: first-touch page faults dominated the cost of
 * storing documents (inserts ran at 40k/s instead of 85k/s on a VM). Skipped
 * under a preloaded tool (valgrind) and when the tunable is already set.
 */
static void
reexec_with_huge_pages(char **argv)
{
	const char *tunables = getenv("GLIBC_TUNABLES");
	char value[1024];

	if (getenv("LD_PRELOAD") || getenv("MLITE_NO_HUGE_PAGES") ||
	    (tunables && strstr(tunables, "glibc.malloc.hugetlb")))
		return;
	snprintf(value, sizeof value, "%s%sglibc.malloc.hugetlb=1", tunables ? tunables : "",
		 tunables ? ":" : "");
	/* exec the real path so the process keeps its name (not "exe") */
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0 || (size_t)n >= sizeof self - 1)
		return;
	self[n] = '\0';
	if (setenv("GLIBC_TUNABLES", value, 1) != 0)
		return;
	execv(self, argv);
	/* exec failed: carry on with ordinary pages */
	unsetenv("GLIBC_TUNABLES");
}

/* "X.Y.Z" into server_config.version and version_array. */
static bool
parse_version(const char *s)
{
	int v[3], used = 0;

	if (strlen(s) >= sizeof server_config.version ||
	    sscanf(s, "%d.%d.%d%n", &v[0], &v[1], &v[2], &used) != 3 || s[used] || v[0] < 0 ||
	    v[1] < 0 || v[2] < 0)
		return false;
	memcpy(server_config.version_array, v, sizeof v);
	snprintf(server_config.version, sizeof server_config.version, "%s", s);
	return true;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"port", required_argument, NULL, 'p'},
		{"port-file", required_argument, NULL, 'f'},
		{"bind", required_argument, NULL, 'b'},
		{"replset", required_argument, NULL, 'r'},
		{"host-name", required_argument, NULL, 'H'},
		{"log-level", required_argument, NULL, 'l'},
		{"standalone", no_argument, NULL, 's'},
		{"dbpath", required_argument, NULL, 'd'},
		{"sync-policy", required_argument, NULL, 'y'},
		{"oplog-max-entries", required_argument, NULL, 'o'},
		{"auth-user", required_argument, NULL, 'u'},
		{"auth-password-file", required_argument, NULL, 'P'},
		{"router", no_argument, NULL, 'R'},
		{"shards", required_argument, NULL, 'S'},
		{"server-version", required_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int rc = 64, ch, listener = -1;
	long long n;
	bson_error_t error;
	struct addrinfo hints = {0}, *ai = NULL;
	const char *password_file = NULL;

	reexec_with_huge_pages(argv);
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			if (!parse_number(optarg, 0, 65535, &n))
				return misuse("invalid --port '%s'", optarg);
			server_config.port = (int)n;
			break;
		case 'f':
			server_config.port_file = optarg;
			break;
		case 'b':
			server_config.bind_addr = optarg;
			break;
		case 'r':
			server_config.replset = optarg;
			break;
		case 'H':
			server_config.host_name = optarg;
			break;
		case 'l':
			if (!parse_number(optarg, 0, 5, &n))
				return misuse("invalid --log-level '%s'", optarg);
			server_config.log_level = (int)n;
			break;
		case 's':
			server_config.standalone = true;
			break;
		case 'd':
			server_config.dbpath = optarg;
			break;
		case 'y':
			if (strcmp(optarg, "always") == 0)
				server_config.sync_policy = SYNC_ALWAYS;
			else if (strcmp(optarg, "batch") == 0)
				server_config.sync_policy = SYNC_BATCH;
			else if (strcmp(optarg, "none") == 0)
				server_config.sync_policy = SYNC_NONE;
			else
				return misuse("invalid --sync-policy '%s'", optarg);
			break;
		case 'o':
			if (!parse_number(optarg, 1, INT64_MAX, &n))
				return misuse("invalid --oplog-max-entries '%s'", optarg);
			server_config.oplog_max_entries = n;
			break;
		case 'u':
			if (!optarg[0])
				return misuse("empty --auth-user");
			server_config.auth_user = optarg;
			break;
		case 'P':
			password_file = optarg;
			break;
		case 'R':
			server_config.router = true;
			break;
		case 'S':
			if (!parse_number(optarg, 1, 64, &n))
				return misuse("invalid --shards '%s'", optarg);
			server_config.shards = (int)n;
			break;
		case 'V':
			if (!parse_version(optarg))
				return misuse("invalid --server-version '%s'", optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 64;
		}
	}
	if (optind != argc)
		return misuse("unexpected argument '%s'", argv[optind]);
	if (server_config.router && server_config.standalone)
		return misuse("--router and --standalone exclude each other");
	if (!server_config.auth_user != !password_file)
		return misuse("--auth-user and --auth-password-file go together");
	if (password_file) {
		char msg[512];
		if (!auth_load_password(password_file, msg, sizeof msg)) {
			fprintf(stderr, "mongod-lite: %s\n", msg);
			return 66;
		}
	}

	/* Up to 4 MiB, command and reply buffers are kept per connection (see
	 * wire.h); bigger ones are mmap'ed so that they never leave holes in the
	 * heap the documents live in. Freed heap memory is kept, not trimmed. */
	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
	/* Most commands run one at a time under server_lock, a few side by
	 * side (lock.h): one arena that grows in large steps beats per-thread
	 * arenas growing a few pages at a time. */
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_TOP_PAD, 64 * 1024 * 1024);

	struct sigaction sa = {0};
	sa.sa_handler = on_signal; /* no SA_RESTART: accept() returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	char portstr[16];
	snprintf(portstr, sizeof portstr, "%d", server_config.port);
	int gai = getaddrinfo(server_config.bind_addr, portstr, &hints, &ai);
	if (gai != 0) {
		fprintf(stderr, "mongod-lite: cannot resolve '%s': %s\n", server_config.bind_addr,
			gai_strerror(gai));
		goto cleanup;
	}
	listener = socket(ai->ai_family, SOCK_STREAM, 0);
	int one = 1;
	if (listener < 0 || setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(listener, ai->ai_addr, ai->ai_addrlen) != 0 || listen(listener, 128) != 0) {
		fprintf(stderr, "mongod-lite: cannot listen on %s:%d: %s\n",
			server_config.bind_addr, server_config.port, strerror(errno));
		rc = 69;
		goto cleanup;
	}
	struct sockaddr_storage bound;
	socklen_t blen = sizeof bound;
	getsockname(listener, (struct sockaddr *)&bound, &blen);
	int port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						     : ((struct sockaddr_in *)&bound)->sin_port);
	server_config.port = port;
	if (server_config.host_name)
		snprintf(server_me, sizeof server_me, "%s", server_config.host_name);
	else if (strchr(server_config.bind_addr, ':'))
		snprintf(server_me, sizeof server_me, "[%s]:%d", server_config.bind_addr, port);
	else
		snprintf(server_me, sizeof server_me, "%s:%d", server_config.bind_addr, port);

	server_lock_take(LOCK_EXCLUSIVE);
	bool inited = oplog_init(&error);
	server_unlock();
	if (!inited) {
		fprintf(stderr, "mongod-lite: cannot load the journal: %s\n", error.message);
		rc = 74;
		goto cleanup;
	}
	if (server_config.port_file && !write_port_file(server_config.port_file, port)) {
		fprintf(stderr, "mongod-lite: cannot write port file '%s': %s\n",
			server_config.port_file, strerror(errno));
		rc = 74;
		goto cleanup;
	}
	server_log(0, "listening on %s (%s)", server_me,
		   server_config.router       ? "router"
		   : server_config.standalone ? "standalone"
					      : server_config.replset);

	static int64_t next_conn_id;
	while (!server_shutting_down) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof peer;
		int fd = accept(listener, (struct sockaddr *)&peer, &plen);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE) {
				usleep(10000);
				continue;
			}
			server_log(0, "accept failed: %s", strerror(errno));
			break;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		conn_t *c = calloc(1, sizeof *c);
		c->fd = fd;
		c->id = ++next_conn_id;
		char host[64] = "?";
		if (peer.ss_family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&peer;
			inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
			snprintf(c->peer, sizeof c->peer, "%s:%d", host, ntohs(sin->sin_port));
		} else if (peer.ss_family == AF_INET6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&peer;
			inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
			snprintf(c->peer, sizeof c->peer, "[%s]:%d", host, ntohs(sin6->sin6_port));
		}
		__atomic_fetch_add(&mlite_stats.connections_current, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&mlite_stats.connections_total, 1, __ATOMIC_RELAXED);
		pthread_t th;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&th, &attr, wire_serve, c) != 0) {
			server_log(0, "cannot start a connection thread: %s", strerror(errno));
			close(fd);
			free(c);
			__atomic_fetch_sub(&mlite_stats.connections_current, 1, __ATOMIC_RELAXED);
		}
		pthread_attr_destroy(&attr);
	}
	server_log(0, "shutting down");
	rc = 0;
cleanup:
	server_shutting_down = 1;
	server_lock_take(LOCK_EXCLUSIVE);
	server_oplog_broadcast();
	if (listener >= 0)
		close(listener);
	oplog_shutdown();
	/* server_lock stays held: no connection thread may write after the
	 * oplog is shut down; exit() ends them. */
	if (ai)
		freeaddrinfo(ai);
	return rc;
}
