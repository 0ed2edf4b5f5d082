/*
 * group.c — the consumer group coordinator: groups of one topic, their
 * members (each an open consume file), generations and rebalances,
 * positions and committed offsets, durable in __consumer_offsets; parked
 * reads woken when a high watermark moves. Knows nothing of FUSE: a member
 * is woken through a callback, so the same coordinator can later run on the
 * broker leading the group's __consumer_offsets partition.
 *
 * __consumer_offsets (internal, hidden from the mount; partition of a group
 * = Kafka's abs(hashCode(group)) % partitions; key.separator TAB), one
 * record per line of its line view:
 *
 *   <group>/<topic>/<p> TAB <offset> SP <commit timestamp ms> SP <metadata>
 *        an offset commit (Kafka's OffsetCommit key: group, topic,
 *        partition; value: offset, metadata, timestamp). Metadata is the
 *        committing member id, or "reset".
 *   <group>/<topic> TAB partition.assignment.strategy=S SP
 *        auto.offset.reset=R SP session.timeout.ms=N
 *        the group exists, with its settings (Kafka's GroupMetadata key).
 *   either key with an empty value: a tombstone (group or offset deleted).
 *        Written by rmdir of a group, and for every group of a topic when
 *        the topic is deleted (group_topic_deleted), so that a topic made
 *        again under the name starts with no groups; groups whose topic is
 *        missing at start (a delete cut short by a crash) are tombstoned
 *        then (coord_sweep).
 *
 * Names are [A-Za-z0-9._-], so '/' and TAB cannot occur in them. Replay at
 * open reads every record in order and keeps the last per key, which is
 * exactly what compaction preserves (cleanup.policy=compact is set on the
 * topic when the broker knows that key).
 *
 * Delivery (at-least-once): each member reads a stream, the bytes it was
 * ever returned, at offsets from 0 (its consume file's offsets). A read at
 * the stream's end returns whole lines of the member's partitions from
 * their positions (a record longer than the buffer continues in the next
 * read). A read at offset x first commits, per partition, the records that
 * end at or before x in the stream; a read before the end returns the same
 * bytes again from x, re-read from the log (the member keeps positions,
 * struct gpiece, not bytes), so a reader that seeks back (bash's read,
 * head) gets every record once. The stream before the last read's offset
 * is committed and cannot be read again (ESPIPE). A member that leaves
 * commits nothing more, so its unpassed records are delivered again to the
 * next owner. Commits go only forward and only from the partition's
 * current owner. The committed offset is never a guess: a partition whose
 * log cannot be searched or read at the position (a damaged batch, an I/O
 * error) is not committed, and its read fails with the error.
 * Positions of a partition that changes owner restart at its committed
 * offset (or at auto.offset.reset when it has none); a partition that
 * stays keeps its position, never stops.
 *
 * Rebalance (group.mu held): on join, leave, strategy change and partition
 * growth; members ordered by id; the assignor (assign.c) computes
 * owner[]; cooperative-sticky revokes in generation g+1 and assigns in g+2
 * (here back to back, as nothing can read in between under group.mu).
 *
 * session.timeout.ms is accepted, validated (6000..1800000, Kafka's
 * group.min/max.session.timeout.ms) and kept, but no timer uses it: a
 * member is one open consume file and leaves when the file is closed,
 * which the kernel does when the process dies, so no member can go
 * silent while still holding partitions.
 *
 * Parked reads: a member arms its wake callback (group_member_arm) when a
 * read found nothing. The hw listener (broker_set_hw_listener) only queues
 * (topic, partition) under wake_mu (it runs under topic locks); the
 * notifier thread then calls the armed members' callbacks, once each,
 * holding call_mu so that group_leave() can wait out a call in flight.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "repl/group_int.h"

#define REPLAY_CHUNK (256 * 1024)
#define SESSION_MIN 6000                /* group.min.session.timeout.ms */
#define SESSION_MAX 1800000             /* group.max.session.timeout.ms */

int group_offsets_partition(const char *group, int partitions)
{
	int32_t h = 0;

	for (const char *p = group; *p; p++)
		h = (int32_t)((uint32_t)h * 31u + (uint32_t)(unsigned char)*p);
	return partitions > 0 ? (int)((h & 0x7fffffff) % partitions) : 0;
}

/* ------------------------------------------------------------------ */
/* Partition lookups through the topic (topic.lock read) */

static int part_lock(struct topic *t, int p, struct log **l)
{
	pthread_rwlock_rdlock(&t->lock);
	if (atomic_load(&t->deleted) || p < 0 || p >= t->nparts) {
		pthread_rwlock_unlock(&t->lock);
		return -ENOENT;
	}
	*l = t->parts[p]->log;
	return 0;
}

/* topic_read_lines without counting the bytes as delivered: replay reads
 * internal records, and a consume read keeps only whole lines (read_part
 * counts those). */
static ssize_t read_lines(struct topic *t, int p, struct log_cursor *c, int64_t pos,
			  char *buf, size_t size, int64_t *actual)
{
	struct log *l;
	ssize_t n = part_lock(t, p, &l);

	if (n < 0)
		return n;
	n = log_read_lines(l, c, pos, buf, size, actual);
	pthread_rwlock_unlock(&t->lock);
	return n;
}

/* mqfs_records_out_total / mqfs_bytes_out_total of a consume read. */
static void count_out(struct topic *t, int p, int64_t lines, size_t n)
{
	struct log *l;

	if (n == 0 || part_lock(t, p, &l) < 0)
		return;
	partition_count_out(t->parts[p], lines, n);
	pthread_rwlock_unlock(&t->lock);
}

/* Line position where offset off starts (hw's position at or past hw).
 * A failed lookup (a damaged batch, an I/O error) is returned, never
 * replaced by a guess: a guess past the records would skip them. */
static int off_to_pos(struct topic *t, int p, int64_t off, int64_t *pos)
{
	struct log_state st;
	struct log *l;
	int rc = part_lock(t, p, &l);

	if (rc < 0)
		return rc;
	log_get_state(l, &st);
	if (off >= st.hw) {
		*pos = st.line_hw;
	} else if (off <= st.log_start_offset) {
		*pos = st.line_start;
	} else {
		rc = log_offset_to_pos(l, off, pos);
		if (rc == -ERANGE) {
			*pos = st.line_hw;
			rc = 0;
		}
	}
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

/* Offset of the first record at or after line position pos; a failed
 * lookup is returned (see off_to_pos). */
static int pos_to_off(struct topic *t, int p, int64_t pos, int64_t *off)
{
	struct log_state st;
	struct log *l;
	int rc = part_lock(t, p, &l);

	if (rc < 0)
		return rc;
	log_get_state(l, &st);
	if (pos >= st.line_hw) {
		*off = st.hw;
	} else {
		rc = log_pos_to_offset(l, pos, off);
		if (rc == -ERANGE) {
			*off = st.hw;
			rc = 0;
		}
	}
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

static int part_state(struct topic *t, int p, struct log_state *st)
{
	return topic_log_state(t, p, st);
}

/* First offset with a timestamp at or after ts; the hw when none; a
 * failed lookup is returned. */
static int time_to_off(struct topic *t, int p, int64_t ts, int64_t *off)
{
	struct log_state st;
	struct log *l;
	int rc = part_lock(t, p, &l);

	if (rc < 0)
		return rc;
	log_get_state(l, &st);
	if (log_time_to_offset(l, ts, off) < 0 || *off > st.hw)
		*off = st.hw;
	if (*off < st.log_start_offset)
		*off = st.log_start_offset;
	pthread_rwlock_unlock(&t->lock);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Groups in memory */

static void gpart_init(struct gpart *gp)
{
	memset(gp, 0, sizeof(*gp));
	gp->committed = -1;
}

/* Makes g->parts hold n partitions. */
static int parts_grow(struct group *g, int n)
{
	struct gpart *np;

	if (n <= g->nparts)
		return 0;
	np = realloc(g->parts, (size_t)n * sizeof(*np));
	if (!np)
		return -ENOMEM;
	for (int p = g->nparts; p < n; p++)
		gpart_init(&np[p]);
	g->parts = np;
	g->nparts = n;
	return 0;
}

static void group_free(struct group *g)
{
	for (int p = 0; p < g->nparts; p++)
		if (g->parts[p].cursor)
			topic_cursor_free(g->t, p, g->parts[p].cursor);
	free(g->parts);
	if (g->t)
		topic_put(g->t);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

void group_put(struct group *g)
{
	if (g && atomic_fetch_sub(&g->refs, 1) == 1)
		group_free(g);
}

uint64_t group_id(struct group *g)
{
	return g->id;
}

const char *group_name(struct group *g)
{
	return g->name;
}

static struct group *group_new(struct group_coord *gc, const char *topic, const char *name)
{
	struct group *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	atomic_init(&g->refs, 1);
	g->gc = gc;
	g->id = ++gc->next_id;
	snprintf(g->topic, sizeof(g->topic), "%s", topic);
	snprintf(g->name, sizeof(g->name), "%s", name);
	pthread_mutex_init(&g->mu, NULL);
	g->strategy = ASSIGN_RANGE;
	g->session_timeout_ms = 45000;
	return g;
}

/* Index in gc->groups, or -1. Needs gc->mu. */
static int coord_find(struct group_coord *gc, const char *topic, const char *name)
{
	for (int i = 0; i < gc->ngroups; i++)
		if (!strcmp(gc->groups[i]->topic, topic) && !strcmp(gc->groups[i]->name, name))
			return i;
	return -1;
}

/* Takes over the caller's reference. Needs gc->mu. */
static int coord_insert(struct group_coord *gc, struct group *g)
{
	if (gc->ngroups == gc->cap) {
		int cap = gc->cap ? gc->cap * 2 : 16;
		struct group **ng = realloc(gc->groups, (size_t)cap * sizeof(*ng));

		if (!ng)
			return -ENOMEM;
		gc->groups = ng;
		gc->cap = cap;
	}
	gc->groups[gc->ngroups++] = g;
	return 0;
}

static void coord_remove(struct group_coord *gc, int i)
{
	memmove(gc->groups + i, gc->groups + i + 1,
		(size_t)(gc->ngroups - i - 1) * sizeof(*gc->groups));
	gc->ngroups--;
}

/* ------------------------------------------------------------------ */
/* __consumer_offsets records */

static int offsets_append(struct group_coord *gc, const char *group, const char *lines,
			  size_t len)
{
	int p = group_offsets_partition(group, topic_partitions(gc->offsets));
	int rc = topic_produce(gc->offsets, p, lines, len, 0);

	if (rc < 0)
		mq_log_limited(MQ_ERR, "group %s: cannot write to %s: %s", group,
			       GROUP_OFFSETS_TOPIC, strerror(-rc));
	return rc;
}

static int meta_line(const struct group *g, char *buf, size_t len)
{
	return snprintf(buf, len, "%s/%s\tpartition.assignment.strategy=%s "
			"auto.offset.reset=%s session.timeout.ms=%d\n", g->name, g->topic,
			assign_strategy_name(g->strategy), g->reset_latest ? "latest" : "earliest",
			(int)g->session_timeout_ms);
}

static int persist_meta(struct group *g)
{
	char line[700];
	int n = meta_line(g, line, sizeof(line));

	return offsets_append(g->gc, g->name, line, (size_t)n);
}

/* Applies "key=value" settings separated by sep ('\n' or ' ') to the
 * copies; -EINVAL with a reason in why. */
static int settings_apply(const char *text, size_t len, char sep, int *strategy,
			  bool *latest, int32_t *session, char *why, size_t whylen)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *e = memchr(p, sep, (size_t)(end - p)), *eq, *k, *v;
		size_t kl, vl;

		if (!e)
			e = end;
		k = p;
		while (k < e && isspace((unsigned char)*k))
			k++;
		v = e;
		while (v > k && isspace((unsigned char)v[-1]))
			v--;
		p = e + 1;
		if (k == v || *k == '#')
			continue;
		eq = memchr(k, '=', (size_t)(v - k));
		if (!eq) {
			snprintf(why, whylen, "'%.*s': expected key=value", (int)(v - k), k);
			return -EINVAL;
		}
		kl = (size_t)(eq - k);
		while (kl > 0 && isspace((unsigned char)k[kl - 1]))
			kl--;
		eq++;
		while (eq < v && isspace((unsigned char)*eq))
			eq++;
		vl = (size_t)(v - eq);
		if (kl == 29 && !memcmp(k, "partition.assignment.strategy", kl)) {
			int s = assign_strategy_parse(eq, vl);

			if (s < 0) {
				snprintf(why, whylen, "partition.assignment.strategy: '%.*s' is not "
					 "range, roundrobin, sticky or cooperative-sticky", (int)vl, eq);
				return -EINVAL;
			}
			*strategy = s;
		} else if (kl == 17 && !memcmp(k, "auto.offset.reset", kl)) {
			if (vl == 8 && !memcmp(eq, "earliest", 8))
				*latest = false;
			else if (vl == 6 && !memcmp(eq, "latest", 6))
				*latest = true;
			else {
				snprintf(why, whylen, "auto.offset.reset: '%.*s' is not earliest or "
					 "latest", (int)vl, eq);
				return -EINVAL;
			}
		} else if (kl == 18 && !memcmp(k, "session.timeout.ms", kl)) {
			char num[16];
			char *ep;
			long x;

			if (vl == 0 || vl >= sizeof(num)) {
				snprintf(why, whylen, "session.timeout.ms: not a number");
				return -EINVAL;
			}
			memcpy(num, eq, vl);
			num[vl] = '\0';
			x = strtol(num, &ep, 10);
			if (*ep || x < SESSION_MIN || x > SESSION_MAX) {
				snprintf(why, whylen, "session.timeout.ms: '%s' is not %d..%d", num,
					 SESSION_MIN, SESSION_MAX);
				return -EINVAL;
			}
			*session = (int32_t)x;
		} else {
			snprintf(why, whylen, "unknown key '%.*s'", (int)kl, k);
			return -EINVAL;
		}
	}
	return 0;
}

/* One replayed record: key [klen], value [vlen]. Last one per key wins. */
static int replay_record(struct group_coord *gc, const char *key, size_t klen,
			 const char *val, size_t vlen)
{
	char topic[TOPIC_NAME_MAX + 1], name[TOPIC_NAME_MAX + 1], kbuf[600];
	const char *s1, *s2;
	struct group *g;
	int i, part = -1, rc;

	if (klen >= sizeof(kbuf))
		return -EBADMSG;
	memcpy(kbuf, key, klen);
	kbuf[klen] = '\0';
	s1 = strchr(kbuf, '/');
	if (!s1)
		return -EBADMSG;
	s2 = strchr(s1 + 1, '/');
	snprintf(name, sizeof(name), "%.*s", (int)(s1 - kbuf), kbuf);
	snprintf(topic, sizeof(topic), "%.*s", (int)((s2 ? s2 : kbuf + klen) - s1 - 1), s1 + 1);
	if (!topic_name_valid(name) || !topic_name_valid(topic))
		return -EBADMSG;
	if (s2) {
		char *ep;
		long v = strtol(s2 + 1, &ep, 10);

		if (*ep || v < 0 || v > INT32_MAX - 1)
			return -EBADMSG;
		part = (int)v;
	}
	i = coord_find(gc, topic, name);
	if (part < 0 && vlen == 0) {            /* group deleted */
		if (i >= 0) {
			group_put(gc->groups[i]);
			coord_remove(gc, i);
		}
		return 0;
	}
	if (i < 0) {
		g = group_new(gc, topic, name);
		if (!g)
			return -ENOMEM;
		rc = coord_insert(gc, g);
		if (rc < 0) {
			group_put(g);
			return rc;
		}
	} else {
		g = gc->groups[i];
	}
	if (part < 0) {
		char why[200];

		return settings_apply(val, vlen, ' ', &g->strategy, &g->reset_latest,
				      &g->session_timeout_ms, why, sizeof(why)) < 0 ? -EBADMSG : 0;
	}
	rc = parts_grow(g, part + 1);
	if (rc < 0)
		return rc;
	if (vlen == 0) {
		g->parts[part].committed = -1;
		return 0;
	}
	{
		char vbuf[128];
		long long off = -1, ts = 0;

		snprintf(vbuf, sizeof(vbuf), "%.*s", (int)(vlen < 127 ? vlen : 127), val);
		if (sscanf(vbuf, "%lld %lld", &off, &ts) < 1 || off < 0)
			return -EBADMSG;
		g->parts[part].committed = off;
		g->parts[part].commit_ts = ts;
	}
	return 0;
}

/* Reads every record of every partition of __consumer_offsets. */
static int replay(struct group_coord *gc)
{
	char *buf = malloc(REPLAY_CHUNK + 1);
	int rc = 0, bad = 0, records = 0;

	if (!buf)
		return -ENOMEM;
	for (int p = 0; p < topic_partitions(gc->offsets) && rc == 0; p++) {
		struct log_cursor *c = NULL;
		int64_t pos = 0, actual;
		size_t have = 0;

		rc = topic_cursor_new(gc->offsets, p, &c);
		if (rc < 0)
			break;
		for (;;) {
			ssize_t n = read_lines(gc->offsets, p, c, pos, buf + have,
					       REPLAY_CHUNK - have, &actual);
			char *line = buf, *nl, *end;

			if (n < 0) {
				rc = (int)n;
				break;
			}
			if (n == 0)
				break;
			pos = actual + n;
			end = buf + have + n;
			while ((nl = memchr(line, '\n', (size_t)(end - line)))) {
				char *tab = memchr(line, '\t', (size_t)(nl - line));
				int r = tab ? replay_record(gc, line, (size_t)(tab - line), tab + 1,
							    (size_t)(nl - tab - 1)) : -EBADMSG;

				if (r == -ENOMEM) {
					rc = r;
					break;
				}
				bad += r < 0;
				records++;
				line = nl + 1;
			}
			have = (size_t)(end - line);
			if (rc < 0 || have == REPLAY_CHUNK) {
				rc = rc < 0 ? rc : -EBADMSG;      /* a line over 256 KiB */
				break;
			}
			memmove(buf, line, have);
		}
		topic_cursor_free(gc->offsets, p, c);
	}
	free(buf);
	if (bad)
		mq_log(MQ_WARN, "%s: %d malformed records skipped", GROUP_OFFSETS_TOPIC, bad);
	if (rc == 0)
		mq_log(MQ_INFO, "%s: %d records replayed, %d groups", GROUP_OFFSETS_TOPIC,
		       records, gc->ngroups);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Notifier */

static void coord_queue(struct group_coord *gc, const char *topic, int partition)
{
	pthread_mutex_lock(&gc->wake_mu);
	if (gc->nev < GROUP_EVENTS) {
		struct group_event *e = &gc->ev[gc->nev++];

		snprintf(e->topic, sizeof(e->topic), "%s", topic);
		e->partition = partition;
	} else {
		gc->all = true;
	}
	pthread_cond_signal(&gc->wake_cv);
	pthread_mutex_unlock(&gc->wake_mu);
}

/* The broker's hw listener: runs under topic.lock and produce_mu, so it
 * only queues (and not at all while no member waits). */
static void coord_hw_moved(void *arg, const char *topic, int partition)
{
	struct group_coord *gc = arg;

	if (atomic_load_explicit(&gc->armed, memory_order_acquire) == 0)
		return;
	if (!strncmp(topic, "__", 2))
		return;
	coord_queue(gc, topic, partition);
}

static bool member_owns(struct group_member *m, int partition)
{
	struct group *g = m->g;

	if (partition < 0)
		return true;
	return partition < g->nparts && g->parts[partition].owner == m;
}

/* Calls the armed members of the groups matching ev (all when ev NULL).
 * Needs call_mu. */
static void notify(struct group_coord *gc, const struct group_event *ev)
{
	struct group_member *fire[64];
	int nfire;
	bool more = true;

	while (more) {
		more = false;
		nfire = 0;
		pthread_mutex_lock(&gc->mu);
		for (int i = 0; i < gc->ngroups; i++) {
			struct group *g = gc->groups[i];

			if (ev && strcmp(g->topic, ev->topic))
				continue;
			pthread_mutex_lock(&g->mu);
			for (struct group_member *m = g->members; m; m = m->next) {
				if (!m->armed || !member_owns(m, ev ? ev->partition : -1))
					continue;
				if (nfire == 64) {
					more = true;
					break;
				}
				m->armed = false;
				atomic_fetch_sub(&gc->armed, 1);
				fire[nfire++] = m;
			}
			pthread_mutex_unlock(&g->mu);
		}
		pthread_mutex_unlock(&gc->mu);
		/* Members cannot be freed meanwhile: group_leave waits for
		 * call_mu, which we hold. */
		for (int i = 0; i < nfire; i++)
			fire[i]->wake(fire[i]->wake_arg);
	}
}

static void *notifier_main(void *arg)
{
	struct group_coord *gc = arg;
	struct group_event *ev = malloc(sizeof(gc->ev));

	if (!ev)
		return NULL;
	pthread_mutex_lock(&gc->wake_mu);
	while (!gc->stop) {
		int n;
		bool all;

		if (gc->nev == 0 && !gc->all) {
			pthread_cond_wait(&gc->wake_cv, &gc->wake_mu);
			continue;
		}
		n = gc->nev;
		all = gc->all;
		memcpy(ev, gc->ev, (size_t)n * sizeof(*ev));
		gc->nev = 0;
		gc->all = false;
		pthread_mutex_unlock(&gc->wake_mu);
		pthread_mutex_lock(&gc->call_mu);
		if (all) {
			notify(gc, NULL);
		} else {
			for (int i = 0; i < n; i++) {
				bool dup = false;

				for (int j = 0; j < i && !dup; j++)
					dup = ev[j].partition == ev[i].partition &&
					      !strcmp(ev[j].topic, ev[i].topic);
				if (!dup)
					notify(gc, &ev[i]);
			}
		}
		pthread_mutex_unlock(&gc->call_mu);
		pthread_mutex_lock(&gc->wake_mu);
	}
	pthread_mutex_unlock(&gc->wake_mu);
	free(ev);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Open and close (broker_open / broker_close) */

static void coord_sweep(struct group_coord *gc);

int group_coord_open(struct broker *b)
{
	struct group_coord *gc = calloc(1, sizeof(*gc));
	int rc;

	if (!gc)
		return -ENOMEM;
	gc->b = b;
	pthread_mutex_init(&gc->call_mu, NULL);
	pthread_mutex_init(&gc->mu, NULL);
	pthread_mutex_init(&gc->wake_mu, NULL);
	pthread_cond_init(&gc->wake_cv, NULL);
	atomic_init(&gc->armed, 0);
	b->gc = gc;
	rc = broker_topic_get(b, GROUP_OFFSETS_TOPIC, &gc->offsets);
	if (rc == -ENOENT) {
		rc = broker_topic_create(b, GROUP_OFFSETS_TOPIC, 0, 0, 0600, &gc->offsets);
		if (rc == 0) {
			static const char cfg[] = "key.separator=\\t\n";
			static const char compact[] = "cleanup.policy=compact\n";
			struct topic_config tc;
			char err[128];

			rc = topic_config_write(gc->offsets, cfg, sizeof(cfg) - 1);
			/* Only when the broker knows the key (compaction). */
			catalog_default_config(b, &tc);
			if (rc == 0 && topic_config_apply(&tc, compact, sizeof(compact) - 1,
							  err, sizeof(err)) == 0)
				rc = topic_config_write(gc->offsets, compact, sizeof(compact) - 1);
		}
	}
	if (rc == 0)
		rc = replay(gc);
	if (rc == 0) {
		pthread_mutex_lock(&gc->mu);
		coord_sweep(gc);
		pthread_mutex_unlock(&gc->mu);
	}
	if (rc == 0) {
		rc = -pthread_create(&gc->thr, NULL, notifier_main, gc);
		gc->running = rc == 0;
	}
	if (rc < 0) {
		mq_log(MQ_ERR, "%s: %s", GROUP_OFFSETS_TOPIC, strerror(-rc));
		group_coord_close(b);
		return rc;
	}
	broker_set_hw_listener(b, coord_hw_moved, gc);
	return 0;
}

void group_coord_close(struct broker *b)
{
	struct group_coord *gc = b->gc;

	if (!gc)
		return;
	broker_set_hw_listener(b, NULL, NULL);
	if (gc->running) {
		pthread_mutex_lock(&gc->wake_mu);
		gc->stop = true;
		pthread_cond_signal(&gc->wake_cv);
		pthread_mutex_unlock(&gc->wake_mu);
		pthread_join(gc->thr, NULL);
	}
	for (int i = 0; i < gc->ngroups; i++)
		group_put(gc->groups[i]);
	free(gc->groups);
	if (gc->offsets)
		topic_put(gc->offsets);
	pthread_mutex_destroy(&gc->call_mu);
	pthread_mutex_destroy(&gc->mu);
	pthread_mutex_destroy(&gc->wake_mu);
	pthread_cond_destroy(&gc->wake_cv);
	free(gc);
	b->gc = NULL;
}

/* ------------------------------------------------------------------ */
/* Finding groups */

/* Binds the group to the topic object t (a group outlives the topic
 * objects of its name: replayed before anyone looked the topic up, or the
 * topic deleted and made again, whose old offsets then mean nothing).
 * Needs g->mu. */
static int group_bind(struct group *g, struct topic *t)
{
	if (g->t == t)
		return 0;
	if (g->t) {
		if (!topic_deleted(g->t))
			return -ENOENT;         /* t is the stale one */
		mq_log(MQ_INFO, "group %s: topic %s was made again: committed offsets dropped",
		       g->name, g->topic);
		for (int p = 0; p < g->nparts; p++) {
			if (g->parts[p].cursor)
				topic_cursor_free(g->t, p, g->parts[p].cursor);
			gpart_init(&g->parts[p]);
		}
		topic_put(g->t);
	}
	topic_get(t);
	g->t = t;
	return parts_grow(g, topic_partitions(t));
}

/* Makes group name of t, durable (its metadata record) before it is
 * visible. Needs gc->mu. */
static int coord_create(struct group_coord *gc, struct topic *t, const char *name,
			struct group **out)
{
	struct group *g = group_new(gc, t->name, name);
	int rc;

	if (!g)
		return -ENOMEM;
	rc = persist_meta(g);
	if (rc == 0)
		rc = coord_insert(gc, g);
	if (rc < 0) {
		group_put(g);
		return rc;
	}
	mq_log(MQ_INFO, "group %s of topic %s created", name, t->name);
	*out = g;
	return 0;
}

/* A reference on g, bound to t. Needs gc->mu. */
static int coord_ref(struct group *g, struct topic *t, struct group **out)
{
	int rc;

	pthread_mutex_lock(&g->mu);
	rc = group_bind(g, t);
	pthread_mutex_unlock(&g->mu);
	if (rc == 0) {
		atomic_fetch_add(&g->refs, 1);
		*out = g;
	}
	return rc;
}

const char *group_name_refusal(const char *name)
{
	if (!topic_name_valid(name))
		return "a group name is 1-249 of [A-Za-z0-9._-], not . or ..";
	if (name[0] == '.')
		return "dot-names are kept for metadata";
	if (name[0] == '_' && name[1] == '_')
		return "\"__\" names are kept for internal use";
	return NULL;
}

int group_open(struct topic *t, const char *name, int create, struct group **out)
{
	struct group_coord *gc = t->b->gc;
	struct group *g;
	int i, rc = 0;

	*out = NULL;
	/* Groups made before the name rules were enforced can still be found
	 * (and removed). */
	if (!topic_name_valid(name) || (create && group_name_refusal(name)))
		return -EINVAL;
	if (topic_deleted(t))
		return -ENOENT;
	pthread_mutex_lock(&gc->mu);
	i = coord_find(gc, t->name, name);
	if (i >= 0) {
		g = gc->groups[i];
		if (create == GROUP_CREATE_EXCL) {
			rc = -EEXIST;
			goto out;
		}
	} else if (!create) {
		rc = -ENOENT;
		goto out;
	} else {
		rc = coord_create(gc, t, name, &g);
		if (rc < 0)
			goto out;
	}
	rc = coord_ref(g, t, out);
out:
	pthread_mutex_unlock(&gc->mu);
	return rc;
}

int group_by_id(struct topic *t, uint64_t id, struct group **out)
{
	struct group_coord *gc = t->b->gc;
	int rc = -ENOENT;

	*out = NULL;
	pthread_mutex_lock(&gc->mu);
	for (int i = 0; i < gc->ngroups; i++) {
		if (gc->groups[i]->id == id && !strcmp(gc->groups[i]->topic, t->name)) {
			atomic_fetch_add(&gc->groups[i]->refs, 1);
			*out = gc->groups[i];
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&gc->mu);
	return rc;
}

int group_list(struct topic *t, char ***names, int *n)
{
	struct group_coord *gc = t->b->gc;
	char **v;
	int k = 0, rc = 0;

	pthread_mutex_lock(&gc->mu);
	v = calloc((size_t)gc->ngroups + 1, sizeof(*v));
	if (!v) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < gc->ngroups; i++) {
		if (strcmp(gc->groups[i]->topic, t->name))
			continue;
		v[k] = strdup(gc->groups[i]->name);
		if (!v[k]) {
			broker_names_free(v, k);
			rc = -ENOMEM;
			goto out;
		}
		k++;
	}
	*names = v;
	*n = k;
out:
	pthread_mutex_unlock(&gc->mu);
	return rc;
}

/* Writes tombstones for g's committed offsets and for g itself into
 * __consumer_offsets (replay then forgets them; compaction removes them).
 * Needs g->mu. */
static int write_tombstones(struct group *g)
{
	size_t cap = (size_t)(g->nparts + 1) * 600, len = 0;
	char *text = malloc(cap);
	int rc;

	if (!text)
		return -ENOMEM;
	for (int p = 0; p < g->nparts; p++)
		if (g->parts[p].committed >= 0)
			len += (size_t)snprintf(text + len, cap - len, "%s/%s/%d\t\n", g->name,
						g->topic, p);
	len += (size_t)snprintf(text + len, cap - len, "%s/%s\t\n", g->name, g->topic);
	rc = offsets_append(g->gc, g->name, text, len);
	free(text);
	return rc;
}

int group_delete(struct topic *t, const char *name)
{
	struct group_coord *gc = t->b->gc;
	struct group *g;
	int i, rc = 0;

	pthread_mutex_lock(&gc->mu);
	i = coord_find(gc, t->name, name);
	if (i < 0) {
		pthread_mutex_unlock(&gc->mu);
		return -ENOENT;
	}
	g = gc->groups[i];
	pthread_mutex_lock(&g->mu);
	if (g->nmembers > 0) {
		rc = -EBUSY;
		goto out;
	}
	rc = write_tombstones(g);
	if (rc < 0)
		goto out;
	g->deleted = true;
	coord_remove(gc, i);
	mq_log(MQ_INFO, "group %s of topic %s deleted", name, t->name);
out:
	pthread_mutex_unlock(&g->mu);
	pthread_mutex_unlock(&gc->mu);
	if (rc == 0)
		group_put(g);                   /* the coordinator's reference */
	return rc;
}

/* Drops every group of topic (tombstoned: a topic made again under the
 * name must not find them, not even after a restart). Armed members are
 * disarmed and returned in *fire (malloc'ed; NULL if none or no memory:
 * they then learn it at their next read) to be woken with call_mu held:
 * their reads answer ENOENT. Needs gc->mu. */
static void coord_drop_topic(struct group_coord *gc, const char *topic, const char *why,
			     struct group_member ***fire, int *nfire)
{
	int cap = 0;

	*fire = NULL;
	*nfire = 0;
	for (int i = 0; i < gc->ngroups;) {
		struct group *g = gc->groups[i];
		int rc;

		if (strcmp(g->topic, topic)) {
			i++;
			continue;
		}
		pthread_mutex_lock(&g->mu);
		rc = write_tombstones(g);
		if (rc < 0)
			mq_log(MQ_ERR, "group %s of topic %s: tombstones not written (%s): its "
			       "offsets come back if the topic is made again before a restart",
			       g->name, topic, strerror(-rc));
		g->deleted = true;
		for (struct group_member *m = g->members; m; m = m->next) {
			if (!m->armed)
				continue;
			m->armed = false;
			atomic_fetch_sub(&gc->armed, 1);
			if (*nfire == cap) {
				int nc = cap ? cap * 2 : 8;
				struct group_member **nf = realloc(*fire, (size_t)nc * sizeof(*nf));

				if (!nf)
					continue;
				*fire = nf;
				cap = nc;
			}
			(*fire)[(*nfire)++] = m;
		}
		pthread_mutex_unlock(&g->mu);
		coord_remove(gc, i);
		mq_log(MQ_INFO, "group %s of topic %s deleted: %s", g->name, topic, why);
		group_put(g);                   /* members hold their own */
	}
}

void group_topic_deleted(struct broker *b, const char *topic)
{
	struct group_coord *gc = b->gc;
	struct group_member **fire;
	int nfire;

	if (!gc)
		return;
	pthread_mutex_lock(&gc->call_mu);
	pthread_mutex_lock(&gc->mu);
	coord_drop_topic(gc, topic, "the topic was deleted", &fire, &nfire);
	pthread_mutex_unlock(&gc->mu);
	/* Members cannot be freed meanwhile: group_leave waits for call_mu. */
	for (int i = 0; i < nfire; i++)
		fire[i]->wake(fire[i]->wake_arg);
	pthread_mutex_unlock(&gc->call_mu);
	free(fire);
}

/* At start: groups whose topic is gone (a delete cut short by a crash
 * before its tombstones were written) are dropped the same way. The
 * catalog is complete here (broker_open refuses to start otherwise). */
static void coord_sweep(struct group_coord *gc)
{
	for (int i = 0; i < gc->ngroups;) {
		char topic[TOPIC_NAME_MAX + 1];
		struct group_member **fire;
		struct topic *t;
		int nfire;

		if (broker_topic_get(gc->b, gc->groups[i]->topic, &t) == 0) {
			topic_put(t);
			i++;
			continue;
		}
		snprintf(topic, sizeof(topic), "%s", gc->groups[i]->topic);
		coord_drop_topic(gc, topic, "its topic no longer exists", &fire, &nfire);
		free(fire);                     /* no members before the mount */
	}
}

/* ------------------------------------------------------------------ */
/* Offsets */

/* The offset a partition is read from: committed, or auto.offset.reset. */
static int resolved_offset(struct group *g, int p, int64_t *off)
{
	struct log_state st;
	int rc;

	if (g->parts[p].committed >= 0) {
		*off = g->parts[p].committed;
		return 0;
	}
	rc = part_state(g->t, p, &st);
	if (rc < 0)
		return rc;
	*off = g->reset_latest ? st.hw : st.log_start_offset;
	return 0;
}

/* Needs g->mu; refreshes the partition count. */
static int group_live(struct group *g)
{
	if (g->deleted || !g->t || topic_deleted(g->t))
		return -ENOENT;
	return parts_grow(g, topic_partitions(g->t));
}

int group_offset(struct group *g, int partition, int64_t *offset)
{
	int rc;

	pthread_mutex_lock(&g->mu);
	rc = group_live(g);
	if (rc == 0 && (partition < 0 || partition >= topic_partitions(g->t)))
		rc = -ENOENT;
	if (rc == 0)
		rc = resolved_offset(g, partition, offset);
	pthread_mutex_unlock(&g->mu);
	return rc;
}

/* The n digits at p as a number; -1 unless all n are digits (stops at the
 * first non-digit, so never reads past a '\0'). */
static int fixed_digits(const char *p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* Strict ISO-8601: "2024-05-01" (UTC), "2024-05-01T12:00", "...T12:00:00",
 * "...T12:00:00.123", each optionally ending in Z or an offset +HH, +HHMM,
 * +HH:MM (-12:00..+14:00, the zones that exist); or epoch milliseconds.
 * A date or time that does not exist (2024-02-30, 24:00) is refused, not
 * carried into the next day. -EINVAL with the reason in why. */
static int parse_timestamp(const char *s, int64_t *ms, char *why, size_t whylen)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct tm tm = { 0 };
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, tzm = 0, dim;
	int64_t frac = 0;

	if (*s && strspn(s, "0123456789") == strlen(s)) {
		if (strlen(s) > 15) {
			snprintf(why, whylen, "epoch milliseconds over 15 digits");
			return -EINVAL;
		}
		*ms = strtoll(s, NULL, 10);
		return 0;
	}
	if ((y = fixed_digits(p, 4)) < 0 || p[4] != '-' || (mo = fixed_digits(p + 5, 2)) < 0 ||
	    p[7] != '-' || (d = fixed_digits(p + 8, 2)) < 0) {
		snprintf(why, whylen, "not YYYY-MM-DD[THH:MM[:SS[.mmm]]][Z|+HH:MM] nor epoch ms");
		return -EINVAL;
	}
	p += 10;
	if (mo < 1 || mo > 12) {
		snprintf(why, whylen, "month %02d does not exist", mo);
		return -EINVAL;
	}
	dim = mdays[mo - 1] + (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
	if (d < 1 || d > dim) {
		snprintf(why, whylen, "%04d-%02d has no day %02d", y, mo, d);
		return -EINVAL;
	}
	if (*p == 'T' || *p == ' ') {
		if ((h = fixed_digits(p + 1, 2)) < 0 || p[3] != ':' ||
		    (mi = fixed_digits(p + 4, 2)) < 0) {
			snprintf(why, whylen, "the time is not HH:MM[:SS[.mmm]]");
			return -EINVAL;
		}
		p += 6;
		if (*p == ':') {
			if ((sec = fixed_digits(p + 1, 2)) < 0) {
				snprintf(why, whylen, "the seconds are not two digits");
				return -EINVAL;
			}
			p += 3;
			if (*p == '.' || *p == ',') {
				int ndig = 0;

				for (p++; isdigit((unsigned char)*p); p++, ndig++)
					if (ndig < 3)
						frac = frac * 10 + (*p - '0');
				if (ndig == 0) {
					snprintf(why, whylen, "no digits after the decimal mark");
					return -EINVAL;
				}
				for (; ndig < 3; ndig++)
					frac *= 10;
			}
		}
		if (h > 23 || mi > 59 || sec > 59) {
			snprintf(why, whylen, "time %02d:%02d:%02d does not exist", h, mi, sec);
			return -EINVAL;
		}
		if (*p == 'Z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p == '-' ? -1 : 1, tzh = fixed_digits(p + 1, 2), tzmin = 0;

			if (tzh >= 0) {
				p += 3;
				if (*p == ':')
					p++;
				if (isdigit((unsigned char)*p) && (tzmin = fixed_digits(p, 2)) >= 0)
					p += 2;
			}
			tzm = sign * (tzh * 60 + tzmin);
			if (tzh < 0 || tzmin < 0 || tzmin > 59 || tzm < -12 * 60 || tzm > 14 * 60) {
				snprintf(why, whylen, "the time zone offset is not +HH, +HHMM or +HH:MM in -12:00..+14:00");
				return -EINVAL;
			}
		}
	}
	if (*p) {
		snprintf(why, whylen, "'%.20s' after the date and time", p);
		return -EINVAL;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*ms = (int64_t)timegm(&tm) * 1000 + frac - (int64_t)tzm * 60000;
	return 0;
}

static int commit_lines(struct group *g, const int *parts, const int64_t *offs, int n,
			const char *metadata)
{
	char *text = malloc((size_t)n * 640 + 1);
	size_t len = 0;
	int64_t now = engine_now_ms();
	int rc;

	if (!text)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, "%s/%s/%d\t%" PRId64 " %" PRId64 " %s\n",
				       g->name, g->topic, parts[i], offs[i], now, metadata);
	rc = offsets_append(g->gc, g->name, text, len);
	free(text);
	if (rc == 0) {
		for (int i = 0; i < n; i++) {
			g->parts[parts[i]].committed = offs[i];
			g->parts[parts[i]].commit_ts = now;
		}
	}
	return rc;
}

int group_offset_reset(struct group *g, int partition, const char *value, size_t len)
{
	struct log_state st;
	char v[80], why[160] = "not an offset, earliest, latest or @time";
	int64_t off = -1, ts;
	int rc;

	while (len > 0 && isspace((unsigned char)value[len - 1]))
		len--;
	while (len > 0 && isspace((unsigned char)*value)) {
		value++;
		len--;
	}
	if (len == 0 || len >= sizeof(v) || memchr(value, '\n', len)) {
		mq_log_limited(MQ_WARN, "group %s of topic %s: partition %d: reset refused: the "
			       "value is empty, over %zu bytes or several lines", g->name,
			       g->topic, partition, sizeof(v) - 1);
		return -EINVAL;
	}
	memcpy(v, value, len);
	v[len] = '\0';
	pthread_mutex_lock(&g->mu);
	rc = group_live(g);
	if (rc == 0 && (partition < 0 || partition >= topic_partitions(g->t)))
		rc = -ENOENT;
	if (rc < 0)
		goto out;
	if (g->nmembers > 0) {
		rc = -EBUSY;
		goto out;
	}
	rc = part_state(g->t, partition, &st);
	if (rc < 0)
		goto out;
	rc = -EINVAL;
	if (!strcmp(v, "earliest")) {
		off = st.log_start_offset;
	} else if (!strcmp(v, "latest")) {
		off = st.hw;
	} else if (v[0] == '@') {
		if (parse_timestamp(v + 1, &ts, why, sizeof(why)) < 0)
			goto out;
		rc = time_to_off(g->t, partition, ts, &off);
		if (rc < 0)
			goto out;
	} else if (strspn(v, "0123456789") == len && len <= 18) {
		off = strtoll(v, NULL, 10);
		if (off > st.log_end_offset) {
			snprintf(why, sizeof(why), "past the log end offset %" PRId64,
				 st.log_end_offset);
			goto out;
		}
	} else {
		goto out;
	}
	rc = commit_lines(g, &partition, &off, 1, "reset");
	if (rc == 0)
		mq_log(MQ_INFO, "group %s of topic %s: partition %d reset to %" PRId64 " (%s)",
		       g->name, g->topic, partition, off, v);
out:
	if (rc == -EINVAL)
		mq_log_limited(MQ_WARN, "group %s of topic %s: partition %d: reset to '%s' "
			       "refused: %s", g->name, g->topic, partition, v, why);
	pthread_mutex_unlock(&g->mu);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Members and rebalance */

/* Where the owner of p starts: the line position of its committed offset
 * (or auto.offset.reset). When that lookup fails the position stays
 * unknown (-1) and every read of the owner fails with the error until a
 * lookup succeeds: a guess could skip records. Needs g->mu. */
static int part_resolve(struct group *g, int p)
{
	struct gpart *gp = &g->parts[p];
	int64_t off = -1, pos;
	int rc = resolved_offset(g, p, &off);

	if (rc == 0)
		rc = off_to_pos(g->t, p, off, &pos);
	if (rc < 0) {
		gp->pos = -1;
		mq_log_limited(MQ_ERR, "group %s of topic %s: partition %d: cannot find the "
			       "line position of offset %" PRId64 ": %s; its consume reads fail "
			       "until it is found", g->name, g->topic, p, off, strerror(-rc));
		return rc;
	}
	gp->pos = gp->commit_pos = pos;
	return 0;
}

/* Gives partition p to m (NULL: nobody). A new owner starts at the
 * committed offset; the same owner keeps its position. Needs g->mu. */
static void gpart_assign(struct group *g, int p, struct group_member *m)
{
	struct gpart *gp = &g->parts[p];

	if (gp->owner == m)
		return;
	gp->owner = m;
	gp->epoch++;                    /* the old owner's stream no longer commits p */
	if (m)
		part_resolve(g, p);
}

/* Runs the group's assignor over its members. Needs g->mu. */
static int rebalance(struct group *g)
{
	int m = g->nmembers, n = g->nparts, rc = 0, round = 0;
	const char **ids = malloc((size_t)(m ? m : 1) * sizeof(*ids));
	struct group_member **mv = malloc((size_t)(m ? m : 1) * sizeof(*mv));
	int32_t *prev = malloc((size_t)(n ? n : 1) * sizeof(*prev));
	int32_t *owner = malloc((size_t)(n ? n : 1) * sizeof(*owner));
	int i = 0;

	if (!ids || !mv || !prev || !owner) {
		rc = -ENOMEM;
		goto out;
	}
	for (struct group_member *x = g->members; x; x = x->next, i++) {
		ids[i] = x->id;
		mv[i] = x;
	}
	do {
		for (int p = 0; p < n; p++) {
			prev[p] = -1;
			for (int k = 0; k < m; k++)
				if (g->parts[p].owner == mv[k])
					prev[p] = k;
		}
		rc = assign_compute(g->strategy, ids, m, n, prev, owner);
		if (rc < 0)
			goto out;
		for (int p = 0; p < n; p++)
			gpart_assign(g, p, owner[p] >= 0 ? mv[owner[p]] : NULL);
		g->generation++;
		if (rc > 0)
			mq_log(MQ_DEBUG, "group %s: generation %d revokes %d partitions",
			       g->name, (int)g->generation, rc);
	} while (rc > 0 && ++round < 2);
	rc = 0;
	mq_log(MQ_DEBUG, "group %s of topic %s: generation %d, %d members (%s)", g->name,
	       g->topic, (int)g->generation, m, assign_strategy_name(g->strategy));
	/* Members with new partitions may have data waiting. */
	if (m > 0)
		coord_queue(g->gc, g->topic, -1);
out:
	free(ids);
	free(mv);
	free(prev);
	free(owner);
	return rc;
}

int group_join(struct group *g, pid_t pid, void (*wake)(void *arg), void *arg,
	       struct group_member **out)
{
	struct group_member *m = calloc(1, sizeof(*m)), **tail;
	int rc;

	*out = NULL;
	if (!m)
		return -ENOMEM;
	pthread_mutex_lock(&g->mu);
	rc = group_live(g);
	if (rc < 0) {
		pthread_mutex_unlock(&g->mu);
		free(m);
		return rc;
	}
	m->g = g;
	m->pid = pid;
	m->wake = wake;
	m->wake_arg = arg;
	m->active = true;
	/* Ids sort in join order, so range hands out partitions in it. */
	snprintf(m->id, sizeof(m->id), "consumer-%06" PRIu64 "-%d", ++g->next_member, (int)pid);
	for (tail = &g->members; *tail; tail = &(*tail)->next)
		;
	*tail = m;
	g->nmembers++;
	rc = rebalance(g);
	if (rc < 0) {
		*tail = NULL;
		g->nmembers--;
		rebalance(g);
		pthread_mutex_unlock(&g->mu);
		free(m);
		return rc;
	}
	mq_log(MQ_INFO, "group %s of topic %s: %s (pid %d) joined, generation %d", g->name,
	       g->topic, m->id, (int)pid, (int)g->generation);
	atomic_fetch_add(&g->refs, 1);
	pthread_mutex_unlock(&g->mu);
	*out = m;
	return 0;
}

void group_leave(struct group_member *m)
{
	struct group *g;

	if (!m)
		return;
	g = m->g;
	pthread_mutex_lock(&g->mu);
	for (struct group_member **pp = &g->members; *pp; pp = &(*pp)->next) {
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	}
	g->nmembers--;
	m->active = false;
	if (m->armed) {
		m->armed = false;
		atomic_fetch_sub(&g->gc->armed, 1);
	}
	for (int p = 0; p < g->nparts; p++)
		if (g->parts[p].owner == m)
			gpart_assign(g, p, NULL);
	if (!g->deleted && g->t && !topic_deleted(g->t))
		rebalance(g);
	mq_log(MQ_INFO, "group %s of topic %s: %s left, generation %d", g->name, g->topic,
	       m->id, (int)g->generation);
	pthread_mutex_unlock(&g->mu);
	/* A wake call in flight on m ends before m is freed. */
	pthread_mutex_lock(&g->gc->call_mu);
	pthread_mutex_unlock(&g->gc->call_mu);
	free(m->pieces);
	free(m);
	group_put(g);
}

const char *group_member_id(struct group_member *m)
{
	return m->id;
}

/* The group's cursor on partition p, made on first use. Needs g->mu. */
static int part_cursor(struct group *g, int p, struct log_cursor **c)
{
	int rc = 0;

	if (!g->parts[p].cursor)
		rc = topic_cursor_new(g->t, p, &g->parts[p].cursor);
	*c = g->parts[p].cursor;
	return rc;
}

/* Reads exactly len bytes of the line view of p at pos into buf, as they
 * were returned before; -ENODATA when they are no longer there (removed by
 * retention or compaction since). Needs g->mu. */
static int reread(struct group *g, int p, int64_t pos, char *buf, int64_t len)
{
	struct log_cursor *c;
	int64_t got = 0, actual;
	int rc = part_cursor(g, p, &c);

	while (rc == 0 && got < len) {
		ssize_t n = read_lines(g->t, p, c, pos + got, buf + got, (size_t)(len - got),
				       &actual);

		if (n < 0)
			rc = (int)n;
		else if (n == 0 || actual != pos + got)
			rc = -ENODATA;
		else
			got += n;
	}
	return rc;
}

/* *bound: the line position after the last record of piece pc that ends
 * at or before stream offset x, or -1 when none does. Needs g->mu. */
static int piece_passed(struct group *g, const struct gpiece *pc, int64_t x, int64_t *bound)
{
	int64_t k = x - pc->soff;
	const char *nl;
	char *buf;
	int rc;

	*bound = -1;
	if (k > pc->len)
		k = pc->len;
	if (k <= 0 || pc->last_nl == 0)
		return 0;
	if (k >= pc->last_nl) {
		*bound = pc->lpos + pc->last_nl;
		return 0;
	}
	/* x inside the piece (a reader that seeked back): find its last
	 * line end before x in the log rather than keeping the bytes. */
	buf = malloc((size_t)k);
	if (!buf)
		return -ENOMEM;
	rc = reread(g, pc->part, pc->lpos, buf, k);
	if (rc == 0 && (nl = memrchr(buf, '\n', (size_t)k)))
		*bound = pc->lpos + (nl - buf) + 1;
	free(buf);
	return rc == -ENODATA ? 0 : rc;         /* gone: nothing to commit */
}

/* Drops the part of m's stream before x (x <= m->end). Needs g->mu. */
static void stream_trim(struct group_member *m, int64_t x)
{
	int i = 0;

	while (i < m->npieces && m->pieces[i].soff + m->pieces[i].len <= x)
		i++;
	if (i > 0) {
		memmove(m->pieces, m->pieces + i, (size_t)(m->npieces - i) * sizeof(*m->pieces));
		m->npieces -= i;
	}
	if (m->npieces > 0 && m->pieces[0].soff < x) {
		struct gpiece *pc = &m->pieces[0];
		int64_t k = x - pc->soff;

		pc->soff = x;
		pc->lpos += k;
		pc->len -= k;
		pc->last_nl = pc->last_nl > k ? pc->last_nl - k : 0;
	}
	if (x > m->start)
		m->start = x;
}

/* Commits, for every partition m still owns, the records of its stream
 * that end at or before stream offset x (x <= m->end), then forgets the
 * stream before x. A partition whose offset cannot be looked up (a
 * damaged batch, EIO) is logged and not committed: its records come again
 * to the next owner, and the read of the partition itself reports the
 * error. A failed commit record is only logged, with the same outcome.
 * Only -ENOMEM is returned. Needs g->mu. */
static int commit_upto(struct group_member *m, int64_t x)
{
	struct group *g = m->g;
	int n = 0, rc = 0;
	int *parts = malloc((size_t)(m->npieces + 1) * sizeof(*parts));
	int64_t *offs = malloc((size_t)(m->npieces + 1) * sizeof(*offs));
	int64_t *bounds = malloc((size_t)(m->npieces + 1) * sizeof(*bounds));

	if (!parts || !offs || !bounds) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < m->npieces && m->pieces[i].soff < x; i++) {
		const struct gpiece *pc = &m->pieces[i];
		struct gpart *gp;
		int64_t b, off = -1;

		if (pc->part >= g->nparts)
			continue;
		gp = &g->parts[pc->part];
		if (gp->owner != m || gp->epoch != pc->epoch)
			continue;               /* p moved: its new owner commits it */
		rc = piece_passed(g, pc, x, &b);
		if (rc == 0 && b > gp->commit_pos)
			rc = pos_to_off(g->t, pc->part, b, &off);
		if (rc == -ENOMEM)
			goto out;
		if (rc < 0) {
			mq_log_limited(MQ_ERR, "group %s of topic %s: partition %d: cannot find "
				       "the offset at line position %" PRId64 ": %s; not committed",
				       g->name, g->topic, pc->part, b >= 0 ? b : pc->lpos,
				       strerror(-rc));
			rc = 0;
			continue;
		}
		if (b <= gp->commit_pos)
			continue;
		if (off == gp->committed) {
			gp->commit_pos = b;
			continue;
		}
		parts[n] = pc->part;
		offs[n] = off;
		bounds[n++] = b;
	}
	if (n > 0 && commit_lines(g, parts, offs, n, m->id) == 0)
		for (int i = 0; i < n; i++)
			g->parts[parts[i]].commit_pos = bounds[i];
	stream_trim(m, x);
out:
	free(parts);
	free(offs);
	free(bounds);
	return rc;
}

/* The stream from x (start <= x < end) again, the same bytes, up to size.
 * Needs g->mu. */
static ssize_t redeliver(struct group_member *m, int64_t x, char *buf, size_t size)
{
	size_t used = 0;

	for (int i = 0; i < m->npieces && used < size; i++) {
		const struct gpiece *pc = &m->pieces[i];
		int64_t from = x > pc->soff ? x - pc->soff : 0, len = pc->len - from;
		int rc;

		if (len <= 0)
			continue;
		if (len > (int64_t)(size - used))
			len = (int64_t)(size - used);
		rc = reread(m->g, pc->part, pc->lpos + from, buf + used, len);
		if (rc == -ENODATA && used == 0)
			mq_log_limited(MQ_WARN, "group %s of topic %s: %s: read at %" PRId64 ": "
				       "the records of partition %d at line position %" PRId64
				       " were removed by retention or compaction and cannot be "
				       "read again", m->g->name, m->g->topic, m->id, x, pc->part,
				       pc->lpos + from);
		if (rc < 0)
			return used > 0 ? (ssize_t)used : rc;
		used += (size_t)len;
	}
	return (ssize_t)used;
}

/* Whole lines of partition p from its position into buf; *lpos: the line
 * position of buf[0], *last_nl: bytes up to its last '\n'. first: buf is
 * empty, so a record longer than room is returned in part. */
static ssize_t read_part(struct group *g, int p, char *buf, size_t room, bool first,
			 int64_t *lpos, int64_t *last_nl)
{
	struct gpart *gp = &g->parts[p];
	struct log_cursor *c;
	int64_t actual, lines;
	ssize_t n;
	const char *nl;
	size_t keep;
	int rc;

	if (gp->pos < 0 && (rc = part_resolve(g, p)) < 0)
		return rc;
	rc = part_cursor(g, p, &c);
	if (rc < 0)
		return rc;
	lines = log_cursor_lines(c);
	n = read_lines(g->t, p, c, gp->pos, buf, room, &actual);
	if (n <= 0)
		return n;
	lines = log_cursor_lines(c) - lines;    /* each ends in buf */
	nl = memrchr(buf, '\n', (size_t)n);
	if (nl)
		keep = (size_t)(nl - buf) + 1;
	else
		keep = first ? (size_t)n : 0;
	*lpos = actual;
	*last_nl = nl ? (int64_t)keep : 0;
	gp->pos = actual + (int64_t)keep;
	count_out(g->t, p, lines, keep);
	return (ssize_t)keep;
}

/* New records at the end of m's stream. Needs g->mu. */
static ssize_t read_fresh(struct group_member *m, char *buf, size_t size)
{
	struct group *g = m->g;
	int np = g->nparts;
	size_t used = 0;

	if (m->cap < np) {
		struct gpiece *v = realloc(m->pieces, (size_t)np * sizeof(*v));

		if (!v)
			return -ENOMEM;
		m->pieces = v;
		m->cap = np;
	}
	for (int k = 0; k < np && used < size; k++) {
		int p = (m->rr + k) % np;
		int64_t lpos, last_nl;
		ssize_t n;

		if (g->parts[p].owner != m)
			continue;
		n = read_part(g, p, buf + used, size - used, used == 0, &lpos, &last_nl);
		if (n < 0) {
			if (used == 0)
				return n;
			break;
		}
		if (n == 0)
			continue;
		m->pieces[m->npieces++] = (struct gpiece){ .soff = m->end, .lpos = lpos, .len = n,
							   .last_nl = last_nl, .part = p,
							   .epoch = g->parts[p].epoch };
		m->end += n;
		used += (size_t)n;
	}
	if (np > 0)
		m->rr = (m->rr + 1) % np;
	return (ssize_t)used;
}

ssize_t group_consume(struct group_member *m, int64_t off, char *buf, size_t size)
{
	struct group *g = m->g;
	ssize_t n = 0;
	int np, rc;

	pthread_mutex_lock(&g->mu);
	if (!m->active) {
		rc = -ENOENT;
		goto out;
	}
	np = g->nparts;
	rc = group_live(g);
	if (rc == 0 && g->nparts != np)
		rc = rebalance(g);              /* the topic grew */
	if (rc < 0)
		goto out;
	if (off < m->start) {
		mq_log_limited(MQ_WARN, "group %s of topic %s: %s: read at %" PRId64 " refused: "
			       "the stream before %" PRId64 " is committed and cannot be read "
			       "again", g->name, g->topic, m->id, off, m->start);
		rc = -ESPIPE;
		goto out;
	}
	rc = commit_upto(m, off < m->end ? off : m->end);
	if (rc < 0)
		goto out;
	if (off > m->end)
		rc = -ERANGE;
	else if (off < m->end)
		n = redeliver(m, off, buf, size);
	else
		n = read_fresh(m, buf, size);
out:
	pthread_mutex_unlock(&g->mu);
	return rc < 0 ? rc : n;
}

/* True when a partition of m has committed records past its position (or
 * a position to look up, whose read then reports how that went). */
static bool member_readable(struct group_member *m)
{
	struct group *g = m->g;

	for (int p = 0; p < g->nparts; p++) {
		if (g->parts[p].owner != m)
			continue;
		if (g->parts[p].pos < 0 || topic_line_size(g->t, p) > g->parts[p].pos)
			return true;
	}
	return false;
}

int group_member_arm(struct group_member *m)
{
	struct group *g = m->g;
	int rc;

	pthread_mutex_lock(&g->mu);
	if (!m->active || g->deleted) {
		rc = -ENOENT;
	} else {
		if (!m->armed) {
			m->armed = true;
			atomic_fetch_add_explicit(&g->gc->armed, 1, memory_order_release);
		}
		/* Armed before looking: a hw move from now on wakes us. */
		rc = member_readable(m) ? 1 : 0;
	}
	pthread_mutex_unlock(&g->mu);
	return rc;
}

void group_member_disarm(struct group_member *m)
{
	struct group *g = m->g;

	pthread_mutex_lock(&g->mu);
	if (m->armed) {
		m->armed = false;
		atomic_fetch_sub(&g->gc->armed, 1);
	}
	pthread_mutex_unlock(&g->mu);
	pthread_mutex_lock(&g->gc->call_mu);
	pthread_mutex_unlock(&g->gc->call_mu);
}

/* ------------------------------------------------------------------ */
/* .state and .config */

/* Closes the stream; only then are *buf and *blen final. */
static int memstream_done(FILE *f, char **out, size_t *len, char **buf, size_t *blen)
{
	if (fclose(f) != 0) {
		free(*buf);
		return -ENOMEM;
	}
	*out = *buf;
	*len = *blen;
	return 0;
}

int group_state_text(struct group *g, char **out, size_t *len)
{
	char *buf = NULL;
	size_t blen = 0;
	FILE *f = open_memstream(&buf, &blen);
	int rc;

	if (!f)
		return -ENOMEM;
	pthread_mutex_lock(&g->mu);
	rc = group_live(g);
	if (rc < 0) {
		pthread_mutex_unlock(&g->mu);
		fclose(f);
		free(buf);
		return rc;
	}
	fprintf(f, "group %s\ntopic %s\nstate %s\ngeneration %d\n"
		"partition.assignment.strategy %s\nmembers %d\n", g->name, g->topic,
		g->nmembers ? "Stable" : "Empty", (int)g->generation,
		assign_strategy_name(g->strategy), g->nmembers);
	for (struct group_member *m = g->members; m; m = m->next) {
		bool any = false;

		fprintf(f, "member %s pid %d partitions ", m->id, (int)m->pid);
		for (int p = 0; p < g->nparts; p++) {
			if (g->parts[p].owner == m) {
				fprintf(f, "%s%d", any ? "," : "", p);
				any = true;
			}
		}
		fprintf(f, "%s\n", any ? "" : "-");
	}
	fprintf(f, "%-9s %-14s %-14s %-8s %s\n", "PARTITION", "CURRENT-OFFSET",
		"LOG-END-OFFSET", "LAG", "CONSUMER-ID");
	for (int p = 0; p < g->nparts && p < topic_partitions(g->t); p++) {
		struct log_state st;
		char cur[24];

		if (part_state(g->t, p, &st) < 0)
			continue;
		if (g->parts[p].committed >= 0)
			snprintf(cur, sizeof(cur), "%" PRId64, g->parts[p].committed);
		else
			snprintf(cur, sizeof(cur), "-");
		fprintf(f, "%-9d %-14s %-14" PRId64 " %-8" PRId64 " %s\n", p, cur, st.hw,
			st.hw - (g->parts[p].committed >= 0 ? g->parts[p].committed :
				 g->reset_latest ? st.hw : st.log_start_offset),
			g->parts[p].owner ? g->parts[p].owner->id : "-");
	}
	pthread_mutex_unlock(&g->mu);
	return memstream_done(f, out, len, &buf, &blen);
}

int group_config_text(struct group *g, char **out, size_t *len)
{
	char *buf = malloc(256);
	int n;

	if (!buf)
		return -ENOMEM;
	pthread_mutex_lock(&g->mu);
	n = snprintf(buf, 256, "partition.assignment.strategy=%s\nauto.offset.reset=%s\n"
		     "session.timeout.ms=%d\n", assign_strategy_name(g->strategy),
		     g->reset_latest ? "latest" : "earliest", (int)g->session_timeout_ms);
	pthread_mutex_unlock(&g->mu);
	*out = buf;
	*len = (size_t)n;
	return 0;
}

int group_config_write(struct group *g, const char *text, size_t len)
{
	char why[200] = "";
	int strategy, rc;
	bool latest;
	int32_t session;

	pthread_mutex_lock(&g->mu);
	rc = group_live(g);
	if (rc < 0)
		goto out;
	strategy = g->strategy;
	latest = g->reset_latest;
	session = g->session_timeout_ms;
	rc = settings_apply(text, len, '\n', &strategy, &latest, &session, why, sizeof(why));
	if (rc < 0) {
		mq_log_limited(MQ_WARN, "group %s of topic %s: .config refused: %s", g->name,
			       g->topic, why);
		goto out;
	}
	if (strategy == g->strategy && latest == g->reset_latest &&
	    session == g->session_timeout_ms)
		goto out;
	{
		struct group tmp;

		/* Durable first; memory only once the record is in. */
		memcpy(tmp.name, g->name, sizeof(tmp.name));
		memcpy(tmp.topic, g->topic, sizeof(tmp.topic));
		tmp.gc = g->gc;
		tmp.strategy = strategy;
		tmp.reset_latest = latest;
		tmp.session_timeout_ms = session;
		rc = persist_meta(&tmp);
	}
	if (rc < 0)
		goto out;
	if (strategy != g->strategy) {
		mq_log(MQ_INFO, "group %s of topic %s: partition.assignment.strategy %s -> %s",
		       g->name, g->topic, assign_strategy_name(g->strategy),
		       assign_strategy_name(strategy));
		g->strategy = strategy;
		rc = rebalance(g);
	}
	g->reset_latest = latest;
	g->session_timeout_ms = session;
out:
	pthread_mutex_unlock(&g->mu);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Metrics */

struct gsnap {
	char topic[TOPIC_NAME_MAX + 1];
	char name[TOPIC_NAME_MAX + 1];
	bool latest;
	int nmembers;
	int n;
	int64_t *committed;             /* [n], -1: none */
	int64_t *lag;                   /* [n], -1: partition unreadable */
};

/* Copies the groups' offsets under the locks, then reads the logs' states
 * without them. Group and topic names are [A-Za-z0-9._-]: no label value
 * needs escaping. */
void group_metrics_text(struct broker *b, FILE *f)
{
	struct group_coord *gc = b->gc;
	struct gsnap *gs = NULL;
	int n = 0;

	if (!gc)
		return;
	pthread_mutex_lock(&gc->mu);
	gs = calloc((size_t)gc->ngroups + 1, sizeof(*gs));
	for (int i = 0; gs && i < gc->ngroups; i++) {
		struct group *g = gc->groups[i];
		struct gsnap *s = &gs[n];

		pthread_mutex_lock(&g->mu);
		snprintf(s->topic, sizeof(s->topic), "%s", g->topic);
		snprintf(s->name, sizeof(s->name), "%s", g->name);
		s->latest = g->reset_latest;
		s->nmembers = g->nmembers;
		s->committed = calloc((size_t)g->nparts + 1, sizeof(int64_t));
		s->lag = calloc((size_t)g->nparts + 1, sizeof(int64_t));
		if (s->committed && s->lag) {
			s->n = g->nparts;
			for (int p = 0; p < g->nparts; p++)
				s->committed[p] = g->parts[p].committed;
		}
		pthread_mutex_unlock(&g->mu);
		n++;
	}
	pthread_mutex_unlock(&gc->mu);
	for (int i = 0; i < n; i++) {
		struct topic *t;

		if (broker_topic_get(b, gs[i].topic, &t) < 0) {
			gs[i].n = 0;
			continue;
		}
		if (gs[i].n > topic_partitions(t))
			gs[i].n = topic_partitions(t);
		for (int p = 0; p < gs[i].n; p++) {
			struct log_state st;
			int64_t from = gs[i].committed[p];

			if (topic_log_state(t, p, &st) < 0) {
				gs[i].lag[p] = -1;
				continue;
			}
			if (from < 0)
				from = gs[i].latest ? st.hw : st.log_start_offset;
			gs[i].lag[p] = st.hw > from ? st.hw - from : 0;
		}
		topic_put(t);
	}
	fprintf(f, "# HELP mqfs_consumer_group_lag Records of the partition between the "
		"group's committed offset (its auto.offset.reset position when it has none) "
		"and the high watermark.\n# TYPE mqfs_consumer_group_lag gauge\n");
	for (int i = 0; i < n; i++)
		for (int p = 0; p < gs[i].n; p++)
			if (gs[i].lag[p] >= 0)
				fprintf(f, "mqfs_consumer_group_lag{topic=\"%s\",group=\"%s\","
					"partition=\"%d\"} %" PRId64 "\n", gs[i].topic, gs[i].name,
					p, gs[i].lag[p]);
	fprintf(f, "# HELP mqfs_consumer_group_committed_offset The group's committed "
		"offset (the next record to consume); partitions with no commit have no "
		"sample.\n# TYPE mqfs_consumer_group_committed_offset gauge\n");
	for (int i = 0; i < n; i++)
		for (int p = 0; p < gs[i].n; p++)
			if (gs[i].committed[p] >= 0)
				fprintf(f, "mqfs_consumer_group_committed_offset{topic=\"%s\","
					"group=\"%s\",partition=\"%d\"} %" PRId64 "\n", gs[i].topic,
					gs[i].name, p, gs[i].committed[p]);
	fprintf(f, "# HELP mqfs_consumer_group_members Open consume files of the group.\n"
		"# TYPE mqfs_consumer_group_members gauge\n");
	for (int i = 0; i < n; i++)
		fprintf(f, "mqfs_consumer_group_members{topic=\"%s\",group=\"%s\"} %d\n",
			gs[i].topic, gs[i].name, gs[i].nmembers);
	for (int i = 0; i < n; i++) {
		free(gs[i].committed);
		free(gs[i].lag);
	}
	free(gs);
}
