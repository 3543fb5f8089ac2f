/* CPU lists in the kernel's cpulist format ("0-3,8,10-11", as in
 * /proc/PID/status Cpus_allowed_list and `taskset -c`), parsed into and
 * printed from a cpu_set_t; and the set of CPUs the calling thread may
 * run on.  The parser and the printer are pure. */
#ifndef NLB_CPU_LIST_H
#define NLB_CPU_LIST_H

#include <sched.h>
#include <stddef.h>

/* CPU numbers a list may name are below this: what a cpu_set_t holds. */
#define NLB_CPU_LIST_MAX CPU_SETSIZE

/* Parses buf (len bytes, no NUL needed): items separated by single
 * commas, each a CPU number "N" or an inclusive range "N-M" with N <= M,
 * numbers in decimal (leading zeros allowed, as the kernel does) below
 * NLB_CPU_LIST_MAX.  Items may overlap and come in any order; the result
 * is their union.  Refused: an empty list or item, a reversed range,
 * signs, whitespace anywhere (a trailing newline too), the kernel's
 * ":stride/group" suffix, any other byte.  Returns 0 and writes *out, or
 * -EINVAL and leaves *out alone. */
int nlb_cpu_list_parse(const char *buf, size_t len, cpu_set_t *out);

/* Prints set below NLB_CPU_LIST_MAX as the kernel does: ascending, a run
 * of two or more CPUs as "N-M", items joined by ",".  Like snprintf:
 * writes at most len bytes (NUL-terminated when len > 0, cut short if
 * need be) and returns the length of the whole text.  An empty set
 * prints as "". */
size_t nlb_cpu_list_format(const cpu_set_t *set, char *buf, size_t len);

/* The CPUs the calling thread may run on (sched_getaffinity), those below
 * NLB_CPU_LIST_MAX.  Asks with larger masks on machines whose kernel
 * counts more CPUs than a cpu_set_t holds.  Returns 0, or -ERANGE if
 * every allowed CPU is at or above NLB_CPU_LIST_MAX, or -errno, and then
 * leaves *out alone. */
int nlb_cpu_allowed(cpu_set_t *out);

#endif
