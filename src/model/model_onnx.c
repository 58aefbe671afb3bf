/* ONNX: placeholder until the protobuf reader and writer land. */
#include "model_priv.h"

int nnpm_onnx_read(nnp_model **out, const unsigned char *buf, size_t len, const char *label,
                   const nnp_import_opts *o, int *assumed, nnp_err *err)
{
	(void)buf; (void)len; (void)o; (void)assumed;
	*out = NULL;
	return nnp_err_set(err, NNP_EINPUT, "%s: ONNX is not supported yet", label);
}

int nnpm_onnx_write(nnpm_sink *s, const nnp_model *m, const nnp_export_opts *o, nnp_err *err)
{
	(void)s; (void)m; (void)o;
	return nnp_err_set(err, NNP_EUSAGE, "ONNX is not supported yet");
}
