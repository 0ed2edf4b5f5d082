/*
 * kafka_quotas.c — DescribeClientQuotas (48) and AlterClientQuotas (49)
 * on the broker listener: what `kafka-configs.sh --bootstrap-server ...
 * --entity-type users|clients [--entity-name N | --entity-default]`
 * sends (KIP-546), answered as Kafka's ZooKeeper-mode broker
 * (ZkAdminManager) answers them. The quotas live in ZooKeeper
 * (client_quota_zk.c); every broker's table follows the /config/changes
 * notice each change writes.
 *
 * An entity is a set of (type, name) parts, types "user" and
 * "client-id", a null name the default entity (<default> in
 * ZooKeeper); names are kept sanitized there (client_quota_sanitize).
 *
 * Alter, entry by entry, Kafka's rules, each refusal INVALID_REQUEST
 * with Kafka's message: an empty entity; a type other than user and
 * client-id ("ip" too: connection-rate quotas are not served); a type
 * twice; an empty name; an unknown key; a byte rate that is not a whole
 * number (or not > 0); request_percentage and controller_mutation_rate,
 * which Kafka knows and this broker does not enforce. A refused op
 * refuses its entry whole; the other entries are done. validate_only
 * checks and writes nothing. Who may alter: as AlterUserScramCredentials
 * (on a SASL connection only the brokers' user, else
 * CLUSTER_AUTHORIZATION_FAILED; on PLAINTEXT anyone). A single node has
 * no ZooKeeper: INVALID_REQUEST for every entry (README, "Client
 * quotas").
 *
 * Describe: the filter's components (type, match: exact name, the
 * default, any), each type once, ip not with user or client-id (else
 * INVALID_REQUEST), a type Kafka does not know UNSUPPORTED_VERSION, as
 * Kafka's; an ip component matches nothing (none is kept); an entity
 * matches when every component matches one of its parts and, strict, it
 * has no other part. The values are the byte rates in effect.
 *
 * Threads: a listener worker; ZooKeeper calls under cluster_with_zk.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/client_quota.h"
#include "repl/client_quota_zk.h"
#include "repl/cluster.h"
#include "repl/kafka_api.h"
#include "repl/kafka_authz.h"
#include "repl/kmsg.h"
#include "repl/proto.h"
#include "repl/zkc.h"
#include "repl/zkdata.h"
#include "repl/zkmeta.h"
#include "util/diaglog.h"

#define TYPE_USER   "user"
#define TYPE_CLIENT "client-id"
#define TYPE_IP     "ip"

/* An entity as ZooKeeper names it: its znode path under /config. */
struct quota_entity {
	bool has_user, has_client;
	char user[CLIENT_QUOTA_MAX_NAME + 1], client[CLIENT_QUOTA_MAX_NAME + 1];
	char path[ZK_PATH_MAX];
};

/* One part's name into out (sanitized, <default> for null). */
static int part_name(struct kstr name, const char *type, char *out, const char **why)
{
	if (!name.ptr) {
		snprintf(out, CLIENT_QUOTA_MAX_NAME + 1, "%s", CLIENT_QUOTA_DEFAULT);
		return 0;
	}
	if (name.len == 0) {
		*why = !strcmp(type, TYPE_USER) ? "Empty user not supported"
						: "Empty client-id not supported";
		return -EINVAL;
	}
	if (client_quota_sanitize(name.ptr, (size_t)name.len, out, CLIENT_QUOTA_MAX_NAME + 1) < 0) {
		*why = "the entity name is too long";
		return -EINVAL;
	}
	return 0;
}

/* Kafka's parseAndSanitizeQuotaEntity. 0, or -EINVAL with why. */
static int entity_parse(const struct proto_quota_part *parts, int32_t n, struct quota_entity *e,
			const char **why)
{
	memset(e, 0, sizeof(*e));
	if (n <= 0) {
		*why = "Invalid empty client quota entity";
		return -EINVAL;
	}
	for (int32_t i = 0; i < n; i++) {
		struct kstr type = parts[i].entity_type;
		bool user = kstr_eq(type, TYPE_USER), client = kstr_eq(type, TYPE_CLIENT);

		if (kstr_eq(type, TYPE_IP)) {
			*why = "ip quotas (connection_creation_rate) are not supported by this "
			       "broker";
			return -EINVAL;
		}
		if (!user && !client) {
			*why = "Unhandled client quota entity type";
			return -EINVAL;
		}
		if ((user && e->has_user) || (client && e->has_client)) {
			*why = "Duplicate entity type in the client quota entity";
			return -EINVAL;
		}
		if (part_name(parts[i].entity_name, user ? TYPE_USER : TYPE_CLIENT,
			      user ? e->user : e->client, why) < 0)
			return -EINVAL;
		e->has_user |= user;
		e->has_client |= client;
	}
	int w = e->has_user && e->has_client ? snprintf(e->path, sizeof(e->path),
							"users/%s/clients/%s", e->user, e->client)
		: e->has_user ? snprintf(e->path, sizeof(e->path), "users/%s", e->user)
			      : snprintf(e->path, sizeof(e->path), "clients/%s", e->client);

	if (w < 0 || (size_t)w >= sizeof(e->path)) {
		*why = "the entity's names are too long for a ZooKeeper path";
		return -EINVAL;
	}
	return 0;
}

/* ---- Alter ---- */

struct alter_one {
	const struct quota_entity *e;
	const struct proto_alter_quotas_entry *in;
	char why[160];
};

/* The ops of one entry applied to its entity's config (already checked:
 * check_entry); the znode's other keys stay (a user's SCRAM credential). */
static int edit_entry(struct zk_config *c, void *arg)
{
	const struct proto_alter_quotas_entry *in = arg;
	char why[128];
	int rc = 0;

	for (int32_t j = 0; rc == 0 && j < in->n_ops; j++) {
		const struct proto_quota_op *op = &in->ops[j];
		char key[64], text[32];

		snprintf(key, sizeof(key), "%.*s", (int)op->key.len, op->key.ptr);
		if (op->remove) {
			zk_config_del(c, key);
			continue;
		}
		rc = client_quota_value_text(key, op->value, text, sizeof(text), why, sizeof(why));
		if (rc == 0)
			rc = zk_config_put(c, key, strlen(key), text, strlen(text));
	}
	return rc;
}

/* Writes one entry (cluster_with_zk's fn). */
static int apply_entry(struct zkc *zk, void *arg)
{
	struct alter_one *a = arg;
	char why[ZK_WHY_LEN] = "";
	int rc = zkmeta_edit_entity_config(zk, a->e->path, edit_entry, (void *)a->in, why);

	if (rc == -EBADMSG)
		snprintf(a->why, sizeof(a->why), "/config/%.50s does not decode: %.70s", a->e->path,
			 why);
	return rc;
}

/* The checks that need nothing but the request (Kafka's order: the
 * entity, then each op's key and value). 0 or -EINVAL with why. */
static int check_entry(const struct proto_alter_quotas_entry *in, struct quota_entity *e, char *why,
		       size_t whylen)
{
	const char *w = NULL;

	if (entity_parse(in->parts, in->n_parts, e, &w) < 0) {
		snprintf(why, whylen, "%s", w);
		return -EINVAL;
	}
	for (int32_t j = 0; j < in->n_ops; j++) {
		const struct proto_quota_op *op = &in->ops[j];
		char key[64], text[32];

		if (op->key.len <= 0 || (size_t)op->key.len >= sizeof(key)) {
			snprintf(why, whylen, "Invalid configuration key %.*s",
				 op->key.len > 0 ? (int)op->key.len : 0,
				 op->key.ptr ? op->key.ptr : "");
			return -EINVAL;
		}
		snprintf(key, sizeof(key), "%.*s", (int)op->key.len, op->key.ptr);
		if (op->remove)
			continue;
		if (client_quota_value_text(key, op->value, text, sizeof(text), why, whylen) < 0)
			return -EINVAL;
	}
	return 0;
}

/* The ops of an entry as a log line's text. */
static void ops_text(const struct proto_alter_quotas_entry *in, char *buf, size_t size)
{
	size_t at = 0;

	buf[0] = '\0';
	for (int32_t j = 0; j < in->n_ops && at < size; j++) {
		const struct proto_quota_op *op = &in->ops[j];
		int w = op->remove ? snprintf(buf + at, size - at, "%s-%.*s", j ? "," : "",
					      (int)op->key.len, op->key.ptr)
				   : snprintf(buf + at, size - at, "%s%.*s=%.0f", j ? "," : "",
					      (int)op->key.len, op->key.ptr, op->value);

		if (w < 0)
			break;
		at += (size_t)w;
	}
}

static int alter_handler(void *arg, struct net_req *req)
{
	struct kafka_api *ka = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_alter_quotas_req *ar = &pr->u.alter_quotas;
	const char *asker = net_req_user(req), *peer = net_req_peer(req);
	struct proto_alter_quotas_resp resp = { 0 };
	char(*why)[160] = calloc((size_t)ar->n_entries + 1, sizeof(*why));
	size_t pos;
	int rc;

	resp.results = calloc((size_t)ar->n_entries + 1, sizeof(*resp.results));
	if (!resp.results || !why) {
		rc = -ENOMEM;
		goto out;
	}
	resp.n_results = ar->n_entries;
	for (int32_t i = 0; i < ar->n_entries; i++) {
		const struct proto_alter_quotas_entry *in = &ar->entries[i];
		struct proto_alter_quotas_result *res = &resp.results[i];
		struct quota_entity e;
		char ops[256];

		res->n_parts = in->n_parts;
		memcpy(res->parts, in->parts, sizeof(res->parts));
		if (!cluster_zk_mode(ka->c)) {
			res->error_code = PROTO_ERR_INVALID_REQUEST;
			snprintf(why[i], sizeof(why[i]),
				 "client quotas are kept in ZooKeeper: a single node has none");
		} else if (net_req_authz(req) ? !kafka_authorize_cluster(req, ACL_OP_ALTER_CONFIGS)
					      : asker && !cluster_is_brokers_user(ka->c, asker)) {
			res->error_code = PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED;
			snprintf(why[i], sizeof(why[i]), "%s",
				 net_req_authz(req)
					 ? "no ALTER_CONFIGS on the cluster"
					 : "only the brokers' user may change client quotas");
		} else if (check_entry(in, &e, why[i], sizeof(why[i])) < 0) {
			res->error_code = PROTO_ERR_INVALID_REQUEST;
		} else if (!ar->validate_only) {
			struct alter_one one = { .e = &e, .in = in };

			rc = cluster_with_zk(ka->c, apply_entry, &one);
			if (rc < 0) {
				res->error_code = rc == -EBADMSG ? PROTO_ERR_INVALID_REQUEST
								 : proto_err_from_errno(rc);
				snprintf(why[i], sizeof(why[i]), "%s",
					 one.why[0] ? one.why : strerror(-rc));
			}
		}
		ops_text(in, ops, sizeof(ops));
		if (res->error_code) {
			/* The authorizer's refusal is Kafka's error answer, whose
			 * message is null (the error's own); why is for the log. */
			res->error_message =
				res->error_code == PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED &&
						net_req_authz(req)
					? KSTR_NULL
					: kstr_of(why[i]);
			mq_log_limited(MQ_WARN, "AlterClientQuotas from %s%s%s: %s refused: %s",
				       peer, asker ? " as " : "", asker ? asker : "",
				       ops[0] ? ops : "(no ops)", why[i]);
		} else if (!ar->validate_only) {
			mq_log(MQ_INFO, "client quota %s: %s by %s%s%s", e.path, ops, peer,
			       asker ? " as " : "", asker ? asker : "");
		}
	}
	pos = net_req_begin(req);
	rc = proto_alter_quotas_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &resp);
	if (rc == 0)
		rc = net_req_end(req, pos);
out:
	free(resp.results);
	free(why);
	return rc;
}

/* ---- Describe ---- */

struct describe_read {
	struct client_quota_entity *ents;
	int n;
};

static int read_all(struct zkc *zk, void *arg)
{
	struct describe_read *d = arg;

	return client_quota_zk_read(zk, &d->ents, &d->n);
}

/* Whether one component matches the entity's part of its type (name
 * sanitized or <default>, NULL: no such part). */
static bool component_match(const struct proto_quota_component *c, const char *part)
{
	char want[CLIENT_QUOTA_MAX_NAME + 1];

	if (!part)
		return false;
	switch (c->match_type) {
	case PROTO_QUOTA_MATCH_DEFAULT: return !strcmp(part, CLIENT_QUOTA_DEFAULT);
	case PROTO_QUOTA_MATCH_ANY: return true;
	default:
		return client_quota_sanitize(c->match.ptr, (size_t)c->match.len, want,
					     sizeof(want)) >= 0 &&
		       !strcmp(part, want);
	}
}

/* Kafka's checks of the filter (ZkAdminManager.describeClientQuotas):
 * 0, -EINVAL (INVALID_REQUEST) or -EOPNOTSUPP (UNSUPPORTED_VERSION: a
 * type Kafka does not know, "Custom entity type"), with why (size
 * whylen). */
static int filter_check(const struct proto_describe_quotas_req *dr, char *why, size_t whylen)
{
	bool user = false, client = false, ip = false;

	for (int32_t i = 0; i < dr->n_components; i++) {
		const struct proto_quota_component *c = &dr->components[i];
		bool u = kstr_eq(c->entity_type, TYPE_USER),
		     k = kstr_eq(c->entity_type, TYPE_CLIENT), p = kstr_eq(c->entity_type, TYPE_IP);

		if (c->entity_type.len <= 0) {
			snprintf(why, whylen, "Unexpected empty filter component entity type");
			return -EINVAL;
		}
		if (!u && !k && !p) {
			snprintf(why, whylen, "Custom entity type '%.*s' not supported",
				 c->entity_type.len > 64 ? 64 : (int)c->entity_type.len,
				 c->entity_type.ptr);
			return -EOPNOTSUPP;
		}
		if ((u && user) || (k && client) || (p && ip)) {
			snprintf(why, whylen, "Duplicate %s filter component entity type",
				 u   ? "user"
				 : k ? "client"
				     : "ip");
			return -EINVAL;
		}
		if (c->match_type < PROTO_QUOTA_MATCH_EXACT ||
		    c->match_type > PROTO_QUOTA_MATCH_ANY) {
			snprintf(why, whylen, "Unexpected match type");
			return -EINVAL;
		}
		if (c->match_type == PROTO_QUOTA_MATCH_EXACT && !c->match.ptr) {
			snprintf(why, whylen, "Exact match requires a name");
			return -EINVAL;
		}
		user |= u;
		client |= k;
		ip |= p;
	}
	if ((user || client) && ip) {
		snprintf(why, whylen,
			 "Invalid entity filter component combination, IP filter component "
			 "should not be used with user or clientId filter component.");
		return -EINVAL;
	}
	return 0;
}

static bool entity_matches(const struct proto_describe_quotas_req *dr,
			   const struct client_quota_entity *e)
{
	bool user = false, client = false;

	for (int32_t i = 0; i < dr->n_components; i++) {
		const struct proto_quota_component *c = &dr->components[i];
		bool u = kstr_eq(c->entity_type, TYPE_USER);

		if (kstr_eq(c->entity_type, TYPE_IP))
			return false; /* no ip entity is kept */
		if (!component_match(c, u ? e->user : e->client))
			return false;
		user |= u;
		client |= !u;
	}
	return !dr->strict || ((!e->user || user) && (!e->client || client));
}

/* One entity of the answer: its parts desanitized (into names, two of
 * CLIENT_QUOTA_MAX_NAME + 1), its byte rates (into v, two). */
static void entry_of(const struct client_quota_entity *e, struct proto_quota_entry *out,
		     char (*names)[CLIENT_QUOTA_MAX_NAME + 1], struct proto_quota_value *v)
{
	const char *parts[2] = { e->user, e->client };
	const char *types[2] = { TYPE_USER, TYPE_CLIENT };

	for (int k = 0; k < 2; k++) {
		struct proto_quota_part *p;

		if (!parts[k])
			continue;
		p = &out->parts[out->n_parts++];
		p->entity_type = kstr_of(types[k]);
		if (!strcmp(parts[k], CLIENT_QUOTA_DEFAULT))
			p->entity_name = KSTR_NULL;
		else if (client_quota_desanitize(parts[k], names[k], CLIENT_QUOTA_MAX_NAME + 1) >=
			 0)
			p->entity_name = kstr_of(names[k]);
		else
			p->entity_name = kstr_of(parts[k]);
	}
	out->values = v;
	if (e->producer_byte_rate >= 0)
		v[out->n_values++] = (struct proto_quota_value){ kstr_of(CLIENT_QUOTA_PRODUCER),
								 (double)e->producer_byte_rate };
	if (e->consumer_byte_rate >= 0)
		v[out->n_values++] = (struct proto_quota_value){ kstr_of(CLIENT_QUOTA_CONSUMER),
								 (double)e->consumer_byte_rate };
}

static int describe_handler(void *arg, struct net_req *req)
{
	struct kafka_api *ka = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_describe_quotas_req *dr = &pr->u.describe_quotas;
	struct proto_describe_quotas_resp resp = { 0 };
	struct describe_read d = { 0 };
	struct proto_quota_value *vals = NULL;
	char(*names)[CLIENT_QUOTA_MAX_NAME + 1] = NULL;
	char filter_why[160];
	const char *why = NULL;
	size_t pos;
	int rc = 0;

	if (!kafka_authorize_cluster(req, ACL_OP_DESCRIBE_CONFIGS)) {
		resp.error_code = PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED;
		why = "Cluster authorization failed.";
	} else if ((rc = filter_check(dr, filter_why, sizeof(filter_why))) < 0) {
		resp.error_code = rc == -EOPNOTSUPP ? PROTO_ERR_UNSUPPORTED_VERSION
						    : PROTO_ERR_INVALID_REQUEST;
		why = filter_why;
		rc = 0;
	} else if (cluster_zk_mode(ka->c)) {
		rc = cluster_with_zk(ka->c, read_all, &d);
		if (rc < 0) {
			resp.error_code = proto_err_from_errno(rc);
			why = strerror(-rc);
			rc = 0;
		}
	}
	if (resp.error_code) {
		resp.n_entries = -1;
		resp.error_message = kstr_of(why);
		mq_log_limited(MQ_WARN, "DescribeClientQuotas from %s refused: %s",
			       net_req_peer(req), why);
	} else {
		resp.entries = calloc((size_t)d.n + 1, sizeof(*resp.entries));
		vals = calloc((size_t)d.n * 2 + 1, sizeof(*vals));
		names = calloc((size_t)d.n * 2 + 1, sizeof(*names));
		if (!resp.entries || !vals || !names) {
			rc = -ENOMEM;
			goto out;
		}
		for (int i = 0; i < d.n; i++)
			if (entity_matches(dr, &d.ents[i]))
				entry_of(&d.ents[i], &resp.entries[resp.n_entries++], &names[i * 2],
					 &vals[i * 2]);
	}
	pos = net_req_begin(req);
	rc = proto_describe_quotas_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &resp);
	if (rc == 0)
		rc = net_req_end(req, pos);
out:
	free(resp.entries);
	free(vals);
	free(names);
	client_quota_entities_free(d.ents, d.n);
	return rc;
}

int kafka_quotas_register(struct kafka_api *ka, struct net_server *srv)
{
	int rc = net_server_handle(srv, PROTO_API_DESCRIBE_CLIENT_QUOTAS, describe_handler, ka);

	return rc ? rc : net_server_handle(srv, PROTO_API_ALTER_CLIENT_QUOTAS, alter_handler, ka);
}
