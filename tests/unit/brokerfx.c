/*
 * brokerfx.c — a single node's broker and listener for tests (brokerfx.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/group_int.h"
#include "repl/proto.h"
#include "tests/unit/brokerfx.h"

int brokerfx_setup(void **state, const char *tag, const char *extra)
{
	struct brokerfx *f = calloc(1, sizeof(*f));
	char text[1024], err[256];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mqfs-test-%s.XXXXXX", tag);
	assert_non_null(mkdtemp(f->dir));
	broker_config_defaults(&f->cfg);
	snprintf(text, sizeof(text), "listeners=PLAINTEXT://127.0.0.1:0\n%s", extra);
	assert_int_equal(broker_config_parse(&f->cfg, text, strlen(text), err, sizeof(err)), 0);
	snprintf(f->cfg.data_dir, sizeof(f->cfg.data_dir), "%s/data", f->dir);
	brokerfx_open(f);
	*state = f;
	return 0;
}

int brokerfx_teardown(void **state)
{
	struct brokerfx *f = *state;
	char cmd[128];

	if (f->b)
		brokerfx_close(f);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

void brokerfx_open(struct brokerfx *f)
{
	assert_int_equal(broker_open(&f->cfg, &f->b), 0);
	assert_non_null(f->b->cluster);
	f->port = cluster_listener_port(f->b->cluster, 0);
	assert_true(f->port > 0);
	f->c = brokerfx_connect(f);
}

void brokerfx_close(struct brokerfx *f)
{
	net_client_close(f->c);
	f->c = NULL;
	assert_int_equal(broker_close(f->b), 0);
	f->b = NULL;
}

struct net_client *brokerfx_connect(struct brokerfx *f)
{
	struct net_client *c;

	assert_int_equal(net_client_connect("127.0.0.1", f->port, BROKERFX_DEADLINE_MS, &c), 0);
	return c;
}

void brokerfx_call(struct net_client *c, int16_t api, int16_t v, struct kbuf_w *w,
		   struct net_resp *raw)
{
	assert_int_equal(net_client_call(c, api, v, w->buf, w->len, 0, BROKERFX_DEADLINE_MS, raw),
			 0);
	kbuf_w_free(w);
}

size_t brokerfx_offsets_text(struct broker *b, const char *group, char *buf, size_t cap)
{
	struct topic *o = b->gc->offsets;
	int p = group_offsets_partition(group, topic_partitions(o));
	struct log_cursor *c;
	int64_t pos = 0, actual;
	size_t used = 0;
	ssize_t n;

	assert_int_equal(topic_cursor_new(o, p, &c), 0);
	while ((n = group_read_lines(o, p, c, pos, buf + used, cap - 1 - used, &actual)) > 0) {
		pos = actual + n;
		used += (size_t)n;
	}
	topic_cursor_free(o, p, c);
	buf[used] = '\0';
	return used;
}

int16_t brokerfx_delete_groups_error(struct net_resp *raw)
{
	struct proto_delete_groups_resp r;
	int16_t err;

	assert_int_equal(proto_delete_groups_resp_decode(&raw->body, 2, &r), 0);
	assert_int_equal(r.n_results, 1);
	err = r.results[0].error_code;
	proto_delete_groups_resp_free(&r);
	net_resp_free(raw);
	return err;
}
