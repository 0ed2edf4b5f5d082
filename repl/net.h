/*
 * net.h — the broker listener: Kafka's wire protocol on TCP, served by a
 * few epoll event loops with per-connection buffers of fixed limits, and a
 * pool of worker threads that run the owner's request handlers. Also the
 * client side a broker uses to talk to another (replica fetcher, write
 * forwarding). Private to repl/; the broker owns one struct net_server.
 *
 * Threads (Kafka's SocketServer shape: acceptor, processors, handlers):
 *
 *   loop 0 .. num.network.threads-1   each an epoll loop owning its
 *                                      connections; loop 0 also accepts
 *                                      and deals connections round-robin
 *   worker 0 .. num.io.threads-1      run handlers, may block
 *   any thread                        net_req_complete() of a parked request
 *
 * A connection is read, decoded and written only by its loop. Requests
 * travel loop -> queue (at most queued.max.requests) -> worker -> the
 * loop's completion list (an eventfd wakes the loop) -> the socket.
 *
 * Connection states (one request at a time, as Kafka mutes a channel from
 * a complete request until its response is sent, so responses go out in
 * request order and a client that does not read its responses stops
 * being read):
 *
 *   READ_SIZE --4 bytes--> READ_FRAME --frame--> BUSY --response sent--> READ_SIZE
 *       |                     |   ^                 |
 *       |                     v   | memory freed    | (handler, parked,
 *       |                  WAIT_MEM                 |  queue full: BUSY)
 *       +--------- any error, idle, peer gone ------+--> closed
 *
 * Authentication on a SASL_PLAINTEXT listener (Kafka's
 * SaslServerAuthenticator): before it succeeds only these are accepted,
 * in this order:
 *   ApiVersions (at most once, before the handshake), answered here;
 *   SaslHandshake v0/v1 naming an enabled mechanism (else the response
 *     UNSUPPORTED_SASL_MECHANISM, then the connection is closed);
 *   SaslAuthenticate carrying the SCRAM messages (v1 handshake), or
 *     bare size-prefixed tokens (v0 handshake).
 * Any other request, or these out of order, closes the connection with a
 * log line naming the peer and the API (Kafka closes too: "Unexpected Kafka
 * request of type ... during SASL handshake"); where SaslAuthenticate is
 * expected, an ApiVersions or SaslHandshake is first answered
 * ILLEGAL_SASL_STATE, as Kafka answers any request there. The SCRAM state
 * is freed when the exchange ends, passed or refused. A refused proof is answered
 * SASL_AUTHENTICATION_FAILED (ILLEGAL_SASL_STATE for a replay), logged with
 * the peer and sasl_server_reason(), and the connection is closed once the
 * answer is out. After success, and on PLAINTEXT listeners, SaslHandshake
 * and SaslAuthenticate are answered ILLEGAL_SASL_STATE (as KafkaApis does)
 * and every other request goes to the handler table.
 *
 * Re-authentication (KIP-368, Kafka's SaslServerAuthenticator ReauthInfo
 * and KafkaChannel): with net_config_reauth_ms() > 0 a session lasts that
 * long from the SaslAuthenticate that completed it, whose v1+ answer
 * tells the client (session_lifetime_ms; SCRAM credentials do not
 * expire, so the setting alone). On an authenticated connection with a
 * session, a SaslHandshake starts a re-authentication (at most one a
 * second; else it is answered ILLEGAL_SASL_STATE), even past the end:
 * the handshake and its SaslAuthenticate exchange only, as at first,
 * which must end with the same user ("Cannot change principals during
 * re-authentication from User.a: User.b", SASL_AUTHENTICATION_FAILED,
 * closed) and with the session's mechanism (another enabled one: its
 * handshake is answered NONE and its SaslAuthenticate
 * SASL_AUTHENTICATION_FAILED, "SASL mechanism 'M' requested by client is
 * not supported for re-authentication of mechanism 'N'", closed, as
 * Kafka's REAUTH_BAD_MECHANISM) and starts a new session. Any other request past the end
 * closes the connection, logged, unanswered (a client without KIP-368
 * reconnects). One request at a time per connection: nothing is in
 * flight while the exchange runs.
 *
 * Requests the listener answers or refuses itself:
 *   ApiVersions: our table (proto_api_table); a version above ours gets
 *     UNSUPPORTED_VERSION in a v0 body.
 *   an unknown API key or a version outside the table: the connection is
 *     closed and logged (Kafka's Processor closes on InvalidRequestException:
 *     no response can be built for a request it cannot parse);
 *   a malformed frame (-EBADMSG from the decoder): closed, logged;
 *   a frame size above socket.request.max.bytes or negative: closed, logged;
 *   before authentication on a SASL listener, one above
 *     sasl.server.max.receive.size: closed, logged;
 *   a known API with no handler registered: closed, logged.
 * A failed authentication (a wrong password, a mechanism not enabled, a
 * request out of turn, a frame over sasl.server.max.receive.size: where
 * Kafka's authenticator throws an AuthenticationException) is answered,
 * when it has an answer, and closed only connection.failed.
 * authentication.delay.ms later, the connection not read meanwhile, as
 * Kafka's Selector delays it.
 *
 * Limits (what one client can make the broker hold):
 *   - a connection holds one frame at most: its size <= socket.request.max.bytes,
 *     and on a SASL listener before authentication <= the smaller of that
 *     and sasl.server.max.receive.size (Kafka's bound on what a client
 *     that has not authenticated can make the broker allocate),
 *     allocated only once the 4-byte size is read, and only while the
 *     frames held by all connections stay within queued.max.request.bytes
 *     (-1: no limit); otherwise the connection is not read until memory
 *     is released (Kafka's memory pool);
 *   - one response in memory at most: its memory part (headers, metadata)
 *     <= socket.response.max.bytes; record bytes go from files by sendfile;
 *   - max.connections in all: at it the listener stops accepting (as
 *     Kafka's Acceptor waits for a slot) and new connections wait in the
 *     kernel's backlog, unanswered, until one closes or the limit is
 *     raised (logged when it stops, once one waits, and when it accepts
 *     again, rate limited; the time it waits counted per listener,
 *     net_stats.accept_blocked_ms); the protected listener (net_server_protect_listener) is
 *     exempt, its connections counted: past the limit (by it or by a
 *     lowered limit) the others' least recently active close;
 *   - max.connections.per.ip from one address: above it a new connection
 *     is accepted and closed at once (logged, rate limited);
 *   - the last fd_room_reserve(limit) / 2 descriptors below the open-files
 *     limit (fdroom.h) are not for clients: a connection accepted as one
 *     of them is closed at once (logged, rate limited, counted refused),
 *     so connections cannot starve the files, ZooKeeper and the
 *     connections the broker opens itself;
 *   - connections.max.idle.ms without a byte read or written, with no
 *     request in progress: closed.
 *
 * Responses. A handler fills the request's struct proto_out (proto.h)
 * with a whole frame: memory pieces are sent with writev(2), file pieces
 * with sendfile(2). A file piece must stay valid until the request's done
 * callback runs (net_req_on_done): it runs once, on the loop thread, after
 * the last byte was sent (status 0) or when the connection was closed
 * first (-ECONNRESET), so the owner can release its segment references.
 * A file shorter than its piece (truncated meanwhile) closes the
 * connection: the frame size was already promised.
 */
#ifndef MQFS_REPL_NET_H
#define MQFS_REPL_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "repl/proto.h"
#include "repl/sasl.h"

#define NET_MAX_LISTENERS 8
#define NET_MAX_HOST      255
#define NET_MAX_NAME      64
#define NET_MAX_THREADS   64
/* The client id of the brokers' own requests to each other. */
#define NET_CLIENT_ID     "mqfs"

enum net_security {
	NET_PLAINTEXT,
	NET_SASL_PLAINTEXT,
};

/* One entry of `listeners` / `advertised.listeners`: NAME://host:port.
 * The name is the security protocol (PLAINTEXT, SASL_PLAINTEXT); host ""
 * (written "NAME://:port") binds every address. */
struct net_endpoint {
	char name[NET_MAX_NAME];
	enum net_security security;
	char host[NET_MAX_HOST + 1];
	int port; /* 0..65535; 0: any free port */
};

/* The listener's settings, Kafka's names and defaults. */
struct net_config {
	int n_listeners; /* listeners (PLAINTEXT://:9092) */
	struct net_endpoint listeners[NET_MAX_LISTENERS];
	int n_advertised; /* advertised.listeners (none: listeners) */
	struct net_endpoint advertised[NET_MAX_LISTENERS];
	/* sasl.enabled.mechanisms, by mechanism (SCRAM-SHA-256 alone by
	 * default). */
	bool sasl_scram[SASL_N_MECH];
	int num_network_threads;           /* 3 */
	int num_io_threads;                /* 8 */
	int64_t socket_request_max_bytes;  /* 104857600 */
	int64_t sasl_max_receive_bytes;    /* sasl.server.max.receive.size, 524288 */
	int64_t socket_response_max_bytes; /* mqfs: memory part of one response, 1 MiB */
	int max_connections;               /* 2147483647 */
	int max_connections_per_ip;        /* 2147483647 */
	int64_t connections_max_idle_ms;   /* 600000 */
	/* connection.failed.authentication.delay.ms, 100: a failed
	 * authentication's answer and close wait this long (0: none). */
	int64_t failed_auth_delay_ms;
	/* connections.max.reauth.ms (KIP-368), 0: sessions do not expire;
	 * the listener's and each mechanism's overrides on the SASL listener
	 * (listener.name.sasl_plaintext.[scram-sha-256.|scram-sha-512.]
	 * connections.max.reauth.ms), -1 when unset. net_config_reauth_ms
	 * picks. */
	int64_t connections_max_reauth_ms;
	int64_t listener_reauth_ms;
	int64_t mechanism_reauth_ms[SASL_N_MECH];
	int queued_max_requests;          /* 500 */
	int64_t queued_max_request_bytes; /* -1: no limit */
};

/* Kafka's defaults, one PLAINTEXT listener on every address, port 9092. */
void net_config_default(struct net_config *cfg);
/* Sets one key from its text: 0; -ENOENT not a listener key; -EINVAL bad
 * value (out of range, malformed listener list, unknown mechanism).
 * Nothing changes on error. */
int net_config_set(struct net_config *cfg, const char *key, const char *value);
/* The session lifetime of a SASL connection authenticated with mech: the
 * mechanism's override, else the listener's, else
 * connections.max.reauth.ms (Kafka's SaslChannelBuilder order); <= 0:
 * sessions do not expire. */
int64_t net_config_reauth_ms(const struct net_config *cfg, enum sasl_mech mech);
/* Parses a comma-separated listener list into eps (at most max): the
 * count, or -EINVAL (syntax, unknown protocol, a port outside 0..65535,
 * the same name twice, more than max). */
int net_listeners_parse(const char *text, struct net_endpoint *eps, int max);
/* Whether host (n bytes, without IPv6 brackets) is one Kafka's endpoint
 * parser takes (its regex's [0-9a-zA-Z\-%._:]*): a name, an IPv4 or IPv6
 * address (with a zone after '%'), or "" (every interface). */
bool net_host_valid(const char *host, size_t n);
/* Writes eps as a listener list ("A://h:1,B://h:2"): the length, or
 * -ENOSPC. */
int net_listeners_format(const struct net_endpoint *eps, int n, char *buf, size_t cap);

struct net_server;
struct net_req;

/* Returned by a handler that will answer later with net_req_complete(). */
#define NET_PARKED 1

/* A request handler, run on a worker thread: fills net_req_out(req) with
 * a whole response frame and returns 0, or returns NET_PARKED and calls
 * net_req_complete() later from any thread, or returns -errno: the
 * connection is closed with a log line naming the API and the error. */
typedef int (*net_handler_fn)(void *arg, struct net_req *req);
/* Called once per handed-out request, on its loop thread: status 0 when
 * the response was sent, -ECONNRESET when the connection went first (or
 * the handler failed). */
typedef void (*net_done_fn)(void *arg, struct net_req *req, int status);
/* Called on the loop thread, once, when the client of a request handed
 * out goes before it is complete (net_req_cancelled is then true): the owner
 * of a parked request answers it early. It must not block, and must not
 * complete the request itself (the loop thread does not wait for it). */
typedef void (*net_cancel_fn)(void *arg);

/* Builds the server (nothing bound yet). cfg is copied. lookup finds SCRAM
 * credentials on SASL listeners (called on a loop thread: must not
 * block); it may be NULL when no listener is SASL_PLAINTEXT. -EINVAL for
 * a SASL listener without lookup or without an enabled mechanism, or for
 * settings out of range; -ENOMEM. */
int net_server_new(const struct net_config *cfg, sasl_lookup_fn lookup, void *lookup_arg,
		   struct net_server **out);
/* Registers the handler of a supported api_key (proto_api_find), before
 * net_server_start. -EINVAL for ApiVersions, SaslHandshake,
 * SaslAuthenticate (the listener's own) or an API outside the table. */
int net_server_handle(struct net_server *srv, int16_t api_key, net_handler_fn fn, void *arg);
/* Whether a request runs on its listener loop's thread (called there,
 * with the handler's arg). */
typedef bool (*net_pick_fn)(void *arg, const struct net_req *req);
/* As net_server_handle; the requests pick() accepts run on the loop
 * thread that read them, not on a worker: no hand-off to a worker and
 * back for a request on the path of every acks=all write (a follower's
 * Fetch). Such a handler holds up every connection of its loop while it
 * runs: it must not wait for the network and should rarely wait for
 * the disk. */
int net_server_handle_picked(struct net_server *srv, int16_t api_key, net_handler_fn fn, void *arg,
			     net_pick_fn pick);
/* Binds every listener (SO_REUSEADDR), starts the loops and the workers.
 * 0; -EADDRINUSE, -EADDRNOTAVAIL (host unknown or not local), -EINVAL
 * (started already), -errno of socket/bind/listen/pthread_create. On
 * error nothing runs. */
int net_server_start(struct net_server *srv);
/* max.connections and max.connections.per.ip from now on (Kafka's
 * dynamic DynamicConnectionQuota): the connections open past a lowered
 * max.connections close, the least recently active first, but for the
 * protected listener's (Kafka's closeExcessConnections); those open past
 * a lowered max.connections.per.ip stay, as Kafka's; a change is logged.
 * Any thread. */
void net_server_set_limits(struct net_server *srv, int max_connections, int max_per_ip);
/* Before net_server_start: listener i (the inter-broker one) is exempt
 * from max.connections, as Kafka's protected listener, when there is
 * more than one listener (with one, as Kafka, it is not: the brokers'
 * own connections then wait for a slot as a client's). */
void net_server_protect_listener(struct net_server *srv, int i);
/* Before net_server_start: start binds and listens (so the ports are
 * known) but accepts no connection until net_server_accept, as Kafka's
 * broker opens its ports before registering and processes requests only
 * after: connections wait in the kernel's backlog meanwhile, rather than
 * being answered by a broker that does not know the cluster yet. */
void net_server_hold_accepts(struct net_server *srv);
/* Before net_server_start: the file pieces of responses are sent through
 * io's sendfile (the table that opened them; io_posix by default, and
 * when io has none). */
struct io_ops;
void net_server_set_io(struct net_server *srv, const struct io_ops *io);
/* Before net_server_start: a Fetch still unanswered ms past its
 * max_wait_ms, or an OffsetForLeaderEpoch ms after it came, is logged
 * once, with where it is (the backlog, the work queue, a running
 * handler, parked, or answered but not sent); 5000 by default (tests use
 * less). */
void net_server_set_fetch_late_ms(struct net_server *srv, int64_t ms);
/* In a done callback: the -errno of the sendfile of a file piece that
 * failed (the response cut off there: the connection is closed, the
 * status is -ECONNRESET), with that piece's fd in *fd; 0 (*fd -1) when
 * none did. -EIO: a read of that file failed; -ENODATA: the file was
 * shorter than the piece. */
int net_req_file_error(const struct net_req *req, int *fd);
/* Starts accepting (once; later calls do nothing): 0, -EINVAL when not
 * started, -ESHUTDOWN when stopping, -errno of epoll_ctl. Any thread. */
int net_server_accept(struct net_server *srv);
/* The port listener i is bound to (its configured port, or the one the
 * kernel chose for port 0); -ENOENT for no such listener or before start. */
int net_server_port(const struct net_server *srv, int i);
/* Stops accepting, closes every connection (done callbacks get
 * -ECONNRESET), waits for requests still in handlers or parked (their
 * owners must complete them) and joins every thread. Idempotent. */
void net_server_stop(struct net_server *srv);
/* Stops if needed and frees. NULL is fine. */
void net_server_free(struct net_server *srv);

/* What the listener holds now (a consistent-enough snapshot for tests,
 * metrics and .state). */
struct net_stats {
	int64_t connections;     /* open connections */
	int64_t accepted;        /* connections accepted since start */
	int64_t refused;         /* closed at accept: max.connections.per.ip, descriptors kept */
	int64_t closed_idle;     /* closed by connections.max.idle.ms */
	int64_t closed_expired;  /* closed by a request after the session's
				  * end (connections.max.reauth.ms) */
	int64_t closed_excess;   /* closed past a lowered max.connections */
	int64_t reauths;         /* re-authentications that passed */
	int64_t frame_bytes;     /* request frames held, all connections */
	int64_t response_bytes;  /* memory parts of responses held */
	int64_t requests;        /* requests decoded */
	int64_t auth_failures;   /* SASL refusals and requests refused before auth */
	int64_t accept_failures; /* accept(2) errors other than "nothing there" */
	int64_t accept_pauses;   /* of them, out of descriptors or memory: the
				  * listener paused (one each: no spin) */
	int64_t muted;           /* responses after which the connection was
				  * muted (net_req_mute) */
	int64_t sasl_exchanges;  /* SCRAM states held: exchanges under way
				  * (freed at their end, passed or refused) */
	int64_t peer_addresses;  /* addresses counted for max.connections.per.ip:
				  * those with a connection open */
	/* Frames held out of frame_bytes (net_req_unreserve) until freed,
	 * and frames freed before their request was answered
	 * (net_req_drop_frame). */
	int64_t parked_frame_bytes;
	int64_t frames_dropped;
	/* Per listener (the config's n_listeners, in its order): the time it
	 * accepted nothing at max.connections while a connection waited in
	 * its backlog, ms, the current wait included (the total of Kafka's
	 * AcceptorBlockedPercent meter, kafka.network:type=Acceptor). */
	int n_listeners;
	int64_t accept_blocked_ms[NET_MAX_LISTENERS];
};
void net_server_stats(struct net_server *srv, struct net_stats *st);

/* ---- a request, as the handler sees it ----
 * A struct net_req belongs to the listener; between the handler's call and
 * net_req_complete() the handler (or whoever it parked the request with)
 * may use it from one thread at a time. */

/* The decoded request (strings point into the frame, valid until done). */
const struct proto_req *net_req_msg(const struct net_req *req);
/* The request's size in bytes as it came (header and body, after the
 * 4-byte size: Kafka's request.sizeInBytes). */
size_t net_req_size(const struct net_req *req);
/* Where the response frame goes (limit socket.response.max.bytes). */
struct proto_out *net_req_out(struct net_req *req);
/* Starts a response frame of this request's API, version and correlation
 * id in net_req_out(req); finish with net_req_end(req, pos) (which
 * patches the size and closes the piece list). */
size_t net_req_begin(struct net_req *req);
int net_req_end(struct net_req *req, size_t pos);
/* The peer, "127.0.0.1:40312" / "[::1]:40312". */
const char *net_req_peer(const struct net_req *req);
/* The SCRAM user of a SASL connection, or NULL (PLAINTEXT). */
const char *net_req_user(const struct net_req *req);
/* Whether the connection authenticated with a delegation token (its user
 * is then the token's owner: Kafka's tokenAuthenticated principal). */
bool net_req_token_auth(const struct net_req *req);
/* Before net_server_start: the delegation tokens a SCRAM exchange with
 * tokenauth=true is checked against (sasl_server_set_tokens); called on
 * a loop thread: must not block. None: such exchanges are refused. */
void net_server_set_tokens(struct net_server *srv, sasl_token_fn fn, void *arg);
/* The index of the listener (into cfg.listeners) the request came in on. */
int net_req_listener(const struct net_req *req);
/* The owner's authorizer, set before net_server_start and never changed
 * (NULL: none); the listener only hands it to the handlers. */
void net_server_set_authz(struct net_server *srv, void *authz);
void *net_req_authz(const struct net_req *req);
/* True once the client went: its connection closed (the response will
 * be dropped) or it closed its side (a half-close: the response is still
 * sent if it can be). A parked request may be completed early. Any
 * thread. */
bool net_req_cancelled(const struct net_req *req);
/* The request gets no response (Produce with acks=0, as Kafka): the
 * handler returns 0 without building one, and the connection reads its
 * next request. From the handler's thread. */
void net_req_no_response(struct net_req *req);
/* Once the response is sent (or, without one, at once), the connection
 * is not read for ms (Kafka's KIP-219: a throttled client's channel is
 * muted for its throttle time). From the handler's thread. */
void net_req_mute(struct net_req *req, int32_t ms);
/* The request's frame no longer counts against queued.max.request.bytes
 * (it stays allocated until the request is freed): for a handler about
 * to park a request whose answer waits for other connections' requests
 * (an acks=all Produce, for followers' Fetches to commit it), which a
 * full pool would leave unread until the parked request times out.
 * Kafka's handler thread likewise gives a request's buffer back to the
 * pool once the handler returns, a delayed one's too. From the handler's
 * thread, before it parks the request. */
void net_req_unreserve(struct net_req *req);
/* Frees the request's frame before the request is answered (Kafka's
 * ProduceRequest.clearPartitionRecords: a parked Produce's records, once
 * appended, are not held until its answer). After it, net_req_msg(req)
 * keeps only its header (the client id copied out of the frame), its
 * body zeroed: strings and records taken from the body point at freed
 * memory, so the caller copies first what it still needs.
 * net_req_size still reports the size the request came with, and the
 * frame no longer counts against queued.max.request.bytes
 * (net_req_unreserve is implied). Returns 0 (a second call does
 * nothing), -ENOMEM with the request unchanged. From the handler's
 * thread, before it parks the request. */
int net_req_drop_frame(struct net_req *req);
/* Sets the done callback (see net_done_fn); from the handler's thread. */
void net_req_on_done(struct net_req *req, net_done_fn fn, void *arg);
/* Sets the cancel hook (see net_cancel_fn), from the handler's thread
 * before it parks the request; it then checks net_req_cancelled: a
 * connection gone before the hook was set does not call it. */
void net_req_on_cancel(struct net_req *req, net_cancel_fn fn, void *arg);
/* Completes a parked request from any thread: rc 0 sends the response
 * built in net_req_out(req), -errno closes the connection. Call it once;
 * the request must not be touched after. */
void net_req_complete(struct net_req *req, int rc);

/* Wake-ups held back while one thread completes several parked requests
 * (the fetch purgatory answering every follower after an append): each
 * loop is told once, and the loops last seen on other CPUs first. Told
 * one at a time, the first loop woken on the completing thread's own CPU
 * ran at once (the kernel's wake-up preemption) and the next loop, on
 * the other CPU, waited for it: the second follower got its records a
 * follower's whole append later. The wake-ups go out when every loop has
 * one to get, after NET_WAKES_HOLD completions (a scan of many parked
 * consumers does not hold the first answers for all the others), or at
 * net_wakes_flush. */
#define NET_WAKES_MAX  16
#define NET_WAKES_HOLD 8
struct net_wakes {
	struct net_loop *loop[NET_WAKES_MAX];
	int n;    /* loops to wake */
	int held; /* completions since the last flush */
};
/* net_req_complete, the wake-up left in *w (see above). */
void net_req_complete_held(struct net_req *req, int rc, struct net_wakes *w);
void net_wakes_flush(struct net_wakes *w);

/* ---- the client side ----
 * A blocking connection to another broker, used by one thread at a time.
 * Every call takes a timeout in milliseconds and returns -ETIMEDOUT when
 * it passes; after any error but -EOPNOTSUPP the connection is unusable
 * (close it and connect again). */

struct net_client;

/* Connects to host:port (a numeric address or a name), sends ApiVersions
 * (v3, falling back to v0 on UNSUPPORTED_VERSION) and keeps the broker's
 * versions. 0; -ECONNREFUSED, -EHOSTUNREACH, -ETIMEDOUT, -EBADMSG (not
 * Kafka), -EPROTO (an error code in ApiVersions), -ENOMEM. */
int net_client_connect(const char *host, int port, int64_t timeout_ms, struct net_client **out);
void net_client_close(struct net_client *c);
/* The largest version of api_key that both sides support, or -EOPNOTSUPP. */
int net_client_version(const struct net_client *c, int16_t api_key);
/* SaslHandshake v1 with mech (SCRAM-SHA-256 or SCRAM-SHA-512), then
 * SaslAuthenticate until the
 * server proves itself. When the server gives the session a lifetime
 * (KIP-368), the client keeps copies of user and password and
 * net_client_call re-authenticates first once 85..95% of it has passed;
 * a refusal then is that call's error. 0; -EACCES refused (wrong user or password),
 * -EKEYREJECTED the server does not know the password, -EOPNOTSUPP the
 * server does not offer mech, -EPROTO another handshake error
 * (ILLEGAL_SASL_STATE: already authenticated), other sasl.h errors. A
 * refusal by either side is logged with the user, the peer and the reason
 * (the password never); transport errors are left to the caller. */
int net_client_sasl(struct net_client *c, enum sasl_mech mech, const char *user,
		    const char *password, int64_t timeout_ms);
/* A response read by net_client_call: the whole frame (after its size)
 * and a reader over its body (after the response header). */
struct net_resp {
	uint8_t *frame;
	size_t len;
	struct kbuf_r body;
};
void net_resp_free(struct net_resp *resp);
/* Sends one request (header from api_key, api_version, a fresh
 * correlation id; then body_len bytes of body) and reads its response,
 * which must carry the same correlation id (-EBADMSG otherwise). The
 * response is at most max_resp bytes (0: socket.request.max.bytes'
 * default), else -EMSGSIZE. */
int net_client_call(struct net_client *c, int16_t api_key, int16_t api_version, const void *body,
		    size_t body_len, size_t max_resp, int64_t timeout_ms, struct net_resp *resp);
/* ListOffsets LATEST (v1+) of one partition: its log end for a replica
 * (replica_id >= 0), its hw for a consumer (-1), in leader_epoch (-1:
 * unchecked). 0 with *offset, or *err (the partition's error) set and
 * *offset untouched; -EOPNOTSUPP (the broker lacks v1), -EBADMSG or the
 * call's -errno. */
int net_client_list_latest(struct net_client *c, const char *topic, int32_t partition,
			   int32_t replica_id, int32_t leader_epoch, int64_t timeout_ms,
			   int64_t *offset, int16_t *err);
/* The socket, for tests that need to misbehave. */
int net_client_fd(const struct net_client *c);
/* Whether an idle connection (no call in progress) can still carry a
 * request: false once the peer closed it or sent something unasked. A
 * pool checks before reuse, so that a request is not written into a
 * connection the peer already left (the request would be lost, and the
 * caller could not tell whether it was served). */
bool net_client_idle_ok(const struct net_client *c);
/* While a call waits on the socket, fd (not read nor closed here; -1:
 * none) becoming readable ends it with -EINTR, and the connection is then
 * unusable as after any error: the owner's way to give up a long wait,
 * such as a fetcher given a new partition while its Fetch is parked at
 * the leader for replica.fetch.wait.max.ms. */
void net_client_set_wake(struct net_client *c, int fd);

#endif
