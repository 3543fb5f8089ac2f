/* Suite "config_keys": the key tables (lib/config_keys.c) as the rest of
 * nlb sees them.  Every key says what a reload does with it; the keys
 * only a restart applies are exactly the listed ones, and each, changed,
 * is reported by name and kept at its running value while the rest of
 * the file applies; values written another way are no change; the visit
 * describes defaults, ranges and units as the tables hold them. */
#include <criterion/criterion.h>

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "helpers.h"

/* A file with one listener "l" and one group "g"; the three %s are more
 * top-level settings, more of the listener's and more of the group's. */
static const char file_fmt[] =
	"%s\n"
	"listeners = ( { name = \"l\"; address = \"127.0.0.1:8080\"; target_group = \"g\";\n"
	"  %s } );\n"
	"target_groups = ( { name = \"g\"; %s\n"
	"  targets = ( { address = \"127.0.0.1:9001\"; } ); } );\n";

static struct nlb_config *parse3(const char *top, const char *listener, const char *group)
{
	char text[2048], err[512] = "";
	int n = snprintf(text, sizeof(text), file_fmt, top, listener, group);
	cr_assert(n > 0 && (size_t)n < sizeof(text));
	struct nlb_config *cfg = NULL;
	int r = nlb_config_parse("test.conf", text, (size_t)n, &cfg, err, sizeof(err));
	cr_assert_eq(r, 0, "parse failed (%d): %s\n--- file ---\n%s", r, err, text);
	return cfg;
}

/* The first two CPUs this test may run on, as "cpus" values; false when
 * there is only one. */
static bool two_cpus(char *a, char *b, size_t len)
{
	cpu_set_t mask;
	cr_assert_eq(sched_getaffinity(0, sizeof(mask), &mask), 0);
	int found = 0;
	for (int c = 0; c < CPU_SETSIZE && c < NLB_CPU_LIST_MAX && found < 2; c++) {
		if (CPU_ISSET(c, &mask))
			snprintf(found++ ? b : a, len, "%d", c);
	}
	return found == 2;
}

/* What the comparisons reload makes reported, as "section:key" lines. */
struct reports {
	char text[1024];
	unsigned n;
	const char *section;
};

static void collect(const char *key, void *arg)
{
	struct reports *r = arg;
	size_t used = strlen(r->text);
	snprintf(r->text + used, sizeof(r->text) - used, "%s:%s\n", r->section, key);
	r->n++;
}

/* The comparisons reload.c makes (report_unapplied): the top level
 * (which covers stats and admin), each listener, each group. */
static unsigned compare_as_reload(struct nlb_config *running, struct nlb_config *loaded,
				  struct reports *r)
{
	memset(r, 0, sizeof(*r));
	unsigned n = 0;
	r->section = "top";
	n += nlb_config_keep_restart_only(NLB_CONF_TOP, running, loaded, collect, r);
	r->section = "listener";
	n += nlb_config_keep_restart_only(NLB_CONF_LISTENER, &running->listeners[0],
					  &loaded->listeners[0], collect, r);
	r->section = "group";
	n += nlb_config_keep_restart_only(NLB_CONF_GROUP, &running->groups[0], &loaded->groups[0],
					  collect, r);
	cr_assert_eq(n, r->n, "the count returned is not the keys reported");
	return n;
}

/* One key only a restart applies: where the tables have it, how reload
 * reports it ("top:stats" for a key of stats), and two files that differ
 * in it (top-level, listener and group settings). */
struct restart_case {
	const char *section;	/* as nlb_config_keys_visit names it */
	const char *key;
	const char *reported;
	const char *running[3];
	const char *loaded[3];
};

static const struct restart_case restart_cases[] = {
	{ "", "workers", "top:workers", { "workers = 1;" }, { "workers = 2;" } },
	/* cpus: filled in by the test with two CPUs it may run on */
	{ "", "cpus", "top:cpus", { NULL }, { NULL } },
	{ "", "forwarding", "top:forwarding", { "forwarding = \"copy\";" },
	  { "forwarding = \"splice\";" } },
	{ "", "flow_table_size", "top:flow_table_size", { "flow_table_size = 1024;" },
	  { "flow_table_size = 2048;" } },
	{ "", "udp_max_datagram", "top:udp_max_datagram", { "udp_max_datagram = 512;" },
	  { "udp_max_datagram = 1024;" } },
	{ "", "udp_gro", "top:udp_gro", { "udp_gro = true;" }, { "udp_gro = false;" } },
	{ "", "ring_cq_entries", "top:ring_cq_entries", { "ring_cq_entries = 65536;" },
	  { "ring_cq_entries = 1024;" } },
	{ "", "stats", "top:stats", { "" }, { "stats = { listen = \"127.0.0.1:9100\"; };" } },
	{ "stats", "listen", "top:stats", { "stats = { listen = \"127.0.0.1:9100\"; };" },
	  { "stats = { listen = \"127.0.0.1:9101\"; };" } },
	{ "", "admin", "top:admin", { "admin = { socket = \"/run/nlb/a.sock\"; };" }, { "" } },
	{ "admin", "socket", "top:admin", { "admin = { socket = \"/run/nlb/a.sock\"; };" },
	  { "admin = { socket = \"/run/nlb/b.sock\"; };" } },
	{ "admin", "mode", "top:admin", { "admin = { socket = \"/run/a.sock\"; mode = 0600; };" },
	  { "admin = { socket = \"/run/a.sock\"; mode = 0660; };" } },
	{ "", "announce", "top:announce", { "" },
	  { "announce = { table = 100; prefixes = ( \"203.0.113.10/32\" ); };" } },
	{ "announce", "table", "top:announce",
	  { "announce = { table = 100; prefixes = ( \"203.0.113.10/32\" ); };" },
	  { "announce = { table = 101; prefixes = ( \"203.0.113.10/32\" ); };" } },
	{ "announce", "prefixes", "top:announce",
	  { "announce = { table = 100; prefixes = ( \"203.0.113.10/32\" ); };" },
	  { "announce = { table = 100; prefixes = ( \"203.0.113.11/32\" ); };" } },
	{ "announce", "withdraw_delay_ms", "top:announce",
	  { "announce = { table = 100; prefixes = ( \"203.0.113.10/32\" ); };" },
	  { "announce = { table = 100; prefixes = ( \"203.0.113.10/32\" ); withdraw_delay_ms = 5; };" } },
	{ "", "user", "top:user", { "user = \"a\";" }, { "user = \"b\";" } },
	{ "", "group", "top:group", { "user = \"a\";" }, { "user = \"a\"; group = \"b\";" } },
	{ "", "allow_root", "top:allow_root", { "allow_root = true;" },
	  { "allow_root = false;" } },
	{ "", "seccomp", "top:seccomp", { "seccomp = false;" }, { "seccomp = true;" } },
	{ "listeners", "max_connections", "listener:max_connections",
	  { "", "max_connections = 1;" }, { "", "max_connections = 0;" } },
	{ "listeners", "max_connections_per_source", "listener:max_connections_per_source",
	  { "", "max_connections_per_source = 1;" }, { "", "max_connections_per_source = 2;" } },
	{ "listeners", "new_connections_per_source_per_s",
	  "listener:new_connections_per_source_per_s",
	  { "", "new_connections_per_source_per_s = 1;" },
	  { "", "new_connections_per_source_per_s = 2;" } },
	{ "listeners", "steering", "listener:steering", { "", "steering = \"hash\";" },
	  { "", "steering = \"cpu\";" } },
	{ "target_groups", "max_targets", "group:max_targets", { "", "", "max_targets = 10;" },
	  { "", "", "max_targets = 20;" } },
};

#define N_CASES (sizeof(restart_cases) / sizeof(restart_cases[0]))

static const struct restart_case *find_case(const char *section, const char *key)
{
	for (size_t i = 0; i < N_CASES; i++)
		if (strcmp(restart_cases[i].section, section) == 0 &&
		    strcmp(restart_cases[i].key, key) == 0)
			return &restart_cases[i];
	return NULL;
}

struct census {
	unsigned keys, undecided, restart, unlisted;
	char names[1024];
	bool listed[N_CASES];
};

static int count_key(const struct nlb_config_key *k, void *arg)
{
	struct census *c = arg;
	c->keys++;
	if (k->apply != NLB_CONFIG_RELOADS && k->apply != NLB_CONFIG_RESTARTS) {
		c->undecided++;
		size_t used = strlen(c->names);
		snprintf(c->names + used, sizeof(c->names) - used, " %s.%s", k->section_name,
			 k->name);
	}
	if (k->apply != NLB_CONFIG_RESTARTS)
		return 0;
	c->restart++;
	const struct restart_case *rc = find_case(k->section_name, k->name);
	if (rc != NULL) {
		c->listed[rc - restart_cases] = true;
	} else {
		c->unlisted++;
		size_t used = strlen(c->names);
		snprintf(c->names + used, sizeof(c->names) - used, " %s.%s", k->section_name,
			 k->name);
	}
	return 0;
}

/* A key added to a table without saying what a reload does with it is
 * refused here (the table macros require it too). */
T_UNIT(config_keys, every_key_says_what_a_reload_does)
{
	struct census c = { 0 };
	cr_assert_eq(nlb_config_keys_visit(count_key, &c), 0);
	cr_expect_gt(c.keys, 50, "only %u keys visited", c.keys);
	cr_expect_eq(c.undecided, 0, "keys with no reload decision:%s", c.names);
}

/* The keys only a restart applies are exactly those reload kept before
 * the tables said so.  A key flagged restart-only needs a case here (and
 * is then checked by the next test); one that loses the flag fails here
 * too.  Health checks and targets have none: reload.c does not compare
 * them (a group's health check or a target has no running value to keep
 * apart from the new one). */
T_UNIT(config_keys, restart_only_keys_are_these)
{
	struct census c = { 0 };
	cr_assert_eq(nlb_config_keys_visit(count_key, &c), 0);
	cr_expect_eq(c.unlisted, 0, "restart-only keys without a case here:%s", c.names);
	for (size_t i = 0; i < N_CASES; i++)
		cr_expect(c.listed[i], "%s.%s is not restart-only in the tables",
			  restart_cases[i].section, restart_cases[i].key);
	cr_expect_eq(c.restart, N_CASES);
}

/* Each restart-only key, changed alone, is reported once by name and set
 * back to its running value (compared with the running file again, it
 * differs no more), while
 * the reloadable changes of the same file (log_level, a listener's
 * idle_timeout_ms, a group's connect_timeout_ms) stay as loaded. */
T_UNIT(config_keys, each_restart_only_key_is_reported_and_kept)
{
	char cpu_a[16], cpu_b[16], run_cpus[64], load_cpus[64];
	bool cpus_ok = two_cpus(cpu_a, cpu_b, sizeof(cpu_a));
	snprintf(run_cpus, sizeof(run_cpus), "cpus = \"%s\";", cpu_a);
	snprintf(load_cpus, sizeof(load_cpus), "cpus = \"%s\";", cpu_b);
	for (size_t i = 0; i < N_CASES; i++) {
		const struct restart_case *rc = &restart_cases[i];
		const char *rt = rc->running[0], *lt = rc->loaded[0];
		if (strcmp(rc->key, "cpus") == 0) {
			if (!cpus_ok)
				continue;	/* one CPU: no two values to differ */
			rt = run_cpus;
			lt = load_cpus;
		}
		char top_r[256], top_l[256], lis_r[256], lis_l[256], grp_r[256], grp_l[256];
		snprintf(top_r, sizeof(top_r), "log_level = \"info\"; %s", rt);
		snprintf(top_l, sizeof(top_l), "log_level = \"debug\"; %s", lt);
		snprintf(lis_r, sizeof(lis_r), "idle_timeout_ms = 1000; %s",
			 rc->running[1] ? rc->running[1] : "");
		snprintf(lis_l, sizeof(lis_l), "idle_timeout_ms = 2000; %s",
			 rc->loaded[1] ? rc->loaded[1] : "");
		snprintf(grp_r, sizeof(grp_r), "connect_timeout_ms = 1000; %s",
			 rc->running[2] ? rc->running[2] : "");
		snprintf(grp_l, sizeof(grp_l), "connect_timeout_ms = 2000; %s",
			 rc->loaded[2] ? rc->loaded[2] : "");
		struct nlb_config *running = parse3(top_r, lis_r, grp_r);
		struct nlb_config *loaded = parse3(top_l, lis_l, grp_l);

		struct reports r;
		char want[128];
		snprintf(want, sizeof(want), "%s\n", rc->reported);
		cr_expect_eq(compare_as_reload(running, loaded, &r), 1, "%s.%s: reported:\n%s",
			     rc->section, rc->key, r.text);
		cr_expect_str_eq(r.text, want, "%s.%s", rc->section, rc->key);
		/* running now holds loaded's strings (swapped): a fresh copy */
		struct nlb_config *fresh = parse3(top_r, lis_r, grp_r);
		cr_expect_eq(compare_as_reload(fresh, loaded, &r), 0,
			     "%s.%s: not kept at its running value:\n%s", rc->section, rc->key,
			     r.text);
		nlb_config_free(fresh);
		cr_expect_eq(loaded->log_level, NLB_LOG_DEBUG, "%s: log_level not applied", rc->key);
		cr_expect_eq(loaded->listeners[0].idle_timeout_ms, 2000, "%s: idle_timeout_ms",
			     rc->key);
		cr_expect_eq(loaded->groups[0].connect_timeout_ms, 2000, "%s: connect_timeout_ms",
			     rc->key);
		nlb_config_free(running);
		nlb_config_free(loaded);
	}
}

/* What is kept is what ran: the loaded struct holds the running values,
 * strings included (each struct still frees its own). */
T_UNIT(config_keys, kept_values_are_the_running_ones)
{
	struct nlb_config *running = parse3(
		"workers = 1; user = \"a\"; group = \"x\"; udp_gro = false;"
		" stats = { listen = \"127.0.0.1:9100\"; };"
		" admin = { socket = \"/run/nlb/a.sock\"; mode = 0640; };",
		"max_connections = 5;", "max_targets = 10;");
	struct nlb_config *loaded = parse3(
		"workers = 3; user = \"b\"; udp_gro = true;"
		" admin = { socket = \"/run/nlb/b.sock\"; };",
		"max_connections = 6;", "max_targets = 11;");
	struct reports r;
	cr_expect_eq(compare_as_reload(running, loaded, &r), 8, "reported:\n%s", r.text);
	cr_expect_str_eq(r.text, "top:workers\ntop:udp_gro\ntop:stats\ntop:admin\ntop:user\n"
			 "top:group\nlistener:max_connections\ngroup:max_targets\n");
	cr_expect_eq(loaded->workers, 1);
	cr_expect_eq(loaded->udp_gro, 0);
	cr_expect_eq(loaded->stats_enabled, 1);
	cr_expect_str_eq(loaded->stats_listen_text, "127.0.0.1:9100");
	cr_expect_str_eq(loaded->admin_socket, "/run/nlb/a.sock");
	cr_expect_eq(loaded->admin_mode, 0640);
	cr_expect_str_eq(loaded->user, "a");
	cr_expect_str_eq(loaded->group, "x");
	cr_expect_eq(loaded->listeners[0].max_connections, 5);
	cr_expect_eq(loaded->groups[0].max_targets, 10);
	/* the loaded values went to the running struct, freed with it */
	cr_expect_str_eq(running->user, "b");
	cr_expect_null(running->group);
	nlb_config_free(running);
	nlb_config_free(loaded);
}

/* Compared as nlb runs them: workers = 0 is the CPU count, the same CPUs
 * written another way are the same, and mode 0600 is the default. */
T_UNIT(config_keys, values_written_another_way_are_no_change)
{
	char cpu_a[16], cpu_b[16], one[96], range[96], admin[96];
	two_cpus(cpu_a, cpu_b, sizeof(cpu_a));
	snprintf(one, sizeof(one), "cpus = \"%s\"; workers = 0;", cpu_a);
	snprintf(range, sizeof(range), "cpus = \"%s-%s\"; workers = 1;", cpu_a, cpu_a);
	struct nlb_config *running = parse3(one, "", "");
	struct nlb_config *loaded = parse3(range, "", "");
	struct reports r;
	cr_expect_eq(compare_as_reload(running, loaded, &r), 0, "reported:\n%s", r.text);
	nlb_config_free(running);
	nlb_config_free(loaded);

	running = parse3("admin = { socket = \"/run/a.sock\"; };", "", "");
	snprintf(admin, sizeof(admin), "admin = { socket = \"/run/a.sock\"; mode = 0600; };");
	loaded = parse3(admin, "", "");
	cr_expect_eq(compare_as_reload(running, loaded, &r), 0, "reported:\n%s", r.text);
	nlb_config_free(running);
	nlb_config_free(loaded);
}

struct lookup {
	const char *section, *name;
	struct nlb_config_key found;
	unsigned seen;
};

static int find_key(const struct nlb_config_key *k, void *arg)
{
	struct lookup *l = arg;
	if (strcmp(k->section_name, l->section) == 0 && strcmp(k->name, l->name) == 0) {
		l->found = *k;
		l->seen++;
	}
	return 0;
}

static struct nlb_config_key key(const char *section, const char *name)
{
	struct lookup l = { section, name, { 0 }, 0 };
	cr_assert_eq(nlb_config_keys_visit(find_key, &l), 0);
	cr_assert_eq(l.seen, 1, "%s.%s visited %u times", section, name, l.seen);
	return l.found;
}

static int stop_at_third(const struct nlb_config_key *k, void *arg)
{
	(void)k;
	return ++*(int *)arg == 3 ? 42 : 0;
}

/* The visit says what the tables hold, defaults as a file writes them. */
T_UNIT(config_keys, visit_describes_the_tables)
{
	struct nlb_config_key k = key("", "flow_table_size");
	cr_expect_str_eq(k.type, "integer");
	cr_expect_str_eq(k.def, "65536");
	cr_expect(k.has_range && k.min == 1024 && k.max == 16777216);
	cr_expect_str_eq(k.unit, "flows per worker");
	cr_expect_eq(k.apply, NLB_CONFIG_RESTARTS);
	cr_expect_eq(k.section, NLB_CONF_TOP);

	k = key("", "forwarding");
	cr_expect_str_eq(k.def, "\"auto\"");
	cr_assert_eq(k.n_choices, 3);
	cr_expect_str_eq(k.choices[2], "copy");
	cr_expect(!k.has_range);

	k = key("admin", "mode");
	cr_expect_str_eq(k.def, "0600");
	k = key("", "listeners");
	cr_expect_str_eq(k.type, "list");
	cr_expect_str_eq(k.def, "()");
	cr_expect_eq(k.apply, NLB_CONFIG_RELOADS);
	k = key("listeners", "name");
	cr_expect(k.required);
	cr_expect_str_eq(k.def, "");
	k = key("", "cpus");
	cr_expect(!k.required);
	cr_expect_str_eq(k.def, "");
	k = key("health_check", "path");
	cr_expect_str_eq(k.def, "\"/\"");
	cr_expect_eq(k.section, NLB_CONF_HEALTH);
	k = key("health_check", "proxy_protocol");
	cr_expect_str_eq(k.type, "boolean");
	cr_expect_str_eq(k.def, "false");
	k = key("target_groups", "proxy_protocol");
	cr_expect_str_eq(k.def, "\"none\"");
	k = key("targets", "weight");
	cr_expect_str_eq(k.def, "1");
	cr_expect(k.min == 0 && k.max == 1000);
	cr_expect_null(k.unit);

	int n = 0;
	cr_expect_eq(nlb_config_keys_visit(stop_at_third, &n), 42);
	cr_expect_eq(n, 3, "the visit went on after a nonzero return");
}

/* The defaults the visit describes are the ones a load fills in. */
T_UNIT(config_keys, string_defaults_come_from_the_table)
{
	struct nlb_config *cfg = parse3("", "", "health_check = { protocol = \"http\"; };");
	cr_assert(cfg->groups[0].health.enabled);
	cr_expect_str_eq(cfg->groups[0].health.path, "/");
	cr_expect_str_eq(cfg->groups[0].health.matcher_text, "200-399");
	cr_expect_eq(cfg->admin_socket, NULL);
	nlb_config_free(cfg);
	cfg = parse3("admin = { socket = \"/run/a.sock\"; };", "", "");
	cr_expect_eq(cfg->admin_mode, 0600);
	nlb_config_free(cfg);
}
