/* Suite "install": `make install` from the source tree (NLB_SRCDIR) into a
 * temporary DESTDIR lays out the binary, the configuration, its example,
 * the README, every manual page of doc/ and the systemd unit with its
 * paths filled in; the unit names the manual pages and passes
 * `systemd-analyze verify` (make deps installs it; without it the test
 * is skipped, never passed). */
#include <criterion/criterion.h>

#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(install, .init = t_setup, .fini = t_teardown);

/* Runs `make install` with DESTDIR and PREFIX; the build directory is
 * the one NLB_BIN is in, and -o keeps make from rebuilding it (under
 * SANITIZE=1 the plain build may be stale, and the binary is not what is
 * tested here).  Returns make's exit code; *out gets its output. */
static int make_install(const char *destdir, const char *prefix, char **out)
{
	const char *src = getenv("NLB_SRCDIR");
	T_ASSERT(src && *src, ": NLB_SRCDIR is not set (run through make test)");
	T_ASSERT(t_nlb_bin(), ": NLB_BIN is not set");
	char bin[PATH_MAX], build[PATH_MAX + 8], old[PATH_MAX + 8], dest[PATH_MAX + 16],
	     pre[PATH_MAX + 16];
	snprintf(bin, sizeof bin, "%s", t_nlb_bin());
	snprintf(build, sizeof build, "BUILD=%s", dirname(bin));
	snprintf(old, sizeof old, "%s/nlb", build + strlen("BUILD="));
	snprintf(dest, sizeof dest, "DESTDIR=%s", destdir);
	snprintf(pre, sizeof pre, "PREFIX=%s", prefix);
	const char *argv[] = { "/usr/bin/make", "-s", "-C", src, "-o", old, build, dest, pre,
			       "install", NULL };
	return t_run(argv, 60000, out);
}

static void rm_rf(const char *dir)
{
	const char *argv[] = { "/bin/rm", "-rf", dir, NULL };
	t_run(argv, 30000, NULL);
}

static bool file_mode(const char *dir, const char *rel, mode_t mode)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s%s", dir, rel);
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == mode;
}

/* Every manual page of the source tree's doc/ (name.N, whatever pages
 * there are) is installed as PREFIX/share/man/manN/name.N, mode 0644,
 * byte for byte.  Returns how many there were. */
static size_t man_pages_installed(const char *dir, const char *prefix)
{
	char pattern[PATH_MAX];
	snprintf(pattern, sizeof pattern, "%s/doc/*.[1-9]", getenv("NLB_SRCDIR"));
	glob_t g;
	int rc = glob(pattern, 0, NULL, &g);
	T_ASSERT(rc == 0 || rc == GLOB_NOMATCH, ": glob %s: %d", pattern, rc);
	size_t n = rc == 0 ? g.gl_pathc : 0;
	for (size_t i = 0; i < n; i++) {
		const char *src = g.gl_pathv[i];
		const char *name = strrchr(src, '/') + 1;
		char rel[PATH_MAX];
		snprintf(rel, sizeof rel, "%s/share/man/man%s/%s", prefix, strrchr(name, '.') + 1,
			 name);
		T_ASSERT(file_mode(dir, rel, 0644), ": %s is not installed as %s", src, rel);
		char path[2 * PATH_MAX];
		snprintf(path, sizeof path, "%s%s", dir, rel);
		size_t want_len = 0, got_len = 0;
		char *want = t_file_read(src, &want_len), *got = t_file_read(path, &got_len);
		T_ASSERT(want && got && want_len == got_len && memcmp(want, got, want_len) == 0,
			 ": %s differs from %s", path, src);
		free(want);
		free(got);
	}
	if (rc == 0)
		globfree(&g);
	return n;
}

/* Each man:NAME(N) of the unit's Documentation= line is installed as
 * PREFIX/share/man/manN/NAME.N, so `systemctl help nlb` finds it.  A page
 * doc/ does not have yet is only logged (a Criterion warning would fail
 * the run): nlb.conf(5) arrives with a change of its own. */
static void unit_documentation_installed(const char *unit, const char *dir, const char *prefix)
{
	const char *line = strstr(unit, "\nDocumentation=");
	T_ASSERT(line, ": the unit has no Documentation= line");
	line += strlen("\nDocumentation=");
	char words[1024];
	snprintf(words, sizeof words, "%.*s", (int)strcspn(line, "\n"), line);
	unsigned pages = 0;
	char *save = NULL;
	for (char *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		char name[256], section[8];
		T_ASSERT(sscanf(w, "man:%255[^(](%7[1-9])", name, section) == 2,
			 ": Documentation= names %s, not a man:NAME(N) page", w);
		pages++;
		char src[PATH_MAX], rel[PATH_MAX];
		snprintf(src, sizeof src, "%s/doc/%s.%s", getenv("NLB_SRCDIR"), name, section);
		snprintf(rel, sizeof rel, "%s/share/man/man%s/%s.%s", prefix, section, name,
			 section);
		T_ASSERT(access(src, F_OK) == 0, ": the unit's Documentation= names %s, which doc/ "
			 "does not have", w);
		T_ASSERT(file_mode(dir, rel, 0644), ": %s (Documentation=) is not installed", w);
	}
	T_ASSERT(pages >= 3, ": Documentation= names %u pages: %s", pages, line);
}

/* The layout under DESTDIR, the unit's lines with @PREFIX@ filled in, an
 * installed binary that checks the installed configuration, and a second
 * install that leaves an edited nlb.conf alone. */
T_TEST(install, make_install_lays_out_files_and_unit, .timeout = 120)
{
	char dir[] = "/tmp/nlb-install-XXXXXX";
	T_ASSERT(mkdtemp(dir));
	char *out = NULL;
	int rc = make_install(dir, "/usr/local", &out);
	T_ASSERT(rc == 0, ": make install exit code %d: %s", rc, out ? out : "");
	free(out);

	T_ASSERT(file_mode(dir, "/usr/local/sbin/nlb", 0755));
	T_ASSERT(file_mode(dir, "/usr/local/etc/nlb/nlb.conf.example", 0644));
	T_ASSERT(file_mode(dir, "/usr/local/etc/nlb/nlb.conf", 0644));
	T_ASSERT(file_mode(dir, "/usr/local/share/doc/nlb/README", 0644));
	T_ASSERT(file_mode(dir, "/usr/local/lib/systemd/system/nlb.service", 0644));

	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/usr/local/lib/systemd/system/nlb.service", dir);
	char *unit = t_file_read(path, NULL);
	T_ASSERT(unit);
	T_ASSERT(!strstr(unit, "@PREFIX@"), ": %s", unit);
	static const char *const lines[] = {
		"\nExecStartPre=/usr/local/sbin/nlb -t -c /usr/local/etc/nlb/nlb.conf\n",
		"\nExecStart=/usr/local/sbin/nlb -c /usr/local/etc/nlb/nlb.conf\n",
		"\nExecReload=/bin/kill -HUP $MAINPID\n",
		"\nRestart=on-failure\n",
		"\nLimitNOFILE=1048576\n",
		"\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n",
		"\nKillSignal=SIGTERM\n",
		"\nDocumentation=man:nlb(8) man:nlb.conf(5) man:nlbctl(8)\n",
	};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
		T_ASSERT(strstr(unit, lines[i]), ": the unit lacks %s", lines[i]);

	/* The manual pages: at least nlb(8) and nlbctl(8), and whatever
	 * else doc/ has. */
	T_ASSERT(file_mode(dir, "/usr/local/share/man/man8/nlb.8", 0644));
	T_ASSERT(file_mode(dir, "/usr/local/share/man/man8/nlbctl.8", 0644));
	T_ASSERT(man_pages_installed(dir, "/usr/local") >= 2);
	unit_documentation_installed(unit, dir, "/usr/local");
	free(unit);

	/* The installed binary accepts the installed configuration. */
	char nlb[PATH_MAX], conf[PATH_MAX];
	snprintf(nlb, sizeof nlb, "%s/usr/local/sbin/nlb", dir);
	snprintf(conf, sizeof conf, "%s/usr/local/etc/nlb/nlb.conf", dir);
	const char *check[] = { nlb, "-t", "-c", conf, NULL };
	rc = t_run(check, 10000, &out);
	T_ASSERT(rc == 0, ": nlb -t on the installed configuration: %s", out ? out : "");
	free(out);

	/* An administrator's nlb.conf survives a reinstall; the example is
	 * refreshed. */
	FILE *f = fopen(conf, "a");
	T_ASSERT(f && fputs("# edited\n", f) >= 0 && fclose(f) == 0);
	rc = make_install(dir, "/usr/local", &out);
	T_ASSERT(rc == 0, ": second make install: %s", out ? out : "");
	free(out);
	char *text = t_file_read(conf, NULL);
	T_ASSERT(text && strstr(text, "# edited\n"), ": nlb.conf was overwritten");
	free(text);
	rm_rf(dir);

	/* systemd-analyze checks that the commands exist: install under a
	 * prefix of our own so they do.  Its check of the Documentation=
	 * pages runs man(1) on the system's manual path, where these pages
	 * are not: that they are installed is checked above instead. */
	if (access("/usr/bin/systemd-analyze", X_OK) != 0)
		cr_skip_test("no /usr/bin/systemd-analyze (package systemd, which make deps "
			     "installs): the unit was not verified");
	char pdir[] = "/tmp/nlb-prefix-XXXXXX";
	T_ASSERT(mkdtemp(pdir));
	rc = make_install("", pdir, &out);
	T_ASSERT(rc == 0, ": make install PREFIX=%s: %s", pdir, out ? out : "");
	free(out);
	snprintf(path, sizeof path, "%s/lib/systemd/system/nlb.service", pdir);
	const char *verify[] = { "/usr/bin/systemd-analyze", "verify", "--man=no", path, NULL };
	rc = t_run(verify, 60000, &out);
	T_ASSERT(rc == 0, ": systemd-analyze verify: exit %d: %s", rc, out ? out : "");
	T_ASSERT(!out || !strstr(out, "nlb.service"), ": systemd-analyze verify: %s", out);
	free(out);
	rm_rf(pdir);
}
