/*
 * kafka_acls.c — DescribeAcls (29), CreateAcls (30) and DeleteAcls (31) on
 * the broker listener: what kafka-acls.sh and Admin.describeAcls /
 * createAcls / deleteAcls send, answered as Kafka's AclApis answers them.
 *
 * Without authorizer.class.name: SECURITY_DISABLED ("No Authorizer is
 * configured on the broker") for the DescribeAcls request, each creation
 * and each deletion filter, logged once in a while with the asker.
 *
 * With it (acl.h):
 *   - CreateAcls and DeleteAcls need ALTER on the cluster, DescribeAcls
 *     DESCRIBE on it; refused: CLUSTER_AUTHORIZATION_FAILED for the
 *     request, each creation or each filter;
 *   - a creation that cannot be stored (acl_binding_invalid: an unknown
 *     or ANY type, operation or permission, a pattern other than LITERAL
 *     or PREFIXED, an empty name, a cluster not named kafka-cluster, a
 *     principal not Type:name, an empty host, a name with '/') is
 *     INVALID_REQUEST with the reason; a creation or filter with an
 *     UNKNOWN code (0) closes the connection unanswered, as Kafka's
 *     request does not parse (unknown_code);
 *   - the rest is written to ZooKeeper one resource at a time
 *     (acl_zk_update: conditional on the znode's version, a change notice
 *     after it) and into this broker's cache at once; the others' caches
 *     follow the notice. A ZooKeeper failure is UNKNOWN_SERVER_ERROR for
 *     the creations or filters of that resource, with its reason;
 *   - DeleteAcls deletes, per resource, every binding that a valid filter
 *     matches, and answers each filter with the bindings it matched;
 *   - DescribeAcls answers the cached bindings the filter matches,
 *     grouped by resource.
 *
 * Threads: a listener worker; ZooKeeper calls under cluster_with_zk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/acl.h"
#include "repl/acl_zk.h"
#include "repl/cluster.h"
#include "repl/kafka_api.h"
#include "repl/kafka_authz.h"
#include "repl/proto.h"
#include "util/diaglog.h"

#define NO_AUTHORIZER "No Authorizer is configured on the broker"

static void log_refusal(struct net_req *req, int n)
{
	mq_log_limited(MQ_INFO,
		       "%s from %s%s%s: %d ACL operation(s): no authorizer here "
		       "(SECURITY_DISABLED)",
		       proto_api_find(net_req_msg(req)->hdr.api_key)->name, net_req_peer(req),
		       net_req_user(req) ? " as " : "", net_req_user(req) ? net_req_user(req) : "",
		       n);
}

/* The wire's binding as ours: a null string stays NULL (a filter's
 * "any"). 0 or -ENOMEM. */
static char *str_of(struct kstr s, bool *fail)
{
	char *d;

	if (!s.ptr || s.len < 0)
		return NULL;
	d = strndup(s.ptr, (size_t)s.len);
	*fail |= !d;
	return d;
}

static int entry_of(const struct proto_acl *p, struct acl_entry *e)
{
	bool fail = false;

	e->resource_type = p->resource_type;
	e->pattern_type = p->pattern_type;
	e->operation = p->operation;
	e->permission = p->permission_type;
	e->resource_name = str_of(p->resource_name, &fail);
	e->principal = str_of(p->principal, &fail);
	e->host = str_of(p->host, &fail);
	return fail ? -ENOMEM : 0;
}

/* Ours as the wire's: the strings point into e (which outlives it). */
static void wire_of(const struct acl_entry *e, struct proto_acl *p)
{
	p->resource_type = e->resource_type;
	p->pattern_type = e->pattern_type;
	p->operation = e->operation;
	p->permission_type = e->permission;
	p->resource_name = kstr_of(e->resource_name);
	p->principal = kstr_of(e->principal);
	p->host = kstr_of(e->host);
}

/* Kafka's CreateAclsRequest, DeleteAclsRequest and DescribeAclsRequest
 * throw in validate() when a creation or filter has the UNKNOWN code (0)
 * as its resource type, pattern type, operation or permission type: the
 * request does not parse, and Kafka's Processor closes the connection
 * unanswered (InvalidRequestException), before any authorization. The
 * same here: -EINVAL (the listener closes the connection), logged. */
static int unknown_code(struct net_req *req, const struct proto_acl *a, int32_t n)
{
	for (int32_t i = 0; i < n; i++) {
		struct acl_entry e = { .resource_type = a[i].resource_type,
				       .pattern_type = a[i].pattern_type,
				       .operation = a[i].operation,
				       .permission = a[i].permission_type };
		const char *what = acl_code_unknown(&e);

		if (what) {
			mq_log_limited(MQ_WARN,
				       "%s from %s: entry %d has the UNKNOWN %s (0): the request "
				       "does not parse, as in Kafka; closing the connection",
				       proto_api_find(net_req_msg(req)->hdr.api_key)->name,
				       net_req_peer(req), (int)i, what);
			return -EINVAL;
		}
	}
	return 0;
}

static int cmp_resource(const void *a, const void *b)
{
	const struct acl_entry *x = a, *y = b;
	int c = x->resource_type - y->resource_type;

	if (c == 0)
		c = x->pattern_type - y->pattern_type;
	return c ? c : strcmp(x->resource_name, y->resource_name);
}

/* ---- DescribeAcls ---- */

static int describe_handler(void *arg, struct net_req *req)
{
	struct kafka_api *ka = arg;
	const struct proto_req *pr = net_req_msg(req);
	struct acl_store *s = cluster_acls(ka->c);
	struct proto_describe_acls_resp resp = { 0, 0, KSTR_NULL, 0, NULL };
	struct acl_entry f = { 0 }, *found = NULL;
	int n = 0, rc;
	size_t pos;

	if ((rc = unknown_code(req, &pr->u.describe_acls.filter, 1)) < 0)
		return rc;
	if (!s) {
		resp.error_code = PROTO_ERR_SECURITY_DISABLED;
		resp.error_message = kstr_of(NO_AUTHORIZER);
		log_refusal(req, 1);
	} else if (!kafka_authorize_cluster(req, ACL_OP_DESCRIBE)) {
		resp.error_code = PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED;
	} else if ((rc = entry_of(&pr->u.describe_acls.filter, &f)) < 0) {
		goto out;
	} else if ((n = acl_store_find(s, &f, &found)) < 0) {
		rc = n;
		n = 0;
		goto out;
	} else {
		qsort(found, (size_t)n, sizeof(*found), cmp_resource);
		resp.acls = calloc((size_t)n + 1, sizeof(*resp.acls));
		if (!resp.acls) {
			rc = -ENOMEM;
			goto out;
		}
		for (int i = 0; i < n; i++)
			wire_of(&found[i], &resp.acls[i]);
		resp.n_acls = n;
	}
	pos = net_req_begin(req);
	rc = proto_describe_acls_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &resp);
	if (rc == 0)
		rc = net_req_end(req, pos);
out:
	free(resp.acls);
	acl_entries_free(found, n);
	free(f.resource_name);
	free(f.principal);
	free(f.host);
	return rc;
}

/* ---- CreateAcls and DeleteAcls: one resource's update ---- */

/* One resource's znode change (cluster_with_zk's fn). */
struct res_update {
	struct acl_store *s;
	const struct acl_entry *res; /* its type, pattern and name */
	const struct acl_entry *add; /* CreateAcls' bindings of it */
	int n_add;
	const struct acl_entry *filters; /* DeleteAcls' filters */
	int n_filters;
	struct acl_entry *removed;
	int n_removed;
};

static bool drop_matched(void *arg, const struct acl_entry *e)
{
	const struct res_update *u = arg;

	for (int i = 0; i < u->n_filters; i++)
		if (acl_filter_matches(&u->filters[i], e))
			return true;
	return false;
}

static int apply_update(struct zkc *zk, void *arg)
{
	struct res_update *u = arg;
	struct acl_entry *now;
	int n_now, rc;

	rc = acl_zk_update(zk, u->res->resource_type, u->res->pattern_type, u->res->resource_name,
			   u->add, u->n_add, u->filters ? drop_matched : NULL, u, &u->removed,
			   &u->n_removed, &now, &n_now);
	if (rc == 0)
		acl_store_set_resource(u->s, u->res->resource_type, u->res->pattern_type,
				       u->res->resource_name, now, n_now);
	return rc;
}

static void log_change(struct net_req *req, const char *what, const struct acl_entry *e)
{
	mq_log(MQ_INFO, "ACL %s by %s%s%s: %s %s %s on %s:%s:%s from host %s", what,
	       net_req_peer(req), net_req_user(req) ? " as " : "",
	       net_req_user(req) ? net_req_user(req) : "", e->principal,
	       acl_perm_name(e->permission), acl_op_name(e->operation),
	       acl_type_path_name(e->resource_type),
	       e->pattern_type == ACL_PAT_LITERAL ? "LITERAL" : "PREFIXED", e->resource_name,
	       e->host);
}

/* The results of a request refused whole (no authorizer, or not
 * allowed): n of code and message. */
static int refuse_all(struct net_req *req, int32_t n, int16_t code, const char *msg)
{
	const struct proto_req *pr = net_req_msg(req);
	bool create = pr->hdr.api_key == PROTO_API_CREATE_ACLS;
	struct proto_acls_result_resp resp = { 0, n, NULL };
	size_t pos;
	int rc;

	resp.results = calloc((size_t)n + 1, sizeof(*resp.results));
	if (!resp.results)
		return -ENOMEM;
	for (int32_t i = 0; i < n; i++) {
		resp.results[i].error_code = code;
		resp.results[i].error_message = msg ? kstr_of(msg) : KSTR_NULL;
	}
	pos = net_req_begin(req);
	rc = create ? proto_create_acls_resp_encode(&net_req_out(req)->w, pr->hdr.api_version,
						    &resp)
		    : proto_delete_acls_resp_encode(&net_req_out(req)->w, pr->hdr.api_version,
						    &resp);
	free(resp.results);
	return rc ? rc : net_req_end(req, pos);
}

/* Whether the request is refused whole; answered then (*rc). */
static bool refused_whole(struct kafka_api *ka, struct net_req *req, int32_t n, int *rc)
{
	if (!cluster_acls(ka->c)) {
		log_refusal(req, n);
		*rc = refuse_all(req, n, PROTO_ERR_SECURITY_DISABLED, NO_AUTHORIZER);
		return true;
	}
	if (!kafka_authorize_cluster(req, ACL_OP_ALTER)) {
		*rc = refuse_all(req, n, PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED, NULL);
		return true;
	}
	return false;
}

static int send_results(struct net_req *req, struct proto_acls_result_resp *resp)
{
	const struct proto_req *pr = net_req_msg(req);
	size_t pos = net_req_begin(req);
	int rc = pr->hdr.api_key == PROTO_API_CREATE_ACLS
			 ? proto_create_acls_resp_encode(&net_req_out(req)->w, pr->hdr.api_version,
							 resp)
			 : proto_delete_acls_resp_encode(&net_req_out(req)->w, pr->hdr.api_version,
							 resp);

	return rc ? rc : net_req_end(req, pos);
}

static bool same_res(const struct acl_entry *a, const struct acl_entry *b)
{
	return a->resource_type == b->resource_type && a->pattern_type == b->pattern_type &&
	       !strcmp(a->resource_name, b->resource_name);
}

/* ---- CreateAcls ---- */

static int create_handler(void *arg, struct net_req *req)
{
	struct kafka_api *ka = arg;
	const struct proto_create_acls_req *m = &net_req_msg(req)->u.create_acls;
	int32_t n = m->n_creations;
	struct proto_acls_result_resp resp = { 0, n, NULL };
	struct acl_entry *e = NULL;
	bool *done = NULL;
	int rc = unknown_code(req, m->creations, n);

	if (rc < 0 || refused_whole(ka, req, n, &rc))
		return rc;
	e = calloc((size_t)n + 1, sizeof(*e));
	done = calloc((size_t)n + 1, sizeof(*done));
	resp.results = calloc((size_t)n + 1, sizeof(*resp.results));
	if (!e || !done || !resp.results) {
		rc = -ENOMEM;
		goto out;
	}
	for (int32_t i = 0; i < n && rc == 0; i++) {
		const char *invalid;

		rc = entry_of(&m->creations[i], &e[i]);
		if (rc == 0 && (invalid = acl_binding_invalid(&e[i]))) {
			resp.results[i].error_code = PROTO_ERR_INVALID_REQUEST;
			resp.results[i].error_message = kstr_of(invalid);
			done[i] = true;
		}
	}
	/* One update per resource, with every creation of it. */
	for (int32_t i = 0; i < n && rc == 0; i++) {
		struct acl_entry *add;
		struct res_update u = { 0 };
		int k = 0, zrc;

		if (done[i])
			continue;
		add = calloc((size_t)n + 1, sizeof(*add));
		if (!add) {
			rc = -ENOMEM;
			break;
		}
		for (int32_t j = i; j < n; j++)
			if (!done[j] && same_res(&e[i], &e[j]))
				add[k++] = e[j]; /* shallow: e keeps the strings */
		u.s = cluster_acls(ka->c);
		u.res = &e[i];
		u.add = add;
		u.n_add = k;
		zrc = cluster_with_zk(ka->c, apply_update, &u);
		acl_entries_free(u.removed, u.n_removed);
		free(add);
		for (int32_t j = i; j < n; j++) {
			if (done[j] || !same_res(&e[i], &e[j]))
				continue;
			done[j] = true;
			if (zrc < 0) {
				resp.results[j].error_code = PROTO_ERR_UNKNOWN_SERVER_ERROR;
				resp.results[j].error_message = kstr_of(strerror(-zrc));
			} else {
				log_change(req, "created", &e[j]);
			}
		}
		if (zrc == -ENOMEM)
			rc = zrc;
	}
	if (rc == 0)
		rc = send_results(req, &resp);
out:
	acl_entries_free(e, n);
	free(done);
	free(resp.results);
	return rc;
}

/* ---- DeleteAcls ---- */

static int delete_handler(void *arg, struct net_req *req)
{
	struct kafka_api *ka = arg;
	const struct proto_delete_acls_req *m = &net_req_msg(req)->u.delete_acls;
	struct acl_store *s = cluster_acls(ka->c);
	int32_t n = m->n_filters;
	struct proto_acls_result_resp resp = { 0, n, NULL };
	struct acl_entry *f = NULL, *cand = NULL, *gone = NULL;
	int n_cand = 0, n_gone = 0, cap_gone = 0, rc = unknown_code(req, m->filters, n);

	if (rc < 0 || refused_whole(ka, req, n, &rc))
		return rc;
	f = calloc((size_t)n + 1, sizeof(*f));
	resp.results = calloc((size_t)n + 1, sizeof(*resp.results));
	if (!f || !resp.results) {
		rc = -ENOMEM;
		goto out;
	}
	for (int32_t i = 0; i < n && rc == 0; i++)
		rc = entry_of(&m->filters[i], &f[i]);
	/* The resources of the cached bindings some filter matches: each
	 * updated in ZooKeeper against what it holds there. */
	struct acl_entry anyf = { ACL_RES_ANY, ACL_PAT_ANY, ACL_OP_ANY, ACL_PERM_ANY,
				  NULL,        NULL,        NULL };
	if (rc == 0 && n > 0 && (n_cand = acl_store_find(s, &anyf, &cand)) < 0) {
		rc = n_cand;
		n_cand = 0;
	}
	if (rc == 0)
		qsort(cand, (size_t)n_cand, sizeof(*cand), cmp_resource);
	for (int i = 0; rc == 0 && i < n_cand; i++) {
		struct res_update u = { s, &cand[i], NULL, 0, f, n, NULL, 0 };
		bool matched = false;
		int zrc;

		if (i > 0 && same_res(&cand[i - 1], &cand[i]))
			continue;
		for (int j = i; j < n_cand && same_res(&cand[i], &cand[j]) && !matched; j++)
			matched = drop_matched(&u, &cand[j]);
		if (!matched)
			continue;
		zrc = cluster_with_zk(ka->c, apply_update, &u);
		if (zrc < 0) {
			/* Kafka answers the filters that matched it with the error. */
			for (int32_t k = 0; k < n; k++)
				if (acl_filter_matches(&f[k], &cand[i])) {
					resp.results[k].error_code = PROTO_ERR_UNKNOWN_SERVER_ERROR;
					resp.results[k].error_message = kstr_of(strerror(-zrc));
				}
			continue;
		}
		if (n_gone + u.n_removed > cap_gone) {
			int c = (n_gone + u.n_removed) * 2 + 8;
			struct acl_entry *g = realloc(gone, (size_t)c * sizeof(*g));

			if (!g) {
				acl_entries_free(u.removed, u.n_removed);
				rc = -ENOMEM;
				break;
			}
			gone = g;
			cap_gone = c;
		}
		for (int k = 0; k < u.n_removed; k++)
			log_change(req, "deleted", &u.removed[k]);
		memcpy(gone + n_gone, u.removed, (size_t)u.n_removed * sizeof(*gone));
		n_gone += u.n_removed;
		free(u.removed);
	}
	/* Each filter's deleted bindings (wire strings point into gone). */
	for (int32_t k = 0; rc == 0 && k < n; k++) {
		struct proto_acls_result *res = &resp.results[k];

		if (res->error_code)
			continue;
		res->matching = calloc((size_t)n_gone + 1, sizeof(*res->matching));
		if (!res->matching) {
			rc = -ENOMEM;
			break;
		}
		for (int g = 0; g < n_gone; g++)
			if (acl_filter_matches(&f[k], &gone[g]))
				wire_of(&gone[g], &res->matching[res->n_matching++]);
	}
	if (rc == 0)
		rc = send_results(req, &resp);
out:
	for (int32_t k = 0; resp.results && k < n; k++)
		free(resp.results[k].matching);
	free(resp.results);
	acl_entries_free(f, n);
	acl_entries_free(cand, n_cand);
	acl_entries_free(gone, n_gone);
	return rc;
}

int kafka_acls_register(struct kafka_api *ka, struct net_server *srv)
{
	int rc = net_server_handle(srv, PROTO_API_DESCRIBE_ACLS, describe_handler, ka);

	if (rc == 0)
		rc = net_server_handle(srv, PROTO_API_CREATE_ACLS, create_handler, ka);
	return rc ? rc : net_server_handle(srv, PROTO_API_DELETE_ACLS, delete_handler, ka);
}
