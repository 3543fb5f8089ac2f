/* NGINX as a test's peer (nginx_peer.h). */
#include "nginx_peer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "nlb_process.h"

#define NGINX "/usr/sbin/nginx"

int t_nginx_start(struct t_nginx *n, const char *servers, uint16_t wait_port)
{
	n->proc = NULL;
	if (access(NGINX, X_OK) != 0)
		return -ENOENT;	/* make deps installs it */
	snprintf(n->dir, sizeof(n->dir), "/tmp/nlb-nginx-XXXXXX");
	if (!mkdtemp(n->dir))
		return -errno;
	char path[96];
	snprintf(path, sizeof(path), "%s/nginx.conf", n->dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	const char *d = n->dir;
	fprintf(f, "daemon off; master_process off; worker_processes 1; user root;\n"
		"error_log %s/error.log; pid %s/nginx.pid;\n"
		"events { worker_connections 64; }\n"
		"http { access_log off; client_body_temp_path %s; proxy_temp_path %s;\n"
		"  fastcgi_temp_path %s; uwsgi_temp_path %s; scgi_temp_path %s;\n%s\n}\n",
		d, d, d, d, d, d, d, servers);
	fclose(f);
	const char *argv[] = { NGINX, "-p", n->dir, "-c", path, NULL };
	if (!(n->proc = t_spawn(argv, NULL)))
		return -errno;
	int rc = t_nlb_wait_listening(n->proc, wait_port, 5000);
	if (rc != 0)
		t_nlb_dump_log(n->proc, "nginx");
	return rc;
}

void t_nginx_free(struct t_nginx *n)
{
	if (n->proc) {
		t_nlb_stop(n->proc, 5000);
		t_nlb_free(n->proc);
		n->proc = NULL;
	}
	const char *argv[] = { "/bin/rm", "-rf", n->dir, NULL };
	if (n->dir[0])
		t_run(argv, 10000, NULL);
	n->dir[0] = '\0';
}
