/* Error recording: one formatted message per failure, owned by the caller. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nnprune/nnp.h"

void nnp_err_clear(nnp_err *err)
{
	if (!err)
		return;
	err->status = NNP_OK;
	err->msg[0] = '\0';
}

int nnp_err_set(nnp_err *err, int status, const char *fmt, ...)
{
	if (!err)
		return status;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	/* The message is printed on one line: fold any newline a caller let in. */
	for (char *p = err->msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	err->status = status;
	return status;
}

int nnp_exit_code(int status)
{
	switch (status) {
	case NNP_OK: return NNP_EXIT_OK;
	case NNP_EGATE: return NNP_EXIT_GATE;
	case NNP_EUSAGE:
	case NNP_ETOOBIG: return NNP_EXIT_USAGE;
	case NNP_EOUTPUT: return NNP_EXIT_OUTPUT;
	case NNP_EINPUT:
	case NNP_ENOMEM:
	default: return NNP_EXIT_INPUT;
	}
}
