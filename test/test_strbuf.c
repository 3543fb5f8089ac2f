/* Suite "strbuf": lib/strbuf.c, the growable buffer the metrics scrapes
 * are built in: growth past any room, label escaping, resets. */
#include <criterion/criterion.h>

#include <string.h>

#include "helpers.h"
#include "strbuf.h"

T_UNIT(strbuf, grows_and_escapes)
{
	struct nlb_strbuf b = { 0 };
	cr_assert_eq(nlb_strbuf_status(&b), 0);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(nlb_strbuf_printf(&b, "%04d,", i), 0);
	cr_assert_eq(b.len, 5000);
	cr_assert_eq(strlen(b.p), 5000);
	cr_assert(strncmp(b.p + 4995, "0999,", 5) == 0);
	/* a single append far larger than the room */
	char big[70000];
	memset(big, 'x', sizeof(big));
	cr_assert_eq(nlb_strbuf_append(&b, big, sizeof(big)), 0);
	cr_assert_eq(b.len, 75000);
	cr_assert_eq(b.p[b.len], '\0');
	nlb_strbuf_reset(&b);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(nlb_strbuf_label_value(&b, "a\"b\\c\nd"), 0);
	cr_assert_str_eq(b.p, "a\\\"b\\\\c\\nd");
	nlb_strbuf_reset(&b);
	cr_assert_eq(nlb_strbuf_label_value(&b, ""), 0);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(nlb_strbuf_printf(&b, "%s", ""), 0);
	cr_assert_eq(nlb_strbuf_status(&b), 0);
	nlb_strbuf_free(&b);
	cr_assert_null(b.p);
}
