/*
 * fuzz_config.c — libFuzzer target: the settings parsers (repl/config.c,
 * repl/cluster_config.c) over a text as an operator or a client writes
 * it: the broker's server.properties (broker_config_parse, cluster
 * settings included) and a topic's .config (topic_config_apply_def, "-key"
 * lines going back to the broker's defaults). The input is given to both.
 *
 * Properties checked (abort() on a violation):
 *   - a text is applied or refused whole: -EINVAL (or -ENOMEM) with a
 *     message, and the config left as it was, byte for byte;
 *   - what is applied renders (broker_config_render, topic_config_render)
 *     to a text the same parser applies to the defaults without an error
 *     and that renders again to the same text (the rendered settings are
 *     what a .config read shows, and what a later write gives back);
 *   - topic_config_text_names reads the input without going outside it.
 *
 * Built by `make fuzz` with clang -fsanitize=fuzzer,address, and by `make
 * test` with the corpus replay driver (replay.c).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "repl/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A refusal: -EINVAL with a message, or -ENOMEM. */
static void refused(int rc, const char *err, size_t errlen)
{
	if (rc == -ENOMEM)
		return;
	if (rc != -EINVAL || !err[0] || strnlen(err, errlen) >= errlen)
		abort();
}

static void same_text(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen || memcmp(a, b, alen))
		abort();
}

static void check_broker(const char *text, size_t len)
{
	struct broker_config *c = malloc(sizeof(*c)), *before = malloc(sizeof(*c));
	char err[256] = "", *r1 = NULL, *r2 = NULL;
	size_t l1 = 0, l2 = 0;
	int rc;

	if (!c || !before)
		abort();
	broker_config_defaults(c);
	memcpy(before, c, sizeof(*c));
	rc = broker_config_parse(c, text, len, err, sizeof(err));
	if (rc) {
		refused(rc, err, sizeof(err));
		if (memcmp(before, c, sizeof(*c)))
			abort();
		goto out;
	}
	if (broker_config_render(c, &r1, &l1) < 0)
		goto out;
	broker_config_defaults(c);
	if (broker_config_parse(c, r1, l1, err, sizeof(err)) != 0)
		abort();
	if (broker_config_render(c, &r2, &l2) < 0)
		goto out;
	same_text(r1, l1, r2, l2);
out:
	free(r1);
	free(r2);
	free(c);
	free(before);
}

static void check_topic(const char *text, size_t len)
{
	struct broker_config *bc = malloc(sizeof(*bc));
	struct topic_config def, tc, before;
	char err[256] = "", *r1 = NULL, *r2 = NULL;
	size_t l1 = 0, l2 = 0;
	int rc;

	if (!bc)
		abort();
	broker_config_defaults(bc);
	topic_config_defaults_of(bc, &def);
	tc = def;
	before = tc;
	rc = topic_config_apply_def(&tc, &def, text, len, err, sizeof(err));
	if (rc) {
		refused(rc, err, sizeof(err));
		if (memcmp(&before, &tc, sizeof(tc)))
			abort();
		goto out;
	}
	if (topic_config_render(&tc, &r1, &l1) < 0)
		goto out;
	tc = def;
	if (topic_config_apply_def(&tc, &def, r1, l1, err, sizeof(err)) != 0)
		abort();
	if (topic_config_render(&tc, &r2, &l2) < 0)
		goto out;
	same_text(r1, l1, r2, l2);
out:
	(void)topic_config_text_names(text, len, "retention.ms");
	(void)topic_config_text_names(text, len, "key.separator");
	free(r1);
	free(r2);
	free(bc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_broker((const char *)data, size);
	check_topic((const char *)data, size);
	return 0;
}
