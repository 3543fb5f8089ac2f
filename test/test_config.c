/* Tests for lib/config.c: each kind of bad input is refused with one
 * "FILE:LINE: message" line; defaults fill absent keys; a full file reads
 * back field by field; the shipped etc/nlb.conf loads. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "cpu_list.h"
#include "tuple_hash.h"
#include "helpers.h"

struct loaded {
	int r;
	struct nlb_config *cfg;
	char path[64];
	char err[512];
};

/* Writes text to a fresh file under /tmp, loads it and removes the file
 * before any assertion can abort the test and leave it behind. */
static void load_text(const char *text, struct loaded *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->path, sizeof(out->path), "/tmp/nlb-test-config-XXXXXX");
	int fd = mkstemp(out->path);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	size_t len = strlen(text), done = 0;
	while (done < len) {
		ssize_t w = write(fd, text + done, len - done);
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	close(fd);
	out->r = nlb_config_load(out->path, &out->cfg, out->err, sizeof(out->err));
	unlink(out->path);
	cr_assert_eq(done, len, "short write to %s", out->path);
}

static struct nlb_config *load_ok(const char *text)
{
	struct loaded l;
	load_text(text, &l);
	cr_assert_eq(l.r, 0, "load failed (%d): %s\n--- file ---\n%s", l.r, l.err, text);
	cr_assert_not_null(l.cfg);
	return l.cfg;
}

struct err_case {
	const char *what;
	const char *text;
	int line;
	const char *msg;	/* must appear after "FILE:LINE: " */
	int exact;		/* msg is the whole rest of the line */
};

/* Checks one refused file: -EINVAL, no config, and exactly one line that
 * starts with this file's name and the expected line number. */
static void expect_error(const struct err_case *c)
{
	struct loaded l;
	load_text(c->text, &l);

	cr_expect_eq(l.r, -EINVAL, "%s: returned %d (%s)", c->what, l.r, l.err);
	cr_expect_null(l.cfg, "%s: config returned on error", c->what);
	nlb_config_free(l.cfg);

	char prefix[96];
	snprintf(prefix, sizeof(prefix), "%s:%d: ", l.path, c->line);
	cr_expect_eq(strncmp(l.err, prefix, strlen(prefix)), 0,
		     "%s: error \"%s\" does not start with \"%s\"", c->what, l.err, prefix);
	cr_expect_null(strchr(l.err, '\n'), "%s: error spans lines: \"%s\"", c->what, l.err);
	const char *rest = l.err + strlen(prefix);
	if (c->exact)
		cr_expect_str_eq(rest, c->msg, "%s: error \"%s\"", c->what, l.err);
	else
		cr_expect_not_null(strstr(l.err, c->msg),
				   "%s: error \"%s\" lacks \"%s\"", c->what, l.err, c->msg);
}

static void expect_errors(const struct err_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		expect_error(&cases[i]);
}

#define RUN(cases) expect_errors(cases, sizeof(cases) / sizeof(cases[0]))

/* One valid group on one line, for cases about listeners. */
#define GROUP_WEB \
	"target_groups = ( { name = \"web\"; targets = ( { address = \"127.0.0.1:9001\"; } ); } );\n"

/* ---- one test per kind of error ----------------------------------------- */

T_UNIT(config, syntax_error)
{
	static const struct err_case cases[] = {
		{ "missing value", "workers = 1;\nlog_level = ;\n", 2, "syntax error", 1 },
		{ "unclosed group", "workers = 1;\n\nlisteners = ( { name = \"a\"; );\n", 3,
		  "syntax error", 1 },
		{ "garbage", "workers = 1;\n!!\n", 2, "syntax error", 1 },
		{ "duplicate key", "workers = 1;\nworkers = 2;\n", 2, "duplicate setting name", 0 },
	};
	RUN(cases);
}

T_UNIT(config, unknown_key)
{
	static const struct err_case cases[] = {
		{ "top level", "workers = 1;\nworker = 2;\n", 2,
		  "unknown key \"worker\" at top level", 1 },
		{ "listener",
		  GROUP_WEB
		  "listeners = (\n"
		  "  { name = \"web\"; address = \"127.0.0.1:8080\"; target_group = \"web\";\n"
		  "    idle_timeout = 5; }\n"
		  ");\n", 4, "unknown key \"idle_timeout\" in listener \"web\"", 1 },
		{ "target group",
		  "target_groups = (\n"
		  "  { name = \"api\";\n"
		  "    algo = \"round_robin\"; }\n"
		  ");\n", 3, "unknown key \"algo\" in target group \"api\"", 1 },
		{ "target",
		  "target_groups = (\n"
		  "  { name = \"api\"; targets = (\n"
		  "    { address = \"127.0.0.1:1\";\n"
		  "      wieght = 2; } ); }\n"
		  ");\n", 4, "unknown key \"wieght\" in a target of target group \"api\"", 1 },
	};
	RUN(cases);
}

T_UNIT(config, wrong_type)
{
	static const struct err_case cases[] = {
		{ "string for int", "log_level = \"info\";\nworkers = \"4\";\n", 2,
		  "\"workers\" must be an integer", 1 },
		{ "float for int", "workers = 1.5;\n", 1, "\"workers\" must be an integer", 1 },
		{ "bool for int", "\nshutdown_timeout_ms = true;\n", 2,
		  "\"shutdown_timeout_ms\" must be an integer", 1 },
		{ "int for enum", "log_level = 3;\n", 1, "\"log_level\" must be a string", 1 },
		{ "group for list", "listeners = { };\n", 1, "\"listeners\" must be a list", 0 },
		{ "array for list", "\ntarget_groups = [ ];\n", 2, "\"target_groups\" must be a list", 0 },
		/* libconfig dates a scalar list entry by the token after
		 * it, so the comma keeps it on its own line here. */
		{ "string in list",
		  "target_groups = (\n  { name = \"a\"; },\n  \"web\",\n  { name = \"b\"; }\n);\n", 3,
		  "each entry of \"target_groups\" must be a target group", 0 },
		{ "int for name",
		  "target_groups = (\n  { name = 7; }\n);\n", 2,
		  "target group: \"name\" must be a string", 1 },
		{ "int for address",
		  GROUP_WEB
		  "listeners = ( { name = \"web\"; target_group = \"web\";\n"
		  "  address = 8080; } );\n", 3,
		  "listener \"web\": \"address\" must be a string", 1 },
		{ "string for weight",
		  "target_groups = ( { name = \"g\"; targets = (\n"
		  "  { address = \"127.0.0.1:1\"; weight = \"1\"; } ); } );\n", 2,
		  "target group \"g\": \"weight\" must be an integer", 1 },
		{ "list for targets",
		  "target_groups = ( { name = \"g\";\n  targets = { }; } );\n", 2,
		  "\"targets\" must be a list", 0 },
	};
	RUN(cases);
}

T_UNIT(config, out_of_range)
{
	static const struct err_case cases[] = {
		{ "negative timeout", "workers = 1;\nlog_level = \"info\";\nforwarding = \"auto\";\n"
		  "shutdown_timeout_ms = -5;\n", 4,
		  "\"shutdown_timeout_ms\" must be between 0 and 3600000 (got -5)", 1 },
		{ "timeout above max", "shutdown_timeout_ms = 3600001;\n", 1,
		  "\"shutdown_timeout_ms\" must be between 0 and 3600000 (got 3600001)", 1 },
		{ "workers above max", "workers = 1025;\n", 1,
		  "\"workers\" must be between 0 and 1024 (got 1025)", 1 },
		{ "flow table too small", "workers = 1;\nflow_table_size = 100;\n", 2,
		  "\"flow_table_size\" must be between 1024 and 16777216 (got 100)", 1 },
		{ "health proxy header without the group's",
		  "target_groups = ( { name = \"g\";\n"
		  "  health_check = {\n    proxy_protocol = true; };\n"
		  "  targets = ( { address = \"127.0.0.1:9001\"; } ); } );\n", 3,
		  "target group \"g\": health_check: \"proxy_protocol\" needs the group's "
		  "proxy_protocol (\"v1\" or \"v2\") to say which header", 1 },
		{ "proxy v1 over udp",
		  "target_groups = ( { name = \"g\"; proxy_protocol = \"v1\";\n"
		  "  targets = ( { address = \"127.0.0.1:9001\"; } ); } );\n"
		  "listeners = ( { name = \"u\"; protocol = \"udp\"; address = \"127.0.0.1:53\";\n"
		  "  target_group = \"g\"; } );\n", 4,
		  "listener \"u\": target group \"g\" sends PROXY protocol v1, which cannot carry "
		  "UDP; use \"v2\"", 1 },
		{ "bad allow prefix",
		  "target_groups = ( { name = \"g\"; targets = ( { address = \"127.0.0.1:9001\"; } ); } );\n"
		  "listeners = ( { name = \"w\"; address = \"127.0.0.1:80\"; target_group = \"g\";\n"
		  "  allow = [ \"10.0.0.0/8\",\n \"10.0.0.1/8\" ]; } );\n", 4,
		  "listener \"w\": \"allow\": bad prefix \"10.0.0.1/8\" (expected a.b.c.d/len or "
		  "v6/len with no bits set past len)", 1 },
		{ "admin mode not octal", "admin = { socket = \"/tmp/a.sock\";\n  mode = 0680; };\n", 2,
		  "admin: \"mode\" is octal, as in chmod: 0600, 0660 (got 680)", 1 },
		{ "admin socket relative", "admin = {\n  socket = \"a.sock\"; };\n", 2,
		  "admin: \"socket\" must be an absolute path", 0 },
		{ "stats without listen", "workers = 1;\nstats = { };\n", 2,
		  "stats is missing \"listen\"", 1 },
		{ "udp datagram too small", "udp_max_datagram = 100;\n", 1,
		  "\"udp_max_datagram\" must be between 512 and 65535 (got 100)", 1 },
		{ "idle timeout 0",
		  GROUP_WEB
		  "listeners = ( { name = \"web\"; address = \"127.0.0.1:80\"; target_group = \"web\";\n"
		  "  idle_timeout_ms = 0; } );\n", 3,
		  "listener \"web\": \"idle_timeout_ms\" must be between 1 and 86400000 (got 0)", 1 },
		{ "idle timeout as int64",
		  GROUP_WEB
		  "listeners = ( { name = \"web\"; address = \"127.0.0.1:80\"; target_group = \"web\";\n"
		  "  idle_timeout_ms = 86400001L; } );\n", 3,
		  "(got 86400001)", 0 },
		{ "max connections",
		  GROUP_WEB
		  "listeners = ( { name = \"web\"; address = \"127.0.0.1:80\"; target_group = \"web\";\n"
		  "  max_connections = 10000001; } );\n", 3,
		  "\"max_connections\" must be between 0 and 10000000 (got 10000001)", 0 },
		{ "connect timeout 0", "target_groups = ( { name = \"g\";\n connect_timeout_ms = 0; } );\n", 2,
		  "target group \"g\": \"connect_timeout_ms\" must be between 1 and 600000 (got 0)", 1 },
		{ "connect timeout high", "target_groups = ( { name = \"g\";\n connect_timeout_ms = 600001; } );\n", 2,
		  "\"connect_timeout_ms\" must be between 1 and 600000", 0 },
		{ "retries", "target_groups = ( { name = \"g\";\n connect_retries = 17; } );\n", 2,
		  "\"connect_retries\" must be between 0 and 16 (got 17)", 0 },
		{ "weight high", "target_groups = ( { name = \"g\"; targets = (\n"
		  "  { address = \"127.0.0.1:1\";\n    weight = 1001; } ); } );\n", 3,
		  "\"weight\" must be between 0 and 1000 (got 1001)", 0 },
		{ "weight negative", "target_groups = ( { name = \"g\"; targets = (\n"
		  "  { address = \"127.0.0.1:1\"; weight = -1; } ); } );\n", 2,
		  "\"weight\" must be between 0 and 1000 (got -1)", 0 },
		/* libconfig 1.5 would keep only the low 32 bits of these. */
		{ "too big for 32 bits", "workers = 1;\n\nshutdown_timeout_ms = 4294967297;\n", 3,
		  "integer 4294967297 does not fit in 32 bits", 0 },
		{ "wraps into range", "target_groups = ( { name = \"g\";\n connect_retries = 4294967298; } );\n", 2,
		  "does not fit in 32 bits", 0 },
	};
	RUN(cases);
}

T_UNIT(config, bad_enum)
{
	static const struct err_case cases[] = {
		{ "forwarding", "workers = 1;\nlog_level = \"info\";\nshutdown_timeout_ms = 1;\n"
		  "\nforwarding = \"zero\";\n", 5,
		  "\"forwarding\" must be one of auto, splice, copy (got \"zero\")", 1 },
		{ "log level", "log_level = \"verbose\";\n", 1,
		  "\"log_level\" must be one of error, warn, info, debug (got \"verbose\")", 1 },
		{ "case matters", "log_level = \"INFO\";\n", 1, "(got \"INFO\")", 0 },
		/* expect_error also checks the message stays on one line. */
		{ "newline in value", "forwarding = \"a\\nb\";\n", 1, "(got \"a b\")", 0 },
		{ "protocol",
		  GROUP_WEB
		  "listeners = ( { name = \"web\"; address = \"127.0.0.1:80\"; target_group = \"web\";\n"
		  "  protocol = \"sctp\"; } );\n", 3,
		  "listener \"web\": \"protocol\" must be one of tcp, udp, tcp_udp, tls, http, https (got \"sctp\")", 1 },
		{ "algorithm", "target_groups = ( { name = \"g\";\n algorithm = \"fastest\"; } );\n", 2,
		  "target group \"g\": \"algorithm\" must be one of maglev, round_robin, least_conn, "
		  "random2 (got \"fastest\")", 1 },
		{ "hash_fields", "target_groups = ( { name = \"g\";\n hash_fields = \"4tuple\"; } );\n", 2,
		  "target group \"g\": \"hash_fields\" must be one of 5tuple, source_ip (got \"4tuple\")", 1 },
	};
	RUN(cases);
}

T_UNIT(config, bad_address)
{
	static const struct err_case cases[] = {
		{ "missing port",
		  GROUP_WEB
		  "listeners = (\n"
		  "  { name = \"web\"; target_group = \"web\";\n"
		  "    address = \"127.0.0.1\"; }\n"
		  ");\n", 4,
		  "listener \"web\": bad address \"127.0.0.1\" (expected host:port or [v6]:port)", 1 },
		{ "hostname",
		  GROUP_WEB
		  "listeners = ( { name = \"web\"; target_group = \"web\"; address = \"localhost:80\"; } );\n", 2,
		  "bad address \"localhost:80\"", 0 },
		{ "listener port 0",
		  GROUP_WEB
		  "listeners = ( { name = \"web\"; target_group = \"web\"; address = \"[::]:0\"; } );\n", 2,
		  "bad address \"[::]:0\"", 0 },
		{ "target port 0",
		  "target_groups = ( { name = \"g\"; targets = (\n"
		  "  { address = \"127.0.0.1:9001\"; },\n"
		  "  { address = \"127.0.0.1:0\"; } ); } );\n", 3,
		  "target group \"g\": bad address \"127.0.0.1:0\" (expected host:port or [v6]:port)", 1 },
		{ "target port too large",
		  "target_groups = ( { name = \"g\"; targets = (\n"
		  "  { weight = 2;\n    address = \"[::1]:70000\"; } ); } );\n", 3,
		  "bad address \"[::1]:70000\"", 0 },
	};
	RUN(cases);
}

T_UNIT(config, unknown_target_group)
{
	static const struct err_case cases[] = {
		{ "no such group",
		  GROUP_WEB
		  "listeners = (\n"
		  "  { name = \"web\"; address = \"127.0.0.1:8080\";\n"
		  "    target_group = \"api\"; }\n"
		  ");\n", 4, "listener \"web\": unknown target_group \"api\"", 1 },
		{ "no groups at all",
		  "listeners = ( { name = \"web\"; address = \"127.0.0.1:8080\"; target_group = \"web\"; } );\n",
		  1, "unknown target_group \"web\"", 0 },
	};
	RUN(cases);
}

T_UNIT(config, duplicate_listener_name)
{
	static const struct err_case cases[] = {
		{ "same name",
		  GROUP_WEB
		  "listeners = (\n"
		  "  { name = \"web\"; address = \"127.0.0.1:8080\"; target_group = \"web\"; },\n"
		  "  { address = \"127.0.0.1:8081\"; target_group = \"web\";\n"
		  "    name = \"web\"; }\n"
		  ");\n", 5, "duplicate listener name \"web\" (first at line 3)", 1 },
	};
	RUN(cases);
}

T_UNIT(config, duplicate_group_name)
{
	static const struct err_case cases[] = {
		{ "same name",
		  "target_groups = (\n"
		  "  { name = \"web\"; },\n"
		  "  { name = \"api\"; },\n"
		  "  { name = \"web\"; }\n"
		  ");\n", 4, "duplicate target group name \"web\" (first at line 2)", 1 },
	};
	RUN(cases);
}

T_UNIT(config, duplicate_listener_address)
{
	static const struct err_case cases[] = {
		{ "same text",
		  GROUP_WEB
		  "listeners = (\n"
		  "  { name = \"a\"; address = \"127.0.0.1:8080\"; target_group = \"web\"; },\n"
		  "  { name = \"b\"; target_group = \"web\";\n"
		  "    address = \"127.0.0.1:8080\"; }\n"
		  ");\n", 5,
		  "listener \"b\": address \"127.0.0.1:8080\" is already used by listener \"a\"", 0 },
		/* Compared as addresses, not as text. */
		{ "same v6 address written differently",
		  GROUP_WEB
		  "listeners = (\n"
		  "  { name = \"a\"; address = \"[::1]:443\"; target_group = \"web\"; },\n"
		  "  { name = \"b\"; address = \"[0:0::1]:0443\"; target_group = \"web\"; }\n"
		  ");\n", 4, "is already used by listener \"a\"", 0 },
	};
	RUN(cases);
}

T_UNIT(config, duplicate_target_address)
{
	static const struct err_case cases[] = {
		{ "same target twice",
		  "target_groups = ( { name = \"web\"; targets = (\n"
		  "  { address = \"127.0.0.1:9001\"; },\n"
		  "  { address = \"127.0.0.1:9002\"; },\n"
		  "  { weight = 3;\n"
		  "    address = \"127.0.0.1:9001\"; } ); } );\n", 5,
		  "target group \"web\": duplicate target \"127.0.0.1:9001\" (first at line 2)", 1 },
	};
	RUN(cases);
}

T_UNIT(config, missing_required_key)
{
	static const struct err_case cases[] = {
		{ "listener address",
		  GROUP_WEB
		  "listeners = (\n"
		  "  { name = \"web\";\n"
		  "    target_group = \"web\"; }\n"
		  ");\n", 3, "listener is missing \"address\"", 1 },
		{ "listener name",
		  GROUP_WEB
		  "listeners = (\n"
		  "\n"
		  "  { address = \"127.0.0.1:80\"; target_group = \"web\"; }\n"
		  ");\n", 4, "listener is missing \"name\"", 1 },
		{ "listener target_group",
		  "listeners = (\n"
		  "  { name = \"web\"; address = \"127.0.0.1:80\"; }\n"
		  ");\n", 2, "listener \"web\" is missing \"target_group\"", 1 },
		{ "group name",
		  "target_groups = (\n"
		  "  { algorithm = \"round_robin\"; }\n"
		  ");\n", 2, "target group is missing \"name\"", 1 },
		{ "target address",
		  "target_groups = ( { name = \"g\"; targets = (\n"
		  "  { address = \"127.0.0.1:1\"; },\n"
		  "  { weight = 1; } ); } );\n", 3,
		  "a target of target group \"g\" is missing \"address\"", 1 },
		{ "empty name", "target_groups = (\n  { name = \"\"; }\n);\n", 2,
		  "\"name\" must not be empty", 0 },
		{ "group without user", "workers = 1;\ngroup = \"nogroup\";\n", 2,
		  "\"group\" needs \"user\" (nlb switches to both once its sockets are bound)", 1 },
	};
	RUN(cases);
}

T_UNIT(config, udp_listeners)
{
	static const struct err_case cases[] = {
		{ "idle 0",
		  GROUP_WEB
		  "listeners = ( { name = \"dns\"; address = \"127.0.0.1:53\"; target_group = \"web\";\n"
		  "  protocol = \"udp\"; udp_idle_timeout_ms = 0; } );\n", 3,
		  "\"udp_idle_timeout_ms\" must be between 1 and 86400000 (got 0)", 0 },
		{ "max_flows 0",
		  GROUP_WEB
		  "listeners = ( { name = \"dns\"; address = \"127.0.0.1:53\"; target_group = \"web\";\n"
		  "\n  protocol = \"tcp_udp\"; max_flows = 0; } );\n", 4,
		  "\"max_flows\" must be between 1 and 10000000 (got 0)", 0 },
	};
	RUN(cases);

	struct nlb_config *cfg = load_ok(GROUP_WEB
		"listeners = ( { name = \"dns\"; address = \"127.0.0.1:53\"; target_group = \"web\";\n"
		"  protocol = \"udp\"; },\n"
		"  { name = \"both\"; address = \"[::1]:53\"; target_group = \"web\";\n"
		"  protocol = \"tcp_udp\"; udp_idle_timeout_ms = 5000; max_flows = 10; } );\n");
	cr_assert_eq(cfg->n_listeners, 2);
	cr_expect_eq(cfg->listeners[0].protocol, NLB_PROTO_UDP);
	cr_expect_eq(cfg->listeners[0].udp_idle_timeout_ms, 120000);
	cr_expect_eq(cfg->listeners[0].max_flows, 100000);
	cr_expect_eq(cfg->listeners[1].protocol, NLB_PROTO_TCP_UDP);
	cr_expect_eq(cfg->listeners[1].udp_idle_timeout_ms, 5000);
	cr_expect_eq(cfg->listeners[1].max_flows, 10);
	nlb_config_free(cfg);
}

T_UNIT(config, unreadable_file)
{
	struct nlb_config *cfg = (struct nlb_config *)&cfg;	/* must be reset */
	char err[256];

	int r = nlb_config_load("/nonexistent/nlb.conf", &cfg, err, sizeof(err));
	cr_expect_eq(r, -ENOENT);
	cr_expect_null(cfg);
	cr_expect_str_eq(err, "/nonexistent/nlb.conf: cannot open: No such file or directory");

	/* A directory opens, but libconfig would read it as an empty file,
	 * i.e. a valid config with no listeners. */
	r = nlb_config_load("/tmp", &cfg, err, sizeof(err));
	cr_expect_eq(r, -EISDIR);
	cr_expect_null(cfg);
	cr_expect_str_eq(err, "/tmp: cannot open: Is a directory");
}

/* ---- reading the file ---------------------------------------------------- */

/* A fresh directory under /tmp holding a FIFO nobody writes to: opening
 * it for reading blocks, so a test that names it passes, within its
 * timeout, only if the loader never opens it (or opens it non-blocking). */
struct fifo_dir {
	char dir[64];
	char fifo[96];
};

static void fifo_make(struct fifo_dir *f)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/nlb-test-config-XXXXXX");
	cr_assert_not_null(mkdtemp(f->dir), "mkdtemp: %s", strerror(errno));
	snprintf(f->fifo, sizeof(f->fifo), "%s/fifo", f->dir);
	cr_assert_eq(mkfifo(f->fifo, 0600), 0, "mkfifo: %s", strerror(errno));
}

static void fifo_remove(const struct fifo_dir *f)
{
	unlink(f->fifo);
	rmdir(f->dir);
}

/* Writes size bytes of comment lines (a valid, empty configuration) to a
 * fresh file, then extra, and returns its path in path. */
static void write_comments(char *path, size_t pathlen, size_t size, const char *extra)
{
	static char chunk[64 * 1024];
	snprintf(path, pathlen, "/tmp/nlb-test-config-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	/* 64-byte lines: "# xxx...x\n". */
	for (size_t i = 0; i < sizeof(chunk); i += 64) {
		memset(chunk + i, 'x', 64);
		chunk[i] = '#';
		chunk[i + 1] = ' ';
		chunk[i + 63] = '\n';
	}
	cr_assert_eq(size % 64, 0);
	size_t done = 0;
	while (done < size) {
		size_t n = size - done < sizeof(chunk) ? size - done : sizeof(chunk);
		ssize_t w = write(fd, chunk, n);
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	ssize_t w = write(fd, extra, strlen(extra));
	close(fd);
	if (done != size || w != (ssize_t)strlen(extra))
		unlink(path);
	cr_assert_eq(done, size, "short write to %s", path);
	cr_assert_eq(w, (ssize_t)strlen(extra), "short write to %s", path);
}

/* The whole file is read once, up to NLB_CONFIG_MAX_BYTES: a file of
 * exactly that size loads, one byte more is refused by its size. */
T_UNIT(config, size_limit, .timeout = 60)
{
	char path[64], err[512];
	struct nlb_config *cfg = NULL;
	int fds = t_fd_count();

	write_comments(path, sizeof(path), NLB_CONFIG_MAX_BYTES, "");
	int r = nlb_config_load(path, &cfg, err, sizeof(err));
	unlink(path);
	cr_expect_eq(r, 0, "a file of exactly the limit: %d (%s)", r, err);
	cr_expect_not_null(cfg);
	nlb_config_free(cfg);

	write_comments(path, sizeof(path), NLB_CONFIG_MAX_BYTES, "\n");
	cfg = (struct nlb_config *)&cfg;	/* must be reset */
	r = nlb_config_load(path, &cfg, err, sizeof(err));
	unlink(path);
	cr_expect_eq(r, -EFBIG, "one byte over the limit: %d (%s)", r, err);
	cr_expect_null(cfg);
	char want[256];
	snprintf(want, sizeof(want), "%s: larger than %u bytes (16 MiB), the limit for a "
		 "configuration file", path, NLB_CONFIG_MAX_BYTES);
	cr_expect_str_eq(err, want);
	cr_expect_eq(t_fd_count(), fds, "the loader left a descriptor open");
}

/* Only regular files: a device or a FIFO could be read forever, or not
 * at all (a FIFO with no writer); both are refused at once. */
T_UNIT(config, not_a_regular_file, .timeout = 10)
{
	struct nlb_config *cfg = (struct nlb_config *)&cfg;	/* must be reset */
	char err[256];
	int fds = t_fd_count();

	int r = nlb_config_load("/dev/zero", &cfg, err, sizeof(err));
	cr_expect_eq(r, -EINVAL, "/dev/zero: %d (%s)", r, err);
	cr_expect_null(cfg);
	cr_expect_str_eq(err, "/dev/zero: not a regular file");

	struct fifo_dir f;
	fifo_make(&f);
	cfg = (struct nlb_config *)&cfg;
	r = nlb_config_load(f.fifo, &cfg, err, sizeof(err));
	fifo_remove(&f);
	cr_expect_eq(r, -EINVAL, "a FIFO: %d (%s)", r, err);
	cr_expect_null(cfg);
	char want[128];
	snprintf(want, sizeof(want), "%s: not a regular file", f.fifo);
	cr_expect_str_eq(err, want);
	cr_expect_eq(t_fd_count(), fds, "the loader left a descriptor open");
}

/* @include is refused with its line, before libconfig would open the
 * file it names: here a FIFO with no writer, so opening it would hang
 * the test past its timeout. */
T_UNIT(config, include_is_refused, .timeout = 10)
{
	struct fifo_dir f;
	fifo_make(&f);
	const char *fmt[] = {
		"workers = 1;\n\n@include \"%s\"\n",
		"workers = 1;\n\n  \t@include \"%s\"\nworkers = 2;\n",
		/* Not where libconfig looks for it (a line's start), but
		 * refused all the same rather than left to a syntax error. */
		"/* a\n comment */ workers = 1;\n @include \"%s\"",
	};
	for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), fmt[i], f.fifo);
		struct loaded l;
		load_text(text, &l);
		char want[256];
		snprintf(want, sizeof(want), "%s:3: @include is not supported: the configuration "
			 "is one file, read once (copy the included settings into it)", l.path);
		cr_expect_eq(l.r, -EINVAL, "case %zu: %d (%s)", i, l.r, l.err);
		cr_expect_null(l.cfg, "case %zu", i);
		nlb_config_free(l.cfg);
		cr_expect_str_eq(l.err, want, "case %zu", i);
	}
	fifo_remove(&f);
}

/* nlb_config_parse reads only the buffer it is given (nlb_config_load
 * hands it the file's bytes, read once): the integer check, the other
 * checks and libconfig all see those bytes, and every error names the
 * path given, which is never opened. */
T_UNIT(config, parse_from_buffer)
{
	static const char path[] = "/nonexistent/mem.conf";
#define TEXT(s) s, sizeof(s) - 1
	static const struct {
		const char *text;
		size_t len;
		const char *err;
	} cases[] = {
		{ TEXT("workers = 1;\n\nshutdown_timeout_ms = 4294967297;\n"),
		  "/nonexistent/mem.conf:3: integer 4294967297 does not fit in 32 bits "
		  "(write 4294967297L for a 64-bit integer)" },
		{ TEXT("workers = 1;\nlog_level = ;\n"), "/nonexistent/mem.conf:2: syntax error" },
		{ TEXT("workers = 1;\nworker = 2;\n"),
		  "/nonexistent/mem.conf:2: unknown key \"worker\" at top level" },
		/* libconfig would stop at the NUL and never see what follows. */
		{ TEXT("workers = 1;\n\0workers = 5000;\n"),
		  "/nonexistent/mem.conf:2: a NUL byte: a configuration file is text" },
	};
#undef TEXT
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nlb_config *cfg = (struct nlb_config *)&cfg;	/* must be reset */
		char err[256];
		int r = nlb_config_parse(path, cases[i].text, cases[i].len, &cfg, err, sizeof(err));
		cr_expect_eq(r, -EINVAL, "case %zu: %d (%s)", i, r, err);
		cr_expect_null(cfg, "case %zu", i);
		cr_expect_str_eq(err, cases[i].err, "case %zu", i);
	}

	static const char ok[] = "workers = 3;\n";
	struct nlb_config *cfg = NULL;
	char err[256] = "";
	int r = nlb_config_parse(path, ok, sizeof(ok) - 1, &cfg, err, sizeof(err));
	cr_assert_eq(r, 0, "%s", err);
	cr_expect_eq(cfg->workers, 3);
	cr_expect_str_eq(cfg->path, path);
	nlb_config_free(cfg);

	/* fstat gives procfs files size 0: the loader reads to the end
	 * anyway (and finds the NULs between the arguments). */
	cfg = (struct nlb_config *)&cfg;
	r = nlb_config_load("/proc/self/cmdline", &cfg, err, sizeof(err));
	cr_expect_eq(r, -EINVAL, "%d (%s)", r, err);
	cr_expect_null(cfg);
	cr_expect_str_eq(err, "/proc/self/cmdline:1: a NUL byte: a configuration file is text");
}

/* In a comment or a string "@include" is text, not a directive. */
T_UNIT(config, include_in_comment_or_string_is_text, .timeout = 10)
{
	struct fifo_dir f;
	fifo_make(&f);
	const char *fmt[] = {
		"# @include \"%s\"\nworkers = 2;\n",
		"// @include \"%s\"\nworkers = 2;\n",
		"/*\n@include \"%s\"\n*/ workers = 2;\n",
		"workers = 2; user = \"x\n@include \\\"%s\\\"\";\n",
	};
	for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), fmt[i], f.fifo);
		struct nlb_config *cfg = load_ok(text);
		cr_expect_eq(cfg->workers, 2, "case %zu", i);
		if (i == 3) {
			char want[128];
			snprintf(want, sizeof(want), "x\n@include \"%s\"", f.fifo);
			cr_expect_str_eq(cfg->user, want);
		}
		nlb_config_free(cfg);
	}
	fifo_remove(&f);
}

/* ---- what a good file loads to ------------------------------------------- */

/* One worker per CPU this process may run on (its affinity mask, which
 * taskset or a cpuset may have narrowed), not per CPU online. */
static long expected_workers(void)
{
	cpu_set_t set;
	cr_assert_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	long n = CPU_COUNT(&set);
	return n > NLB_CONFIG_MAX_WORKERS ? NLB_CONFIG_MAX_WORKERS : n;
}

T_UNIT(config, defaults_when_keys_absent)
{
	struct nlb_config *cfg = load_ok(
		"listeners = ( { name = \"l\"; address = \"127.0.0.1:8080\"; target_group = \"g\"; } );\n"
		"target_groups = ( { name = \"g\"; targets = ( { address = \"127.0.0.1:9001\"; } ); } );\n");

	cr_expect_eq(cfg->workers, (uint32_t)expected_workers());
	cr_expect_eq(cfg->log_level, NLB_LOG_INFO);
	cr_expect_eq(cfg->shutdown_timeout_ms, 10000);
	cr_expect_eq(cfg->forwarding, NLB_FWD_AUTO);
	cr_expect_eq(cfg->flow_table_size, 65536);
	cr_expect_eq(cfg->udp_max_datagram, 65535);
	cr_expect_eq(cfg->stats_enabled, 0);
	cr_expect_null(cfg->admin_socket);
	cr_expect_null(cfg->user);
	cr_expect_eq(cfg->allow_root, 0);

	cr_assert_eq(cfg->n_listeners, 1);
	const struct nlb_listener_conf *l = &cfg->listeners[0];
	cr_expect_eq(l->protocol, NLB_PROTO_TCP);
	cr_expect_eq(l->idle_timeout_ms, 350000);
	cr_expect_eq(l->max_connections, 0);
	cr_expect_eq(l->group, 0);

	cr_assert_eq(cfg->n_groups, 1);
	const struct nlb_group_conf *g = &cfg->groups[0];
	cr_expect_eq(g->algorithm, NLB_ALG_MAGLEV);
	cr_expect_eq(g->maglev_table_size, 65537);
	cr_expect_eq(g->hash_fields, NLB_HASH_5TUPLE);
	cr_expect_eq(g->hash_seed, 0);
	cr_expect_eq(g->connect_timeout_ms, 2000);
	cr_expect_eq(g->connect_retries, 2);
	cr_expect_eq(g->deregistration_delay_ms, 300000);
	cr_expect_eq(g->max_targets, 1024);
	cr_assert_eq(g->n_targets, 1);
	cr_expect_eq(g->targets[0].weight, 1);
	nlb_config_free(cfg);
}

T_UNIT(config, empty_file_is_valid)
{
	struct nlb_config *cfg = load_ok("# nothing here\n");
	cr_expect_eq(cfg->n_listeners, 0);
	cr_expect_null(cfg->listeners);
	cr_expect_eq(cfg->n_groups, 0);
	cr_expect_null(cfg->groups);
	cr_expect_eq(cfg->workers, (uint32_t)expected_workers());
	nlb_config_free(cfg);
}

T_UNIT(config, groups_without_targets_are_valid)
{
	struct nlb_config *cfg = load_ok(
		"target_groups = ( { name = \"a\"; targets = ( ); },\n"
		"                  { name = \"b\"; } );\n");
	cr_assert_eq(cfg->n_groups, 2);
	cr_expect_eq(cfg->groups[0].n_targets, 0);
	cr_expect_null(cfg->groups[0].targets);
	cr_expect_eq(cfg->groups[1].n_targets, 0);
	cr_expect_null(cfg->groups[1].targets);
	nlb_config_free(cfg);
}

T_UNIT(config, workers_zero_is_cpu_count)
{
	struct nlb_config *cfg = load_ok("workers = 0;\n");
	cr_expect_eq(cfg->workers, (uint32_t)expected_workers(),
		     "workers %u, CPUs in the affinity mask %ld", cfg->workers, expected_workers());
	cr_expect_geq(cfg->workers, 1);
	nlb_config_free(cfg);

	cfg = load_ok("workers = 1024;\n");
	cr_expect_eq(cfg->workers, 1024);
	nlb_config_free(cfg);
}

/* Without "cpus" workers run on the whole affinity mask, in order; with
 * it on those CPUs, and workers = 0 is their count. */
T_UNIT(config, cpus_resolve_within_the_mask)
{
	cpu_set_t mask;
	cr_assert_eq(sched_getaffinity(0, sizeof(mask), &mask), 0);
	int first = -1, last = -1;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, &mask)) {
			if (first < 0)
				first = c;
			last = c;
		}
	}
	cr_assert_geq(first, 0);

	struct nlb_config *cfg = load_ok("# no cpus\n");
	cr_assert_eq(cfg->n_cpus, (uint32_t)CPU_COUNT(&mask));
	cr_expect_null(cfg->cpus_text);
	for (uint32_t i = 0, c = 0; i < cfg->n_cpus; i++, c++) {
		while (!CPU_ISSET(c, &mask))
			c++;
		cr_expect_eq(cfg->cpus[i], c, "cpus[%u] is %u, want %u", i, cfg->cpus[i], c);
	}
	nlb_config_free(cfg);

	char text[128];
	snprintf(text, sizeof(text), "cpus = \"%d\";\n", last);
	cfg = load_ok(text);
	cr_expect_eq(cfg->workers, 1, "workers = 0 with one CPU in \"cpus\"");
	cr_assert_eq(cfg->n_cpus, 1);
	cr_expect_eq(cfg->cpus[0], last);
	char written[16];
	snprintf(written, sizeof(written), "%d", last);
	cr_expect_str_eq(cfg->cpus_text, written);
	nlb_config_free(cfg);

	/* More workers than CPUs is allowed: they share the CPUs in turn. */
	snprintf(text, sizeof(text), "workers = 5;\ncpus = \"%d,%d\";\n", last, first);
	cfg = load_ok(text);
	cr_expect_eq(cfg->workers, 5);
	cr_assert_eq(cfg->n_cpus, first == last ? 1u : 2u);
	cr_expect_eq(cfg->cpus[0], first, "ascending, whatever the order written");
	cr_expect_eq(cfg->cpus[cfg->n_cpus - 1], last);
	nlb_config_free(cfg);
}

/* A CPU the mask does not hold is refused naming it and the mask; the
 * list's form is the parser's (test_cpu_list.c has its cases). */
T_UNIT(config, cpus_errors)
{
	cpu_set_t mask;
	cr_assert_eq(sched_getaffinity(0, sizeof(mask), &mask), 0);
	/* Long masks are cut to 200 bytes in the message, as here. */
	char allowed[200], outside[300];
	if (nlb_cpu_list_format(&mask, allowed, sizeof(allowed)) >= sizeof(allowed))
		memcpy(allowed + sizeof(allowed) - 4, "...", 4);
	cr_assert(!CPU_ISSET(1023, &mask), "this test needs CPU 1023 outside the mask");
	snprintf(outside, sizeof(outside),
		 "\"cpus\": CPU 1023 is not one nlb may run on (allowed: %s)", allowed);
	const struct err_case cases[] = {
		{ "cpu outside the mask", "workers = 1;\ncpus = \"1023\";\n", 2, outside, 1 },
		{ "a range reaching outside", "\ncpus = \"0-1023\";\n", 2,
		  "is not one nlb may run on (allowed: ", 0 },
		{ "past the largest", "cpus = \"1024\";\n", 1,
		  "\"cpus\": bad CPU list \"1024\" (expected CPU numbers below 1024 and ranges, "
		  "comma-separated, no spaces: \"2-5,8\")", 1 },
		{ "reversed", "cpus = \"3-1\";\n", 1, "\"cpus\": bad CPU list \"3-1\"", 0 },
		{ "spaces", "cpus = \"0, 1\";\n", 1, "\"cpus\": bad CPU list \"0, 1\"", 0 },
		{ "newline", "cpus = \"0\\n\";\n", 1, "\"cpus\": bad CPU list \"0 \"", 0 },
		{ "empty", "cpus = \"\";\n", 1, "\"cpus\" must not be empty", 1 },
		{ "integer", "cpus = 0;\n", 1, "\"cpus\" must be a string", 1 },
		{ "array", "cpus = [ 0, 1 ];\n", 1, "\"cpus\" must be a string", 1 },
	};
	RUN(cases);
}

static const char full_conf[] =
	"workers = 3;\n"					/* 1 */
	"log_level = \"debug\";\n"				/* 2 */
	"shutdown_timeout_ms = 0;\n"				/* 3 */
	"forwarding = \"splice\";\n"				/* 4 */
	"listeners = (\n"					/* 5 */
	"  { name = \"web\"; protocol = \"tcp\"; address = \"0.0.0.0:80\";\n" /* 6 */
	"    target_group = \"api\"; idle_timeout_ms = 86400000L; max_connections = 10000000; },\n"
	"  { name = \"web6\"; address = \"[::1]:8443\"; target_group = \"web\";\n" /* 8 */
	"    idle_timeout_ms = 1; max_connections = 5; }\n"	/* 9 */
	");\n"							/* 10 */
	"target_groups = (\n"					/* 11 */
	"  { name = \"web\"; algorithm = \"round_robin\";\n"	/* 12 */
	"    connect_timeout_ms = 600000; connect_retries = 16;\n"
	"    targets = ( { address = \"127.0.0.1:9001\"; weight = 0; },\n" /* 14 */
	"                { address = \"[2001:db8::2]:9002\"; weight = 1000; } ); },\n"
	"  { name = \"api\"; connect_timeout_ms = 1; connect_retries = 0;\n" /* 16 */
	"    targets = ( { address = \"10.0.0.7:65535\"; } ); }\n" /* 17 */
	");\n";

T_UNIT(config, full_file_reads_back)
{
	struct loaded lf;
	load_text(full_conf, &lf);
	cr_assert_eq(lf.r, 0, "%s", lf.err);
	struct nlb_config *cfg = lf.cfg;
	char buf[NLB_ADDRSTRLEN];

	cr_expect_str_eq(cfg->path, lf.path);
	cr_expect_eq(cfg->workers, 3);
	cr_expect_eq(cfg->log_level, NLB_LOG_DEBUG);
	cr_expect_eq(cfg->shutdown_timeout_ms, 0);
	cr_expect_eq(cfg->forwarding, NLB_FWD_SPLICE);

	cr_assert_eq(cfg->n_listeners, 2);
	const struct nlb_listener_conf *l = &cfg->listeners[0];
	cr_expect_str_eq(l->name, "web");
	cr_expect_eq(l->protocol, NLB_PROTO_TCP);
	cr_expect_str_eq(l->addr_text, "0.0.0.0:80");
	cr_expect_eq(nlb_addr_family(&l->addr), AF_INET);
	cr_expect_str_eq(nlb_addr_format((struct sockaddr *)&l->addr.ss, buf, sizeof(buf)),
			 "0.0.0.0:80");
	cr_expect_str_eq(l->target_group, "api");
	cr_expect_eq(l->group, 1);
	cr_expect_eq(l->idle_timeout_ms, 86400000);
	cr_expect_eq(l->max_connections, 10000000);
	cr_expect_eq(l->line, 6);

	l = &cfg->listeners[1];
	cr_expect_str_eq(l->name, "web6");
	cr_expect_str_eq(l->addr_text, "[::1]:8443");
	cr_expect_eq(nlb_addr_family(&l->addr), AF_INET6);
	cr_expect_eq(nlb_addr_port((struct sockaddr *)&l->addr.ss), 8443);
	cr_expect_str_eq(l->target_group, "web");
	cr_expect_eq(l->group, 0);
	cr_expect_eq(l->idle_timeout_ms, 1);
	cr_expect_eq(l->max_connections, 5);
	cr_expect_eq(l->line, 8);

	cr_assert_eq(cfg->n_groups, 2);
	const struct nlb_group_conf *g = &cfg->groups[0];
	cr_expect_str_eq(g->name, "web");
	cr_expect_eq(g->algorithm, NLB_ALG_ROUND_ROBIN);
	cr_expect_eq(g->connect_timeout_ms, 600000);
	cr_expect_eq(g->connect_retries, 16);
	cr_expect_eq(g->line, 12);
	cr_assert_eq(g->n_targets, 2);
	cr_expect_str_eq(g->targets[0].addr_text, "127.0.0.1:9001");
	cr_expect_eq(nlb_addr_port((struct sockaddr *)&g->targets[0].addr.ss), 9001);
	cr_expect_eq(g->targets[0].weight, 0);
	cr_expect_eq(g->targets[0].line, 14);
	cr_expect_str_eq(g->targets[1].addr_text, "[2001:db8::2]:9002");
	cr_expect_eq(nlb_addr_family(&g->targets[1].addr), AF_INET6);
	cr_expect_eq(g->targets[1].weight, 1000);
	cr_expect_eq(g->targets[1].line, 15);

	g = &cfg->groups[1];
	cr_expect_str_eq(g->name, "api");
	cr_expect_eq(g->connect_timeout_ms, 1);
	cr_expect_eq(g->connect_retries, 0);
	cr_expect_eq(g->line, 16);
	cr_assert_eq(g->n_targets, 1);
	cr_expect_str_eq(g->targets[0].addr_text, "10.0.0.7:65535");
	cr_expect_eq(g->targets[0].weight, 1);

	cr_expect_str_eq(nlb_forwarding_name(cfg->forwarding), "splice");
	cr_expect_str_eq(nlb_protocol_name(NLB_PROTO_TCP_UDP), "tcp_udp");
	cr_expect_str_eq(nlb_algorithm_name(g->algorithm), "maglev");
	nlb_config_free(cfg);
}

T_UNIT(config, shipped_example_loads)
{
	const char *dir = getenv("NLB_SRCDIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/etc/nlb.conf", dir != NULL ? dir : ".");

	struct nlb_config *cfg = NULL;
	char err[512] = "";
	int r = nlb_config_load(path, &cfg, err, sizeof(err));
	cr_assert_eq(r, 0, "%s: %s", path, err);

	cr_expect_eq(cfg->workers, (uint32_t)expected_workers());
	/* make run starts nlb on it as root: it must name a user. */
	cr_assert_not_null(cfg->user);
	cr_expect_str_eq(cfg->user, "nobody");
	cr_expect_eq(cfg->allow_root, 0);
	cr_assert_eq(cfg->n_listeners, 1);
	cr_expect_str_eq(cfg->listeners[0].name, "web");
	cr_expect_eq(cfg->listeners[0].protocol, NLB_PROTO_TCP);
	cr_expect_str_eq(cfg->listeners[0].addr_text, "127.0.0.1:8080");
	cr_assert_eq(cfg->n_groups, 1);
	cr_expect_eq(cfg->listeners[0].group, 0);
	cr_expect_str_eq(cfg->groups[0].name, "web");
	cr_expect_eq(cfg->groups[0].algorithm, NLB_ALG_MAGLEV);
	cr_assert_eq(cfg->groups[0].n_targets, 2);
	cr_expect_str_eq(cfg->groups[0].targets[0].addr_text, "127.0.0.1:9001");
	cr_expect_str_eq(cfg->groups[0].targets[1].addr_text, "127.0.0.1:9002");
	nlb_config_free(cfg);
}

T_UNIT(config, error_buffer_may_be_small_or_absent)
{
	static const char text[] = "workers = 5000;\n";
	struct loaded l;
	load_text(text, &l);
	cr_assert_eq(l.r, -EINVAL);

	/* Same file again, written to a tiny buffer and to none. */
	char path[] = "/tmp/nlb-test-config-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	ssize_t w = write(fd, text, sizeof(text) - 1);
	close(fd);
	struct nlb_config *cfg;
	char small[8];
	memset(small, 'x', sizeof(small));
	int r1 = nlb_config_load(path, &cfg, small, sizeof(small));
	int r2 = nlb_config_load(path, &cfg, NULL, 0);
	unlink(path);
	cr_assert_eq(w, (ssize_t)sizeof(text) - 1);
	cr_expect_eq(r1, -EINVAL);
	cr_expect_eq(r2, -EINVAL);
	cr_expect_eq(small[sizeof(small) - 1], '\0');
	cr_expect_eq(strncmp(small, l.err, sizeof(small) - 1), 0);
}

/* Maglev's table must be a prime of at least 100 x targets with weight
 * (Eisenbud et al., section 3.4): both are checked at load. */
T_UNIT(config, maglev_table_size)
{
	static const struct err_case cases[] = {
		{ "not prime",
		  "target_groups = ( { name = \"g\";\n maglev_table_size = 65536;\n"
		  " targets = ( { address = \"127.0.0.1:1\"; } ); } );\n", 2,
		  "target group \"g\": \"maglev_table_size\" must be a prime (got 65536; 65537 is)", 1 },
		{ "too small",
		  "target_groups = ( { name = \"g\";\n maglev_table_size = 199;\n"
		  " targets = ( { address = \"127.0.0.1:1\"; }, { address = \"127.0.0.1:2\"; },\n"
		  " { address = \"127.0.0.1:3\"; } ); } );\n", 2,
		  "target group \"g\": \"maglev_table_size\" 199 is too small for 3 targets "
		  "(at least 100 x targets: 307, a prime)", 1 },
	};
	RUN(cases);

	/* weight 0 targets take no entries, so they do not count; other
	 * algorithms have no table to check. */
	const char *ok[] = {
		"target_groups = ( { name = \"g\"; maglev_table_size = 211;\n"
		" targets = ( { address = \"127.0.0.1:1\"; }, { address = \"127.0.0.1:2\"; },\n"
		" { address = \"127.0.0.1:3\"; weight = 0; } ); } );\n",
		"target_groups = ( { name = \"g\"; algorithm = \"round_robin\"; maglev_table_size = 199;\n"
		" targets = ( { address = \"127.0.0.1:1\"; }, { address = \"127.0.0.1:2\"; },\n"
		" { address = \"127.0.0.1:3\"; } ); } );\n",
		"target_groups = ( { name = \"g\"; hash_fields = \"source_ip\"; hash_seed = 42; } );\n",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct nlb_config *cfg = load_ok(ok[i]);
		if (i == 2) {
			cr_expect_eq(cfg->groups[0].hash_fields, NLB_HASH_SOURCE_IP);
			cr_expect_eq(cfg->groups[0].hash_seed, 42);
		}
		nlb_config_free(cfg);
	}
}

/* health_check and fail_open: defaults, and each kind of bad value. */
T_UNIT(config, health_check)
{
	static const struct err_case cases[] = {
		{ "bad matcher",
		  "target_groups = ( { name = \"g\";\n health_check = { protocol = \"http\";\n"
		  " matcher = \"200-99\"; }; } );\n", 3,
		  "target group \"g\": health_check: \"matcher\" must be codes 100-599 like "
		  "\"200\", \"200-399\" or \"200,204,301\" (got \"200-99\")", 1 },
		{ "bad path", "target_groups = ( { name = \"g\";\n health_check = { path = \"health\"; }; } );\n", 2,
		  "\"path\" must start with /", 0 },
		{ "unknown key", "target_groups = ( { name = \"g\";\n health_check = { intervall_ms = 5; }; } );\n", 2,
		  "unknown key \"intervall_ms\" in health_check of target group \"g\"", 1 },
		{ "threshold 0", "target_groups = ( { name = \"g\";\n health_check = { healthy_threshold = 0; }; } );\n", 2,
		  "\"healthy_threshold\" must be between 1 and 100 (got 0)", 0 },
		{ "not a group", "target_groups = ( { name = \"g\";\n health_check = 5; } );\n", 2,
		  "\"health_check\" must be a group { ... }", 0 },
		{ "fail_open not bool", "target_groups = ( { name = \"g\";\n fail_open = 1; } );\n", 2,
		  "\"fail_open\" must be true or false", 0 },
		{ "delay too long", "target_groups = ( { name = \"g\";\n deregistration_delay_ms = 3600001; } );\n", 2,
		  "\"deregistration_delay_ms\" must be between 0 and 3600000 (got 3600001)", 0 },
		{ "more targets than max_targets",
		  "target_groups = ( { name = \"g\"; max_targets = 1;\n targets = (\n"
		  " { address = \"127.0.0.1:1\"; }, { address = \"127.0.0.1:2\"; } ); } );\n", 2,
		  "target group \"g\": 2 targets, more than \"max_targets\" 1", 0 },
	};
	RUN(cases);

	struct nlb_config *cfg = load_ok("target_groups = ( { name = \"a\"; },\n"
		"  { name = \"b\"; fail_open = false; health_check = { protocol = \"http\"; }; } );\n");
	const struct nlb_group_conf *a = &cfg->groups[0], *b = &cfg->groups[1];
	cr_expect_eq(a->health.enabled, 0);
	cr_expect_eq(a->fail_open, 1);
	cr_expect_eq(b->fail_open, 0);
	cr_expect_eq(b->health.enabled, 1);
	cr_expect_eq(b->health.protocol, NLB_HC_HTTP);
	cr_expect_eq(b->health.port, 0);
	cr_expect_eq(b->health.interval_ms, 30000);
	cr_expect_eq(b->health.timeout_ms, 10000);
	cr_expect_eq(b->health.healthy_threshold, 5);
	cr_expect_eq(b->health.unhealthy_threshold, 2);
	cr_expect_str_eq(b->health.path, "/");
	cr_expect_str_eq(b->health.matcher_text, "200-399");
	cr_expect(nlb_hc_matcher_match(&b->health.matcher, 301));
	cr_expect(!nlb_hc_matcher_match(&b->health.matcher, 404));
	nlb_config_free(cfg);
}

/* health_check.path by the probe's own rule: at most 1,024 bytes of
 * visible ASCII; either side of each limit, refusals at the path's line. */
T_UNIT(config, health_check_path)
{
	static char text[2048], path[1100];
	static const char head[] = "target_groups = ( { name = \"g\";\n health_check = {"
				   " protocol = \"http\";\n path = \"%s\"; }; } );\n";
	struct err_case c = { "path", text, 3, NULL, 0 };

	memset(path, 'p', sizeof(path));
	path[0] = '/';
	path[1024] = '\0';
	snprintf(text, sizeof(text), head, path);
	struct nlb_config *cfg = load_ok(text);
	cr_expect_eq(strlen(cfg->groups[0].health.path), 1024);
	cr_expect_str_eq(cfg->groups[0].health.path, path);
	nlb_config_free(cfg);

	path[1024] = 'p';
	path[1025] = '\0';
	snprintf(text, sizeof(text), head, path);
	c.what = "1,025 characters";
	c.msg = "target group \"g\": health_check: \"path\" is 1025 characters long, more than 1024";
	c.exact = 1;
	expect_error(&c);

	/* libconfig turns \xNN into the byte. */
	static const struct {
		const char *path;
		int ok;
		const char *msg;
	} bytes[] = {
		{ "/a!b~", 1, NULL },	/* 0x21 and 0x7e, the first and last allowed */
		{ "/a b", 0, "\"path\" holds byte 0x20 (a space) at offset 2; it takes visible "
			     "ASCII only (0x21-0x7e): percent-encode others, e.g. a space as %20" },
		{ "/a\\x1fb", 0, "byte 0x1f (a control byte) at offset 2" },
		{ "/\\x01", 0, "byte 0x01 (a control byte) at offset 1" },
		{ "/a\\tb", 0, "byte 0x09 (a control byte) at offset 2" },
		{ "/a\\x7f", 0, "byte 0x7f (a control byte) at offset 2" },
		{ "/caf\\xc3\\xa9", 0, "byte 0xc3 (not ASCII) at offset 4" },
		{ "/\\x80", 0, "byte 0x80 (not ASCII) at offset 1" },
		{ "health", 0, "\"path\" must start with / (got \"health\")" },
	};
	for (size_t i = 0; i < sizeof(bytes) / sizeof(bytes[0]); i++) {
		snprintf(text, sizeof(text), head, bytes[i].path);
		if (bytes[i].ok) {
			cfg = load_ok(text);
			nlb_config_free(cfg);
			continue;
		}
		c.what = bytes[i].path;
		c.msg = bytes[i].msg;
		c.exact = 0;
		expect_error(&c);
	}
}

T_UNIT(config, stats_admin_privileges)
{
	struct nlb_config *cfg = load_ok(
		"stats = { listen = \"127.0.0.1:9100\"; };\n"
		"admin = { socket = \"/run/nlb/admin.sock\"; mode = 0660; };\n"
		"user = \"nobody\"; group = \"nogroup\"; allow_root = true;\n");
	cr_expect_eq(cfg->stats_enabled, 1);
	cr_expect_str_eq(cfg->stats_listen_text, "127.0.0.1:9100");
	cr_expect_str_eq(cfg->admin_socket, "/run/nlb/admin.sock");
	cr_expect_eq(cfg->admin_mode, 0660);
	cr_expect_str_eq(cfg->user, "nobody");
	cr_expect_str_eq(cfg->group, "nogroup");
	cr_expect_eq(cfg->allow_root, 1);
	nlb_config_free(cfg);
	cfg = load_ok("admin = { socket = \"/tmp/x.sock\"; };\n");
	cr_expect_eq(cfg->admin_mode, 0600);
	nlb_config_free(cfg);
}

/* ---- TLS ------------------------------------------------------------------ */

/* A listener line with protocol p and the rest r, after GROUP_WEB. */
#define TLS_LISTENER(p, r) GROUP_WEB "listeners = (\n" \
	"  { name = \"web\"; protocol = \"" p "\"; address = \"127.0.0.1:8443\";" \
	" target_group = \"web\";\n" r " }\n);\n"

T_UNIT(config, tls_errors)
{
	static const struct err_case cases[] = {
		{ "tls listener without tls", TLS_LISTENER("tls", ""), 3,
		  "listener \"web\": a tls listener needs tls = { certificates = ( ... ); }", 1 },
		{ "tls on a tcp listener", TLS_LISTENER("tcp", "  tls = { certificates = ( ); };"),
		  4, "\"tls\" belongs to tls and https listeners; this one is tcp", 0 },
		{ "no certificates", TLS_LISTENER("tls", "  tls = { certificates = ( ); };"), 4,
		  "\"certificates\" is empty", 0 },
		{ "certificate without key",
		  TLS_LISTENER("tls", "  tls = { certificates = (\n { cert = \"/x.pem\"; } ); };"),
		  5, "is missing \"key\"", 0 },
		{ "missing certificate file",
		  TLS_LISTENER("tls", "  tls = { certificates = (\n"
			       "  { cert = \"/nonexistent/site.pem\"; key = \"/nonexistent/site.key\"; } ); };"),
		  5, "/nonexistent/site.pem", 0 },
		{ "bad policy",
		  TLS_LISTENER("tls", "  tls = { policy = \"tls10\"; certificates = ( ); };"), 4,
		  "\"policy\" must be one of", 0 },
		{ "handshake timeout out of range",
		  TLS_LISTENER("tls", "  tls = { handshake_timeout_ms = 5; certificates = ( ); };"), 4,
		  "\"handshake_timeout_ms\" must be between 100 and 600000", 0 },
		{ "udp listener on a tls group",
		  "target_groups = ( { name = \"web\"; tls = { };\n"
		  "  targets = ( { address = \"127.0.0.1:9001\"; } ); } );\n"
		  "listeners = ( { name = \"u\"; protocol = \"udp\";\n"
		  "  address = \"127.0.0.1:53\"; target_group = \"web\"; } );\n", 4,
		  "speaks TLS to its targets, which UDP datagrams cannot use", 0 },
		{ "missing CA file",
		  "target_groups = ( { name = \"web\";\n"
		  "  tls = { ca = \"/nonexistent/ca.pem\"; }; } );\n", 2,
		  "/nonexistent/ca.pem", 0 },
	};
	RUN(cases);
}

/* A group's tls without ca loads (encrypt, no verification). */
T_UNIT(config, group_tls_without_ca)
{
	struct nlb_config *cfg = load_ok(
		"target_groups = ( { name = \"web\"; tls = { server_name = \"app.internal\"; };\n"
		"  targets = ( { address = \"127.0.0.1:9001\"; } ); } );\n");
	cr_expect_eq(cfg->groups[0].tls.enabled, 1);
	cr_expect_null(cfg->groups[0].tls.ca);
	cr_expect_str_eq(cfg->groups[0].tls.server_name, "app.internal");
	cr_expect_not_null(cfg->groups[0].tls.client);
	nlb_config_free(cfg);
}
