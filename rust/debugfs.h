/* SPDX-License-Identifier: GPL-2.0 */
/*
 * debugfs files of the drvreg core (debugfs.c), for rust/sys/debugfs.rs: 6.12's Rust
 * bindings have no debugfs. The Rust side describes each file with a static
 * struct drvreg_debugfs_file and keeps the rules (rust/sys/debugfs.rs, Tree).
 */
#ifndef DRVREG_DEBUGFS_H
#define DRVREG_DEBUGFS_H

#include <linux/types.h>

struct dentry;

/**
 * struct drvreg_debugfs_file - one debugfs file of the core
 * @name: file name
 * @mode: file mode: 0444, 0200 or 0644
 * @show: formats the value into @buf (@size bytes, zeroed); returns its length or a
 *        negative errno. NULL for a write-only file.
 * @store: applies the @count bytes at @buf (NUL-terminated after them); returns 0 or a
 *         negative errno, and changes nothing when it fails. NULL for a read-only file.
 */
struct drvreg_debugfs_file {
	const char *name;
	umode_t mode;
	ssize_t (*show)(char *buf, size_t size);
	ssize_t (*store)(const char *buf, size_t count);
};

struct dentry *drvreg_debugfs_dir(const char *name, struct dentry *parent);
struct dentry *drvreg_debugfs_file(struct dentry *parent, const struct drvreg_debugfs_file *f);
void drvreg_debugfs_remove(struct dentry *dentry);

#endif /* DRVREG_DEBUGFS_H */
