/* nnprune bench: one epoch of masked training and one of distillation
 * against one epoch of plain training, in the same run (bench.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "nnprune/train.h"

/* The masks hold 90% of each layer's weights at zero (every tenth kept):
 * what a lottery round or a gradual step several steps in trains. */
#define BENCH_MASK_KEEP 10

/* One epoch of a copy of m with options t, in seconds; -1 on failure. */
static double time_epoch(const nnp_model *m, const nnp_dataset *d, const nnp_train_opts *t,
                         nnp_err *err)
{
	nnp_model *c = NULL;
	if (nnp_model_clone(&c, m, err))
		return -1;
	double t0 = bench_now();
	int rc = nnp_train(c, d, NULL, t, NULL, err);
	double s = bench_now() - t0;
	nnp_model_free(c);
	return rc ? -1 : s;
}

int bench_training(bench_out *o, const nnp_model *m, const nnp_dataset *d, unsigned threads,
                   nnp_err *err)
{
	nnp_train_opts t = NNP_TRAIN_OPTS_INIT;
	t.epochs = 1;
	t.lr = 1e-4f;   /* finetuning's rate: one epoch of random rows never diverges */
	t.threads = threads;
	t.model_takes_raw = 1;
	uint8_t **mask = calloc(m->n_layers, sizeof *mask);
	int rc = mask ? NNP_OK : nnp_err_set(err, NNP_ENOMEM, "out of memory");
	for (size_t l = 0; l < m->n_layers && !rc; l++) {
		size_t n = m->layers[l].in * m->layers[l].out;
		if (!(mask[l] = malloc(n)))
			rc = nnp_err_set(err, NNP_ENOMEM, "out of memory");
		for (size_t i = 0; i < n && !rc; i++)
			mask[l][i] = i % BENCH_MASK_KEEP == 0;
	}
	char note[128];
	/* Distillation needs softmax outputs: other models skip it. */
	int soft = m->layers[m->n_layers - 1].act == NNP_ACT_SOFTMAX;
	nnp_train_opts tm = t, td = t;
	tm.mask = (const uint8_t *const *)mask;
	td.teacher = m;   /* the same network as its own teacher: the cost is the same */
	td.distill_t = 2.0f;
	td.distill_alpha = 0.5f;
	/* The three interleaved, best of BENCH_REPS each, so that a machine whose
	 * load changes meanwhile weighs on all three alike. */
	double plain = INFINITY, masked = INFINITY, distill = soft ? INFINITY : 0;
	for (int rep = 0; rep < BENCH_REPS && !rc; rep++) {
		double a = time_epoch(m, d, &t, err);
		double b = a < 0 ? -1 : time_epoch(m, d, &tm, err);
		double c = b < 0 ? -1 : soft ? time_epoch(m, d, &td, err) : 0;
		if (c < 0)
			rc = err->status ? err->status : NNP_ENOMEM;
		plain = fmin(plain, a);
		masked = fmin(masked, b);
		distill = fmin(distill, c);
	}
	if (rc)
		distill = -1;
	if (distill >= 0) {
		bench_figure(o, "train_epoch_seconds", "training, one epoch (Adam)", plain, "s", NULL);
		bench_verdict(note, sizeof note, masked / plain <= 1.2, "<= 1.2");
		bench_figure(o, "train_masked_vs_plain", "  masked (90% of weights held at 0) / plain",
		             masked / plain, "", note);
		snprintf(note, sizeof note, "(%.3f s; the teacher's forward pass included)", distill);
		if (soft)
			bench_figure(o, "train_distill_vs_plain", "  distillation (T=2, alpha=0.5) / plain",
			             distill / plain, "", note);
	}
	if (mask)
		for (size_t l = 0; l < m->n_layers; l++)
			free(mask[l]);
	free(mask);
	return distill >= 0 ? NNP_OK : err->status ? err->status : NNP_ENOMEM;
}
