/*
 * ctrl_queue.h — the controller's requests to the brokers, queued per
 * broker and sent by one thread per broker (Kafka's ControllerChannelManager
 * and its RequestSendThread), over a synchronous channel (controller.h)
 * that does the sending. Private to repl/.
 *
 * Why: a broker cut off the network stays registered until its ZooKeeper
 * session expires, and a request to it waits for the whole request
 * timeout. Sent from the controller's event thread, that wait would hold
 * up the election that replaces the cut-off leader and every request to
 * the other brokers. Queued, it holds up only the cut-off broker's queue.
 *
 * Rules:
 *   1. Requests to one broker are sent in the order queued, one at a
 *      time; different brokers' queues do not wait for each other.
 *   2. A request is for one registration of the broker (broker_epoch):
 *      once a request for a newer registration is queued, those queued
 *      for older ones are dropped (the broker would refuse them as
 *      stale; it gets the whole state when it registers again).
 *   3. At most CTRL_QUEUE_MAX requests wait per broker; past that the
 *      oldest is dropped and logged (the same as a failed send: the
 *      broker catches up from later requests or the znodes).
 *   4. A queued call copies everything it is given: the controller's
 *      arrays may change as soon as the call returns.
 *   5. A request that does not get through (the broker not reached, the
 *      connection lost, no answer in time) is sent again every
 *      CTRL_QUEUE_RETRY_MS, as Kafka's RequestSendThread does, until it
 *      is answered (an error answer too), the broker is no longer
 *      registered, a request for a newer registration is queued, or the
 *      queue stops; the requests behind it wait (rule 1). Dropped after
 *      one failure, a LeaderAndIsr left its partition with a leader in
 *      ZooKeeper that did not know it led (no writes, followers refused
 *      UNKNOWN_LEADER_EPOCH) until the next change of that partition.
 *
 * Threads and locks: the queued channel's calls may come from any thread
 * (the controller's event thread in practice); each sender thread calls
 * the inner channel for its broker only, with no lock of the queue held.
 * The inner channel must allow calls for different brokers at once.
 */
#ifndef MQFS_REPL_CTRL_QUEUE_H
#define MQFS_REPL_CTRL_QUEUE_H

#include <stdint.h>

#include "repl/controller.h"

#define CTRL_QUEUE_MAX      256
#define CTRL_QUEUE_RETRY_MS 100 /* Kafka's RequestSendThread backoff */

struct ctrl_queue;

/* A queue over inner (copied). -ENOMEM. */
int ctrl_queue_new(const struct controller_channel *inner, struct ctrl_queue **out);
/* The queued channel: each call copies its arguments onto the broker's
 * queue (starting its thread the first time) and returns 0, or -ENOMEM /
 * -EAGAIN (no thread) with nothing queued. */
void ctrl_queue_channel(struct ctrl_queue *q, struct controller_channel *ch);
/* Requests queued for broker_id (tests, .state). */
int ctrl_queue_pending(struct ctrl_queue *q, int32_t broker_id);
/* Waits up to wait_ms until every request queued before the call, to
 * any broker, has been sent (answered, or failed and logged) or dropped
 * (rules 2 and 3): a controlled shutdown is answered only once the new
 * leaders, and the stopping broker, were told. 0, -ETIMEDOUT (some
 * still queued or in flight), -ENOMEM. Any thread but a sender; NULL
 * is fine. */
int ctrl_queue_flush(struct ctrl_queue *q, int64_t wait_ms);
/* Waits up to drain_ms for the queues to empty (a controller that stops
 * has just queued the moves of its own leaderships), then drops what is
 * still queued, waits for the sends in progress (each ends within the
 * inner channel's timeouts) and frees. Call once nothing queues any
 * more. NULL is fine. */
void ctrl_queue_free(struct ctrl_queue *q, int64_t drain_ms);

#endif
