/* The ALPN list and server name of a TLS client's hello, as nlb's
 * callbacks read them (tls_hello.h). */
#include "tls_hello.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

int nlb_alpn_pick_http1(const unsigned char *in, unsigned inlen, const unsigned char **out,
			unsigned char *outlen)
{
	static const char *const prefs[] = { "http/1.1", "http/1.0" };

	for (size_t p = 0; p < sizeof(prefs) / sizeof(prefs[0]); p++) {
		size_t plen = strlen(prefs[p]);
		for (unsigned i = 0; i < inlen;) {
			unsigned l = in[i];
			if (l == 0 || i + 1 + l > inlen)
				break;
			if (l == plen && memcmp(in + i + 1, prefs[p], plen) == 0) {
				*out = in + i + 1;
				*outlen = (unsigned char)l;
				return 0;
			}
			i += 1 + l;
		}
	}
	return -ENOENT;
}

enum nlb_sni_match nlb_sni_match(const char *name, const char *sni)
{
	if (strcasecmp(name, sni) == 0)
		return NLB_SNI_EXACT;
	const char *dot = strchr(sni, '.');
	if (dot != NULL && dot != sni && name[0] == '*' && name[1] == '.' &&
	    strcasecmp(name + 1, dot) == 0)
		return NLB_SNI_WILDCARD;
	return NLB_SNI_NONE;
}
