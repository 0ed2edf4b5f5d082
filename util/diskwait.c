/*
 * diskwait.c — the hook of diskwait.h.
 */
#include <stdatomic.h>
#include <stddef.h>

#include "util/diskwait.h"

static _Atomic(void (*)(void)) diskwait_hook;

void diskwait_set_hook(void (*hook)(void))
{
	atomic_store_explicit(&diskwait_hook, hook, memory_order_release);
}

void diskwait_begin(void)
{
	void (*hook)(void) = atomic_load_explicit(&diskwait_hook, memory_order_acquire);

	if (hook)
		hook();
}
