/*
 * inode.h — the inode table of the mount (private to fs/).
 *
 * Every object the kernel knows by inode number is a node: a kind, the
 * topic it belongs to (a reference held for the node's life), a partition,
 * a segment base offset and a segment file kind. A node is found two ways:
 *
 *   by key  (kind, topic_id, partition, base, file)  -> node   (lookups)
 *   by ino                                           -> node   (every op)
 *
 * so that repeated lookups of one name return the same inode number, and
 * the kernel's inode numbers map back to nodes in O(1).
 *
 * Aliases. A partition file and .produce (inode_kind_aliased) may have
 * several nodes, one per concurrent writer: Linux serializes every
 * O_APPEND write and every fsync() of one FUSE inode under that inode's
 * lock, while the log orders appends by itself, so writers that each have
 * their own kernel inode reach the daemon side by side (and their
 * fsync()s share fdatasyncs, log_sync). The aliases of a file differ only
 * in key.alias; they share file_ino, the inode number stat(2) and
 * readdir show, which stays while any alias lives. A lookup answers with
 * the alias it returned last (the kernel's dentry points to it, and its
 * page cache is warm) unless an open file writes through it; then with
 * another alias that has no writer, or a new one. Processes that start
 * together look up before any of them opens: so a lookup also claims the
 * node it returns for its process until that process opens it, or for
 * INODE_CLAIM_NS at most (a lookup need not be followed by an open:
 * stat), and another process's lookup meanwhile is given another alias.
 * A wrong guess costs speed, never correctness: two writers on one node
 * are serialized by the kernel, a reader on a new node starts with an
 * empty page cache. Names of aliased kinds are given
 * with an entry timeout of 0 (tree.c), so that every open asks.
 *
 * Life of a node (the FUSE lookup-count protocol):
 *   - inode_lookup() finds or creates the node and adds 1 to its lookup
 *     count; the caller then answers the kernel with fuse_reply_entry() (or
 *     gives the count back with inode_forget() if that reply failed).
 *   - the kernel's FORGET subtracts; at 0 the node is unlinked from both
 *     hashes and freed, dropping its topic reference.
 *   - an operation in flight holds a use reference (inode_get/inode_put), so
 *     a FORGET racing with it never frees a node under its feet: the node
 *     is freed by whichever of forget/put brings both counts to 0.
 *   - the root (ino 1, FUSE_ROOT_ID) is pinned: never freed before the
 *     table.
 * Inode numbers are never reused within one table (a 64-bit counter), so a
 * stale ino from the kernel finds nothing (-ESTALE) instead of another node.
 *
 * The table knows nothing of FUSE or of the broker: the topic reference is
 * released through the put_topic callback given at creation (topic_put in
 * the daemon, NULL in unit tests).
 *
 * Threads: every function is thread-safe (one mutex per table; the topic
 * callback is called with no table lock held).
 */
#ifndef MQFS_FS_INODE_H
#define MQFS_FS_INODE_H

#include <stddef.h>
#include <stdint.h>

struct topic;

enum node_kind {
	NODE_ROOT = 1,     /* MNT/ */
	NODE_ROOT_STATE,   /* MNT/.state */
	NODE_ROOT_CONFIG,  /* MNT/.config */
	NODE_ROOT_METRICS, /* MNT/.metrics */
	NODE_TOPIC,        /* MNT/<topic>/ */
	NODE_PART,         /* MNT/<topic>/<p> */
	NODE_PRODUCE,      /* MNT/<topic>/.produce */
	NODE_TOPIC_CONFIG, /* MNT/<topic>/.config */
	NODE_TOPIC_STATE,  /* MNT/<topic>/.state */
	NODE_SEGMENTS,     /* MNT/<topic>/.segments/ */
	NODE_SEG_PART,     /* MNT/<topic>/.segments/<p>/ */
	NODE_SEG_FILE,     /* MNT/<topic>/.segments/<p>/<base>.<ext> */
	/* consumer groups (groups.c): base = the group's id */
	NODE_GROUPS,        /* MNT/<topic>/.groups/ */
	NODE_GROUP,         /* MNT/<topic>/.groups/<g>/ */
	NODE_GROUP_OFFSET,  /* MNT/<topic>/.groups/<g>/<p> */
	NODE_GROUP_CONSUME, /* MNT/<topic>/.groups/<g>/consume */
	NODE_GROUP_STATE,   /* MNT/<topic>/.groups/<g>/.state */
	NODE_GROUP_CONFIG,  /* MNT/<topic>/.groups/<g>/.config */
	/* MNT/<topic>/.segments/<p>/.read-copy: only where this broker reads
	 * the partition through a read copy (no replica here) */
	NODE_SEG_COPY,
};

/* Unused fields are 0 (topic_id, file) or -1 (partition, base). */
struct node_key {
	int kind; /* enum node_kind */
	uint64_t topic_id;
	int32_t partition;
	int64_t base; /* segment base offset */
	int file;     /* enum segment_file for NODE_SEG_FILE */
	int alias;    /* aliased kinds: which of the file's nodes; else 0 */
};

struct fs_node {
	struct node_key key;
	uint64_t ino;        /* the kernel's node id */
	uint64_t file_ino;   /* st_ino: ino, or the file's first alias's */
	struct topic *topic; /* reference owned by the node; NULL for root nodes */
	/* The kernel's page cache of a partition file (fs/cache.c, under
	 * mqfs.cache_mu; the table only zeroes them): whether the pages it
	 * holds follow cache.c's rules, whether it was ever read through (it
	 * may hold pages: growth is handled for as long as the node lives),
	 * and the largest size it may know. */
	int cache_valid;
	int cache_used;
	int64_t cache_size;

	/* private to inode.c, under the table lock */
	uint64_t nlookup;
	uint32_t refs;
	uint32_t writers;    /* open files writing through it (inode_opened, inode_closed) */
	uint64_t stamp;      /* when a lookup last returned it */
	uint32_t claim_pid;  /* the process whose lookup returned it, 0: none */
	int64_t claim_until; /* until then, or until that process opens it */
	int pinned;
	struct fs_node *key_next;
	struct fs_node *ino_next;
};

struct inode_table;

/* Creates a table holding the root node (ino 1). put_topic may be NULL. */
int inode_table_new(void (*put_topic)(struct topic *), struct inode_table **out);
/* Frees every node (dropping their topic references) and the table. No
 * other call may be running. */
void inode_table_free(struct inode_table *it);

/* Finds the node of key, or creates it with the next inode number (for
 * an aliased kind: the alias chosen as described above; key.alias is
 * ignored). The
 * table takes over the caller's topic reference in every case (dropped at
 * once when the node already exists, or on error). Adds 1 to the node's
 * lookup count and returns it with a use reference (inode_put).
 * -ENOMEM. */
int inode_lookup(struct inode_table *it, const struct node_key *key, struct topic *topic,
		 struct fs_node **out);
/* How long a lookup's claim lasts without an open (ns). */
#define INODE_CLAIM_NS 50000000LL

/* inode_lookup for the process pid at now_ns (CLOCK_MONOTONIC): for an
 * aliased kind, the node returned is claimed for pid (see above). */
int inode_lookup_by(struct inode_table *it, const struct node_key *key, struct topic *topic,
		    uint32_t pid, int64_t now_ns, struct fs_node **out);
/* An open of n by pid: its claim ends; with writer != 0 it counts as a
 * writer of n until inode_closed, which steers later lookups of an
 * aliased kind to another alias. */
void inode_opened(struct inode_table *it, struct fs_node *n, uint32_t pid, int writer);
/* Whether nodes of kind may have aliases (NODE_PART, NODE_PRODUCE). */
int inode_kind_aliased(int kind);
/* The release of an open file of n, writer as given to inode_opened:
 * a writer no longer steers lookups away from n. */
void inode_closed(struct inode_table *it, struct fs_node *n, int writer);
/* The alias of key's file with the smallest ino above after, with a use
 * reference (key.alias ignored), or -ENOENT: loop from after = 0 to visit
 * every alias of a file. */
int inode_next_alias(struct inode_table *it, const struct node_key *key, uint64_t after,
		     struct fs_node **out);
/* The node of ino with a use reference, or -ESTALE (forgotten or never
 * known). */
int inode_get(struct inode_table *it, uint64_t ino, struct fs_node **out);
/* Drops a use reference; frees the node if it was the last of both counts.
 * NULL is fine. */
void inode_put(struct inode_table *it, struct fs_node *n);
/* Subtracts nlookup from the lookup count of ino (kernel FORGET). Unknown
 * ino: ignored. */
void inode_forget(struct inode_table *it, uint64_t ino, uint64_t nlookup);
/* The st_ino (file_ino) of key if a node exists, else 0; key.alias is
 * ignored. Counts unchanged (readdir's d_ino). */
uint64_t inode_peek(struct inode_table *it, const struct node_key *key);
/* Nodes in the table, the root included. */
size_t inode_count(struct inode_table *it);

#endif
