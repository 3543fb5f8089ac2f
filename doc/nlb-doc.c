/* nlb-doc: prints the page nlb-metrics(7) from the counter table
 * (control/metrics_page.h); make doc writes it to doc/nlb-metrics.7. */
#include <stdio.h>

#include "control/metrics_page.h"

int main(void)
{
	if (metrics_page_write(stdout) < 0 || fflush(stdout) != 0) {
		perror("nlb-doc");
		return 1;
	}
	return 0;
}
