/*
 * nnprune: bytes taken from input, made safe to show, and the strict JSON
 * white-space rule every JSON reader applies before parsing.
 */
#ifndef NNPRUNE_TEXT_H
#define NNPRUNE_TEXT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Room for 40 input bytes quoted with nnp_text_quote, all escaped, plus "...". */
#define NNP_QUOTE_BUF 168

/*
 * Writes n bytes of src into dst (cap bytes, always NUL-terminated) with
 * every byte outside printable ASCII (0x20..0x7e) as \xNN and a backslash as
 * \\, so that no input reaches a terminal as a control sequence and the
 * text reads back unambiguously. What does not fit ends in "...". Returns dst.
 */
char *nnp_text_quote(char *dst, size_t cap, const void *src, size_t n);

/*
 * Escapes, in place, every byte of the NUL-terminated s outside printable
 * ASCII as \xNN (backslashes stay as they are: the call is idempotent),
 * keeping the result within cap bytes (cut at a whole escape). Used on every
 * error message, so that a path or a name read from a file cannot carry a
 * terminal escape into stderr.
 */
void nnp_text_escape_inplace(char *s, size_t cap);

/*
 * A malloc'd copy of s with every byte outside printable ASCII as \xNN, as
 * nnp_text_escape_inplace does, without a length limit; keep_layout leaves
 * LF and tab as they are (for text laid out by us, such as pretty JSON whose
 * strings already escape them). NULL if out of memory.
 */
char *nnp_text_escape_dup(const char *s, int keep_layout);

/*
 * The white space of JSON as RFC 8259 defines it: space, tab, LF and CR
 * between tokens, no raw control byte (< 0x20) inside a string. cJSON
 * skips every byte <= 0x20 between tokens; every JSON reader (models,
 * statistics files, metadata blobs, tensor-file headers) calls this on the
 * text before parsing. Returns 0 if the text is clean, else -1 with *at the
 * offset of the first offending byte. A NUL byte is offending wherever it is.
 */
int nnp_json_check_ws(const char *text, size_t len, size_t *at);

#ifdef __cplusplus
}
#endif
#endif
