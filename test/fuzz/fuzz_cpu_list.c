/* libFuzzer target for nlb_cpu_list_parse and nlb_cpu_list_format (the
 * "cpus" configuration key): besides the sanitizers' checks, aborts when
 * they break their own contracts: a result outside {0, -EINVAL}, a set
 * written on error or empty on success, a printed list that does not
 * parse back to the same set or is not its own canonical form, or a
 * short buffer not cut like snprintf. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_list.h"

#define CHECK(cond) do {						\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz_cpu_list: %s:%d: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

/* The longest canonical list (every other CPU) is under 2.5 KiB. */
#define TEXT_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy: ASan catches a read past size. */
	char *in = malloc(size ? size : 1);
	CHECK(in != NULL);
	memcpy(in, data, size);

	cpu_set_t set, sentinel;
	CPU_ZERO(&sentinel);
	CPU_SET(NLB_CPU_LIST_MAX - 1, &sentinel);
	CPU_SET(3, &sentinel);
	set = sentinel;
	int r = nlb_cpu_list_parse(in, size, &set);
	CHECK(r == 0 || r == -EINVAL);
	if (r < 0) {
		CHECK(CPU_EQUAL(&set, &sentinel));
		free(in);
		return 0;
	}
	CHECK(CPU_COUNT(&set) > 0);
	for (size_t i = 0; i < size; i++)
		CHECK((in[i] >= '0' && in[i] <= '9') || in[i] == ',' || in[i] == '-');

	char text[TEXT_MAX];
	size_t n = nlb_cpu_list_format(&set, text, sizeof(text));
	CHECK(n > 0 && n < sizeof(text) && strlen(text) == n);
	cpu_set_t back;
	CHECK(nlb_cpu_list_parse(text, n, &back) == 0);
	CHECK(CPU_EQUAL(&set, &back));
	char again[TEXT_MAX];
	CHECK(nlb_cpu_list_format(&back, again, sizeof(again)) == n);
	CHECK(strcmp(text, again) == 0);

	/* Cut short: a NUL-terminated prefix, the whole length returned. */
	const size_t cuts[] = { 0, 1, n / 2, n, n + 1 };
	for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
		char cut[TEXT_MAX];
		memset(cut, 'x', sizeof(cut));
		CHECK(nlb_cpu_list_format(&set, cut, cuts[k]) == n);
		if (cuts[k] == 0) {
			CHECK(cut[0] == 'x');
			continue;
		}
		size_t kept = cuts[k] - 1 < n ? cuts[k] - 1 : n;
		CHECK(cut[kept] == '\0' && memcmp(cut, text, kept) == 0);
	}
	free(in);
	return 0;
}
