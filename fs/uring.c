/*
 * FUSE over io_uring: the kernel hands each request to a thread on the CPU
 * that made it, and takes the reply back through the same ring entry.
 *
 * Why. On /dev/fuse a request made on one CPU wakes whichever daemon thread
 * sleeps in read(), most often on the other CPU, and the reply wakes the
 * caller back across CPUs: two cross-CPU wake-ups per write(), the largest
 * cost of a small write on a virtual machine. The kernel's io_uring
 * transport (Linux 6.14+, module parameter fuse.enable_uring=Y) keeps one
 * queue per possible CPU; a request is queued on its caller's CPU, and the
 * daemon's threads of that queue are pinned to it, so the caller, sleeping
 * in its system call, hands the CPU to the thread that answers it.
 *
 * The protocol (include/uapi/linux/fuse.h, 7.42). Each ring entry is two
 * buffers registered with the kernel by an IORING_OP_URING_CMD on the
 * /dev/fuse descriptor (SQE128; the 80-byte command area holds struct
 * uring_cmd_req below, cmd_op is REGISTER):
 *
 *   headers  in_out[128]   fuse_in_header (request) / fuse_out_header (reply)
 *            op_in[128]    the request's first argument (its per-op struct)
 *            ent_in_out    flags, commit_id (the request's unique),
 *                          payload_sz (bytes used in the payload buffer)
 *   payload  the rest of the request's arguments (write data, names), or
 *            the reply's arguments; at least max_write bytes
 *
 * The command completes (CQE res 0) when a request is in the buffers. The
 * reply is written into the same buffers and sent with COMMIT_AND_FETCH
 * (commit_id = unique), which also arms the entry for the next request.
 * The kernel uses the ring once every queue has an armed entry; until then,
 * and always for FORGET, INTERRUPT and notifications (unique 0), /dev/fuse
 * stays in use, served by libfuse's own loop.
 *
 * How it joins libfuse 3.14, which does not speak the protocol: requests are
 * rebuilt in the layout read(/dev/fuse) gives (in header, per-op struct,
 * rest) in front of the payload buffer, which has headroom for it, and run
 * through fuse_session_process_buf(); replies come back through the
 * session's custom writev (fuse_session_custom_io()), which finds the entry
 * by unique and copies the reply into it. A reply that is not for a ring
 * entry (a /dev/fuse request, a notification) goes to /dev/fuse.
 *
 * Threads. URING_THREADS per queue, each with its own io_uring and its own
 * entries, pinned to the queue's CPU when it is online (but while an fsync
 * waits: "Pinning" below). A handler may block
 * (fsync's group commit, acks=all), so a queue has several threads; the
 * kernel hands a request to the most recently armed entry. The reply to
 * the request a thread is running is committed by that thread when the
 * handler returns. Any other (a parked consume read or lock request,
 * answered later by another request's handler or by another thread) is
 * queued on the entry's thread, and its eventfd, which the ring always
 * has a poll pending on, wakes it when the reply was made elsewhere. A
 * handler that returns without a reply leaves its entry parked, and the
 * thread registers one more entry so that it keeps taking requests
 * (at most URING_ENTRIES_MAX per thread).
 *
 * The io_uring calls are the system calls themselves (io_uring_setup,
 * io_uring_enter, the rings' three mappings): a ring here needs a
 * submission, a wait and a poll, not one more package (liburing).
 *
 * Invariants: only a ring's own thread touches it (submission and
 * completion rings), so a reply made on another thread is handed over; an entry is in the kernel (armed), or in user space
 * with ent->unique set until its reply is copied in; ent->state moves
 * BUSY -> REPLIED (own thread) or BUSY -> HANDED (other thread) -> armed.
 */
#include "fs/uring.h"
#include "fs/uring_int.h"
#include "util/diskwait.h"

#include <errno.h>
#include <stddef.h>
#include <linux/fuse.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/diaglog.h"
#include "util/pause.h"

#define URING_THREADS          4     /* per queue (per possible CPU) */
#define URING_ENTRIES_MAX      256   /* per thread: armed and parked */
#define URING_SQ_ENTRIES       64    /* submissions per io_uring_enter, at most */
#define URING_HEADROOM         4096  /* in front of a payload: the rebuilt header */
#define URING_REGISTER_WAIT_MS 10000 /* for the kernel to finish FUSE_INIT */

#define URING_CMD_REGISTER         1
#define URING_CMD_COMMIT_AND_FETCH 2
#define UD_WAKE                    1 /* user_data of the eventfd poll; entries are pointers */


enum ent_state { ENT_ARMED, ENT_BUSY, ENT_REPLIED, ENT_HANDED };

struct uring_ent {
	struct uring_thread *t;
	struct uring_req_header hdr;
	char *payload; /* URING_HEADROOM bytes of headroom in front */
	size_t map_len;
	struct iovec iov[2];
	_Atomic uint64_t unique; /* while in user space; 0 when armed */
	_Atomic int state;
	struct uring_ent *next_commit; /* on t->commits, under t->mu */
};

struct uring_thread {
	struct fs_uring *u;
	unsigned qid;
	pthread_t tid;
	bool started;
	bool registered;           /* ents[0] sent to the kernel */
	_Atomic uint64_t requests; /* served, for fs_uring_requests() */
	_Atomic uint64_t unpins;   /* fs_uring_blocking's, for fs_uring_unpins() */
	int efd;
	uint64_t efd_val;
	/* the io_uring */
	int ring_fd;
	void *sq_map, *cq_map, *sqe_map;
	size_t sq_map_len, cq_map_len, sqe_map_len;
	_Atomic unsigned *sq_head, *sq_tail, *cq_head, *cq_tail;
	unsigned sq_mask, cq_mask, sq_entries, *sq_array, to_submit;
	struct io_uring_cqe *cqes;
	/* entries */
	struct uring_ent *ents[URING_ENTRIES_MAX];
	unsigned nents;
	struct uring_ent *cur; /* whose request the thread is running */
	bool pinned;           /* to its queue's CPU */
	bool unpinned;         /* by fs_uring_blocking, until its reply is out */
	pthread_mutex_t mu;    /* commits */
	struct uring_ent *commits;
};

struct fs_uring {
	struct fuse_session *se;
	int fuse_fd;
	size_t payload_len;
	unsigned nqueues;
	unsigned nthreads;
	struct uring_thread *threads;
	atomic_bool stopping;
	atomic_bool off_logged;
	atomic_bool served;           /* a request came through the ring */
	_Atomic uint64_t init_unique; /* FUSE_INIT's, read from /dev/fuse */
	atomic_bool init_done;        /* its reply written: the kernel is ready */
	cpu_set_t any_cpu;            /* the process's CPUs: a thread unpinned */
	bool any_cpu_ok;
};

/* The ring thread this thread is, if any: a reply made on it is committed
 * by it without a wake-up. */
static _Thread_local struct uring_thread *cur_thread;

/* Pinning. A ring thread is pinned to its queue's CPU, which keeps the
 * wake-up of a request on the CPU that made it. A handler that waits for
 * the disk (fsync) is woken by the disk's completion, whose interrupt
 * comes on whatever CPU the host's device is bound to: pinned elsewhere,
 * each of the two or three wake-ups inside an fdatasync (the data, the
 * cache flush) crosses CPUs to a CPU gone idle, which on a virtual
 * machine costs tens of microseconds apiece (one writer's write()+fsync()
 * per record: 200-240 us pinned against 140-170 unpinned, on a disk
 * whose fdatasync takes about 125). So a thread about to sleep in an
 * fdatasync unpins itself (fs_uring_blocking, the engine's diskwait hook:
 * log_sync calls it) and pins itself again after its reply went to the
 * kernel: the migration back is then off the caller's path. */
void fs_uring_blocking(void)
{
	struct uring_thread *t = cur_thread;

	if (!t || !t->pinned || t->unpinned || !t->u->any_cpu_ok)
		return;
	if (sched_setaffinity(0, sizeof(t->u->any_cpu), &t->u->any_cpu) == 0) {
		t->unpinned = true;
		atomic_fetch_add_explicit(&t->unpins, 1, memory_order_relaxed);
	}
}

/* By the thread itself (it alone reads t->pinned and t->unpinned). */
static void thread_pin(struct uring_thread *t)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(t->qid, &set);
	/* An offline CPU refuses: the thread then runs anywhere. */
	t->pinned = sched_setaffinity(0, sizeof(set), &set) == 0;
}

/* The open rings by /dev/fuse descriptor. libfuse's custom I/O calls carry
 * only the descriptor and the session's userdata (the file system's own),
 * so this small table is how a reply finds its ring. In practice a process
 * has one session. */
#define URING_SESSIONS 4
static _Atomic(struct fs_uring *) uring_sessions[URING_SESSIONS];

static struct fs_uring *uring_of_fd(int fd)
{
	for (int i = 0; i < URING_SESSIONS; i++) {
		struct fs_uring *u = atomic_load(&uring_sessions[i]);

		if (u && u->fuse_fd == fd)
			return u;
	}
	return NULL;
}

static int sys_io_uring_setup(unsigned entries, struct io_uring_params *p)
{
	return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_io_uring_enter(int fd, unsigned submit, unsigned min_complete, unsigned flags)
{
	return (int)syscall(__NR_io_uring_enter, fd, submit, min_complete, flags, NULL, 0);
}

static void ring_unmap(struct uring_thread *t)
{
	if (t->sqe_map)
		munmap(t->sqe_map, t->sqe_map_len);
	if (t->cq_map && t->cq_map != t->sq_map)
		munmap(t->cq_map, t->cq_map_len);
	if (t->sq_map)
		munmap(t->sq_map, t->sq_map_len);
	if (t->ring_fd >= 0)
		close(t->ring_fd);
	t->sqe_map = t->cq_map = t->sq_map = NULL;
	t->ring_fd = -1;
}

/* An io_uring with 128-byte SQEs, its rings mapped. -errno. */
static int ring_open(struct uring_thread *t)
{
	struct io_uring_params p;
	char *sq, *cq;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SQE128;
	t->ring_fd = sys_io_uring_setup(URING_SQ_ENTRIES, &p);
	if (t->ring_fd < 0)
		return -errno;
	t->sq_map_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	t->cq_map_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		if (t->cq_map_len > t->sq_map_len)
			t->sq_map_len = t->cq_map_len;
		t->cq_map_len = t->sq_map_len;
	}
	t->sq_map = mmap(NULL, t->sq_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			 t->ring_fd, IORING_OFF_SQ_RING);
	if (t->sq_map == MAP_FAILED) {
		t->sq_map = NULL;
		goto fail;
	}
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		t->cq_map = t->sq_map;
	} else {
		t->cq_map = mmap(NULL, t->cq_map_len, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_POPULATE, t->ring_fd, IORING_OFF_CQ_RING);
		if (t->cq_map == MAP_FAILED) {
			t->cq_map = NULL;
			goto fail;
		}
	}
	t->sqe_map_len = (size_t)p.sq_entries * 2 * sizeof(struct io_uring_sqe);
	t->sqe_map = mmap(NULL, t->sqe_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			  t->ring_fd, IORING_OFF_SQES);
	if (t->sqe_map == MAP_FAILED) {
		t->sqe_map = NULL;
		goto fail;
	}
	sq = t->sq_map;
	cq = t->cq_map;
	t->sq_head = (_Atomic unsigned *)(void *)(sq + p.sq_off.head);
	t->sq_tail = (_Atomic unsigned *)(void *)(sq + p.sq_off.tail);
	t->sq_mask = *(unsigned *)(void *)(sq + p.sq_off.ring_mask);
	t->sq_entries = p.sq_entries;
	t->sq_array = (unsigned *)(void *)(sq + p.sq_off.array);
	t->cq_head = (_Atomic unsigned *)(void *)(cq + p.cq_off.head);
	t->cq_tail = (_Atomic unsigned *)(void *)(cq + p.cq_off.tail);
	t->cq_mask = *(unsigned *)(void *)(cq + p.cq_off.ring_mask);
	t->cqes = (struct io_uring_cqe *)(void *)(cq + p.cq_off.cqes);
	return 0;
fail : {
	int rc = -errno;
	ring_unmap(t);
	return rc;
}
}

/* Submits what is queued and, when wait, waits for one completion. */
static int ring_enter(struct uring_thread *t, bool wait)
{
	for (;;) {
		int n = sys_io_uring_enter(t->ring_fd, t->to_submit, wait ? 1 : 0,
					   wait ? IORING_ENTER_GETEVENTS : 0);
		if (n >= 0) {
			t->to_submit -= (unsigned)n < t->to_submit ? (unsigned)n : t->to_submit;
			return 0;
		}
		if (errno != EINTR)
			return -errno;
	}
}

/* A zeroed SQE at the tail, submitted by the next ring_enter(). */
static struct io_uring_sqe *ring_sqe(struct uring_thread *t)
{
	unsigned tail = atomic_load_explicit(t->sq_tail, memory_order_relaxed);
	struct io_uring_sqe *sqe;

	if (tail - atomic_load_explicit(t->sq_head, memory_order_acquire) >= t->sq_entries) {
		if (ring_enter(t, false) < 0)
			return NULL;
		if (tail - atomic_load_explicit(t->sq_head, memory_order_acquire) >= t->sq_entries)
			return NULL;
	}
	sqe = (struct io_uring_sqe *)(void *)((char *)t->sqe_map +
					      (size_t)(tail & t->sq_mask) * 2 * sizeof(*sqe));
	memset(sqe, 0, 2 * sizeof(*sqe));
	t->sq_array[tail & t->sq_mask] = tail & t->sq_mask;
	atomic_store_explicit(t->sq_tail, tail + 1, memory_order_release);
	t->to_submit++;
	return sqe;
}

/* A poll on the eventfd, not a read: a read of an eventfd would wait in an
 * io-wq worker thread of its own. */
static int ring_arm_wake(struct uring_thread *t)
{
	struct io_uring_sqe *sqe = ring_sqe(t);

	if (!sqe)
		return -EBUSY;
	sqe->opcode = IORING_OP_POLL_ADD;
	sqe->fd = t->efd;
	sqe->poll32_events = POLLIN;
	sqe->user_data = UD_WAKE;
	return 0;
}

static int ring_cmd(struct uring_thread *t, struct uring_ent *ent, uint32_t op, uint64_t commit_id)
{
	struct io_uring_sqe *sqe = ring_sqe(t);
	struct uring_cmd_req req = { .commit_id = commit_id, .qid = (uint16_t)t->qid };

	if (!sqe)
		return -EBUSY;
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = t->u->fuse_fd;
	sqe->cmd_op = op;
	sqe->addr = (uint64_t)(uintptr_t)ent->iov;
	sqe->len = 2;
	sqe->user_data = (uint64_t)(uintptr_t)ent;
	memcpy((char *)sqe + offsetof(struct io_uring_sqe, cmd), &req, sizeof(req));
	atomic_store(&ent->unique, 0);
	atomic_store(&ent->state, ENT_ARMED);
	return 0;
}

static void ent_free(struct uring_ent *ent)
{
	if (!ent)
		return;
	if (ent->payload)
		munmap(ent->payload - URING_HEADROOM, ent->map_len);
	free(ent);
}

/* A new entry of t, not yet registered. NULL when out of memory or when t
 * has URING_ENTRIES_MAX already. */
static struct uring_ent *ent_new(struct uring_thread *t)
{
	struct uring_ent *ent;
	char *map;

	if (t->nents >= URING_ENTRIES_MAX)
		return NULL;
	ent = calloc(1, sizeof(*ent));
	if (!ent)
		return NULL;
	ent->map_len = URING_HEADROOM + t->u->payload_len;
	map = mmap(NULL, ent->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		free(ent);
		return NULL;
	}
	ent->t = t;
	ent->payload = map + URING_HEADROOM;
	ent->iov[0].iov_base = &ent->hdr;
	ent->iov[0].iov_len = sizeof(ent->hdr);
	ent->iov[1].iov_base = ent->payload;
	ent->iov[1].iov_len = t->u->payload_len;
	t->ents[t->nents] = ent; /* published before the count: ent_find() */
	__atomic_store_n(&t->nents, t->nents + 1, __ATOMIC_RELEASE);
	return ent;
}

/* Wakes t's loop through its eventfd: hand-overs, registration, stop. */
static void thread_wake(struct uring_thread *t)
{
	uint64_t one = 1;

	if (write(t->efd, &one, sizeof(one)) < 0)
		mq_log(MQ_ERR, "fuse: ring wake-up: %s", strerror(errno));
}

/* FUSE_INIT's reply is written: the kernel, which refuses a registration
 * before it (EAGAIN, after trying again in a worker thread of its own),
 * now knows max_write. Wakes the threads to register. */
static void uring_init_done(struct fs_uring *u)
{
	atomic_store(&u->init_done, true);
	for (unsigned k = 0; k < u->nthreads; k++)
		thread_wake(&u->threads[k]);
}

/* The entry of the ring request whose unique this is; NULL for a request
 * that came through /dev/fuse. Entries are only added, by their threads,
 * and live until fs_uring_close(). */
static struct uring_ent *ent_find(struct fs_uring *u, uint64_t unique)
{
	struct uring_thread *cur = cur_thread;

	/* Most replies are the handler's, on the request's own thread. */
	if (cur && cur->cur && atomic_load(&cur->cur->unique) == unique)
		return cur->cur;
	for (unsigned k = 0; k < u->nthreads; k++) {
		struct uring_thread *t = &u->threads[k];
		unsigned n = __atomic_load_n(&t->nents, __ATOMIC_ACQUIRE);

		for (unsigned i = 0; i < n; i++)
			if (atomic_load(&t->ents[i]->unique) == unique)
				return t->ents[i];
	}
	return NULL;
}

ssize_t uring_reply_fill(struct uring_req_header *hdr, char *payload, size_t cap,
			 const struct iovec *iov, int count)
{
	const struct fuse_out_header *oh = iov[0].iov_base;
	size_t len = 0;

	for (int i = 1; i < count; i++) {
		if (iov[i].iov_len > cap - len) {
			uring_reply_error(hdr, oh->unique, EIO);
			return -EMSGSIZE;
		}
		if (iov[i].iov_base != payload + len) /* not written in place */
			memcpy(payload + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	memcpy(hdr->in_out, oh, sizeof(*oh));
	hdr->ent_in_out.payload_sz = (uint32_t)len;
	return (ssize_t)len;
}

/* libfuse's writev, for every reply and notification of the session. */
static ssize_t uring_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct fs_uring *u = uring_of_fd(fd);
	struct fuse_out_header *oh = iov[0].iov_base;
	struct uring_ent *ent;
	ssize_t len;

	(void)userdata;
	if (!u || oh->unique == 0 || iov[0].iov_len != sizeof(*oh))
		return writev(fd, iov, count);
	ent = ent_find(u, oh->unique);
	if (!ent) {
		ssize_t n = writev(fd, iov, count);

		if (n >= 0 && oh->unique == atomic_load(&u->init_unique))
			uring_init_done(u);
		return n;
	}
	len = uring_reply_fill(&ent->hdr, ent->payload, u->payload_len, iov, count);
	if (len < 0) /* the kernel gets EIO: the request must not stay open */
		mq_log(MQ_ERR, "fuse: a reply of more than %zu bytes to request %llu: EIO",
		       u->payload_len, (unsigned long long)oh->unique);
	if (cur_thread && cur_thread->cur == ent) {
		/* The usual case: committed when the handler returns. */
		atomic_store(&ent->state, ENT_REPLIED);
	} else {
		/* A parked request, answered by another request's handler
		 * (on this ring thread or another) or by another thread. */
		struct uring_thread *t = ent->t;

		atomic_store(&ent->state, ENT_HANDED);
		pthread_mutex_lock(&t->mu);
		ent->next_commit = t->commits;
		t->commits = ent;
		pthread_mutex_unlock(&t->mu);
		if (t != cur_thread)
			thread_wake(t);
	}
	if (len < 0) {
		errno = EINVAL;
		return -1;
	}
	return (ssize_t)sizeof(*oh) + len;
}

static ssize_t uring_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);
	struct fs_uring *u;
	struct fuse_in_header in;

	(void)userdata;
	if (n < (ssize_t)sizeof(in))
		return n;
	memcpy(&in, buf, sizeof(in));
	if (in.opcode == FUSE_INIT && (u = uring_of_fd(fd)) != NULL)
		atomic_store(&u->init_unique, in.unique);
	return n;
}

size_t uring_request_layout(const struct uring_req_header *hdr, size_t payload_cap, size_t *op_len)
{
	struct fuse_in_header in;
	size_t payload_sz = hdr->ent_in_out.payload_sz;

	memcpy(&in, hdr->in_out, sizeof(in));
	if (payload_sz > payload_cap || in.len < sizeof(in) + payload_sz ||
	    in.len - sizeof(in) - payload_sz > sizeof(hdr->op_in))
		return 0;
	*op_len = in.len - sizeof(in) - payload_sz;
	return in.len;
}

void uring_reply_error(struct uring_req_header *hdr, uint64_t unique, int err)
{
	struct fuse_out_header oh = { .len = sizeof(oh), .error = -err, .unique = unique };

	memcpy(hdr->in_out, &oh, sizeof(oh));
	hdr->ent_in_out.payload_sz = 0;
}

/* Runs the request in ent through libfuse, in the layout a read of
 * /dev/fuse gives, rebuilt in the payload's headroom. */
static void ent_process(struct uring_thread *t, struct uring_ent *ent)
{
	struct fuse_in_header in;
	size_t len, op_len;
	struct fuse_buf fbuf;
	char *start;

	memcpy(&in, ent->hdr.in_out, sizeof(in));
	len = uring_request_layout(&ent->hdr, t->u->payload_len, &op_len);
	if (!len) {
		mq_log(MQ_ERR, "fuse: ring request %llu of opcode %u with lengths %u/%u: EIO",
		       (unsigned long long)in.unique, in.opcode, in.len,
		       ent->hdr.ent_in_out.payload_sz);
		uring_reply_error(&ent->hdr, in.unique, EIO);
		atomic_store(&ent->state, ENT_REPLIED);
		return;
	}
	atomic_fetch_add_explicit(&t->requests, 1, memory_order_relaxed);
	start = ent->payload - sizeof(in) - op_len;
	memcpy(start, &in, sizeof(in));
	memcpy(start + sizeof(in), ent->hdr.op_in, op_len);
	atomic_store(&ent->state, ENT_BUSY);
	atomic_store(&ent->unique, in.unique);
	memset(&fbuf, 0, sizeof(fbuf));
	fbuf.mem = start;
	fbuf.size = len;
	fuse_session_process_buf(t->u->se, &fbuf);
}

static void log_off(struct fs_uring *u, int rc)
{
	if (u && atomic_exchange(&u->off_logged, true))
		return;
	if (rc == -EOPNOTSUPP && u && atomic_load(&u->served))
		/* The kernel checks the knob on every ring command: turned
		 * off under a mount that uses the ring, the request whose
		 * answer it refused can be neither answered nor moved to
		 * /dev/fuse (its caller waits until this daemon stops). */
		mq_log(MQ_ERR,
		       "fuse: the kernel refuses io_uring commands: "
		       "/sys/module/fuse/parameters/enable_uring was set to N while this mount "
		       "uses the ring; the requests refused get no answer (their callers wait "
		       "until mqfs stops), the next are answered once it is Y again");
	else if (rc == -EOPNOTSUPP)
		mq_log(MQ_INFO,
		       "fuse: requests through /dev/fuse: the kernel's io_uring transport is "
		       "off (/sys/module/fuse/parameters/enable_uring is N)");
	else
		mq_log(MQ_WARN, "fuse: requests through /dev/fuse: io_uring: %s", strerror(-rc));
}

/* Commits the replies other threads handed over. */
static void commits_submit(struct uring_thread *t)
{
	struct uring_ent *list;

	pthread_mutex_lock(&t->mu);
	list = t->commits;
	t->commits = NULL;
	pthread_mutex_unlock(&t->mu);
	while (list) {
		struct uring_ent *next = list->next_commit;

		ring_cmd(t, list, URING_CMD_COMMIT_AND_FETCH, list->hdr.ent_in_out.commit_id);
		list = next;
	}
}

/* One completion. Returns false when the thread is done. */
static bool cqe_handle(struct uring_thread *t, const struct io_uring_cqe *cqe, int *register_waited)
{
	struct fs_uring *u = t->u;
	struct uring_ent *ent;

	if (cqe->user_data == UD_WAKE) {
		if (read(t->efd, &t->efd_val, sizeof(t->efd_val)) < 0 && errno != EAGAIN)
			mq_log(MQ_ERR, "fuse: ring wake-up: %s", strerror(errno));
		commits_submit(t);
		if (atomic_load(&u->stopping)) {
			/* The replies made before the stop (fs_groups_shutdown's
			 * and fs_locks_shutdown's EINTR) go to the kernel before
			 * the ring closes: left queued, their callers would get
			 * the kernel's ECONNABORTED instead of the answer. Taken
			 * again: one handed over after the take above happened
			 * before the stop was seen. */
			int rc;

			commits_submit(t);
			rc = ring_enter(t, false);
			if (rc < 0)
				mq_log(MQ_ERR, "fuse: io_uring_enter for the replies at stop: %s",
				       strerror(-rc));
			return false;
		}
		if (!t->registered && atomic_load(&u->init_done)) {
			t->registered = true;
			if (ring_cmd(t, t->ents[0], URING_CMD_REGISTER, 0) < 0)
				return false;
		}
		return ring_arm_wake(t) == 0;
	}
	ent = (struct uring_ent *)(uintptr_t)cqe->user_data;
	if (cqe->res == -EAGAIN && *register_waited < URING_REGISTER_WAIT_MS) {
		/* FUSE_INIT not answered yet: the kernel needs max_write. */
		pause_ms(1);
		(*register_waited)++;
		return ring_cmd(t, ent, URING_CMD_REGISTER, 0) == 0;
	}
	if (cqe->res < 0) {
		/* EOPNOTSUPP: transport off; ENOTCONN, ECANCELED: unmounted. */
		if (cqe->res != -ENOTCONN && cqe->res != -ECANCELED)
			log_off(u, cqe->res);
		return true; /* the eventfd still ends the thread */
	}
	if (!atomic_load_explicit(&u->served, memory_order_relaxed))
		atomic_store(&u->served, true);
	t->cur = ent;
	ent_process(t, ent);
	t->cur = NULL;
	commits_submit(t); /* parked requests this one's handler answered */
	switch (atomic_load(&ent->state)) {
	case ENT_REPLIED:
		return ring_cmd(t, ent, URING_CMD_COMMIT_AND_FETCH,
				ent->hdr.ent_in_out.commit_id) == 0;
	case ENT_ARMED: /* answered by another thread, committed just above */ return true;
	default: break;
	}
	/* Parked (or its hand-over not queued yet): keep one entry armed. */
	ent = ent_new(t);
	if (ent)
		return ring_cmd(t, ent, URING_CMD_REGISTER, 0) == 0;
	return true;
}

static void *uring_thread_main(void *arg)
{
	struct uring_thread *t = arg;
	int register_waited = 0;
	bool run = true;
	char name[16];

	cur_thread = t;
	thread_pin(t);
	snprintf(name, sizeof(name), "mqfs-ring%u", t->qid);
	pthread_setname_np(pthread_self(), name);
	if (ring_arm_wake(t) < 0)
		run = false;
	while (run) {
		unsigned head, tail;

		int rc = ring_enter(t, true);

		if (rc < 0) {
			mq_log(MQ_ERR, "fuse: io_uring_enter: %s", strerror(-rc));
			break;
		}
		head = atomic_load_explicit(t->cq_head, memory_order_relaxed);
		tail = atomic_load_explicit(t->cq_tail, memory_order_acquire);
		for (; head != tail && run; head++) {
			struct io_uring_cqe cqe = t->cqes[head & t->cq_mask];

			atomic_store_explicit(t->cq_head, head + 1, memory_order_release);
			run = cqe_handle(t, &cqe, &register_waited);
		}
		if (t->unpinned && run) {
			/* The reply first (submitted from this CPU), then back;
			 * a failed submission is the next ring_enter's to report. */
			(void)ring_enter(t, false);
			thread_pin(t);
			t->unpinned = false;
		}
	}
	cur_thread = NULL;
	return NULL;
}

unsigned uring_cpus_parse(const char *text)
{
	unsigned max = 0;

	while (*text) {
		char *end;
		unsigned long a = strtoul(text, &end, 10), b = a;

		if (end == text)
			break;
		if (*end == '-') {
			text = end + 1;
			b = strtoul(text, &end, 10);
			if (end == text)
				break;
		}
		if (b + 1 > max && b < 65536)
			max = (unsigned)b + 1;
		if (*end != ',')
			break;
		text = end + 1;
	}
	return max;
}

/* The number of possible CPUs, as the kernel counts its queues. */
static unsigned possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	char line[256];
	unsigned n = 0;

	if (f) {
		if (fgets(line, sizeof(line), f))
			n = uring_cpus_parse(line);
		fclose(f);
	}
	return n ? n : (unsigned)sysconf(_SC_NPROCESSORS_CONF);
}

static int thread_open(struct fs_uring *u, struct uring_thread *t, unsigned qid)
{
	t->u = u;
	t->qid = qid;
	t->ring_fd = -1;
	pthread_mutex_init(&t->mu, NULL);
	t->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->efd < 0)
		return -errno;
	if (!ent_new(t))
		return -ENOMEM;
	return ring_open(t);
}

static void thread_close(struct uring_thread *t)
{
	ring_unmap(t);
	for (unsigned i = 0; i < t->nents; i++)
		ent_free(t->ents[i]);
	if (t->efd >= 0)
		close(t->efd);
	pthread_mutex_destroy(&t->mu);
}

/* What /sys/module/fuse/parameters/enable_uring says: 1 on, 0 off,
 * -ENOENT for a kernel without the transport. */
static int uring_enabled(void)
{
	FILE *f = fopen("/sys/module/fuse/parameters/enable_uring", "r");
	int c;

	if (!f)
		return -ENOENT;
	c = fgetc(f);
	fclose(f);
	return c == 'Y' || c == 'y' || c == '1';
}

static void uring_free(struct fs_uring *u)
{
	for (unsigned k = 0; k < u->nthreads; k++)
		thread_close(&u->threads[k]);
	free(u->threads);
	free(u);
}

static bool uring_register(struct fs_uring *u)
{
	for (int i = 0; i < URING_SESSIONS; i++) {
		struct fs_uring *none = NULL;

		if (atomic_compare_exchange_strong(&uring_sessions[i], &none, u))
			return true;
	}
	return false;
}

static void uring_unregister(struct fs_uring *u)
{
	for (int i = 0; i < URING_SESSIONS; i++) {
		struct fs_uring *mine = u;

		atomic_compare_exchange_strong(&uring_sessions[i], &mine, NULL);
	}
}

struct fs_uring *fs_uring_open(struct fuse_session *se, size_t max_write)
{
	static const struct fuse_custom_io io = { .writev = uring_writev, .read = uring_read };
	long page = sysconf(_SC_PAGESIZE);
	int on = uring_enabled();
	struct fs_uring *u;
	int rc;

	if (on == -ENOENT) {
		mq_log(MQ_INFO, "fuse: requests through /dev/fuse: this kernel has no io_uring "
				"transport (Linux 6.14+, CONFIG_FUSE_IO_URING)");
		return NULL;
	}
	if (!on) {
		log_off(NULL, -EOPNOTSUPP);
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		goto nomem;
	u->se = se;
	u->fuse_fd = fuse_session_fd(se);
	/* The kernel wants max(8 KiB, max_write, max_pages pages). */
	u->payload_len = (max_write + (size_t)page - 1) / (size_t)page * (size_t)page;
	if (u->payload_len < 8192)
		u->payload_len = 8192;
	u->nqueues = possible_cpus();
	u->nthreads = u->nqueues * URING_THREADS;
	u->threads = calloc(u->nthreads, sizeof(*u->threads));
	if (!u->threads) {
		free(u);
		goto nomem;
	}
	for (unsigned k = 0; k < u->nthreads; k++)
		u->threads[k].efd = -1;
	for (unsigned k = 0; k < u->nthreads; k++) {
		rc = thread_open(u, &u->threads[k], k / URING_THREADS);
		if (rc < 0) {
			log_off(u, rc);
			uring_free(u);
			return NULL;
		}
	}
	if (!uring_register(u)) {
		log_off(u, -EMFILE);
		uring_free(u);
		return NULL;
	}
	rc = fuse_session_custom_io(se, &io, u->fuse_fd);
	if (rc < 0) {
		log_off(u, rc);
		uring_unregister(u);
		uring_free(u);
		return NULL;
	}
	u->any_cpu_ok = sched_getaffinity(0, sizeof(u->any_cpu), &u->any_cpu) == 0;
	diskwait_set_hook(fs_uring_blocking);
	for (unsigned k = 0; k < u->nthreads; k++) {
		struct uring_thread *t = &u->threads[k];

		rc = pthread_create(&t->tid, NULL, uring_thread_main, t);
		if (rc != 0) {
			/* The kernel waits for every queue: /dev/fuse serves. */
			log_off(u, -rc);
			break;
		}
		t->started = true;
	}
	mq_log(MQ_INFO,
	       "fuse: io_uring transport: %u queues (one per possible CPU), %u threads each",
	       u->nqueues, URING_THREADS);
	return u;
nomem:
	log_off(NULL, -ENOMEM);
	return NULL;
}

uint64_t fs_uring_requests(const struct fs_uring *u, unsigned *queues)
{
	uint64_t n = 0;

	*queues = u ? u->nqueues : 0;
	for (unsigned k = 0; u && k < u->nthreads; k++)
		n += atomic_load_explicit(&u->threads[k].requests, memory_order_relaxed);
	return n;
}

uint64_t fs_uring_unpins(const struct fs_uring *u)
{
	uint64_t n = 0;

	for (unsigned k = 0; u && k < u->nthreads; k++)
		n += atomic_load_explicit(&u->threads[k].unpins, memory_order_relaxed);
	return n;
}

void fs_uring_close(struct fs_uring *u)
{
	if (!u)
		return;
	atomic_store(&u->stopping, true);
	for (unsigned k = 0; k < u->nthreads; k++)
		if (u->threads[k].started)
			thread_wake(&u->threads[k]);
	for (unsigned k = 0; k < u->nthreads; k++)
		if (u->threads[k].started) {
			pthread_join(u->threads[k].tid, NULL);
			u->threads[k].started = false;
		}
	/* libfuse's writev stays ours until fuse_session_destroy(): with the
	 * ring out of the table it writes to /dev/fuse. A reply racing with
	 * this is one the kernel has cancelled already. */
	uring_unregister(u);
	uring_free(u);
}
