/*
 * catalog.c — the topic catalog on disk: one small text file per topic,
 *
 *     DATA/meta/topics/<topic>.properties
 *
 * in the same key=value form as server.properties:
 *
 *     # mqfs topic metadata: written by mqfs, replaced atomically
 *     topic=orders                 the name (authoritative, see below)
 *     uid=1000                     owner of MNT/<topic>/
 *     gid=1000
 *     mode=0755                    permission bits, octal
 *     ctime.ms=1732640000000       creation time, ms since the epoch
 *     partitions=3                 always written
 *     key.separator=               always written (fixed after the first record)
 *     line.format=escape           always written (fixed after the first record)
 *     retention.ms=3600000         then every override: a setting given
 *     ...                          explicitly or that differs from the
 *                                  broker's default for topics
 *
 * Only overrides are stored (besides partitions and key.separator), so a
 * changed server.properties default applies to every topic that did not
 * override it, as in Kafka. partitions, key.separator and line.format
 * (raw when the file has none: such a topic predates it) are pinned because
 * changing them under an existing topic would change what it is: its
 * partition count or the line view of its records.
 *
 * The config lines are parsed by topic_config_apply() on top of the
 * broker's defaults; topic, uid, gid, mode and ctime.ms are parsed here.
 * Every file is written with io_write_file_atomic() (tmp, fsync, rename,
 * fsync dir), so a file is either the old or the new version, never torn;
 * a file that does not parse anyway is reported (-EBADMSG, with its path)
 * and the broker refuses to start rather than lose a topic silently.
 *
 * File names: "<topic>.properties" while that fits comfortably within
 * NAME_MAX; a longer name (Kafka allows 249 characters) is cut and a hash
 * of the full name appended. The topic= line holds the real name and the
 * file name must be the one computed from it.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/broker_int.h"
#include "util/readdir.h"

#define META_SUFFIX    ".properties"
#define META_NAME_KEEP 200 /* longest topic name used as is */
#define META_NAME_CUT  184 /* prefix kept of a longer one */

void catalog_default_config(struct broker *b, struct topic_config *tc)
{
	pthread_mutex_lock(&b->dyn_mu);
	*tc = b->dyn_defaults;
	pthread_mutex_unlock(&b->dyn_mu);
}

static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

void catalog_file_name(const char *topic, char *out, size_t outlen)
{
	size_t n = strlen(topic);

	if (n <= META_NAME_KEEP)
		snprintf(out, outlen, "%s" META_SUFFIX, topic);
	else
		snprintf(out, outlen, "%.*s~%016" PRIx64 META_SUFFIX, META_NAME_CUT, topic,
			 fnv1a64(topic));
}

/* Does text contain exactly this line (without its '\n')? */
static bool text_has_line(const char *text, size_t len, const char *line, size_t linelen)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (l == linelen && memcmp(p, line, l) == 0)
			return true;
		p += l + 1;
	}
	return false;
}

static bool line_has_key(const char *line, size_t len, const char *key)
{
	size_t k = strlen(key);

	return len > k && memcmp(line, key, k) == 0 && line[k] == '=';
}

int catalog_write(struct broker *b, const struct topic *t, const struct topic_config *tc, uid_t uid,
		  gid_t gid, mode_t mode)
{
	struct topic_config def;
	char *mine = NULL, *defs = NULL, *buf = NULL, path[sizeof(b->meta_dir) + 300];
	size_t mine_len = 0, defs_len = 0, len = 0;
	FILE *f = NULL;
	int rc;

	catalog_default_config(b, &def);
	rc = topic_config_render(tc, &mine, &mine_len);
	if (rc < 0)
		goto out;
	rc = topic_config_render(&def, &defs, &defs_len);
	if (rc < 0)
		goto out;
	f = open_memstream(&buf, &len);
	if (!f) {
		rc = -ENOMEM;
		goto out;
	}
	fprintf(f,
		"# mqfs topic metadata: written by mqfs, replaced atomically\n"
		"topic=%s\nuid=%u\ngid=%u\nmode=0%o\nctime.ms=%" PRId64 "\n",
		t->name, (unsigned)uid, (unsigned)gid, (unsigned)(mode & 07777), t->ctime_ms);
	for (const char *p = mine, *end = mine + mine_len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		const char *eq = memchr(p, '=', l);

		if (l > 0 &&
		    (line_has_key(p, l, "partitions") || line_has_key(p, l, "key.separator") ||
		     line_has_key(p, l, "line.format") || !text_has_line(defs, defs_len, p, l) ||
		     (eq && topic_config_key_set(tc, p, (size_t)(eq - p))))) {
			fwrite(p, 1, l, f);
			fputc('\n', f);
		}
		p += l + 1;
	}
	if (fclose(f) != 0) {
		f = NULL;
		rc = -ENOMEM;
		goto out;
	}
	f = NULL;
	snprintf(path, sizeof(path), "%s/%s", b->meta_dir, t->meta_file);
	rc = io_write_file_atomic(logmgr_io(b->m), path, buf, len);
	if (rc < 0)
		mq_log(MQ_ERR, "topic %s: cannot write %s: %s", t->name, path, strerror(-rc));
out:
	if (f)
		fclose(f);
	free(buf);
	free(mine);
	free(defs);
	return rc;
}

int catalog_remove(struct broker *b, const char *meta_file)
{
	const struct io_ops *io = logmgr_io(b->m);
	char path[sizeof(b->meta_dir) + 300];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", b->meta_dir, meta_file);
	rc = io->unlink(io->ctx, path);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	return io->fsync_dir(io->ctx, b->meta_dir);
}

static char *trim(char *s, char *end)
{
	while (s < end && isspace((unsigned char)*s))
		s++;
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

/* Strict unsigned decimal (base 10) or octal (base 8) up to max. */
static int parse_u64(const char *s, int base, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* mqfs's own keys of a metadata file, as bits of "seen". */
enum {
	OWN_TOPIC = 1,
	OWN_UID = 2,
	OWN_GID = 4,
	OWN_MODE = 8,
	OWN_CTIME = 16,
	OWN_PARTS = 32,
	OWN_ALL = 63
};
static const char *const own_names[] = { "topic", "uid", "gid", "mode", "ctime.ms" };

/* Parses one of the own keys into *e: the key's bit, or 0 if key is not
 * one of them, or -EINVAL. */
static int own_key(struct catalog_entry *e, const char *key, const char *val)
{
	uint64_t v = 0;
	int bit = 0, rc = 0;

	for (int i = 0; i < 5; i++)
		if (strcmp(key, own_names[i]) == 0)
			bit = 1 << i;
	switch (bit) {
	case OWN_TOPIC:
		rc = topic_name_valid(val) ? 0 : -EINVAL;
		snprintf(e->name, sizeof(e->name), "%s", rc == 0 ? val : "");
		break;
	case OWN_UID:
	case OWN_GID:
		rc = parse_u64(val, 10, UINT32_MAX, &v);
		if (bit == OWN_UID)
			e->uid = (uid_t)v;
		else
			e->gid = (gid_t)v;
		break;
	case OWN_MODE:
		rc = parse_u64(val, 8, 07777, &v);
		e->mode = (mode_t)v;
		break;
	case OWN_CTIME:
		rc = parse_u64(val, 10, INT64_MAX, &v);
		e->ctime_ms = (int64_t)v;
		break;
	}
	return rc < 0 ? rc : bit;
}

int catalog_parse(struct broker *b, const char *text, size_t len, struct catalog_entry *e,
		  char *err, size_t errlen)
{
	char *copy = NULL, *cfgtext = NULL;
	size_t cfglen = 0;
	int lineno = 0, seen = 0, rc = 0;

	memset(e, 0, sizeof(*e));
	copy = malloc(len + 1);
	cfgtext = malloc(len + 1);
	if (!copy || !cfgtext) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	/* Config lines are copied to cfgtext for topic_config_apply; every
	 * other line leaves an empty line in its place, so that apply's line
	 * numbers are the file's. cfgtext needs at most len + 1 bytes. */
	for (char *p = copy, *end = copy + len, *next; p < end; p = next) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *lend = nl ? nl : end, *eq, *key;
		size_t klen, vlen;
		int bit;

		next = lend + 1;
		lineno++;
		eq = memchr(p, '=', (size_t)(lend - p));
		key = trim(p, eq ? eq : lend);
		if (!*key || *key == '#' || *key == '!') {
			cfgtext[cfglen++] = '\n';
			continue;
		}
		if (!eq) {
			snprintf(err, errlen, "line %d: no '='", lineno);
			rc = -EBADMSG;
			goto out;
		}
		klen = strlen(key);
		vlen = (size_t)(lend - eq - 1);
		/* the value is passed on untrimmed: apply trims it */
		memcpy(cfgtext + cfglen, key, klen);
		cfgtext[cfglen + klen] = '=';
		memcpy(cfgtext + cfglen + klen + 1, eq + 1, vlen);
		bit = own_key(e, key, trim(eq + 1, lend));
		if (bit < 0) {
			snprintf(err, errlen, "line %d: bad value for %s", lineno, key);
			rc = -EBADMSG;
			goto out;
		}
		if (bit == 0) {
			cfglen += klen + 1 + vlen;
			seen |= strcmp(key, "partitions") == 0 ? OWN_PARTS : 0;
		}
		cfgtext[cfglen++] = '\n';
		seen |= bit;
	}
	if (seen != OWN_ALL) {
		int missing = 0;

		while (seen & (1 << missing))
			missing++;
		snprintf(err, errlen, "missing %s",
			 missing < 5 ? own_names[missing] : "partitions");
		rc = -EBADMSG;
		goto out;
	}
	catalog_default_config(b, &e->cfg);
	/* partitions may only grow under topic_config_apply: start from the
	 * smallest count so that the stored one always applies. */
	e->cfg.partitions = 1;
	/* A topic written before line.format existed shows its records raw:
	 * its line positions were computed so. */
	e->cfg.log.line_format = LINE_FORMAT_RAW;
	/* Loaded, not set: settings stored under other defaults need not
	 * agree with today's (topic_conflict_note). */
	rc = topic_config_load(&e->cfg, NULL, cfgtext, cfglen, err, errlen);
	if (rc < 0)
		rc = -EBADMSG;
out:
	free(copy);
	free(cfgtext);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && strcmp(s + n - k, suffix) == 0;
}

int catalog_load(struct broker *b,
		 int (*fn)(struct broker *b, const struct catalog_entry *e, const char *file,
			   void *arg),
		 void *arg)
{
	const struct io_ops *io = logmgr_io(b->m);
	struct catalog_entry *e = NULL;
	char **names = NULL, path[sizeof(b->meta_dir) + 300], err[600], want[256];
	int n = 0, cap = 0, rc = 0, derr;
	struct dirent *de;
	DIR *d;

	d = opendir(b->meta_dir);
	if (!d)
		return -errno;
	/* Sorted, so that topic ids and log messages do not depend on the
	 * directory order. The tmp file of an atomic write a stop
	 * interrupted is removed (its rename never came: the file it was to
	 * replace, or none, is the settings; nothing else writes here, the
	 * data directory being this process's alone); other files are left
	 * alone. */
	while ((de = readdir_checked(d, &derr)) != NULL) {
		if (has_suffix(de->d_name, META_SUFFIX ".tmp")) {
			snprintf(path, sizeof(path), "%s/%s", b->meta_dir, de->d_name);
			if (io->unlink(io->ctx, path) == 0)
				mq_log(MQ_INFO, "%s: removed (a settings write a stop interrupted)",
				       path);
			continue;
		}
		if (!has_suffix(de->d_name, META_SUFFIX))
			continue;
		if (n == cap) {
			char **nn = realloc(names, (size_t)(cap ? cap * 2 : 16) * sizeof(*names));

			if (!nn) {
				rc = -ENOMEM;
				goto out;
			}
			names = nn;
			cap = cap ? cap * 2 : 16;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			rc = -ENOMEM;
			goto out;
		}
		n++;
	}
	/* A topic missed would leave its logs to no topic, some of them
	 * dropped (see "Topics" in README.md): the start fails instead. */
	if (derr < 0) {
		mq_log(MQ_ERR, "catalog: cannot list %s: %s", b->meta_dir, strerror(-derr));
		rc = derr;
		goto out;
	}
	if (n > 1)
		qsort(names, (size_t)n, sizeof(*names), cmp_str);
	e = malloc(sizeof(*e));
	if (!e) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < n && rc == 0; i++) {
		char *text = NULL;
		size_t len = 0;

		snprintf(path, sizeof(path), "%s/%s", b->meta_dir, names[i]);
		rc = io_read_file(io, path, &text, &len);
		if (rc < 0) {
			mq_log(MQ_ERR, "catalog: cannot read %s: %s", path, strerror(-rc));
			break;
		}
		err[0] = '\0';
		rc = catalog_parse(b, text, len, e, err, sizeof(err));
		/* Said at each start until the file is written again (any
		 * setting or owner change writes line.format=raw). */
		if (rc == 0 && !topic_config_text_names(text, len, "line.format"))
			mq_log(MQ_INFO,
			       "catalog: %s names no line.format (written by an mqfs without "
			       "the setting): topic %s is line.format=raw, as its records' "
			       "line positions were computed",
			       path, e->name);
		free(text);
		if (rc == 0)
			topic_conflict_note(e->name, NULL, &e->cfg);
		if (rc == 0) {
			catalog_file_name(e->name, want, sizeof(want));
			if (strcmp(want, names[i]) != 0) {
				snprintf(err, sizeof(err), "topic=%s belongs in %s", e->name, want);
				rc = -EBADMSG;
			}
		}
		if (rc < 0) {
			mq_log(MQ_ERR, "catalog: %s: %s; refusing to start (fix or move the file)",
			       path, rc == -EBADMSG ? err : strerror(-rc));
			break;
		}
		rc = fn(b, e, names[i], arg);
	}
out:
	closedir(d);
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(e);
	return rc;
}
