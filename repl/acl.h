/*
 * acl.h — private to repl/: Kafka's ZooKeeper-era authorizer
 * (kafka.security.authorizer.AclAuthorizer): the ACL bindings every
 * broker caches, the rule that decides a request, and the documents
 * ZooKeeper keeps them in, as Kafka writes them so that Kafka's own tools
 * reading the znodes agree.
 *
 * ZooKeeper layout (Kafka's ZkData: AclZNode, ExtendedAclZNode,
 * AclChangeNotificationZNode):
 *   /kafka-acl/<Type>/<name>                  LITERAL patterns
 *   /kafka-acl-extended/prefixed/<Type>/<name> PREFIXED patterns
 *     {"version":1,"acls":[{"principal":"User:alice",
 *      "permissionType":"Allow","operation":"Read","host":"*"}]}
 *     <Type> is Topic, Group, Cluster, TransactionalId, DelegationToken,
 *     User; operations in Kafka's CamelCase (Read, IdempotentWrite,
 *     DescribeConfigs, ...), permission Allow or Deny.
 *   /kafka-acl-changes/acl_changes_<seq>       "TOPIC:<name>" (a literal
 *     resource changed)
 *   /kafka-acl-extended-changes/acl_changes_<seq>
 *     {"version":1,"resourceType":"TOPIC","name":"p","patternType":"PREFIXED"}
 *
 * The rule (AclAuthorizer.authorize), for a principal, host, operation
 * and resource (type, name):
 *   1. a super user (super.users, and the brokers' own user) is allowed;
 *   2. the ACLs of the resource are those of its type whose pattern
 *      matches the name: LITERAL equal, LITERAL "*", PREFIXED a prefix;
 *      none at all: allowed only with allow.everyone.if.no.acl.found;
 *   3. an ACL applies when its principal is the one asking or User:*, its
 *      host the one asking from or "*";
 *   4. a DENY that applies for the operation (or ALL) refuses;
 *   5. an ALLOW that applies for the operation (or ALL) allows; for
 *      DESCRIBE an ALLOW of READ, WRITE, DELETE or ALTER does too, for
 *      DESCRIBE_CONFIGS one of ALTER_CONFIGS;
 *   6. else refused.
 *
 * Threads: an acl_store is read by the listener's workers (a read lock)
 * and replaced by the cluster thread (the write lock); the rest keeps no
 * state.
 */
#ifndef MQFS_REPL_ACL_H
#define MQFS_REPL_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Kafka's codes (ResourceType, PatternType, AclOperation,
 * AclPermissionType), as the wire carries them. */
enum acl_resource_type {
	ACL_RES_UNKNOWN = 0,
	ACL_RES_ANY = 1,
	ACL_RES_TOPIC = 2,
	ACL_RES_GROUP = 3,
	ACL_RES_CLUSTER = 4,
	ACL_RES_TRANSACTIONAL_ID = 5,
	ACL_RES_DELEGATION_TOKEN = 6,
	ACL_RES_USER = 7,
};
enum acl_pattern {
	ACL_PAT_UNKNOWN = 0,
	ACL_PAT_ANY = 1,
	ACL_PAT_MATCH = 2,
	ACL_PAT_LITERAL = 3,
	ACL_PAT_PREFIXED = 4,
};
enum acl_op {
	ACL_OP_UNKNOWN = 0,
	ACL_OP_ANY = 1,
	ACL_OP_ALL = 2,
	ACL_OP_READ = 3,
	ACL_OP_WRITE = 4,
	ACL_OP_CREATE = 5,
	ACL_OP_DELETE = 6,
	ACL_OP_ALTER = 7,
	ACL_OP_DESCRIBE = 8,
	ACL_OP_CLUSTER_ACTION = 9,
	ACL_OP_DESCRIBE_CONFIGS = 10,
	ACL_OP_ALTER_CONFIGS = 11,
	ACL_OP_IDEMPOTENT_WRITE = 12,
	ACL_OP_CREATE_TOKENS = 13,
	ACL_OP_DESCRIBE_TOKENS = 14,
};
enum acl_perm {
	ACL_PERM_UNKNOWN = 0,
	ACL_PERM_ANY = 1,
	ACL_PERM_DENY = 2,
	ACL_PERM_ALLOW = 3,
};

#define ACL_CLUSTER_NAME  "kafka-cluster"
#define ACL_WILDCARD      "*"
#define ACL_ANONYMOUS     "User:ANONYMOUS"
#define ACL_PRINCIPAL_MAX 320 /* "User:" and a SASL user name */
#define ACL_PATH          "/kafka-acl"
#define ACL_EXT_PATH      "/kafka-acl-extended/prefixed"
#define ACL_CHANGES       "/kafka-acl-changes"
#define ACL_EXT_CHANGES   "/kafka-acl-extended-changes"
#define ACL_CHANGE_PREFIX "acl_changes_"

/* One binding (CreateAcls' creation, a stored ACL) or, with ANY / MATCH
 * codes and NULL strings, a filter (DescribeAcls, DeleteAcls). Strings
 * malloc'd by whoever built it (acl_entries_free). */
struct acl_entry {
	int8_t resource_type, pattern_type, operation, permission;
	char *resource_name, *principal, *host;
};
void acl_entries_free(struct acl_entry *v, int n);
/* A deep copy into *out: 0 or -ENOMEM. */
int acl_entry_copy(const struct acl_entry *e, struct acl_entry *out);

/* Kafka's names: "Topic" (the znode paths' SecurityUtils.resourceTypeName),
 * "TOPIC" (the change notices), "Read", "Allow"; NULL for a code that is
 * not a concrete one. */
const char *acl_type_path_name(int rtype);
const char *acl_type_name(int rtype);
const char *acl_op_name(int op);
const char *acl_perm_name(int perm);

/* Why a binding cannot be stored (CreateAcls' INVALID_REQUEST cases,
 * AclApis and AclAuthorizer.validateAclBinding; and a name with '/',
 * which would make another znode path): NULL when it can. */
const char *acl_binding_invalid(const struct acl_entry *e);
/* Which code of a creation or filter is UNKNOWN (0), which Kafka's
 * CreateAcls, DeleteAcls and DescribeAcls requests do not parse with
 * (the connection is closed): NULL when none is. */
const char *acl_code_unknown(const struct acl_entry *f);
/* Whether the filter f matches binding e (Kafka's AclBindingFilter.matches:
 * ANY, MATCH (the binding's pattern would apply to f's name), exact). */
bool acl_filter_matches(const struct acl_entry *f, const struct acl_entry *e);

/* ---- the znodes' documents ---- */

/* The znode of a binding's resource: "/kafka-acl/Topic/t" or
 * "/kafka-acl-extended/prefixed/Topic/p", malloc'ed into *out, however
 * long the name. -EINVAL (not a concrete type or pattern), -ENOMEM. */
int acl_znode_path(char **out, int rtype, int pattern, const char *name);
/* {"version":1,"acls":[...]} of the n bindings' principal, permission,
 * operation, host; malloc'd, NULL on ENOMEM. */
char *acl_json_encode(const struct acl_entry *v, int n);
/* The reverse, each entry given rtype, pattern and name: 0, -EBADMSG
 * (with why, ZK_WHY_LEN), -ENOMEM. An empty znode holds none. */
int acl_json_decode(const char *buf, size_t len, int rtype, int pattern, const char *name,
		    struct acl_entry **out, int *n, char *why);
/* A change notice's data (literal: "TOPIC:t", else the JSON above),
 * malloc'd; NULL on ENOMEM. */
char *acl_change_encode(int rtype, int pattern, const char *name);
/* The reverse: *name malloc'd. -EBADMSG (why), -ENOMEM. */
int acl_change_decode(const char *buf, size_t len, bool extended, int *rtype, int *pattern,
		      char **name, char *why);

/* ---- the cache and the rule ---- */

struct acl_store;
/* super_users: super.users' "User:a;User:b" ("" none), -EINVAL with why
 * when an entry is not "Type:name"; brokers_user: the sasl.jaas.config
 * user, always a super user ("" none). */
int acl_store_new(const char *super_users, const char *brokers_user, bool allow_everyone, char *why,
		  size_t whylen, struct acl_store **out);
void acl_store_free(struct acl_store *s);
/* Replaces every binding of the resource (rtype, pattern, name) by the n
 * given, all of that resource (taken over in every case: v is freed), in
 * place. Only an update that adds to the store's bindings may need
 * memory; without it the resource keeps its old ones. The cluster
 * thread. */
void acl_store_set_resource(struct acl_store *s, int rtype, int pattern, const char *name,
			    struct acl_entry *v, int n);
/* Replaces everything (taken over). */
void acl_store_replace(struct acl_store *s, struct acl_entry *v, int n);
/* Copies of the bindings f matches into *out (malloc'd): their count or
 * -ENOMEM. */
int acl_store_find(struct acl_store *s, const struct acl_entry *f, struct acl_entry **out);
/* The bindings of one resource, copied: the count or -ENOMEM. */
int acl_store_resource(struct acl_store *s, int rtype, int pattern, const char *name,
		       struct acl_entry **out);

/* The rule above. principal "User:x", host the peer's address. */
bool acl_authorize(struct acl_store *s, const char *principal, const char *host, int op, int rtype,
		   const char *name);
/* AclAuthorizer.authorizeByResourceType: whether op is allowed on some
 * resource of the type (InitProducerId without a transactional id:
 * WRITE on any topic). */
bool acl_authorize_any(struct acl_store *s, const char *principal, const char *host, int op,
		       int rtype);
/* The bit field of Kafka's operations of the type (AclEntry.
 * supportedOperations) allowed on the resource: the authorized-operations
 * fields of Metadata, DescribeCluster, DescribeGroups. */
int32_t acl_authorized_ops(struct acl_store *s, const char *principal, const char *host, int rtype,
			   const char *name);
/* Whether the principal is a super user. */
bool acl_super_user(struct acl_store *s, const char *principal);

#endif
