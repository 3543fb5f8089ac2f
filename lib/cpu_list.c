/* CPU lists: the kernel's cpulist format to and from a cpu_set_t, and the
 * calling thread's allowed CPUs (see cpu_list.h). */
#include "cpu_list.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Reads a CPU number at buf[*i]: one or more digits, value below
 * NLB_CPU_LIST_MAX.  Digits past the limit are still consumed, with the
 * value held at the limit, so that a long number cannot overflow. */
static int read_cpu(const char *buf, size_t len, size_t *i, unsigned *cpu)
{
	size_t start = *i;
	unsigned v = 0;
	while (*i < len && buf[*i] >= '0' && buf[*i] <= '9') {
		v = v * 10 + (unsigned)(buf[*i] - '0');
		if (v > NLB_CPU_LIST_MAX)
			v = NLB_CPU_LIST_MAX;
		(*i)++;
	}
	if (*i == start || v >= NLB_CPU_LIST_MAX)
		return -EINVAL;
	*cpu = v;
	return 0;
}

int nlb_cpu_list_parse(const char *buf, size_t len, cpu_set_t *out)
{
	cpu_set_t set;
	size_t i = 0;

	CPU_ZERO(&set);
	for (;;) {
		unsigned lo, hi;
		if (read_cpu(buf, len, &i, &lo) < 0)
			return -EINVAL;
		hi = lo;
		if (i < len && buf[i] == '-') {
			i++;
			if (read_cpu(buf, len, &i, &hi) < 0 || hi < lo)
				return -EINVAL;
		}
		for (unsigned c = lo; c <= hi; c++)
			CPU_SET(c, &set);
		if (i == len)
			break;
		if (buf[i] != ',')
			return -EINVAL;
		i++;
	}
	*out = set;
	return 0;
}

size_t nlb_cpu_list_format(const cpu_set_t *set, char *buf, size_t len)
{
	size_t need = 0;

	if (len > 0)
		buf[0] = '\0';
	for (unsigned c = 0; c < NLB_CPU_LIST_MAX; c++) {
		if (!CPU_ISSET(c, set))
			continue;
		unsigned hi = c;
		while (hi + 1 < NLB_CPU_LIST_MAX && CPU_ISSET(hi + 1, set))
			hi++;
		char item[32];
		int n = hi > c ? snprintf(item, sizeof(item), "%s%u-%u", need ? "," : "", c, hi)
			       : snprintf(item, sizeof(item), "%s%u", need ? "," : "", c);
		/* Copied while it fits whole or in part, NUL kept last. */
		if (need + 1 < len) {
			size_t room = len - 1 - need;
			size_t k = (size_t)n < room ? (size_t)n : room;
			memcpy(buf + need, item, k);
			buf[need + k] = '\0';
		}
		need += (size_t)n;
		c = hi;
	}
	return need;
}

int nlb_cpu_allowed(cpu_set_t *out)
{
	/* sched_getaffinity fails with EINVAL while the mask asked with is
	 * smaller than the kernel's (more than CPU_SETSIZE CPUs possible). */
	for (size_t ncpus = CPU_SETSIZE; ncpus <= 1u << 22; ncpus *= 2) {
		cpu_set_t *s = CPU_ALLOC(ncpus);
		if (s == NULL)
			return -ENOMEM;
		size_t size = CPU_ALLOC_SIZE(ncpus);
		if (sched_getaffinity(0, size, s) == 0) {
			cpu_set_t low;
			CPU_ZERO(&low);
			for (unsigned c = 0; c < NLB_CPU_LIST_MAX; c++)
				if (CPU_ISSET_S(c, size, s))
					CPU_SET(c, &low);
			CPU_FREE(s);
			if (CPU_COUNT(&low) == 0)
				return -ERANGE;
			*out = low;
			return 0;
		}
		int e = errno;
		CPU_FREE(s);
		if (e != EINVAL)
			return -e;
	}
	return -EINVAL;
}
