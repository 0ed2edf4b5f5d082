/*
 * test_uring.c — fs/uring.c's pure steps: the kernel's ring headers turned
 * back into the layout a read of /dev/fuse gives (and refused when their
 * lengths disagree), libfuse's reply iov copied into a ring entry (in place
 * when the handler wrote there, EIO when it does not fit), and the CPU
 * list that sizes the queues. The transport itself, on a real mount, is
 * tests/integration/t_uring.sh's.
 */
#include <errno.h>
#include <linux/fuse.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fs/uring_int.h"

static void set_in(struct uring_req_header *hdr, uint32_t len, uint32_t opcode, uint64_t unique,
		   uint32_t payload_sz)
{
	struct fuse_in_header in = { .len = len, .opcode = opcode, .unique = unique };

	memset(hdr, 0, sizeof(*hdr));
	memcpy(hdr->in_out, &in, sizeof(in));
	hdr->ent_in_out.payload_sz = payload_sz;
	hdr->ent_in_out.commit_id = unique;
}

/* A WRITE: fuse_write_in in op_in, the data in the payload. */
static void test_layout_write(void **state)
{
	struct uring_req_header hdr;
	size_t op_len = 99;

	(void)state;
	set_in(&hdr, sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in) + 4096,
	       FUSE_WRITE, 7, 4096);
	assert_int_equal(uring_request_layout(&hdr, 1 << 20, &op_len),
			 sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in) + 4096);
	assert_int_equal(op_len, sizeof(struct fuse_write_in));
}

/* A LOOKUP: no per-op struct (the kernel sends an empty first argument),
 * the name in the payload. */
static void test_layout_lookup(void **state)
{
	struct uring_req_header hdr;
	size_t op_len = 99;

	(void)state;
	set_in(&hdr, sizeof(struct fuse_in_header) + 6, FUSE_LOOKUP, 8, 6);
	assert_int_equal(uring_request_layout(&hdr, 8192, &op_len),
			 sizeof(struct fuse_in_header) + 6);
	assert_int_equal(op_len, 0);
}

static void test_layout_refused(void **state)
{
	struct uring_req_header hdr;
	size_t op_len;

	(void)state;
	/* payload_sz above the buffer */
	set_in(&hdr, sizeof(struct fuse_in_header) + 9000, FUSE_WRITE, 1, 9000);
	assert_int_equal(uring_request_layout(&hdr, 8192, &op_len), 0);
	/* len shorter than header and payload */
	set_in(&hdr, sizeof(struct fuse_in_header) + 10, FUSE_WRITE, 1, 100);
	assert_int_equal(uring_request_layout(&hdr, 8192, &op_len), 0);
	/* a per-op struct larger than op_in */
	set_in(&hdr, sizeof(struct fuse_in_header) + sizeof(hdr.op_in) + 1 + 10, FUSE_WRITE, 1, 10);
	assert_int_equal(uring_request_layout(&hdr, 8192, &op_len), 0);
	/* exactly op_in: accepted */
	set_in(&hdr, sizeof(struct fuse_in_header) + sizeof(hdr.op_in) + 10, FUSE_WRITE, 1, 10);
	assert_int_equal(uring_request_layout(&hdr, 8192, &op_len),
			 sizeof(struct fuse_in_header) + sizeof(hdr.op_in) + 10);
	assert_int_equal(op_len, sizeof(hdr.op_in));
}

static void test_reply_copied(void **state)
{
	struct uring_req_header hdr;
	struct fuse_out_header oh = { .len = sizeof(oh) + 8, .error = 0, .unique = 42 };
	char payload[64];
	struct iovec iov[3] = {
		{ &oh, sizeof(oh) },
		{ "abc", 3 },
		{ "defgh", 5 },
	};
	struct fuse_out_header got;

	(void)state;
	memset(&hdr, 0, sizeof(hdr));
	assert_int_equal(uring_reply_fill(&hdr, payload, sizeof(payload), iov, 3), 8);
	assert_memory_equal(payload, "abcdefgh", 8);
	assert_int_equal(hdr.ent_in_out.payload_sz, 8);
	memcpy(&got, hdr.in_out, sizeof(got));
	assert_int_equal(got.unique, 42);
	assert_int_equal(got.error, 0);
}

/* A handler that wrote its reply into the entry's payload is not copied
 * onto itself (an overlapping memcpy). */
static void test_reply_in_place(void **state)
{
	struct uring_req_header hdr;
	struct fuse_out_header oh = { .len = sizeof(oh) + 4, .unique = 5 };
	char payload[16] = "wxyz";
	struct iovec iov[2] = { { &oh, sizeof(oh) }, { payload, 4 } };

	(void)state;
	memset(&hdr, 0, sizeof(hdr));
	assert_int_equal(uring_reply_fill(&hdr, payload, sizeof(payload), iov, 2), 4);
	assert_memory_equal(payload, "wxyz", 4);
	assert_int_equal(hdr.ent_in_out.payload_sz, 4);
}

/* An error reply: the header alone. */
static void test_reply_error_only(void **state)
{
	struct uring_req_header hdr;
	struct fuse_out_header oh = { .len = sizeof(oh), .error = -ENOENT, .unique = 9 };
	char payload[16];
	struct iovec iov[1] = { { &oh, sizeof(oh) } };
	struct fuse_out_header got;

	(void)state;
	memset(&hdr, 0, sizeof(hdr));
	hdr.ent_in_out.payload_sz = 77;
	assert_int_equal(uring_reply_fill(&hdr, payload, sizeof(payload), iov, 1), 0);
	assert_int_equal(hdr.ent_in_out.payload_sz, 0);
	memcpy(&got, hdr.in_out, sizeof(got));
	assert_int_equal(got.error, -ENOENT);
}

/* Too big for the entry: the kernel gets EIO for that request rather
 * than nothing (it would wait for the reply forever). */
static void test_reply_too_big(void **state)
{
	struct uring_req_header hdr;
	struct fuse_out_header oh = { .len = sizeof(oh) + 20, .unique = 11 };
	char payload[16], big[20] = { 0 };
	struct iovec iov[2] = { { &oh, sizeof(oh) }, { big, sizeof(big) } };
	struct fuse_out_header got;

	(void)state;
	memset(&hdr, 0, sizeof(hdr));
	assert_int_equal(uring_reply_fill(&hdr, payload, sizeof(payload), iov, 2), -EMSGSIZE);
	memcpy(&got, hdr.in_out, sizeof(got));
	assert_int_equal(got.error, -EIO);
	assert_int_equal(got.unique, 11);
	assert_int_equal(got.len, sizeof(got));
	assert_int_equal(hdr.ent_in_out.payload_sz, 0);
}

static void test_cpus_parse(void **state)
{
	(void)state;
	assert_int_equal(uring_cpus_parse("0-1\n"), 2);
	assert_int_equal(uring_cpus_parse("0\n"), 1);
	assert_int_equal(uring_cpus_parse("0-3,8-11\n"), 12);
	assert_int_equal(uring_cpus_parse("0,2,5"), 6);
	assert_int_equal(uring_cpus_parse(""), 0);
	assert_int_equal(uring_cpus_parse("x"), 0);
	assert_int_equal(uring_cpus_parse("0-"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_write),   cmocka_unit_test(test_layout_lookup),
		cmocka_unit_test(test_layout_refused), cmocka_unit_test(test_reply_copied),
		cmocka_unit_test(test_reply_in_place), cmocka_unit_test(test_reply_error_only),
		cmocka_unit_test(test_reply_too_big),  cmocka_unit_test(test_cpus_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
