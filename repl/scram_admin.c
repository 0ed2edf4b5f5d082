/*
 * scram_admin.c — SCRAM users in ZooKeeper without Kafka (repl.h,
 * "SCRAM users"): what `kafka-configs.sh --zookeeper ... --alter
 * --add-config 'SCRAM-SHA-256=[iterations=4096,password=...]'
 * --entity-type users --entity-name NAME` does (or SCRAM-SHA-512), for
 * `mqfs --add-scram-user`. A short session of its own; the password never
 * leaves this process: only the salted credential is written.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "repl/repl.h"
#include "repl/zkmeta.h"

#define SCRAM_ADMIN_TIMEOUT_MS 10000

static int admin_open(const char *connect, struct zkc **zk, char *err, size_t errlen)
{
	int rc = zkc_open(connect, SCRAM_ADMIN_TIMEOUT_MS, SCRAM_ADMIN_TIMEOUT_MS, NULL, NULL, zk);

	if (rc < 0) {
		snprintf(err, errlen, "ZooKeeper %s: %s", connect, strerror(-rc));
		return rc;
	}
	rc = zkmeta_ensure_paths(*zk);
	if (rc < 0) {
		snprintf(err, errlen, "ZooKeeper %s: %s", connect, strerror(-rc));
		zkc_close(*zk);
	}
	return rc;
}

/* The mechanism named (NULL: SCRAM-SHA-256), or -EINVAL with err. */
static int admin_mech(const char *mechanism, enum sasl_mech *mech, char *err, size_t errlen)
{
	*mech = SASL_SHA_256;
	if (mechanism && sasl_mech_of(mechanism, strlen(mechanism), mech) < 0) {
		snprintf(err, errlen, "mechanism '%s': expected %s or %s", mechanism,
			 SASL_SCRAM_SHA_256, SASL_SCRAM_SHA_512);
		return -EINVAL;
	}
	return 0;
}

int scram_admin_add(const char *connect, const char *mechanism, const char *user,
		    const char *password, char *err, size_t errlen)
{
	enum sasl_mech mech;
	struct sasl_cred cred;
	struct zkc *zk;
	int rc;

	if ((rc = admin_mech(mechanism, &mech, err, errlen)) < 0)
		return rc;
	if (!zk_user_name_valid(user)) {
		snprintf(err, errlen, "user name '%s': expected 1 to %d of A-Z a-z 0-9 . _ @ -",
			 user, SASL_MAX_USER);
		return -EINVAL;
	}
	rc = sasl_cred_from_password(mech, password, NULL, 0, SASL_MIN_ITERATIONS, &cred);
	if (rc < 0) {
		snprintf(err, errlen, "cannot derive the credential: %s", strerror(-rc));
		return rc;
	}
	rc = admin_open(connect, &zk, err, errlen);
	if (rc < 0)
		return rc;
	rc = zkmeta_scram_user_set(zk, user, &cred);
	explicit_bzero(&cred, sizeof(cred));
	if (rc < 0)
		snprintf(err, errlen, "%s/%s: %s", ZK_CONFIG_USERS_PATH, user, strerror(-rc));
	zkc_close(zk);
	return rc;
}

int scram_admin_delete(const char *connect, const char *mechanism, const char *user, char *err,
		       size_t errlen)
{
	enum sasl_mech mech;
	struct zkc *zk;
	int rc;

	if ((rc = admin_mech(mechanism, &mech, err, errlen)) < 0)
		return rc;
	if (!zk_user_name_valid(user)) {
		snprintf(err, errlen, "user name '%s' is not valid", user);
		return -EINVAL;
	}
	rc = admin_open(connect, &zk, err, errlen);
	if (rc < 0)
		return rc;
	rc = zkmeta_scram_user_delete(zk, user, mech);
	if (rc < 0)
		snprintf(err, errlen, "%s/%s: %s%s", ZK_CONFIG_USERS_PATH, user,
			 rc == -ENOENT ? "no such user with a credential of " : strerror(-rc),
			 rc == -ENOENT ? sasl_mech_name(mech) : "");
	zkc_close(zk);
	return rc;
}
