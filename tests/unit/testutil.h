/* Shared helpers for the cmocka unit tests: scratch directories, files, a
 * deterministic random generator and random models. */
#ifndef NNP_TESTUTIL_H
#define NNP_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include "nnprune/data.h"
#include "nnprune/model.h"
#include "nnprune/stats.h"

/* Creates a fresh directory under $TMPDIR (or /tmp); caller frees the string. */
char *tu_mkdtemp(void);
/* Removes a directory tree made by tu_mkdtemp. */
void tu_rmtree(const char *dir);
/* Joins dir and name into a static-free malloc'd path. */
char *tu_path(const char *dir, const char *name);
/* Writes len bytes; aborts the test on failure. */
void tu_write(const char *path, const void *buf, size_t len);
/* Reads a whole file (malloc'd, NUL-terminated); *len may be NULL. */
unsigned char *tu_read(const char *path, size_t *len);

/* splitmix64: deterministic, so failures reproduce. */
typedef struct { uint64_t s; } tu_rng;
uint64_t tu_next(tu_rng *r);
/* Uniform in [lo, hi). */
double tu_uniform(tu_rng *r, double lo, double hi);

/* A dataset of rows x features with every value and label 0 (x and y
 * allocated); aborts the test on failure. Free with nnp_dataset_free. */
nnp_dataset *tu_dataset(size_t rows, size_t features);
/* tu_dataset with x uniform in [lo, hi) drawn from r in order, then, with
 * classes > 0, labels uniform in [0, classes); with classes 0, no labels (y NULL). */
nnp_dataset *tu_random_dataset(tu_rng *r, size_t rows, size_t features, double lo, double hi,
                               size_t classes);

/* What the group fixtures of several tests hold. */
typedef struct tu_fixture {
	nnp_model *m;
	nnp_dataset *d;     /* labelled rows */
	nnp_dataset *cal;   /* other rows, or NULL */
	nnp_stats *s;       /* statistics, or NULL */
	char *dir;          /* a scratch directory */
	char *csv;          /* a file in dir, or NULL */
	char **files;       /* paths from tu_file */
	size_t n_files;
} tu_fixture;
/* A fixture with its scratch directory made and nothing else yet. */
tu_fixture *tu_fixture_new(void);
/* A cmocka setup: *state a tu_fixture from tu_fixture_new (a test's scratch
 * directory, removed by tu_fixture_teardown even when the test fails). */
int tu_setup_dir(void **state);
/* A cmocka teardown for a tu_fixture: frees all of it and removes dir. */
int tu_fixture_teardown(void **state);
/* The path of name in fx's scratch directory, owned by fx: freed by
 * tu_fixture_teardown, even when the test fails. */
char *tu_file(tu_fixture *fx, const char *name);
/* A test run with a scratch directory: tu_setup_dir and tu_fixture_teardown. */
#define TU_DIR_TEST(f) cmocka_unit_test_setup_teardown(f, tu_setup_dir, tu_fixture_teardown)

/* A model with the given widths (sizes[0] = inputs) and activations, weights
 * uniform in [-scale, scale]. Aborts the test on failure. */
nnp_model *tu_random_model(tu_rng *r, size_t n_layers, const size_t *sizes,
                           const nnp_act *acts, double scale);

/* A network from a spec "IN W1:ACT1 W2:ACT2 ...": the input width, then each
 * layer's width and activation name (as in the model files), e.g.
 * "5 9:relu 7:tanh 3:softmax". With r, weights and biases uniform in
 * [-scale, scale] drawn as tu_random_model draws them; with r NULL, zeros
 * (tu_model). Aborts the test on a malformed spec. */
nnp_model *tu_net(tu_rng *r, const char *spec, double scale);

/* A model's file bytes in fmt (malloc'd) and a model parsed from them (labels
 * "m.bin" / "m.json"); abort the test on failure. */
unsigned char *tu_model_bytes(const nnp_model *m, nnp_format fmt, size_t *len);
nnp_model *tu_model_parse(const unsigned char *b, size_t len, nnp_format fmt);
/* m written in fmt gives exactly the n bytes want. */
void tu_expect_model_bytes(const nnp_model *m, nnp_format fmt, const void *want, size_t n);
/* Parsing b as in tu_model_parse fails with NNP_EINPUT, no model and want in
 * the message. */
void tu_expect_model_error(const void *b, size_t len, nnp_format fmt, const char *want);

/* A model of the given widths and activations with zero weights and biases
 * (sizes[0] = inputs); aborts the test on failure. */
nnp_model *tu_model(size_t n_layers, const size_t *sizes, const nnp_act *acts);

/* Fails the test unless err's message contains want. */
void tu_expect_msg(const nnp_err *err, const char *want);

/* Fails the test unless a and b have the same shapes and the same weight and
 * bias bits (neither may be NULL). */
void tu_assert_models_bitequal(const nnp_model *a, const nnp_model *b);

/* Fails the test unless a and b have the same input size and layers: shapes,
 * activations, and the same bits of alpha, weights and biases. */
void tu_assert_same_layers(const nnp_model *a, const nnp_model *b);

/* A test's network, its rows and what is left of their random stream, owned
 * together so that one call frees them. */
typedef struct tu_case {
	tu_rng rng;       /* seeded with the case's seed, past m's and d's draws */
	nnp_model *m;
	nnp_dataset *d;   /* NULL from tu_case_net */
	nnp_dataset *held; /* other rows a test adds (held out), or NULL */
} tu_case;
/* A case with rng = { seed } and nothing else yet, for a network and rows a
 * test file draws its own way (into m, d, held). */
tu_case *tu_case_seed(uint64_t seed);
/* rng = { seed } and m = tu_net(&rng, net, scale): the same draws as those
 * two lines written out. Aborts the test on failure; free with tu_case_free. */
tu_case *tu_case_net(uint64_t seed, const char *net, double scale);
/* tu_case_net, then d = tu_random_dataset(&rng, rows, m's inputs, lo, hi,
 * classes), drawn after the weights. */
tu_case *tu_case_new(uint64_t seed, const char *net, double scale, size_t rows, double lo,
                     double hi, size_t classes);
/* A case that takes m, d and held (any may be NULL) as they are, rng 0, for
 * networks and rows a test file makes its own way. */
tu_case *tu_case_of(nnp_model *m, nnp_dataset *d, nnp_dataset *held);
/* Frees m, d, held and c; NULL is fine. */
void tu_case_free(tu_case *c);
/* A cmocka teardown for a tu_case in *state (freed even when the test fails). */
int tu_case_teardown(void **state);
/* What tu_case_net takes, for a test whose case a setup makes (so that the
 * teardown frees it even when the test fails). */
typedef struct tu_net_spec {
	uint64_t seed;
	const char *net;
	double scale;
} tu_net_spec;
/* A cmocka setup: *state a tu_net_spec on entry, its tu_case_net after. */
int tu_case_net_setup(void **state);
/* Test f with *state = tu_case_net(seed, net, scale), freed by tu_case_teardown. */
#define TU_NET_TEST(f, seed, net, scale)                                          \
	cmocka_unit_test_prestate_setup_teardown(f, tu_case_net_setup, tu_case_teardown, \
	                                         (&(tu_net_spec){ seed, net, scale }))

/* The outcome of case i of a table (what names the table): with want NULL,
 * success; else NNP_EINPUT with want in the message. */
void tu_expect_case(const char *what, size_t i, int rc, const nnp_err *err, const char *want);

/* The number of entries of dir whose name contains part. */
int tu_count_names(const char *dir, const char *part);

/* Removes a directory tree made by tu_mkdtemp and frees its path. */
void tu_rmtree_free(char *dir);

/* The activation in double precision, written independently of the engine. */
double tu_ref_act(nnp_act a, double alpha, double z);

/* Layer L's activation of z[0..L->out-1] into out (which may be z), in
 * double precision: softmax over all of them, else tu_ref_act per entry. */
void tu_ref_layer_act(const nnp_layer *L, const double *z, double *out);

/* A weight of a model: layer, index in that layer's w, and |w|. */
typedef struct tu_wref {
	double a;
	size_t layer, index;
} tu_wref;
/* The weights of layers [l0, l1) of m in the order magnitude pruning takes
 * them, written independently of the library: by |w|, then layer, then
 * index. malloc'd, *n of them. */
tu_wref *tu_weights_by_magnitude(const nnp_model *m, size_t l0, size_t l1, size_t *n);

/* Little-endian u32 read and write, for byte-level checks of binary files. */
uint32_t tu_rd32(const unsigned char *p);
void tu_wr32(unsigned char *p, uint32_t v);

#endif
