/*
 * test_inode.c — the fs inode table (fs/inode.c): one key, one inode number;
 * lookup counts and forget; use references; growth; concurrent lookups.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "fs/inode.h"

/* The table only passes topics to its callback: a stand-in counts puts. */
struct topic {
	int puts;
};

static void fake_put(struct topic *t)
{
	__atomic_add_fetch(&t->puts, 1, __ATOMIC_SEQ_CST);
}

static struct node_key key_part(uint64_t topic_id, int32_t p)
{
	return (struct node_key){
		.kind = NODE_PART, .topic_id = topic_id, .partition = p, .base = -1, .file = 0
	};
}

static void test_root(void **state)
{
	struct inode_table *it;
	struct fs_node *n;

	(void)state;
	assert_int_equal(inode_table_new(NULL, &it), 0);
	assert_int_equal(inode_count(it), 1);
	assert_int_equal(inode_get(it, 1, &n), 0);
	assert_int_equal(n->key.kind, NODE_ROOT);
	inode_put(it, n);
	/* The kernel never forgets the root; even if it did, it stays. */
	inode_forget(it, 1, 1000);
	assert_int_equal(inode_get(it, 1, &n), 0);
	inode_put(it, n);
	assert_int_equal(inode_get(it, 999, &n), -ESTALE);
	inode_table_free(it);
}

static void test_same_key_same_ino(void **state)
{
	struct inode_table *it;
	struct fs_node *a, *b, *c, *d;
	struct node_key k = key_part(7, 0);
	struct node_key seg = {
		.kind = NODE_SEG_FILE, .topic_id = 7, .partition = 0, .base = 0, .file = 1
	};

	(void)state;
	assert_int_equal(inode_table_new(NULL, &it), 0);
	assert_int_equal(inode_lookup(it, &k, NULL, &a), 0);
	assert_int_equal(inode_lookup(it, &k, NULL, &b), 0);
	assert_ptr_equal(a, b);
	assert_true(a->ino > 1);
	k.partition = 1;
	assert_int_equal(inode_lookup(it, &k, NULL, &c), 0);
	assert_true(c->ino != a->ino);
	/* Keys differing in one field only are different nodes. */
	assert_int_equal(inode_lookup(it, &seg, NULL, &d), 0);
	assert_true(d->ino != a->ino && d->ino != c->ino);
	assert_int_equal(inode_peek(it, &seg), d->ino);
	seg.file = 2;
	assert_int_equal(inode_peek(it, &seg), 0);
	inode_put(it, a);
	inode_put(it, b);
	inode_put(it, c);
	inode_put(it, d);
	assert_int_equal(inode_count(it), 4);
	inode_table_free(it);
}

static void test_forget_frees(void **state)
{
	struct inode_table *it;
	struct topic t = { 0 }, t2 = { 0 };
	struct fs_node *a, *b;
	struct node_key k = key_part(3, 2);
	uint64_t ino;

	(void)state;
	assert_int_equal(inode_table_new(fake_put, &it), 0);
	assert_int_equal(inode_lookup(it, &k, &t, &a), 0);
	inode_put(it, a);
	/* Second lookup: the node exists, the new reference is dropped now. */
	assert_int_equal(inode_lookup(it, &k, &t2, &b), 0);
	inode_put(it, b);
	assert_int_equal(t2.puts, 1);
	assert_int_equal(t.puts, 0);
	ino = a->ino;

	inode_forget(it, ino, 1);
	assert_int_equal(inode_get(it, ino, &a), 0); /* one lookup left */
	inode_put(it, a);
	inode_forget(it, ino, 1);
	assert_int_equal(inode_get(it, ino, &a), -ESTALE);
	assert_int_equal(t.puts, 1);
	assert_int_equal(inode_count(it), 1);
	assert_int_equal(inode_peek(it, &k), 0);

	/* Looked up again: a new node with a new number (never reused). */
	assert_int_equal(inode_lookup(it, &k, NULL, &a), 0);
	assert_true(a->ino > ino);
	inode_put(it, a);
	inode_forget(it, 424242, 1); /* unknown: ignored */
	inode_table_free(it);
}

static void test_use_ref_outlives_forget(void **state)
{
	struct inode_table *it;
	struct topic t = { 0 };
	struct fs_node *a, *held;
	struct node_key k = key_part(9, 0);

	(void)state;
	assert_int_equal(inode_table_new(fake_put, &it), 0);
	assert_int_equal(inode_lookup(it, &k, &t, &a), 0);
	inode_put(it, a);
	assert_int_equal(inode_get(it, a->ino, &held), 0);
	inode_forget(it, held->ino, 5); /* more than it had */
	assert_int_equal(t.puts, 0);    /* still in use */
	assert_int_equal(held->key.partition, 0);
	inode_put(it, held);
	assert_int_equal(t.puts, 1);
	assert_int_equal(inode_count(it), 1);
	inode_table_free(it);
}

static void test_many(void **state)
{
	enum { N = 100000 };
	struct inode_table *it;
	uint64_t *inos = malloc(N * sizeof(*inos));
	struct fs_node *n;

	(void)state;
	assert_non_null(inos);
	assert_int_equal(inode_table_new(NULL, &it), 0);
	for (int i = 0; i < N; i++) {
		struct node_key k = key_part((uint64_t)i / 8, i % 8);

		assert_int_equal(inode_lookup(it, &k, NULL, &n), 0);
		inos[i] = n->ino;
		inode_put(it, n);
	}
	assert_int_equal(inode_count(it), N + 1);
	for (int i = 0; i < N; i++) {
		struct node_key k = key_part((uint64_t)i / 8, i % 8);

		assert_int_equal(inode_peek(it, &k), inos[i]);
		assert_int_equal(inode_get(it, inos[i], &n), 0);
		assert_int_equal(n->key.partition, i % 8);
		inode_put(it, n);
	}
	for (int i = 0; i < N; i += 2)
		inode_forget(it, inos[i], 1);
	assert_int_equal(inode_count(it), N / 2 + 1);
	for (int i = 1; i < N; i += 2) {
		assert_int_equal(inode_get(it, inos[i], &n), 0);
		inode_put(it, n);
		assert_int_equal(inode_get(it, inos[i - 1], &n), -ESTALE);
	}
	inode_table_free(it);
	free(inos);
}

enum { CONC_KEYS = 20000 };

struct conc_arg {
	struct inode_table *it;
	uint64_t *inos;
	int reverse;
};

static void *conc_lookup(void *p)
{
	struct conc_arg *a = p;

	for (int j = 0; j < CONC_KEYS; j++) {
		int i = a->reverse ? CONC_KEYS - 1 - j : j;
		struct node_key k = key_part((uint64_t)i, 0);
		struct fs_node *n;

		if (inode_lookup(a->it, &k, NULL, &n) != 0)
			return (void *)1;
		a->inos[i] = n->ino;
		inode_put(a->it, n);
	}
	return NULL;
}

static void test_concurrent_lookups(void **state)
{
	struct inode_table *it;
	struct conc_arg a[2];
	pthread_t th[2];
	void *ret;

	(void)state;
	assert_int_equal(inode_table_new(NULL, &it), 0);
	for (int t = 0; t < 2; t++) {
		a[t] = (struct conc_arg){ .it = it,
					  .reverse = t,
					  .inos = calloc(CONC_KEYS, sizeof(uint64_t)) };
		assert_non_null(a[t].inos);
		assert_int_equal(pthread_create(&th[t], NULL, conc_lookup, &a[t]), 0);
	}
	for (int t = 0; t < 2; t++) {
		assert_int_equal(pthread_join(th[t], &ret), 0);
		assert_null(ret);
	}
	/* Both threads saw one node per key, and each node counts 2 lookups. */
	assert_int_equal(inode_count(it), CONC_KEYS + 1);
	for (int i = 0; i < CONC_KEYS; i++) {
		assert_int_equal(a[0].inos[i], a[1].inos[i]);
		inode_forget(it, a[0].inos[i], 1);
	}
	assert_int_equal(inode_count(it), CONC_KEYS + 1);
	for (int i = 0; i < CONC_KEYS; i++)
		inode_forget(it, a[1].inos[i], 1);
	assert_int_equal(inode_count(it), 1);
	free(a[0].inos);
	free(a[1].inos);
	inode_table_free(it);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root),         cmocka_unit_test(test_same_key_same_ino),
		cmocka_unit_test(test_forget_frees), cmocka_unit_test(test_use_ref_outlives_forget),
		cmocka_unit_test(test_many),         cmocka_unit_test(test_concurrent_lookups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
