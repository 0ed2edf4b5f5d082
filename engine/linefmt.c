/*
 * linefmt.c — the line view of records a line cannot carry (line.format).
 *
 * A Kafka client can produce keys and values holding '\n' or any byte; the
 * partition file shows one line per record, and a record's line position
 * is the sum of the rendered line lengths before it, so the rendering must
 * be a pure function of the record and of two settings fixed once the log
 * has a record (key.separator, line.format): every broker then computes the
 * same positions from the same batches.
 *
 * line.format=raw: the bytes as they are (a value holding '\n' shows as
 * two lines; the positions stay right, the line count does not).
 *
 * line.format=escape (the default): a record is *escaped* when its line
 * could not come back as the same record, that is when
 *   E1. its key (when shown: key.separator set, key not null) or its value
 *       holds a byte of 0x00-0x1f other than tab, or 0x7f;
 *   E2. its line would start with a backslash (the mark below);
 *   E3. a shown key holds the separator's first byte (the first separator
 *       of the line would not be the one after the key), or a key-less
 *       record's value holds the separator (it would come back keyed).
 * Every other record is shown exactly as with raw, so the lines of
 * records written as lines are unchanged, backslashes included.
 *
 * An escaped record's line is a backslash (the mark), then the key, the
 * separator and the value (or the value alone) with, in key and value:
 *   \\ for a backslash, \n for LF, \r for CR, \xHH (two lower-case hex
 *   digits) for the other bytes of E1 and for the separator's first byte
 *   (in a shown key, and in the value of a key-less record of a keyed
 *   topic); every other byte as is (tab and UTF-8 included).
 * Examples, key.separator ":":  value "a<LF>b"  ->  \a\nb
 *   value "\dir"  ->  \\\dir       key "k:1", value "v"  ->  \k\x3a1:v
 *
 * Writing an escaped line (through a partition file or .produce) gives
 * back the bytes: a line starting with a backslash is unescaped (\\ \n \r
 * \t \xHH; a backslash before anything else stays a backslash), so
 * `cat p > f; cat f > .produce` appends the same records. A line that
 * starts with a backslash but was meant literally must be written with
 * its backslashes doubled, as the view shows it.
 *
 * Invariants: line_len(r) == bytes line_render(r) writes; for raw records
 * line_len is value_len + 1 (+ key_len + sep_len when the key is shown);
 * unescape(render(r)) == r, but for an empty value of a keyed record
 * (shown "k<sep>", read back as a tombstone, as for every line).
 */
#include <errno.h>
#include <string.h>

#include "engine/ctlscan.h"
#include "engine/log_int.h"

static const char hex[] = "0123456789abcdef";

const char *line_format_name(int format)
{
	return format == LINE_FORMAT_RAW ? "raw" : "escape";
}

int line_format_parse(const char *s, size_t n)
{
	if (n == 3 && !memcmp(s, "raw", 3))
		return LINE_FORMAT_RAW;
	if (n == 6 && !memcmp(s, "escape", 6))
		return LINE_FORMAT_ESCAPE;
	return -EINVAL;
}

void line_fmt_of(const struct log_config *cfg, struct line_fmt *lf)
{
	lf->format = cfg->line_format;
	lf->sep_len = cfg->key_sep_len;
	memcpy(lf->sep, cfg->key_sep, sizeof(lf->sep));
}

/* Bytes of b[0..n) escaped; x: one more byte to escape, or -1. */
static int64_t esc_len(const uint8_t *b, int32_t n, int x)
{
	int64_t len = 0;

	for (int32_t i = 0; i < n; i++) {
		uint8_t c = b[i];

		if (c == '\\' || c == '\n' || c == '\r')
			len += 2;
		else if (ctl_byte(c) || c == x)
			len += 4;
		else
			len++;
	}
	return len;
}

static char *esc_put(char *o, const uint8_t *b, int32_t n, int x)
{
	for (int32_t i = 0; i < n; i++) {
		uint8_t c = b[i];

		if (c == '\\' || c == '\n' || c == '\r') {
			*o++ = '\\';
			*o++ = c == '\\' ? '\\' : c == '\n' ? 'n' : 'r';
		} else if (ctl_byte(c) || c == x) {
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		} else {
			*o++ = (char)c;
		}
	}
	return o;
}

const char *line_scan(const char *p, const char *end, bool *clean)
{
	const uint8_t *b = (const uint8_t *)p;
	size_t n = (size_t)(end - p), i = 0;

	*clean = true;
	for (; i + CTL_BLOCK <= n; i += CTL_BLOCK) {
		unsigned m = ctl_mask(b + i, -1);

		for (; m; m &= m - 1) {
			size_t k = i + (size_t)__builtin_ctz(m);

			if (b[k] == '\n')
				return p + k;
			if (b[k] != '\t') {
				*clean = false;
				return memchr(p + k, '\n', n - k);
			}
		}
	}
	for (; i < n; i++) {
		if (b[i] == '\n')
			return p + i;
		if (ctl_byte(b[i]))
			*clean = false;
	}
	return NULL;
}

/* line_escaped; value_clean: the value is known to hold no control byte
 * (its line was scanned by line_scan), so only the other rules are left. */
static bool escaped_as(const struct line_fmt *lf, const struct rec *r, bool value_clean)
{
	if (lf->format != LINE_FORMAT_ESCAPE)
		return false;
	bool keyed = lf->sep_len > 0 && r->key_len >= 0;
	int32_t vl = r->value_len > 0 ? r->value_len : 0;

	if (keyed) { /* E1-E3 */
		if ((r->key_len > 0 && r->key[0] == '\\') ||
		    (r->key_len == 0 && lf->sep[0] == '\\') ||
		    ctl_any(r->key, r->key_len, (uint8_t)lf->sep[0]))
			return true;
	} else {
		if (vl > 0 && r->value[0] == '\\')
			return true;
		if (lf->sep_len > 0 && memmem(r->value ? (const void *)r->value : "", (size_t)vl,
					      lf->sep, (size_t)lf->sep_len))
			return true;
	}
	return !value_clean && ctl_any(r->value, vl, -1);
}

bool line_escaped(const struct line_fmt *lf, const struct rec *r)
{
	return escaped_as(lf, r, false);
}

/* The byte escaped beside the control bytes in the key (keyed) or in the
 * value of a key-less record of a keyed topic. */
static int sep_byte(const struct line_fmt *lf)
{
	return lf->sep_len > 0 ? (uint8_t)lf->sep[0] : -1;
}

static int64_t measure(const struct line_fmt *lf, const struct rec *r, bool value_clean,
		       bool *escaped)
{
	bool keyed = lf->sep_len > 0 && r->key_len >= 0;
	int32_t vl = r->value_len > 0 ? r->value_len : 0;

	*escaped = escaped_as(lf, r, value_clean);
	if (!*escaped)
		return vl + 1 + (keyed ? r->key_len + lf->sep_len : 0);
	if (keyed)
		return 1 + esc_len(r->key, r->key_len, sep_byte(lf)) + lf->sep_len +
		       esc_len(r->value, vl, -1) + 1;
	return 1 + esc_len(r->value, vl, sep_byte(lf)) + 1;
}

int64_t line_measure(const struct line_fmt *lf, const struct rec *r, bool *escaped)
{
	return measure(lf, r, false, escaped);
}

int64_t line_len_scanned(const struct line_fmt *lf, const struct rec *r, bool value_clean)
{
	bool esc;

	return measure(lf, r, value_clean, &esc);
}

int64_t line_plain_len(const struct line_fmt *lf, const struct rec *r)
{
	bool keyed = lf->sep_len > 0 && r->key_len >= 0;
	int32_t vl = r->value_len > 0 ? r->value_len : 0;

	return vl + 1 + (keyed ? r->key_len + lf->sep_len : 0);
}

int64_t line_len(const struct line_fmt *lf, const struct rec *r)
{
	bool esc;

	return line_measure(lf, r, &esc);
}

int64_t iter_line_bytes(struct batch_iter *it, const struct line_fmt *lf, struct batch_meta *ts)
{
	int64_t sum = 0;
	struct rec r;
	int rc;

	if (ts) {
		ts->max_ts = -1;
		ts->max_ts_offset = it->hdr.base_offset;
	}
	while ((rc = batch_iter_next(it, &r)) == 1) {
		sum += line_len(lf, &r);
		if (ts)
			batch_meta_note_ts(ts, r.timestamp, r.offset);
	}
	return rc < 0 ? rc : sum;
}

int64_t line_render(const struct line_fmt *lf, const struct rec *r, char *out)
{
	return line_render_as(lf, r, line_escaped(lf, r), out);
}

int64_t line_render_as(const struct line_fmt *lf, const struct rec *r, bool esc, char *out)
{
	bool keyed = lf->sep_len > 0 && r->key_len >= 0;
	int32_t vl = r->value_len > 0 ? r->value_len : 0;
	char *o = out;

	if (esc)
		*o++ = '\\';
	if (keyed) {
		if (esc) {
			o = esc_put(o, r->key, r->key_len, sep_byte(lf));
		} else if (r->key_len > 0) {
			memcpy(o, r->key, (size_t)r->key_len);
			o += r->key_len;
		}
		memcpy(o, lf->sep, (size_t)lf->sep_len);
		o += lf->sep_len;
	}
	if (esc) {
		o = esc_put(o, r->value, vl, keyed ? -1 : sep_byte(lf));
	} else if (vl > 0) {
		memcpy(o, r->value, (size_t)vl);
		o += vl;
	}
	*o++ = '\n';
	return o - out;
}

static int unhex(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* Unescapes p[0..n) to o (NULL: only counts); returns the bytes written
 * (never more than n). */
static size_t unesc(const char *p, size_t n, char *o)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++, k++) {
		char c = p[i];

		if (c == '\\' && i + 1 < n) {
			char e = p[i + 1];
			int h, l;

			if (e == '\\' || e == 'n' || e == 'r' || e == 't') {
				c = e == '\\' ? '\\' : e == 'n' ? '\n' : e == 'r' ? '\r' : '\t';
				i++;
			} else if (e == 'x' && i + 3 < n && (h = unhex(p[i + 2])) >= 0 &&
				   (l = unhex(p[i + 3])) >= 0) {
				c = (char)(h << 4 | l);
				i += 3;
			}
		}
		if (o)
			o[k] = c;
	}
	return k;
}

bool line_unescaped_fits(const struct line_rules *lr, const char *p, size_t l)
{
	const char *body = p + 1, *end = p + l, *sep = NULL;
	size_t n;

	if (lr->sep_len > 0)
		sep = memmem(body, l - 1, lr->sep, (size_t)lr->sep_len);
	if (sep)
		n = unesc(body, (size_t)(sep - body), NULL) +
		    unesc(sep + lr->sep_len, (size_t)(end - sep - lr->sep_len), NULL);
	else
		n = unesc(body, l - 1, NULL);
	return (int64_t)n <= lr->max;
}

bool line_unescape_rec(const struct line_rules *lr, const char *p, size_t l, struct rec_in *r)
{
	struct line_scratch *s = lr->scratch;
	const char *body = p + 1, *sep = NULL;
	size_t bl = l - 1;

	if (s->cap - s->len < bl) {
		/* Pointers into buf are out only when len > 0: grow only then
		 * not, and to the whole hint, so it happens once. */
		size_t want = s->hint > bl ? s->hint : bl;
		char *nb;

		if (s->len > 0 || !(nb = realloc(s->buf, want ? want : 1)))
			return false;
		s->buf = nb;
		s->cap = want;
	}
	if (lr->sep_len > 0)
		sep = memmem(body, bl, lr->sep, (size_t)lr->sep_len);
	char *o = s->buf + s->len;
	if (sep) {
		size_t kl = unesc(body, (size_t)(sep - body), o);
		const char *v = sep + lr->sep_len;
		size_t vl = unesc(v, (size_t)(body + bl - v), o + kl);

		if ((int64_t)(kl + vl) > lr->max)
			return false;
		r->key = o;
		r->key_len = (int32_t)kl;
		r->value = vl ? o + kl : NULL;
		r->value_len = vl ? (int32_t)vl : -1;
		s->len += kl + vl;
	} else {
		size_t vl = unesc(body, bl, o);

		if ((int64_t)vl > lr->max)
			return false;
		r->key = NULL;
		r->key_len = -1;
		r->value = o;
		r->value_len = (int32_t)vl;
		s->len += vl;
	}
	return true;
}
