/* SPDX-License-Identifier: GPL-2.0 */
/*
 * drvreg's trace events (system "drvreg"): what a lookup did, the racy lookup's window,
 * pins, unregistrations and the purge of a going module's drivers. Defined in trace.c;
 * rust/sys/trace.rs calls them through the helpers declared in helpers.h. Documented in
 * Documentation/drvreg.rst ("Trace events"); like every trace event, not ABI.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM drvreg

#if !defined(DRVREG_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define DRVREG_TRACE_H

#include <linux/tracepoint.h>

/*
 * Every event counts its users in drvreg_trace_users (trace.c): the Rust side calls into C
 * only while some event is enabled.
 */
int drvreg_trace_reg(void);
void drvreg_trace_unreg(void);

/* A lookup in a mode (lookup.rs's names), of a driver name (not NUL-terminated). */
DECLARE_EVENT_CLASS(drvreg_lookup_class,
		    TP_PROTO(const char *mode, size_t mode_len, const char *name, size_t name_len,
			     int err),
		    TP_ARGS(mode, mode_len, name, name_len, err),
		    TP_STRUCT__entry(__string_len(mode, mode, mode_len)
				     __string_len(name, name, name_len)
				     __field(int, err)),
		    TP_fast_assign(__assign_str(mode);
				   __assign_str(name);
				   __entry->err = err;),
		    TP_printk("mode=%s name=%s err=%d", __get_str(mode), __get_str(name),
			      __entry->err));

/* A lookup starts (err is 0). */
DEFINE_EVENT_FN(drvreg_lookup_class, drvreg_lookup_start,
		TP_PROTO(const char *mode, size_t mode_len, const char *name, size_t name_len,
			 int err),
		TP_ARGS(mode, mode_len, name, name_len, err),
		drvreg_trace_reg, drvreg_trace_unreg);

/* A lookup ends: err is 0 (pinned) or the negative errno it failed with. */
DEFINE_EVENT_FN(drvreg_lookup_class, drvreg_lookup_end,
		TP_PROTO(const char *mode, size_t mode_len, const char *name, size_t name_len,
			 int err),
		TP_ARGS(mode, mode_len, name, name_len, err),
		drvreg_trace_reg, drvreg_trace_unreg);

/*
 * The racy lookup's window: it read the driver's owner (the address of a struct module)
 * without the driver lock and holds no reference on it until the window ends.
 */
DECLARE_EVENT_CLASS(drvreg_racy_class,
		    TP_PROTO(const char *name, size_t name_len, unsigned long owner),
		    TP_ARGS(name, name_len, owner),
		    TP_STRUCT__entry(__string_len(name, name, name_len)
				     __field(unsigned long, owner)),
		    TP_fast_assign(__assign_str(name);
				   __entry->owner = owner;),
		    TP_printk("name=%s owner=%#lx", __get_str(name), __entry->owner));

/* The owner was read: the window opens. */
DEFINE_EVENT_FN(drvreg_racy_class, drvreg_racy_window_start,
		TP_PROTO(const char *name, size_t name_len, unsigned long owner),
		TP_ARGS(name, name_len, owner),
		drvreg_trace_reg, drvreg_trace_unreg);

/* The window closes: try_module_get() on the owner comes next. */
DEFINE_EVENT_FN(drvreg_racy_class, drvreg_racy_window_end,
		TP_PROTO(const char *name, size_t name_len, unsigned long owner),
		TP_ARGS(name, name_len, owner),
		drvreg_trace_reg, drvreg_trace_unreg);

/* A pin on a driver, and how it holds the owner: a module reference or a per-CPU count. */
DECLARE_EVENT_CLASS(drvreg_pin_class,
		    TP_PROTO(const char *name, size_t name_len, bool percpu),
		    TP_ARGS(name, name_len, percpu),
		    TP_STRUCT__entry(__string_len(name, name, name_len)
				     __field(bool, percpu)),
		    TP_fast_assign(__assign_str(name);
				   __entry->percpu = percpu;),
		    TP_printk("name=%s hold=%s", __get_str(name),
			      __entry->percpu ? "percpu" : "module"));

/* A lookup pinned the driver. */
DEFINE_EVENT_FN(drvreg_pin_class, drvreg_pin,
		TP_PROTO(const char *name, size_t name_len, bool percpu),
		TP_ARGS(name, name_len, percpu),
		drvreg_trace_reg, drvreg_trace_unreg);

/* The pin is being dropped (its callbacks have returned). */
DEFINE_EVENT_FN(drvreg_pin_class, drvreg_unpin,
		TP_PROTO(const char *name, size_t name_len, bool percpu),
		TP_ARGS(name, name_len, percpu),
		drvreg_trace_reg, drvreg_trace_unreg);

/* An unregistration (or a purge's) of a driver, and the module that owns it. */
DECLARE_EVENT_CLASS(drvreg_unregister_class,
		    TP_PROTO(const char *name, size_t name_len, const char *module),
		    TP_ARGS(name, name_len, module),
		    TP_STRUCT__entry(__string_len(name, name, name_len)
				     __string(module, module)),
		    TP_fast_assign(__assign_str(name);
				   __assign_str(module);),
		    TP_printk("name=%s module=%s", __get_str(name), __get_str(module)));

/* No lookup finds the driver from now on; pins in flight may remain. */
DEFINE_EVENT_FN(drvreg_unregister_class, drvreg_unregister_begin,
		TP_PROTO(const char *name, size_t name_len, const char *module),
		TP_ARGS(name, name_len, module),
		drvreg_trace_reg, drvreg_trace_unreg);

/* Pins are still held: the unregistration sleeps until the last unpin wakes it. */
DEFINE_EVENT_FN(drvreg_unregister_class, drvreg_unregister_wait,
		TP_PROTO(const char *name, size_t name_len, const char *module),
		TP_ARGS(name, name_len, module),
		drvreg_trace_reg, drvreg_trace_unreg);

/* No pin is held and the driver is gone: its module may be freed. */
DEFINE_EVENT_FN(drvreg_unregister_class, drvreg_unregister_end,
		TP_PROTO(const char *name, size_t name_len, const char *module),
		TP_ARGS(name, name_len, module),
		drvreg_trace_reg, drvreg_trace_unreg);

/* A going module left this driver registered: the core unregisters it (a driver bug). */
DEFINE_EVENT_FN(drvreg_unregister_class, drvreg_purge,
		TP_PROTO(const char *name, size_t name_len, const char *module),
		TP_ARGS(name, name_len, module),
		drvreg_trace_reg, drvreg_trace_unreg);

#endif /* DRVREG_TRACE_H */

/* This part must be outside the header guard. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE drvreg_trace
#include <trace/define_trace.h>
