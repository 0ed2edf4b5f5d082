/*
 * test_linefmt.c — the line view's byte tests against a byte-at-a-time
 * model: line_scan (a written line's end and whether it holds a byte to
 * escape) and the escaping decision of line_escaped / line_len_scanned,
 * with every special byte at every position of lines of every length up
 * to a few blocks, at every alignment, so that the block-wise search (16
 * bytes at a time, and its tail) cannot disagree with the rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "engine/log_int.h"

#define MAXLEN 70
#define ALIGNS 16

/* Every byte value the rules treat differently. */
static const uint8_t specials[] = { 0x00, 0x01, '\t', '\n', '\r', 0x1b, 0x1f, 0x20,
				    '\\', ':',  0x7e, 0x7f, 0x80, 0x9f, 0xff };

static bool model_ctl(uint8_t c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* Model of line_scan: the first '\n', and whether a ctl byte is before it. */
static const char *model_scan(const char *p, const char *end, bool *clean)
{
	*clean = true;
	for (const char *q = p; q < end; q++) {
		if (*q == '\n')
			return q;
		if (model_ctl((uint8_t)*q))
			*clean = false;
	}
	return NULL;
}

/* One line of n bytes of text at buf + align, with byte c at position at
 * (at < 0: none) and, when nl2 >= 0, a second special '\n' there. */
static char *fill(char *buf, int align, int n, int at, uint8_t c, int nl2)
{
	char *p = buf + align;

	for (int i = 0; i < n; i++)
		p[i] = (char)('a' + (i * 7 + align) % 26);
	if (at >= 0)
		p[at] = (char)c;
	if (nl2 >= 0)
		p[nl2] = '\n';
	return p;
}

static void test_scan_matches_model(void **state)
{
	(void)state;
	char buf[MAXLEN + ALIGNS + 8];

	for (int align = 0; align < ALIGNS; align++)
		for (int n = 0; n <= MAXLEN; n++)
			for (int at = -1; at < n; at++)
				for (size_t k = 0; k < sizeof(specials); k++)
					for (int nl2 = -1; nl2 < n; nl2 += 9) {
						char *p = fill(buf, align, n, at, specials[k], nl2);
						bool c1, c2;
						const char *e1 = line_scan(p, p + n, &c1);
						const char *e2 = model_scan(p, p + n, &c2);

						assert_ptr_equal(e1, e2);
						assert_int_equal(c1, c2);
					}
}

/* Model of line_escaped for a key-less record of a topic with separator
 * sep (0: none): E1-E3 of linefmt.c. */
static bool model_escaped_value(const uint8_t *v, int n, int sep)
{
	if (n > 0 && v[0] == '\\')
		return true;
	for (int i = 0; i < n; i++)
		if (model_ctl(v[i]) || (sep && v[i] == sep))
			return true;
	return false;
}

/* Model for a keyed record: the key's first byte, its ctl bytes and its
 * separator bytes, then the value's ctl bytes. */
static bool model_escaped_keyed(const uint8_t *k, int kn, const uint8_t *v, int vn, int sep)
{
	if (kn > 0 && k[0] == '\\')
		return true;
	for (int i = 0; i < kn; i++)
		if (model_ctl(k[i]) || k[i] == sep)
			return true;
	for (int i = 0; i < vn; i++)
		if (model_ctl(v[i]))
			return true;
	return false;
}

static void test_escaped_matches_model(void **state)
{
	(void)state;
	char buf[MAXLEN + ALIGNS + 8];
	struct line_fmt plain = { .format = LINE_FORMAT_ESCAPE, .sep_len = 0 };
	struct line_fmt keyed = { .format = LINE_FORMAT_ESCAPE, .sep_len = 1, .sep = ":" };
	struct line_fmt raw = { .format = LINE_FORMAT_RAW, .sep_len = 0 };

	for (int align = 0; align < ALIGNS; align++)
		for (int n = 0; n <= MAXLEN; n++)
			for (int at = -1; at < n; at++)
				for (size_t k = 0; k < sizeof(specials); k++) {
					const uint8_t *p = (const uint8_t *)fill(buf, align, n, at,
										 specials[k], -1);
					struct rec r = { .value = p,
							 .value_len = n,
							 .key_len = -1 };
					bool want = model_escaped_value(p, n, 0);

					assert_int_equal(line_escaped(&plain, &r), want);
					assert_false(line_escaped(&raw, &r));
					/* A value with a ':' in a keyed topic's key-less
					 * record would come back keyed. */
					assert_int_equal(line_escaped(&keyed, &r),
							 model_escaped_value(p, n, ':'));
					/* The same bytes as a key, the value "v". */
					struct rec kr = { .key = p,
							  .key_len = n,
							  .value = (const uint8_t *)"v",
							  .value_len = 1 };
					assert_int_equal(
						line_escaped(&keyed, &kr),
						model_escaped_keyed(p, n, kr.value, 1, ':'));
					/* And as a value behind the key "k". */
					struct rec vr = { .key = (const uint8_t *)"k",
							  .key_len = 1,
							  .value = p,
							  .value_len = n };
					assert_int_equal(line_escaped(&keyed, &vr),
							 model_escaped_keyed(vr.key, 1, p, n, ':'));
					/* The appender's length: from the scan's answer
					 * when the line was clean, the full test else. */
					bool clean;
					const char *e = line_scan((const char *)p,
								  (const char *)p + n, &clean);
					struct rec lr = {
						.value = p,
						.value_len = e ? (int32_t)(e - (const char *)p) : n,
						.key_len = -1
					};
					assert_int_equal(line_len_scanned(&plain, &lr, clean),
							 line_len(&plain, &lr));
				}
}

/* line_split as line_to_rec, and clean cleared for an escaped line, whose
 * record holds bytes the line does not show. */
static void test_split_escaped_line(void **state)
{
	(void)state;
	struct line_scratch scr = { 0 };
	struct line_rules lr = { "", 0, 1 << 20, LINE_FORMAT_ESCAPE, &scr };
	const char *line = "\\a\\nb\nnext\n";
	struct rec_in r;
	bool clean;

	line_scratch_reset(&scr, strlen(line));
	const char *nl = line_scan(line, line + strlen(line), &clean);
	assert_true(clean); /* the line itself holds no control byte */
	const char *next = line_split(&lr, line, nl, line + strlen(line), &r, &clean);
	assert_ptr_equal(next, nl + 1);
	assert_false(clean); /* its record does: "a\nb" */
	assert_int_equal(r.value_len, 3);
	assert_memory_equal(r.value, "a\nb", 3);
	struct line_fmt lf = { .format = LINE_FORMAT_ESCAPE };
	struct rec rr = { .value = (const uint8_t *)r.value,
			  .value_len = r.value_len,
			  .key_len = -1 };
	assert_int_equal(line_len_scanned(&lf, &rr, clean), (int64_t)strlen("\\a\\nb\n"));
	line_scratch_free(&scr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_matches_model),
		cmocka_unit_test(test_escaped_matches_model),
		cmocka_unit_test(test_split_escaped_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
