/*
 * names.c — the kernel's cache of names (dentries) under the mount.
 *
 * The kernel keeps a name it looked up for FS_ENTRY_TIMEOUT, and a
 * directory's attributes for FS_DIR_ATTR_TIMEOUT: for that long stat(2)
 * and ls -d of a topic's directory answer from the cache without asking
 * the daemon. A name removed by this mount's own rmdir the kernel drops
 * itself. A topic deleted any other way (a Kafka client's DeleteTopics
 * through this broker's listener; in a cluster, an rmdir on another
 * broker's mount or a DeleteTopics through any broker, which this broker
 * takes from ZooKeeper; a replica here removed as a copy of an older
 * incarnation of the name) is dropped from the kernel's cache here: every
 * deletion reaches the broker's removal listener (fs_removed) with the
 * topic marked deleted, and the topic's name in the root is invalidated
 * (fuse_lowlevel_notify_inval_entry). The next lookup asks the daemon:
 * stat fails with ENOENT at once, and a topic of the name made again is
 * found.
 *
 * A consumer group's directory (MNT/<topic>/.groups/<g>) is dropped the
 * same way: every deletion of a group here (this mount's rmdir, a Kafka
 * client's DeleteGroups, through this broker or, in a cluster, through
 * another broker to this one as the coordinator; the offsets' expiry; a
 * proxy dropped because its coordinator no longer has the group) reaches
 * the coordinator's gone listener (fs_group_gone), which queues the
 * topic's and group's names. The parent, the topic's .groups directory,
 * is resolved when the notification is sent: it has an inode only if the
 * kernel looked it up (else the kernel can hold no name in it).
 *
 * Names that appear need nothing: a lookup that finds nothing answers
 * an error (ENOENT), never an entry of inode 0, and the kernel keeps no
 * negative entry from an error (it expires it at once); so a topic made
 * elsewhere, or a partition added (CreatePartitions), is found by the
 * next lookup. Names inside a topic's directory never go away but with
 * the topic (partitions are only added), or are files, whose attributes
 * the kernel never caches (FS_FILE_ATTR_TIMEOUT 0: a segment file removed
 * by retention fails its next stat).
 *
 * Threads. The invalidation takes the kernel's lock of the parent
 * directory, which a request in that directory (lookup, mkdir, rmdir,
 * readdir) holds until it is answered. Sent from the thread that deletes
 * (this mount's own rmdir, or a thread such a request waits for), it
 * could wait for its own request. So the listener only queues the name
 * (names_mu, a leaf), and a thread of this file sends the notifications
 * holding no lock. The mount's own rmdir queues one too: the kernel has
 * dropped the name by then and the notification finds nothing, or the
 * entry of a topic made again since, which the next lookup finds anew.
 * A notification still waiting for a directory's lock when the session
 * ends holds the device open until that request is answered (as the page
 * cache invalidations of cache.c do): fs_names_close waits for it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs.h"

struct name_gone {
	struct name_gone *next;
	fuse_ino_t parent; /* a topic's: the root; 0 for a group's */
	const char *topic; /* a group's topic (in name[]'s buffer), else NULL */
	char name[];
};

struct fs_names {
	struct mqfs *fs;
	pthread_mutex_t mu; /* a leaf: head, tail, stop */
	pthread_cond_t cv;
	struct name_gone *head, **tail;
	bool stop;
	pthread_t thread;
};

static void names_send(struct mqfs *fs, const struct name_gone *g)
{
	/* The session once per notification, as cache.c reads it. */
	struct fuse_session *se = __atomic_load_n(&fs->se, __ATOMIC_ACQUIRE);
	fuse_ino_t parent = g->parent;
	int rc;

	if (!se || fuse_session_exited(se))
		return;
	/* A group's: the topic's .groups, if the kernel knows it (a topic
	 * deleted since took its names with it). */
	if (g->topic && (parent = fs_groups_dir_ino(fs, g->topic)) == 0)
		return;
	rc = fuse_lowlevel_notify_inval_entry(se, parent, g->name, strlen(g->name));
	/* -ENOENT: the kernel holds no entry of the name (never looked up,
	 * expired, or removed by this mount's own rmdir). */
	if (rc < 0 && rc != -ENOENT)
		mq_log_limited(MQ_WARN,
			       "%s%s%s: dropping the name from the kernel's cache failed: %s (stat "
			       "may show it for up to %g s)",
			       g->topic ? g->topic : "", g->topic ? "/.groups/" : "", g->name,
			       strerror(-rc), FS_ENTRY_TIMEOUT);
	else if (g->topic) /* from here on a lookup of the name asks the daemon */
		mq_log(MQ_INFO, "group %s of topic %s: deleted; the kernel keeps its name no more",
		       g->name, g->topic);
	else
		mq_log(MQ_INFO, "topic %s: deleted; the kernel keeps its name no more", g->name);
}

static void *names_thread(void *arg)
{
	struct fs_names *nm = arg;
	struct name_gone *g;

	pthread_mutex_lock(&nm->mu);
	for (;;) {
		while (!nm->head && !nm->stop)
			pthread_cond_wait(&nm->cv, &nm->mu);
		if (nm->stop)
			break;
		g = nm->head;
		nm->head = g->next;
		if (!nm->head)
			nm->tail = &nm->head;
		pthread_mutex_unlock(&nm->mu);
		names_send(nm->fs, g);
		free(g);
		pthread_mutex_lock(&nm->mu);
	}
	pthread_mutex_unlock(&nm->mu);
	return NULL;
}

int fs_names_open(struct mqfs *fs)
{
	struct fs_names *nm = calloc(1, sizeof(*nm));
	int rc;

	if (!nm)
		return -ENOMEM;
	nm->fs = fs;
	nm->tail = &nm->head;
	pthread_mutex_init(&nm->mu, NULL);
	pthread_cond_init(&nm->cv, NULL);
	rc = pthread_create(&nm->thread, NULL, names_thread, nm);
	if (rc != 0) {
		pthread_cond_destroy(&nm->cv);
		pthread_mutex_destroy(&nm->mu);
		free(nm);
		return -rc;
	}
	fs->names = nm;
	return 0;
}

void fs_names_close(struct mqfs *fs)
{
	struct fs_names *nm = fs->names;
	struct name_gone *g;

	if (!nm)
		return;
	pthread_mutex_lock(&nm->mu);
	nm->stop = true;
	pthread_cond_signal(&nm->cv);
	pthread_mutex_unlock(&nm->mu);
	pthread_join(nm->thread, NULL);
	while ((g = nm->head)) {
		nm->head = g->next;
		free(g);
	}
	pthread_cond_destroy(&nm->cv);
	pthread_mutex_destroy(&nm->mu);
	free(nm);
	fs->names = NULL;
}

/* Queues name, in parent or (topic not NULL) in topic's .groups. */
static void names_queue(struct mqfs *fs, fuse_ino_t parent, const char *topic, const char *name)
{
	struct fs_names *nm = fs->names;
	size_t len = strlen(name), tlen = topic ? strlen(topic) + 1 : 0;
	struct name_gone *g;

	if (!nm)
		return;
	g = malloc(sizeof(*g) + len + 1 + tlen);
	if (!g) {
		mq_log_limited(MQ_WARN,
			       "%s: no memory to drop the name from the kernel's cache (stat may "
			       "show it for up to %g s)",
			       name, FS_ENTRY_TIMEOUT);
		return;
	}
	g->next = NULL;
	g->parent = parent;
	memcpy(g->name, name, len + 1);
	g->topic = NULL;
	if (topic)
		g->topic = memcpy(g->name + len + 1, topic, tlen);
	pthread_mutex_lock(&nm->mu);
	*nm->tail = g;
	nm->tail = &g->next;
	pthread_cond_signal(&nm->cv);
	pthread_mutex_unlock(&nm->mu);
}

void fs_names_gone(struct mqfs *fs, fuse_ino_t parent, const char *name)
{
	names_queue(fs, parent, NULL, name);
}

void fs_group_gone(void *arg, const char *topic, const char *group)
{
	names_queue(arg, 0, topic, group);
}

void fs_removed(void *arg, struct topic *t, int partition)
{
	struct mqfs *fs = arg;

	fs_cache_removed(fs, t, partition);
	/* A deletion calls the listener for each partition: the name once. */
	if (partition == 0 && topic_deleted(t))
		fs_names_gone(fs, FUSE_ROOT_ID, topic_name(t));
}
