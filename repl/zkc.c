/*
 * zkc.c — synchronous ZooKeeper calls over libzookeeper-mt, errors as
 * -errno, watches and session changes as callbacks. The contract (threads,
 * watches, errors) is in zkc.h.
 *
 * How a watch is kept: each armed watch is a small context (owner's
 * function and argument, the kind of call and the path) handed to the
 * library with the call. The library calls watch_fired() once with the
 * node event, and then the context is freed; it may also call it with
 * session events (the library copies them to every watcher), which are
 * ignored here because the session callback already tells the owner. A
 * watch the library did not register (the call failed) is freed at once;
 * one that never fires is freed by zkc_close after the library's threads
 * are gone. All contexts sit on one list under zkc->lock so that close
 * finds them.
 *
 * One watch per (kind, path, function, argument). An owner reads a znode
 * again whenever anything of its own changed, not only when that znode's
 * watch fired (the broker reads /config/users on every notification in
 * /config/changes); a new context each time would pile up, in this list
 * and in the library's watcher table, until the znode changed, which for
 * some never happens: a broker up for months kept thousands. So a call
 * whose watch is armed already (registered: the library answered, and it
 * has not fired) reads without one. No change is missed: the context is
 * unlisted before the owner's function runs, so a read that found it
 * armed came before the function, whose event makes the owner read (and
 * arm) again.
 *
 * The session state is mirrored under zkc->lock so that zkc_open can wait
 * for the first connection with a deadline (the library offers no wait).
 */
#define THREADED 1 /* the synchronous API of libzookeeper-mt */

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zookeeper/zookeeper.h>

#include "repl/repl.h"
#include "repl/zkc.h"
#include "util/clock.h"

#define ZKC_DEFAULT_PORT "2181"
#define ZKC_GET_TRIES    5
#define ZKC_EXPIRE_TRIES 5

/* The call a watch was armed by: each kind is its own watch. */
enum wkind { WK_GET, WK_EXISTS, WK_CHILDREN };

struct zkc_wctx {
	struct zkc *zkc;
	zkc_watch_fn *fn;
	void *arg;
	struct zkc_wctx *prev, *next;
	enum wkind kind;
	bool armed;  /* the library registered it (its call succeeded) */
	bool fired;  /* before its call returned: that caller frees it */
	char path[]; /* as the owner gave it */
};

struct zkc {
	zhandle_t *zh;
	char *hosts;   /* without chroot: for zkc_expire */
	char *connstr; /* hosts + chroot: what zh was opened with */
	int session_timeout_ms;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	int state; /* library's state constant, as last seen */

	zkc_session_fn *session_fn;
	void *session_arg;
	/* List head of armed watches. Last: struct zkc_wctx ends in a
	 * flexible array, and such a struct may only end another (clang, as
	 * make fuzz builds, refuses it anywhere else). */
	struct zkc_wctx watches;
};

static const struct {
	int zrc, err;
} zkc_errors[] = {
	{ ZNONODE, ENOENT },
	{ ZNODEEXISTS, EEXIST },
	{ ZBADVERSION, ESTALE },
	{ ZNOTEMPTY, ENOTEMPTY },
	{ ZNOCHILDRENFOREPHEMERALS, EPERM },
	{ ZCONNECTIONLOSS, ECONNRESET },
	{ ZOPERATIONTIMEOUT, ETIMEDOUT },
	{ ZSESSIONEXPIRED, ENOTCONN },
	{ ZINVALIDSTATE, ENOTCONN },
	{ ZCLOSING, ENOTCONN },
	{ ZNOAUTH, EACCES },
	{ ZAUTHFAILED, EACCES },
	{ ZBADARGUMENTS, EINVAL },
};

static int zkc_errno(int zrc)
{
	size_t i;

	if (zrc == ZOK)
		return 0;
	for (i = 0; i < sizeof(zkc_errors) / sizeof(zkc_errors[0]); i++)
		if (zkc_errors[i].zrc == zrc)
			return -zkc_errors[i].err;
	if (zrc == ZSYSTEMERROR && errno == ENOMEM)
		return -ENOMEM;
	return -EIO;
}

static void stat_copy(struct zkc_stat *st, const struct Stat *s)
{
	if (!st)
		return;
	st->czxid = s->czxid;
	st->mzxid = s->mzxid;
	st->ctime = s->ctime;
	st->ephemeral_owner = s->ephemeralOwner;
	st->version = s->version;
	st->cversion = s->cversion;
	st->data_length = s->dataLength;
	st->num_children = s->numChildren;
}

/* ---- connect string ---- */

static int chroot_valid(const char *c)
{
	const char *p = c;

	if (c[0] != '/' || c[strlen(c) - 1] == '/')
		return 0;
	while (*p == '/') {
		const char *e = strchr(p + 1, '/');
		size_t n = e ? (size_t)(e - p - 1) : strlen(p + 1);

		if (n == 0 || (n == 1 && p[1] == '.') || (n == 2 && p[1] == '.' && p[2] == '.'))
			return 0;
		p += n + 1;
	}
	return 1;
}

/* Each "host[:port]" non-empty with a port in 1..65535; ports are added
 * where missing. */
static int hosts_normalize(const char *in, size_t n, char **out)
{
	char *res = malloc(n * 2 + 64), *o;
	const char *p = in, *end = in + n;

	if (!res)
		return -ENOMEM;
	o = res;
	while (p <= end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;
		const char *colon = NULL, *q;

		for (q = p; q < e; q++)
			if (*q == ':')
				colon = q;
		if (e == p || colon == p)
			goto bad;
		memcpy(o, p, (size_t)(e - p));
		o += e - p;
		if (colon) {
			long port = 0;

			if (colon + 1 == e || e - colon > 6)
				goto bad;
			for (q = colon + 1; q < e; q++) {
				if (*q < '0' || *q > '9')
					goto bad;
				port = port * 10 + (*q - '0');
			}
			if (port < 1 || port > 65535)
				goto bad;
		} else {
			memcpy(o, ":" ZKC_DEFAULT_PORT, sizeof(ZKC_DEFAULT_PORT));
			o += sizeof(ZKC_DEFAULT_PORT);
		}
		if (!comma)
			break;
		*o++ = ',';
		p = comma + 1;
	}
	*o = '\0';
	*out = res;
	return 0;
bad:
	free(res);
	return -EINVAL;
}

int zkc_parse_connect(const char *connect, char **hosts, char **chroot)
{
	const char *slash = strchr(connect, '/');
	size_t n = slash ? (size_t)(slash - connect) : strlen(connect);
	int rc;

	*hosts = *chroot = NULL;
	if (n == 0 || (slash && !chroot_valid(slash) && strcmp(slash, "/")))
		return -EINVAL;
	if ((rc = hosts_normalize(connect, n, hosts)))
		return rc;
	if (slash && strcmp(slash, "/") && !(*chroot = strdup(slash))) {
		free(*hosts);
		*hosts = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* ---- session ---- */

static void session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	struct zkc *zkc = ctx;
	enum zkc_session ev;
	zkc_session_fn *fn;

	(void)zh;
	(void)path;
	/* Only session events reach the global watcher: every watch is
	 * armed with its own context. */
	if (type != ZOO_SESSION_EVENT)
		return;
	pthread_mutex_lock(&zkc->lock);
	zkc->state = state;
	fn = zkc->session_fn; /* a failed open clears it (open_handle) */
	pthread_cond_broadcast(&zkc->cond);
	pthread_mutex_unlock(&zkc->lock);
	if (state == ZOO_CONNECTED_STATE || state == ZOO_READONLY_STATE)
		ev = ZKC_CONNECTED;
	else if (state == ZOO_EXPIRED_SESSION_STATE)
		ev = ZKC_EXPIRED;
	else if (state == ZOO_AUTH_FAILED_STATE)
		ev = ZKC_AUTH_FAILED;
	else
		ev = ZKC_DISCONNECTED;
	if (fn)
		fn(zkc->session_arg, ev);
}

static void quiet_library(void)
{
	/* INFO would log every connection and every close. */
	zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
}

/* The library's messages go to the daemon's log, one level lower than the
 * library says: a server going away is routine in a cluster (its
 * consequences reach the owner through the session callback), and a
 * closing session logs a spurious receive error. Rate-limited, since an
 * unreachable server is retried every few hundred milliseconds. */
static void library_log(const char *message)
{
	const char *m = strstr(message, "ZOO_");
	int level = MQ_DEBUG;

	if (!m)
		m = message;
	else if (!strncmp(m, "ZOO_ERROR", 9))
		level = MQ_WARN;
	else if (!strncmp(m, "ZOO_WARN", 8))
		level = MQ_INFO;
	mq_log_limited(level, "zookeeper: %s", m);
}

static void free_handle(struct zkc *zkc)
{
	struct zkc_wctx *w, *next;

	if (!zkc)
		return;
	if (zkc->zh)
		zookeeper_close(zkc->zh); /* joins the library's threads */
	for (w = zkc->watches.next; w && w != &zkc->watches; w = next) {
		next = w->next;
		free(w);
	}
	pthread_mutex_destroy(&zkc->lock);
	pthread_cond_destroy(&zkc->cond);
	free(zkc->hosts);
	free(zkc->connstr);
	free(zkc);
}

/* Opens a session on connstr (clientid: resume that session, or NULL) and
 * waits for it. */
static int open_handle(const char *hosts, const char *chroot, int timeout_ms, int wait_ms,
		       const clientid_t *clientid, zkc_session_fn *fn, void *arg, struct zkc **out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct zkc *zkc = calloc(1, sizeof(*zkc));
	pthread_condattr_t ca;
	struct timespec deadline;
	int rc = 0;

	pthread_once(&once, quiet_library);
	if (!zkc)
		return -ENOMEM;
	pthread_mutex_init(&zkc->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&zkc->cond, &ca);
	pthread_condattr_destroy(&ca);
	zkc->watches.next = zkc->watches.prev = &zkc->watches;
	zkc->state = ZOO_CONNECTING_STATE;
	zkc->session_fn = fn;
	zkc->session_arg = arg;
	zkc->hosts = strdup(hosts);
	zkc->connstr = malloc(strlen(hosts) + (chroot ? strlen(chroot) : 0) + 1);
	if (!zkc->hosts || !zkc->connstr) {
		rc = -ENOMEM;
		goto out;
	}
	strcpy(zkc->connstr, hosts);
	if (chroot)
		strcat(zkc->connstr, chroot);
	zkc->zh = zookeeper_init2(zkc->connstr, session_watcher, timeout_ms, clientid, zkc, 0,
				  library_log);
	if (!zkc->zh) {
		rc = errno == ENOMEM ? -ENOMEM : -EINVAL;
		goto out;
	}
	deadline_from_ms(CLOCK_MONOTONIC, wait_ms, &deadline);
	pthread_mutex_lock(&zkc->lock);
	while (zkc->state != ZOO_CONNECTED_STATE && rc == 0) {
		if (zkc->state == ZOO_EXPIRED_SESSION_STATE)
			rc = -ENOTCONN;
		else if (zkc->state == ZOO_AUTH_FAILED_STATE)
			rc = -EACCES;
		else if (pthread_cond_timedwait(&zkc->cond, &zkc->lock, &deadline) == ETIMEDOUT)
			rc = -ETIMEDOUT;
	}
	pthread_mutex_unlock(&zkc->lock);
	if (rc == 0)
		zkc->session_timeout_ms = zoo_recv_timeout(zkc->zh);
out:
	if (rc) {
		/* No callback of a failed open reaches the owner after this
		 * (the session watcher may be running: under the lock). */
		pthread_mutex_lock(&zkc->lock);
		zkc->session_fn = NULL;
		pthread_mutex_unlock(&zkc->lock);
		free_handle(zkc);
		return rc;
	}
	*out = zkc;
	return 0;
}

int zkc_open(const char *connect, int session_timeout_ms, int connect_timeout_ms,
	     zkc_session_fn *session_fn, void *arg, struct zkc **out)
{
	char *hosts = NULL, *chroot = NULL;
	struct zkc *tmp = NULL;
	int rc;

	*out = NULL;
	if (session_timeout_ms <= 0 || connect_timeout_ms <= 0)
		return -EINVAL;
	if ((rc = zkc_parse_connect(connect, &hosts, &chroot)))
		return rc;
	if (chroot) {
		/* The chroot must exist before a session can live in it;
		 * make it from a session on the root, as Kafka does. */
		rc = open_handle(hosts, NULL, session_timeout_ms, connect_timeout_ms, NULL, NULL,
				 NULL, &tmp);
		if (rc == 0) {
			rc = zkc_create(tmp, chroot, NULL, 0, ZKC_PARENTS, NULL, 0);
			if (rc == -EEXIST)
				rc = 0;
		}
		zkc_close(tmp);
	}
	if (rc == 0)
		rc = open_handle(hosts, chroot, session_timeout_ms, connect_timeout_ms, NULL,
				 session_fn, arg, out);
	free(hosts);
	free(chroot);
	return rc;
}

void zkc_close(struct zkc *zkc)
{
	free_handle(zkc);
}

int64_t zkc_session_id(const struct zkc *zkc)
{
	return zoo_client_id(zkc->zh)->client_id;
}

int zkc_session_timeout(const struct zkc *zkc)
{
	return zkc->session_timeout_ms;
}

/* Waits up to ms for the handle to reach state; 1 if it did. */
static int wait_state(struct zkc *zkc, int state, int ms)
{
	struct timespec end;
	int reached;

	deadline_from_ms(CLOCK_MONOTONIC, ms, &end);
	pthread_mutex_lock(&zkc->lock);
	while (zkc->state != state &&
	       pthread_cond_timedwait(&zkc->cond, &zkc->lock, &end) != ETIMEDOUT)
		;
	reached = zkc->state == state;
	pthread_mutex_unlock(&zkc->lock);
	return reached;
}

int zkc_expire(struct zkc *zkc)
{
	clientid_t id = *zoo_client_id(zkc->zh);
	int attempt, rc = -ETIMEDOUT;

	/* The twin's connection takes the session over and its close ends
	 * it. But the handle, cut off by the takeover, may reconnect first
	 * and take the session back, and then the twin's close does nothing
	 * (the server refuses it as from a moved session): so try again
	 * until the handle sees the expiry. */
	for (attempt = 0; attempt < ZKC_EXPIRE_TRIES; attempt++) {
		struct zkc *twin = NULL;

		rc = open_handle(zkc->hosts, NULL, zkc->session_timeout_ms, zkc->session_timeout_ms,
				 &id, NULL, NULL, &twin);
		zkc_close(twin);
		if (rc == -ENOTCONN ||
		    wait_state(zkc, ZOO_EXPIRED_SESSION_STATE, zkc->session_timeout_ms / 2))
			return 0; /* expired (already, if the twin found it so) */
		if (rc)
			return rc;
		rc = -ETIMEDOUT;
	}
	return rc;
}

/* ---- watches ---- */

static void watch_fired(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	struct zkc_wctx *w = ctx;
	struct zkc *zkc = w->zkc;
	enum zkc_watch ev;
	zkc_watch_fn *fn;
	void *fn_arg;
	bool mine;

	(void)zh;
	(void)state;
	if (type == ZOO_CREATED_EVENT)
		ev = ZKC_WATCH_CREATED;
	else if (type == ZOO_DELETED_EVENT)
		ev = ZKC_WATCH_DELETED;
	else if (type == ZOO_CHANGED_EVENT)
		ev = ZKC_WATCH_CHANGED;
	else if (type == ZOO_CHILD_EVENT)
		ev = ZKC_WATCH_CHILDREN;
	else
		return; /* session events: the session callback has them */
	/* Unlisted first: a read from now on arms a new watch (see the
	 * top of the file). A watch can fire before the call that armed it
	 * has returned (a change right after the answer): that call frees
	 * the context then (watch_registered). */
	fn = w->fn;
	fn_arg = w->arg;
	pthread_mutex_lock(&zkc->lock);
	w->prev->next = w->next;
	w->next->prev = w->prev;
	w->fired = true;
	mine = w->armed;
	pthread_mutex_unlock(&zkc->lock);
	fn(fn_arg, ev, path);
	if (mine)
		free(w);
}

/* Whether a watch of (kind, path, fn, arg) is registered and has not
 * fired. Under zkc->lock. */
static bool watch_armed(struct zkc *zkc, enum wkind kind, const char *path, zkc_watch_fn *fn,
			void *arg)
{
	for (struct zkc_wctx *w = zkc->watches.next; w != &zkc->watches; w = w->next)
		if (w->armed && w->kind == kind && w->fn == fn && w->arg == arg &&
		    !strcmp(w->path, path))
			return true;
	return false;
}

/* The context of a watch to arm with a call of kind on path, listed; NULL
 * when fn is NULL, when that watch is armed already (*armed set: the call
 * is made without one) or out of memory (*armed clear). */
static struct zkc_wctx *watch_new(struct zkc *zkc, enum wkind kind, const char *path,
				  zkc_watch_fn *fn, void *arg, bool *armed)
{
	size_t len = strlen(path) + 1;
	struct zkc_wctx *w;

	*armed = false;
	if (!fn)
		return NULL;
	w = calloc(1, sizeof(*w) + len);
	if (!w)
		return NULL;
	w->zkc = zkc;
	w->fn = fn;
	w->arg = arg;
	w->kind = kind;
	memcpy(w->path, path, len);
	pthread_mutex_lock(&zkc->lock);
	*armed = watch_armed(zkc, kind, path, fn, arg);
	if (!*armed) {
		w->next = zkc->watches.next;
		w->prev = &zkc->watches;
		w->next->prev = w;
		zkc->watches.next = w;
	}
	pthread_mutex_unlock(&zkc->lock);
	if (*armed) {
		free(w);
		return NULL;
	}
	return w;
}

/* The library registered w (its call answered ZOK or, for exists,
 * ZNONODE): from now on a read of the same watch needs none. */
static void watch_registered(struct zkc *zkc, struct zkc_wctx *w)
{
	bool fired;

	if (!w)
		return;
	pthread_mutex_lock(&zkc->lock);
	w->armed = true;
	fired = w->fired;
	pthread_mutex_unlock(&zkc->lock);
	if (fired)
		free(w); /* unlisted by watch_fired, which left it to us */
}

int zkc_watches_armed(struct zkc *zkc)
{
	int n = 0;

	pthread_mutex_lock(&zkc->lock);
	for (struct zkc_wctx *w = zkc->watches.next; w != &zkc->watches; w = w->next)
		n++;
	pthread_mutex_unlock(&zkc->lock);
	return n;
}

/* The library did not register w (its call failed): forget it. */
static void watch_drop(struct zkc *zkc, struct zkc_wctx *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&zkc->lock);
	w->prev->next = w->next;
	w->next->prev = w->prev;
	pthread_mutex_unlock(&zkc->lock);
	free(w);
}

/* ---- calls ---- */

int zkc_get(struct zkc *zkc, const char *path, char **data, size_t *len, struct zkc_stat *st,
	    zkc_watch_fn *watch, void *arg)
{
	int cap = 1024, tries, rc = -EIO;
	char *buf = NULL;

	for (tries = 0; tries < ZKC_GET_TRIES; tries++) {
		bool armed;
		struct zkc_wctx *w = watch_new(zkc, WK_GET, path, watch, arg, &armed);
		struct Stat s;
		int n = cap, zrc;
		char *nb;

		if (watch && !w && !armed) {
			rc = -ENOMEM;
			break;
		}
		nb = realloc(buf, (size_t)cap + 1);
		if (!nb) {
			watch_drop(zkc, w);
			rc = -ENOMEM;
			break;
		}
		buf = nb;
		zrc = w ? zoo_wget(zkc->zh, path, watch_fired, w, buf, &n, &s)
			: zoo_get(zkc->zh, path, 0, buf, &n, &s);
		if (zrc != ZOK) {
			watch_drop(zkc, w);
			rc = zkc_errno(zrc);
			break;
		}
		watch_registered(zkc, w);
		if (s.dataLength <= cap) {
			if (n < 0)
				n = 0; /* a znode without data */
			buf[n] = '\0';
			*data = buf;
			if (len)
				*len = (size_t)n;
			stat_copy(st, &s);
			return 0;
		}
		/* Grew past our buffer: read again with room for it. The
		 * armed watch stays: the read again arms none. */
		cap = s.dataLength;
		rc = -EIO;
	}
	free(buf);
	return rc;
}

int zkc_exists(struct zkc *zkc, const char *path, struct zkc_stat *st, zkc_watch_fn *watch,
	       void *arg)
{
	bool armed;
	struct zkc_wctx *w = watch_new(zkc, WK_EXISTS, path, watch, arg, &armed);
	struct Stat s;
	int zrc;

	if (watch && !w && !armed)
		return -ENOMEM;
	zrc = w ? zoo_wexists(zkc->zh, path, watch_fired, w, &s) : zoo_exists(zkc->zh, path, 0, &s);
	/* A missing znode still arms the watch (it fires on creation). */
	if (zrc != ZOK && zrc != ZNONODE)
		watch_drop(zkc, w);
	else
		watch_registered(zkc, w);
	if (zrc == ZOK)
		stat_copy(st, &s);
	return zkc_errno(zrc);
}

static int mode_of(int flags)
{
	if (flags & ZKC_EPHEMERAL)
		return flags & ZKC_SEQUENTIAL ? ZOO_EPHEMERAL_SEQUENTIAL : ZOO_EPHEMERAL;
	return flags & ZKC_SEQUENTIAL ? ZOO_PERSISTENT_SEQUENTIAL : ZOO_PERSISTENT;
}

/* Creates every missing ancestor of path, persistent and empty. */
static int create_parents(struct zkc *zkc, const char *path)
{
	char *p = strdup(path), *slash;
	int rc = 0;

	if (!p)
		return -ENOMEM;
	for (slash = strchr(p + 1, '/'); slash && rc == 0; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		rc = zkc_errno(zoo_create(zkc->zh, p, NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
					  ZOO_PERSISTENT, NULL, 0));
		if (rc == -EEXIST)
			rc = 0;
		*slash = '/';
	}
	free(p);
	return rc;
}

int zkc_create(struct zkc *zkc, const char *path, const char *data, size_t len, int flags,
	       char *created, size_t created_size)
{
	int rc, tries;

	if (len > INT32_MAX || (created && created_size > INT32_MAX))
		return -EINVAL;
	for (tries = 0; tries < 2; tries++) {
		rc = zkc_errno(zoo_create(zkc->zh, path, data, data ? (int)len : -1,
					  &ZOO_OPEN_ACL_UNSAFE, mode_of(flags), created,
					  created ? (int)created_size : 0));
		if (rc != -ENOENT || !(flags & ZKC_PARENTS) || tries)
			break;
		/* A parent is missing; someone may delete it again between
		 * the two steps, so that case is reported, not looped on. */
		if ((rc = create_parents(zkc, path)))
			break;
	}
	return rc;
}

int zkc_set(struct zkc *zkc, const char *path, const char *data, size_t len, int32_t version,
	    struct zkc_stat *st)
{
	struct Stat s;
	int zrc;

	if (len > INT32_MAX)
		return -EINVAL;
	zrc = zoo_set2(zkc->zh, path, data, data ? (int)len : -1, version, &s);
	if (zrc == ZOK)
		stat_copy(st, &s);
	return zkc_errno(zrc);
}

int zkc_delete(struct zkc *zkc, const char *path, int32_t version)
{
	return zkc_errno(zoo_delete(zkc->zh, path, version));
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void zkc_names_free(char **names, int n)
{
	int i;

	for (i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

int zkc_children(struct zkc *zkc, const char *path, char ***names, zkc_watch_fn *watch, void *arg)
{
	bool armed;
	struct zkc_wctx *w = watch_new(zkc, WK_CHILDREN, path, watch, arg, &armed);
	struct String_vector v = { 0, NULL };
	char **out;
	int zrc, i;

	if (watch && !w && !armed)
		return -ENOMEM;
	zrc = w ? zoo_wget_children(zkc->zh, path, watch_fired, w, &v)
		: zoo_get_children(zkc->zh, path, 0, &v);
	if (zrc != ZOK) {
		watch_drop(zkc, w);
		return zkc_errno(zrc);
	}
	watch_registered(zkc, w);
	out = calloc((size_t)v.count + 1, sizeof(*out));
	for (i = 0; out && i < v.count; i++)
		if (!(out[i] = strdup(v.data[i]))) {
			zkc_names_free(out, i);
			out = NULL;
		}
	deallocate_String_vector(&v);
	if (!out)
		return -ENOMEM; /* the watch stays armed; it fires once */
	qsort(out, (size_t)i, sizeof(*out), name_cmp);
	*names = out;
	return i;
}

int zkc_multi(struct zkc *zkc, struct zkc_op *ops, int n, int *failed)
{
	zoo_op_t *zops = calloc((size_t)(n > 0 ? n : 1), sizeof(*zops));
	zoo_op_result_t *res = calloc((size_t)(n > 0 ? n : 1), sizeof(*res));
	struct Stat *stats = calloc((size_t)(n > 0 ? n : 1), sizeof(*stats));
	char *paths = NULL;
	int i, zrc, rc;

	if (failed)
		*failed = -1;
	if (n <= 0) {
		rc = -EINVAL;
		goto out;
	}
	paths = malloc((size_t)n * 512);
	if (!zops || !res || !stats || !paths) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct zkc_op *op = &ops[i];
		int len = op->data ? (int)op->len : -1;

		if (op->data && op->len > INT32_MAX) {
			rc = -EINVAL;
			goto out;
		}
		switch (op->type) {
		case ZKC_OP_CREATE:
			zoo_create_op_init(&zops[i], op->path, op->data, len, &ZOO_OPEN_ACL_UNSAFE,
					   mode_of(op->flags), paths + (size_t)i * 512, 512);
			break;
		case ZKC_OP_SET:
			zoo_set_op_init(&zops[i], op->path, op->data, len, op->version, &stats[i]);
			break;
		case ZKC_OP_DELETE: zoo_delete_op_init(&zops[i], op->path, op->version); break;
		case ZKC_OP_CHECK: zoo_check_op_init(&zops[i], op->path, op->version); break;
		default: rc = -EINVAL; goto out;
		}
	}
	/* A handle whose session expired or whose authentication failed
	 * refuses every request (ZINVALIDSTATE). libzookeeper's zoo_amulti
	 * (3.8) frees memory it does not own on such a handle: the first
	 * op's path prefixed with the chroot, twice (Request_path_init frees
	 * it when it sees the state, zoo_amulti again), and for every later
	 * op the path of a request it never built (the init is skipped once
	 * an op failed, the free of its uninitialized path is not), with or
	 * without a chroot; glibc answers with an abort. So the state is
	 * checked here first. The session's state moves only to an
	 * unrecoverable one on the client's I/O thread; a move between this
	 * check and the call is the one window left, which only a fixed
	 * zoo_amulti closes. */
	if (zoo_state(zkc->zh) < 0) {
		rc = zkc_errno(ZINVALIDSTATE);
		goto out;
	}
	zrc = zoo_multi(zkc->zh, n, zops, res);
	rc = zkc_errno(zrc);
	if (rc == 0) {
		for (i = 0; i < n; i++)
			if (ops[i].type == ZKC_OP_SET)
				ops[i].new_version = stats[i].version;
		goto out;
	}
	/* The server marks the failing op with its error and the others
	 * with ZOK (before it) or ZRUNTIMEINCONSISTENCY (after it). */
	for (i = 0; i < n; i++)
		if (res[i].err != ZOK && res[i].err != ZRUNTIMEINCONSISTENCY) {
			rc = zkc_errno(res[i].err);
			if (failed)
				*failed = i;
			break;
		}
out:
	free(zops);
	free(res);
	free(stats);
	free(paths);
	return rc;
}
