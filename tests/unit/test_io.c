/* Outputs that are not regular files, links, bounded identities, the
 * directory lock, the signal cleanup of temporary files, and the text
 * helpers (safe quoting, JSON white space). */
/* mknod(), utimes() and makedev() are XSI. */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nnprune/io.h"
#include "nnprune/model.h"
#include "nnprune/text.h"
#include "testutil.h"

/* path is still a file of that kind (S_IFCHR...), and dir holds no temporary file. */
static void expect_kind_no_temps(const char *dir, const char *path, mode_t kind)
{
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & S_IFMT, kind);
	assert_int_equal(tu_count_names(dir, ".tmp."), 0);
}

static void test_char_device_written_in_place(void **state)
{
	const char *dir = ((const tu_fixture *)*state)->dir;
	char *dev = tu_file(*state, "null");
	/* As root, a private /dev/null (1,3) in the scratch directory. */
	const char *path = "/dev/null";
	if (geteuid() == 0 && mknod(dev, S_IFCHR | 0666, makedev(1, 3)) == 0)
		path = dev;
	nnp_err err;
	assert_int_equal(nnp_write_file_atomic(path, "hello", 5, &err), NNP_OK);
	expect_kind_no_temps(dir, path, S_IFCHR);
}

static void test_block_device_refused(void **state)
{
	if (geteuid() != 0) {
		skip();
		return;
	}
	const char *dir = ((const tu_fixture *)*state)->dir;
	char *dev = tu_path(dir, "blk");
	assert_int_equal(mknod(dev, S_IFBLK | 0600, makedev(7, 0)), 0);
	nnp_err err;
	assert_int_equal(nnp_write_file_atomic(dev, "x", 1, &err), NNP_EUSAGE);
	tu_expect_msg(&err, "refusing to write there");
	expect_kind_no_temps(dir, dev, S_IFBLK);
	free(dev);
}

static void test_fifo_written_in_place(void **state)
{
	const char *dir = ((const tu_fixture *)*state)->dir;
	char *fifo = tu_file(*state, "pipe");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The reader: checks it gets exactly the bytes. */
		char buf[64];
		int fd = open(fifo, O_RDONLY);
		ssize_t n = read(fd, buf, sizeof buf);
		_exit(n == 11 && memcmp(buf, "hello fifo\n", 11) == 0 ? 0 : 1);
	}
	nnp_err err;
	assert_int_equal(nnp_write_file_atomic(fifo, "hello fifo\n", 11, &err), NNP_OK);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	expect_kind_no_temps(dir, fifo, S_IFIFO);
}

static void test_symlinks_followed(void **state)
{
	const char *dir = ((const tu_fixture *)*state)->dir;
	char *target = tu_file(*state, "target"), *link = tu_file(*state, "link");
	char *dangling = tu_file(*state, "dangling"), *made = tu_file(*state, "made");
	tu_write(target, "old", 3);
	assert_int_equal(symlink("target", link), 0);
	nnp_err err;
	assert_int_equal(nnp_write_file_atomic(link, "new!", 4, &err), NNP_OK);
	struct stat st;
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	size_t len;
	unsigned char *got = tu_read(target, &len);
	assert_int_equal(len, 4);
	assert_memory_equal(got, "new!", 4);
	free(got);
	/* A link to a file that does not exist yet creates the target. */
	assert_int_equal(symlink("made", dangling), 0);
	assert_int_equal(nnp_write_file_atomic(dangling, "abc", 3, &err), NNP_OK);
	assert_int_equal(lstat(dangling, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	got = tu_read(made, &len);
	assert_int_equal(len, 3);
	free(got);
	assert_int_equal(tu_count_names(dir, ".tmp."), 0);
}

static void test_identity_refuses_streams(void **state)
{
	char *fifo = tu_file(*state, "pipe");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	nnp_err err;
	uint64_t bytes;
	uint32_t crc;
	/* No writer: a blocking open would hang here. */
	assert_int_equal(nnp_file_identity(fifo, &bytes, &crc, &err), NNP_EINPUT);
	tu_expect_msg(&err, "not a regular file");
	assert_int_equal(nnp_file_identity("/dev/zero", &bytes, &crc, &err), NNP_EINPUT);
	nnp_file_info fi;
	assert_int_equal(nnp_model_identity("/dev/zero", &fi, &err), NNP_EINPUT);
	/* A model from /dev/zero or /dev/urandom is refused after its first bytes. */
	nnp_model *m = NULL;
	assert_int_equal(nnp_model_load(&m, "/dev/zero", NULL, &err), NNP_EINPUT);
	assert_int_equal(nnp_model_load(&m, "/dev/urandom", NULL, &err), NNP_EINPUT);
	assert_null(m);
}

static void test_signal_removes_temps(void **state)
{
	const char *dir = ((const tu_fixture *)*state)->dir;
	char *out = tu_file(*state, "out.bin");
	int sigs[2] = { SIGINT, SIGTERM };
	for (int k = 0; k < 2; k++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			nnp_err err;
			nnp_atomic a, b;
			if (nnp_cleanup_on_signals() || nnp_atomic_open(&a, out, &err) ||
			    nnp_atomic_open(&b, out, &err) || tu_count_names(dir, ".tmp.") != 2)
				_exit(1);
			raise(sigs[k]);
			_exit(2);
		}
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 128 + sigs[k]);
		assert_int_equal(tu_count_names(dir, ".tmp."), 0);
	}
}

static void test_dir_lock(void **state)
{
	const char *dir = ((const tu_fixture *)*state)->dir;
	char *stale = tu_file(*state, "m.json.tmp.0a1b2c"), *other = tu_file(*state, "m.json.tmp.zzz");
	char *fresh = tu_file(*state, "n.bin.tmp.abcdef");
	tu_write(stale, "x", 1);
	tu_write(other, "x", 1);
	/* An hour old: left by a run that ended. */
	struct timeval old[2] = { { time(NULL) - 3600, 0 }, { time(NULL) - 3600, 0 } };
	assert_int_equal(utimes(stale, old), 0);
	assert_int_equal(utimes(other, old), 0);
	int ready[2], release[2];
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(release), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		nnp_err err;
		nnp_dir_lock *lk;
		char c = 'x';
		if (nnp_dir_lock_take(&lk, dir, 0, NULL, NULL, &err))
			_exit(1);
		if (write(ready[1], &c, 1) != 1 || read(release[0], &c, 1) != 1)
			_exit(2);
		nnp_dir_unlock(lk);
		_exit(0);
	}
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	/* The holder removed only our old temporary file. */
	assert_int_equal(access(stale, F_OK), -1);
	assert_int_equal(access(other, F_OK), 0);
	tu_write(fresh, "y", 1);
	nnp_err err;
	nnp_dir_lock *lk = NULL;
	assert_int_equal(nnp_dir_lock_take(&lk, dir, 0, NULL, NULL, &err), NNP_EOUTPUT);
	assert_null(lk);
	char want[64];
	snprintf(want, sizeof want, "in use by another nnprune run (pid %ld)", (long)pid);
	tu_expect_msg(&err, want);
	assert_int_equal(write(release[1], "x", 1), 1);
	/* Waiting: granted once the holder lets go. */
	assert_int_equal(nnp_dir_lock_take(&lk, dir, 1, NULL, NULL, &err), NNP_OK);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Written before this owner took the lock: stale for it. */
	assert_int_equal(access(fresh, F_OK), -1);
	nnp_dir_unlock(lk);
	close(ready[0]);
	close(ready[1]);
	close(release[0]);
	close(release[1]);
}

static void test_quote(void **state)
{
	(void)state;
	char buf[NNP_QUOTE_BUF];
	assert_string_equal(nnp_text_quote(buf, sizeof buf, "a\x1b[2Jb\\\n\xc3\xa9", 10),
	                    "a\\x1b[2Jb\\\\\\x0a\\xc3\\xa9");
	/* 40 escaped bytes fit; more end in "...". */
	unsigned char many[60];
	memset(many, 0x07, sizeof many);
	nnp_text_quote(buf, sizeof buf, many, 40);
	assert_int_equal(strlen(buf), 160);
	nnp_text_quote(buf, sizeof buf, many, 60);
	assert_int_equal(strcmp(buf + strlen(buf) - 3, "..."), 0);
	assert_true(strlen(buf) < sizeof buf);
	char tiny[8];
	assert_string_equal(nnp_text_quote(tiny, sizeof tiny, "abcdefghij", 10), "abcd...");
	/* Every message escapes what is not printable ASCII, idempotently. */
	nnp_err err;
	nnp_err_set(&err, NNP_EINPUT, "%s: name \"%s\"", "f\x1b.json", "x\ny\x9b");
	assert_string_equal(err.msg, "f\\x1b.json: name \"x\\x0ay\\x9b\"");
	char again[NNP_ERRMSG_MAX];
	memcpy(again, err.msg, sizeof again);
	nnp_err_set(&err, NNP_EINPUT, "%s", again);
	assert_string_equal(err.msg, again);
	/* A long message of control bytes stays within the buffer. */
	char big[NNP_ERRMSG_MAX];
	memset(big, 0x01, sizeof big - 1);
	big[sizeof big - 1] = '\0';
	nnp_err_set(&err, NNP_EINPUT, "%s", big);
	assert_true(strlen(err.msg) < sizeof err.msg);
	assert_int_equal(strlen(err.msg) % 4, 0);
}

static void test_json_ws(void **state)
{
	size_t at = 99;
	const char ok[] = " {\t\"a\" :\r\n [1, \"x\\\"\\u0001\"]} ";
	assert_int_equal(nnp_json_check_ws(ok, sizeof ok - 1, &at), 0);
	const char lead[] = "\x01{}";
	assert_int_equal(nnp_json_check_ws(lead, 3, &at), -1);
	assert_int_equal(at, 0);
	const char ff[] = "{\"a\":\f1}";
	assert_int_equal(nnp_json_check_ws(ff, sizeof ff - 1, &at), -1);
	assert_int_equal(at, 5);
	const char instr[] = "{\"a\tb\":1}";
	assert_int_equal(nnp_json_check_ws(instr, sizeof instr - 1, &at), -1);
	assert_int_equal(at, 3);
	const char nul[] = "{}\0";
	assert_int_equal(nnp_json_check_ws(nul, 3, &at), -1);
	assert_int_equal(at, 2);
	/* The model entry points agree on the same bytes. */
	nnp_model *m = NULL;
	nnp_err err;
	const char model[] = "\x01{\"format\":\"nnprune-model\",\"version\":1,\"input_size\":1,"
	                     "\"layers\":[{\"activation\":\"linear\",\"weights\":[[1]],\"bias\":[0]}]}";
	assert_int_equal(nnp_model_from_json(&m, model, sizeof model - 1, "mem", &err), NNP_EINPUT);
	assert_int_equal(nnp_model_from_bytes(&m, (const unsigned char *)model, sizeof model - 1,
	                                      "mem", NULL, &err), NNP_EINPUT);
	const char *dir = ((const tu_fixture *)*state)->dir;
	char *path = tu_path(dir, "m.json");
	tu_write(path, model, sizeof model - 1);
	assert_int_equal(nnp_model_load(&m, path, NULL, &err), NNP_EINPUT);
	tu_write(path, model + 1, sizeof model - 2);
	assert_int_equal(nnp_model_load(&m, path, NULL, &err), NNP_OK);
	nnp_model_free(m);
	assert_int_equal(nnp_model_from_bytes(&m, (const unsigned char *)model + 1,
	                                      sizeof model - 2, "mem", NULL, &err), NNP_OK);
	nnp_model_free(m);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TU_DIR_TEST(test_char_device_written_in_place),
		TU_DIR_TEST(test_block_device_refused),
		TU_DIR_TEST(test_fifo_written_in_place),
		TU_DIR_TEST(test_symlinks_followed),
		TU_DIR_TEST(test_identity_refuses_streams),
		TU_DIR_TEST(test_signal_removes_temps),
		TU_DIR_TEST(test_dir_lock),
		cmocka_unit_test(test_quote),
		TU_DIR_TEST(test_json_ws),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
