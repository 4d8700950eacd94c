// SPDX-License-Identifier: GPL-2.0
/*
 * drvreg's trace events (drvreg_trace.h) and the helpers rust/sys/trace.rs calls them
 * through: 6.12's Rust has no tracepoint support, and a TRACE_EVENT is C macros.
 *
 * Cost while no event is enabled: the Rust side reads drvreg_trace_users (one relaxed
 * load and a branch not taken) and does not call here. While one is, each helper is a
 * call and the tracepoint's own static-key test.
 */
#include <linux/atomic.h>
#include <linux/module.h>

#define CREATE_TRACE_POINTS
#include "drvreg_trace.h"
#include "helpers.h"

/*
 * How many of drvreg's events are enabled: each event's registration function counts
 * itself in and out (under the tracepoints' mutex). Read without ordering: an event
 * enabled while a lookup runs may miss that lookup, as it may with any tracepoint.
 */
atomic_t drvreg_trace_users = ATOMIC_INIT(0);

int drvreg_trace_reg(void)
{
	atomic_inc(&drvreg_trace_users);
	return 0;
}

void drvreg_trace_unreg(void)
{
	atomic_dec(&drvreg_trace_users);
}

/* One helper per event, with the event's own arguments (helpers.h). */
void drvreg_trace_lookup_start(const char *mode, size_t mode_len, const char *name,
			       size_t name_len)
{
	trace_drvreg_lookup_start(mode, mode_len, name, name_len, 0);
}

void drvreg_trace_lookup_end(const char *mode, size_t mode_len, const char *name,
			     size_t name_len, int err)
{
	trace_drvreg_lookup_end(mode, mode_len, name, name_len, err);
}

void drvreg_trace_racy_window_start(const char *name, size_t name_len, unsigned long owner)
{
	trace_drvreg_racy_window_start(name, name_len, owner);
}

void drvreg_trace_racy_window_end(const char *name, size_t name_len, unsigned long owner)
{
	trace_drvreg_racy_window_end(name, name_len, owner);
}

void drvreg_trace_pin(const char *name, size_t name_len, bool percpu)
{
	trace_drvreg_pin(name, name_len, percpu);
}

void drvreg_trace_unpin(const char *name, size_t name_len, bool percpu)
{
	trace_drvreg_unpin(name, name_len, percpu);
}

void drvreg_trace_unregister_begin(const char *name, size_t name_len, const char *module)
{
	trace_drvreg_unregister_begin(name, name_len, module);
}

void drvreg_trace_unregister_wait(const char *name, size_t name_len, const char *module)
{
	trace_drvreg_unregister_wait(name, name_len, module);
}

void drvreg_trace_unregister_end(const char *name, size_t name_len, const char *module)
{
	trace_drvreg_unregister_end(name, name_len, module);
}

void drvreg_trace_purge(const char *name, size_t name_len, const char *module)
{
	trace_drvreg_purge(name, name_len, module);
}
