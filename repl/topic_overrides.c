/*
 * topic_overrides.c — a topic's settings as Kafka's overrides: the keys
 * whose values differ from the broker's defaults, the form a cluster keeps
 * in /config/topics/<t> ({"version":1,"config":{"retention.ms":"1000"}}),
 * and back from that form to the .config text that gives a topic exactly
 * those settings.
 *
 * Values are the rendered ones of topic_config_render (the form
 * topic_config_apply takes back), so an override read by another broker
 * means the same thing there. An override is a key given explicitly
 * (struct topic_config, overrides) or one whose value differs from the
 * default; a key that is no override becomes a "-key" line, which
 * takes the default. Invariants:
 *   - `partitions` is never an override: the partition count lives in the
 *     topic's assignment (/brokers/topics/<t>);
 *   - keys that are not topic settings (mqfs.owner.uid, mqfs.mode, keys of
 *     Kafka's that mqfs does not know) are kept as they are, so a rewrite
 *     loses nothing another tool wrote;
 *   - key.separator and line.format are fixed once a topic has records, so
 *     the text built from overrides names them only when the overrides do
 *     (a topic made before they were published keeps its own).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/broker_int.h"

int topic_kv_next(const char **p, const char *end, struct kstr *key, struct kstr *value)
{
	while (*p < end) {
		const char *line = *p, *nl = memchr(line, '\n', (size_t)(end - line));
		size_t l = nl ? (size_t)(nl - line) : (size_t)(end - line);
		const char *eq = memchr(line, '=', l);

		*p = line + l + (nl ? 1 : 0);
		if (!eq)
			continue;
		key->ptr = line;
		key->len = (int32_t)(eq - line);
		value->ptr = eq + 1;
		value->len = (int32_t)(l - (size_t)(eq - line) - 1);
		return 1;
	}
	return 0;
}

int topic_kv_find(const char *text, size_t len, const char *key, struct kstr *value)
{
	const char *p = text;
	struct kstr k;

	while (topic_kv_next(&p, text + len, &k, value))
		if (kstr_eq(k, key))
			return 0;
	return -ENOENT;
}

int topic_overrides_diff(const struct topic_config *tc, const struct topic_config *def,
			 const struct zk_config *keep, struct zk_config *out)
{
	char *a = NULL, *d = NULL;
	size_t alen = 0, dlen = 0;
	const char *p;
	struct kstr k, v, dv;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = topic_config_render(tc, &a, &alen);
	if (rc == 0)
		rc = topic_config_render(def, &d, &dlen);
	for (int i = 0; rc == 0 && keep && i < keep->n; i++)
		if (!topic_config_broker_key(keep->keys[i]))
			rc = zk_config_put(out, keep->keys[i], strlen(keep->keys[i]),
					   keep->values[i], strlen(keep->values[i]));
	for (p = a; rc == 0 && topic_kv_next(&p, a + alen, &k, &v);) {
		char key[128];

		if ((size_t)k.len >= sizeof(key) || kstr_eq(k, "partitions"))
			continue;
		memcpy(key, k.ptr, (size_t)k.len);
		key[k.len] = '\0';
		if (!topic_config_key_set(tc, k.ptr, (size_t)k.len) &&
		    topic_kv_find(d, dlen, key, &dv) == 0 && dv.len == v.len &&
		    !memcmp(dv.ptr, v.ptr, (size_t)v.len))
			continue;
		rc = zk_config_put(out, key, (size_t)k.len, v.ptr, (size_t)v.len);
	}
	free(a);
	free(d);
	if (rc < 0)
		zk_config_clear(out);
	return rc;
}

int topic_overrides_text(const struct zk_config *zc, const struct topic_config *def, char **text,
			 size_t *len)
{
	char *d = NULL;
	size_t dlen = 0;
	const char *p;
	struct kstr k, v;
	FILE *f;
	int rc;

	*text = NULL;
	*len = 0;
	rc = topic_config_render(def, &d, &dlen);
	if (rc < 0)
		return rc;
	f = open_memstream(text, len);
	if (!f) {
		free(d);
		return -ENOMEM;
	}
	for (p = d; topic_kv_next(&p, d + dlen, &k, &v);) {
		char key[128];

		if ((size_t)k.len >= sizeof(key) || kstr_eq(k, "partitions"))
			continue;
		memcpy(key, k.ptr, (size_t)k.len);
		key[k.len] = '\0';
		/* A value of another tool's that spans lines would read as
		 * more settings: the default stands instead. */
		if (zk_config_get(zc, key) && !strchr(zk_config_get(zc, key), '\n'))
			fprintf(f, "%s=%s\n", key, zk_config_get(zc, key));
		else if (strcmp(key, "key.separator") != 0 && strcmp(key, "line.format") != 0)
			fprintf(f, "-%s\n", key);
	}
	free(d);
	if (fclose(f) != 0) {
		free(*text);
		*text = NULL;
		return -ENOMEM;
	}
	return 0;
}

int topic_config_of_overrides(const struct broker_config *c, const struct zk_config *zc,
			      struct topic_config *tc, char *err, size_t errlen)
{
	struct topic_config def;
	char *text = NULL;
	size_t len = 0;
	int rc;

	topic_config_defaults_of(c, tc);
	if (!zc)
		return 0;
	def = *tc;
	rc = topic_overrides_text(zc, &def, &text, &len);
	if (rc == 0)
		rc = topic_config_load(tc, &def, text, len, err, errlen); /* all or nothing */
	free(text);
	return rc;
}
