// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers of the drvreg core; see helpers.h. Nothing here has a rule of its own: the
 * Rust wrappers in rust/sys/ document and enforce how each may be called.
 */
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/kernel.h>
#include <linux/percpu.h>
#include <linux/percpu-refcount.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/srcu.h>
#include "helpers.h"

/* An RCU read-side critical section (rust/sys/rcu.rs, Guard). */
void drvreg_rcu_read_lock(void)
{
	rcu_read_lock();
}

void drvreg_rcu_read_unlock(void)
{
	rcu_read_unlock();
}

/* Per-CPU counters (rust/sys/percpu.rs): one atomic_long_t per possible CPU, zeroed. */
atomic_long_t __percpu *drvreg_pcpu_alloc(void)
{
	return alloc_percpu(atomic_long_t);
}

/* free_percpu() may be called from atomic context (an RCU callback). */
void drvreg_pcpu_free(atomic_long_t __percpu *p)
{
	free_percpu(p);
}

/*
 * A two-stage pin: increments this CPU's counter (the task may migrate afterwards: the
 * unpin decrements the same counter atomically, from wherever it runs), then a full
 * barrier, so the increment is ordered before the caller's read of the record's "dying"
 * bit: the store-buffering pattern against the unregister's set-dying, smp_mb(), sum
 * (selftests/litmus/twostage-pin.litmus).
 */
atomic_long_t *drvreg_pcpu_pin(atomic_long_t __percpu *p)
{
	atomic_long_t *c = raw_cpu_ptr(p);

	atomic_long_inc(c);
	/* The increment before the read of "dying": twostage-pin.litmus. */
	smp_mb__after_atomic();
	return c;
}

/*
 * Drops a two-stage pin on counter @c: a full barrier before the decrement orders the
 * unpinner's accesses to the driver before it (the unregister tears the driver down
 * once it sums 0: twostage-teardown.litmus); one after orders it before the caller's
 * read of "dying", which decides whether to wake the unregister (twostage-wake.litmus).
 */
void drvreg_pcpu_unpin(atomic_long_t *c)
{
	/* The driver's accesses before the decrement: twostage-teardown.litmus. */
	smp_mb__before_atomic();
	atomic_long_dec(c);
	/* The decrement before the read of "dying": twostage-wake.litmus. */
	smp_mb__after_atomic();
}

/*
 * Adds to this CPU's counter with one non-atomic per-CPU instruction: only for counters
 * that no other CPU ever writes (statistics).
 */
void drvreg_pcpu_add_local(atomic_long_t __percpu *p, long v)
{
	this_cpu_add(p->counter, v);
}

/*
 * The sum over all possible CPUs. The full barrier first orders the caller's earlier
 * store (an unregister's "dying" flag) before every read: the store-buffering pattern
 * against a pinner's increment-then-check (selftests/litmus/twostage-pin.litmus) and an
 * unpinner's decrement-then-check (twostage-wake.litmus). The full barrier after orders
 * every read before what the caller does once the sum is 0 (tearing the driver down):
 * an unpinner's last accesses to the driver come before its decrement, which the reads
 * saw (twostage-teardown.litmus). SRCU's srcu_readers_active_idx_check() ends with
 * smp_mb() for the same reason; without it only the driver lock, which the caller
 * happens to drop and retake before the teardown, would order the two.
 */
long drvreg_pcpu_sum(atomic_long_t __percpu *p)
{
	long sum = 0;
	int cpu;

	/* The "dying" store before the reads: twostage-pin.litmus, twostage-wake.litmus. */
	smp_mb();
	for_each_possible_cpu(cpu)
		sum += atomic_long_read(per_cpu_ptr(p, cpu));
	/* The reads before the teardown: twostage-teardown.litmus. */
	smp_mb();
	return sum;
}

/*
 * SRCU (rust/sys/srcu.rs): an srcu_struct of its own, allocated and initialised here
 * because init_srcu_struct() is a macro (its lockdep class is this call site's).
 */
struct srcu_struct *drvreg_srcu_new(void)
{
	struct srcu_struct *ssp = kzalloc(sizeof(*ssp), GFP_KERNEL);

	if (ssp && init_srcu_struct(ssp)) {
		kfree(ssp);
		ssp = NULL;
	}
	return ssp;
}

/* No reader may be inside and no synchronize_srcu() running: the Rust type sees to it. */
void drvreg_srcu_free(struct srcu_struct *ssp)
{
	cleanup_srcu_struct(ssp);
	kfree(ssp);
}

int drvreg_srcu_read_lock(struct srcu_struct *ssp)
{
	return srcu_read_lock(ssp);
}

void drvreg_srcu_read_unlock(struct srcu_struct *ssp, int idx)
{
	srcu_read_unlock(ssp, idx);
}

/*
 * A percpu_ref (rust/sys/percpu_ref.rs) with the completion its release callback
 * completes, so that a killer can wait until the last reference is put.
 */
struct drvreg_pref {
	struct percpu_ref ref;
	struct completion released;
};

static void drvreg_pref_release(struct percpu_ref *ref)
{
	struct drvreg_pref *p = container_of(ref, struct drvreg_pref, ref);

	/* complete_all(): every later wait returns at once, and completion_done() stays true. */
	complete_all(&p->released);
}

struct drvreg_pref *drvreg_pref_new(void)
{
	struct drvreg_pref *p = kzalloc(sizeof(*p), GFP_KERNEL);

	if (!p)
		return NULL;
	init_completion(&p->released);
	if (percpu_ref_init(&p->ref, drvreg_pref_release, 0, GFP_KERNEL)) {
		kfree(p);
		return NULL;
	}
	return p;
}

bool drvreg_pref_tryget_live(struct drvreg_pref *p)
{
	return percpu_ref_tryget_live(&p->ref);
}

void drvreg_pref_put(struct drvreg_pref *p)
{
	percpu_ref_put(&p->ref);
}

/* Called once: percpu_ref_kill() warns when called twice. */
void drvreg_pref_kill(struct drvreg_pref *p)
{
	percpu_ref_kill(&p->ref);
}

/* Whether the release callback ran: no reference is left. */
bool drvreg_pref_released(struct drvreg_pref *p)
{
	return completion_done(&p->released);
}

void drvreg_pref_wait(struct drvreg_pref *p)
{
	wait_for_completion(&p->released);
}

/* After the release, or if the ref was never killed; may be called from an RCU callback. */
void drvreg_pref_free(struct drvreg_pref *p)
{
	percpu_ref_exit(&p->ref);
	kfree(p);
}

unsigned int drvreg_online_cpus(void)
{
	return num_online_cpus();
}

/* The n-th online CPU (from 0), or -1 if there are not that many. */
int drvreg_online_cpu(unsigned int n)
{
	unsigned int cpu = cpumask_nth(n, cpu_online_mask);

	return cpu < nr_cpu_ids ? cpu : -1;
}

bool drvreg_cpu_possible(unsigned int cpu)
{
	return cpu < nr_cpu_ids && cpu_possible(cpu);
}

/*
 * might_sleep(): the debug kernels (CONFIG_DEBUG_ATOMIC_SLEEP) report a call from atomic
 * context every time, not only when the call happens to sleep. Called only on those
 * kernels (rust/sys/cpu.rs).
 */
void drvreg_might_sleep(void)
{
	might_sleep();
}
