/*
 * sasl.h — SCRAM-SHA-256 (RFC 5802, RFC 7677) and SCRAM-SHA-512 (the
 * same exchange over SHA-512, as Kafka serves it) for the broker listener:
 * the server side that checks a peer and the client side a broker uses to
 * authenticate to another. Private to repl/. Kafka carries the messages in
 * SaslAuthenticate auth_bytes (proto_sasl.c); this file knows nothing of
 * the transport.
 *
 * The exchange (every message is printable text, attributes "k=value"
 * separated by ','):
 *
 *   client-first  gs2-header client-first-bare
 *                 gs2-header = "n,," or "y,," (no channel binding), or with
 *                 "a=<authzid>" between the commas (must be the user)
 *                 client-first-bare = "n=" saslname ",r=" c-nonce
 *                 [",ext=value"...] (Kafka's extensions; ignored here
 *                 but for tokenauth=true: the name is a delegation
 *                 token's id, checked against the tokens (see
 *                 sasl_server_set_tokens), never the users)
 *   server-first  "r=" c-nonce s-nonce ",s=" base64(salt) ",i=" iterations
 *   client-final  "c=" base64(gs2-header) ",r=" c-nonce s-nonce ",p=" base64(proof)
 *   server-final  "v=" base64(ServerSignature)
 *
 *   saslname: the user name with ',' written "=2C" and '=' written "=3D";
 *   nonces: printable ASCII other than ','.
 *   H, HMAC: SHA-256 and HMAC-SHA-256 (keys and proofs of 32 bytes), or
 *   SHA-512 and HMAC-SHA-512 (64 bytes), after the mechanism
 *   SaltedPassword = PBKDF2-HMAC-H(password, salt, iterations)
 *   ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = H(ClientKey)
 *   ServerKey = HMAC(SaltedPassword, "Server Key")
 *   AuthMessage = client-first-bare "," server-first "," client-final-without-proof
 *   proof = ClientKey XOR HMAC(StoredKey, AuthMessage)
 *   ServerSignature = HMAC(ServerKey, AuthMessage)
 *
 * The server keeps only StoredKey and ServerKey per user and mechanism
 * (struct sasl_cred, as Kafka stores it: "SCRAM-SHA-256=[salt=..,
 * stored_key=..,server_key=..,iterations=4096]", or SCRAM-SHA-512 with keys
 * of 64 bytes, base64 values), so a stolen credential store does not
 * give the password. The proof is checked by recomputing ClientKey and
 * comparing its hash with StoredKey in constant time. Passwords are used as
 * their UTF-8 bytes without SASLprep, as Kafka does.
 *
 * Server states (sasl_server_step moves them; every other input is
 * refused and the state becomes FAILED for good):
 *
 *     START --client-first--> WAIT_FINAL --client-final--> DONE
 *       |                        |
 *       +--------refusal---------+--------> FAILED
 *
 * Refusals, one errno each (the reason string says more, for the log):
 *   -EMSGSIZE   message over SASL_MAX_MSG bytes
 *   -EBADMSG    malformed message: attribute order or syntax, base64,
 *               nonce characters, NUL bytes
 *   -EILSEQ     user name or authzid badly escaped ('=' not followed by
 *               2C or 3D), empty or over SASL_MAX_USER bytes
 *   -EOPNOTSUPP channel binding asked ("p="), mandatory extension ("m="),
 *               an authzid other than the user
 *   -ENOENT     no credentials for the user and the exchange's mechanism
 *               (or unusable ones): refused
 *               at client-final, after a server-first with a made-up
 *               salt, so the answers do not tell which users exist; a
 *               token id (tokenauth=true) no token has: refused at once,
 *               at client-first, as Kafka's ScramSaslServer ("Token
 *               Authentication failed: Invalid tokenId")
 *   -EPROTO     nonce mismatch (client-final of another exchange: replay)
 *   -EBADE      channel binding data is not the gs2 header
 *   -EACCES     wrong proof (wrong password)
 *   -EALREADY   a message after DONE or FAILED (the same exchange replayed)
 * The client adds: -EPROTO server nonce not extending ours, -EINVAL
 * iterations outside 4096..16384, -EACCES the server sent "e=",
 * -EKEYREJECTED the server's signature is wrong (it does not know the
 * password: not the broker we meant).
 * -ENOMEM and -EIO (libcrypto failed) can come from any call.
 *
 * Threads: a server or client object belongs to one connection, one
 * thread at a time; the lookup callback is called from sasl_server_step.
 */
#ifndef MQFS_REPL_SASL_H
#define MQFS_REPL_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SASL_SCRAM_SHA_256  "SCRAM-SHA-256"
#define SASL_SCRAM_SHA_512  "SCRAM-SHA-512"
#define SASL_MIN_ITERATIONS 4096 /* Kafka's ScramMechanism, both mechanisms */
#define SASL_MAX_ITERATIONS 16384
#define SASL_MAX_SALT       64
#define SASL_MAX_USER       255
#define SASL_MAX_MSG        2048
#define SASL_MAX_KEY_LEN    64 /* SHA-512's; SHA-256 uses the first 32 */

/* The mechanisms, in Kafka's order (its ScramMechanism type is the value
 * plus 1). */
enum sasl_mech { SASL_SHA_256, SASL_SHA_512, SASL_N_MECH };

/* "SCRAM-SHA-256" or "SCRAM-SHA-512". */
const char *sasl_mech_name(enum sasl_mech mech);
/* The mechanism named exactly name (len bytes, case as Kafka's): 0, or
 * -ENOENT. */
int sasl_mech_of(const char *name, size_t len, enum sasl_mech *mech);
/* Bytes of a key, a salted password, a proof: 32 or 64. */
size_t sasl_key_len(enum sasl_mech mech);

/* A user's credential for one mechanism: keys of sasl_key_len(mech)
 * bytes. */
struct sasl_cred {
	enum sasl_mech mech;
	uint8_t salt[SASL_MAX_SALT];
	size_t salt_len;
	uint8_t stored_key[SASL_MAX_KEY_LEN];
	uint8_t server_key[SASL_MAX_KEY_LEN];
	int iterations;
};

/* A user's credentials, by mechanism (one with iterations 0: none of that
 * mechanism), as a /config/users znode holds them. */
struct sasl_user_creds {
	struct sasl_cred by_mech[SASL_N_MECH];
};

/* Derives mech's credential of password with salt (salt NULL: 32 random
 * bytes). -EINVAL for iterations outside the limits, a salt of 0 or more
 * than SASL_MAX_SALT bytes, no such mechanism. */
int sasl_cred_from_password(enum sasl_mech mech, const char *password, const uint8_t *salt,
			    size_t salt_len, int iterations, struct sasl_cred *cred);
/* The credential of a password a client salted itself (Kafka's
 * AlterUserScramCredentials carries Hi(password, salt, iterations),
 * sasl_key_len(mech) bytes, never the password). -EINVAL for a salted
 * password of another length, a salt of 0 or more than SASL_MAX_SALT
 * bytes, iterations outside the limits. */
int sasl_cred_from_salted(enum sasl_mech mech, const uint8_t *salted, size_t salted_len,
			  const uint8_t *salt, size_t salt_len, int iterations,
			  struct sasl_cred *cred);
/* Parses mech's "salt=..,stored_key=..,server_key=..,iterations=N", bare
 * (as a /config/users znode holds it under the mechanism's name) or in
 * "<mechanism>=[...]"; -EINVAL when malformed, wrapped in another
 * mechanism's name, or with keys of another length. */
int sasl_cred_parse(enum sasl_mech mech, const char *text, struct sasl_cred *cred);
/* Formats as "<mechanism>=[salt=..,stored_key=..,server_key=..,
 * iterations=N]"; the length, or -ENOSPC. */
int sasl_cred_format(const struct sasl_cred *cred, char *buf, size_t cap);

/* The key of the made-up salts answered to unknown users (-ENOENT above)
 * becomes HMAC-SHA-256(secret, a constant). The brokers of a cluster set
 * their shared inter-broker password, so that they answer an unknown user
 * with the same salt, as they answer a real one (a salt that differs
 * between brokers would tell). Unset: a random key of this process. 0 or
 * -EIO. */
int sasl_mock_secret_set(const char *secret);

/* Finds user's credential for mech: 0, or -ENOENT. */
typedef int (*sasl_lookup_fn)(void *arg, const char *user, enum sasl_mech mech,
			      struct sasl_cred *cred);

struct sasl_server;

/* A server of one exchange with mech (the SaslHandshake's): -EINVAL for
 * no such mechanism, -ENOMEM. */
int sasl_server_new(enum sasl_mech mech, sasl_lookup_fn lookup, void *arg,
		    struct sasl_server **out);
void sasl_server_free(struct sasl_server *s);
/* Uses this server nonce part instead of 24 random bytes (tests and test
 * vectors); printable, no ','. 0 or -EINVAL. */
int sasl_server_set_nonce(struct sasl_server *s, const char *nonce);
/* Takes the client's next message. 0: send *out and wait for the next;
 * 1: authenticated, send *out (server-final); -errno: refused (see the
 * list above), send nothing but Kafka's error. *out stays valid until the
 * next call or free. */
int sasl_server_step(struct sasl_server *s, const uint8_t *in, size_t in_len, const char **out,
		     size_t *out_len);
/* Finds a delegation token's credential for mech, its owner's name (the part
 * after "User:") and its expiry time (ms since the epoch) for
 * tokenauth=true: 0, or -ENOENT. Called from sasl_server_step, as the
 * lookup is: must not block. */
typedef int (*sasl_token_fn)(void *arg, const char *token_id, enum sasl_mech mech,
			     struct sasl_cred *cred, char *owner, size_t owner_size,
			     int64_t *expiry_ms);
/* The tokens of this server (before the first step); without them
 * tokenauth=true is refused as a token no one has. */
void sasl_server_set_tokens(struct sasl_server *s, sasl_token_fn fn, void *arg);
/* The authenticated user (NULL before DONE): with a token, its owner
 * (Kafka's authorizationId), as the connection's principal. */
const char *sasl_server_user(const struct sasl_server *s);
/* Whether the exchange authenticated a delegation token (Kafka's
 * KafkaPrincipal.tokenAuthenticated). */
bool sasl_server_token(const struct sasl_server *s);
/* The authenticated token's expiry time (ms since the epoch; Kafka's
 * CREDENTIAL_LIFETIME_MS negotiated property), -1 when no token was. */
int64_t sasl_server_token_expiry(const struct sasl_server *s);
/* Why the last step was refused ("" when it was not). */
const char *sasl_server_reason(const struct sasl_server *s);
/* What Kafka tells the client of that refusal in SaslAuthenticate's
 * error_message when it is not its standard "Authentication failed during
 * authentication due to invalid credentials with SASL mechanism ...":
 * only an authzid other than the user. NULL for the standard one. */
const char *sasl_server_client_message(const struct sasl_server *s);

struct sasl_client;

int sasl_client_new(enum sasl_mech mech, const char *user, const char *password,
		    struct sasl_client **out);
void sasl_client_free(struct sasl_client *c);
int sasl_client_set_nonce(struct sasl_client *c, const char *nonce);
/* First call with in NULL: *out is client-first. Then with server-first:
 * *out is client-final. Then with server-final: 1 when the server proved
 * it knows the credential, *out_len 0. -errno as listed above. */
int sasl_client_step(struct sasl_client *c, const uint8_t *in, size_t in_len, const char **out,
		     size_t *out_len);
const char *sasl_client_reason(const struct sasl_client *c);

/* The Kafka error code for a refusal (SaslAuthenticate's error_code):
 * ILLEGAL_SASL_STATE for -EALREADY, else SASL_AUTHENTICATION_FAILED. */
int16_t sasl_kafka_error(int err);

#endif
