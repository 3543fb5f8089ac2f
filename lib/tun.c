/* Opening a gateway's TUN device (tun.h). */
#include "tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Up, with the gateway's MTU: what an operator does to a device nlb
 * made for itself. */
static int bring_up(const char *name)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	struct ifreq ifr = { 0 };
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	ifr.ifr_mtu = NLB_TUN_MTU;
	int r = ioctl(s, SIOCSIFMTU, &ifr);
	if (r == 0)
		r = ioctl(s, SIOCGIFFLAGS, &ifr);
	if (r == 0) {
		ifr.ifr_flags |= IFF_UP;
		r = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	r = r < 0 ? -errno : 0;
	close(s);
	return r;
}

int nlb_tun_open(const char *name, size_t n, int *fds, bool *created)
{
	if (strlen(name) >= IFNAMSIZ || n == 0)
		return -EINVAL;
	*created = if_nametoindex(name) == 0;
	size_t i;
	int r = 0;
	for (i = 0; i < n; i++) {
		int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			break;
		}
		struct ifreq ifr = { 0 };
		strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
		ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE;
		if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
			r = -errno;
			close(fd);
			break;
		}
		fds[i] = fd;
	}
	if (r == 0 && *created)
		r = bring_up(name);
	if (r < 0)
		while (i > 0)
			close(fds[--i]);
	return r;
}
