/* Suite "http_path": lib/http_path.c, the path listener rules match
 * against.  Dot segments removed as RFC 3986 5.2.4's remove_dot_segments
 * does (trailing "." and ".." leave their slash), but a ".." above the
 * root refused (-ERANGE) rather than clamped; percent-encoded unreserved
 * characters decoded and other encodings upper-cased (6.2.2.1, 6.2.2.2);
 * runs of slashes merged; absolute-form targets reduced to their path;
 * '?' and '#' end the path; malformed '%', "*" and authority-form refused
 * (-EINVAL); a buffer too small refused (-ENOSPC); every result a fixed
 * point.  And nlb_http_target_query and nlb_http_target_authority. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"
#include "http_path.h"

/* Normalises in (a C string) into out[512]. */
static int norm(const char *in, char out[512])
{
	memset(out, 0x55, 512);
	return nlb_http_path_normalise(in, strlen(in), out, 512);
}

struct ok_case {
	const char *in, *want;
};

/* Each in gives want, its length, NUL-terminated; and want is a fixed
 * point. */
static void check_ok(const struct ok_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char out[512], again[512];
		int r = norm(c[i].in, out);
		cr_expect_eq(r, (int)strlen(c[i].want), "\"%s\": returned %d, want \"%s\"", c[i].in,
			     r, c[i].want);
		if (r < 0)
			continue;
		cr_expect_eq(out[r], '\0', "\"%s\": not NUL-terminated", c[i].in);
		cr_expect_str_eq(out, c[i].want, "\"%s\"", c[i].in);
		int r2 = norm(out, again);
		cr_expect_eq(r2, r, "\"%s\" again: %d", out, r2);
		if (r2 >= 0)
			cr_expect_str_eq(again, out, "not a fixed point: \"%s\"", c[i].in);
	}
}

T_UNIT(http_path, plain_paths_unchanged)
{
	static const struct ok_case c[] = {
		{ "/", "/" },
		{ "/a", "/a" },
		{ "/a/", "/a/" },
		{ "/a/b/c", "/a/b/c" },
		{ "/a.b/c-d_e~f", "/a.b/c-d_e~f" },
		{ "/...", "/..." },
		{ "/.a/..b/a./b..", "/.a/..b/a./b.." },
		{ "/a%20b", "/a%20b" },
	};
	check_ok(c, sizeof(c) / sizeof(c[0]));
}

/* RFC 3986 5.2.4's examples and its trailing cases. */
T_UNIT(http_path, dot_segments)
{
	static const struct ok_case c[] = {
		{ "/a/./b", "/a/b" },
		{ "/./a", "/a" },
		{ "/a/b/../c", "/a/c" },
		{ "/v1/../admin", "/admin" },
		{ "/a/b/c/./../../g", "/a/g" },	/* 5.2.4's example */
		{ "/mid/content=5/../6", "/mid/6" },	/* 5.2.4's second */
		{ "/a/b/..", "/a/" },
		{ "/a/b/../", "/a/" },
		{ "/a/.", "/a/" },
		{ "/a/./", "/a/" },
		{ "/a/..", "/" },
		{ "/.", "/" },
		{ "/./", "/" },
		{ "/a/b/./.", "/a/b/" },
		{ "/a/../b/../c", "/c" },
	};
	check_ok(c, sizeof(c) / sizeof(c[0]));
}

T_UNIT(http_path, encoded_dots_are_dots)
{
	static const struct ok_case c[] = {
		{ "/a/%2e%2e/b", "/b" },
		{ "/a/%2E%2e/b", "/b" },
		{ "/a/%2E%2E/b", "/b" },
		{ "/a/.%2e/b", "/b" },
		{ "/a/%2e./b", "/b" },
		{ "/a/%2e/b", "/a/b" },
		{ "/a/%2e", "/a/" },
		{ "/a/%2e%2e%2e", "/a/..." },
		{ "/v1/%2e%2e/admin", "/admin" },
		{ "/a/b/%2e%2e", "/a/" },
	};
	check_ok(c, sizeof(c) / sizeof(c[0]));
}

T_UNIT(http_path, slashes_merged)
{
	static const struct ok_case c[] = {
		{ "//admin", "/admin" },
		{ "/a//b", "/a/b" },
		{ "///a///b///", "/a/b/" },
		{ "//", "/" },
		{ "/a//..", "/" },
		{ "/a/..//b", "/b" },
	};
	check_ok(c, sizeof(c) / sizeof(c[0]));
}

/* 6.2.2.2: unreserved decoded; 6.2.2.1: the rest kept, upper-cased. */
T_UNIT(http_path, percent_encodings)
{
	static const struct ok_case c[] = {
		{ "/%61dmin", "/admin" },
		{ "/%41%5a%30%39", "/AZ09" },
		{ "/%7E", "/~" },
		{ "/%7e", "/~" },
		{ "/%2d%2E%5f%7e", "/-._~" },
		{ "/a%2fb", "/a%2Fb" },
		{ "/a%2Fb", "/a%2Fb" },
		{ "/a%2f..%2fb", "/a%2F..%2Fb" },	/* one segment, not a dot segment */
		{ "/%3f%23%25%20", "/%3F%23%25%20" },
		{ "/%c3%a9", "/%C3%A9" },
		{ "/%00", "/%00" },
		{ "/%ff", "/%FF" },
	};
	check_ok(c, sizeof(c) / sizeof(c[0]));
}

T_UNIT(http_path, query_and_fragment_end_the_path)
{
	static const struct ok_case c[] = {
		{ "/a?b", "/a" },
		{ "/a/?b/../..", "/a/" },
		{ "/a/b/..?x=/../..", "/a/" },
		{ "/a#/../..", "/a" },
		{ "/?", "/" },
		{ "/a?%zz", "/a" },	/* the query is not decoded */
		{ "/a#b?c", "/a" },
	};
	check_ok(c, sizeof(c) / sizeof(c[0]));
}

T_UNIT(http_path, absolute_form)
{
	static const struct ok_case c[] = {
		{ "http://h:80/a/../b?q", "/b" },
		{ "http://h", "/" },
		{ "http://h?q=/a", "/" },
		{ "http://h/", "/" },
		{ "https://example.com//x//y", "/x/y" },
		{ "http://h/%61", "/a" },
		{ "x://h/a/.", "/a/" },
	};
	check_ok(c, sizeof(c) / sizeof(c[0]));
}

static void check_err(const char *const *in, size_t n, int want)
{
	for (size_t i = 0; i < n; i++) {
		char out[512];
		int r = norm(in[i], out);
		cr_expect_eq(r, want, "\"%s\": returned %d, want %d", in[i], r, want);
	}
}

T_UNIT(http_path, above_the_root_is_erange)
{
	static const char *const in[] = {
		"/..", "/../", "/../a", "/%2e%2e/admin", "/a/../..", "/a/../../b", "/%2e%2e/x", "/%2E%2E", "/./..",
		"//./..//x/", "/a/b/../../..", "http://h/../a", "http://h/a/%2e%2e/..",
	};
	check_err(in, sizeof(in) / sizeof(in[0]), -ERANGE);
}

T_UNIT(http_path, bad_percent_is_einval)
{
	static const char *const in[] = {
		"/%", "/%zz", "/%4", "/a%4/b", "/%g1", "/%1g", "/a/%", "/%%41", "/%4?1", "/%4#1",
		"http://h/%",
	};
	check_err(in, sizeof(in) / sizeof(in[0]), -EINVAL);
}

T_UNIT(http_path, not_a_path_is_einval)
{
	static const char *const in[] = {
		"*", "example.com:443", "example.com", "h:80", "", "a/b", "http:/a", "http:",
		"://h/a", "?a", "http//h/a",
	};
	check_err(in, sizeof(in) / sizeof(in[0]), -EINVAL);
}

T_UNIT(http_path, buffer_too_small_is_enospc)
{
	char out[64];
	/* cap must be at least len + 3 */
	const char *t = "/abc";
	cr_expect_eq(nlb_http_path_normalise(t, 4, out, 7), 4);
	cr_expect_str_eq(out, "/abc");
	cr_expect_eq(nlb_http_path_normalise(t, 4, out, 6), -ENOSPC);
	cr_expect_eq(nlb_http_path_normalise(t, 4, out, 2), -ENOSPC);
	cr_expect_eq(nlb_http_path_normalise(t, 4, out, 0), -ENOSPC);
	/* the worst case fits in len + 3: "/" plus a segment and its '/' */
	const char *u = "/a/b/c/";
	cr_expect_eq(nlb_http_path_normalise(u, 7, out, 10), 7);
	cr_expect_str_eq(out, "/a/b/c/");
	/* the form is judged before the size */
	cr_expect_eq(nlb_http_path_normalise("*", 1, out, 0), -EINVAL);
}

/* The length given is the target: bytes past it are not read. */
T_UNIT(http_path, length_bounds_the_target)
{
	char out[64];
	const char *t = "/a/b/../../../x";
	cr_expect_eq(nlb_http_path_normalise(t, 4, out, sizeof(out)), 4);
	cr_expect_str_eq(out, "/a/b");
	cr_expect_eq(nlb_http_path_normalise(t, 7, out, sizeof(out)), 3);
	cr_expect_str_eq(out, "/a/");
	cr_expect_eq(nlb_http_path_normalise("/%41", 3, out, sizeof(out)), -EINVAL);
}

/* Fixed points over every path of "/" and up to 4 bytes from an alphabet that
 * holds every byte the normaliser treats specially. */
T_UNIT(http_path, idempotent_exhaustive)
{
	static const char alpha[] = "/.a%2eE?";
	const size_t k = sizeof(alpha) - 1;
	char in[8], out[512], again[512];
	unsigned ok = 0;
	for (size_t len = 1; len <= 5; len++) {
		size_t total = 1;
		for (size_t i = 1; i < len; i++)
			total *= k;
		for (size_t code = 0; code < total; code++) {
			in[0] = '/';
			size_t c = code;
			for (size_t i = 1; i < len; i++, c /= k)
				in[i] = alpha[c % k];
			in[len] = '\0';
			int r = norm(in, out);
			cr_assert(r >= 0 || r == -ERANGE || r == -EINVAL, "\"%s\": %d", in, r);
			if (r < 0)
				continue;
			ok++;
			cr_assert_eq(out[0], '/', "\"%s\" -> \"%s\"", in, out);
			cr_assert(!strstr(out, "//") && !strstr(out, "/./") && !strstr(out, "/../"),
				  "\"%s\" -> \"%s\"", in, out);
			size_t n = strlen(out);
			cr_assert(!(n >= 2 && strcmp(out + n - 2, "/.") == 0) &&
				  !(n >= 3 && strcmp(out + n - 3, "/..") == 0),
				  "\"%s\" -> \"%s\"", in, out);
			cr_assert_eq(norm(out, again), r, "\"%s\" -> \"%s\"", in, out);
			cr_assert_str_eq(again, out, "\"%s\"", in);
		}
	}
	cr_expect_gt(ok, 500, "only %u accepted", ok);
}

T_UNIT(http_path, target_query)
{
	static const struct {
		const char *t, *want;
	} c[] = {
		{ "/a?b=1&c", "b=1&c" },
		{ "/a?", "" },
		{ "/a??x", "?x" },
		{ "/a?b?c", "b?c" },
		{ "http://h/a?q", "q" },
		{ "http://h?q", "q" },
		{ "?", "" },
		{ "/a?b=1#frag", "b=1" },
		{ "/a?#", "" },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		size_t qlen = 99;
		const char *q = nlb_http_target_query(c[i].t, strlen(c[i].t), &qlen);
		cr_expect_eq(qlen, strlen(c[i].want), "\"%s\": %zu", c[i].t, qlen);
		cr_expect_eq(q, strchr(c[i].t, '?') + 1, "\"%s\"", c[i].t);
		cr_expect_eq(memcmp(q, c[i].want, qlen), 0, "\"%s\"", c[i].t);
	}
	/* none: length 0, a pointer past the target */
	const char *t = "/a/b";
	size_t qlen = 99;
	cr_expect_eq(nlb_http_target_query(t, 4, &qlen), t + 4);
	cr_expect_eq(qlen, 0);
	/* a '?' past the length is not the target's */
	t = "/a?b";
	cr_expect_eq(nlb_http_target_query(t, 2, &qlen), t + 2);
	cr_expect_eq(qlen, 0);
	cr_expect_eq(nlb_http_target_query(t, 0, &qlen), t);
	cr_expect_eq(qlen, 0);
}

T_UNIT(http_path, target_authority)
{
	static const struct {
		const char *t, *want;	/* want NULL: none */
	} c[] = {
		{ "http://h.example:8080/a?q", "h.example:8080" },
		{ "HTTPS://H.example", "H.example" },
		{ "http://user:pw@admin.internal/x", "admin.internal" },
		{ "http://a@b@c/x", "c" },
		{ "http://[::1]:80?q", "[::1]:80" },
		{ "http://h#f", "h" },
		{ "http:///a", NULL },
		{ "/a/b", NULL },
		{ "*", NULL },
		{ "h.example:443", NULL },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		size_t alen = 99;
		const char *a = nlb_http_target_authority(c[i].t, strlen(c[i].t), &alen);
		if (!c[i].want) {
			cr_expect_null(a, "\"%s\"", c[i].t);
			cr_expect_eq(alen, 0, "\"%s\"", c[i].t);
			continue;
		}
		cr_assert_not_null(a, "\"%s\"", c[i].t);
		cr_expect(alen == strlen(c[i].want) && memcmp(a, c[i].want, alen) == 0,
			  "\"%s\": \"%.*s\", want \"%s\"", c[i].t, (int)alen, a, c[i].want);
	}
}
