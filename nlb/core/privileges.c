/* Privileges: refusing to run as root by accident, resolving "user" and
 * "group", and dropping to them once the listening sockets are bound.
 * Nothing here runs after start-up. */
#include "core/privileges.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

struct ids {
	uid_t uid;
	gid_t gid;
	char user[256];
	char group[256];
};

/* The getpw*_r/getgr*_r buffer: sysconf's hint, doubled on ERANGE (large
 * group lists in NSS databases exceed it). */
static long nss_bufsize(void)
{
	long n = sysconf(_SC_GETPW_R_SIZE_MAX);
	return n > 0 ? n : 16384;
}

/* Fills ids from cfg->user and cfg->group (or the user's primary group).
 * -ENOENT when one does not exist; every failure is logged. */
static int resolve(const struct nlb_config *cfg, struct ids *ids)
{
	long size = nss_bufsize();
	char *buf = NULL;
	struct passwd pw, *pwp = NULL;
	int e;
	do {
		free(buf);
		if (!(buf = malloc((size_t)size)))
			return -ENOMEM;
		e = getpwnam_r(cfg->user, &pw, buf, (size_t)size, &pwp);
		size *= 2;
	} while (e == ERANGE && size <= (1L << 24));
	if (e != 0 || !pwp) {
		/* getpwnam_r reports "no such user" as success with no
		 * result (some NSS modules say ENOENT or ESRCH instead). */
		if (e == 0 || e == ENOENT || e == ESRCH)
			nlb_err("privileges: user \"%s\" (the \"user\" key) does not exist on this "
				"system", cfg->user);
		else
			nlb_err("privileges: cannot look up user \"%s\": %s", cfg->user, strerror(e));
		free(buf);
		return e == 0 || e == ENOENT || e == ESRCH ? -ENOENT : -e;
	}
	ids->uid = pw.pw_uid;
	ids->gid = pw.pw_gid;
	snprintf(ids->user, sizeof(ids->user), "%s", pw.pw_name);

	struct group gr, *grp = NULL;
	size = nss_bufsize();
	do {
		free(buf);
		if (!(buf = malloc((size_t)size)))
			return -ENOMEM;
		if (cfg->group)
			e = getgrnam_r(cfg->group, &gr, buf, (size_t)size, &grp);
		else
			e = getgrgid_r(ids->gid, &gr, buf, (size_t)size, &grp);
		size *= 2;
	} while (e == ERANGE && size <= (1L << 24));
	if (cfg->group && (e != 0 || !grp)) {
		if (e == 0 || e == ENOENT || e == ESRCH)
			nlb_err("privileges: group \"%s\" (the \"group\" key) does not exist on this "
				"system", cfg->group);
		else
			nlb_err("privileges: cannot look up group \"%s\": %s", cfg->group, strerror(e));
		free(buf);
		return e == 0 || e == ENOENT || e == ESRCH ? -ENOENT : -e;
	}
	if (grp) {
		ids->gid = gr.gr_gid;
		snprintf(ids->group, sizeof(ids->group), "%s", gr.gr_name);
	} else {
		/* A primary gid with no name is legal; name it by number. */
		snprintf(ids->group, sizeof(ids->group), "%u", (unsigned)ids->gid);
	}
	free(buf);
	return 0;
}

int privileges_group(const struct nlb_config *cfg, gid_t *gid)
{
	if (!cfg->user)
		return -ENOENT;
	struct ids ids;
	int ret = resolve(cfg, &ids);
	if (ret == 0)
		*gid = ids.gid;
	return ret;
}

int privileges_check(const struct nlb_config *cfg)
{
	uid_t euid = geteuid();
	if (!cfg->user) {
		if (euid == 0 && !cfg->allow_root) {
			nlb_err("running as root with no \"user\" set: set user = \"nlb\"; (or "
				"allow_root = true;) in %s", cfg->path);
			return -EPERM;
		}
		if (euid == 0)
			nlb_warn("privileges: running as root (allow_root = true and no \"user\")");
		return 0;
	}
	struct ids ids;
	int ret = resolve(cfg, &ids);
	if (ret < 0)
		return ret;
	if (ids.uid == 0 && !cfg->allow_root) {
		nlb_err("privileges: user \"%s\" is uid 0, so nlb would keep root: name an "
			"unprivileged user (or set allow_root = true;)", ids.user);
		return -EPERM;
	}
	if (euid != 0 && (ids.uid != euid || (cfg->group && ids.gid != getegid()))) {
		nlb_err("privileges: running as uid %u, not root, so nlb cannot switch to user %s "
			"(uid %u), group %s (gid %u): start it as root or as that user",
			(unsigned)euid, ids.user, (unsigned)ids.uid, ids.group, (unsigned)ids.gid);
		return -EPERM;
	}
	return 0;
}

/* The capabilities kept after the drop: CAP_NET_ADMIN when nlb
 * announces routes (announce = { }), else none. */
static uint32_t kept_caps(const struct nlb_config *cfg)
{
	return cfg->announce_enabled ? 1u << CAP_NET_ADMIN : 0;
}

/* Leaves exactly `keep` (bits of the first 32 capabilities) effective
 * and permitted, nothing inheritable or ambient.  The uid change clears
 * the sets by itself, but not when a parent left SECBIT_NO_SETUID_FIXUP
 * set, nor when nlb was started as the user already with ambient
 * capabilities (systemd's AmbientCapabilities=). */
static int drop_capabilities(uint32_t keep)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = keep;
	/* Fails with EINVAL on kernels without ambient capabilities (< 4.3):
	 * there is then nothing to clear. */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (syscall(SYS_capset, &hdr, data) != 0)
		return -errno;
	return 0;
}

/* 0 if exactly `keep` is effective and permitted, -EPERM otherwise. */
static int check_capabilities(uint32_t keep)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	if (syscall(SYS_capget, &hdr, data) != 0)
		return -errno;
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
		uint32_t want = i == 0 ? keep : 0;
		if (data[i].effective != want || data[i].permitted != want)
			return -EPERM;
	}
	return 0;
}

/* Root's io_uring rings are not counted against RLIMIT_MEMLOCK
 * (CAP_IPC_LOCK); an unprivileged user's are, per user, and each worker's
 * ring takes over 2 MiB of it: the default 8 MiB stops the fourth worker
 * with ENOMEM.  So while root, lift the limit (what the systemd unit's
 * LimitMEMLOCK=infinity asks as well); as the user already, take what the
 * hard limit allows. */
static void raise_memlock(bool root)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return;
	rlim_t was = rl.rlim_cur;
	if (root)
		rl.rlim_max = RLIM_INFINITY;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
		nlb_warn("privileges: RLIMIT_MEMLOCK stays at %llu KiB (%s): once not root, "
			 "every worker's io_uring counts against it", (unsigned long long)was / 1024,
			 strerror(errno));
}

/* The kernel clears the parent-death signal when the uid changes
 * (commit_creds).  A supervisor that asked for one (the tests do, so a
 * crashed test leaves no nlb behind) still wants it: set it again, and
 * act on it if the parent went away in between. */
static void keep_parent_death_signal(int sig, pid_t parent)
{
	if (sig <= 0)
		return;
	prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0);
	if (getppid() != parent)
		raise(sig);
}

int privileges_drop(const struct nlb_config *cfg)
{
	if (!cfg->user)
		return 0;
	struct ids ids;
	int ret = resolve(cfg, &ids);
	if (ret < 0)
		return ret;
	if (ids.uid == 0) {
		/* privileges_check allowed it: allow_root is set. */
		nlb_warn("privileges: user %s is uid 0: running as root (allow_root = true)",
			 ids.user);
		return 0;
	}
	if (geteuid() != 0) {
		/* privileges_check made sure this is the user already. */
		raise_memlock(false);
		if ((ret = drop_capabilities(kept_caps(cfg))) < 0 ||
		    (ret = check_capabilities(kept_caps(cfg))) < 0) {
			nlb_err("privileges: cannot drop capabilities%s: %s", kept_caps(cfg) ?
				" but CAP_NET_ADMIN, which announce needs (start nlb as root, or "
				"give it AmbientCapabilities=CAP_NET_ADMIN)" : "", strerror(-ret));
			return ret;
		}
		/* Without "group" the gid is left as it was started, which need
		 * not be the user's primary group: say which it is. */
		gid_t gid = getegid();
		if (gid != ids.gid)
			snprintf(ids.group, sizeof(ids.group), "%u", (unsigned)gid);
		nlb_info("privileges: running as user %s (uid %u), group %s (gid %u), already "
			 "(no change of user)", ids.user, (unsigned)ids.uid, ids.group,
			 (unsigned)gid);
		return 0;
	}

	int pdeath = 0;
	prctl(PR_GET_PDEATHSIG, &pdeath, 0, 0, 0);
	pid_t parent = getppid();
	/* Off already after execve, and off again below: only announce's
	 * CAP_NET_ADMIN is carried over the uid change, then the rest is
	 * dropped. */
	prctl(PR_SET_KEEPCAPS, kept_caps(cfg) ? 1 : 0, 0, 0, 0);
	raise_memlock(true);
	/* Groups first, then gid, then uid: each later step takes the
	 * privilege the earlier ones need. */
	if (initgroups(ids.user, ids.gid) != 0) {
		ret = -errno;
		nlb_err("privileges: initgroups(%s, %u): %s", ids.user, (unsigned)ids.gid,
			strerror(errno));
		return ret;
	}
	if (setresgid(ids.gid, ids.gid, ids.gid) != 0) {
		ret = -errno;
		nlb_err("privileges: setresgid(%u): %s", (unsigned)ids.gid, strerror(errno));
		return ret;
	}
	if (setresuid(ids.uid, ids.uid, ids.uid) != 0) {
		ret = -errno;
		nlb_err("privileges: setresuid(%u): %s", (unsigned)ids.uid, strerror(errno));
		return ret;
	}
	keep_parent_death_signal(pdeath, parent);

	/* Trust, but verify: every id changed, and root cannot be had back. */
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 ||
	    ru != ids.uid || eu != ids.uid || su != ids.uid ||
	    rg != ids.gid || eg != ids.gid || sg != ids.gid) {
		nlb_err("privileges: ids after the drop are not all %u/%u", (unsigned)ids.uid,
			(unsigned)ids.gid);
		return -EPERM;
	}
	if (setuid(0) != -1 || setgid(0) != -1) {
		nlb_err("privileges: setuid(0) or setgid(0) still succeeds after the drop");
		return -EPERM;
	}
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	if ((ret = drop_capabilities(kept_caps(cfg))) < 0 ||
	    (ret = check_capabilities(kept_caps(cfg))) < 0) {
		nlb_err("privileges: capabilities other than those kept after the drop: %s",
			strerror(-ret));
		return ret;
	}
	nlb_info("privileges: running as user %s (uid %u), group %s (gid %u)%s", ids.user,
		 (unsigned)ids.uid, ids.group, (unsigned)ids.gid, kept_caps(cfg) ?
		 ", keeping CAP_NET_ADMIN (announce)" : "");
	return 0;
}
