// SPDX-License-Identifier: GPL-2.0

//! A hash index that readers walk without a lock, under an RCU read-side critical section,
//! while writers serialised by a lock of the caller's insert and remove entries: the
//! kernel's `hlist_add_head_rcu()` / `hlist_del_rcu()` + `call_rcu()` pattern.
//!
//! The table has a fixed number of buckets, each a singly linked chain of nodes. A node
//! holds a key, its hash and an `Arc` of the value. Readers load links with acquire
//! ordering (as `rcu_dereference()`); a writer publishes a new node with a release store
//! after filling it (as `rcu_assign_pointer()`), unlinks a node by storing its successor
//! in its predecessor's link, and frees it only after a grace period (`call_rcu`), so a
//! reader that still sees it reads valid memory, and its `next` still leads on.

use crate::sys::rcu::{self, Guard};
use core::marker::PhantomData;
use core::ptr::{null_mut, NonNull};
use core::sync::atomic::{AtomicPtr, Ordering::Acquire, Ordering::Relaxed, Ordering::Release};
use kernel::{alloc::KVVec, bindings, prelude::*, sync::Arc, types::Opaque};

struct Node<K, V> {
    next: AtomicPtr<Node<K, V>>,
    hash: u32,
    key: K,
    value: Arc<V>,
    rcu: Opaque<bindings::callback_head>,
}

/// The index.
///
/// # Invariants
///
/// - Every non-null link (bucket or `next`) reachable from `buckets` points to a node
///   allocated by [`RcuHash::reserve`] (a leaked `KBox`) and linked by
///   [`RcuHash::insert`]; nodes are changed only by holders of this index's [`Writer`].
/// - An unlinked node is freed only by the RCU callback queued by [`Removed`]'s drop, after
///   a grace period, or by the index's drop (when no reader can hold a reference).
pub struct RcuHash<K, V> {
    buckets: KVVec<AtomicPtr<Node<K, V>>>,
    mask: u32,
    _owns: PhantomData<(K, Arc<V>)>,
}

/// The right to change one [`RcuHash`], made with it: keep it where the lock that
/// serialises writers guards it (an `&mut Writer` proves the lock is held).
pub struct Writer {
    /// Which index: the address of its bucket array, which never moves.
    index: usize,
}

/// A node allocated in advance (outside the writers' lock), ready to be inserted.
pub struct Reserved<K, V>(KBox<Node<K, V>>);

/// A node unlinked from an index: readers that found it before may still be reading it,
/// so dropping this frees it only after a grace period.
///
/// # Invariants
///
/// `node` was allocated by `reserve`, linked, and has been unlinked; nothing else frees it.
pub struct Removed<K, V> {
    node: NonNull<Node<K, V>>,
}

impl<K: Copy + Eq, V> RcuHash<K, V> {
    /// An empty index with `1 << bits` buckets, and its writer token.
    pub fn new(bits: u32) -> Result<(Self, Writer)> {
        let n = 1usize << bits;
        let mut buckets = KVVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            buckets.push(AtomicPtr::new(null_mut()), GFP_KERNEL)?;
        }
        let writer = Writer {
            index: buckets.as_ptr() as usize,
        };
        // INVARIANT: Every link is null.
        Ok((
            Self {
                buckets,
                mask: (n - 1) as u32,
                _owns: PhantomData,
            },
            writer,
        ))
    }

    fn bucket(&self, hash: u32) -> &AtomicPtr<Node<K, V>> {
        // `mask + 1` buckets exist: the index is in range.
        &self.buckets[(hash & self.mask) as usize]
    }

    fn owns(&self, w: &Writer) -> bool {
        w.index == self.buckets.as_ptr() as usize
    }

    /// Finds the value stored under `key` (whose hash is `hash`); the reference lives as
    /// long as the read-side critical section.
    #[inline]
    pub fn find<'g>(&'g self, _guard: &'g Guard, hash: u32, key: &K) -> Option<&'g V> {
        let mut p = self.bucket(hash).load(Acquire);
        while !p.is_null() {
            // SAFETY: By the type invariants a reachable node is allocated, and one that
            // is unlinked after we loaded its address is freed only after a grace period,
            // which `_guard` (held for 'g) delays past every use of this reference.
            let node = unsafe { &*p };
            if node.hash == hash && node.key == *key {
                return Some(&node.value);
            }
            p = node.next.load(Acquire);
        }
        None
    }

    /// Allocates a node for `value` under `key`, outside the lock.
    pub fn reserve(hash: u32, key: K, value: Arc<V>) -> Result<Reserved<K, V>> {
        Ok(Reserved(KBox::new(
            Node {
                next: AtomicPtr::new(null_mut()),
                hash,
                key,
                value,
                rcu: Opaque::uninit(),
            },
            GFP_KERNEL,
        )?))
    }

    /// Links a reserved node at the head of its chain (the caller keeps keys unique).
    /// `EINVAL` if `w` is not this index's writer (nothing is linked then).
    pub fn insert(&self, w: &mut Writer, node: Reserved<K, V>) -> Result {
        if !self.owns(w) {
            return Err(EINVAL);
        }
        let bucket = self.bucket(node.0.hash);
        node.0.next.store(bucket.load(Relaxed), Relaxed);
        // INVARIANT: A reserved node, now linked; the release store publishes its
        // contents to readers that load the link with acquire ordering.
        bucket.store(KBox::into_raw(node.0), Release);
        Ok(())
    }

    /// Unlinks the node of `key`; `None` if there is none (or `w` is not this index's
    /// writer). Readers may still be reading it: see [`Removed`].
    pub fn remove(&self, w: &mut Writer, hash: u32, key: &K) -> Option<Removed<K, V>> {
        if !self.owns(w) {
            return None;
        }
        let mut link = self.bucket(hash);
        loop {
            let p = NonNull::new(link.load(Relaxed))?;
            // SAFETY: By the type invariants a linked node is allocated; only writers
            // (we hold the writer token) unlink or free linked nodes.
            let node = unsafe { p.as_ref() };
            if node.hash == hash && node.key == *key {
                // Readers standing on the node still find its successor through `next`.
                link.store(node.next.load(Relaxed), Release);
                // INVARIANT: Unlinked just above; freed by `Removed`'s drop.
                return Some(Removed { node: p });
            }
            link = &node.next;
        }
    }
}

impl<K, V> Removed<K, V> {
    /// The RCU callback: frees the node after the grace period.
    ///
    /// # Safety
    ///
    /// `head` must be the `rcu` field of a node queued by `Removed::drop`, called once.
    unsafe extern "C" fn free(head: *mut bindings::callback_head) {
        let offset = core::mem::offset_of!(Node<K, V>, rcu);
        // SAFETY: `head` is the `rcu` field of a `Node<K, V>` (the caller's guarantee), so
        // stepping back by its offset stays within that node.
        let node = unsafe { head.cast::<u8>().sub(offset) }.cast::<Node<K, V>>();
        // SAFETY: The node came from `KBox::into_raw` in `insert`, was unlinked, and the
        // grace period has elapsed: no reader holds a reference any more.
        drop(unsafe { KBox::from_raw(node) });
    }
}

impl<K, V> Drop for Removed<K, V> {
    fn drop(&mut self) {
        // SAFETY: By the type invariants the node is allocated (readers may share it, which
        // a shared borrow of its `rcu` field allows).
        let head = unsafe { (*self.node.as_ptr()).rcu.get() };
        // SAFETY: The node is unlinked; its `rcu` field is unused until now, and `free`
        // matches the callback signature. The callback runs after a grace period; the
        // index's drop waits for it (`rcu_barrier`).
        unsafe { bindings::call_rcu(head, Some(Self::free)) };
    }
}

impl<K, V> Drop for RcuHash<K, V> {
    fn drop(&mut self) {
        // No reader can hold a reference (they borrow the index), so what is still linked
        // is freed now; then wait for the frees queued by `Removed`, whose callback is
        // this module's code.
        for bucket in self.buckets.iter() {
            let mut p = bucket.swap(null_mut(), Relaxed);
            while !p.is_null() {
                // SAFETY: By the type invariants a linked node came from `KBox::into_raw`;
                // it is reached once, here, and nothing else can reach it any more.
                let node = unsafe { KBox::from_raw(p) };
                p = node.next.load(Relaxed);
            }
        }
        rcu::barrier();
    }
}

/// KUnit (7.x kernels built with `CONFIG_KUNIT`): chains, lookups and the writer token.
#[cfg(drvreg_kernel_7)]
#[kunit_tests(drvreg_rcu_hash)]
mod tests {
    use super::{Guard, RcuHash};
    use kernel::{prelude::*, sync::Arc};

    /// An index of 2 buckets holding keys 0..8 (hash = key: four per chain) and key 100
    /// under hash 6 (a hash shared by two keys), each valued ten times its key.
    fn filled() -> Result<(RcuHash<u32, u32>, super::Writer)> {
        let (h, mut w) = RcuHash::new(1)?;
        let mut add = |hash: u32, key: u32| -> Result {
            h.insert(
                &mut w,
                RcuHash::reserve(hash, key, Arc::new(key * 10, GFP_KERNEL)?)?,
            )
        };
        for k in 0..8 {
            add(k, k)?;
        }
        add(6, 100)?;
        Ok((h, w))
    }

    /// Whether `key` is found under `hash` with its value.
    fn found(h: &RcuHash<u32, u32>, hash: u32, key: u32) -> bool {
        // SAFETY: Nothing below sleeps before the guard drops: a lookup and a comparison.
        let guard = unsafe { Guard::new() };
        h.find(&guard, hash, &key).copied() == Some(key * 10)
    }

    /// Whether nothing is found under `hash` for `key`.
    fn absent(h: &RcuHash<u32, u32>, hash: u32, key: u32) -> bool {
        // SAFETY: As in `found`.
        let guard = unsafe { Guard::new() };
        h.find(&guard, hash, &key).is_none()
    }

    #[test]
    fn finds_every_key_in_shared_chains() -> Result {
        let (h, _w) = filled()?;
        for k in 0..8 {
            assert!(found(&h, k, k));
        }
        assert!(found(&h, 6, 100));
        assert!(absent(&h, 8, 8));
        // The right chain and key, the wrong hash; the right hash, a key not there.
        assert!(absent(&h, 2, 100));
        assert!(absent(&h, 6, 7));
        Ok(())
    }

    #[test]
    fn removes_from_the_middle_of_a_chain() -> Result {
        let (h, mut w) = filled()?;
        assert!(h.remove(&mut w, 4, &4).is_some());
        assert!(h.remove(&mut w, 6, &6).is_some());
        assert!(absent(&h, 4, 4));
        assert!(absent(&h, 6, 6));
        assert!(found(&h, 6, 100));
        for k in [0, 1, 2, 3, 5, 7] {
            assert!(found(&h, k, k));
        }
        assert!(h.remove(&mut w, 4, &4).is_none());
        Ok(())
    }

    #[test]
    fn refuses_another_index_writer() -> Result {
        let (h, _w) = filled()?;
        let (_other, mut foreign) = RcuHash::<u32, u32>::new(1)?;
        let node = RcuHash::reserve(9, 9, Arc::new(90, GFP_KERNEL)?)?;
        assert!(h.insert(&mut foreign, node) == Err(EINVAL));
        assert!(absent(&h, 9, 9));
        assert!(h.remove(&mut foreign, 0, &0).is_none());
        assert!(found(&h, 0, 0));
        Ok(())
    }
}
