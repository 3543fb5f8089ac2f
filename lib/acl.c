/* CIDR parsing and the prefix set behind allow/deny lists (see acl.h).
 * Owns the build (sort, drop covered prefixes, compile a path-compressed
 * 256-way trie into one array of nodes) and the lock-free lookup. */
#include "acl.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The trie.  Only membership is asked, so the build first reduces the
 * prefixes to a sorted set of disjoint ones (a prefix inside another adds
 * nothing to the union).  Then each node examines one byte of the
 * address, at index depth, and each of its 256 slots is one of:
 *   full  - every address through this slot is in the set (a prefix of
 *           length <= 8 * (depth + 1) ends here, expanded over the
 *           2^(8 * (depth + 1) - len) slots it spans),
 *   child - some are: go down to the child node,
 *   empty - none are.
 * Two 256-bit maps say which; the children of a node sit next to each
 * other in the array, so a child's index is child_base plus the number of
 * child bits below its slot (rank gives the count for the words before
 * the slot's word, one popcount the rest).
 *
 * Path compression: a node's depth is the first byte where its prefixes
 * differ or one of them ends, not its parent's depth + 1.  Bytes skipped
 * on the way down are not compared while descending; a hit is confirmed
 * once, at the end, against the node's key (the address bytes above its
 * depth).  That is enough: prefixes that could contain the address all
 * lie on the one path its bytes select, so if the skipped bytes differ,
 * nothing contains it, and a miss on the way is a miss anyway.
 *
 * Every node ends a prefix or has two or more children, so n disjoint
 * prefixes make at most 2n - 1 nodes, whatever their lengths: 96 bytes a
 * node bounds the set at 192 bytes a prefix.  A lookup visits at most 16
 * nodes; an IPv4 one usually 3 to 6 (the mapped ::ffff: head is skipped
 * in one step). */
struct acl_slots {
	uint64_t child;
	uint64_t full;
};

struct acl_node {
	uint32_t child_base;	/* index of the child of the lowest slot */
	uint8_t depth;		/* the address byte examined, 0..15 */
	uint8_t rank[4];	/* children in slot words before word w */
	struct acl_slots slot[4];	/* word w: slots 64w .. 64w + 63 */
	uint8_t key[16];	/* address bytes [0, depth); the rest 0 */
};

_Static_assert(sizeof(struct acl_node) == 96, "acl node layout");

struct nlb_acl {
	struct nlb_cidr *prefixes;	/* until built; NULL after */
	size_t n_prefixes, cap_prefixes;
	size_t count;			/* successful adds */
	struct acl_node *nodes;		/* after build; NULL when empty */
	uint32_t n_nodes;
	bool built;
};

static const uint8_t v4_mapped_head[12] = { [10] = 0xff, [11] = 0xff };

/* ------------------------------------------------------------------ */
/* Prefixes */

/* Whether addr's bits past len are all zero. */
static bool host_bits_clear(const uint8_t addr[16], unsigned len)
{
	unsigned i = len / 8;

	if (len % 8 != 0) {
		if (addr[i] & (0xffu >> (len % 8)))
			return false;
		i++;
	}
	for (; i < 16; i++)
		if (addr[i] != 0)
			return false;
	return true;
}

/* Whether a and b agree on their first len bits. */
static bool same_head(const uint8_t *a, const uint8_t *b, unsigned len)
{
	unsigned whole = len / 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (len % 8 == 0)
		return true;
	unsigned mask = 0xffu << (8 - len % 8);
	return ((a[whole] ^ b[whole]) & mask) == 0;
}

bool nlb_cidr_contains(const struct nlb_cidr *c, const uint8_t addr[16])
{
	return same_head(c->addr, addr, c->len);
}

/* A decimal length 0..max: digits only, no leading zero but "0" itself.
 * Three digits cover 128, so anything longer is refused before it can
 * overflow. */
static int parse_len(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= 3)
			return -EINVAL;
		v = v * 10 + (unsigned)(s[n] - '0');
	}
	if (n == 0 || (n > 1 && s[0] == '0') || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int nlb_cidr_parse(const char *text, struct nlb_cidr *out)
{
	char host[INET6_ADDRSTRLEN];
	struct nlb_cidr c;
	unsigned max, len;

	if (text == NULL || out == NULL)
		return -EINVAL;
	const char *slash = strchr(text, '/');
	size_t host_len = slash != NULL ? (size_t)(slash - text) : strlen(text);
	if (host_len == 0 || host_len >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, host_len);
	host[host_len] = '\0';

	memset(&c, 0, sizeof(c));
	/* inet_pton is strict enough for both families: four-part dotted
	 * decimal only (no "10.1", hex or octal), and no "%scope". */
	if (strchr(host, ':') != NULL) {
		if (inet_pton(AF_INET6, host, c.addr) != 1)
			return -EINVAL;
		max = 128;
	} else {
		memcpy(c.addr, v4_mapped_head, sizeof(v4_mapped_head));
		if (inet_pton(AF_INET, host, c.addr + 12) != 1)
			return -EINVAL;
		max = 32;
	}
	if (slash == NULL)
		len = max;
	else if (parse_len(slash + 1, max, &len) < 0)
		return -EINVAL;
	c.len = (uint8_t)(128 - max + len);
	if (!host_bits_clear(c.addr, c.len))
		return -EINVAL;
	*out = c;
	return 0;
}

const char *nlb_cidr_format(const struct nlb_cidr *c, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (buf == NULL || len == 0)
		return buf;
	if (c == NULL || c->len > 128) {
		snprintf(buf, len, "?");
		return buf;
	}
	if (c->len >= 96 &&
	    memcmp(c->addr, v4_mapped_head, sizeof(v4_mapped_head)) == 0) {
		inet_ntop(AF_INET, c->addr + 12, host, sizeof(host));
		snprintf(buf, len, "%s/%u", host, c->len - 96u);
	} else {
		inet_ntop(AF_INET6, c->addr, host, sizeof(host));
		snprintf(buf, len, "%s/%u", host, (unsigned)c->len);
	}
	return buf;
}

/* ------------------------------------------------------------------ */
/* Building */

struct nlb_acl *nlb_acl_new(void)
{
	return calloc(1, sizeof(struct nlb_acl));
}

int nlb_acl_add(struct nlb_acl *acl, const struct nlb_cidr *c)
{
	if (acl == NULL || c == NULL || c->len > 128 ||
	    !host_bits_clear(c->addr, c->len))
		return -EINVAL;
	if (acl->built)
		return -EBUSY;
	if (acl->n_prefixes >= NLB_ACL_MAX_PREFIXES)
		return -ENOSPC;
	if (acl->n_prefixes == acl->cap_prefixes) {
		size_t cap = acl->cap_prefixes != 0 ? 2 * acl->cap_prefixes : 16;
		struct nlb_cidr *p = realloc(acl->prefixes, cap * sizeof(*p));
		if (p == NULL)
			return -ENOMEM;
		acl->prefixes = p;
		acl->cap_prefixes = cap;
	}
	acl->prefixes[acl->n_prefixes++] = *c;
	acl->count++;
	return 0;
}

/* Eight bytes of an address as a number, first byte most significant. */
static uint64_t load_be64(const uint8_t *b)
{
	uint64_t v;

	memcpy(&v, b, sizeof(v));
	return be64toh(v);
}

/* Address order, shorter first among equal addresses: a prefix then
 * comes before every prefix it contains.  Two 64-bit compares instead of
 * memcmp: sorting is most of a build. */
static int by_addr_then_len(const void *a, const void *b)
{
	const struct nlb_cidr *x = a, *y = b;
	uint64_t xh = load_be64(x->addr), yh = load_be64(y->addr);
	if (xh != yh)
		return xh < yh ? -1 : 1;
	uint64_t xl = load_be64(x->addr + 8), yl = load_be64(y->addr + 8);
	if (xl != yl)
		return xl < yl ? -1 : 1;
	return (int)x->len - (int)y->len;
}

/* Sorts p[0..n) and keeps only prefixes not contained in another (which
 * also drops duplicates); returns how many remain, sorted and disjoint.
 * Comparing with the last one kept is enough: a prefix that contains the
 * current one sorts before it, and anything kept since would lie inside
 * it too, so would not have been kept. */
static size_t reduce(struct nlb_cidr *p, size_t n)
{
	size_t kept = 0;

	if (n == 0)
		return 0;	/* p may be NULL, which qsort must not see */
	qsort(p, n, sizeof(*p), by_addr_then_len);
	for (size_t i = 0; i < n; i++) {
		if (kept > 0 && p[kept - 1].len <= p[i].len &&
		    same_head(p[kept - 1].addr, p[i].addr, p[kept - 1].len))
			continue;
		p[kept++] = p[i];
	}
	return kept;
}

struct builder {
	struct acl_node *nodes;
	uint32_t n, cap;
};

/* Appends k zeroed nodes; their first index goes to *first.  Nodes move
 * when the array grows: callers hold indexes, never pointers, across it. */
static int append_nodes(struct builder *b, uint32_t k, uint32_t *first)
{
	if (k > b->cap - b->n) {
		uint32_t cap = b->cap != 0 ? b->cap : 64;
		while (cap - b->n < k)
			cap *= 2;
		struct acl_node *nodes = realloc(b->nodes, (size_t)cap *
						 sizeof(*nodes));
		if (nodes == NULL)
			return -ENOMEM;
		b->nodes = nodes;
		b->cap = cap;
	}
	memset(&b->nodes[b->n], 0, (size_t)k * sizeof(b->nodes[0]));
	*first = b->n;
	b->n += k;
	return 0;
}

static unsigned common_bytes(const uint8_t *a, const uint8_t *b)
{
	unsigned i = 0;

	while (i < 16 && a[i] == b[i])
		i++;
	return i;
}

/* Marks slots [first, first + n) full; n is a power of two up to 256 and
 * first a multiple of it, so the run never straddles a word unless it
 * covers whole words. */
static void mark_full(struct acl_node *node, unsigned first, unsigned n)
{
	if (n >= 64) {
		for (unsigned w = first / 64; w < (first + n) / 64; w++)
			node->slot[w].full = ~0ULL;
		return;
	}
	node->slot[first / 64].full |= ((1ULL << n) - 1) << (first % 64);
}

static unsigned popcount64(uint64_t x)
{
#ifdef __POPCNT__
	return (unsigned)__builtin_popcountll(x);
#else
	/* Without -mpopcnt the builtin is a libgcc call; this is a handful
	 * of ALU operations. */
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (unsigned)((x * 0x0101010101010101ULL) >> 56);
#endif
}

/* The last byte a prefix of len bits reaches into, 0 for /0. */
static unsigned last_byte(unsigned len)
{
	return len == 0 ? 0 : (len - 1) / 8;
}

/* Fills node `at` from p[0..n) (n >= 1): sorted, disjoint, agreeing on
 * the bytes above the parent's slot, and each reaching past that slot's
 * byte (or the whole set, for the root).  Recursion depth is at most 16:
 * each level examines a deeper byte. */
static int build_node(struct builder *b, uint32_t at,
		      const struct nlb_cidr *p, size_t n)
{
	struct acl_node node;
	unsigned depth = common_bytes(p[0].addr, p[n - 1].addr);

	/* Sorted, so the first and last agree on what all agree on; stop
	 * earlier where a prefix ends. */
	for (size_t i = 0; i < n; i++)
		if (last_byte(p[i].len) < depth)
			depth = last_byte(p[i].len);

	memset(&node, 0, sizeof(node));
	node.depth = (uint8_t)depth;
	memcpy(node.key, p[0].addr, depth);

	/* First pass: full slots and which slots have children.  A prefix
	 * ending in this byte is alone in the slots it spans (the set is
	 * disjoint); longer ones group by their byte into one child. */
	unsigned end_bits = 8 * (depth + 1);
	uint32_t children = 0;
	for (size_t i = 0; i < n;) {
		unsigned s = p[i].addr[depth];
		if (p[i].len <= end_bits) {
			mark_full(&node, s, 1u << (end_bits - p[i].len));
			i++;
			continue;
		}
		while (i < n && p[i].addr[depth] == s)
			i++;
		node.slot[s / 64].child |= 1ULL << (s % 64);
		children++;
	}
	for (unsigned w = 1; w < 4; w++)
		node.rank[w] = (uint8_t)(node.rank[w - 1] +
					 popcount64(node.slot[w - 1].child));
	if (children > 0) {
		int r = append_nodes(b, children, &node.child_base);
		if (r < 0)
			return r;
	}
	b->nodes[at] = node;

	/* Second pass: the children, in slot order. */
	uint32_t next = node.child_base;
	for (size_t i = 0; i < n;) {
		unsigned s = p[i].addr[depth];
		if (p[i].len <= end_bits) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && p[j].addr[depth] == s)
			j++;
		int r = build_node(b, next++, p + i, j - i);
		if (r < 0)
			return r;
		i = j;
	}
	return 0;
}

int nlb_acl_build(struct nlb_acl *acl)
{
	struct builder b = { NULL, 0, 0 };

	if (acl == NULL)
		return -EINVAL;
	if (acl->built)
		return 0;
	/* Sorting in place is harmless if the build fails: the set is the
	 * same, and a retry sorts again. */
	size_t n = reduce(acl->prefixes, acl->n_prefixes);
	acl->n_prefixes = n;
	if (n > 0) {
		uint32_t root;
		int r = append_nodes(&b, 1, &root);
		if (r == 0)
			r = build_node(&b, root, acl->prefixes, n);
		if (r < 0) {
			free(b.nodes);
			return r;
		}
		/* Give back what doubling overshot. */
		struct acl_node *fit = realloc(b.nodes, (size_t)b.n *
					       sizeof(*fit));
		if (fit != NULL)
			b.nodes = fit;
	}
	free(acl->prefixes);
	acl->prefixes = NULL;
	acl->n_prefixes = acl->cap_prefixes = 0;
	acl->nodes = b.nodes;
	acl->n_nodes = b.n;
	acl->built = true;
	return 0;
}

void nlb_acl_free(struct nlb_acl *acl)
{
	if (acl == NULL)
		return;
	free(acl->prefixes);
	free(acl->nodes);
	free(acl);
}

size_t nlb_acl_count(const struct nlb_acl *acl)
{
	return acl != NULL ? acl->count : 0;
}

size_t nlb_acl_memory(const struct nlb_acl *acl)
{
	if (acl == NULL)
		return 0;
	return sizeof(*acl) + acl->cap_prefixes * sizeof(acl->prefixes[0]) +
	       (size_t)acl->n_nodes * sizeof(acl->nodes[0]);
}

/* ------------------------------------------------------------------ */
/* Lookup */

/* Whether addr's first node->depth bytes are the node's key: two masked
 * 64-bit compares.  The words are loaded in memory order, so "the first
 * k bytes" are the low bits on a little-endian host, the high ones on a
 * big-endian one. */
static bool key_matches(const struct acl_node *node, const uint8_t addr[16])
{
	uint64_t a[2], k[2], m[2];

	memcpy(a, addr, sizeof(a));
	memcpy(k, node->key, sizeof(k));
	for (unsigned w = 0; w < 2; w++) {
		int bytes = (int)node->depth - 8 * (int)w;
		if (bytes >= 8)
			m[w] = ~0ULL;
		else if (bytes <= 0)
			m[w] = 0;
		else
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			m[w] = (1ULL << (8 * bytes)) - 1;
#else
			m[w] = ~0ULL << (64 - 8 * bytes);
#endif
	}
	return (((a[0] ^ k[0]) & m[0]) | ((a[1] ^ k[1]) & m[1])) == 0;
}

bool nlb_acl_match(const struct nlb_acl *acl, const uint8_t addr[16])
{
	if (acl == NULL || acl->n_nodes == 0 || addr == NULL)
		return false;

	const struct acl_node *nodes = acl->nodes;
	const struct acl_node *node = &nodes[0];
	for (;;) {
		unsigned s = addr[node->depth];
		const struct acl_slots *w = &node->slot[s / 64];
		uint64_t bit = 1ULL << (s % 64);
		if (w->full & bit)
			return key_matches(node, addr);
		if (!(w->child & bit))
			return false;
		node = &nodes[node->child_base + node->rank[s / 64] +
			      popcount64(w->child & (bit - 1))];
	}
}

bool nlb_acl_match_sockaddr(const struct nlb_acl *acl,
			    const struct sockaddr *sa)
{
	uint8_t addr[16];

	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		memcpy(addr, v4_mapped_head, sizeof(v4_mapped_head));
		memcpy(addr + 12, &sin->sin_addr, 4);
		return nlb_acl_match(acl, addr);
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
			(const struct sockaddr_in6 *)sa;
		return nlb_acl_match(acl, sin6->sin6_addr.s6_addr);
	}
	return false;
}

bool nlb_acl_equal(const struct nlb_acl *a, const struct nlb_acl *b)
{
	uint32_t na = a && a->built ? a->n_nodes : 0;
	uint32_t nb = b && b->built ? b->n_nodes : 0;
	if (na != nb)
		return false;
	/* Field by field: a node has padding, which memcmp would read. */
	for (uint32_t i = 0; i < na; i++) {
		const struct acl_node *x = &a->nodes[i], *y = &b->nodes[i];
		if (x->child_base != y->child_base || x->depth != y->depth ||
		    memcmp(x->rank, y->rank, sizeof(x->rank)) != 0 ||
		    memcmp(x->key, y->key, sizeof(x->key)) != 0)
			return false;
		for (int w = 0; w < 4; w++)
			if (x->slot[w].child != y->slot[w].child || x->slot[w].full != y->slot[w].full)
				return false;
	}
	return true;
}
