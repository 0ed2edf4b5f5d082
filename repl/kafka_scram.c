/*
 * kafka_scram.c — DescribeUserScramCredentials (50) and
 * AlterUserScramCredentials (51) on the broker listener: what
 * `kafka-configs.sh --bootstrap-server ... --entity-type users` sends
 * (KIP-554), answered as Kafka's ZooKeeper-mode broker answers them.
 *
 * The users are those of /config/users/<user> (zkdata.h), the same
 * znodes `mqfs --add-scram-user` writes; every broker picks a change up
 * from its /config/changes notice. Both of Kafka's mechanisms are served:
 * SCRAM-SHA-256 (Kafka's type 1) and SCRAM-SHA-512 (2), each user with a
 * credential of either or both, under the mechanism's name in the znode.
 *
 * Describe: null or no names, every user with a credential, sorted (a
 * /config/users/<u> holding client quotas only is not one); named
 * users in the order asked, each once: RESOURCE_NOT_FOUND for one without
 * a credential (or an empty name), DUPLICATE_RESOURCE for one named twice.
 * Each credential as its mechanism and iterations (never its salt or
 * keys), SCRAM-SHA-256's first. In a cluster ZooKeeper is read, so a
 * change is seen at once; a single node has one user, its JAAS
 * setting's, with a credential of each mechanism.
 *
 * Alter: the client sends the salted password (Hi(password, salt, i)),
 * never the password; the broker derives StoredKey and ServerKey from it
 * and writes the znode. One result per user named, Kafka's rules in
 * Kafka's order:
 *   - an empty name: UNACCEPTABLE_CREDENTIAL; an unknown mechanism:
 *     UNSUPPORTED_SASL_MECHANISM; iterations outside 4096..16384 (Kafka's
 *     minimum of either mechanism, its maximum): UNACCEPTABLE_CREDENTIAL;
 *     also a name ZooKeeper's path cannot hold (zk_user_name_valid), a
 *     salt of 0 or over 64 bytes, a salted password that is not the
 *     mechanism's hash long (32 bytes, 64 for SCRAM-SHA-512);
 *   - a user whose (user, mechanism) is named twice: DUPLICATE_RESOURCE;
 *   - the deletion of a credential that is not there: RESOURCE_NOT_FOUND;
 *   - else written (or deleted): NONE.
 * A user with any refused operation has none of its operations done; a
 * user's operations are one write of its znode, as Kafka's.
 * Only the active controller alters: any other broker answers
 * NOT_CONTROLLER for every user named (Kafka's ZooKeeper mode), and the
 * client sends it again to the controller its Metadata names.
 * Who may alter: with an authorizer, those with ALTER on the cluster (as
 * Kafka); without one, on a SASL connection only the brokers' own user
 * (any user could otherwise change the brokers' password and lock them
 * out of each other) and on PLAINTEXT anyone, as for the controller's
 * requests; else CLUSTER_AUTHORIZATION_FAILED for every user named. A single node,
 * whose user is its sasl.jaas.config setting, answers INVALID_REQUEST.
 * Each change and each refusal is logged with the asker.
 *
 * Threads: a listener worker; ZooKeeper calls under cluster_with_zk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/cluster.h"
#include "repl/kafka_api.h"
#include "repl/kafka_authz.h"
#include "repl/kmsg.h"
#include "repl/proto.h"
#include "repl/sasl.h"
#include "repl/zkc.h"
#include "repl/zkdata.h"
#include "repl/zkmeta.h"
#include "util/diaglog.h"

/* The largest user name kept (longer: refused, never cut). */
#define NAME_CAP (SASL_MAX_USER + 1)

/* ---- Describe ---- */

/* Reads user's credential from ZooKeeper (cluster_with_zk's fn). */
struct user_read {
	const char *user;
	struct sasl_user_creds creds;
	char why[ZK_WHY_LEN];
};

static int read_user(struct zkc *zk, void *arg)
{
	struct user_read *u = arg;

	return zkmeta_scram_user(zk, u->user, &u->creds, NULL, NULL, u->why);
}

/* Every user's name under /config/users (cluster_with_zk's fn). */
struct user_list {
	char **names;
	int n;
};

static int list_users(struct zkc *zk, void *arg)
{
	struct user_list *l = arg;
	int n = zkc_children(zk, ZK_CONFIG_USERS_PATH, &l->names, NULL, NULL);

	if (n >= 0)
		l->n = n;
	return n < 0 ? n : 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The credential of one user into res: the cluster's from ZooKeeper, a
 * single node's from its one user. -ENOENT when there is none. */
static int user_info(struct kafka_api *ka, const char *user, struct proto_scram_user_result *res,
		     const char *peer)
{
	struct user_read u = { .user = user };
	int rc;

	if (cluster_zk_mode(ka->c)) {
		rc = cluster_with_zk(ka->c, read_user, &u);
		if (rc == -EINVAL)
			rc = -ENOENT; /* a name no znode can have */
		if (rc == -EBADMSG) {
			mq_log_limited(MQ_WARN,
				       "DescribeUserScramCredentials from %s: /config/users/%s "
				       "does not decode (%s)",
				       peer, user, u.why);
			res->error_code = PROTO_ERR_UNKNOWN_SERVER_ERROR;
			res->error_message = kstr_of("the stored credential does not decode");
			return 0;
		}
	} else {
		struct cluster_scram_user *v = NULL;
		int n = cluster_scram_users(ka->c, &v);

		rc = n < 0 ? n : -ENOENT;
		for (int i = 0; i < n && rc == -ENOENT; i++)
			if (!strcmp(v[i].user, user)) {
				u.creds = v[i].creds;
				rc = 0;
			}
		free(v);
	}
	if (rc < 0)
		return rc;
	for (int m = 0; m < SASL_N_MECH; m++) {
		if (!u.creds.by_mech[m].iterations)
			continue;
		res->infos[res->n_infos].mechanism = (int8_t)(PROTO_SCRAM_SHA_256 + m);
		res->infos[res->n_infos].iterations = u.creds.by_mech[m].iterations;
		res->n_infos++;
	}
	explicit_bzero(&u.creds, sizeof(u.creds));
	return 0;
}

/* The names a null (or empty) list means, sorted, malloc'ed. */
static int all_users(struct kafka_api *ka, struct user_list *l)
{
	int rc = 0;

	if (cluster_zk_mode(ka->c)) {
		rc = cluster_with_zk(ka->c, list_users, l);
	} else {
		struct cluster_scram_user *v = NULL;
		int n = cluster_scram_users(ka->c, &v);

		if (n < 0)
			return n;
		l->names = calloc((size_t)n + 1, sizeof(*l->names));
		for (int i = 0; l->names && i < n; i++)
			if ((l->names[l->n] = strdup(v[i].user)))
				l->n++;
		free(v);
		if (!l->names || l->n < n)
			rc = -ENOMEM;
	}
	if (rc == 0)
		qsort(l->names, (size_t)l->n, sizeof(*l->names), name_cmp);
	return rc;
}

static int describe_handler(void *arg, struct net_req *req)
{
	struct kafka_api *ka = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_describe_scram_req *dr = &pr->u.describe_scram;
	struct proto_describe_scram_resp resp = { 0 };
	struct user_list all = { 0 };
	char name[NAME_CAP];
	int32_t n = dr->n_users > 0 ? dr->n_users : 0;
	size_t pos;
	int rc = 0;

	if (n == 0) {
		rc = all_users(ka, &all);
		n = all.n;
	}
	resp.results = calloc((size_t)n + 1, sizeof(*resp.results));
	if (!resp.results) {
		rc = -ENOMEM;
		goto out;
	}
	if (rc < 0) {
		/* ZooKeeper could not list them: the message's error. */
		resp.error_code = proto_err_from_errno(rc);
		resp.error_message = kstr_of(strerror(-rc));
		mq_log_limited(MQ_WARN, "DescribeUserScramCredentials from %s: %s",
			       net_req_peer(req), strerror(-rc));
		rc = 0;
	}
	/* KafkaApis: DESCRIBE on the cluster, else the request's error, and
	 * (DescribeUserScramCredentialsRequest.getErrorResponse) one result
	 * per user asked, duplicates too, each with that error and an empty
	 * name (Kafka never sets it). */
	if (rc == 0 && resp.error_code == 0 && !kafka_authorize_cluster(req, ACL_OP_DESCRIBE)) {
		resp.error_code = PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED;
		for (int32_t i = 0; !all.names && i < n; i++)
			resp.results[resp.n_results++] = (struct proto_scram_user_result){
				.user = kstr_of(""),
				.error_code = PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED,
				.error_message = KSTR_NULL,
			};
	}
	for (int32_t i = 0; rc == 0 && resp.error_code == 0 && i < n; i++) {
		struct proto_scram_user_result *res = &resp.results[resp.n_results];
		struct kstr user = all.names ? kstr_of(all.names[i]) : dr->users[i];
		bool seen = false, twice = false;

		for (int32_t j = 0; !all.names && j < dr->n_users; j++)
			if (kstr_same(dr->users[j], user)) {
				seen |= j < i;
				twice |= j != i;
			}
		if (seen)
			continue; /* answered once, at its first mention */
		resp.n_results++;
		res->user = user;
		if (user.len <= 0) {
			res->error_code = PROTO_ERR_RESOURCE_NOT_FOUND;
			res->error_message = kstr_of("Username must not be empty");
			continue;
		}
		if (twice) {
			res->error_code = PROTO_ERR_DUPLICATE_RESOURCE;
			res->error_message = kstr_of("Cannot describe SCRAM credentials for the "
						     "same user twice in a single request");
			continue;
		}
		if ((size_t)user.len >= sizeof(name) || memchr(user.ptr, '\0', (size_t)user.len)) {
			rc = -ENOENT;
		} else {
			memcpy(name, user.ptr, (size_t)user.len);
			name[user.len] = '\0';
			rc = user_info(ka, name, res, net_req_peer(req));
		}
		if (rc == -ENOENT && all.names) {
			/* Listed in /config/users for its client quotas
			 * only (or the quotas' <default>): not a SCRAM user. */
			memset(res, 0, sizeof(*res));
			resp.n_results--;
			rc = 0;
		} else if (rc == -ENOENT) {
			res->error_code = PROTO_ERR_RESOURCE_NOT_FOUND;
			res->error_message = kstr_of("Attempt to describe a user credential that "
						     "does not exist");
			rc = 0;
		} else if (rc < 0 && rc != -ENOMEM) {
			res->error_code = proto_err_from_errno(rc);
			rc = 0;
		}
	}
	if (rc == 0) {
		pos = net_req_begin(req);
		rc = proto_describe_scram_resp_encode(&net_req_out(req)->w, pr->hdr.api_version,
						      &resp);
		if (rc == 0)
			rc = net_req_end(req, pos);
	}
out:
	free(resp.results);
	zkc_names_free(all.names, all.n);
	return rc;
}

/* ---- Alter ---- */

enum user_op { OP_NONE, OP_SET, OP_DELETE };

/* One user named by the request: its outcome and what is to be done. */
struct alter_user {
	struct kstr user;
	int16_t error_code;
	const char *error_message;
	enum user_op op[SASL_N_MECH];       /* by mechanism */
	int n_ops[SASL_N_MECH];             /* its operations on each mechanism */
	struct sasl_cred cred[SASL_N_MECH]; /* what OP_SET writes */
	char name[NAME_CAP];
};

struct alter_ask {
	struct alter_user *u;
	int n;
};

static struct alter_user *user_of(struct alter_ask *a, struct kstr name)
{
	for (int i = 0; i < a->n; i++)
		if (kstr_same(a->u[i].user, name))
			return &a->u[i];
	a->u[a->n].user = name;
	return &a->u[a->n++];
}

static void refuse(struct alter_user *u, int16_t code, const char *msg)
{
	if (u->error_code == 0) {
		u->error_code = code;
		u->error_message = msg;
	}
}

/* The checks of one operation that need nothing but the request. */
static void check_op(struct alter_user *u, int8_t mechanism, bool upsert, int32_t iterations)
{
	if (u->user.len <= 0) {
		refuse(u, PROTO_ERR_UNACCEPTABLE_CREDENTIAL, "Username must not be empty");
		return;
	}
	if (mechanism != PROTO_SCRAM_SHA_256 && mechanism != PROTO_SCRAM_SHA_512) {
		refuse(u, PROTO_ERR_UNSUPPORTED_SASL_MECHANISM, "Unknown SCRAM mechanism");
		return;
	}
	if (upsert && iterations < SASL_MIN_ITERATIONS) {
		refuse(u, PROTO_ERR_UNACCEPTABLE_CREDENTIAL, "Too few iterations");
		return;
	}
	if (upsert && iterations > SASL_MAX_ITERATIONS) {
		refuse(u, PROTO_ERR_UNACCEPTABLE_CREDENTIAL, "Too many iterations");
		return;
	}
	if ((size_t)u->user.len >= sizeof(u->name) ||
	    memchr(u->user.ptr, '\0', (size_t)u->user.len)) {
		refuse(u, PROTO_ERR_UNACCEPTABLE_CREDENTIAL,
		       "user name: 1 to 255 of A-Z a-z 0-9 . _ @ -");
		return;
	}
	memcpy(u->name, u->user.ptr, (size_t)u->user.len);
	u->name[u->user.len] = '\0';
	if (!zk_user_name_valid(u->name))
		refuse(u, PROTO_ERR_UNACCEPTABLE_CREDENTIAL,
		       "user name: 1 to 255 of A-Z a-z 0-9 . _ @ -");
	u->n_ops[mechanism - PROTO_SCRAM_SHA_256]++;
	u->op[mechanism - PROTO_SCRAM_SHA_256] = upsert ? OP_SET : OP_DELETE;
}

/* Writes and deletes one user's credentials, in one write
 * (cluster_with_zk's fn): -ENOENT, nothing done, when one to delete is
 * not there. */
static int apply_user(struct zkc *zk, void *arg)
{
	struct alter_user *u = arg;
	const struct sasl_cred *set[SASL_N_MECH] = { 0 };
	bool del[SASL_N_MECH] = { 0 };

	for (int m = 0; m < SASL_N_MECH; m++) {
		set[m] = u->op[m] == OP_SET ? &u->cred[m] : NULL;
		del[m] = u->op[m] == OP_DELETE;
	}
	return zkmeta_scram_user_alter(zk, u->name, set, del);
}

/* The user's operations done, for the log ("SCRAM-SHA-256 set (iterations
 * 4096), SCRAM-SHA-512 deleted"). */
static void ops_text(const struct alter_user *u, char *buf, size_t cap)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int m = 0; m < SASL_N_MECH; m++) {
		int n = 0;

		if (u->op[m] == OP_SET)
			n = snprintf(buf + o, cap - o, "%s%s set (iterations %d)", o ? ", " : "",
				     sasl_mech_name((enum sasl_mech)m), u->cred[m].iterations);
		else if (u->op[m] == OP_DELETE)
			n = snprintf(buf + o, cap - o, "%s%s deleted", o ? ", " : "",
				     sasl_mech_name((enum sasl_mech)m));
		if (n < 0 || (size_t)n >= cap - o)
			return;
		o += (size_t)n;
	}
}

static int alter_answer(struct net_req *req, const struct alter_ask *a)
{
	const struct proto_req *pr = net_req_msg(req);
	struct proto_alter_scram_resp resp = { 0 };
	size_t pos;
	int rc;

	resp.results = calloc((size_t)a->n + 1, sizeof(*resp.results));
	if (!resp.results)
		return -ENOMEM;
	for (int i = 0; i < a->n; i++) {
		resp.results[i].user = a->u[i].user;
		resp.results[i].error_code = a->u[i].error_code;
		resp.results[i].error_message =
			a->u[i].error_message ? kstr_of(a->u[i].error_message) : KSTR_NULL;
	}
	resp.n_results = a->n;
	pos = net_req_begin(req);
	rc = proto_alter_scram_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &resp);
	if (rc == 0)
		rc = net_req_end(req, pos);
	free(resp.results);
	return rc;
}

static int user_cmp(const void *a, const void *b)
{
	const struct alter_user *x = a, *y = b;
	int32_t lx = x->user.len > 0 ? x->user.len : 0, ly = y->user.len > 0 ? y->user.len : 0;
	int c = memcmp(x->user.ptr ? x->user.ptr : "", y->user.ptr ? y->user.ptr : "",
		       (size_t)(lx < ly ? lx : ly));

	return c ? c : (lx > ly) - (lx < ly);
}

/* Every user named gets code: the whole request is refused, each user
 * once and sorted by name (AlterUserScramCredentialsRequest's
 * getErrorResponse). */
static void refuse_all(struct alter_ask *a, int16_t code, const char *msg)
{
	qsort(a->u, (size_t)a->n, sizeof(*a->u), user_cmp);
	for (int i = 0; i < a->n; i++)
		refuse(&a->u[i], code, msg);
}

static int alter_handler(void *arg, struct net_req *req)
{
	struct kafka_api *ka = arg;
	const struct proto_alter_scram_req *ar = &net_req_msg(req)->u.alter_scram;
	const char *asker = net_req_user(req), *peer = net_req_peer(req);
	struct alter_ask a = { 0 };
	int rc;

	a.u = calloc((size_t)ar->n_deletions + (size_t)ar->n_upsertions + 1, sizeof(*a.u));
	if (!a.u)
		return -ENOMEM;
	for (int32_t i = 0; i < ar->n_deletions; i++)
		user_of(&a, ar->deletions[i].name);
	for (int32_t i = 0; i < ar->n_upsertions; i++)
		user_of(&a, ar->upsertions[i].name);

	if (!cluster_zk_mode(ka->c)) {
		mq_log_limited(MQ_WARN,
			       "AlterUserScramCredentials from %s refused: a single node's SCRAM "
			       "user is its sasl.jaas.config setting",
			       peer);
		refuse_all(&a, PROTO_ERR_INVALID_REQUEST,
			   "a single node's SCRAM user is its sasl.jaas.config setting");
		goto answer;
	}
	/* Only the active controller alters users, before it asks who may
	 * (KafkaApis, ZooKeeper mode): any other broker answers NOT_CONTROLLER
	 * and the client asks the controller its Metadata names. */
	if (!cluster_is_controller(ka->c)) {
		mq_log_limited(MQ_INFO, "AlterUserScramCredentials from %s: NOT_CONTROLLER", peer);
		refuse_all(&a, PROTO_ERR_NOT_CONTROLLER,
			   "This is not the correct controller for this cluster.");
		goto answer;
	}
	/* With the authorizer: ALTER on the cluster (KafkaApis); without,
	 * only the brokers' user (else anyone could lock them out). */
	if (net_req_authz(req) ? !kafka_authorize_cluster(req, ACL_OP_ALTER)
			       : asker && !cluster_is_brokers_user(ka->c, asker)) {
		mq_log_limited(MQ_WARN,
			       "AlterUserScramCredentials from %s (user %s) refused: only the "
			       "brokers' user may change SCRAM users",
			       peer, asker ? asker : "ANONYMOUS");
		refuse_all(&a, PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED,
			   "only the brokers' user may change SCRAM users");
		goto answer;
	}

	/* 1. what the request alone refuses, for every operation first */
	for (int32_t i = 0; i < ar->n_deletions; i++)
		check_op(user_of(&a, ar->deletions[i].name), ar->deletions[i].mechanism, false, 0);
	for (int32_t i = 0; i < ar->n_upsertions; i++) {
		const struct proto_scram_upsertion *up = &ar->upsertions[i];
		struct alter_user *u = user_of(&a, up->name);

		check_op(u, up->mechanism, true, up->iterations);
		/* No error yet: this operation's mechanism is one of ours. */
		enum sasl_mech m = (enum sasl_mech)(up->mechanism - PROTO_SCRAM_SHA_256);
		if (u->error_code == 0 &&
		    sasl_cred_from_salted(
			    m, (const uint8_t *)up->salted_password.ptr,
			    up->salted_password.len > 0 ? (size_t)up->salted_password.len : 0,
			    (const uint8_t *)up->salt.ptr,
			    up->salt.len > 0 ? (size_t)up->salt.len : 0, up->iterations,
			    &u->cred[m]) < 0)
			refuse(u, PROTO_ERR_UNACCEPTABLE_CREDENTIAL,
			       m == SASL_SHA_512 ? "a salt of 1 to 64 bytes and a salted password "
						   "of 64 (SCRAM-SHA-512) are expected"
						 : "a salt of 1 to 64 bytes and a salted password "
						   "of 32 (SCRAM-SHA-256) are expected");
	}
	/* 2. the same (user, mechanism) twice */
	for (int i = 0; i < a.n; i++)
		for (int m = 0; m < SASL_N_MECH; m++)
			if (a.u[i].n_ops[m] > 1)
				refuse(&a.u[i], PROTO_ERR_DUPLICATE_RESOURCE,
				       "A user credential cannot be altered twice in the same "
				       "request");
	/* 3. done, user by user */
	for (int i = 0; i < a.n; i++) {
		struct alter_user *u = &a.u[i];

		if (u->error_code) {
			mq_log_limited(
				MQ_WARN,
				"AlterUserScramCredentials from %s%s%s: user %.*s refused: %s",
				peer, asker ? " as " : "", asker ? asker : "",
				(int)(u->user.len > 0 ? u->user.len : 0),
				u->user.ptr ? u->user.ptr : "", u->error_message);
			continue;
		}
		rc = cluster_with_zk(ka->c, apply_user, u);
		if (rc == -ENOENT) {
			refuse(u, PROTO_ERR_RESOURCE_NOT_FOUND,
			       "Attempt to delete a user credential that does not exist");
		} else if (rc < 0) {
			refuse(u, proto_err_from_errno(rc), strerror(-rc));
		}
		if (u->error_code)
			mq_log_limited(MQ_WARN, "AlterUserScramCredentials from %s: user %s: %s",
				       peer, u->name, u->error_message);
		else {
			char done[128];

			ops_text(u, done, sizeof(done));
			mq_log(MQ_INFO, "SCRAM user %s: %s by %s%s%s", u->name, done, peer,
			       asker ? " as " : "", asker ? asker : "");
		}
		explicit_bzero(u->cred, sizeof(u->cred));
	}
answer:
	rc = alter_answer(req, &a);
	free(a.u);
	return rc;
}

int kafka_scram_register(struct kafka_api *ka, struct net_server *srv)
{
	int rc = net_server_handle(srv, PROTO_API_DESCRIBE_USER_SCRAM_CREDENTIALS, describe_handler,
				   ka);

	return rc ? rc
		  : net_server_handle(srv, PROTO_API_ALTER_USER_SCRAM_CREDENTIALS, alter_handler,
				      ka);
}
