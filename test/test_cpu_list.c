/* Suite "cpu_list": the kernel's cpulist format (lib/cpu_list.c), parsed
 * and printed: each valid list prints back in the kernel's canonical
 * form, each invalid one is refused without touching the result, and
 * each limit is tried on both sides; the printer cuts like snprintf; the
 * allowed-CPU reader agrees with sched_getaffinity. */
#include <criterion/criterion.h>

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "cpu_list.h"
#include "helpers.h"

struct valid_case {
	const char *in;
	const char *canonical;	/* nlb_cpu_list_format of the result */
	int count;
};

static const struct valid_case valid[] = {
	{ "0", "0", 1 },
	{ "1023", "1023", 1 },			/* the largest CPU */
	{ "0-1023", "0-1023", 1024 },
	{ "3-3", "3", 1 },			/* a range of one */
	{ "2-3", "2-3", 2 },
	{ "2-5,8", "2-5,8", 5 },
	{ "0-3,8,10-11", "0-3,8,10-11", 7 },
	{ "8,2-5", "2-5,8", 5 },		/* any order */
	{ "1,2,3", "1-3", 3 },			/* adjacent items join */
	{ "0-4,2-6", "0-6", 7 },		/* overlaps are a union */
	{ "5,5", "5", 1 },
	{ "007", "7", 1 },			/* leading zeros, as the kernel */
	{ "0001023", "1023", 1 },
	{ "0,2,4", "0,2,4", 3 },
};

T_UNIT(cpu_list, valid_lists_print_canonically)
{
	for (size_t k = 0; k < sizeof(valid) / sizeof(valid[0]); k++) {
		const struct valid_case *c = &valid[k];
		cpu_set_t set;
		int r = nlb_cpu_list_parse(c->in, strlen(c->in), &set);
		cr_assert_eq(r, 0, "\"%s\": %d", c->in, r);
		cr_expect_eq(CPU_COUNT(&set), c->count, "\"%s\": %d CPUs, want %d", c->in,
			     CPU_COUNT(&set), c->count);
		char out[8192];
		size_t n = nlb_cpu_list_format(&set, out, sizeof(out));
		cr_expect_str_eq(out, c->canonical, "\"%s\"", c->in);
		cr_expect_eq(n, strlen(c->canonical), "\"%s\": length %zu", c->in, n);
	}
}

static const char *const invalid[] = {
	"",			/* empty list */
	"1024",			/* one past the largest CPU */
	"0-1024",
	"1024-1025",
	"99999999999999999999",	/* would overflow */
	"3-2",			/* reversed */
	"1,",			/* empty items */
	",1",
	"1,,2",
	",",
	"-",
	"1-",
	"-1",			/* signs */
	"+1",
	"1--2",
	"1-2-3",
	" 1",			/* whitespace anywhere */
	"1 ",
	"1, 2",
	"1\n",
	"1\t",
	"0-7:2/4",		/* the kernel's stride form */
	"0x1",			/* junk */
	"1a",
	"a",
	"1.5",
	"1;2",
};

T_UNIT(cpu_list, invalid_lists_are_refused)
{
	for (size_t k = 0; k < sizeof(invalid) / sizeof(invalid[0]); k++) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(42, &set);
		int r = nlb_cpu_list_parse(invalid[k], strlen(invalid[k]), &set);
		cr_expect_eq(r, -EINVAL, "\"%s\": %d, want -EINVAL", invalid[k], r);
		cr_expect(CPU_COUNT(&set) == 1 && CPU_ISSET(42, &set),
			  "\"%s\": the result was written on error", invalid[k]);
	}
}

/* The parser reads len bytes and no further: not up to a NUL, and a NUL
 * inside the length is a byte like any other. */
T_UNIT(cpu_list, length_bounds_the_input)
{
	cpu_set_t set;
	cr_assert_eq(nlb_cpu_list_parse("0,1", 1, &set), 0);
	cr_expect(CPU_COUNT(&set) == 1 && CPU_ISSET(0, &set));
	cr_expect_eq(nlb_cpu_list_parse("12-13", 4, &set), -EINVAL, "\"12-1\" is reversed");
	cr_assert_eq(nlb_cpu_list_parse("12-13", 5, &set), 0);
	cr_expect(CPU_COUNT(&set) == 2 && CPU_ISSET(12, &set) && CPU_ISSET(13, &set));
	cr_expect_eq(nlb_cpu_list_parse("1\0", 2, &set), -EINVAL);
	cr_expect_eq(nlb_cpu_list_parse("1", 0, &set), -EINVAL);
	cr_expect_eq(nlb_cpu_list_parse("1-2", 2, &set), -EINVAL);	/* "1-" */
}

T_UNIT(cpu_list, format_cuts_like_snprintf)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	char buf[16];
	memset(buf, 'x', sizeof(buf));
	cr_expect_eq(nlb_cpu_list_format(&set, buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "", "an empty set prints as nothing");

	cr_assert_eq(nlb_cpu_list_parse("0-3,8", 5, &set), 0);
	/* "0-3,8" is 5 bytes: 6 hold it whole, 5 cut its last byte. */
	cr_expect_eq(nlb_cpu_list_format(&set, buf, 6), 5);
	cr_expect_str_eq(buf, "0-3,8");
	cr_expect_eq(nlb_cpu_list_format(&set, buf, 5), 5);
	cr_expect_str_eq(buf, "0-3,");
	cr_expect_eq(nlb_cpu_list_format(&set, buf, 2), 5);
	cr_expect_str_eq(buf, "0");
	cr_expect_eq(nlb_cpu_list_format(&set, buf, 1), 5);
	cr_expect_str_eq(buf, "");
	buf[0] = 'x';
	cr_expect_eq(nlb_cpu_list_format(&set, buf, 0), 5);
	cr_expect_eq(buf[0], 'x', "len 0 writes nothing");

	/* The longest list: every other CPU. */
	CPU_ZERO(&set);
	for (int c = 0; c < NLB_CPU_LIST_MAX; c += 2)
		CPU_SET(c, &set);
	char big[4096];
	size_t n = nlb_cpu_list_format(&set, big, sizeof(big));
	cr_assert_lt(n, sizeof(big));
	cr_expect_eq(strlen(big), n);
	cpu_set_t back;
	cr_assert_eq(nlb_cpu_list_parse(big, n, &back), 0);
	cr_expect(CPU_EQUAL(&set, &back));
}

/* Against sched_getaffinity, then after narrowing this test process (a
 * process of its own) to one of its CPUs. */
T_UNIT(cpu_list, allowed_is_the_affinity_mask)
{
	cpu_set_t sys, got;
	cr_assert_eq(sched_getaffinity(0, sizeof(sys), &sys), 0);
	cr_assert_eq(nlb_cpu_allowed(&got), 0);
	cr_expect(CPU_EQUAL(&sys, &got));

	int last = -1;
	for (int c = 0; c < NLB_CPU_LIST_MAX; c++)
		if (CPU_ISSET(c, &sys))
			last = c;
	cr_assert_geq(last, 0);
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(last, &one);
	cr_assert_eq(sched_setaffinity(0, sizeof(one), &one), 0);
	int r = nlb_cpu_allowed(&got);
	sched_setaffinity(0, sizeof(sys), &sys);
	cr_assert_eq(r, 0);
	cr_expect(CPU_EQUAL(&one, &got), "narrowed to CPU %d", last);
}
