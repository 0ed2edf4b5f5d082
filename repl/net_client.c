/*
 * net_client.c — the client side of the broker protocol (net.h): one
 * blocking connection to another broker, for the replica fetcher and for
 * write forwarding.
 *
 * Every call has a deadline: the socket is non-blocking and each wait is
 * a poll(2) for the time left, so a silent peer costs a timeout, never a
 * hang. Requests go out one at a time and the response must carry the
 * correlation id just sent (the server answers in order anyway; a
 * mismatch means the stream is out of step and the connection is done).
 * A response's size is checked before anything is allocated for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "repl/net.h"
#include "util/clock.h"
#include "util/diaglog.h"

#define CLIENT_ID        NET_CLIENT_ID
#define DEFAULT_MAX_RESP (100u << 20)

struct net_client {
	int fd;
	int32_t next_corr;
	int32_t n_apis;
	struct proto_api *apis; /* the broker's versions (ApiVersions) */
	bool broken;
	int wake_fd; /* -1, or net_client_set_wake's */
	/* KIP-368: after a SaslAuthenticate that gave a session lifetime, the
	 * credentials (copies) and when to re-authenticate (monotonic ms, 0:
	 * never), between 85% and 95% of the lifetime as Kafka's clients
	 * (SaslClientAuthenticator), counted from before the last round was
	 * sent, so always ahead of the server's end. in_sasl: the calls of an
	 * exchange do not start another. */
	char *user, *password;
	enum sasl_mech mech; /* of the last exchange, the re-authentication's */
	int64_t reauth_at;
	bool in_sasl;
};

static int client_sasl(struct net_client *c, enum sasl_mech mech, const char *user,
		       const char *password, int64_t deadline);

/* Waits for events on fd; -EINTR when wake (unless -1) is readable
 * first. */
static int wait_fd(int fd, int wake, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = events },
				       { .fd = wake, .events = POLLIN } };
		int64_t left = deadline - now_mono_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(p, wake >= 0 ? 2 : 1, left > 60000 ? 60000 : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n > 0 && wake >= 0 && p[1].revents)
			return -EINTR;
		if (n > 0)
			return 0;
	}
}

static int send_all(int fd, int wake, const uint8_t *p, size_t n, int64_t deadline)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		int rc;

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			rc = wait_fd(fd, wake, POLLOUT, deadline);
			if (rc)
				return rc;
			continue;
		}
		if (k < 0)
			return -errno;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Receives whole frames. While at least RECV_LOWAT_MIN bytes of one are
 * missing, the socket's SO_RCVLOWAT asks the kernel to wake the poll only
 * once they are all there (or its receive memory runs short), not at each
 * arriving segment: a follower's megabyte-sized Fetch response then costs
 * it one or two wake-ups instead of one per 64 KiB, and the leader, whose
 * sendfile runs the loopback's receive path, as many fewer. It is put back
 * to 1 before returning (a small frame must not wait for bytes that will
 * never come). Best effort: without it, the wake-ups come per segment. */
#define RECV_LOWAT_MIN (1 << 20)
#define RECV_LOWAT_MAX (8 << 20)
static int recv_all(int fd, int wake, uint8_t *p, size_t n, int64_t deadline)
{
	int lowat = 1, rc = 0;

	while (n) {
		ssize_t k = recv(fd, p, n, MSG_DONTWAIT);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int want = n >= RECV_LOWAT_MIN
					   ? (n > RECV_LOWAT_MAX ? RECV_LOWAT_MAX : (int)n)
					   : 1;

			if (want != lowat &&
			    setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &want, sizeof(want)) == 0)
				lowat = want;
			rc = wait_fd(fd, wake, POLLIN, deadline);
			if (rc)
				break;
			continue;
		}
		if (k == 0) {
			rc = -ECONNRESET;
			break;
		}
		if (k < 0) {
			rc = -errno;
			break;
		}
		p += k;
		n -= (size_t)k;
	}
	if (lowat != 1) {
		int one = 1;

		setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
	}
	return rc;
}

/* Connects fd-less c to one address before deadline. */
static int connect_one(const struct addrinfo *ai, int64_t deadline)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, err = 0, rc;
	socklen_t el = sizeof(err);

	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		rc = -errno;
		goto fail;
	}
	rc = wait_fd(fd, -1, POLLOUT, deadline);
	if (rc)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
		rc = err ? -err : -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return rc;
}

void net_resp_free(struct net_resp *resp)
{
	if (!resp)
		return;
	free(resp->frame);
	memset(resp, 0, sizeof(*resp));
}

int net_client_call(struct net_client *c, int16_t api_key, int16_t api_version, const void *body,
		    size_t body_len, size_t max_resp, int64_t timeout_ms, struct net_resp *resp)
{
	int64_t deadline = now_mono_ms() + timeout_ms;
	struct proto_req_hdr hdr = {
		.api_key = api_key,
		.api_version = api_version,
		.correlation_id = c->next_corr++,
		.client_id = kstr_of(CLIENT_ID),
	};
	struct kbuf_w w;
	uint8_t size[4];
	size_t len, pos;
	int32_t corr;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (c->broken)
		return -ENOTCONN;
	/* Due to re-authenticate: first, on this connection (the server would
	 * close it at the first request past the session's end). A refusal
	 * leaves the connection broken, as any error. */
	if (c->reauth_at && !c->in_sasl && now_mono_ms() >= c->reauth_at) {
		rc = client_sasl(c, c->mech, c->user, c->password, deadline);
		if (rc)
			return rc;
	}
	if (c->next_corr < 0)
		c->next_corr = 0;
	kbuf_w_init(&w, body_len + 512);
	pos = proto_req_begin(&w, &hdr);
	kbuf_write_raw(&w, body, body_len);
	rc = proto_frame_end(&w, pos);
	if (!rc)
		rc = send_all(c->fd, c->wake_fd, w.buf, w.len, deadline);
	kbuf_w_free(&w);
	if (rc)
		goto broken;
	rc = recv_all(c->fd, c->wake_fd, size, 4, deadline);
	if (!rc)
		rc = proto_frame_peek(size, 4, max_resp ? max_resp : DEFAULT_MAX_RESP, &len);
	if (rc)
		goto broken;
	resp->frame = malloc(len ? len : 1);
	if (!resp->frame) {
		rc = -ENOMEM;
		goto broken;
	}
	resp->len = len;
	rc = recv_all(c->fd, c->wake_fd, resp->frame, len, deadline);
	if (rc)
		goto broken;
	kbuf_r_init(&resp->body, resp->frame, len);
	rc = proto_resp_hdr_decode(&resp->body, api_key, api_version, &corr);
	if (!rc && corr != hdr.correlation_id)
		rc = -EBADMSG;
	if (rc)
		goto broken;
	return 0;
broken:
	c->broken = true;
	net_resp_free(resp);
	return rc;
}

/* ApiVersions at version v: 0, 1 to retry at v0, -errno. */
static int client_api_versions(struct net_client *c, int16_t v, int64_t deadline)
{
	struct proto_api_versions_req req = {
		.client_software_name = kstr_of("mqfs"),
		.client_software_version = kstr_of(MQFS_VERSION),
	};
	struct proto_api_versions_resp av;
	struct net_resp resp;
	struct kbuf_w w;
	int rc;

	kbuf_w_init(&w, 256);
	rc = proto_api_versions_req_encode(&w, v, &req);
	if (!rc)
		rc = net_client_call(c, PROTO_API_API_VERSIONS, v, w.buf, w.len, 1 << 20,
				     deadline - now_mono_ms(), &resp);
	kbuf_w_free(&w);
	if (rc)
		return rc;
	/* An UNSUPPORTED_VERSION answer is always a v0 body. */
	rc = proto_api_versions_resp_decode(&resp.body, v, &av);
	if (rc && v > 0) {
		kbuf_r_init(&resp.body, resp.frame + 4, resp.len - 4);
		rc = proto_api_versions_resp_decode(&resp.body, 0, &av);
	}
	net_resp_free(&resp);
	if (rc)
		return rc;
	if (av.error_code == PROTO_ERR_UNSUPPORTED_VERSION && v > 0) {
		proto_api_versions_resp_free(&av);
		return 1;
	}
	if (av.error_code != PROTO_ERR_NONE) {
		proto_api_versions_resp_free(&av);
		return -EPROTO;
	}
	free(c->apis);
	c->apis = av.api_keys;
	c->n_apis = av.n_api_keys;
	return 0;
}

int net_client_connect(const char *host, int port, int64_t timeout_ms, struct net_client **out)
{
	int64_t deadline = now_mono_ms() + timeout_ms;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	struct net_client *c;
	char ps[8];
	int rc, fd = -ECONNREFUSED;

	snprintf(ps, sizeof(ps), "%d", port);
	rc = getaddrinfo(host, ps, &hints, &ai);
	if (rc)
		return rc == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		fd = connect_one(a, deadline);
		if (fd >= 0 || fd == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		return fd;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->fd = fd;
	c->wake_fd = -1;
	c->next_corr = 1;
	rc = client_api_versions(c, 3, deadline);
	if (rc == 1)
		rc = client_api_versions(c, 0, deadline);
	if (rc) {
		net_client_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

static void client_forget_creds(struct net_client *c)
{
	if (c->password)
		explicit_bzero(c->password, strlen(c->password));
	free(c->password);
	free(c->user);
	c->user = c->password = NULL;
	c->reauth_at = 0;
}

void net_client_close(struct net_client *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->apis);
	client_forget_creds(c);
	free(c);
}

int net_client_fd(const struct net_client *c)
{
	return c->fd;
}

bool net_client_idle_ok(const struct net_client *c)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN | POLLRDHUP };

	/* Between calls nothing is owed to us: any event is the peer's close
	 * (connections.max.idle.ms, a restart), an error, or stray bytes. */
	return poll(&pfd, 1, 0) == 0;
}

int net_client_version(const struct net_client *c, int16_t api_key)
{
	const struct proto_api *ours = proto_api_find(api_key);

	if (!ours)
		return -EOPNOTSUPP;
	for (int32_t i = 0; i < c->n_apis; i++) {
		const struct proto_api *a = &c->apis[i];
		int16_t hi =
			a->max_version < ours->max_version ? a->max_version : ours->max_version;
		int16_t lo =
			a->min_version > ours->min_version ? a->min_version : ours->min_version;

		if (a->api_key == api_key)
			return hi >= lo ? hi : -EOPNOTSUPP;
	}
	return -EOPNOTSUPP;
}

/* One SaslAuthenticate round: sends in, returns the server's bytes in
 * resp (their kstr in *bytes); a refusal's error message into why. */
static int client_auth_round(struct net_client *c, int16_t v, const char *in, size_t in_len,
			     int64_t deadline, struct net_resp *resp, struct kstr *bytes,
			     int64_t *lifetime_ms, char *why, size_t whylen)
{
	struct proto_sasl_auth_req req = { .auth_bytes = { in, (int32_t)in_len } };
	struct proto_sasl_auth_resp ar;
	struct kbuf_w w;
	int rc;

	kbuf_w_init(&w, SASL_MAX_MSG + 64);
	rc = proto_sasl_auth_req_encode(&w, v, &req);
	if (!rc)
		rc = net_client_call(c, PROTO_API_SASL_AUTHENTICATE, v, w.buf, w.len, 1 << 20,
				     deadline - now_mono_ms(), resp);
	kbuf_w_free(&w);
	if (rc)
		return rc;
	rc = proto_sasl_auth_resp_decode(&resp->body, v, &ar);
	if (rc)
		return rc;
	if (ar.error_code != PROTO_ERR_NONE) {
		snprintf(why, whylen, "error %d: %.*s", ar.error_code,
			 ar.error_message.len > 0 ? (int)ar.error_message.len : 0,
			 ar.error_message.len > 0 ? ar.error_message.ptr : "");
		return ar.error_code == PROTO_ERR_ILLEGAL_SASL_STATE ? -EALREADY : -EACCES;
	}
	*bytes = ar.auth_bytes;
	*lifetime_ms = ar.session_lifetime_ms;
	return 0;
}

/* "host:port" of the broker c is connected to, for a log line. */
static void client_peer(const struct net_client *c, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getpeername(c->fd, (struct sockaddr *)&ss, &len) ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV))
		snprintf(out, cap, "?");
	else
		snprintf(out, cap, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

int net_client_list_latest(struct net_client *c, const char *topic, int32_t partition,
			   int32_t replica_id, int32_t leader_epoch, int64_t timeout_ms,
			   int64_t *offset, int16_t *err)
{
	struct proto_list_offsets_part rp = { .partition_index = partition,
					      .current_leader_epoch = leader_epoch,
					      .timestamp = PROTO_LIST_OFFSETS_LATEST,
					      .max_num_offsets = 1 };
	struct proto_list_offsets_topic rt = { kstr_of(topic), 1, &rp };
	struct proto_list_offsets_req rq = { .replica_id = replica_id,
					     .n_topics = 1,
					     .topics = &rt };
	struct proto_list_offsets_resp resp = { 0 };
	struct net_resp nr = { 0 };
	struct kbuf_w w;
	int v = net_client_version(c, PROTO_API_LIST_OFFSETS), rc;

	*err = 0;
	if (v < 1)
		return v < 0 ? v : -EOPNOTSUPP;
	kbuf_w_init(&w, 1024);
	rc = proto_list_offsets_req_encode(&w, (int16_t)v, &rq);
	if (!rc)
		rc = net_client_call(c, PROTO_API_LIST_OFFSETS, (int16_t)v, w.buf, w.len, 0,
				     timeout_ms, &nr);
	kbuf_w_free(&w);
	if (!rc)
		rc = proto_list_offsets_resp_decode(&nr.body, (int16_t)v, &resp);
	if (!rc && (resp.n_topics != 1 || resp.topics[0].n_partitions != 1))
		rc = -EBADMSG;
	if (!rc) {
		*err = resp.topics[0].partitions[0].error_code;
		if (!*err)
			*offset = resp.topics[0].partitions[0].offset;
	}
	proto_list_offsets_resp_free(&resp);
	net_resp_free(&nr);
	return rc;
}

int net_client_sasl(struct net_client *c, enum sasl_mech mech, const char *user,
		    const char *password, int64_t timeout_ms)
{
	int rc = client_sasl(c, mech, user, password, now_mono_ms() + timeout_ms);

	/* Kept only when a session lifetime asks for re-authentication. */
	if (!rc && c->reauth_at && !c->user) {
		c->user = strdup(user);
		c->password = strdup(password);
		if (!c->user || !c->password) {
			client_forget_creds(c);
			c->broken = true;
			rc = -ENOMEM;
		}
	}
	return rc;
}

static int client_sasl(struct net_client *c, enum sasl_mech mech, const char *user,
		       const char *password, int64_t deadline)
{
	char why[256] = "", peer[NI_MAXHOST + NI_MAXSERV + 4];
	int64_t sent = 0, lifetime = 0;
	struct proto_sasl_handshake_req hreq = { .mechanism = kstr_of(sasl_mech_name(mech)) };
	struct proto_sasl_handshake_resp hresp;
	struct sasl_client *sc = NULL;
	struct net_resp resp = { 0 };
	const char *out;
	size_t out_len;
	struct kstr in = { NULL, 0 };
	struct kbuf_w w;
	int v = net_client_version(c, PROTO_API_SASL_AUTHENTICATE);
	int rc;

	if (v < 0 || net_client_version(c, PROTO_API_SASL_HANDSHAKE) < 1)
		return -EOPNOTSUPP;
	c->in_sasl = true;
	kbuf_w_init(&w, 256);
	rc = proto_sasl_handshake_req_encode(&w, 1, &hreq);
	if (!rc)
		rc = net_client_call(c, PROTO_API_SASL_HANDSHAKE, 1, w.buf, w.len, 1 << 20,
				     deadline - now_mono_ms(), &resp);
	kbuf_w_free(&w);
	if (!rc)
		rc = proto_sasl_handshake_resp_decode(&resp.body, 1, &hresp);
	if (!rc && hresp.error_code != PROTO_ERR_NONE) {
		rc = hresp.error_code == PROTO_ERR_UNSUPPORTED_SASL_MECHANISM ? -EOPNOTSUPP
									      : -EPROTO;
		snprintf(why, sizeof(why), "SaslHandshake %s: error %d", sasl_mech_name(mech),
			 hresp.error_code);
	}
	net_resp_free(&resp);
	if (!rc)
		rc = sasl_client_new(mech, user, password, &sc);
	/* client-first, client-final, then the server's proof (rc 1). */
	for (int round = 0; !rc && round < 3; round++) {
		rc = sasl_client_step(sc, (const uint8_t *)in.ptr, round ? (size_t)in.len : 0, &out,
				      &out_len);
		if (rc == 1) {
			rc = 0;
			c->mech = mech;
			client_peer(c, peer, sizeof(peer));
			/* Which mechanism and user a login took, to check the
			 * brokers' settings by; a login per connection and
			 * re-authentication, so limited. */
			mq_log_limited(MQ_INFO, "net: SASL %s authentication as %s to %s done",
				       sasl_mech_name(mech), user, peer);
			if (lifetime > 0) {
				/* 85..95%, random so that connections made
				 * together do not all come back at once. */
				uint32_t r = 0;

				if (getrandom(&r, sizeof(r), 0) != sizeof(r))
					r = (uint32_t)now_mono_ms();
				int64_t at = lifetime * (85 + (int64_t)(r % 11)) / 100;

				c->reauth_at = sent + (at > 0 ? at : 1);
			} else {
				c->reauth_at = 0;
			}
			goto out;
		}
		if (rc) {
			snprintf(why, sizeof(why), "%s", sasl_client_reason(sc));
			break;
		}
		net_resp_free(&resp);
		sent = now_mono_ms();
		rc = client_auth_round(c, (int16_t)v, out, out_len, deadline, &resp, &in, &lifetime,
				       why, sizeof(why));
		if (in.len < 0)
			rc = rc ? rc : -EBADMSG;
	}
	if (!rc)
		rc = -EPROTO; /* three rounds and no proof */
out:
	c->in_sasl = false;
	if (rc)
		c->broken = true;
	/* A refusal, by either side, says who and why here: the callers only
	 * have the errno ("cannot reach broker 2: Permission denied"). Not
	 * a transport failure (why empty): the callers log those. */
	if (rc && why[0]) {
		client_peer(c, peer, sizeof(peer));
		mq_log_limited(MQ_WARN, "net: SASL %s authentication as %s to %s refused: %s",
			       sasl_mech_name(mech), user, peer, why);
	}
	net_resp_free(&resp);
	sasl_client_free(sc);
	return rc;
}

void net_client_set_wake(struct net_client *c, int fd)
{
	c->wake_fd = fd;
}
