/* Suite "install": `make install` from the source tree (NLB_SRCDIR) into a
 * temporary DESTDIR lays out the binary, the configuration, its example,
 * the README and the systemd unit with its paths filled in; the unit
 * passes `systemd-analyze verify` (make deps installs it; without it the
 * test is skipped, never passed). */
#include <criterion/criterion.h>

#include <errno.h>
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
	};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
		T_ASSERT(strstr(unit, lines[i]), ": the unit lacks %s", lines[i]);
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
	 * prefix of our own so they do. */
	if (access("/usr/bin/systemd-analyze", X_OK) != 0)
		cr_skip_test("no /usr/bin/systemd-analyze (package systemd, which make deps "
			     "installs): the unit was not verified");
	char pdir[] = "/tmp/nlb-prefix-XXXXXX";
	T_ASSERT(mkdtemp(pdir));
	rc = make_install("", pdir, &out);
	T_ASSERT(rc == 0, ": make install PREFIX=%s: %s", pdir, out ? out : "");
	free(out);
	snprintf(path, sizeof path, "%s/lib/systemd/system/nlb.service", pdir);
	const char *verify[] = { "/usr/bin/systemd-analyze", "verify", path, NULL };
	rc = t_run(verify, 60000, &out);
	T_ASSERT(rc == 0, ": systemd-analyze verify: exit %d: %s", rc, out ? out : "");
	T_ASSERT(!out || !strstr(out, "nlb.service"), ": systemd-analyze verify: %s", out);
	free(out);
	rm_rf(pdir);
}
