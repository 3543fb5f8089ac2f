/* nlb's own HTTP answers (see http1_answer.h). */
#include "http1_answer.h"

#include <errno.h>
#include <stdio.h>

const char *nlb_http1_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 460: return "Client Closed Request";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

int nlb_http1_answer(int status, bool close, bool head_only, char *out, size_t cap)
{
	const char *reason = nlb_http1_reason(status);
	char body[192];
	int blen = snprintf(body, sizeof(body),
			    "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
			    "<center><h1>%d %s</h1></center>\r\n</body>\r\n</html>\r\n",
			    status, reason, status, reason);
	if (blen < 0 || (size_t)blen >= sizeof(body))
		return -ENOSPC;
	int n = snprintf(out, cap,
			 "HTTP/1.1 %d %s\r\nServer: nlb\r\nContent-Type: text/html\r\n"
			 "Content-Length: %d\r\n%s\r\n%s",
			 status, reason, blen, close ? "Connection: close\r\n" : "",
			 head_only ? "" : body);
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	return n;
}
