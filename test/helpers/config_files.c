/* Temp files and nlb configuration files (see config_files.h). */
#include "config_files.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry.h"

static void file_reclaim(void *path)
{
	t_file_remove(path);
}

static char *write_temp(const char *prefix, const char *suffix,
			const char *text, size_t len)
{
	char *path = NULL;
	if (asprintf(&path, "/tmp/%sXXXXXX%s", prefix, suffix) < 0)
		return NULL;
	int fd = mkostemps(path, (int)strlen(suffix), O_CLOEXEC);
	if (fd < 0) {
		free(path);
		return NULL;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n <= 0) {
			close(fd);
			unlink(path);
			free(path);
			return NULL;
		}
		off += (size_t)n;
	}
	close(fd);
	t_register(T_KIND_FILE, path, file_reclaim);
	return path;
}


/* Whether text sets key at the start of a line: a setting of nlb's. */
static bool sets_key(const char *text, const char *key)
{
	size_t n = strlen(key);
	for (const char *l = text; l; l = strchr(l, '\n')) {
		l += *l == '\n';
		l += strspn(l, " \t");
		if (strncmp(l, key, n) == 0 && strchr(" \t=:", l[n]))
			return true;
	}
	return false;
}

/* `make test SECCOMP=1` (NLB_TEST_SECCOMP=1): every configuration a test
 * writes asks for the seccomp filter, unless it says seccomp itself.  On
 * a line after the text, so no line number of the test's moves.  Only
 * nlb's configurations: t_write_config_exact writes other files too (a
 * metrics page for promtool). */
static char *with_seccomp(char *text)
{
	const char *env = getenv("NLB_TEST_SECCOMP");
	if (!text || !env || strcmp(env, "1") != 0 || strstr(text, "seccomp"))
		return text;
	if (!sets_key(text, "listeners") && !sets_key(text, "target_groups") &&
	    !sets_key(text, "gateways") && !sets_key(text, "allow_root") &&
	    !sets_key(text, "user") && !sets_key(text, "workers"))
		return text;
	char *t = NULL;
	int n = asprintf(&t, "%s\nseccomp = true;\n", text);
	free(text);
	return n < 0 ? NULL : t;
}

char *t_config_text(const char *text)
{
	char *t = NULL;
	/* On the first line, not a line of its own, so the FILE:LINE of an
	 * error stays where the test wrote it. */
	if (strstr(text, "allow_root") || sets_key(text, "user"))
		return with_seccomp(strdup(text));
	return with_seccomp(asprintf(&t, "allow_root = true; %s", text) < 0 ? NULL : t);
}

/* The formatted text (through t_config_text unless exact) in a temp file. */
static char *write_config_v(bool exact, const char *fmt, va_list ap)
{
	char *text = NULL;
	if (vasprintf(&text, fmt, ap) < 0)
		return NULL;
	if (!exact) {
		char *t = t_config_text(text);
		free(text);
		if (!(text = t))
			return NULL;
	} else if (!(text = with_seccomp(text))) {
		return NULL;
	}
	char *path = write_temp("nlb-test-", ".conf", text, strlen(text));
	free(text);
	return path;
}

char *t_write_config(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *path = write_config_v(false, fmt, ap);
	va_end(ap);
	return path;
}

char *t_write_config_exact(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *path = write_config_v(true, fmt, ap);
	va_end(ap);
	return path;
}

void t_file_remove(char *path)
{
	if (!path)
		return;
	t_unregister(T_KIND_FILE, path);
	unlink(path);
	free(path);
}

char *t_file_read(const char *path, size_t *lenp)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			break;
		if (len + 1 >= cap) {
			char *p = realloc(buf, cap * 2);
			if (!p) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = p;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (buf) {
		buf[len] = '\0';
		if (lenp)
			*lenp = len;
	}
	return buf;
}

void t_proxy_conf_defaults(struct t_proxy_conf *c)
{
	memset(c, 0, sizeof *c);
	c->workers = 1;
	c->log_level = "info";
	c->shutdown_timeout_ms = 10000;
	c->forwarding = "auto";
	c->idle_timeout_ms = 350000;
	c->max_connections = 0;
	c->connect_timeout_ms = 2000;
	c->connect_retries = 2;
	c->algorithm = "round_robin";
	for (size_t i = 0; i < T_MAX_TARGETS; i++)
		c->weights[i] = 1;
}

char *t_write_proxy_config(const struct t_proxy_conf *c)
{
	char targets[T_MAX_TARGETS * 64] = "";
	size_t off = 0;
	for (size_t i = 0; i < c->n_targets && i < T_MAX_TARGETS; i++)
		off += (size_t)snprintf(targets + off, sizeof targets - off,
			"%s{ address = \"127.0.0.1:%u\"; weight = %u; }",
			i ? ", " : "", c->targets[i], c->weights[i]);
	char hash_fields[64] = "";
	if (c->hash_fields)
		snprintf(hash_fields, sizeof hash_fields, " hash_fields = \"%s\";",
			 c->hash_fields);
	char admin[256] = "";
	if (c->admin_socket)
		snprintf(admin, sizeof admin, "admin = { socket = \"%s\"; };\n", c->admin_socket);
	return t_write_config(
		"%s%s"
		"workers = %u;\n"
		"log_level = \"%s\";\n"
		"shutdown_timeout_ms = %" PRIu64 ";\n"
		"forwarding = \"%s\";\n"
		"listeners = (\n"
		"  { name = \"web\"; protocol = \"%s\"; address = \"127.0.0.1:%u\";"
		" %s idle_timeout_ms = %" PRIu64 ";"
		" max_connections = %u;%s%s }\n"
		");\n"
		"target_groups = (\n"
		"  { name = \"web\"; algorithm = \"%s\";%s"
		" connect_timeout_ms = %u; connect_retries = %u;%s%s\n"
		"    targets = ( %s ); }\n"
		");\n",
		c->top_extra ? c->top_extra : "", admin, c->workers, c->log_level, c->shutdown_timeout_ms, c->forwarding,
		c->protocol ? c->protocol : "tcp", c->listen_port,
		c->protocol && strncmp(c->protocol, "http", 4) == 0 ?
			"default_action = { forward = \"web\"; };" : "target_group = \"web\";",
		c->idle_timeout_ms, c->max_connections,
		c->listener_extra ? " " : "", c->listener_extra ? c->listener_extra : "",
		c->algorithm ? c->algorithm : "round_robin", hash_fields,
		c->connect_timeout_ms, c->connect_retries,
		c->group_extra ? " " : "", c->group_extra ? c->group_extra : "",
		targets);
}
