/* Suite "config_doc": nlb.conf(5), doc/nlb.conf.5, against the key tables
 * (nlb_config_keys_visit).  Every key of every section has its entry,
 * ".It Ic KEY" in the subsection of its section, saying its default as
 * the tables hold it (or "Required."), its range and unit, its values,
 * what a reload does with it and, for a protocol's own listener key,
 * which listeners have it; the page lists no key the tables do
 * not have; its examples load; and mandoc -T lint has nothing to say.
 * A key added to a table without its documentation fails here. */
#include <criterion/criterion.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "helpers.h"

TestSuite(config_doc, .init = t_setup, .fini = t_teardown);

/* The subsection of the page that holds each section's keys. */
static const char *const subsection[NLB_CONF_SECTIONS] = {
	[NLB_CONF_TOP] = "Top level",
	[NLB_CONF_STATS] = "stats",
	[NLB_CONF_ADMIN] = "admin",
	[NLB_CONF_LISTENER] = "listeners",
	[NLB_CONF_GROUP] = "target_groups",
	[NLB_CONF_HEALTH] = "health_check",
	[NLB_CONF_TARGET] = "targets",
	[NLB_CONF_TLS] = "listener tls",
	[NLB_CONF_TLS_CERT] = "certificates",
	[NLB_CONF_GROUP_TLS] = "target group tls",
	[NLB_CONF_HTTP_ACTION] = "default_action",
	[NLB_CONF_ACCESS_LOG] = "access_log",
	[NLB_CONF_GATEWAY] = "gateways",
	[NLB_CONF_ANNOUNCE] = "announce",
};

static void page_path(char *path, size_t len)
{
	const char *src = getenv("NLB_SRCDIR");
	T_ASSERT(src && *src, ": NLB_SRCDIR is not set (run through make test)");
	snprintf(path, len, "%s/doc/nlb.conf.5", src);
}

/* The page as lines (pointers into one buffer; free page->text). */
struct page {
	char *text;
	char **line;
	size_t n;
};

static void page_read(struct page *p)
{
	char path[4096];
	page_path(path, sizeof(path));
	memset(p, 0, sizeof(*p));
	p->text = t_file_read(path, NULL);
	T_ASSERT(p->text != NULL, ": cannot read %s", path);
	size_t cap = 1;
	for (const char *c = p->text; *c; c++)
		cap += *c == '\n';
	p->line = calloc(cap, sizeof(*p->line));
	T_ASSERT(p->line != NULL);
	for (char *c = p->text, *nl; *c; c = nl + 1) {
		p->line[p->n++] = c;
		if ((nl = strchr(c, '\n')) == NULL)
			break;
		*nl = '\0';
	}
}

static void page_free(struct page *p)
{
	free(p->line);
	free(p->text);
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Lines [*from, *to) of subsection title: after its .Ss line, up to the
 * next .Ss or .Sh.  false if the page has no such subsection. */
static bool subsection_lines(const struct page *p, const char *title, size_t *from, size_t *to)
{
	char want[64];
	snprintf(want, sizeof(want), ".Ss %s", title);
	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->line[i], want) != 0)
			continue;
		size_t j = i + 1;
		while (j < p->n && !starts(p->line[j], ".Ss ") && !starts(p->line[j], ".Sh "))
			j++;
		*from = i + 1;
		*to = j;
		return true;
	}
	return false;
}

struct check {
	const struct page *page;
	char failures[8192];
	unsigned n_failed, n_keys;
	/* every ".It Ic" of the key subsections, marked once a key has it */
	bool *documented_key;
};

__attribute__((format(printf, 2, 3)))
static void failed(struct check *c, const char *fmt, ...)
{
	size_t used = strlen(c->failures);
	va_list ap;
	va_start(ap, fmt);
	if (used + 2 < sizeof(c->failures))
		vsnprintf(c->failures + used, sizeof(c->failures) - used - 1, fmt, ap);
	va_end(ap);
	used = strlen(c->failures);
	if (used + 1 < sizeof(c->failures))
		strcat(c->failures, "\n");
	c->n_failed++;
}

static bool has_line(const struct page *p, size_t from, size_t to, const char *want)
{
	for (size_t i = from; i < to; i++)
		if (strcmp(p->line[i], want) == 0)
			return true;
	return false;
}

static bool has_prefix(const struct page *p, size_t from, size_t to, const char *want)
{
	for (size_t i = from; i < to; i++)
		if (starts(p->line[i], want))
			return true;
	return false;
}

static bool has_text(const struct page *p, size_t from, size_t to, const char *want)
{
	for (size_t i = from; i < to; i++)
		if (strstr(p->line[i], want) != NULL)
			return true;
	return false;
}

static int check_key(const struct nlb_config_key *k, void *arg)
{
	struct check *c = arg;
	const struct page *p = c->page;
	const char *title = subsection[k->section];
	c->n_keys++;
	char who[128];
	snprintf(who, sizeof(who), "%s%s%s", k->section_name, k->section_name[0] ? "." : "",
		 k->name);
	size_t from, to;
	if (!subsection_lines(p, title, &from, &to)) {
		failed(c, "%s: no subsection \".Ss %s\"", who, title);
		return 0;
	}
	char item[96];
	snprintf(item, sizeof(item), ".It Ic %s", k->name);
	size_t at = to;
	for (size_t i = from; i < to; i++) {
		if (strcmp(p->line[i], item) == 0) {
			if (at != to)
				failed(c, "%s: listed twice in \"%s\"", who, title);
			at = i;
		}
	}
	if (at == to) {
		failed(c, "%s: no \"%s\" in subsection \"%s\"", who, item, title);
		return 0;
	}
	c->documented_key[at] = true;
	/* The entry: up to the next key (or the end of the subsection). */
	size_t end = at + 1;
	while (end < to && !starts(p->line[end], ".It Ic "))
		end++;
	char want[160];
	if (k->required) {
		if (!has_line(p, at, end, "Required."))
			failed(c, "%s: no \"Required.\" line", who);
	} else if (k->def[0] != '\0') {
		snprintf(want, sizeof(want), "Default: %s.", k->def);
		if (!has_line(p, at, end, want))
			failed(c, "%s: no \"%s\" line", who, want);
	} else if (!has_prefix(p, at, end, "Default: none")) {
		failed(c, "%s: no \"Default: none...\" line", who);
	}
	const char *reload = k->apply == NLB_CONFIG_RESTARTS ? "Reload: needs a restart." :
			     "Reload: applied.";
	if (!has_line(p, at, end, reload))
		failed(c, "%s: no \"%s\" line", who, reload);
	/* A protocol's own listener key says which listeners have it. */
	if (k->protocols) {
		size_t off = (size_t)snprintf(want, sizeof(want), "Listeners:");
		for (int proto = 0; proto <= NLB_PROTO_HTTPS; proto++)
			if (k->protocols & (1u << proto))
				off += (size_t)snprintf(want + off, sizeof(want) - off, "%s %s",
							off > strlen("Listeners:") ? "," : "",
							nlb_protocol_name((enum nlb_protocol)proto));
		snprintf(want + off, sizeof(want) - off, ".");
		if (!has_line(p, at, end, want))
			failed(c, "%s: no \"%s\" line", who, want);
	}
	if (k->has_range) {
		snprintf(want, sizeof(want), "%lld to %lld%s%s", k->min, k->max, k->unit ? " " : "",
			 k->unit ? k->unit : "");
		if (!has_text(p, at, end, want))
			failed(c, "%s: the range \"%s\" is not given", who, want);
	}
	for (size_t i = 0; i < k->n_choices; i++) {
		snprintf(want, sizeof(want), ".Cm %s", k->choices[i]);
		if (!has_prefix(p, at, end, want))
			failed(c, "%s: the value %s is not given (\"%s\")", who, k->choices[i],
			       want);
	}
	return 0;
}

T_TEST(config_doc, every_key_is_documented)
{
	struct page p;
	page_read(&p);
	struct check *c = calloc(1, sizeof(*c));
	T_ASSERT(c != NULL);
	c->page = &p;
	c->documented_key = calloc(p.n, sizeof(bool));
	T_ASSERT(c->documented_key != NULL);
	cr_assert_eq(nlb_config_keys_visit(check_key, c), 0);
	cr_expect_gt(c->n_keys, 50);
	/* and nothing more: each entry of a key subsection is a key */
	for (int s = 0; s < NLB_CONF_SECTIONS; s++) {
		size_t from, to;
		if (!subsection_lines(&p, subsection[s], &from, &to))
			continue;
		for (size_t i = from; i < to; i++)
			if (starts(p.line[i], ".It Ic ") && !c->documented_key[i])
				failed(c, "\"%s\" in \"%s\" (line %zu) is no key of the tables",
				       p.line[i], subsection[s], i + 1);
	}
	cr_expect_eq(c->n_failed, 0, "doc/nlb.conf.5 and the key tables disagree "
		     "(lib/config_keys.c):\n%s", c->failures);
	free(c->documented_key);
	free(c);
	page_free(&p);
}

/* Each example of the page (the .Bd -literal blocks of EXAMPLES) is a
 * valid file. */
T_TEST(config_doc, examples_load)
{
	struct page p;
	page_read(&p);
	size_t i = 0;
	while (i < p.n && strcmp(p.line[i], ".Sh EXAMPLES") != 0)
		i++;
	T_ASSERT(i < p.n, ": no EXAMPLES section");
	unsigned examples = 0;
	for (i++; i < p.n && !starts(p.line[i], ".Sh "); i++) {
		if (!starts(p.line[i], ".Bd -literal"))
			continue;
		size_t first = i + 1, len = 0, room = 1;
		for (size_t j = first; j < p.n; j++)
			room += strlen(p.line[j]) + 1;
		char *text = calloc(1, room);
		T_ASSERT(text != NULL);
		for (i++; i < p.n && strcmp(p.line[i], ".Ed") != 0; i++)
			len += (size_t)sprintf(text + len, "%s\n", p.line[i]);
		struct nlb_config *cfg = NULL;
		char err[512] = "";
		int r = nlb_config_parse("nlb.conf.5", text, len, &cfg, err, sizeof(err));
		cr_expect_eq(r, 0, "the example at line %zu does not load: %s", first, err);
		nlb_config_free(cfg);
		free(text);
		examples++;
	}
	cr_expect_geq(examples, 2, "%u examples", examples);
	page_free(&p);
}

/* mandoc's own checker has nothing to say, but that the other pages of
 * nlb it refers to are not installed where it looks. */
T_TEST(config_doc, mandoc_lint_is_clean, .timeout = 30)
{
	T_ASSERT(access("/usr/bin/mandoc", X_OK) == 0,
		 ": /usr/bin/mandoc missing (make deps installs the mandoc package)");
	char path[4096];
	page_path(path, sizeof(path));
	const char *argv[] = { "/usr/bin/mandoc", "-T", "lint", path, NULL };
	char *out = NULL;
	int rc = t_run(argv, 20000, &out);
	static const char *const own[] = { "Xr nlb 8", "Xr nlbctl 8", "Xr nlb-metrics 7",
					   "Xr nlb-appliance 8" };
	unsigned other = 0;
	for (char *l = out, *nl; l && *l; l = nl + 1) {
		nl = strchr(l, '\n');
		if (nl)
			*nl = '\0';
		bool ok = false;
		for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
			char allowed[96];
			snprintf(allowed, sizeof(allowed), "STYLE: referenced manual not found: %s",
				 own[i]);
			ok |= strstr(l, allowed) != NULL;
		}
		if (!ok) {
			fprintf(stderr, "%s\n", l);
			other++;
		}
		if (!nl)
			break;
	}
	cr_expect(rc == 0 || (rc == 1 && other == 0), "mandoc -T lint: exit %d", rc);
	cr_expect_eq(other, 0, "mandoc -T lint: %u messages (above)", other);
	free(out);
}
