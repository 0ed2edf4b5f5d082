/*
 * open_files.c — open files: what read, write, flush, fsync and release do for
 * each kind of file.
 *
 * Partition files (MNT/<topic>/<p>, and .produce with partition -1):
 *   write   appends. data = partial + buf; everything up to the last '\n'
 *           goes to ONE topic_produce_file() call (a write's lines stay
 *           contiguous, writers never interleave inside a record); the
 *           rest becomes the new partial line. Nothing of a failed write
 *           is kept: the previous partial is restored.
 *   where   a file that is not O_APPEND takes a write only at the offset
 *           that continues its own writes (wnext = offset + count of the
 *           last accepted one), or, for its first write, at 0 when opened
 *           with O_TRUNC (">") or at st_size (empty file, lseek to the
 *           end; st_size as getattr shows it, topic_file_size, which
 *           never decreases); else -ESPIPE, nothing appended. A stream written from
 *           start to end (the shell, cat, several writers each on its own
 *           file) always continues itself; what does not is a write over
 *           existing bytes (rsync --inplace, an editor's save that
 *           truncates with ftruncate, which is refused, and then writes at
 *           0) or past the end (glibc's posix_fallocate emulation, once
 *           fallocate is refused, writes a NUL byte every 4 KiB at or past
 *           st_size, never at the offset its file left off at). The one
 *           such byte that can land at st_size itself, a first write of
 *           exactly one NUL byte without O_APPEND, is refused as well
 *           (-EOPNOTSUPP, part_fallocate_probe).
 *   long    a line over max.message.bytes (or segment.bytes when lower:
 *           log_batch_limit) is never appended, in whole or
 *           in part, whatever requests it comes in (a write over 1 MiB is
 *           several): the request that makes it too long fails with
 *           -EMSGSIZE; the file's partial line goes when it is the start
 *           of that line; if the line does not end in that request, the
 *           file then drops every write up to and including the one with
 *           its newline (each -EMSGSIZE: nothing of such a write is
 *           appended). A request that repeats the last refused one (same
 *           offset, same bytes: stdio and Python send the rest of a write
 *           again after a short count or an error) is refused again. The
 *           next flush or fsync returns -EMSGSIZE once more, for writers
 *           that took the refusal for a short write.
 *   flush   (every close of an fd) and fsync produce the partial line with
 *           PRODUCE_FINAL and wait for the file's acks=0 writes still
 *           queued (f->tracker), returning their first error (but the
 *           close at the exit of a writer killed by a signal drops that
 *           line, which it never ended: part_killed_writer); fsync then
 *           makes this file's records durable: up to sync_upto, the
 *           offset after its last write's last record (the whole
 *           partition when that write was queued, acks=0, or forwarded
 *           to the leader; every partition, for .produce). The kernel
 *           runs the fsyncs of one inode one at a time (FUSE's fsync
 *           holds the inode lock), so writers sharing a partition file
 *           cannot meet in one log_sync; they share the fdatasync
 *           instead by not asking for records that are not theirs: the
 *           first fsync covers every record appended before it, and a
 *           writer whose records it covered returns without another,
 *           although others appended since.
 *   fallocate  -EOPNOTSUPP: space is not reserved in a log, and a
 *           zeroed range would be a record of NUL bytes.
 *   read    the line view through a reader (an O_RDONLY open of a whole
 *           partition reads through the page cache: cache.c). Client offsets equal stable
 *           line positions until a gap (records removed by retention or
 *           compaction): the read then continues at the next record and
 *           next_off/next_pos remember where the client's offsets now
 *           point, so sequential reads go on without a lookup:
 *             pos = (off == next_off) ? next_pos : off
 *             n = read(pos) -> actual;  next_pos = actual + n;  next_off = off + n
 *           At or after the high watermark a read returns 0 at once.
 *           A file read through the page cache cannot map offsets per
 *           open file: a read of it at a removed position is -ESTALE. So
 *           is a page-cache read of a direct-I/O file (a fault of its
 *           mmap(MAP_PRIVATE), told by its missing lock owner): mapped,
 *           it would show other positions' bytes, and its short reply
 *           would cut the kernel's size of the file (SIGBUS past it).
 *
 * Text views (.state, .config, .metrics): rendered once at open into the
 * file; reads serve that snapshot by offset. <topic>/.config also takes
 * "key=value" lines: each write's complete lines are applied at once (all
 * or nothing), a trailing partial line at flush.
 *
 * .segments files: <base>.log raw bytes by offset; .index, .timeindex and
 * .dump rendered in 256 KiB chunks as the reader advances (they can be far
 * larger than memory should hold); a read before the current chunk starts
 * the rendering again from the beginning.
 *
 * Threads: the op holds f->lock around every fs_file_* call but open and
 * release, and around its reply (reads reply from f's buffers).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/fs.h"
#include "util/shelf.h"

#define FS_CONFIG_MAX_PENDING (64 * 1024)   /* a .config line, ended or not */
#define FS_CONFIG_MAX_FILE    (1024 * 1024) /* all a .config open was given */

int fs_view_render(struct mqfs *fs, struct fs_node *n, char **out, size_t *len)
{
	int rc;

	*out = NULL;
	*len = 0;
	switch (n->key.kind) {
	case NODE_ROOT_STATE: rc = broker_state_text(fs->broker, out, len); break;
	case NODE_ROOT_CONFIG: rc = broker_config_text(fs->broker, out, len); break;
	case NODE_ROOT_METRICS: rc = fs_metrics_render(fs, out, len); break;
	case NODE_TOPIC_CONFIG: rc = topic_config_text(n->topic, out, len); break;
	case NODE_TOPIC_STATE: rc = topic_state_text(n->topic, out, len); break;
	case NODE_SEG_COPY:
		rc = topic_segments_copy_text(n->topic, n->key.partition, out, len);
		break;
	default:
		if (!fs_groups_kind(n->key.kind))
			return -EINVAL;
		rc = fs_groups_render(fs, n, out, len);
		break;
	}
	return rc < 0 ? rc : 0;
}

static bool view_read_only(int kind)
{
	return kind == NODE_ROOT_STATE || kind == NODE_ROOT_CONFIG || kind == NODE_ROOT_METRICS ||
	       kind == NODE_TOPIC_STATE || kind == NODE_SEG_FILE || kind == NODE_SEG_COPY ||
	       kind == NODE_GROUP_STATE || kind == NODE_GROUP_CONSUME;
}

static void file_free(struct fs_file *f)
{
	if (!f)
		return;
	topic_reader_free(f->reader);
	/* Before the topic reference goes: queued acks=0 writes finish. */
	produce_tracker_destroy(&f->tracker);
	if (f->group)
		fs_groups_file_free(f); /* leaves the group first */
	if (f->topic) {
		topic_unfinished_give(f->topic, (int64_t)f->partial_cap);
		topic_put(f->topic);
	}
	pthread_mutex_destroy(&f->lock);
	free(f->partial);
	free(f->cfg_digest);
	free(f->refused);
	shelf_give(f->rbuf, f->rbuf_cap);
	shelf_give(f->rbuf2, f->rbuf2_cap);
	free(f->text);
	free(f->chunk);
	free(f);
}

int fs_file_open(struct mqfs *fs, fuse_ino_t ino, int flags, uint32_t pid, struct fs_file **out)
{
	struct fs_node *n;
	struct fs_file *f = NULL;
	int acc = flags & O_ACCMODE;
	int rc;

	rc = fs_node_get_walked(fs, ino, &n);
	if (rc < 0)
		return rc;
	if (n->key.kind == NODE_ROOT || n->key.kind == NODE_TOPIC || n->key.kind == NODE_SEGMENTS ||
	    n->key.kind == NODE_SEG_PART || n->key.kind == NODE_GROUPS ||
	    n->key.kind == NODE_GROUP) {
		rc = -EISDIR;
		goto out;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		rc = -ENOMEM;
		goto out;
	}
	pthread_mutex_init(&f->lock, NULL);
	produce_tracker_init(&f->tracker);
	f->node_kind = n->key.kind;
	f->partition = n->key.partition;
	f->base = n->key.base;
	f->seg = (enum segment_file)n->key.file;
	f->oflags = flags;
	f->wnext = -1;
	f->sync_upto = -1;
	f->held = fs->held;
	fs_node_path(n, f->path, sizeof(f->path));
	if (n->topic) {
		topic_get(n->topic);
		f->topic = n->topic;
	}
	if (acc != O_RDONLY && view_read_only(n->key.kind)) {
		mq_log_limited(MQ_WARN, "open %s for writing: refused: read-only view", f->path);
		rc = -EACCES;
		goto out;
	}
	switch (n->key.kind) {
	case NODE_PART:
	case NODE_PRODUCE:
		/* O_TRUNC and O_APPEND are ignored: every write appends. */
		f->kind = FILE_PART;
		f->cached = fs_cache_open(fs, n, flags, &f->keep_cache);
		break;
	case NODE_SEG_FILE: f->kind = f->seg == SEGMENT_LOG ? FILE_SEG_RAW : FILE_SEG_TEXT; break;
	default:
		f->kind = FILE_TEXT;
		if (fs_groups_kind(n->key.kind))
			rc = fs_groups_open(f, n); /* consume: FILE_CONSUME */
		if (rc == 0 && f->kind == FILE_TEXT && acc != O_WRONLY)
			rc = fs_view_render(fs, n, &f->text, &f->text_len);
		break;
	}
out:
	if (rc == -ENOMEM) {
		char path[320];

		fs_node_path(n, path, sizeof(path));
		fs_nomem_logged(rc, "open", path);
	}
	if (rc == 0 && f->kind == FILE_PART) {
		f->node = n; /* the lookup's reference becomes the file's */
		/* Later lookups go to another alias while it writes. */
		inode_opened(fs->inodes, n, pid, acc != O_RDONLY);
	} else
		inode_put(fs->inodes, n);
	if (rc < 0) {
		file_free(f);
		return rc;
	}
	pthread_mutex_lock(&fs->files_lock);
	f->next = fs->files;
	if (fs->files)
		fs->files->prev = f;
	fs->files = f;
	pthread_mutex_unlock(&fs->files_lock);
	*out = f;
	return 0;
}

int fs_rbuf_reserve(struct fs_file *f, size_t size)
{
	char *buf;

	if (f->rbuf_cap >= size)
		return 0;
	buf = shelf_grow(f->rbuf, &f->rbuf_cap, size);
	if (!buf)
		return -ENOMEM;
	f->rbuf = buf;
	return 0;
}

/* The buffer of what a writer holds between its writes (an unfinished
 * line, a .config's text) counts in buffer.memory for its whole size
 * (topic_unfinished_take: -ENOBUFS, never a wait, when it cannot grow),
 * so that open files cannot make the daemon hold memory without bound. */
static int partial_reserve(struct fs_file *f, size_t need)
{
	size_t cap = f->partial_cap ? f->partial_cap : 4096;
	char *buf;

	if (f->partial_cap >= need)
		return 0;
	while (cap < need)
		cap *= 2;
	if (topic_unfinished_take(f->topic, (int64_t)(cap - f->partial_cap)) < 0) {
		mq_log_limited(MQ_WARN,
			       "write %s: refused (ENOBUFS): its unfinished line of %zu bytes "
			       "would take buffer.memory past its limit; nothing of the write "
			       "kept",
			       f->path, need);
		return -ENOBUFS;
	}
	buf = realloc(f->partial, cap);
	if (!buf) {
		topic_unfinished_give(f->topic, (int64_t)(cap - f->partial_cap));
		return fs_nomem_logged(-ENOMEM, "write", f->path);
	}
	f->partial = buf;
	f->partial_cap = cap;
	return 0;
}

/* Gives back the buffer once nothing is held in it: it counts in
 * buffer.memory, and a writer whose line is written holds no byte there
 * (an idle descriptor that once held 5 bytes must not keep 4 KiB of the
 * limit from other writers' unfinished lines, nor show in
 * mqfs_buffer_memory_unfinished_bytes, until it is closed). */
static void partial_shrink(struct fs_file *f)
{
	if (f->partial_len > 0 || f->partial_cap == 0)
		return;
	topic_unfinished_give(f->topic, (int64_t)f->partial_cap);
	free(f->partial);
	f->partial = NULL;
	f->partial_cap = 0;
}

/* A read through the page cache (cache.c): the reply is the whole request
 * up to the high watermark or an error, never short of it. A short reply
 * makes the kernel fill the rest of the request's pages with zeros, mark
 * them cached and take the file for ending there (fuse_short_read), so a
 * reply of the pages before an error (a bad batch, a full disk, an I/O
 * error) would later be read back as zeros. Positions are stable here (no
 * per-file mapping): a gap is -ESTALE. */
static ssize_t part_read_cached(struct fs_file *f, size_t size, off_t off)
{
	size_t got = 0;
	int64_t actual;
	ssize_t n;

	while (got < size) {
		actual = off + (int64_t)got;
		n = topic_reader_read(f->topic, f->partition, f->reader, actual, f->rbuf + got,
				      size - got, &actual, NULL);
		if (n >= 0 && actual != off + (int64_t)got) {
			/* A page that begins with removed records, asked for
			 * whole by a caught-up `tail -f`: the bytes of the pages
			 * where that happens are kept (retention.c). */
			size_t k = topic_reader_head(f->topic, f->partition, f->reader,
						     off + (int64_t)got, f->rbuf + got, size - got);
			if (k > 0) {
				got += k;
				continue;
			}
			mq_log_limited(MQ_WARN,
				       "read %s at position %lld: records removed there, read "
				       "through the page cache (a file opened before, or mmap): "
				       "ESTALE, reopen it",
				       f->path, (long long)(off + (int64_t)got));
			n = -ESTALE;
		}
		if (n < 0)
			return n;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static ssize_t part_read(struct fs_file *f, size_t size, off_t off, bool paged, const char **data)
{
	int64_t pos, actual;
	char *next = NULL;
	ssize_t n;
	int rc;

	if (f->partition < 0)
		return 0; /* .produce reads empty */
	if (!f->reader) {
		rc = topic_reader_new(f->topic, f->partition, &f->reader);
		if (rc < 0) {
			n = rc;
			goto out;
		}
	}
	if (size > FS_MAX_WRITE)
		size = FS_MAX_WRITE;
	/* Big reads with direct I/O alternate between two buffers, so that
	 * the engine can decode the next read into one while the other is
	 * replied (log_read_lines_ahead). The first big read makes both
	 * at least FS_MAX_WRITE: a buffer the engine may be writing is never
	 * reallocated (fs_rbuf_reserve only grows), and is freed only after the
	 * reader. Not through the page cache: there the kernel reads ahead
	 * itself, several requests at once and not always in order, and
	 * decoding ahead as well measured no faster, with more CPU. */
	bool big = size >= FS_MAX_WRITE / 4 && !paged;
	if (big && !f->rbuf2 && fs_rbuf_reserve(f, FS_MAX_WRITE) == 0)
		f->rbuf2 = shelf_grow(NULL, &f->rbuf2_cap, FS_MAX_WRITE);
	if (big)
		next = f->rbuf2;
	rc = fs_rbuf_reserve(f, size);
	if (rc < 0) {
		n = rc;
		goto out;
	}
	*data = f->rbuf;
	if (paged) {
		n = part_read_cached(f, size, off);
	} else {
		pos = (off == f->next_off) ? f->next_pos : off;
		actual = pos;
		n = topic_reader_read(f->topic, f->partition, f->reader, pos, f->rbuf, size,
				      &actual, next);
		if (n >= 0) {
			f->next_off = off + n;
			f->next_pos = actual + n;
		}
	}
	if (next) {
		size_t cap = f->rbuf_cap;

		f->rbuf2 = f->rbuf;
		f->rbuf = next;
		f->rbuf_cap = f->rbuf2_cap;
		f->rbuf2_cap = cap;
	}
out:
	/* ESTALE is logged above, a bad batch where it is found. */
	if (n < 0 && n != -ESTALE && n != -EBADMSG)
		mq_log_limited(MQ_WARN, "read %s at position %lld: %s", f->path, (long long)off,
			       strerror((int)-n));
	return n;
}

/* Renders chunks forward until one holds offset off. 0 = off is past the
 * end of the rendering. */
static ssize_t seg_chunk_seek(struct fs_file *f, int64_t off)
{
	ssize_t n;

	if (off < f->chunk_off) {
		/* Backwards: the rendering only goes forward; start again. */
		f->render_cursor = 0;
		f->chunk_off = 0;
		f->chunk_len = 0;
		f->render_done = false;
	}
	while (off >= f->chunk_off + (int64_t)f->chunk_len) {
		if (f->render_done)
			return 0;
		f->chunk_off += (int64_t)f->chunk_len;
		f->chunk_len = 0;
		n = topic_segment_render(f->topic, f->partition, f->base, f->seg, &f->render_cursor,
					 f->chunk, FS_CHUNK_BYTES);
		if (n < 0)
			return n;
		if (n == 0)
			f->render_done = true;
		f->chunk_len = (size_t)n;
	}
	return 1;
}

/* A .segments file whose segment retention or compaction removed since
 * it was opened: ENOENT, logged (a raw .log reads the segment at each
 * read; a rendered view reads on as far as it has rendered). */
static ssize_t seg_gone(const struct fs_file *f, ssize_t rc)
{
	if (rc == -ENOENT)
		mq_log_limited(MQ_WARN,
			       "read %s: ENOENT: its segment was removed (retention, compaction "
			       "or a replica's truncation) after the file was opened",
			       f->path);
	return rc;
}

static ssize_t seg_text_read(struct fs_file *f, size_t size, off_t off, const char **data)
{
	size_t got = 0;
	ssize_t rc;

	if (!f->chunk) {
		f->chunk = malloc(FS_CHUNK_BYTES);
		if (!f->chunk)
			return -ENOMEM;
	}
	if (size > FS_MAX_WRITE)
		size = FS_MAX_WRITE;
	rc = fs_rbuf_reserve(f, size);
	if (rc < 0)
		return rc;
	/* Fill the whole request, across chunk boundaries, so readers see
	 * no short reads before the end. */
	while (got < size) {
		int64_t at = (int64_t)off + (int64_t)got;
		size_t avail, take;

		rc = seg_chunk_seek(f, at);
		if (rc < 0 && got == 0)
			return seg_gone(f, rc);
		if (rc <= 0)
			break;
		avail = f->chunk_len - (size_t)(at - f->chunk_off);
		take = avail < size - got ? avail : size - got;
		memcpy(f->rbuf + got, f->chunk + (at - f->chunk_off), take);
		got += take;
	}
	*data = f->rbuf;
	return (ssize_t)got;
}

/* A file kept open across the rmdir of its topic: ENOENT, and the one log
 * line every refusal gets (the path is what the file was opened as). */
static int deleted_refusal(const struct fs_file *f, const char *op)
{
	mq_log_limited(MQ_WARN, "%s %s: refused: the topic was deleted while the file was open", op,
		       f->path);
	return -ENOENT;
}

int fs_file_stat_check(const struct fs_file *f)
{
	/* A read through the page cache past the size the kernel knows asks
	 * for the attributes instead of reading: this is its refusal. */
	if (f && f->topic && topic_deleted(f->topic))
		return deleted_refusal(f, "read (size check)");
	return 0;
}

ssize_t fs_file_read(struct fs_file *f, size_t size, off_t off, bool paged, const char **data)
{
	ssize_t n;
	int rc;

	*data = NULL;
	if (off < 0)
		return -EINVAL;
	if (f->topic && topic_deleted(f->topic))
		return deleted_refusal(f, "read");
	switch (f->kind) {
	case FILE_PART: return part_read(f, size, off, paged || f->cached, data);
	case FILE_TEXT:
		if ((size_t)off >= f->text_len)
			return 0;
		*data = f->text + off;
		return (ssize_t)(f->text_len - (size_t)off < size ? f->text_len - (size_t)off
								  : size);
	case FILE_SEG_RAW:
		if (size > FS_MAX_WRITE)
			size = FS_MAX_WRITE;
		rc = fs_rbuf_reserve(f, size);
		if (rc < 0)
			return fs_nomem_logged(rc, "read", f->path);
		n = topic_segment_read_raw(f->topic, f->partition, f->base, f->rbuf, size, off);
		*data = f->rbuf;
		return seg_gone(f, n);
	case FILE_SEG_TEXT:
		n = seg_text_read(f, size, off, data);
		return n == -ENOMEM ? fs_nomem_logged(-ENOMEM, "read", f->path) : n;
	case FILE_CONSUME: return -EINVAL; /* fs_consume_read (groups.c) */
	}
	return -EIO;
}

static int produce_flags(int oflags)
{
	return (oflags & O_NONBLOCK) ? PRODUCE_NONBLOCK : 0;
}

/* A line over the size limit (see the file header): the write fails and
 * nothing of it is appended. held: the file's unfinished line is the
 * beginning of the over-long one, so it goes too. drop: the over-long line
 * does not end in this write; what follows is dropped up to its newline. */
static ssize_t part_refuse_long(struct fs_file *f, off_t off, bool held, bool drop,
				const char *what)
{
	const char *limit;
	int32_t bytes = topic_batch_limit(f->topic, &limit);

	mq_log_limited(MQ_WARN, "write %s at offset %lld: refused: %s over %s (%d)%s", f->path,
		       (long long)off, what, limit, (int)bytes,
		       drop ? "; the rest of that line is dropped up to its newline" : "");
	if (held) {
		f->partial_len = 0;
		partial_shrink(f);
	}
	f->dropping = drop;
	return -EMSGSIZE;
}

/* After an append through f: what its fsync must make durable. The
 * offset after the write's last record covers this file's records (its
 * earlier acks=0 writes were queued ahead of it), unless the write itself
 * was queued (appended later, at an offset not known here) or went to the
 * leader: then everything. */
static void part_note_appended(struct fs_file *f)
{
	if (f->partition < 0)
		return; /* .produce syncs every partition */
	f->sync_upto = f->tracker.end;
}

static ssize_t part_write(struct fs_file *f, const char *buf, size_t size, off_t off, int oflags)
{
	const char *nl = memrchr(buf, '\n', size);
	size_t head = nl ? (size_t)(nl - buf) + 1 : 0;
	size_t tail = size - head;
	int rc;

	if (f->dropping) {
		/* The write that ends the over-long line fails whole as well:
		 * one error, one rule (nothing of a failed write is appended). */
		if (nl)
			f->dropping = false;
		const char *limit;

		(void)topic_batch_limit(f->topic, &limit);
		mq_log_limited(MQ_WARN,
			       "write %s at offset %lld: %zu bytes dropped: the rest of a "
			       "line over %s%s",
			       f->path, (long long)off, size, limit,
			       nl ? ", which ends in this write" : "");
		return -EMSGSIZE;
	}
	/* The unfinished line this write leaves: its first byte says whether
	 * it is an escaped line. */
	const char *ul = head ? buf + head : f->partial_len ? f->partial : buf;

	if (topic_line_check(f->topic, ul, (head ? 0 : f->partial_len) + tail, false) < 0)
		return part_refuse_long(f, off, head == 0, true, "an unfinished line");
	if (head == 0) {
		rc = partial_reserve(f, f->partial_len + size);
		if (rc < 0)
			return rc;
		memcpy(f->partial + f->partial_len, buf, size);
		f->partial_len += size;
		return (ssize_t)size;
	}
	/* Allocate before producing: nothing may fail once the records are in. */
	if (f->partial_len == 0) {
		rc = partial_reserve(f, tail);
		if (rc < 0)
			return rc;
		const struct produce_input in = { .lines = buf, .len = head };

		rc = topic_produce_file(f->topic, f->partition, &in, produce_flags(oflags),
					&f->tracker);
	} else {
		/* Only the line that completes the partial one is joined; the
		 * rest of the write is produced from where it lies. */
		size_t first = (size_t)((const char *)memchr(buf, '\n', head) - buf) + 1;
		size_t need = f->partial_len + first;

		rc = partial_reserve(f, need > tail ? need : tail);
		if (rc < 0)
			return rc;
		/* Appended behind the partial: on failure partial_len still
		 * says where the old partial ends, so it is restored as it was. */
		memcpy(f->partial + f->partial_len, buf, first);
		if (topic_line_check(f->topic, f->partial, need - 1, true) < 0)
			return part_refuse_long(f, off, true, false,
						"a line begun in earlier writes");
		const struct produce_input in = { .head = f->partial,
						  .head_len = need,
						  .lines = buf + first,
						  .len = head - first };

		rc = topic_produce_file(f->topic, f->partition, &in, produce_flags(oflags),
					&f->tracker);
	}
	if (rc < 0) {
		const char *limit = "";

		if (rc == -EMSGSIZE)
			(void)topic_batch_limit(f->topic, &limit);
		if (rc != -EAGAIN)
			mq_log_limited(MQ_WARN, "write %s at offset %lld: %s%s%s", f->path,
				       (long long)off, strerror(-rc),
				       rc == -EMSGSIZE ? ": a line over " : "", limit);
		return rc;
	}
	part_note_appended(f);
	mq_log(MQ_DEBUG, "write %s: %zu bytes, %zu to records, %zu kept", f->path, size,
	       f->partial_len + head, tail);
	if (tail > 0)
		memcpy(f->partial, buf + head, tail);
	f->partial_len = tail;
	partial_shrink(f);
	return (ssize_t)size;
}

/* True when the write repeats the last one refused with -EMSGSIZE: the same
 * offset (a failed write does not move the file offset) and the same bytes
 * over their common length (the repeat may be cut into requests anew). */
static bool part_write_repeats(const struct fs_file *f, const char *buf, size_t size, off_t off)
{
	size_t n = size < f->refused_len ? size : f->refused_len;

	return f->refused && off == f->refused_off && memcmp(buf, f->refused, n) == 0;
}

static void part_refused_forget(struct fs_file *f)
{
	free(f->refused);
	f->refused = NULL;
	f->refused_len = 0;
}

/* A partition write: a repeat of a refused one is refused again, so that
 * nothing of an over-long line goes in when stdio or Python send the rest
 * of a write again after a short count or an error. */
static ssize_t part_write_once(struct fs_file *f, const char *buf, size_t size, off_t off,
			       int flags)
{
	ssize_t n;

	if (part_write_repeats(f, buf, size, off)) {
		const char *limit;

		(void)topic_batch_limit(f->topic, &limit);
		mq_log_limited(MQ_WARN,
			       "write %s at offset %lld: refused again: %zu bytes that "
			       "repeat a write refused for a line over %s",
			       f->path, (long long)off, size, limit);
		return -EMSGSIZE;
	}
	bool continues = f->partial_len > 0;

	n = part_write(f, buf, size, off, flags);
	if (n < 0 && continues && f->partial_len > 0)
		f->partial_failed = (int)-n; /* see part_flush_line */
	else if (n > 0)
		f->partial_failed = 0; /* made again, or the writer moved on */
	if (n == -EMSGSIZE) {
		f->refused_long = true;
		part_refused_forget(f);
		f->refused = malloc(size); /* no memory: repeats go unrecognised */
		if (f->refused) {
			memcpy(f->refused, buf, size);
			f->refused_len = size;
			f->refused_off = off;
		}
	} else if (n > 0) {
		part_refused_forget(f); /* the writer has moved on */
	}
	return n;
}

/* Whether a write at off may go to a partition file (see the file header).
 * 0 or -ESPIPE. */
static int part_write_where(struct fs_file *f, off_t off, int flags)
{
	int64_t end;

	if (flags & O_APPEND)
		return 0;
	if (f->wnext >= 0) {
		if (off == f->wnext)
			return 0;
		end = f->wnext;
	} else {
		if (off == 0 && (f->oflags & O_TRUNC))
			return 0;
		/* st_size as the mount shows it (never less than before), so
		 * that a writer that lseeks to the end writes there. */
		end = f->partition >= 0 ? topic_file_size(f->topic, f->partition) : 0;
		if (end < 0)
			return (int)end;
		if (off == end)
			return 0;
	}
	mq_log_limited(MQ_WARN,
		       "write %s at offset %lld: refused: partition files are appended "
		       "to, a write must continue this file's writes (offset %lld); nothing "
		       "appended",
		       f->path, (long long)off, (long long)end);
	return -ESPIPE;
}

/* A topic's .config is all or nothing per open file: each write's whole
 * lines are checked with those before them (topic_config_check_more: a
 * bad one is refused at once, logged, with its errno), and the flush of the
 * close applies everything written, or nothing when a write was refused.
 * bash's echo and printf write each line with a write() of their own:
 * `{ echo a=1; echo b=bad; } > .config` changes nothing. */
static ssize_t config_refuse(struct fs_file *f, int rc, const char *why)
{
	mq_log_limited(MQ_WARN,
		       "write %s: refused: %s; nothing written to it since it was opened "
		       "will be applied",
		       f->path, why);
	if (!f->cfg_refused)
		f->cfg_refused = rc;
	return rc;
}

static ssize_t config_write(struct fs_file *f, const char *buf, size_t size)
{
	size_t total = f->partial_len + size;
	size_t line = f->partial_len - f->cfg_lines_len; /* unfinished before */
	const char *nl;
	int rc;

	if (f->cfg_refused)
		return config_refuse(f, -EINVAL, "an earlier write to it was refused");
	/* Every line, ended or not, the one this write continues included. */
	for (const char *p = buf, *end = buf + size; p < end;) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		size_t l = line + (size_t)((e ? e : end) - p);

		if (l > FS_CONFIG_MAX_PENDING)
			return config_refuse(f, -EINVAL, "a line over 64 KiB");
		line = 0;
		p = e ? e + 1 : end;
	}
	if (total > FS_CONFIG_MAX_FILE)
		return config_refuse(f, -EFBIG, "over 1 MiB of settings");
	rc = partial_reserve(f, total + 1);
	if (rc < 0)
		return rc;
	memcpy(f->partial + f->partial_len, buf, size);
	nl = memrchr(f->partial, '\n', total);
	if (nl && (size_t)(nl - f->partial) + 1 > f->cfg_lines_len) {
		size_t head = (size_t)(nl - f->partial) + 1;
		const char *more = f->partial + f->cfg_lines_len;
		size_t mlen = head - f->cfg_lines_len;
		char *digest;
		size_t dlen;
		int lines = 0;

		/* The new lines after those checked before (their digest):
		 * what the whole text applies, at the cost of the new lines. */
		rc = topic_config_check_more(f->topic, f->cfg_digest, f->cfg_digest_len, more, mlen,
					     f->cfg_nlines);
		if (rc < 0)
			return config_refuse(f, rc, strerror(-rc)); /* partial_len kept */
		rc = topic_config_compact(f->cfg_digest, f->cfg_digest_len, more, mlen, &digest,
					  &dlen);
		if (rc < 0) /* nothing of this write kept */
			return fs_nomem_logged(rc, "write", f->path);
		for (const char *p = more; (p = memchr(p, '\n', (size_t)(more + mlen - p))); p++)
			lines++;
		free(f->cfg_digest);
		f->cfg_digest = digest;
		f->cfg_digest_len = dlen;
		f->cfg_nlines += lines;
		f->cfg_lines_len = head;
	}
	f->partial_len = total;
	return (ssize_t)size;
}

/* Whether a write is glibc's posix_fallocate emulation (fallocate being
 * refused): one NUL byte per block, through pwrite, so never O_APPEND
 * (glibc refuses that descriptor itself). Past st_size every such write
 * but one at the file's very end is refused by part_write_where already;
 * that one is the first write of its file, a single NUL without newline.
 * Taken as a record, it would append a line of one NUL byte at close.
 * A writer that means such a record appends it (O_APPEND) or sends its
 * newline with it. */
static bool part_fallocate_probe(const struct fs_file *f, const char *buf, size_t size, int flags)
{
	return size == 1 && buf[0] == '\0' && !(flags & O_APPEND) && f->wnext < 0 &&
	       f->partial_len == 0;
}

ssize_t fs_file_write(struct fs_file *f, const char *buf, size_t size, off_t off, int flags,
		      uint64_t owner)
{
	ssize_t n;

	if (size == 0)
		return 0;
	f->partial_owner = owner; /* kept only while partial_len > 0 */
	if (f->topic && topic_deleted(f->topic))
		return deleted_refusal(f, "write");
	if (f->kind == FILE_PART) {
		n = part_write_where(f, off, flags);
		if (n == 0 && part_fallocate_probe(f, buf, size, flags)) {
			mq_log_limited(MQ_WARN,
				       "write %s at offset %lld: refused: one NUL byte as the "
				       "first write of a file not opened O_APPEND is "
				       "posix_fallocate's block probe; nothing appended",
				       f->path, (long long)off);
			return -EOPNOTSUPP;
		}
		if (n == 0)
			n = part_write_once(f, buf, size, off, flags);
		if (n > 0)
			f->wnext = (int64_t)off + n; /* where the kernel's offset now is */
		return n;
	}
	if (f->kind == FILE_TEXT && f->node_kind == NODE_TOPIC_CONFIG)
		return config_write(f, buf, size);
	if (f->kind == FILE_TEXT && f->group)
		return fs_groups_write(f, buf, size);
	return -EBADF;
}

int fs_file_fallocate(struct fs_file *f, int mode, off_t off, off_t len)
{
	/* Space cannot be reserved in a log, and a hole or zeroed range would
	 * be a record of NUL bytes. The kernel remembers the answer for the
	 * mount, so this is logged once. */
	mq_log_limited(MQ_WARN,
		       "fallocate %s (mode %#x, offset %lld, length %lld): refused: "
		       "not supported, nothing appended",
		       f->path, (unsigned)mode, (long long)off, (long long)len);
	return -EOPNOTSUPP;
}

/* Produces the partial line as the last record of this file's writes. */
static int part_flush_line(struct fs_file *f)
{
	struct produce_input in = { 0 };
	size_t len;
	int rc, rc2;

	if (f->partial_len == 0)
		return produce_tracker_wait(&f->tracker);
	if (f->partial_failed) {
		/* The write that went on with the line failed and was not
		 * made again: the line's front alone is not what was written
		 * (a record cut short). It goes, and the error is said once
		 * more, as for a line refused over max.message.bytes. */
		rc = -f->partial_failed;
		mq_log_limited(MQ_WARN,
			       "close/fsync %s: its unfinished line (%zu bytes) is dropped, not a "
			       "record: the write that went on with it failed (%s)",
			       f->path, f->partial_len, strerror(-rc));
		f->partial_failed = 0;
		f->partial_len = 0;
		partial_shrink(f);
		rc2 = produce_tracker_wait(&f->tracker);
		return rc2 < 0 ? rc2 : rc;
	}
	in.lines = f->partial;
	in.len = f->partial_len;
	len = f->partial_len;
	rc = topic_produce_file(f->topic, f->partition, &in,
				PRODUCE_FINAL | produce_flags(f->oflags), &f->tracker);
	/* The line's own errno (ETIMEDOUT in a cluster: appended, not
	 * confirmed), told apart from that of earlier acks=0 writes. */
	if (rc < 0 && rc != -EAGAIN)
		mq_log_limited(MQ_WARN, "close/fsync %s: its unfinished line (%zu bytes): %s",
			       f->path, len, strerror(-rc));
	/* acks=0 writes queued earlier: done before close/fsync returns; an
	 * error of theirs is this call's error (never a silent success). */
	rc2 = produce_tracker_wait(&f->tracker);
	if (rc2 < 0)
		mq_log_limited(MQ_WARN, "close/fsync %s: an acks=0 write failed: %s", f->path,
			       strerror(-rc2));
	if (rc == 0)
		rc = rc2;
	if (rc == 0)
		part_note_appended(f);
	/* Kept only when safe to retry (-EAGAIN: nothing appended). */
	if (rc != -EAGAIN) {
		f->partial_len = 0;
		partial_shrink(f);
	}
	return rc < 0 ? rc : 0;
}

/* A writer may take the refusal of a line's later piece for a short write
 * and stop (or go on) without seeing an error: close and fsync say once
 * more that a line was not appended. */
static int part_flush(struct fs_file *f)
{
	bool refused = f->refused_long;
	int rc = part_flush_line(f);

	f->refused_long = false;
	return rc < 0 ? rc : refused ? -EMSGSIZE : 0;
}

static int config_flush(struct fs_file *f)
{
	int refused = f->cfg_refused;
	int rc = 0;

	if (refused) {
		if (f->partial_len)
			mq_log_limited(MQ_WARN,
				       "close %s: nothing of what was written to it applied: a "
				       "write was refused",
				       f->path);
		rc = refused; /* the first refusal's errno, once more */
	} else if (f->partial_len) {
		if (f->partial_len > f->cfg_lines_len)
			f->partial[f->partial_len++] = '\n'; /* room kept by config_write */
		rc = topic_config_write(f->topic, f->partial, f->partial_len);
		if (rc < 0)
			mq_log_limited(MQ_WARN, "close %s: %s, nothing changed", f->path,
				       strerror(-rc));
	}
	/* The next writes of a descriptor still open begin anew. */
	f->partial_len = 0;
	partial_shrink(f);
	f->cfg_lines_len = 0;
	f->cfg_refused = 0;
	free(f->cfg_digest);
	f->cfg_digest = NULL;
	f->cfg_digest_len = 0;
	f->cfg_nlines = 0;
	return rc < 0 ? rc : 0;
}

/* Whether process pid is exiting on a signal (kill -9, a fatal SIGTERM):
 * PF_EXITING and PF_SIGNALED in the flags of its /proc stat, the ninth
 * field, the sixth after the command name's ')'. An error is a no. */
static bool killed_by_signal(uint32_t pid)
{
	unsigned long flags = 0;
	char buf[512];
	const char *p = proc_stat_fields(pid, buf, sizeof(buf));

	if (!p || sscanf(p, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
		return false;
	return (flags & 0x4) && (flags & 0x400); /* PF_EXITING, PF_SIGNALED */
}

/* A writer killed by a signal never ended its unfinished line: it may
 * be the front of a line cut off anywhere, inside one write() the kernel
 * was sending in pieces (one over FS_MAX_WRITE, whose pieces sent before
 * the kill were taken) as well as between two writes of a copy. Made a
 * record by the close of its exit, it would be half a line for every
 * reader: it goes instead, logged. A writer that exits (or closes) ends
 * its line, as before. */
static bool part_killed_writer(struct fs_file *f, uint32_t pid)
{
	if (f->kind != FILE_PART || !killed_by_signal(pid))
		return false;
	mq_log_limited(MQ_WARN,
		       "close %s: its writer (pid %u) was killed by a signal: the "
		       "unfinished line it left (%zu bytes) is dropped, not a record",
		       f->path, pid, f->partial_len);
	f->partial_len = 0;
	partial_shrink(f);
	return true;
}

int fs_file_flush(struct fs_file *f, uint64_t owner, uint32_t pid)
{
	/* The kernel sends a flush for every close() of a descriptor of the
	 * open file, not only the last: a child's (bash's children inherit
	 * the descriptor and close it at exec or exit), and the shell's own
	 * close of the copy it made for a builtin's redirection (`printf abc
	 * >&3` dups 3 onto 1 and restores 1 after). An unfinished line (or
	 * .config text) is left for the writer's last close: not taken at
	 * the close of another process (the lock owner is the kernel's id of
	 * a descriptor table; writes carry it, being direct I/O), nor while
	 * the closing process still holds the file (then its later close,
	 * or the release of the open file, takes it). Every close with an
	 * owner is told to fdheld.c, which keeps what it read of a
	 * process's descriptors for its later closes. */
	bool held = fd_held_close(f->held, owner, pid, f->path,
				  owner && f->partial_len && owner == f->partial_owner);

	if (owner && f->partial_len && f->partial_owner && (owner != f->partial_owner || held))
		return 0;
	if (owner && f->partial_len && part_killed_writer(f, pid))
		return produce_tracker_wait(&f->tracker);
	if (f->kind == FILE_PART)
		return part_flush(f);
	if (f->kind == FILE_TEXT && f->node_kind == NODE_TOPIC_CONFIG)
		return config_flush(f);
	return 0;
}

int fs_file_fsync(struct fs_file *f)
{
	int rc = fs_file_flush(f, 0, 0);

	if (rc < 0 || f->kind != FILE_PART || (f->oflags & O_ACCMODE) == O_RDONLY)
		return rc;
	if (topic_deleted(f->topic))
		return deleted_refusal(f, "fsync");
	if (f->partition >= 0)
		return topic_fsync_upto(f->topic, f->partition, f->sync_upto);
	/* .produce: the partitioner may have used any partition. */
	for (int p = 0; p < topic_partitions(f->topic) && rc == 0; p++)
		rc = topic_fsync(f->topic, p);
	return rc;
}

void fs_file_release(struct mqfs *fs, struct fs_file *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&fs->files_lock);
	if (f->prev)
		f->prev->next = f->next;
	else
		fs->files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	pthread_mutex_unlock(&fs->files_lock);
	/* A partial line left because no flush came (or flush said EAGAIN).
	 * A failure is logged by the flush itself, saying what went: its
	 * errno alone does not tell, as it may repeat a refusal of an earlier
	 * write (EMSGSIZE, a .config's) with the line appended. A line the
	 * flush kept (EAGAIN: fewer in-sync replicas than min.insync.replicas
	 * in a cluster) goes with the file. */
	if (f->partial_len > 0 && !topic_deleted(f->topic)) {
		/* Last chance: wait for buffer.memory rather than lose it. */
		f->oflags &= ~O_NONBLOCK;
		(void)fs_file_flush(f, 0, 0);
		if (f->partial_len > 0)
			mq_log_limited(MQ_WARN,
				       "release %s: its unfinished line of %zu bytes was lost: "
				       "its append was refused (EAGAIN)",
				       f->path, f->partial_len);
	}
	if (f->node) {
		inode_closed(fs->inodes, f->node, (f->oflags & O_ACCMODE) != O_RDONLY);
		inode_put(fs->inodes, f->node);
	}
	file_free(f);
}

void fs_file_paths(void *ctx, void (*add)(void *set, const char *path), void *set)
{
	struct mqfs *fs = ctx;

	pthread_mutex_lock(&fs->files_lock);
	for (struct fs_file *f = fs->files; f; f = f->next)
		add(set, f->path); /* set at open, never changed */
	pthread_mutex_unlock(&fs->files_lock);
}

void fs_file_release_all(struct mqfs *fs)
{
	int n = 0;

	while (fs->files) {
		fs_file_release(fs, fs->files);
		n++;
	}
	if (n > 0)
		mq_log(MQ_INFO, "released %d file%s still open at unmount", n, n == 1 ? "" : "s");
}
