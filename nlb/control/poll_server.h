/* A small stream server on one control thread (the admin socket, the
 * metrics endpoint): one poll loop over a listening socket and at most
 * max_clients non-blocking clients, each with bounded input, an output
 * buffer, idle and whole-connection timeouts, and a linger before the
 * close.  The protocol only parses what arrived and appends answers. */
#ifndef NLB_POLL_SERVER_H
#define NLB_POLL_SERVER_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/control_thread.h"
#include "strbuf.h"

struct poll_client {
	int fd;				/* -1: the slot is free */
	char *in;			/* in_max bytes: what arrived, not consumed */
	size_t in_len;
	struct nlb_strbuf out;		/* answers; out.p[out_off, out.len) not sent yet */
	size_t out_off;
	bool eof;			/* the client shut its side down */
	bool closing;			/* the protocol is done: close once out is sent */
	bool lingering;			/* ... it is: reading to the client's EOF */
	size_t discarded;		/* bytes read and dropped while lingering */
	uint64_t last_ms;		/* of the last byte in or out */
	uint64_t deadline_ms;		/* closed then whatever it does (UINT64_MAX: never) */
};

struct poll_server_conf {
	const char *name;		/* in log lines: "admin socket", "metrics" */
	unsigned max_clients;		/* more wait in the listen backlog */
	size_t in_max;			/* input held at most per client: then no more is read */
	size_t out_keep;		/* output room kept once sent; more is freed */
	uint64_t idle_ms;		/* closed after this long without a byte in or out; 0: never */
	uint64_t deadline_ms;		/* closed this long after accept; 0: never */
	/* Once the last answer is out and our FIN sent, what the client
	 * still sends is read and dropped until its EOF, so that our close
	 * is not a reset that could destroy the answer in flight: for at
	 * most linger_ms (0: no bound but the two above) and linger_max
	 * bytes (0: no bound). */
	uint64_t linger_ms;
	size_t linger_max;
	/* The protocol: called when input or EOF arrived or output went out
	 * (not once closing is set).  Consumes whole requests from in
	 * (poll_client_consume), appends answers to out, and sets closing
	 * when the connection is done.  With eof set and nothing left to
	 * send the client is closed after it returns. */
	void (*on_input)(void *arg, struct poll_client *c);
	/* Just before a close for idle_ms or deadline_ms; may be NULL. */
	void (*on_timeout)(void *arg, struct poll_client *c);
};

struct poll_server {
	const struct poll_server_conf *conf;
	void *arg;			/* passed to on_input and on_timeout */
	int lfd;			/* the caller's: listening, non-blocking */
	struct poll_client *clients;	/* max_clients slots */
	struct pollfd *pfd;		/* the stop eventfd, the clients, the listener */
	unsigned *at;			/* pfd index - 1 -> client */
	uint64_t accept_resume_ms;	/* accept failed for want of descriptors */
};

/* Ready to serve lfd (which stays the caller's).  0 or -ENOMEM. */
int poll_server_init(struct poll_server *s, const struct poll_server_conf *conf, int lfd,
		     void *arg);

/* Serves until t's stop eventfd is readable (or poll fails, logged). */
void poll_server_run(struct poll_server *s, struct control_thread *t);

/* Closes every client and frees the slots; safe on a zeroed or freed
 * server. */
void poll_server_free(struct poll_server *s);

static inline size_t poll_client_out_pending(const struct poll_client *c)
{
	return c->out.len - c->out_off;
}

/* The protocol is done with the first n bytes of in. */
void poll_client_consume(struct poll_client *c, size_t n);

#endif
