/* The whole host through /etc/ld.so.preload, safely: the library must load
 * for every architecture whose loader is here before it is named there (a
 * file named there that does not load makes every new process of that
 * architecture print an error; a truncated one kills it), the file is
 * replaced atomically (a new file beside it, flushed, renamed over it),
 * other entries are kept, ours is never added twice, and --disable-host
 * takes out exactly what --enable-host added. */
#define _GNU_SOURCE
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "escape.h"
#include "exec.h"
#include "loadcheck.h"
#include "preloadfile.h"

#ifndef NOSELFCONN_PRELOAD_PATH
#define NOSELFCONN_PRELOAD_PATH "/usr/local/$LIB/noselfconn/libnoselfconn.so"
#endif

#define FILE_MAX (1 << 20) /* far more than any ld.so.preload */
#define DIRECTORY "/etc"

/* Text from outside (the file's entries, ld.so's words), fit to print. */
struct shown {
	char text[4 * 512 + 4];
};

static const char *shown(struct shown *out, const char *text, size_t len)
{
	nsc_escape_len(out->text, sizeof(out->text), text, len);
	return out->text;
}

static const char *shown_str(struct shown *out, const char *text)
{
	return shown(out, text, strlen(text));
}

struct preload_file {
	char *text;
	size_t len;
	bool exists;
	struct stat st;
};

static bool read_file(struct preload_file *f)
{
	*f = (struct preload_file){ 0 };
	int fd = open(NSC_LD_SO_PRELOAD, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		f->text = calloc(1, 1);
		return f->text != NULL || (fprintf(stderr, "noselfconn: out of memory\n"), false);
	}
	if (fd < 0 || fstat(fd, &f->st) != 0 || !S_ISREG(f->st.st_mode) ||
	    f->st.st_size > FILE_MAX) {
		int err = fd < 0 ? errno : 0;
		fprintf(stderr, "noselfconn: %s: %s\n", NSC_LD_SO_PRELOAD,
			err == ELOOP ? "a symbolic link: edit the file it names by hand"
			: err != 0   ? strerror(err)
				     : "not a regular file of reasonable size");
		if (fd >= 0)
			close(fd);
		return false;
	}
	f->exists = true;
	f->text = malloc((size_t)f->st.st_size + 1);
	ssize_t n = f->text != NULL ? read(fd, f->text, (size_t)f->st.st_size + 1) : -1;
	int err = errno;
	close(fd);
	if (n < 0 || n > f->st.st_size) {
		fprintf(stderr, "noselfconn: cannot read %s: %s\n", NSC_LD_SO_PRELOAD,
			n < 0 ? strerror(err) : "it grew while read");
		free(f->text);
		return false;
	}
	f->len = (size_t)n;
	f->text[n] = '\0';
	return true;
}

static bool sync_directory(void)
{
	int dir = open(DIRECTORY, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool ok = dir >= 0 && fsync(dir) == 0;
	if (dir >= 0)
		close(dir);
	return ok;
}

static bool write_all(int fd, const char *text, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, text, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		text += n;
		len -= (size_t)n;
	}
	return true;
}

/* The new text in a file beside the old, flushed, then renamed over it:
 * every process reads either the old file or the new one, whole. With no
 * text left the file goes (ld.so reads no file as an empty one). */
static bool replace_file(const struct preload_file *old, const char *text, size_t len)
{
	if (len == 0) {
		if (unlink(NSC_LD_SO_PRELOAD) == 0 || errno == ENOENT) {
			sync_directory();
			return true;
		}
		fprintf(stderr, "noselfconn: cannot remove %s: %s\n", NSC_LD_SO_PRELOAD,
			strerror(errno));
		return false;
	}
	char temp[] = DIRECTORY "/.ld.so.preload.XXXXXX";
	int fd = mkostemp(temp, O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "noselfconn: cannot write in %s: %s%s\n", DIRECTORY, strerror(errno),
			errno == EACCES || errno == EPERM || errno == EROFS ? " (run as root)" : "");
		return false;
	}
	mode_t mode = old->exists ? old->st.st_mode & 07777 : 0644;
	bool ok = fchmod(fd, mode) == 0 &&
		  (!old->exists || fchown(fd, old->st.st_uid, old->st.st_gid) == 0) &&
		  write_all(fd, text, len) && fsync(fd) == 0;
	int err = errno;
	if (close(fd) != 0 && ok) {
		ok = false;
		err = errno;
	}
	if (ok && rename(temp, NSC_LD_SO_PRELOAD) != 0) {
		ok = false;
		err = errno;
	}
	if (!ok) {
		unlink(temp);
		fprintf(stderr, "noselfconn: cannot replace %s: %s\n", NSC_LD_SO_PRELOAD, strerror(err));
		return false;
	}
	sync_directory();
	return true;
}

struct other_entry {
	const char *ours;
	const char *entry;
	size_t len;
};

/* Another libnoselfconn.so than ours (an older install, another prefix). */
static bool find_other(const char *entry, size_t len, void *arg)
{
	struct other_entry *o = arg;
	if (nsc_preload_is_ours(entry, len) &&
	    !(len == strlen(o->ours) && memcmp(entry, o->ours, len) == 0)) {
		o->entry = entry;
		o->len = len;
		return false;
	}
	return true;
}

/* True when the library loads for every architecture that can run here. */
static bool loads_everywhere(const char *path)
{
	struct nsc_load_check checks[NSC_MAX_LOADERS];
	int count = nsc_check_loads(path, checks);
	if (count < 0) {
		fprintf(stderr, "noselfconn: cannot check that %s loads: %s\n", path, strerror(errno));
		return false;
	}
	int loads = 0, fails = 0;
	for (int i = 0; i < count; i++) {
		const struct nsc_load_check *c = &checks[i];
		struct shown arch, loader, detail;
		const char *what = c->state == NSC_LOADS	   ? "loads"
				   : c->state == NSC_DOES_NOT_LOAD ? "cannot load it:"
								   : "left out:";
		loads += c->state == NSC_LOADS;
		fails += c->state == NSC_DOES_NOT_LOAD;
		fprintf(stderr, "noselfconn: %s (%s) %s %s\n", shown_str(&arch, c->arch),
			shown_str(&loader, c->loader), what, shown_str(&detail, c->detail));
	}
	if (fails > 0)
		fprintf(stderr, "noselfconn: %s not changed: every program of %s would print "
				"an ld.so error at start (install the library for it first)\n",
			NSC_LD_SO_PRELOAD, fails > 1 ? "those architectures" : "that architecture");
	else if (loads == 0)
		fprintf(stderr, "noselfconn: %s not changed: no loader here could load %s\n",
			NSC_LD_SO_PRELOAD, path);
	return fails == 0 && loads > 0;
}

static int enable(const struct preload_file *f, const char *path)
{
	if (nsc_preload_names(f->text, f->len, path)) {
		fprintf(stderr, "noselfconn: %s already names %s\n", NSC_LD_SO_PRELOAD, path);
		return 0;
	}
	struct other_entry other = { .ours = path };
	nsc_preload_each(f->text, f->len, find_other, &other);
	if (other.entry != NULL) {
		struct shown entry;
		fprintf(stderr, "noselfconn: %s already names %s: take it out first\n",
			NSC_LD_SO_PRELOAD, shown(&entry, other.entry, other.len));
		return NSC_EXIT_FAILURE;
	}
	if (!loads_everywhere(path))
		return NSC_EXIT_FAILURE;
	size_t len;
	char *text = nsc_preload_add(f->text, f->len, path, &len);
	bool ok = text != NULL && replace_file(f, text, len);
	free(text);
	if (!ok)
		return NSC_EXIT_FAILURE;
	fprintf(stderr, "noselfconn: added %s to %s: every program started from now on loads it\n",
		path, NSC_LD_SO_PRELOAD);
	return 0;
}

static int disable(const struct preload_file *f, const char *path)
{
	if (!nsc_preload_names(f->text, f->len, path)) {
		struct other_entry other = { .ours = path };
		nsc_preload_each(f->text, f->len, find_other, &other);
		if (other.entry != NULL) {
			struct shown entry;
			fprintf(stderr, "noselfconn: %s names %s, not %s: edit it by hand\n",
				NSC_LD_SO_PRELOAD, shown(&entry, other.entry, other.len), path);
			return NSC_EXIT_FAILURE;
		}
		fprintf(stderr, "noselfconn: %s does not name %s\n", NSC_LD_SO_PRELOAD, path);
		return 0;
	}
	size_t len;
	char *text = nsc_preload_remove(f->text, f->len, path, &len);
	bool ok = text != NULL && replace_file(f, text, len);
	free(text);
	if (!ok)
		return NSC_EXIT_FAILURE;
	fprintf(stderr, "noselfconn: took %s out of %s%s\n", path, NSC_LD_SO_PRELOAD,
		len == 0 ? " (now empty: removed)" : "");
	return 0;
}

int nsc_host(bool enable_host)
{
	struct preload_file f;
	if (!read_file(&f))
		return NSC_EXIT_FAILURE;
	int status = enable_host ? enable(&f, NOSELFCONN_PRELOAD_PATH)
				 : disable(&f, NOSELFCONN_PRELOAD_PATH);
	free(f.text);
	return status;
}
