/* nlb's own HTTP answers (see http1_answer.h). */
#include "http1_answer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* RFC 9110's reason phrases (and the ALB's 460); a fixed response may
 * use any status from 200 to 599, and a client ignores the phrase. */
const char *nlb_http1_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 425: return "Too Early";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 451: return "Unavailable For Legal Reasons";
	case 460: return "Client Closed Request";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 511: return "Network Authentication Required";
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

int nlb_http1_answer_with(int status, bool close, bool head_only, const char *fields,
			  const char *content_type, const char *body, size_t body_len, char *out,
			  size_t cap)
{
	int n = snprintf(out, cap, "HTTP/1.1 %d %s\r\nServer: nlb\r\n%s%s%s%sContent-Length: %zu\r\n"
			 "%s\r\n", status, nlb_http1_reason(status), fields ? fields : "",
			 content_type ? "Content-Type: " : "", content_type ? content_type : "",
			 content_type ? "\r\n" : "", body_len, close ? "Connection: close\r\n" : "");
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	if (head_only || !body_len)
		return n;
	if (cap - (size_t)n < body_len)
		return -ENOSPC;
	memcpy(out + n, body, body_len);
	return n + (int)body_len;
}
