/* The table behind http1_error.h: one row per reason. */
#include "http1_error.h"

static const struct {
	const char *name;
	int status;
} reasons[NLB_HTTP1_E_COUNT] = {
	[NLB_HTTP1_E_NONE] = { "none", 0 },
	[NLB_HTTP1_E_REQUEST_LINE] = { "bad_request_line", 400 },
	[NLB_HTTP1_E_STATUS_LINE] = { "bad_status_line", 400 },
	[NLB_HTTP1_E_VERSION] = { "bad_version", 505 },
	[NLB_HTTP1_E_TARGET] = { "bad_target", 400 },
	[NLB_HTTP1_E_FIELD_NAME] = { "bad_field_name", 400 },
	[NLB_HTTP1_E_FIELD_VALUE] = { "bad_field_value", 400 },
	[NLB_HTTP1_E_OBS_FOLD] = { "obs_fold", 400 },
	[NLB_HTTP1_E_BARE_CR] = { "bare_cr", 400 },
	[NLB_HTTP1_E_BARE_LF] = { "bare_lf", 400 },
	[NLB_HTTP1_E_HEAD_TOO_LARGE] = { "head_too_large", 431 },
	[NLB_HTTP1_E_TOO_MANY_FIELDS] = { "too_many_fields", 431 },
	[NLB_HTTP1_E_CONTENT_LENGTH] = { "bad_content_length", 400 },
	[NLB_HTTP1_E_CONTENT_LENGTH_TWICE] = { "content_length_twice", 400 },
	[NLB_HTTP1_E_CL_AND_TE] = { "cl_and_te", 400 },
	[NLB_HTTP1_E_TE_NOT_CHUNKED] = { "te_not_chunked", 400 },
	[NLB_HTTP1_E_TE_UNKNOWN] = { "te_unknown", 501 },
	[NLB_HTTP1_E_TE_HTTP10] = { "te_in_http10", 400 },
	[NLB_HTTP1_E_HOST_MISSING] = { "host_missing", 400 },
	[NLB_HTTP1_E_HOST_TWICE] = { "host_twice", 400 },
	[NLB_HTTP1_E_HOST_INVALID] = { "bad_host", 400 },
	[NLB_HTTP1_E_EXPECT] = { "bad_expect", 417 },
	[NLB_HTTP1_E_CHUNK_SIZE] = { "bad_chunk_size", 400 },
	[NLB_HTTP1_E_CHUNK_EXT] = { "bad_chunk_extension", 400 },
	[NLB_HTTP1_E_CHUNK_END] = { "bad_chunk_end", 400 },
};

int nlb_http1_error_status(enum nlb_http1_error e)
{
	if ((unsigned)e >= NLB_HTTP1_E_COUNT)
		return 0;
	return reasons[e].status;
}

const char *nlb_http1_error_name(enum nlb_http1_error e)
{
	if ((unsigned)e >= NLB_HTTP1_E_COUNT)
		return "unknown";
	return reasons[e].name;
}
