/* UDP test targets and clients.  A target answers every datagram with
 * "<its port>:<the sender's port>:<the datagram>", so a client sees which
 * target served it and through which of nlb's sockets (one per flow).
 * With tcp set it also echoes TCP on the same port (tcp_udp listeners,
 * and health checks, which probe over TCP). */
#ifndef NLB_TEST_UDP_SRV_H
#define NLB_TEST_UDP_SRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct t_udp_server;

/* On ip ("127.0.0.1" or "::1"), port 0 = a free one; NULL on failure. */
struct t_udp_server *t_udp_server_start(const char *ip, uint16_t port, bool tcp);
/* Closes its sockets and joins its thread; the port is kept for restart. */
void t_udp_server_stop(struct t_udp_server *s);
int t_udp_server_restart(struct t_udp_server *s);
void t_udp_server_free(struct t_udp_server *s);
uint16_t t_udp_server_port(const struct t_udp_server *s);
unsigned t_udp_server_datagrams(struct t_udp_server *s);	/* answered so far */

/* A UDP socket bound to ip, any port (non-blocking); -errno on failure. */
int t_udp_socket(const char *ip);
/* A TCP socket listening on ip, any port (non-blocking: poll before
 * accepting), its port in *port; -errno on failure.  For tests that are
 * the target themselves. */
int t_tcp_listener(const char *ip, uint16_t *port);
/* Local port of fd (any socket). */
uint16_t t_udp_local_port(int fd);

/* Sends len bytes of msg to ip:port and waits up to timeout_ms for one
 * datagram, which must come from ip:port (else -EPROTO).  Returns its
 * length (copied into answer, NUL-terminated, cap > 0) or -ETIMEDOUT. */
ssize_t t_udp_ask(int fd, const char *ip, uint16_t port, const void *msg, size_t len,
		  char *answer, size_t cap, int timeout_ms);

/* Sends one datagram to ip:port; 0 or -errno. */
int t_udp_send_to(int fd, const char *ip, uint16_t port, const void *buf, size_t len);
/* Sends len bytes as one GSO batch of seg-byte datagrams (one sendmsg
 * with UDP_SEGMENT); 0 or -errno. */
int t_udp_send_gso(int fd, const char *ip, uint16_t port, const void *buf, size_t len,
		   uint16_t seg);
int t_udp_send_gso_sa(int fd, const struct sockaddr_storage *to, const void *buf, size_t len,
		      uint16_t seg);
/* Waits up to timeout_ms for one datagram; its length (and sender, when
 * from is not NULL) or -ETIMEDOUT. */
ssize_t t_udp_recv_from(int fd, void *buf, size_t cap, int timeout_ms,
			struct sockaddr_storage *from);
uint16_t t_sockaddr_port(const struct sockaddr_storage *ss);

/* Parses an answer "<target>:<via>:..." into the target's port and the
 * port of nlb's socket it came through; 0 or -EINVAL. */
int t_udp_answer_parse(const char *answer, unsigned *target, unsigned *via);

#endif
