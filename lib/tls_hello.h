/* What nlb reads itself of a TLS client's hello: OpenSSL parses the
 * records, the handshake and the extensions' framing, then hands nlb's
 * callbacks (lib/tls_server.c) the ALPN list and the server name, which
 * these read.  No OpenSSL here, so they can be fuzzed alone. */
#ifndef NLB_TLS_HELLO_H
#define NLB_TLS_HELLO_H

/* The protocol an http1 listener answers from the client's ALPN list
 * (in, inlen bytes: each name a length byte, then its bytes): http/1.1
 * when offered, else http/1.0, wherever they are in the list.  Returns
 * 0 with *out and *outlen the name's bytes in in; -ENOENT when neither
 * is offered before the list ends or stops making sense (an empty name,
 * or one running past inlen): the answer then carries no ALPN. */
int nlb_alpn_pick_http1(const unsigned char *in, unsigned inlen, const unsigned char **out,
			unsigned char *outlen);

enum nlb_sni_match {
	NLB_SNI_NONE = 0,
	NLB_SNI_WILDCARD,	/* name "*.parent" and sni one label more than parent */
	NLB_SNI_EXACT,		/* the same name, ASCII case aside */
};

/* How a certificate's name holds the server name a client asked for.
 * A wildcard stands for one whole leftmost label, not an empty one. */
enum nlb_sni_match nlb_sni_match(const char *name, const char *sni);

#endif
