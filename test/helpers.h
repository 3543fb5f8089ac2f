/* Test helpers shared by every test file, one include for them all; each
 * role has its own file in test/helpers/:
 *   registry      suite setup, the leak check every test ends with
 *                 (T_TEST, T_UNIT), T_ASSERT
 *   time_ms       now, sleep, deadlines
 *   ports         free ports, held ports, listeners on a port
 *   config_files  nlb configuration files and other temp files
 *   nlb_process   running the real nlb binary and other programs, their
 *                 logs and nlb's stats line, /proc
 *   pattern       data patterns and checksums
 *   servers       in-process target servers, a target that never answers
 *   clients       client-side socket I/O, nlb's admin socket
 *   tls_peers     certificates from the openssl command, a TLS client
 *   nginx_peer    NGINX as a target, in a directory of its own
 *   nlb_runtime   nlb's runtime without workers (included on its own, with
 *                 nlb's headers, by the tests that read it)
 *
 * Conventions: functions that can fail return 0 (or a count / fd) on success
 * and -errno on failure, like the code under test.  Every helper that
 * creates a process, thread, fd or temp file has a matching cleanup, and
 * the object is registered so that a test can check that it cleaned up
 * after itself and t_teardown() can reclaim what a failed test left (an nlb
 * left running would hold its ports and outlive the test).  Use as:
 *
 *	TestSuite(foo, .init = t_setup, .fini = t_teardown);
 *	T_TEST(foo, bar, .timeout = 10) { ... }
 *
 * Everything binds and connects on 127.0.0.1 only. */
#ifndef NLB_TEST_HELPERS_H
#define NLB_TEST_HELPERS_H

#include "helpers/registry.h"
#include "helpers/time_ms.h"
#include "helpers/ports.h"
#include "helpers/config_files.h"
#include "helpers/nlb_process.h"
#include "helpers/pattern.h"
#include "helpers/servers.h"
#include "helpers/clients.h"
#include "helpers/tls_peers.h"
#include "helpers/nginx_peer.h"

#endif
