/* libFuzzer target for nlb-appliance's rule parser
 * (lib/appliance_filter.c): any text is a rule or a refusal with a
 * reason; an accepted rule's canonical text parses back to the same
 * rule, and its ranges are ordered. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appliance_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[256];
	size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
	memcpy(text, data, n);
	text[n] = '\0';
	static struct nlb_appliance_filter f, g;
	f.n = g.n = 0;
	char err[128] = "";
	int r = nlb_appliance_filter_add(&f, text, err, sizeof(err));
	if (r < 0) {
		if (r != -EINVAL || !err[0])
			abort();
		return 0;
	}
	const struct nlb_appliance_rule *u = &f.rule[0];
	if (f.n != 1 || u->sport_lo > u->sport_hi || u->dport_lo > u->dport_hi)
		abort();
	char canon[NLB_APPLIANCE_RULE_TEXT];
	nlb_appliance_rule_text(u, canon);
	if (nlb_appliance_filter_add(&g, canon, err, sizeof(err)) != 0 ||
	    memcmp(&f.rule[0], &g.rule[0], sizeof(f.rule[0])) != 0) {
		fprintf(stderr, "fuzz_appliance_filter: \"%s\" -> \"%s\" does not round trip\n", text,
			canon);
		abort();
	}
	return 0;
}
