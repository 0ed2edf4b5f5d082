/*
 * kafka_authz.c — the one question every handler of the listener asks
 * before it acts (Kafka's AuthHelper.authorize): may this request's
 * principal do this operation on this resource? Answered by the ACL cache
 * (acl.h) when authorizer.class.name is set, else always yes (Kafka
 * without an authorizer).
 *
 * The principal is User:<the SASL user>, User:ANONYMOUS on a PLAINTEXT
 * connection; the host the peer's address, as Kafka's RequestContext.
 * A refusal is logged (rate limited) as Kafka's authorizer log says it:
 * "Principal = User:bob is Denied Operation = Write from host =
 * 127.0.0.1 on resource = Topic:LITERAL:t".
 *
 * The cache is the listener's authorizer (net_req_authz), so that every
 * handler, whatever its own state, can ask.
 *
 * Threads: listener workers (and a loop thread for a picked Fetch); the
 * cache takes its read lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/acl.h"
#include "repl/kafka_api.h"
#include "repl/kafka_authz.h"
#include "repl/proto.h"
#include "util/diaglog.h"

/* The principal and host of req. */
static void who(const struct net_req *req, char *principal, size_t psize, char *host, size_t hsize)
{
	const char *user = net_req_user(req), *peer = net_req_peer(req), *colon;
	size_t len;

	if (user)
		snprintf(principal, psize, "User:%s", user);
	else
		snprintf(principal, psize, "%s", ACL_ANONYMOUS);
	/* "1.2.3.4:port" or "[v6]:port": the address alone. */
	colon = strrchr(peer, ':');
	len = colon ? (size_t)(colon - peer) : strlen(peer);
	if (len >= 2 && peer[0] == '[' && peer[len - 1] == ']') {
		peer++;
		len -= 2;
	}
	snprintf(host, hsize, "%.*s", (int)len, peer);
}

/* A resource name fits in this without a malloc when it is at most
 * NAME_BUF - 1 bytes: every topic name (at most 249), and the group and
 * transactional ids clients use. A longer one (the protocol allows 32767
 * bytes) is copied to the heap (kstr_cstr). */
#define NAME_BUF 256

static void log_denied(const char *principal, const char *host, int op, int rtype, const char *name)
{
	const char *opn = acl_op_name(op), *tn = acl_type_path_name(rtype);

	mq_log_limited(MQ_INFO,
		       "Principal = %s is Denied Operation = %s from host = %s on resource = "
		       "%s:LITERAL:%s",
		       principal, opn ? opn : "?", host, tn ? tn : "?", name);
}

static bool authorize(const struct net_req *req, int op, int rtype, struct kstr name, bool log)
{
	struct acl_store *s = net_req_authz(req);
	char principal[ACL_PRINCIPAL_MAX], host[64], buf[NAME_BUF], *heap;
	const char *nm;
	bool ok;

	if (!s)
		return true;
	who(req, principal, sizeof(principal), host, sizeof(host));
	nm = kstr_cstr(name, buf, sizeof(buf), &heap);
	/* Out of memory: refused, never allowed unchecked. */
	ok = nm && acl_authorize(s, principal, host, op, rtype, nm);
	if (!ok && log)
		log_denied(principal, host, op, rtype, nm ? nm : "?");
	free(heap);
	return ok;
}

bool kafka_authorize(const struct net_req *req, int op, int rtype, struct kstr name)
{
	return authorize(req, op, rtype, name, true);
}

bool kafka_may(const struct net_req *req, int op, int rtype, struct kstr name)
{
	return authorize(req, op, rtype, name, false);
}

bool kafka_authorize_cluster(const struct net_req *req, int op)
{
	return kafka_authorize(req, op, ACL_RES_CLUSTER, kstr_of(ACL_CLUSTER_NAME));
}

bool kafka_authorize_any(const struct net_req *req, int op, int rtype)
{
	struct acl_store *s = net_req_authz(req);
	char principal[ACL_PRINCIPAL_MAX], host[64];

	if (!s)
		return true;
	who(req, principal, sizeof(principal), host, sizeof(host));
	return acl_authorize_any(s, principal, host, op, rtype);
}

int32_t kafka_authorized_ops(const struct net_req *req, int rtype, struct kstr name)
{
	struct acl_store *s = net_req_authz(req);
	char principal[ACL_PRINCIPAL_MAX], host[64], buf[NAME_BUF], *heap;
	const char *nm;
	int32_t ops;

	if (!s)
		return rtype == ACL_RES_TOPIC   ? PROTO_OPS_TOPIC
		       : rtype == ACL_RES_GROUP ? PROTO_OPS_GROUP
						: PROTO_OPS_CLUSTER;
	who(req, principal, sizeof(principal), host, sizeof(host));
	nm = kstr_cstr(name, buf, sizeof(buf), &heap);
	ops = nm ? acl_authorized_ops(s, principal, host, rtype, nm) : 0;
	/* Kafka computes them only for a resource it may describe. */
	if (!(ops & (1 << ACL_OP_DESCRIBE)))
		ops = 0;
	free(heap);
	return ops;
}

bool kafka_authorize_fetch(const struct net_req *req, bool replica, struct kstr topic)
{
	/* KafkaApis.handleFetchRequest: a follower's fetch is the cluster's
	 * CLUSTER_ACTION, a consumer's READ on each topic. */
	return replica ? kafka_authorize_cluster(req, ACL_OP_CLUSTER_ACTION)
		       : kafka_authorize(req, ACL_OP_READ, ACL_RES_TOPIC, topic);
}
