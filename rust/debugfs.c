// SPDX-License-Identifier: GPL-2.0
/*
 * debugfs files of the drvreg core; see debugfs.h. Each file's callbacks come from a
 * static struct drvreg_debugfs_file, found through the inode's private data.
 *
 * Lifetime: debugfs_create_file() gives the files debugfs' full proxy, so
 * debugfs_remove() waits until no read or write of a removed file runs and later ones
 * fail with EIO. The proxy still calls release() after removal, which is this module's
 * code: .owner makes every open file hold a reference on drvreg.ko (rmmod fails with
 * EAGAIN meanwhile), the owner-field pattern this project is about.
 */
#include <linux/capability.h>
#include <linux/debugfs.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include "debugfs.h"

static int drvreg_debugfs_seq_show(struct seq_file *m, void *v)
{
	const struct drvreg_debugfs_file *f = m->private;
	char *page;
	ssize_t len;

	if (!f->show)
		return -EIO;
	page = (char *)get_zeroed_page(GFP_KERNEL);
	if (!page)
		return -ENOMEM;
	len = f->show(page, PAGE_SIZE);
	if (len > 0)
		seq_write(m, page, len);
	free_page((unsigned long)page);
	return len < 0 ? len : 0;
}

/*
 * As sysfs does, opening for reading a file without show(), or for writing one without
 * store(), fails with EACCES, root's opens included.
 */
static int drvreg_debugfs_open(struct inode *inode, struct file *file)
{
	const struct drvreg_debugfs_file *f = inode->i_private;

	if (((file->f_mode & FMODE_READ) && !f->show) ||
	    ((file->f_mode & FMODE_WRITE) && !f->store))
		return -EACCES;
	return single_open(file, drvreg_debugfs_seq_show, inode->i_private);
}

/*
 * Each write(2) is one whole value, as in sysfs: its first PAGE_SIZE bytes, whatever the
 * file position; one of 0 bytes does nothing. Root only: CAP_SYS_ADMIN, whatever the
 * file mode says.
 */
static ssize_t drvreg_debugfs_write(struct file *file, const char __user *ubuf,
				    size_t count, loff_t *ppos)
{
	const struct drvreg_debugfs_file *f = file_inode(file)->i_private;
	ssize_t ret;
	char *buf;

	if (!count)
		return 0;
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	count = min_t(size_t, count, PAGE_SIZE);
	buf = memdup_user_nul(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = f->store(buf, count);
	kfree(buf);
	if (ret < 0)
		return ret;
	*ppos += count;
	return count;
}

static const struct file_operations drvreg_debugfs_fops = {
	.owner = THIS_MODULE,
	.open = drvreg_debugfs_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.write = drvreg_debugfs_write,
	.release = single_release,
};

/* A directory; an error pointer when debugfs is unavailable (debugfs_remove() takes it). */
struct dentry *drvreg_debugfs_dir(const char *name, struct dentry *parent)
{
	return debugfs_create_dir(name, parent);
}

struct dentry *drvreg_debugfs_file(struct dentry *parent, const struct drvreg_debugfs_file *f)
{
	return debugfs_create_file(f->name, f->mode, parent, (void *)f, &drvreg_debugfs_fops);
}

/* Removes @dentry and everything under it, waiting for running reads and writes. */
void drvreg_debugfs_remove(struct dentry *dentry)
{
	debugfs_remove(dentry);
}
