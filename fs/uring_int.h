/*
 * fs/uring.c's protocol structures and its pure steps, for its unit test
 * (tests/unit/test_uring.c). The layout is the kernel's
 * (include/uapi/linux/fuse.h, protocol 7.42), which Debian's 6.1 headers
 * do not have yet.
 */
#ifndef MQFS_FS_URING_INT_H
#define MQFS_FS_URING_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;
	uint32_t payload_sz;
	uint32_t padding;
	uint64_t reserved;
};

struct uring_req_header {
	char in_out[128];
	char op_in[128];
	struct uring_ent_in_out ent_in_out;
};

struct uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

_Static_assert(sizeof(struct uring_req_header) == 288, "fuse_uring_req_header");
_Static_assert(sizeof(struct uring_cmd_req) == 24, "fuse_uring_cmd_req");

/* The number of CPUs a list such as /sys/devices/system/cpu/possible
 * gives ("0-1", "0", "0-3,8-11": the highest plus one); 0 when it has
 * none. */
unsigned uring_cpus_parse(const char *text);

/* A request's whole length (in header, per-op struct, payload: what a
 * read of /dev/fuse gives) and in *op_len the per-op struct's, from the
 * headers the kernel filled; 0 when they disagree (payload_sz above
 * payload_cap, or a per-op struct that the op_in slot cannot hold). */
size_t uring_request_layout(const struct uring_req_header *hdr, size_t payload_cap, size_t *op_len);

/* Fills an entry with libfuse's reply iov (iov[0] the fuse_out_header):
 * the header into in_out, the rest into payload (skipping a copy onto
 * itself), payload_sz. Returns the payload's bytes; -EMSGSIZE when they
 * pass cap, and the entry then holds an EIO reply. */
ssize_t uring_reply_fill(struct uring_req_header *hdr, char *payload, size_t cap,
			 const struct iovec *iov, int count);

/* An error reply (err > 0) in an entry's headers. */
void uring_reply_error(struct uring_req_header *hdr, uint64_t unique, int err);

#endif
