/* Suite "manpages": the manual pages in doc/ (every name.N there, so a
 * page added later is checked too) pass `mandoc -T lint`, and the pages
 * of nlb(8) and nlbctl(8) keep up with the programs: every option their
 * usage lists and every command the admin socket's help lists has an
 * entry.  mandoc comes with make deps: its absence is a failure. */
#include <criterion/criterion.h>

#include <ctype.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "px.h"

TestSuite(manpages, .init = t_setup, .fini = t_teardown);

#define MANDOC "/usr/bin/mandoc"

static const char *srcdir(void)
{
	const char *src = getenv("NLB_SRCDIR");
	T_ASSERT(src && *src, ": NLB_SRCDIR is not set (run through make test)");
	return src;
}

/* A page of doc/, read whole (free it). */
static char *page_read(const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/doc/%s", srcdir(), name);
	char *text = t_file_read(path, NULL);
	T_ASSERT(text, ": cannot read %s", path);
	return text;
}

/* What lint may say that is not about the page: whether a page it refers
 * to (.Xr) is installed on this machine, and the state of its index. */
static bool about_this_machine(const char *line)
{
	return strstr(line, ": STYLE: referenced manual not found: ") ||
	       strstr(line, "outdated mandoc.db");
}

/* Every message of every level (lint implies -W all), style included,
 * fails the test, but for what depends on the pages installed here. */
T_TEST(manpages, mandoc_lint_is_clean, .timeout = 60)
{
	T_ASSERT(access(MANDOC, X_OK) == 0,
		 ": " MANDOC " missing (make deps installs the mandoc package)");
	char pattern[PATH_MAX];
	snprintf(pattern, sizeof pattern, "%s/doc/*.[1-9]", srcdir());
	glob_t g;
	T_ASSERT(glob(pattern, 0, NULL, &g) == 0, ": no manual page matches %s", pattern);
	bool saw_nlb = false, saw_nlbctl = false;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *page = g.gl_pathv[i];
		const char *name = strrchr(page, '/') + 1;
		saw_nlb = saw_nlb || strcmp(name, "nlb.8") == 0;
		saw_nlbctl = saw_nlbctl || strcmp(name, "nlbctl.8") == 0;
		const char *argv[] = { MANDOC, "-T", "lint", page, NULL };
		char *out = NULL;
		int rc = t_run(argv, 30000, &out);
		/* 0: nothing to say; 1: style messages only (filtered below). */
		cr_expect(rc == 0 || rc == 1, "mandoc -T lint %s: exit %d: %s", name, rc,
			  out ? out : "");
		for (char *line = out, *next; line && *line; line = next) {
			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			cr_expect(about_this_machine(line), "mandoc -T lint %s: %s", name, line);
		}
		free(out);
	}
	globfree(&g);
	cr_expect(saw_nlb && saw_nlbctl, "doc/ lacks nlb.8 or nlbctl.8");
}

/* The options in program's usage (`program -h`): each " -X" followed by
 * a space or a line end, once; written into opts as a string. */
static void usage_options(const char *program, char *opts, size_t cap)
{
	const char *argv[] = { program, "-h", NULL };
	char *out = NULL;
	int rc = t_run(argv, 10000, &out);
	T_ASSERT(rc == 0 && out, ": %s -h: exit %d", program, rc);
	size_t n = 0;
	for (const char *p = out; (p = strstr(p, " -")) != NULL; p++) {
		char c = p[2];
		if (isalpha((unsigned char)c) && (p[3] == ' ' || p[3] == '\n') &&
		    !memchr(opts, c, n) && n + 1 < cap)
			opts[n++] = c;
	}
	opts[n] = '\0';
	free(out);
}

/* Each option of the program's usage is an item of its page's option
 * list (.It Fl X). */
static void page_lists_options(const char *program, const char *page, unsigned at_least)
{
	char opts[32];
	usage_options(program, opts, sizeof opts);
	cr_expect(strlen(opts) >= at_least, "%s -h lists only the options \"%s\"", program, opts);
	char *text = page_read(page);
	for (const char *o = opts; *o; o++) {
		char item[16];
		snprintf(item, sizeof item, "\n.It Fl %c", *o);
		cr_expect(strstr(text, item) != NULL, "doc/%s has no entry for -%c", page, *o);
	}
	free(text);
}

T_TEST(manpages, nlb_page_lists_every_option, .timeout = 30)
{
	T_ASSERT(t_nlb_bin(), ": NLB_BIN is not set (run through make test)");
	page_lists_options(t_nlb_bin(), "nlb.8", 4);	/* -c -t -V -h */
}

T_TEST(manpages, nlbctl_page_lists_every_option, .timeout = 30)
{
	const char *ctl = getenv("NLB_CTL");
	T_ASSERT(ctl && *ctl, ": NLB_CTL is not set (run through make test)");
	page_lists_options(ctl, "nlbctl.8", 1);		/* -s (its usage omits -h) */
}

T_TEST(manpages, appliance_page_lists_every_option, .timeout = 30)
{
	const char *app = getenv("NLB_APPLIANCE");
	T_ASSERT(app && *app, ": NLB_APPLIANCE is not set (run through make test)");
	page_lists_options(app, "nlb-appliance.8", 6);	/* -l -H -n -r -f -h */
}

/* Every command `nlbctl help` prints (from the admin socket's own table)
 * is an item of nlbctl(8)'s COMMANDS list: .It Cm and the command's
 * literal words, those before its first argument. */
T_TEST(manpages, nlbctl_page_lists_every_command, .timeout = 60)
{
	const char *ctl = getenv("NLB_CTL");
	T_ASSERT(ctl && *ctl, ": NLB_CTL is not set (run through make test)");
	struct px p;
	px_init(&p, "auto");
	px_admin(&p);
	px_target(&p, t_free_port());
	px_start(&p);
	const char *argv[] = { ctl, "-s", p.admin_sock, "help", NULL };
	char *out = NULL;
	int rc = t_run(argv, 10000, &out);
	px_assert(&p, rc == 0 && out, "nlbctl help: exit %d: %s", rc, out ? out : "");
	char *text = page_read("nlbctl.8");
	unsigned commands = 0;
	for (char *line = out, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		/* "add target GROUP ADDR [weight N]   what it does" */
		char item[128] = "\n.It Cm";
		size_t len = strlen(item);
		for (const char *w = line; *w && *w != '[' && !isupper((unsigned char)*w);) {
			size_t n = strcspn(w, " ");
			if (n == 0 || len + 1 + n >= sizeof item)
				break;
			item[len++] = ' ';
			memcpy(item + len, w, n);
			len += n;
			item[len] = '\0';
			w += n;
			if (w[0] != ' ' || w[1] == ' ')
				break;	/* two spaces: the description follows */
			w++;
		}
		commands++;
		cr_expect(strstr(text, item) != NULL, "doc/nlbctl.8 has no entry \"%s\" for \"%s\"",
			  item + 1, line);
	}
	cr_expect(commands >= 10, "nlbctl help listed %u commands:\n%s", commands, out);
	free(text);
	free(out);
	px_stop_ok(&p);
	px_free(&p);
}
