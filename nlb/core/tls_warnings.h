/* What a configuration's TLS does that is allowed but worth a warning:
 * a target group that encrypts without verifying, a ticket_keys file no
 * session can use (session_tickets = 0), and (after the
 * privilege drop) each certificate, key or ticket key file the user nlb
 * now runs as cannot read, on which the next reload would fail. */
#ifndef NLB_CORE_TLS_WARNINGS_H
#define NLB_CORE_TLS_WARNINGS_H

#include <stdbool.h>

#include "config.h"

/* Calls warn with each warning, one line naming file:line; with
 * check_access, the unreadable files too.  Returns how many. */
unsigned tls_warnings(const struct nlb_config *cfg, bool check_access,
		      void (*warn)(const char *line, void *arg), void *arg);

#endif
