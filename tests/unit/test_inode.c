/*
 * test_inode.c — the fs inode table (fs/inode.c): one key, one inode number;
 * lookup counts and forget; use references; growth; concurrent lookups;
 * the aliases of a partition file (one node per concurrent writer).
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

/* Aliases: a lookup returns the last node returned unless a writer holds
 * it; then another without a writer, or a new one. All share file_ino. */
static void test_aliases(void **state)
{
	struct inode_table *it;
	struct fs_node *a, *b, *c, *d, *e, *n;
	struct node_key k = key_part(7, 0);
	struct node_key other = key_part(7, 1);
	struct node_key cfg = {
		.kind = NODE_TOPIC_CONFIG, .topic_id = 7, .partition = -1, .base = -1
	};
	uint64_t after, seen[4];
	int count;

	(void)state;
	assert_true(inode_kind_aliased(NODE_PART) && inode_kind_aliased(NODE_PRODUCE));
	assert_false(inode_kind_aliased(NODE_TOPIC_CONFIG) || inode_kind_aliased(NODE_SEG_FILE));
	assert_int_equal(inode_table_new(NULL, &it), 0);
	assert_int_equal(inode_lookup(it, &k, NULL, &a), 0);
	assert_int_equal(a->file_ino, a->ino);
	assert_int_equal(a->key.alias, 0);
	/* No writer: readers keep finding the same node (its page cache). */
	assert_int_equal(inode_lookup(it, &k, NULL, &b), 0);
	assert_ptr_equal(a, b);
	inode_put(it, b);
	/* A writer on a: the next lookup gets a node of its own. */
	inode_opened(it, a, 0, 1);
	assert_int_equal(inode_lookup(it, &k, NULL, &b), 0);
	assert_ptr_not_equal(a, b);
	assert_int_equal(b->key.alias, 1);
	assert_int_equal(b->file_ino, a->ino);
	assert_int_not_equal(b->ino, a->ino);
	/* The last returned without a writer comes back: b, not a new one. */
	assert_int_equal(inode_lookup(it, &k, NULL, &c), 0);
	assert_ptr_equal(b, c);
	inode_put(it, c);
	inode_opened(it, b, 0, 1);
	assert_int_equal(inode_lookup(it, &k, NULL, &c), 0);
	assert_int_equal(c->key.alias, 2);
	assert_int_equal(c->file_ino, a->ino);
	/* a's writer leaves: of a and c (both free), c was returned last. */
	inode_closed(it, a, 1);
	assert_int_equal(inode_lookup(it, &k, NULL, &d), 0);
	assert_ptr_equal(d, c);
	inode_put(it, d);
	/* Another partition and a non-aliased node are unaffected. */
	assert_int_equal(inode_lookup(it, &other, NULL, &d), 0);
	assert_int_equal(d->key.alias, 0);
	assert_int_equal(d->file_ino, d->ino);
	assert_int_equal(inode_lookup(it, &cfg, NULL, &e), 0);
	assert_int_equal(inode_peek(it, &cfg), e->ino);
	/* readdir's number is the file's, whatever alias the key names. */
	k.alias = 5;
	assert_int_equal(inode_peek(it, &k), a->ino);
	/* Every alias, once each, in ino order. */
	count = 0;
	for (after = 0; inode_next_alias(it, &k, after, &n) == 0; after = n->ino) {
		assert_true(count < 4);
		seen[count++] = n->ino;
		inode_put(it, n);
	}
	assert_int_equal(count, 3);
	assert_int_equal(seen[0], a->ino);
	assert_int_equal(seen[1], b->ino);
	assert_int_equal(seen[2], c->ino);
	/* a forgotten: the others keep the file's number, and a new alias
	 * takes it too (the next free alias index). */
	inode_put(it, a);
	inode_forget(it, a->ino, 2); /* looked up twice */
	inode_opened(it, c, 0, 1);
	assert_int_equal(inode_lookup(it, &k, NULL, &n), 0);
	assert_int_equal(n->key.alias, 3);
	assert_int_equal(n->file_ino, b->file_ino);
	inode_closed(it, b, 1);
	inode_closed(it, c, 1);
	inode_put(it, n);
	inode_put(it, b);
	inode_put(it, c);
	inode_put(it, d);
	inode_put(it, e);
	inode_table_free(it);
}

/* A lookup claims its node for its process until that process opens it
 * (or INODE_CLAIM_NS passes): processes that look up together get
 * aliases of their own. */
static void test_alias_claims(void **state)
{
	const int64_t ms = 1000000;
	struct inode_table *it;
	struct fs_node *a, *b, *c, *n;
	struct node_key k = key_part(9, 0);

	(void)state;
	assert_int_equal(inode_table_new(NULL, &it), 0);
	assert_int_equal(inode_lookup_by(it, &k, NULL, 10, 0, &a), 0);
	/* Another process before 10 opened: another alias. */
	assert_int_equal(inode_lookup_by(it, &k, NULL, 11, 1 * ms, &b), 0);
	assert_ptr_not_equal(a, b);
	assert_int_equal(b->file_ino, a->file_ino);
	/* 10 again (the kernel looks up twice when a node changes): its own. */
	assert_int_equal(inode_lookup_by(it, &k, NULL, 10, 2 * ms, &n), 0);
	assert_ptr_equal(n, a);
	inode_put(it, n);
	/* 10 opens a for writing: 12 gets neither a (a writer) nor b (11's
	 * claim), a new node; once 11 has opened b, b is free for 13. */
	inode_opened(it, a, 10, 1);
	assert_int_equal(inode_lookup_by(it, &k, NULL, 12, 3 * ms, &c), 0);
	assert_true(c != a && c != b);
	inode_opened(it, b, 11, 0);
	assert_int_equal(inode_lookup_by(it, &k, NULL, 13, 4 * ms, &n), 0);
	assert_ptr_equal(n, b);
	inode_opened(it, b, 13, 0);
	inode_put(it, n);
	/* A claim never followed by an open (a stat) lapses after
	 * INODE_CLAIM_NS: 14 stats through b, and 15, after 12's claim of c
	 * lapsed but within 14's, gets c. */
	assert_int_equal(inode_lookup_by(it, &k, NULL, 14, 3 * ms + INODE_CLAIM_NS / 2, &n), 0);
	assert_ptr_equal(n, b); /* c still claimed by 12 */
	inode_put(it, n);
	assert_int_equal(inode_lookup_by(it, &k, NULL, 15, 4 * ms + INODE_CLAIM_NS, &n), 0);
	assert_ptr_equal(n, c);
	inode_opened(it, c, 15, 0);
	inode_put(it, n);
	/* pid 0 (no process: mkdir's entries, tests) claims nothing, and
	 * takes the newest free node. */
	assert_int_equal(inode_lookup(it, &k, NULL, &n), 0);
	assert_ptr_equal(n, c);
	inode_put(it, n);
	inode_closed(it, a, 1);
	inode_put(it, a);
	inode_put(it, b);
	inode_put(it, c);
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
		cmocka_unit_test(test_aliases),      cmocka_unit_test(test_alias_claims),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
