/*
 * kafka_acls.c — DescribeAcls (29), CreateAcls (30) and DeleteAcls (31) on
 * the broker listener: what kafka-acls.sh and Admin.describeAcls /
 * createAcls / deleteAcls send, answered as Kafka's broker answers them
 * with no authorizer configured (KafkaApis: SECURITY_DISABLED, "No
 * Authorizer is configured on the broker"): for DescribeAcls the whole
 * request, for CreateAcls each creation, for DeleteAcls each filter, with
 * no ACL ever named. mqfs has no ACLs: a SASL user may do what any client
 * may, except what the brokers keep to their own user (the controller's
 * requests, replica fetches, AlterUserScramCredentials). Logged once in a
 * while with the asker, so that an operator who expected ACLs sees why
 * none apply.
 *
 * Threads: a listener worker; no state.
 */
#include <errno.h>

#include "repl/kafka_api.h"
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

static int describe_handler(void *arg, struct net_req *req)
{
	const struct proto_req *pr = net_req_msg(req);
	struct proto_describe_acls_resp resp = { 0, PROTO_ERR_SECURITY_DISABLED, KSTR_NULL };
	size_t pos;
	int rc;

	(void)arg;
	resp.error_message = kstr_of(NO_AUTHORIZER);
	log_refusal(req, 1);
	pos = net_req_begin(req);
	rc = proto_describe_acls_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &resp);
	return rc ? rc : net_req_end(req, pos);
}

/* CreateAcls and DeleteAcls: one refusal per creation or filter. */
static int results_handler(void *arg, struct net_req *req)
{
	const struct proto_req *pr = net_req_msg(req);
	bool create = pr->hdr.api_key == PROTO_API_CREATE_ACLS;
	struct proto_acls_result_resp resp = { 0 };
	size_t pos;
	int rc;

	(void)arg;
	resp.n_results = create ? pr->u.create_acls.n_creations : pr->u.delete_acls.n_filters;
	resp.error_code = PROTO_ERR_SECURITY_DISABLED;
	resp.error_message = kstr_of(NO_AUTHORIZER);
	log_refusal(req, resp.n_results);
	pos = net_req_begin(req);
	rc = create ? proto_create_acls_resp_encode(&net_req_out(req)->w, pr->hdr.api_version,
						    &resp)
		    : proto_delete_acls_resp_encode(&net_req_out(req)->w, pr->hdr.api_version,
						    &resp);
	return rc ? rc : net_req_end(req, pos);
}

int kafka_acls_register(struct kafka_api *ka, struct net_server *srv)
{
	int rc = net_server_handle(srv, PROTO_API_DESCRIBE_ACLS, describe_handler, ka);

	if (rc == 0)
		rc = net_server_handle(srv, PROTO_API_CREATE_ACLS, results_handler, ka);
	return rc ? rc : net_server_handle(srv, PROTO_API_DELETE_ACLS, results_handler, ka);
}
