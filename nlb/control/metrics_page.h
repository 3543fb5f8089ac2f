/* The page nlb-metrics(7): every counter and metric family of the table
 * (counter_table.h) with its meaning, in mdoc.  build/nlb-doc prints it
 * (make doc writes doc/nlb-metrics.7); a test compares the two. */
#ifndef NLB_METRICS_PAGE_H
#define NLB_METRICS_PAGE_H

#include <stdio.h>

/* Writes the page to out.  0, or -EIO when a write failed. */
int metrics_page_write(FILE *out);

#endif
