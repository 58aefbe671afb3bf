/*
 * nnprune: version, status codes and the error record every core call fills.
 *
 * Core functions return 0 (NNP_OK) or a negative nnp_status. At the point of
 * failure they record one formatted message in the caller's nnp_err, naming the
 * file, the place (line:col, byte offset or layer) and what is wrong. Only the
 * command-line front end prints it. There is no global error state: each caller
 * owns its nnp_err, so threads never share one.
 */
#ifndef NNPRUNE_NNP_H
#define NNPRUNE_NNP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NNP_VERSION "0.1.0"

typedef enum nnp_status {
	NNP_OK = 0,
	NNP_EUSAGE = -1,  /* a caller's argument is out of range: exit 2 */
	NNP_EINPUT = -2,  /* invalid, unreadable or stale input: exit 3 */
	NNP_EOUTPUT = -3, /* an output could not be written: exit 4 */
	NNP_ENOMEM = -4,  /* an allocation failed: exit 3 */
	NNP_EGATE = -5,   /* a quality gate was not met: exit 1 */
	NNP_ETOOBIG = -6  /* the data does not fit the memory allowed (the caller may
	                     stream it instead): exit 2 when it reaches the user */
} nnp_status;

/* Process exit codes, stable for scripts and CI pipelines. */
enum {
	NNP_EXIT_OK = 0,
	NNP_EXIT_GATE = 1,
	NNP_EXIT_USAGE = 2,
	NNP_EXIT_INPUT = 3,
	NNP_EXIT_OUTPUT = 4
};

#define NNP_ERRMSG_MAX 1024

typedef struct nnp_err {
	int status;                 /* the last nnp_status recorded, NNP_OK if none */
	char msg[NNP_ERRMSG_MAX];   /* one line, no trailing newline, no "nnprune:" prefix */
} nnp_err;

/* Resets err to "no error". err may be NULL. */
void nnp_err_clear(nnp_err *err);

/*
 * Records status and a printf-style message in err (which may be NULL) and
 * returns status, so failures read `return nnp_err_set(err, NNP_EINPUT, ...)`.
 */
int nnp_err_set(nnp_err *err, int status, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;

/* Maps an nnp_status to the documented process exit code. */
int nnp_exit_code(int status);

#ifdef __cplusplus
}
#endif
#endif
