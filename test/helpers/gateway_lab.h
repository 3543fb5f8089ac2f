/* The gateway-mode lab: four network namespaces -- a client, a server, a
 * router "gw" between them where nlb runs, and "appl" with two GENEVE
 * appliances -- in plain routing or with both directions of every
 * client-server flow sent into the TUN device nlbgw0 in gw (the worked
 * routing example of doc/gateway.md; bench/gateway-lab builds the same
 * lab by hand under fixed names).  And a stand-in for nlb on that TUN
 * that writes every packet straight back, to try the routing and the tun
 * driver's queue selection without nlb.
 *
 *   client                    gw                              server
 *   to-gw 10.10.1.2/24 ---- to-client 10.10.1.1/24
 *         fd00:1::2/64               fd00:1::1/64
 *                           to-server 10.10.2.1/24 ---- to-gw 10.10.2.2/24
 *                                     fd00:2::1/64            fd00:2::2/64
 *                           to-appl   10.10.3.1/24 ---- to-gw 10.10.3.2/24 (appl)
 *                                                             10.10.3.3/24
 *                           nlbgw0 (T_GWLAB_GATEWAY only)
 *
 * Tests use it as:
 *
 *	struct t_gwlab lab;
 *	int rc = t_gwlab_up(&lab, T_GWLAB_GATEWAY);
 *	T_ASSERT(rc == 0, ": %s", t_netns_err());
 *	struct t_nlb *srv = t_netns_spawn(lab.server, argv);   (and so on)
 *	...
 *	t_gwlab_down(&lab);
 *
 * The namespaces are registered (netns.h): a failed test's teardown
 * deletes them and kills what runs inside. */
#ifndef NLB_TEST_GATEWAY_LAB_H
#define NLB_TEST_GATEWAY_LAB_H

#include <stdbool.h>
#include <stdint.h>

#include "netns.h"

/* Addresses, for configuration text and argv. */
#define T_GWLAB_CLIENT4		"10.10.1.2"
#define T_GWLAB_GW_CLIENT4	"10.10.1.1"
#define T_GWLAB_SERVER4		"10.10.2.2"
#define T_GWLAB_GW_SERVER4	"10.10.2.1"
#define T_GWLAB_GW_APPL4	"10.10.3.1"
#define T_GWLAB_APPL4_1		"10.10.3.2"
#define T_GWLAB_APPL4_2		"10.10.3.3"
#define T_GWLAB_CLIENT6		"fd00:1::2"
#define T_GWLAB_GW_CLIENT6	"fd00:1::1"
#define T_GWLAB_SERVER6		"fd00:2::2"
#define T_GWLAB_GW_SERVER6	"fd00:2::1"
/* Interfaces: gw's end of each link, and the other end (in client,
 * server and appl alike). */
#define T_GWLAB_IF_CLIENT	"to-client"
#define T_GWLAB_IF_SERVER	"to-server"
#define T_GWLAB_IF_APPL		"to-appl"
#define T_GWLAB_IF_PEER		"to-gw"
#define T_GWLAB_TUN		"nlbgw0"
#define T_GWLAB_TUN_MTU		8500
#define T_GWLAB_TABLE		100	/* the policy routing table into the TUN */

enum t_gwlab_mode {
	T_GWLAB_PLAIN = 0,	/* gw routes between client and server */
	T_GWLAB_GATEWAY,	/* and routes what comes from either into nlbgw0 */
};

struct t_gwlab {
	enum t_gwlab_mode mode;
	struct t_netns *client, *gw, *server, *appl;
	/* The T_GWLAB_ constants above, for tests that prefer fields. */
	const char *client4, *gw_client4, *server4, *gw_server4;
	const char *client6, *gw_client6, *server6, *gw_server6;
	const char *gw_appl4, *appl4[2];
	const char *tun;		/* T_GWLAB_TUN in gateway mode, else NULL */
};

/* Builds the lab in mode (see gateway_lab.c for each step and why).  0,
 * or -errno with the failing step in t_netns_err(); on failure nothing
 * of the lab is left. */
int t_gwlab_up(struct t_gwlab *lab, enum t_gwlab_mode mode);

/* Deletes the lab's namespaces, killing whatever still runs inside (stop
 * your processes first to see them exit cleanly).  Safe to call twice. */
void t_gwlab_down(struct t_gwlab *lab);

/* ---- a stand-in for nlb on the TUN ---------------------------------- */

/* What the reflector saw.  A flow is its protocol, its two addresses and
 * (TCP, UDP) two ports, either way round, like the tun driver's
 * symmetric flow hash. */
struct t_gwlab_reflected {
	uint64_t packets;	/* read from the TUN and written back */
	uint64_t per_queue[8];	/* read, by queue */
	uint64_t write_errors;
	unsigned flows;		/* distinct flows */
	unsigned split_flows;	/* flows that came out of more than one queue */
	/* Packets that came 20 ms or more after their flow was last written
	 * back (so after the kernel had taken note of that write), and how
	 * many of those came out of the queue that write was on. */
	uint64_t settled, settled_followed;
};

struct t_gwlab_reflector;

/* Attaches queues (1..8) to the lab's TUN, as nlb's workers will, and
 * starts a thread that writes every packet it reads back into the TUN:
 * on the queue it came from (as an nlb worker writes a flow's packets
 * on its own queue), or with cross on the next one (queue i+1 mod
 * queues: to see whether the kernel follows the writer).  NULL (errno set, reason in t_netns_err) on failure.  Not registered:
 * stop it in the test (a failed test's process ends with its thread). */
struct t_gwlab_reflector *t_gwlab_reflect_start(const struct t_gwlab *lab, unsigned queues,
						bool cross);

/* Stops the thread, detaches the queues, fills *out (if not NULL) and
 * frees r. */
void t_gwlab_reflect_stop(struct t_gwlab_reflector *r, struct t_gwlab_reflected *out);

#endif
