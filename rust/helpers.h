/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C helpers of the drvreg core (helpers.c, trace.c): kernel primitives that are macros or
 * inline functions in C, so that 6.12's Rust bindings cannot call them. Each has one safe
 * Rust wrapper in rust/sys/ (rcu.rs, percpu.rs, srcu.rs, percpu_ref.rs, cpu.rs, trace.rs)
 * whose documentation states its rules.
 */
#ifndef DRVREG_HELPERS_H
#define DRVREG_HELPERS_H

#include <linux/atomic.h>
#include <linux/types.h>

void drvreg_rcu_read_lock(void);
void drvreg_rcu_read_unlock(void);

atomic_long_t __percpu *drvreg_pcpu_alloc(void);
void drvreg_pcpu_free(atomic_long_t __percpu *p);
atomic_long_t *drvreg_pcpu_pin(atomic_long_t __percpu *p);
void drvreg_pcpu_unpin(atomic_long_t *c);
void drvreg_pcpu_add_local(atomic_long_t __percpu *p, long v);
long drvreg_pcpu_sum(atomic_long_t __percpu *p);

struct srcu_struct;
struct srcu_struct *drvreg_srcu_new(void);
void drvreg_srcu_free(struct srcu_struct *ssp);
int drvreg_srcu_read_lock(struct srcu_struct *ssp);
void drvreg_srcu_read_unlock(struct srcu_struct *ssp, int idx);

struct drvreg_pref;
struct drvreg_pref *drvreg_pref_new(void);
bool drvreg_pref_tryget_live(struct drvreg_pref *p);
void drvreg_pref_put(struct drvreg_pref *p);
void drvreg_pref_kill(struct drvreg_pref *p);
bool drvreg_pref_released(struct drvreg_pref *p);
void drvreg_pref_wait(struct drvreg_pref *p);
void drvreg_pref_free(struct drvreg_pref *p);

unsigned int drvreg_online_cpus(void);
int drvreg_online_cpu(unsigned int n);
bool drvreg_cpu_possible(unsigned int cpu);

void drvreg_might_sleep(void);

/*
 * Trace events (trace.c, drvreg_trace.h; rust/sys/trace.rs): the number of drvreg's events
 * enabled, and one helper per event.
 */
extern atomic_t drvreg_trace_users;
void drvreg_trace_lookup_start(const char *mode, size_t mode_len, const char *name,
			       size_t name_len);
void drvreg_trace_lookup_end(const char *mode, size_t mode_len, const char *name,
			     size_t name_len, int err);
void drvreg_trace_racy_window_start(const char *name, size_t name_len, unsigned long owner);
void drvreg_trace_racy_window_end(const char *name, size_t name_len, unsigned long owner);
void drvreg_trace_pin(const char *name, size_t name_len, bool percpu);
void drvreg_trace_unpin(const char *name, size_t name_len, bool percpu);
void drvreg_trace_unregister_begin(const char *name, size_t name_len, const char *module);
void drvreg_trace_unregister_wait(const char *name, size_t name_len, const char *module);
void drvreg_trace_unregister_end(const char *name, size_t name_len, const char *module);
void drvreg_trace_purge(const char *name, size_t name_len, const char *module);

#endif /* DRVREG_HELPERS_H */
