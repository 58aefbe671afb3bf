/* A run's directory: the names of the report files, the manifest (the files
 * a run wrote there), the removal of the previous run's files, and the guard of
 * --best PATH. The pipeline takes the directory; the report layer fills it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cJSON.h>

#include "nnprune/io.h"
#include "nnprune/manifest.h"

/* Report files every run rewrites, in the order they are listed. */
static const char *const report_files[] = { "report.md", "report.csv", "report.svg",
	                                    "stats.svg", "report.html", "report.json" };

void nnp_manifest_free(nnp_manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->e[i].name);
	free(m->e);
	memset(m, 0, sizeof *m);
}

int nnp_manifest_name_ok(const char *name)
{
	if (!name || !*name || name[0] == '/')
		return 0;
	for (const char *p = name;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (!slash)
			return 1;
		p = slash + 1;
	}
}

int nnp_manifest_add(nnp_manifest *m, const char *name, uint64_t bytes, nnp_err *err)
{
	if (!nnp_manifest_name_ok(name))
		return nnp_err_set(err, NNP_EUSAGE, "manifest: '%.200s' is not a name inside the "
		                   "directory", name ? name : "(null)");
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->e[i].name, name)) {
			m->e[i].bytes = bytes;
			return NNP_OK;
		}
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 16;
		nnp_manifest_entry *e = realloc(m->e, cap * sizeof *e);
		if (!e)
			return nnp_err_set(err, NNP_ENOMEM, "manifest: out of memory");
		m->e = e;
		m->cap = cap;
	}
	m->e[m->n].name = strdup(name);
	if (!m->e[m->n].name)
		return nnp_err_set(err, NNP_ENOMEM, "manifest: out of memory");
	m->e[m->n++].bytes = bytes;
	return NNP_OK;
}

/* path's name relative to dir when it lies inside ("dir/x.bin" -> "x.bin",
 * "./dir//a/x" -> "a/x"), else NULL. Only the text is compared. */
static const char *inside(const char *dir, const char *path)
{
	while (dir[0] == '.' && dir[1] == '/')
		dir += 2;
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (strncmp(path, dir, n) != 0 || path[n] != '/')
		return NULL;
	path += n;
	while (*path == '/')
		path++;
	return nnp_manifest_name_ok(path) ? path : NULL;
}

/* Adds a written model file (when inside dir) with its size on disk. */
static int add_file(nnp_manifest *m, const char *dir, const char *path, nnp_err *err)
{
	const char *name = path ? inside(dir, path) : NULL;
	if (!name)
		return NNP_OK;
	struct stat st;
	if (stat(path, &st) != 0)
		return nnp_err_set(err, NNP_EINPUT, "%s: cannot read its size: %s", path,
		                   strerror(errno));
	return nnp_manifest_add(m, name, (uint64_t)st.st_size, err);
}

int nnp_manifest_of_run(nnp_manifest *m, const char *dir, const nnp_sweep *sw, nnp_err *err)
{
	int rc = add_file(m, dir, sw->original.file, err);
	if (!rc)
		rc = add_file(m, dir, sw->original.ft.file, err);
	for (size_t i = 0; !rc && i < sw->n; i++) {
		rc = add_file(m, dir, sw->c[i].file, err);
		if (!rc)
			rc = add_file(m, dir, sw->c[i].ft.file, err);
	}
	for (size_t k = 0; !rc && k < sizeof report_files / sizeof report_files[0]; k++)
		rc = nnp_manifest_add(m, report_files[k], NNP_MANIFEST_ANY_SIZE, err);
	return rc;
}

/* dir/name, malloc'd. */
static char *join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + b + 2);
	if (p)
		snprintf(p, a + b + 2, "%s%s%s", dir, a && dir[a - 1] == '/' ? "" : "/", name);
	return p;
}

int nnp_manifest_read(nnp_manifest *m, const char *dir, nnp_err *err)
{
	memset(m, 0, sizeof *m);
	char *path = join(dir, "report.json");
	if (!path)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", dir);
	FILE *fp = fopen(path, "rb");
	int rc = NNP_OK;
	char *text = NULL;
	cJSON *j = NULL;
	if (!fp) {
		if (errno != ENOENT)
			rc = nnp_err_set(err, NNP_EINPUT, "%s: %s", path, strerror(errno));
		goto done;
	}
	size_t cap = 1 << 16, len = 0;
	text = malloc(cap + 1);
	for (size_t got; text && (got = fread(text + len, 1, cap - len, fp)) > 0;) {
		len += got;
		if (len == cap) {
			char *t = cap > ((size_t)1 << 30) ? NULL : realloc(text, 2 * cap + 1);
			if (!t) {
				rc = nnp_err_set(err, NNP_EINPUT, "%s: too large for a report", path);
				goto done;
			}
			text = t;
			cap *= 2;
		}
	}
	if (!text) {
		rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
		goto done;
	}
	if (ferror(fp)) {
		rc = nnp_err_set(err, NNP_EINPUT, "%s: read error", path);
		goto done;
	}
	text[len] = '\0';
	j = cJSON_ParseWithLength(text, len);
	const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
	/* Not a report of ours (or one from before manifests): nothing is ours to remove. */
	if (!j || !cJSON_IsString(fmt) || strcmp(fmt->valuestring, "nnprune-report") != 0)
		goto done;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "manifest");
	if (!list || cJSON_IsNull(list))
		goto done;
	if (!cJSON_IsArray(list)) {
		rc = nnp_err_set(err, NNP_EINPUT, "%s: \"manifest\" is not an array", path);
		goto done;
	}
	size_t k = 0;
	for (const cJSON *e = list->child; e; e = e->next, k++) {
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(e, "file");
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(e, "bytes");
		if (!cJSON_IsString(f) || !(cJSON_IsNull(b) || (cJSON_IsNumber(b) &&
		                                                b->valuedouble >= 0 &&
		                                                b->valuedouble < 9.0e15))) {
			rc = nnp_err_set(err, NNP_EINPUT, "%s: manifest entry %zu: needs \"file\" (a "
			                 "string) and \"bytes\" (a size or null)", path, k);
			goto done;
		}
		if (!nnp_manifest_name_ok(f->valuestring)) {
			rc = nnp_err_set(err, NNP_EINPUT, "%s: manifest entry %zu: '%.200s' is not a "
			                 "name inside %s: refusing to remove anything", path, k,
			                 f->valuestring, dir);
			goto done;
		}
		uint64_t bytes = cJSON_IsNull(b) ? NNP_MANIFEST_ANY_SIZE : (uint64_t)b->valuedouble;
		rc = nnp_manifest_add(m, f->valuestring, bytes, err);
		if (rc)
			goto done;
	}
done:
	if (fp)
		fclose(fp);
	cJSON_Delete(j);
	free(text);
	free(path);
	if (rc)
		nnp_manifest_free(m);
	return rc;
}

/* 1 if every directory on the way from dir to name is a real directory (no
 * symbolic link could lead outside dir). */
static int parents_real(const char *dir, const char *name)
{
	char *p = join(dir, name);
	if (!p)
		return 0;
	size_t base = strlen(p) - strlen(name);
	int ok = 1;
	for (char *s = p + base; ok && (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		struct stat st;
		ok = lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
		*s = '/';
	}
	free(p);
	return ok;
}

int nnp_manifest_clean(const char *dir, size_t *removed, nnp_manifest *left, nnp_err *err)
{
	nnp_manifest m;
	if (removed)
		*removed = 0;
	if (left)
		memset(left, 0, sizeof *left);
	int rc = nnp_manifest_read(&m, dir, err);
	if (rc)
		return rc;
	/* report.json last: until then a failure leaves a manifest to finish with. */
	for (int pass = 0; !rc && pass < 2; pass++)
		for (size_t i = 0; !rc && i < m.n; i++) {
			const nnp_manifest_entry *e = &m.e[i];
			if ((strcmp(e->name, "report.json") == 0) != pass)
				continue;
			char *path = join(dir, e->name);
			if (!path) {
				rc = nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", dir);
				break;
			}
			struct stat st;
			int real = parents_real(dir, e->name);
			int there = real && lstat(path, &st) == 0;
			if (real && !there && errno == ENOENT) {
				free(path);
				continue;  /* gone already */
			}
			/* Only a regular file of the size written is still ours. */
			if (!there || !S_ISREG(st.st_mode) ||
			    (e->bytes != NNP_MANIFEST_ANY_SIZE && (uint64_t)st.st_size != e->bytes)) {
				if (left)
					rc = nnp_manifest_add(left, e->name, e->bytes, err);
				free(path);
				continue;
			}
			if (unlink(path) != 0 && errno != ENOENT)
				rc = nnp_err_set(err, NNP_EOUTPUT, "%s: cannot remove it: %s", path,
				                 strerror(errno));
			else if (removed)
				(*removed)++;
			free(path);
		}
	nnp_manifest_free(&m);
	return rc;
}

/* ---- --best PATH ---- */

/* PATH.nnprune.json: what nnprune wrote at PATH (its size and CRC-32). */
static char *sidecar(const char *path)
{
	size_t n = strlen(path) + sizeof ".nnprune.json";
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s.nnprune.json", path);
	return p;
}

/* 1 if the sidecar of path names its current bytes; 0 otherwise. */
static int best_is_ours(const char *path, const char *side)
{
	unsigned char buf[4096];
	FILE *fp = fopen(side, "rb");
	if (!fp)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	cJSON *j = cJSON_Parse((const char *)buf);
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, "format");
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "bytes");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "crc32");
	int ok = 0;
	uint64_t bytes;
	uint32_t crc;
	nnp_err e;
	if (cJSON_IsString(f) && !strcmp(f->valuestring, "nnprune-best") && cJSON_IsNumber(b) &&
	    cJSON_IsString(c) && nnp_file_identity(path, &bytes, &crc, &e) == NNP_OK) {
		char hex[9];
		snprintf(hex, sizeof hex, "%08x", (unsigned)crc);
		ok = (double)bytes == b->valuedouble && !strcmp(hex, c->valuestring);
	}
	cJSON_Delete(j);
	return ok;
}

int nnp_best_check(const char *path, int *ours, nnp_err *err)
{
	*ours = 0;
	struct stat st;
	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return NNP_OK;
		return nnp_err_set(err, NNP_EOUTPUT, "%s: %s", path, strerror(errno));
	}
	char *side = sidecar(path);
	if (!side)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
	*ours = S_ISREG(st.st_mode) && best_is_ours(path, side);
	free(side);
	if (!*ours)
		return nnp_err_set(err, NNP_EOUTPUT, "%s: exists and is not a model an earlier "
		                   "--best wrote (no matching %s.nnprune.json): refusing to replace "
		                   "it; remove it or choose another path", path, path);
	return NNP_OK;
}

int nnp_best_mark(const char *path, nnp_err *err)
{
	uint64_t bytes;
	uint32_t crc;
	int rc = nnp_file_identity(path, &bytes, &crc, err);
	if (rc)
		return rc;
	char *side = sidecar(path);
	if (!side)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "format", "nnprune-best");
	cJSON_AddNumberToObject(o, "version", 1);
	cJSON_AddStringToObject(o, "tool", "nnprune " NNP_VERSION);
	cJSON_AddStringToObject(o, "file", base);
	cJSON_AddNumberToObject(o, "bytes", (double)bytes);
	char hex[9];
	snprintf(hex, sizeof hex, "%08x", (unsigned)crc);
	cJSON_AddStringToObject(o, "crc32", hex);
	char *text = cJSON_Print(o);
	cJSON_Delete(o);
	if (!text) {
		free(side);
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
	}
	size_t n = strlen(text);
	text[n] = '\n';
	rc = nnp_write_file_atomic(side, text, n + 1, err);
	free(text);
	free(side);
	return rc;
}

int nnp_best_remove(const char *path, int *removed, nnp_err *err)
{
	int ours = 0;
	*removed = 0;
	int rc = nnp_best_check(path, &ours, err);
	if (rc || !ours)
		return rc;
	char *side = sidecar(path);
	if (!side)
		return nnp_err_set(err, NNP_ENOMEM, "%s: out of memory", path);
	if (unlink(path) != 0 && errno != ENOENT)
		rc = nnp_err_set(err, NNP_EOUTPUT, "%s: cannot remove it: %s", path, strerror(errno));
	else if (unlink(side) != 0 && errno != ENOENT)
		rc = nnp_err_set(err, NNP_EOUTPUT, "%s: cannot remove it: %s", side, strerror(errno));
	else
		*removed = 1;
	free(side);
	return rc;
}

const char *nnp_report_file_name(nnp_report_kind kind)
{
	switch (kind) {
	case NNP_REPORT_MD: return "report.md";
	case NNP_REPORT_CSV: return "report.csv";
	case NNP_REPORT_JSON: return "report.json";
	case NNP_REPORT_SVG: return "report.svg";
	case NNP_REPORT_STATS_SVG: return "stats.svg";
	case NNP_REPORT_TABLE:
	default: return NULL;
	}
}
