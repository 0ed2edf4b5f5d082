/*
 * inode.c — the inode table: nodes by key and by inode number, lookup
 * counts and forget (the protocol is described in inode.h).
 *
 * Two chained hash tables of the same power-of-two size share the nodes
 * (each node has a link in both chains). The tables double when the node
 * count passes the bucket count; a failed resize only makes chains longer.
 *
 * The key hash leaves key.alias out, so that the aliases of a file share
 * one chain, where a lookup finds them all.
 *
 * Invariants, under it->lock:
 *   a node is in both chains or in neither (then it is being freed)
 *   no two linked nodes have equal keys, nor equal inos
 *   linked aliases of one file have equal file_ino
 *   a linked, unpinned node has nlookup > 0 or refs > 0
 *   it->next_ino only grows: inode numbers are never reused
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fs/inode.h"

#define INODE_ROOT_INO    1
#define INODE_MIN_BUCKETS 256

struct inode_table {
	pthread_mutex_t lock;
	struct fs_node **by_key;
	struct fs_node **by_ino;
	size_t nbuckets; /* power of two */
	size_t count;
	uint64_t next_ino;
	uint64_t stamps; /* lookups answered: the nodes' stamp clock */
	void (*put_topic)(struct topic *);
};

static uint64_t inode_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t inode_key_hash(const struct node_key *k)
{
	uint64_t h = inode_mix((uint64_t)k->kind);
	h = inode_mix(h ^ k->topic_id);
	h = inode_mix(h ^ (uint64_t)(uint32_t)k->partition);
	h = inode_mix(h ^ (uint64_t)k->base);
	return inode_mix(h ^ (uint64_t)k->file); /* not alias: one chain per file */
}

/* Same file: equal keys but for alias. */
static bool inode_key_file_eq(const struct node_key *a, const struct node_key *b)
{
	return a->kind == b->kind && a->topic_id == b->topic_id && a->partition == b->partition &&
	       a->base == b->base && a->file == b->file;
}

static bool inode_key_eq(const struct node_key *a, const struct node_key *b)
{
	return inode_key_file_eq(a, b) && a->alias == b->alias;
}

int inode_kind_aliased(int kind)
{
	return kind == NODE_PART || kind == NODE_PRODUCE;
}

static struct fs_node *inode_find_key(struct inode_table *it, const struct node_key *key)
{
	struct fs_node *n = it->by_key[inode_key_hash(key) & (it->nbuckets - 1)];

	while (n && !inode_key_eq(&n->key, key))
		n = n->key_next;
	return n;
}

/* Whether another process's lookup holds n (inode.h). */
static bool inode_claimed(const struct fs_node *n, uint32_t pid, int64_t now_ns)
{
	return n->claim_pid != 0 && n->claim_pid != pid && now_ns < n->claim_until;
}

/* The alias for pid's lookup of key's file (see inode.h): the last
 * returned that has no writer and no other process's claim, or NULL with
 * *next_alias the alias a new node takes and *file_ino the file's (0 if
 * no alias lives). */
static struct fs_node *inode_pick_alias(struct inode_table *it, const struct node_key *key,
					uint32_t pid, int64_t now_ns, int *next_alias,
					uint64_t *file_ino)
{
	struct fs_node *n = it->by_key[inode_key_hash(key) & (it->nbuckets - 1)], *best = NULL;

	*next_alias = 0;
	*file_ino = 0;
	for (; n; n = n->key_next) {
		if (!inode_key_file_eq(&n->key, key))
			continue;
		*file_ino = n->file_ino;
		if (n->key.alias >= *next_alias)
			*next_alias = n->key.alias + 1;
		if (n->writers == 0 && !inode_claimed(n, pid, now_ns) &&
		    (!best || n->stamp > best->stamp))
			best = n;
	}
	return best;
}

static struct fs_node *inode_find_ino(struct inode_table *it, uint64_t ino)
{
	struct fs_node *n = it->by_ino[inode_mix(ino) & (it->nbuckets - 1)];

	while (n && n->ino != ino)
		n = n->ino_next;
	return n;
}

static void inode_link(struct inode_table *it, struct fs_node *n)
{
	size_t kb = inode_key_hash(&n->key) & (it->nbuckets - 1);
	size_t ib = inode_mix(n->ino) & (it->nbuckets - 1);

	n->key_next = it->by_key[kb];
	it->by_key[kb] = n;
	n->ino_next = it->by_ino[ib];
	it->by_ino[ib] = n;
	it->count++;
}

static void inode_unlink(struct inode_table *it, struct fs_node *n)
{
	struct fs_node **pp = &it->by_key[inode_key_hash(&n->key) & (it->nbuckets - 1)];

	while (*pp != n)
		pp = &(*pp)->key_next;
	*pp = n->key_next;
	pp = &it->by_ino[inode_mix(n->ino) & (it->nbuckets - 1)];
	while (*pp != n)
		pp = &(*pp)->ino_next;
	*pp = n->ino_next;
	it->count--;
}

/* Doubles both hash tables. Allocation failure leaves them as they were. */
static void inode_grow(struct inode_table *it)
{
	size_t nb = it->nbuckets * 2;
	struct fs_node **by_key = calloc(nb, sizeof(*by_key));
	struct fs_node **by_ino = calloc(nb, sizeof(*by_ino));

	if (!by_key || !by_ino) {
		free(by_key);
		free(by_ino);
		return;
	}
	for (size_t i = 0; i < it->nbuckets; i++) {
		struct fs_node *n = it->by_key[i], *next;

		for (; n; n = next) {
			size_t kb = inode_key_hash(&n->key) & (nb - 1);
			size_t ib = inode_mix(n->ino) & (nb - 1);

			next = n->key_next;
			n->key_next = by_key[kb];
			by_key[kb] = n;
			n->ino_next = by_ino[ib];
			by_ino[ib] = n;
		}
	}
	free(it->by_key);
	free(it->by_ino);
	it->by_key = by_key;
	it->by_ino = by_ino;
	it->nbuckets = nb;
}

static void inode_free_node(struct inode_table *it, struct fs_node *n)
{
	if (!n)
		return;
	if (n->topic && it->put_topic)
		it->put_topic(n->topic);
	free(n);
}

int inode_table_new(void (*put_topic)(struct topic *), struct inode_table **out)
{
	struct inode_table *it = calloc(1, sizeof(*it));
	struct fs_node *root = calloc(1, sizeof(*root));

	if (!it || !root)
		goto nomem;
	it->nbuckets = INODE_MIN_BUCKETS;
	it->by_key = calloc(it->nbuckets, sizeof(*it->by_key));
	it->by_ino = calloc(it->nbuckets, sizeof(*it->by_ino));
	if (!it->by_key || !it->by_ino)
		goto nomem;
	pthread_mutex_init(&it->lock, NULL);
	it->put_topic = put_topic;
	it->next_ino = INODE_ROOT_INO + 1;

	root->key = (struct node_key){ .kind = NODE_ROOT, .partition = -1, .base = -1 };
	root->ino = root->file_ino = INODE_ROOT_INO;
	root->nlookup = 1;
	root->pinned = 1;
	inode_link(it, root);
	*out = it;
	return 0;
nomem:
	if (it) {
		free(it->by_key);
		free(it->by_ino);
	}
	free(it);
	free(root);
	return -ENOMEM;
}

void inode_table_free(struct inode_table *it)
{
	if (!it)
		return;
	for (size_t i = 0; i < it->nbuckets; i++) {
		struct fs_node *n = it->by_key[i], *next;

		for (; n; n = next) {
			next = n->key_next;
			inode_free_node(it, n);
		}
	}
	pthread_mutex_destroy(&it->lock);
	free(it->by_key);
	free(it->by_ino);
	free(it);
}

int inode_lookup(struct inode_table *it, const struct node_key *key, struct topic *topic,
		 struct fs_node **out)
{
	return inode_lookup_by(it, key, topic, 0, 0, out);
}

int inode_lookup_by(struct inode_table *it, const struct node_key *key, struct topic *topic,
		    uint32_t pid, int64_t now_ns, struct fs_node **out)
{
	/* Allocate before taking the lock; thrown away if the node exists. */
	struct fs_node *fresh = calloc(1, sizeof(*fresh));
	struct fs_node *n;
	uint64_t file_ino = 0;
	int alias = 0;

	pthread_mutex_lock(&it->lock);
	if (inode_kind_aliased(key->kind))
		n = inode_pick_alias(it, key, pid, now_ns, &alias, &file_ino);
	else
		n = inode_find_key(it, key);
	if (n) {
		n->nlookup++;
		n->refs++;
		n->stamp = ++it->stamps;
	} else if (fresh) {
		n = fresh;
		fresh = NULL;
		n->key = *key;
		n->key.alias = alias;
		n->ino = it->next_ino++;
		n->file_ino = file_ino ? file_ino : n->ino;
		n->stamp = ++it->stamps;
		n->topic = topic;
		topic = NULL; /* now the node's */
		n->nlookup = 1;
		n->refs = 1;
		inode_link(it, n);
		if (it->count > it->nbuckets)
			inode_grow(it);
	}
	if (n && pid != 0 && inode_kind_aliased(key->kind)) {
		n->claim_pid = pid;
		n->claim_until = now_ns + INODE_CLAIM_NS;
	}
	pthread_mutex_unlock(&it->lock);

	free(fresh);
	if (topic && it->put_topic)
		it->put_topic(topic);
	if (!n)
		return -ENOMEM;
	*out = n;
	return 0;
}

int inode_get(struct inode_table *it, uint64_t ino, struct fs_node **out)
{
	struct fs_node *n;

	pthread_mutex_lock(&it->lock);
	n = inode_find_ino(it, ino);
	if (n)
		n->refs++;
	pthread_mutex_unlock(&it->lock);
	if (!n)
		return -ESTALE;
	*out = n;
	return 0;
}

/* Under the lock: unlinks n if nothing holds it any more; returns it then
 * (the caller frees it after unlocking), else NULL. */
static struct fs_node *inode_maybe_unlink(struct inode_table *it, struct fs_node *n)
{
	if (n->pinned || n->nlookup > 0 || n->refs > 0)
		return NULL;
	inode_unlink(it, n);
	return n;
}

void inode_put(struct inode_table *it, struct fs_node *n)
{
	struct fs_node *dead;

	if (!n)
		return;
	pthread_mutex_lock(&it->lock);
	if (n->refs > 0)
		n->refs--;
	dead = inode_maybe_unlink(it, n);
	pthread_mutex_unlock(&it->lock);
	inode_free_node(it, dead);
}

void inode_forget(struct inode_table *it, uint64_t ino, uint64_t nlookup)
{
	struct fs_node *n, *dead = NULL;

	pthread_mutex_lock(&it->lock);
	n = inode_find_ino(it, ino);
	if (n) {
		n->nlookup = nlookup >= n->nlookup ? 0 : n->nlookup - nlookup;
		dead = inode_maybe_unlink(it, n);
	}
	pthread_mutex_unlock(&it->lock);
	inode_free_node(it, dead);
}

void inode_opened(struct inode_table *it, struct fs_node *n, uint32_t pid, int writer)
{
	pthread_mutex_lock(&it->lock);
	if (n->claim_pid == pid)
		n->claim_pid = 0;
	if (writer)
		n->writers++;
	pthread_mutex_unlock(&it->lock);
}

void inode_closed(struct inode_table *it, struct fs_node *n, int writer)
{
	pthread_mutex_lock(&it->lock);
	if (writer && n->writers > 0)
		n->writers--;
	pthread_mutex_unlock(&it->lock);
}

int inode_next_alias(struct inode_table *it, const struct node_key *key, uint64_t after,
		     struct fs_node **out)
{
	struct fs_node *n, *best = NULL;

	pthread_mutex_lock(&it->lock);
	for (n = it->by_key[inode_key_hash(key) & (it->nbuckets - 1)]; n; n = n->key_next)
		if (inode_key_file_eq(&n->key, key) && n->ino > after &&
		    (!best || n->ino < best->ino))
			best = n;
	if (best)
		best->refs++;
	pthread_mutex_unlock(&it->lock);
	if (!best)
		return -ENOENT;
	*out = best;
	return 0;
}

uint64_t inode_peek(struct inode_table *it, const struct node_key *key)
{
	struct fs_node *n;
	uint64_t ino = 0;

	pthread_mutex_lock(&it->lock);
	for (n = it->by_key[inode_key_hash(key) & (it->nbuckets - 1)]; n; n = n->key_next)
		if (inode_key_file_eq(&n->key, key)) {
			ino = n->file_ino;
			break;
		}
	pthread_mutex_unlock(&it->lock);
	return ino;
}

size_t inode_count(struct inode_table *it)
{
	size_t count;

	pthread_mutex_lock(&it->lock);
	count = it->count;
	pthread_mutex_unlock(&it->lock);
	return count;
}
