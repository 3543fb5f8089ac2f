/* nlbctl: sends one command to nlb's admin socket and prints the answer.
 * Owns only the client side of the line protocol (nlb/control/admin.c): one
 * line out, data lines to stdout, then "ok" (exit 0) or "error: ..."
 * (message to stderr, exit 1); usage and connection problems exit 2. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/nlb/admin.sock"
/* nlb's limit on a command line (NLB_ADMIN_LINE_MAX), checked here too
 * so a long command is a usage error rather than a closed connection. */
#define LINE_MAX_BYTES 4096
/* A reload of a large file takes well under a second; a minute of
 * silence means nlb is stuck, and a script should not hang with it. */
#define REPLY_TIMEOUT_S 60

enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
	fprintf(out,
		"usage: nlbctl [-s SOCKET] COMMAND [ARGS...]\n"
		"  -s SOCKET  nlb's admin socket (default $NLB_ADMIN_SOCKET, else "
		DEFAULT_SOCKET ")\n"
		"commands (nlbctl help asks nlb for its list):\n"
		"  show targets [GROUP] | show listeners | show stats | show certificates\n"
		"  show rules [LISTENER] | show announce\n"
		"  add target GROUP ADDR [weight N] | set weight GROUP ADDR N\n"
		"  drain target GROUP ADDR | remove target GROUP ADDR | reload\n"
		"exit: 0 ok, 1 nlb answered with an error, 2 usage or no answer\n");
}

/* The arguments joined by single spaces, with a '\n': 0 or -errno. */
static int join_args(char **argv, int argc, char *line, size_t cap)
{
	size_t len = 0;
	for (int i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]);
		if (strchr(argv[i], '\n') || strchr(argv[i], '\r'))
			return -EINVAL;
		if (len + n + 2 > cap)
			return -E2BIG;
		if (i)
			line[len++] = ' ';
		memcpy(line + len, argv[i], n);
		len += n;
	}
	line[len++] = '\n';
	line[len] = '\0';
	return 0;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Reads lines until the final one: data lines go to stdout; returns the
 * exit code. */
static int read_reply(FILE *in, const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int code = -1;
	while (code < 0 && (n = getline(&line, &cap, in)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (strcmp(line, "ok") == 0) {
			code = EXIT_OK;
		} else if (strncmp(line, "error: ", 7) == 0) {
			fprintf(stderr, "nlbctl: %s\n", line + 7);
			code = EXIT_ERROR;
		} else {
			puts(line);
		}
	}
	if (code < 0) {
		if (ferror(in))
			fprintf(stderr, "nlbctl: %s: reading the reply: %s\n", path,
				errno == EAGAIN ? "no reply in time" : strerror(errno));
		else
			fprintf(stderr, "nlbctl: %s: connection closed before the reply ended\n",
				path);
		code = EXIT_USAGE;
	}
	free(line);
	return code;
}

int main(int argc, char **argv)
{
	const char *path = getenv("NLB_ADMIN_SOCKET");
	if (!path || !*path)
		path = DEFAULT_SOCKET;
	int opt;
	while ((opt = getopt(argc, argv, "+s:h")) != -1) {
		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	char line[LINE_MAX_BYTES + 2];
	int ret = join_args(argv + optind, argc - optind, line, sizeof(line));
	if (ret < 0) {
		fprintf(stderr, "nlbctl: %s\n", ret == -E2BIG ? "command longer than 4096 bytes"
			: "a command is one line: no line breaks in arguments");
		return EXIT_USAGE;
	}
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "nlbctl: %s: socket path too long\n", path);
		return EXIT_USAGE;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "nlbctl: cannot connect to %s: %s\n", path, strerror(errno));
		return EXIT_USAGE;
	}
	struct timeval tv = { .tv_sec = REPLY_TIMEOUT_S };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* One command, then our side is done: nlb answers and closes. */
	if ((ret = send_all(fd, line, strlen(line))) < 0 || shutdown(fd, SHUT_WR) < 0) {
		fprintf(stderr, "nlbctl: %s: sending the command: %s\n", path,
			strerror(ret < 0 ? -ret : errno));
		close(fd);
		return EXIT_USAGE;
	}
	FILE *in = fdopen(fd, "r");
	if (!in) {
		fprintf(stderr, "nlbctl: %s\n", strerror(errno));
		close(fd);
		return EXIT_USAGE;
	}
	int code = read_reply(in, path);
	fclose(in);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "nlbctl: writing the output: %s\n", strerror(errno));
		return EXIT_USAGE;
	}
	return code;
}
