/* Suite "counters": the one table of counters and metric families
 * (nlb/control/counter_table.h) and what is made from it.  Every worker
 * counter is on the stats line or added into one that is, and in some
 * metric series; the families are well formed; the stats line adds the
 * UDP parts back as it always did; and doc/nlb-metrics.7 is exactly what
 * the table makes today (make doc) and passes mandoc -T lint. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/counter_table.h"
#include "control/metrics_page.h"
#include "control/stats.h"
#include "core/worker.h"
#include "health_check.h"
#include "helpers.h"

TestSuite(counters, .init = t_setup, .fini = t_teardown);

static const struct stat_counter *counter_by_id(enum counter_id id)
{
	for (size_t i = 0; i < nlb_n_stat_counters; i++)
		if (nlb_stat_counters[i].id == id)
			return &nlb_stat_counters[i];
	return NULL;
}

static bool series_adds(const struct metric_series *s, enum counter_id id)
{
	for (size_t i = 0; i < SERIES_MAX_SUM && s->sum[i] != COUNTER_NONE; i++)
		if (s->sum[i] == id)
			return true;
	return false;
}

/* A worker counter no metric shows, or one the stats line lost, would
 * be counted for nobody. */
T_UNIT(counters, every_worker_counter_is_reported)
{
	for (int id = COUNTER_NONE + 1; id < COUNTER_END; id++) {
		const struct stat_counter *c = counter_by_id((enum counter_id)id);
		cr_assert(c, "counter %d has no row", id);
		cr_expect(c->meaning && *c->meaning, "%s: no meaning", c->name);
		cr_expect(strcmp(c->kind, "counter") == 0 || strcmp(c->kind, "gauge") == 0,
			  "%s: kind %s", c->name, c->kind);
		if (c->added_into) {
			const struct stat_counter *into = NULL;
			for (size_t i = 0; i < nlb_n_stat_counters; i++)
				if (strcmp(nlb_stat_counters[i].name, c->added_into) == 0)
					into = &nlb_stat_counters[i];
			cr_expect(into && !into->added_into && into->id != COUNTER_NONE,
				  "%s is added into %s, which is no stats line counter", c->name,
				  c->added_into);
		}
		unsigned shown = 0;
		for (int f = 0; f < MF_END; f++) {
			for (size_t i = 0; i < nlb_metric_families[f].n_series; i++)
				shown += series_adds(&nlb_metric_families[f].series[i],
						     (enum counter_id)id);
			shown += metric_family_is_histogram(&nlb_metric_families[f]) &&
				 nlb_metric_families[f].sum_ms == (enum counter_id)id;
		}
		cr_expect(shown > 0, "%s is in no metric series", c->name);
	}
	for (size_t i = 0; i < nlb_n_stat_counters; i++) {
		for (size_t j = i + 1; j < nlb_n_stat_counters; j++)
			cr_expect(strcmp(nlb_stat_counters[i].name, nlb_stat_counters[j].name) != 0,
				  "%s twice", nlb_stat_counters[i].name);
		const struct stat_counter *c = &nlb_stat_counters[i];
		if (c->id == COUNTER_NONE)
			cr_expect(c->family == MF_END ||
				  nlb_metric_families[c->family].scope == SCOPE_GROUP,
				  "%s: family %d", c->name, c->family);
	}
}

/* Names Prometheus takes, HELP and TYPE, labels that say what they are,
 * and series that match their scope. */
T_UNIT(counters, families_are_well_formed)
{
	for (int i = 0; i < MF_END; i++) {
		const struct metric_family *f = &nlb_metric_families[i];
		cr_assert(f->name, "family %d has no row", i);
		cr_expect(strncmp(f->name, "nlb_", 4) == 0, "%s", f->name);
		for (const char *p = f->name; *p; p++)
			cr_expect((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_',
				  "%s: not a metric name", f->name);
		size_t n = strlen(f->name);
		bool total = n > 6 && strcmp(f->name + n - 6, "_total") == 0;
		bool histogram = metric_family_is_histogram(f);
		cr_expect(strcmp(f->type, "counter") == 0 ? total :
			  (strcmp(f->type, "gauge") == 0 || histogram) && !total,
			  "%s: type %s", f->name, f->type);
		if (histogram) {
			/* Prometheus's rules: le buckets in order, +Inf last, a sum. */
			cr_expect(f->scope == SCOPE_LISTENER && f->label && strcmp(f->label, "le") == 0,
				  "%s: a histogram of listeners, by le", f->name);
			cr_expect(f->n_series >= 2 &&
				  strcmp(f->series[f->n_series - 1].value, "+Inf") == 0,
				  "%s: +Inf last", f->name);
			for (size_t s = 1; s + 1 < f->n_series; s++)
				cr_expect(strtod(f->series[s - 1].value, NULL) <
					  strtod(f->series[s].value, NULL),
					  "%s: le %s after %s", f->name, f->series[s].value,
					  f->series[s - 1].value);
			for (size_t s = 1; s < f->n_series; s++)
				cr_expect(f->series[s].on == f->series[0].on, "%s: one side", f->name);
			cr_expect(f->sum_ms != COUNTER_NONE, "%s: no _sum", f->name);
		} else {
			cr_expect(f->sum_ms == COUNTER_NONE, "%s: a _sum, not a histogram", f->name);
		}
		cr_expect(f->help && f->help[0] && f->help[strlen(f->help) - 1] == '.',
			  "%s: HELP \"%s\"", f->name, f->help ? f->help : "");
		for (int j = i + 1; j < MF_END; j++)
			cr_expect(strcmp(f->name, nlb_metric_families[j].name) != 0, "%s twice", f->name);
		bool counters = f->scope == SCOPE_LISTENER || f->scope == SCOPE_WORKER;
		cr_expect(counters == (f->value_doc == NULL),
			  "%s: made of counters or said what its value is, not both", f->name);
		for (size_t s = 0; s < f->n_series; s++) {
			const struct metric_series *se = &f->series[s];
			cr_expect((f->label != NULL) == (se->value != NULL),
				  "%s: series %zu and the family's label", f->name, s);
			cr_expect(counters == (se->sum[0] != COUNTER_NONE),
				  "%s: series %zu: counters in a family not made of them, or none",
				  f->name, s);
			cr_expect(f->scope == SCOPE_LISTENER || se->on == ON_ANY, "%s", f->name);
		}
		if (counters)
			cr_expect(f->n_series > 0 && (f->label || f->n_series == 1),
				  "%s: %zu series", f->name, f->n_series);
	}
	/* The renderer takes state values by their enum nlb_hc_state. */
	const struct metric_family *st = &nlb_metric_families[MF_TARGET_HEALTH_STATE];
	cr_assert_eq(st->n_series, 3);
	for (unsigned s = 0; s < st->n_series; s++)
		cr_expect_str_eq(st->series[s].value, nlb_hc_state_name((enum nlb_hc_state)s));
}

struct visited {
	char names[128][32];
	uint64_t values[128];
	unsigned n;
};

static void visit(void *arg, const char *name, uint64_t value)
{
	struct visited *v = arg;
	if (v->n < 128) {
		snprintf(v->names[v->n], sizeof(v->names[0]), "%s", name);
		v->values[v->n] = value;
	}
	v->n++;
}

/* The stats line (and show stats) in the table's order; each UDP part
 * added into its counter there, and kept apart in its metric series. */
T_UNIT(counters, stats_line_follows_the_table)
{
	struct worker_stats rows[2];
	memset(rows, 0, sizeof(rows));
	STAT_ADD(&rows[0], acl_denied, 3);
	STAT_ADD(&rows[1], udp_acl_denied, 2);
	STAT_ADD(&rows[1], drain_reset, 5);
	STAT_ADD(&rows[0], udp_drain_reset, 7);
	STAT_ADD(&rows[1], accepted, 11);
	struct worker *w = calloc(1, sizeof(*w));
	cr_assert(w);
	w->stats = rows;
	w->n_stats = 2;
	struct health_counters h = { .probes_done = 13, .changes = 17 };
	struct admin_counters a = { .commands = 19, .errors = 23 };
	struct visited v = { .n = 0 };
	stats_visit(w, 1, NULL, &h, &a, visit, &v);

	unsigned k = 0;
	for (size_t i = 0; i < nlb_n_stat_counters; i++) {
		if (nlb_stat_counters[i].added_into)
			continue;
		cr_assert(k < v.n && strcmp(v.names[k], nlb_stat_counters[i].name) == 0,
			  "stats line item %u is %s, the table's %s", k, k < v.n ? v.names[k] : "-",
			  nlb_stat_counters[i].name);
		k++;
	}
	cr_assert_eq(v.n, k, "the stats line has %u items, the table %u", v.n, k);
	struct { const char *name; uint64_t want; } expect[] = {
		{ "acl_denied", 5 }, { "drain_reset", 12 }, { "accepted", 11 },
		{ "health_probes", 13 }, { "health_changes", 17 }, { "table_builds", 0 },
		{ "admin_commands", 19 }, { "admin_errors", 23 }, { "closed", 0 },
	};
	for (size_t e = 0; e < sizeof(expect) / sizeof(expect[0]); e++)
		for (unsigned i = 0; i < v.n; i++)
			if (strcmp(v.names[i], expect[e].name) == 0)
				cr_expect_eq(v.values[i], expect[e].want, "%s = %llu, not %llu",
					     expect[e].name, (unsigned long long)v.values[i],
					     (unsigned long long)expect[e].want);

	struct stats_sum sum;
	memset(&sum, 0, sizeof(sum));
	stats_sum_add(&sum, &rows[0]);
	stats_sum_add(&sum, &rows[1]);
	const struct metric_family *dropped = &nlb_metric_families[MF_UDP_DROPPED];
	const struct metric_family *refused = &nlb_metric_families[MF_CONNECT_ERRORS];
	for (size_t s = 0; s < dropped->n_series; s++)
		if (strcmp(dropped->series[s].value, "acl") == 0)
			cr_expect_eq(metric_series_value(&dropped->series[s], &sum), 2);
	for (size_t s = 0; s < refused->n_series; s++)
		if (strcmp(refused->series[s].value, "acl") == 0)
			cr_expect_eq(metric_series_value(&refused->series[s], &sum), 3);
	free(w);
}

/* The page the table makes now, as text. */
static char *page_now(size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	cr_assert(f);
	cr_assert_eq(metrics_page_write(f), 0);
	cr_assert_eq(fclose(f), 0);
	return text;
}

static void page_path(char *buf, size_t len)
{
	const char *src = getenv("NLB_SRCDIR");
	cr_assert(src && *src, "NLB_SRCDIR is not set (run through make test)");
	snprintf(buf, len, "%s/doc/nlb-metrics.7", src);
}

/* The committed page is the table's: change the table, run make doc. */
T_UNIT(counters, metrics_page_is_current)
{
	char path[4096];
	page_path(path, sizeof(path));
	size_t want_len = 0, have_len = 0;
	char *want = page_now(&want_len);
	char *have = t_file_read(path, &have_len);
	cr_assert(have, "cannot read %s", path);
	size_t at = 0, line = 1;
	while (at < want_len && at < have_len && want[at] == have[at])
		line += want[at++] == '\n';
	cr_expect(at == want_len && at == have_len,
		  "%s differs from what the counter table makes, from line %zu: run make doc",
		  path, line);
	free(want);
	free(have);
}

T_TEST(counters, metrics_page_passes_mandoc_lint, .timeout = 30)
{
	if (access("/usr/bin/mandoc", X_OK) != 0)
		cr_skip_test("no /usr/bin/mandoc (package mandoc, which make deps installs)");
	char path[4096];
	page_path(path, sizeof(path));
	const char *argv[] = { "/usr/bin/mandoc", "-T", "lint", path, NULL };
	char *out = NULL;
	int rc = t_run(argv, 20000, &out);
	cr_expect(rc == 0 && out && out[0] == '\0', "mandoc -T lint: exit %d: %s", rc,
		  out ? out : "");
	free(out);
}
