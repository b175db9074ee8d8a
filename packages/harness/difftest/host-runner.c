/*
 * host-runner: the host side of a smpsim differential test.
 *
 * Runs a differential-test trace (format version 1, see packages/harness/src/difftest/trace.ts)
 * against the host kernel on a real file and prints one JSON line per op on stdout, for a comparator
 * to diff against smpsim's run of the same trace.
 *
 *   cc -O2 -Wall -Wextra -o host-runner host-runner.c
 *   host-runner TRACE_FILE DIR
 *
 * DIR must be on a disk file system (not tmpfs, which does not account dirty pages). The test file is
 * DIR/smpsim-difftest.<pid>; it is removed at exit, also on error.
 *
 * Output: a header line
 *   {"runner":"host","kernel":"<release>","fs":"0x<f_type>","cachestat":true|false}
 * then, for each op line of the trace, in order:
 *   {"line":L,"op":"OP","result":R,"minflt":A,"majflt":B}
 * with ,"cached":C,"dirty":D,"writeback":W (stat) or ,"dirtied":P (io) before the closing brace.
 * R is the value read (load, pread), "ok", "segv", "sigbus", "errno:ENAME", or "eof" (a pread past the
 * end of the file). A and B are the thread's minor / major fault counts taken by the op itself.
 *
 * Usage and trace errors: one line "host-runner: <message>" on stderr, exit status 2.
 *
 * C11, Linux x86-64, libc and Linux headers only.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#define PAGE_SIZE_ 4096L
#define WORDS_PER_PAGE 1024
#define MAX_SLOTS 16
#define MAX_FILE_PAGES 4096 /* as trace.ts: file 1..4096, ftruncate 0..4096 */
#define TMPFS_MAGIC_ 0x01021994L

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif

struct cachestat_range_ {
	uint64_t off;
	uint64_t len;
};
struct cachestat_ {
	uint64_t nr_cache;
	uint64_t nr_dirty;
	uint64_t nr_writeback;
	uint64_t nr_evicted;
	uint64_t nr_recently_evicted;
};

/* ---------------------------------------------------------------- the trace */

enum op_kind {
	OP_VERSION,
	OP_FILE,
	OP_MAP,
	OP_UNMAP,
	OP_STORE,
	OP_LOAD,
	OP_MPROTECT,
	OP_MSYNC,
	OP_FSYNC,
	OP_PREAD,
	OP_PWRITE,
	OP_FTRUNCATE,
	OP_STAT,
	OP_IO,
	OP_COUNT_
};

static const char *const op_names[OP_COUNT_] = {
	"version", "file", "map", "unmap", "store", "load", "mprotect",
	"msync", "fsync", "pread", "pwrite", "ftruncate", "stat", "io",
};

struct op {
	int line;
	enum op_kind kind;
	int slot;
	long page;   /* PAGE (store, load, mprotect, msync, pread, pwrite, stat) or PGOFF (map) */
	long pages;  /* PAGES (file, map, ftruncate) or N (mprotect, msync, stat) */
	int word;
	int32_t value;
	int write;   /* rw (map, mprotect) */
	int shared;  /* shared (map) */
	int random;  /* random (map) */
	int sync;    /* sync (msync) */
	int range;   /* stat has PAGE N */
};

static struct op *ops;
static size_t n_ops;
static const char *trace_name;

/* ---------------------------------------------------------------- cleanup and errors */

static char test_path[PATH_MAX];
static volatile sig_atomic_t test_path_set;

static void remove_test_file(void)
{
	if (test_path_set) {
		test_path_set = 0;
		unlink(test_path);
	}
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fflush(stdout);
	fprintf(stderr, "host-runner: %s\n", msg);
	remove_test_file();
	exit(2);
}

static void on_terminate(int sig)
{
	if (test_path_set)
		unlink(test_path);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---------------------------------------------------------------- parsing */

#define MAX_TOKENS 8

static int parse_int(const char *s, long long min, long long max, long long *out)
{
	const char *p = s;
	if (*p == '-')
		p++;
	if (!*p)
		return 0;
	for (const char *q = p; *q; q++)
		if (!isdigit((unsigned char)*q))
			return 0;
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return 0;
	*out = v;
	return 1;
}

struct line_ctx {
	int line;
	const char *body;
	char **tok;
	int ntok;
};

static void bad(const struct line_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void bad(const struct line_ctx *c, const char *fmt, ...)
{
	char why[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	die("%s:%d: %s: '%s'", trace_name, c->line, why, c->body);
}

/* argument k (0-based, after the op name) as an integer in [min, max] */
static long long arg_int(const struct line_ctx *c, int k, const char *what, long long min, long long max)
{
	long long v;
	if (!parse_int(c->tok[k + 1], min, max, &v))
		bad(c, "%s must be an integer from %lld to %lld, got '%s'", what, min, max, c->tok[k + 1]);
	return v;
}

static int arg_pick(const struct line_ctx *c, int k, const char *what, const char *yes, const char *no)
{
	if (strcmp(c->tok[k + 1], yes) == 0)
		return 1;
	if (strcmp(c->tok[k + 1], no) == 0)
		return 0;
	bad(c, "%s must be %s or %s, got '%s'", what, yes, no, c->tok[k + 1]);
}

static void parse_trace(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die("cannot read trace %s: %s", path, strerror(errno));
	char *buf = NULL;
	size_t cap = 0, ops_cap = 0;
	ssize_t len;
	int lineno = 0, version_seen = 0;
	struct { int mapped; long pages; } slots[MAX_SLOTS];
	memset(slots, 0, sizeof slots);

	while (errno = 0, (len = getline(&buf, &cap, f)) >= 0) {
		lineno++;
		char *hash = strchr(buf, '#');
		if (hash)
			*hash = '\0';
		/* trim, keeping the body for messages */
		char *body = buf;
		while (*body && isspace((unsigned char)*body))
			body++;
		char *e = body + strlen(body);
		while (e > body && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (!*body)
			continue;
		char bodycopy[256];
		snprintf(bodycopy, sizeof bodycopy, "%s", body);

		char *tok[MAX_TOKENS + 1];
		int ntok = 0;
		for (char *save = NULL, *t = strtok_r(body, " \t\r\n\v\f", &save); t; t = strtok_r(NULL, " \t\r\n\v\f", &save)) {
			if (ntok == MAX_TOKENS) {
				struct line_ctx c = { lineno, bodycopy, tok, ntok };
				bad(&c, "too many words");
			}
			tok[ntok++] = t;
		}
		struct line_ctx c = { lineno, bodycopy, tok, ntok };
		int nargs = ntok - 1;

		if (!version_seen) {
			if (strcmp(tok[0], "version") != 0)
				bad(&c, "the first line must be 'version 1'");
			if (nargs != 1 || strcmp(tok[1], "1") != 0)
				bad(&c, "unsupported trace version (this runner reads version 1)");
			version_seen = 1;
		}

		int kind = -1;
		for (int k = 0; k < OP_COUNT_; k++)
			if (strcmp(tok[0], op_names[k]) == 0)
				kind = k;
		if (kind < 0)
			bad(&c, "unknown op '%s'", tok[0]);

		static const signed char arity[OP_COUNT_][2] = {
			[OP_VERSION] = { 1, 1 }, [OP_FILE] = { 1, 1 },     [OP_MAP] = { 5, 6 },   [OP_UNMAP] = { 1, 1 },
			[OP_STORE] = { 4, 4 },   [OP_LOAD] = { 3, 3 },     [OP_MPROTECT] = { 4, 4 },
			[OP_MSYNC] = { 4, 4 },   [OP_FSYNC] = { 0, 0 },    [OP_PREAD] = { 2, 2 }, [OP_PWRITE] = { 3, 3 },
			[OP_FTRUNCATE] = { 1, 1 }, [OP_STAT] = { 0, 2 },   [OP_IO] = { 0, 0 },
		};
		if ((nargs != arity[kind][0] && nargs != arity[kind][1]) || (kind == OP_STAT && nargs == 1)) {
			if (arity[kind][0] == arity[kind][1])
				bad(&c, "%s takes %d argument(s), got %d", op_names[kind], arity[kind][0], nargs);
			bad(&c, "%s takes %d or %d argument(s), got %d", op_names[kind], arity[kind][0], arity[kind][1], nargs);
		}

		if (kind == OP_VERSION && n_ops != 0)
			bad(&c, "'version' may appear once, as the first op");
		if (kind == OP_FILE && n_ops != 1)
			bad(&c, "'file' may appear once, as the first op after 'version'");
		if (kind != OP_VERSION && kind != OP_FILE && n_ops < 2)
			bad(&c, "the first op after 'version' must be 'file PAGES'");

		struct op o;
		memset(&o, 0, sizeof o);
		o.line = lineno;
		o.kind = (enum op_kind)kind;
		switch (o.kind) {
		case OP_VERSION:
		case OP_FSYNC:
		case OP_IO:
			break;
		case OP_FILE:
			o.pages = arg_int(&c, 0, "PAGES", 1, MAX_FILE_PAGES);
			break;
		case OP_MAP:
			o.slot = (int)arg_int(&c, 0, "SLOT", 0, MAX_SLOTS - 1);
			o.page = arg_int(&c, 1, "PGOFF", 0, INT32_MAX);
			o.pages = arg_int(&c, 2, "PAGES", 1, INT32_MAX);
			o.write = arg_pick(&c, 3, "protection", "rw", "r");
			o.shared = arg_pick(&c, 4, "sharing", "shared", "private");
			if (nargs == 6) {
				if (strcmp(tok[6], "random") != 0)
					bad(&c, "the last word of map may only be 'random', got '%s'", tok[6]);
				o.random = 1;
			}
			break;
		case OP_UNMAP:
			o.slot = (int)arg_int(&c, 0, "SLOT", 0, MAX_SLOTS - 1);
			break;
		case OP_STORE:
		case OP_LOAD:
			o.slot = (int)arg_int(&c, 0, "SLOT", 0, MAX_SLOTS - 1);
			o.page = arg_int(&c, 1, "PAGE", 0, INT32_MAX);
			o.word = (int)arg_int(&c, 2, "WORD", 0, WORDS_PER_PAGE - 1);
			if (o.kind == OP_STORE)
				o.value = (int32_t)arg_int(&c, 3, "VALUE", INT32_MIN, INT32_MAX);
			break;
		case OP_MPROTECT:
		case OP_MSYNC:
			o.slot = (int)arg_int(&c, 0, "SLOT", 0, MAX_SLOTS - 1);
			o.page = arg_int(&c, 1, "PAGE", 0, INT32_MAX);
			o.pages = arg_int(&c, 2, "N", 1, INT32_MAX);
			if (o.kind == OP_MPROTECT)
				o.write = arg_pick(&c, 3, "protection", "rw", "r");
			else
				o.sync = arg_pick(&c, 3, "mode", "sync", "async");
			break;
		case OP_PREAD:
		case OP_PWRITE:
			o.page = arg_int(&c, 0, "PAGE", 0, INT32_MAX);
			o.word = (int)arg_int(&c, 1, "WORD", 0, WORDS_PER_PAGE - 1);
			if (o.kind == OP_PWRITE)
				o.value = (int32_t)arg_int(&c, 2, "VALUE", INT32_MIN, INT32_MAX);
			break;
		case OP_FTRUNCATE:
			o.pages = arg_int(&c, 0, "PAGES", 0, MAX_FILE_PAGES);
			break;
		case OP_STAT:
			if (nargs == 2) {
				o.range = 1;
				o.page = arg_int(&c, 0, "PAGE", 0, INT32_MAX);
				o.pages = arg_int(&c, 1, "N", 1, INT32_MAX);
			}
			break;
		case OP_COUNT_:
			break;
		}

		/* the slot checks, on the trace's own state (as trace.ts's checkSlots) */
		switch (o.kind) {
		case OP_MAP:
			if (slots[o.slot].mapped)
				bad(&c, "slot %d is already mapped", o.slot);
			slots[o.slot].mapped = 1;
			slots[o.slot].pages = o.pages;
			break;
		case OP_UNMAP:
			if (!slots[o.slot].mapped)
				bad(&c, "slot %d is not mapped", o.slot);
			slots[o.slot].mapped = 0;
			break;
		case OP_STORE:
		case OP_LOAD:
		case OP_MPROTECT:
		case OP_MSYNC: {
			if (!slots[o.slot].mapped)
				bad(&c, "slot %d is not mapped", o.slot);
			long end = o.page + (o.kind == OP_STORE || o.kind == OP_LOAD ? 1 : o.pages);
			if (end > slots[o.slot].pages)
				bad(&c, "pages %ld..%ld are outside slot %d's %ld pages", o.page, end - 1, o.slot,
				    slots[o.slot].pages);
			break;
		}
		default:
			break;
		}

		if (n_ops == ops_cap) {
			ops_cap = ops_cap ? ops_cap * 2 : 64;
			ops = realloc(ops, ops_cap * sizeof *ops);
			if (!ops)
				die("out of memory");
		}
		ops[n_ops++] = o;
	}
	if (ferror(f))
		die("cannot read trace %s: %s", path, strerror(errno));
	free(buf);
	fclose(f);
	if (!version_seen)
		die("%s: empty trace (no 'version 1' line)", path);
	if (n_ops < 2)
		die("%s: no 'file PAGES' line", path);
}

/* ---------------------------------------------------------------- results */

enum res_kind { RES_OK, RES_VALUE, RES_SEGV, RES_SIGBUS, RES_ERRNO, RES_EOF, RES_SHORT };

struct result {
	enum res_kind kind;
	long long value;
	int err;
	long long cached, dirty, writeback; /* stat */
	long long dirtied;                   /* io */
};

static const char *errno_name(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	case E2BIG: return "E2BIG";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case ENFILE: return "ENFILE";
	case EMFILE: return "EMFILE";
	case ETXTBSY: return "ETXTBSY";
	case EFBIG: return "EFBIG";
	case ENOSPC: return "ENOSPC";
	case ESPIPE: return "ESPIPE";
	case EROFS: return "EROFS";
	case ERANGE: return "ERANGE";
	case ENOSYS: return "ENOSYS";
	case EOVERFLOW: return "EOVERFLOW";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EDQUOT: return "EDQUOT";
	default: return NULL;
	}
}

/* ---------------------------------------------------------------- faults */

static sigjmp_buf fault_jmp;
static volatile sig_atomic_t in_access;
static volatile sig_atomic_t fault_sig;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	if (in_access) {
		in_access = 0;
		fault_sig = sig;
		siglongjmp(fault_jmp, 1);
	}
	/* a fault outside a trace access is a bug here: die of it, leaving no test file behind */
	if (test_path_set)
		unlink(test_path);
	signal(sig, SIG_DFL); /* returning re-runs the faulting instruction */
}

/* One 32-bit access through p; returns 0, SIGSEGV or SIGBUS. */
static __attribute__((noinline)) int access_word(volatile int32_t *p, int store, int32_t value, int32_t *loaded)
{
	fault_sig = 0;
	if (sigsetjmp(fault_jmp, 1) == 0) {
		in_access = 1;
		if (store)
			*p = value;
		else
			*loaded = *p;
		in_access = 0;
		return 0;
	}
	return fault_sig;
}

/* ---------------------------------------------------------------- the run */

static int fd = -1;
static int cachestat_ok;
static struct { volatile int32_t *base; long pages; int mapped; int failed_line; } slot_state[MAX_SLOTS];
static char zero_buf[64 * 1024];
static unsigned char mincore_vec[4096];

static int do_cachestat(uint64_t off, uint64_t len, struct cachestat_ *cs)
{
	struct cachestat_range_ r = { off, len };
	return (int)syscall(SYS_cachestat, fd, &r, cs, 0);
}

/* file pages [page, page + n): cached / dirty / writeback; -1 with errno on failure */
static int page_state(long page, long n, struct result *r)
{
	if (n == 0) {
		r->cached = r->dirty = r->writeback = 0;
		return 0;
	}
	if (cachestat_ok) {
		struct cachestat_ cs;
		if (do_cachestat((uint64_t)page * PAGE_SIZE_, (uint64_t)n * PAGE_SIZE_, &cs) == 0) {
			r->cached = (long long)cs.nr_cache;
			r->dirty = (long long)cs.nr_dirty;
			r->writeback = (long long)cs.nr_writeback;
			return 0;
		}
		if (errno != ENOSYS)
			return -1;
	}
	void *m = mmap(NULL, (size_t)n * PAGE_SIZE_, PROT_READ, MAP_SHARED, fd, (off_t)page * PAGE_SIZE_);
	if (m == MAP_FAILED)
		return -1;
	long long cached = 0;
	for (long done = 0; done < n;) {
		long chunk = n - done < (long)sizeof mincore_vec ? n - done : (long)sizeof mincore_vec;
		if (mincore((char *)m + done * PAGE_SIZE_, (size_t)chunk * PAGE_SIZE_, mincore_vec) != 0) {
			int e = errno;
			munmap(m, (size_t)n * PAGE_SIZE_);
			errno = e;
			return -1;
		}
		for (long i = 0; i < chunk; i++)
			cached += mincore_vec[i] & 1;
		done += chunk;
	}
	munmap(m, (size_t)n * PAGE_SIZE_);
	r->cached = cached;
	r->dirty = r->writeback = -1;
	return 0;
}

/* pages dirtied so far by this thread: (write_bytes - cancelled_write_bytes) / 4096, or -1 */
static long long pages_dirtied(void)
{
	char buf[2048];
	int f = open("/proc/thread-self/io", O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -1;
	ssize_t n = read(f, buf, sizeof buf - 1);
	close(f);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	long long wb = -1, cwb = -1;
	for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, "write_bytes:", 12) == 0)
			wb = strtoll(l + 12, NULL, 10);
		else if (strncmp(l, "cancelled_write_bytes:", 22) == 0)
			cwb = strtoll(l + 22, NULL, 10);
	}
	if (wb < 0 || cwb < 0)
		return -1;
	return (wb - cwb) / PAGE_SIZE_;
}

static volatile int32_t *slot_addr(const struct op *o, long page, int word)
{
	if (!slot_state[o->slot].mapped)
		die("%s:%d: slot %d is not mapped (its map on line %d failed)", trace_name, o->line, o->slot,
		    slot_state[o->slot].failed_line);
	return (volatile int32_t *)((volatile char *)slot_state[o->slot].base + page * PAGE_SIZE_) + word;
}

static int sys_fail(struct result *r)
{
	r->kind = RES_ERRNO;
	r->err = errno;
	return 0;
}

/* the `file` op: PAGES pages of zeros, written, synced and dropped from the page cache */
static int make_file(long pages)
{
	if (ftruncate(fd, 0) != 0)
		return -1;
	off_t total = (off_t)pages * PAGE_SIZE_, off = 0;
	while (off < total) {
		size_t len = total - off < (off_t)sizeof zero_buf ? (size_t)(total - off) : sizeof zero_buf;
		ssize_t n = pwrite(fd, zero_buf, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += n;
	}
	if (fsync(fd) != 0)
		return -1;
	int e = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if (e != 0) {
		errno = e;
		return -1;
	}
	/*
	 * pread/pwrite of the trace are random accesses: no readahead. Sequential readahead would cache
	 * neighbours in large folios (ext4 >= 6.16), and a folio is dirtied whole, so one pwrite would
	 * count as several dirty pages; smpsim's pages are order 0.
	 */
	e = posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
	if (e != 0) {
		errno = e;
		return -1;
	}
	return 0;
}

/* Runs one op; the fault counts are taken around the op itself. */
static void run_op(const struct op *o, struct result *r, long *minflt, long *majflt)
{
	struct rusage u0, u1;
	volatile int32_t *p = NULL;
	int32_t loaded = 0;
	int sig;
	ssize_t n;
	memset(r, 0, sizeof *r);
	r->kind = RES_OK;

	/* what needs no measuring: addresses (checked), stat's range */
	switch (o->kind) {
	case OP_STORE:
	case OP_LOAD:
	case OP_MPROTECT:
	case OP_MSYNC:
	case OP_UNMAP:
		p = slot_addr(o, o->page, o->word);
		break;
	default:
		break;
	}
	long stat_page = o->page, stat_n = o->pages;
	if (o->kind == OP_STAT && !o->range) {
		struct stat st;
		if (fstat(fd, &st) != 0)
			die("fstat: %s", strerror(errno));
		stat_page = 0;
		stat_n = (long)((st.st_size + PAGE_SIZE_ - 1) / PAGE_SIZE_);
	}

	getrusage(RUSAGE_THREAD, &u0);
	switch (o->kind) {
	case OP_VERSION:
		break;
	case OP_FILE:
		if (make_file(o->pages) != 0)
			sys_fail(r);
		break;
	case OP_MAP: {
		void *m = mmap(NULL, (size_t)o->pages * PAGE_SIZE_, PROT_READ | (o->write ? PROT_WRITE : 0),
			       o->shared ? MAP_SHARED : MAP_PRIVATE, fd, (off_t)o->page * PAGE_SIZE_);
		if (m == MAP_FAILED) {
			sys_fail(r);
			slot_state[o->slot].mapped = 0;
			slot_state[o->slot].failed_line = o->line;
			break;
		}
		slot_state[o->slot].base = m;
		slot_state[o->slot].pages = o->pages;
		slot_state[o->slot].mapped = 1;
		if (o->random && madvise(m, (size_t)o->pages * PAGE_SIZE_, MADV_RANDOM) != 0)
			sys_fail(r);
		break;
	}
	case OP_UNMAP:
		if (munmap((void *)slot_state[o->slot].base, (size_t)slot_state[o->slot].pages * PAGE_SIZE_) != 0)
			sys_fail(r);
		else
			slot_state[o->slot].mapped = 0;
		break;
	case OP_STORE:
	case OP_LOAD:
		sig = access_word(p, o->kind == OP_STORE, o->value, &loaded);
		if (sig == SIGSEGV)
			r->kind = RES_SEGV;
		else if (sig == SIGBUS)
			r->kind = RES_SIGBUS;
		else if (o->kind == OP_LOAD) {
			r->kind = RES_VALUE;
			r->value = loaded;
		}
		break;
	case OP_MPROTECT:
		if (mprotect((void *)p, (size_t)o->pages * PAGE_SIZE_, PROT_READ | (o->write ? PROT_WRITE : 0)) != 0)
			sys_fail(r);
		break;
	case OP_MSYNC:
		if (msync((void *)p, (size_t)o->pages * PAGE_SIZE_, o->sync ? MS_SYNC : MS_ASYNC) != 0)
			sys_fail(r);
		break;
	case OP_FSYNC:
		if (fsync(fd) != 0)
			sys_fail(r);
		break;
	case OP_PREAD:
		n = pread(fd, &loaded, sizeof loaded, (off_t)o->page * PAGE_SIZE_ + o->word * 4);
		if (n < 0)
			sys_fail(r);
		else if (n != sizeof loaded)
			r->kind = RES_EOF;
		else {
			r->kind = RES_VALUE;
			r->value = loaded;
		}
		break;
	case OP_PWRITE:
		n = pwrite(fd, &o->value, sizeof o->value, (off_t)o->page * PAGE_SIZE_ + o->word * 4);
		if (n < 0)
			sys_fail(r);
		else if (n != sizeof o->value)
			r->kind = RES_SHORT;
		break;
	case OP_FTRUNCATE:
		if (ftruncate(fd, (off_t)o->pages * PAGE_SIZE_) != 0)
			sys_fail(r);
		break;
	case OP_STAT:
		if (page_state(stat_page, stat_n, r) != 0) {
			sys_fail(r);
			r->cached = r->dirty = r->writeback = -1;
		}
		break;
	case OP_IO:
		r->dirtied = pages_dirtied();
		break;
	case OP_COUNT_:
		break;
	}
	getrusage(RUSAGE_THREAD, &u1);
	*minflt = u1.ru_minflt - u0.ru_minflt;
	*majflt = u1.ru_majflt - u0.ru_majflt;
}

static void print_result(const struct op *o, const struct result *r, long minflt, long majflt)
{
	char res[64];
	const char *name;
	switch (r->kind) {
	case RES_VALUE: snprintf(res, sizeof res, "%lld", r->value); break;
	case RES_SEGV: snprintf(res, sizeof res, "\"segv\""); break;
	case RES_SIGBUS: snprintf(res, sizeof res, "\"sigbus\""); break;
	case RES_EOF: snprintf(res, sizeof res, "\"eof\""); break;
	case RES_SHORT: snprintf(res, sizeof res, "\"short\""); break;
	case RES_ERRNO:
		name = errno_name(r->err);
		if (name)
			snprintf(res, sizeof res, "\"errno:%s\"", name);
		else
			snprintf(res, sizeof res, "\"errno:%d\"", r->err);
		break;
	case RES_OK:
	default: snprintf(res, sizeof res, "\"ok\""); break;
	}
	printf("{\"line\":%d,\"op\":\"%s\",\"result\":%s,\"minflt\":%ld,\"majflt\":%ld", o->line, op_names[o->kind], res,
	       minflt, majflt);
	if (o->kind == OP_STAT)
		printf(",\"cached\":%lld,\"dirty\":%lld,\"writeback\":%lld", r->cached, r->dirty, r->writeback);
	else if (o->kind == OP_IO)
		printf(",\"dirtied\":%lld", r->dirtied);
	printf("}\n");
	fflush(stdout);
}

static void print_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

/*
 * Maps every page of this process's own mappings (text, data, heap, stack) now, so that the fault
 * counts of an op are the op's: not the first touch of a libc routine or a stack page it runs on.
 * Best effort: errors (vvar, vsyscall, an old kernel without MADV_POPULATE_*) are ignored, and a
 * mapping over PREFAULT_MAX (a sanitizer's shadow, a huge reservation) is left alone.
 */
#define PREFAULT_MAX (64UL << 20)
static void prefault_self(void)
{
	static char maps[256 * 1024];
	int f = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return;
	size_t len = 0;
	ssize_t n;
	while (len < sizeof maps - 1 && (n = read(f, maps + len, sizeof maps - 1 - len)) > 0)
		len += (size_t)n;
	close(f);
	maps[len] = '\0';
	for (char *l = maps; *l;) {
		char *nl = strchr(l, '\n');
		if (nl)
			*nl = '\0';
		unsigned long start, end;
		char perms[8];
		if (sscanf(l, "%lx-%lx %7s", &start, &end, perms) == 3 && perms[0] == 'r' && end - start <= PREFAULT_MAX &&
		    !strstr(l, "[vvar") && !strstr(l, "[vsyscall]")) {
			int adv = perms[1] == 'w' && perms[3] == 'p' ? MADV_POPULATE_WRITE : MADV_POPULATE_READ;
			madvise((void *)start, end - start, adv);
		}
		if (!nl)
			break;
		l = nl + 1;
	}
}

int main(int argc, char **argv)
{
	if (argc != 3)
		die("usage: host-runner TRACE_FILE DIR");
	trace_name = argv[1];
	const char *dir = argv[2];
	parse_trace(trace_name);

	struct statfs sfs;
	if (statfs(dir, &sfs) != 0)
		die("cannot statfs %s: %s", dir, strerror(errno));
	if ((long)sfs.f_type == TMPFS_MAGIC_)
		die("%s is tmpfs, which does not account dirty pages; use a directory on a disk file system", dir);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_terminate;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);

	int pl = snprintf(test_path, sizeof test_path, "%s/smpsim-difftest.%ld", dir, (long)getpid());
	if (pl < 0 || (size_t)pl >= sizeof test_path)
		die("%s: path too long", dir);
	fd = open(test_path, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		die("cannot create %s: %s", test_path, strerror(errno));
	test_path_set = 1;
	atexit(remove_test_file);

	struct cachestat_ cs;
	cachestat_ok = do_cachestat(0, 0, &cs) == 0;

	struct utsname un;
	if (uname(&un) != 0)
		strcpy(un.release, "unknown");
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("{\"runner\":\"host\",\"kernel\":");
	print_json_string(un.release);
	printf(",\"fs\":\"0x%lx\",\"cachestat\":%s}\n", (unsigned long)sfs.f_type, cachestat_ok ? "true" : "false");
	fflush(stdout);

	prefault_self();

	for (size_t i = 0; i < n_ops; i++) {
		struct result r;
		long minflt, majflt;
		run_op(&ops[i], &r, &minflt, &majflt);
		print_result(&ops[i], &r, minflt, majflt);
	}

	for (int s = 0; s < MAX_SLOTS; s++)
		if (slot_state[s].mapped)
			munmap((void *)slot_state[s].base, (size_t)slot_state[s].pages * PAGE_SIZE_);
	close(fd);
	remove_test_file();
	return 0;
}
