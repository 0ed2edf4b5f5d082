/*
 * kafka_dtoken.c — CreateDelegationToken (38), RenewDelegationToken (39),
 * ExpireDelegationToken (40) and DescribeDelegationToken (41) on the
 * broker listener of a cluster, answered as Kafka 3.7's ZooKeeper-mode
 * broker answers them (KafkaApis, DelegationTokenManagerZk): what
 * `kafka-delegation-tokens.sh` and Admin.createDelegationToken send.
 *
 * Every broker serves all four (ZooKeeper mode has no forwarding): it
 * writes the token's znode and the change notice, and updates its own
 * cache at once; the other brokers follow the notice (dtoken_zk.h).
 *
 * Refusals, in Kafka's order, each logged with the peer and principal:
 *   - on a PLAINTEXT connection (principal User:ANONYMOUS) or one
 *     authenticated by a token: DELEGATION_TOKEN_REQUEST_NOT_ALLOWED
 *     (Kafka's allowTokenRequests), all four;
 *   - Create: an owner other than the requester (v3) needs CREATE_TOKENS
 *     on the User resource of the owner ("User:name"), else
 *     DELEGATION_TOKEN_AUTHORIZATION_FAILED; a renewer that is not a
 *     User: INVALID_PRINCIPAL_TYPE; an owner name without a type:
 *     INVALID_REQUEST (Kafka fails on the null type);
 *   - tokens disabled (no delegation.token.secret.key):
 *     DELEGATION_TOKEN_AUTH_DISABLED;
 *   - Renew, Expire: an HMAC no token has: DELEGATION_TOKEN_NOT_FOUND; a
 *     principal that is neither the owner nor a renewer:
 *     DELEGATION_TOKEN_OWNER_MISMATCH; a token past its expiry or max
 *     time: DELEGATION_TOKEN_EXPIRED (Expire with a negative period
 *     deletes the token first, expired or not, as Kafka).
 * Times: Create gives max = issue + min(max_lifetime_ms (<= 0: the
 * setting), delegation.token.max.lifetime.ms) and expiry = min(max, issue
 * + delegation.token.expiry.time.ms); Renew sets expiry = min(max, now +
 * period (< 0: expiry.time.ms)); Expire min(max, now + period). Describe
 * lists the tokens of the owners asked (null: all; an empty list: none)
 * that the principal owns or renews, or may DESCRIBE (DelegationToken
 * resource, the token id) or DESCRIBE_TOKENS (User resource, the owner).
 *
 * Threads: a listener worker; ZooKeeper calls under cluster_with_zk.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/acl.h"
#include "repl/cluster.h"
#include "repl/cluster_config.h"
#include "repl/config.h"
#include "repl/dtoken.h"
#include "repl/dtoken_zk.h"
#include "repl/kafka_api.h"
#include "repl/kafka_authz.h"
#include "repl/proto.h"
#include "util/clock.h"
#include "util/diaglog.h"

#define USER_TYPE "User"
#define ANONYMOUS "User:ANONYMOUS"

/* The request's principal, "User:name" (ANONYMOUS on PLAINTEXT). */
static void principal_of(const struct net_req *req, char *out, size_t size)
{
	const char *user = net_req_user(req);

	if (user)
		snprintf(out, size, USER_TYPE ":%s", user);
	else
		snprintf(out, size, "%s", ANONYMOUS);
}

/* "type:name" of a wire principal, or -EINVAL when it does not fit. */
static int principal_text(struct proto_principal p, char *out, size_t size)
{
	int n = snprintf(out, size, "%.*s:%.*s", p.type.len > 0 ? (int)p.type.len : 0,
			 p.type.ptr ? p.type.ptr : "", p.name.len > 0 ? (int)p.name.len : 0,
			 p.name.ptr ? p.name.ptr : "");

	return n < 0 || (size_t)n >= size ? -EINVAL : 0;
}

/* A principal string's parts as wire strings (pointing into p). */
static struct proto_principal wire_of(const char *p)
{
	const char *type, *name;
	size_t tl, nl;

	if (dtoken_principal_split(p, &type, &tl, &name, &nl) < 0)
		return (struct proto_principal){ kstr_of(""), kstr_of(p) };
	return (struct proto_principal){ { type, (int32_t)tl }, { name, (int32_t)nl } };
}

/* Kafka's allowTokenRequests: SASL, not authenticated by a token. */
static bool allowed(const struct net_req *req)
{
	return net_req_user(req) && !net_req_token_auth(req);
}

static void log_refusal(const struct net_req *req, const char *api, const char *principal,
			int16_t err, const char *why)
{
	mq_log_limited(MQ_WARN, "%s from %s (%s) refused: %s%s%s", api, net_req_peer(req),
		       principal, proto_err_name(err), why ? ": " : "", why ? why : "");
}

static int zk_write(struct zkc *zk, void *arg)
{
	return dtoken_zk_write(zk, arg);
}

static int zk_delete(struct zkc *zk, void *arg)
{
	return dtoken_zk_delete(zk, arg);
}

static int64_t add_sat(int64_t a, int64_t b)
{
	int64_t r;

	return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* ---- Create ---- */

static int create_token(struct kafka_api *ka, struct net_req *req, const char *owner,
			const char *requester, const struct proto_create_token_req *m,
			struct dtoken *t, uint8_t hmac[DTOKEN_HMAC_LEN])
{
	const struct cluster_config *cc = &cluster_cfg(ka->c)->cluster;
	struct dtoken_store *s = cluster_tokens(ka->c);
	char id[DTOKEN_ID_MAX + 1];
	int64_t now = now_real_ms(), life;
	int rc;

	rc = dtoken_new_id(id, sizeof(id));
	if (rc == 0)
		rc = dtoken_store_hmac(s, id, hmac);
	if (rc < 0)
		return rc;
	life = m->max_lifetime_ms <= 0 ? cc->token_max_lifetime_ms
				       : min64(m->max_lifetime_ms, cc->token_max_lifetime_ms);
	t->id = strdup(id);
	t->owner = strdup(owner);
	t->requester = strdup(requester);
	t->renewers = calloc((size_t)m->n_renewers + 1, sizeof(char *));
	if (!t->id || !t->owner || !t->requester || !t->renewers)
		return -ENOMEM;
	for (; t->n_renewers < m->n_renewers; t->n_renewers++) {
		char p[DTOKEN_PRINCIPAL_MAX];

		if (principal_text(m->renewers[t->n_renewers], p, sizeof(p)) < 0)
			return -EINVAL;
		if (!(t->renewers[t->n_renewers] = strdup(p)))
			return -ENOMEM;
	}
	t->issue_ms = now;
	t->max_ms = add_sat(now, life);
	t->expiry_ms = min64(t->max_ms, add_sat(now, cc->token_expiry_time_ms));
	rc = cluster_with_zk(ka->c, zk_write, t);
	if (rc == 0)
		rc = dtoken_store_put(s, t);
	if (rc == 0)
		mq_log(MQ_INFO, "delegation token %s created for owner %s by %s (%s)", id, owner,
		       requester, net_req_peer(req));
	return rc;
}

static int create_handler(void *arg, struct net_req *req)
{
	struct kafka_api *ka = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_create_token_req *m = &pr->u.create_token;
	struct proto_create_token_resp resp = { .issue_timestamp_ms = -1,
						.expiry_timestamp_ms = -1,
						.max_timestamp_ms = -1,
						.token_id = kstr_of(""),
						.hmac = kstr_of("") };
	char requester[DTOKEN_PRINCIPAL_MAX], owner[DTOKEN_PRINCIPAL_MAX];
	uint8_t hmac[DTOKEN_HMAC_LEN];
	struct dtoken t = { 0 };
	const char *why = NULL;
	size_t pos;
	int rc = 0;

	principal_of(req, requester, sizeof(requester));
	if (m->owner_name.ptr && m->owner_name.len > 0) {
		if (!m->owner_type.ptr) {
			resp.error_code = PROTO_ERR_INVALID_REQUEST;
			why = "an owner name without a type";
			snprintf(owner, sizeof(owner), "%s", requester);
		} else if (principal_text((struct proto_principal){ m->owner_type, m->owner_name },
					  owner, sizeof(owner)) < 0) {
			resp.error_code = PROTO_ERR_INVALID_REQUEST;
			why = "the owner's name is too long";
			snprintf(owner, sizeof(owner), "%s", requester);
		}
	} else {
		snprintf(owner, sizeof(owner), "%s", requester);
	}
	if (resp.error_code) {
		/* answered below */
	} else if (!allowed(req)) {
		resp.error_code = PROTO_ERR_DELEGATION_TOKEN_REQUEST_NOT_ALLOWED;
		why = net_req_user(req) ? "the connection authenticated with a token"
					: "not a SASL connection";
	} else if (strcmp(owner, requester) &&
		   !kafka_authorize(req, ACL_OP_CREATE_TOKENS, ACL_RES_USER, kstr_of(owner))) {
		resp.error_code = PROTO_ERR_DELEGATION_TOKEN_AUTHORIZATION_FAILED;
		why = "no CREATE_TOKENS on the owner";
	} else {
		for (int32_t i = 0; i < m->n_renewers && !resp.error_code; i++)
			if (!kstr_eq(m->renewers[i].type, USER_TYPE)) {
				resp.error_code = PROTO_ERR_INVALID_PRINCIPAL_TYPE;
				why = "a renewer is not a User";
			}
	}
	if (!resp.error_code && !cluster_tokens(ka->c)) {
		resp.error_code = PROTO_ERR_DELEGATION_TOKEN_AUTH_DISABLED;
		why = "no delegation.token.secret.key";
	}
	if (!resp.error_code) {
		rc = create_token(ka, req, owner, requester, m, &t, hmac);
		if (rc == -EINVAL) {
			resp.error_code = PROTO_ERR_INVALID_REQUEST;
			why = "a renewer's name is too long";
			rc = 0;
		} else if (rc < 0) {
			resp.error_code = proto_err_from_errno(rc);
			mq_log_limited(MQ_WARN, "CreateDelegationToken from %s: %s",
				       net_req_peer(req), strerror(-rc));
			rc = 0;
		} else {
			resp.issue_timestamp_ms = t.issue_ms;
			resp.expiry_timestamp_ms = t.expiry_ms;
			resp.max_timestamp_ms = t.max_ms;
			resp.token_id = kstr_of(t.id);
			resp.hmac = (struct kstr){ (const char *)hmac, DTOKEN_HMAC_LEN };
		}
	}
	if (why)
		log_refusal(req, "CreateDelegationToken", requester, resp.error_code, why);
	resp.owner = wire_of(owner);
	resp.requester = wire_of(requester);
	pos = net_req_begin(req);
	rc = proto_create_token_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &resp);
	if (rc == 0)
		rc = net_req_end(req, pos);
	dtoken_clear(&t);
	return rc;
}

/* ---- Renew, Expire ---- */

/* The answer of a renewal or expiry of m's token by principal. */
static int16_t renew_or_expire(struct kafka_api *ka, struct net_req *req, bool expire,
			       const char *principal, const struct proto_renew_token_req *m,
			       int64_t *expiry, const char **why)
{
	const struct cluster_config *cc = &cluster_cfg(ka->c)->cluster;
	struct dtoken_store *s = cluster_tokens(ka->c);
	struct dtoken t;
	int64_t now = now_real_ms();
	int16_t err = 0;
	int rc;

	if (!allowed(req)) {
		*why = net_req_user(req) ? "the connection authenticated with a token"
					 : "not a SASL connection";
		return PROTO_ERR_DELEGATION_TOKEN_REQUEST_NOT_ALLOWED;
	}
	if (!s) {
		*why = "no delegation.token.secret.key";
		return PROTO_ERR_DELEGATION_TOKEN_AUTH_DISABLED;
	}
	rc = dtoken_store_by_hmac(s, (const uint8_t *)m->hmac.ptr,
				  m->hmac.len > 0 ? (size_t)m->hmac.len : 0, &t);
	if (rc == -ENOENT) {
		*why = "no token has this HMAC";
		return PROTO_ERR_DELEGATION_TOKEN_NOT_FOUND;
	}
	if (rc < 0)
		return proto_err_from_errno(rc);
	if (!dtoken_owner_or_renewer(&t, principal)) {
		*why = "neither the owner nor a renewer";
		err = PROTO_ERR_DELEGATION_TOKEN_OWNER_MISMATCH;
	} else if (expire && m->period_ms < 0) {
		/* Kafka expires at once, expired already or not. */
		rc = cluster_with_zk(ka->c, zk_delete, t.id);
		if (rc == 0) {
			dtoken_store_remove(s, t.id);
			*expiry = now;
			mq_log(MQ_INFO, "delegation token %s of %s expired by %s (%s)", t.id,
			       t.owner, principal, net_req_peer(req));
		}
	} else if (dtoken_expired(&t, now)) {
		*why = "the token expired";
		err = PROTO_ERR_DELEGATION_TOKEN_EXPIRED;
	} else {
		int64_t period =
			!expire && m->period_ms < 0 ? cc->token_expiry_time_ms : m->period_ms;

		t.expiry_ms = min64(t.max_ms, add_sat(now, period));
		rc = cluster_with_zk(ka->c, zk_write, &t);
		if (rc == 0)
			rc = dtoken_store_put(s, &t);
		if (rc == 0) {
			*expiry = t.expiry_ms;
			mq_log(MQ_INFO,
			       "delegation token %s of %s %s by %s (%s): expires at %" PRId64, t.id,
			       t.owner, expire ? "shortened" : "renewed", principal,
			       net_req_peer(req), t.expiry_ms);
		}
	}
	if (rc < 0) {
		*why = strerror(-rc);
		err = proto_err_from_errno(rc);
	}
	dtoken_clear(&t);
	return err;
}

static int renew_handler(void *arg, struct net_req *req)
{
	struct kafka_api *ka = arg;
	const struct proto_req *pr = net_req_msg(req);
	bool expire = pr->hdr.api_key == PROTO_API_EXPIRE_DELEGATION_TOKEN;
	struct proto_renew_token_resp resp = { .expiry_timestamp_ms = -1 };
	char principal[DTOKEN_PRINCIPAL_MAX];
	const char *why = NULL;
	size_t pos;
	int rc;

	principal_of(req, principal, sizeof(principal));
	resp.error_code = renew_or_expire(ka, req, expire, principal, &pr->u.renew_token,
					  &resp.expiry_timestamp_ms, &why);
	if (resp.error_code) {
		resp.expiry_timestamp_ms = -1;
		log_refusal(req, expire ? "ExpireDelegationToken" : "RenewDelegationToken",
			    principal, resp.error_code, why);
	}
	pos = net_req_begin(req);
	rc = proto_renew_token_resp_encode(&net_req_out(req)->w, pr->hdr.api_key,
					   pr->hdr.api_version, &resp);
	return rc ? rc : net_req_end(req, pos);
}

/* ---- Describe ---- */

/* Kafka's DelegationTokenManager.filterToken. */
static bool eligible(const struct net_req *req, const char *principal,
		     const struct proto_describe_tokens_req *m, const struct dtoken *t)
{
	if (m->n_owners >= 0) {
		bool asked = false;

		for (int32_t i = 0; i < m->n_owners && !asked; i++) {
			char p[DTOKEN_PRINCIPAL_MAX];

			asked = principal_text(m->owners[i], p, sizeof(p)) == 0 &&
				dtoken_owner_or_renewer(t, p);
		}
		if (!asked)
			return false;
	}
	return dtoken_owner_or_renewer(t, principal) ||
	       kafka_authorize(req, ACL_OP_DESCRIBE, ACL_RES_DELEGATION_TOKEN, kstr_of(t->id)) ||
	       kafka_authorize(req, ACL_OP_DESCRIBE_TOKENS, ACL_RES_USER, kstr_of(t->owner));
}

static int describe_handler(void *arg, struct net_req *req)
{
	struct kafka_api *ka = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_describe_tokens_req *m = &pr->u.describe_tokens;
	struct proto_describe_tokens_resp resp = { 0 };
	struct dtoken_store *s = cluster_tokens(ka->c);
	struct proto_principal *renewers = NULL;
	char principal[DTOKEN_PRINCIPAL_MAX];
	struct dtoken *all = NULL;
	uint8_t *hmacs = NULL;
	int n = 0, n_renewers = 0, k = 0, rc = 0;
	size_t pos;

	principal_of(req, principal, sizeof(principal));
	if (!allowed(req)) {
		resp.error_code = PROTO_ERR_DELEGATION_TOKEN_REQUEST_NOT_ALLOWED;
		log_refusal(req, "DescribeDelegationToken", principal, resp.error_code,
			    net_req_user(req) ? "the connection authenticated with a token"
					      : "not a SASL connection");
	} else if (!s) {
		resp.error_code = PROTO_ERR_DELEGATION_TOKEN_AUTH_DISABLED;
		log_refusal(req, "DescribeDelegationToken", principal, resp.error_code,
			    "no delegation.token.secret.key");
	} else if (m->n_owners != 0) {
		/* An empty (not null) owner list: none (Kafka's ownersListEmpty). */
		n = dtoken_store_list(s, &all, &hmacs);
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++)
			n_renewers += all[i].n_renewers;
		resp.tokens = calloc((size_t)n + 1, sizeof(*resp.tokens));
		renewers = calloc((size_t)n_renewers + 1, sizeof(*renewers));
		if (!resp.tokens || !renewers) {
			rc = -ENOMEM;
			goto out;
		}
		for (int i = 0; i < n; i++) {
			struct proto_token_desc *d = &resp.tokens[resp.n_tokens];

			if (!eligible(req, principal, m, &all[i]))
				continue;
			d->owner = wire_of(all[i].owner);
			d->requester = wire_of(all[i].requester);
			d->issue_timestamp = all[i].issue_ms;
			d->expiry_timestamp = all[i].expiry_ms;
			d->max_timestamp = all[i].max_ms;
			d->token_id = kstr_of(all[i].id);
			d->hmac = (struct kstr){ (const char *)hmacs + (size_t)i * DTOKEN_HMAC_LEN,
						 DTOKEN_HMAC_LEN };
			d->renewers = &renewers[k];
			d->n_renewers = all[i].n_renewers;
			for (int j = 0; j < all[i].n_renewers; j++)
				renewers[k++] = wire_of(all[i].renewers[j]);
			resp.n_tokens++;
		}
	}
	pos = net_req_begin(req);
	rc = proto_describe_tokens_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &resp);
	if (rc == 0)
		rc = net_req_end(req, pos);
out:
	free(resp.tokens);
	free(renewers);
	dtoken_list_free(all, hmacs, n);
	return rc;
}

int kafka_dtoken_register(struct kafka_api *ka, struct net_server *srv)
{
	int rc = net_server_handle(srv, PROTO_API_CREATE_DELEGATION_TOKEN, create_handler, ka);

	if (rc == 0)
		rc = net_server_handle(srv, PROTO_API_RENEW_DELEGATION_TOKEN, renew_handler, ka);
	if (rc == 0)
		rc = net_server_handle(srv, PROTO_API_EXPIRE_DELEGATION_TOKEN, renew_handler, ka);
	if (rc == 0)
		rc = net_server_handle(srv, PROTO_API_DESCRIBE_DELEGATION_TOKEN, describe_handler,
				       ka);
	return rc;
}
