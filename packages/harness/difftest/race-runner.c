/*
 * race-runner: the host side of a smpsim multi-threaded differential test (difftest --race).
 *
 * Runs a race workload's contract on the host kernel with real threads, and prints one JSON line with
 * the outcome: how often the contract was checked and how often it failed. Interleavings are not
 * compared (they cannot be); what a workload promises is.
 *
 *   cc -O2 -Wall -pthread -o race-runner race-runner.c
 *   race-runner WORKLOAD DIR WRITERS MILLIS [--no-msync]
 *
 * WORKLOAD msync-race, as smpsim's workload of that name: a file of 2 pages mapped shared and
 * writable; writer threads 1..WRITERS each keep storing an increasing counter into word `t` of page 0,
 * recording each value after its store has completed; the main thread keeps taking every writer's
 * recorded value, calling msync(MS_SYNC) on page 0, and then reading page 0 *from the disk*: every
 * writer's word there must be at least what it had recorded before msync started.
 *
 * Reading from the disk: the file's block is found with FIEMAP (FIEMAP_FLAG_SYNC, after an fsync) and
 * read from the block device with O_DIRECT, which bypasses both the file's page cache and the
 * device's. Where the device cannot be opened (not root, no device node) the runner reads the file
 * with O_DIRECT instead and says so ("observation":"o-direct-file"): weaker, because an O_DIRECT read
 * writes back the range's dirty cached pages first, so it sees only writes lost from the page cache's
 * dirty state, not writes msync merely left unwritten.
 *
 * --no-msync skips the msync (a planted violation of the host side: the check must then fail, which
 * shows that the observation reads the disk and not the page cache).
 *
 * Output, one line:
 *   {"runner":"race","workload":"msync-race","kernel":"<release>","fs":"0x<f_type>",
 *    "observation":"block-device"|"o-direct-file","device":"<path>","writers":W,"checks":N,"lost":L,
 *    "stores":S,"first":{"check":I,"writer":T,"before":B,"onDisk":D}|null}
 * Usage errors: one line "race-runner: <message>" on stderr, exit status 2.
 *
 * C11, Linux, libc, pthreads and Linux headers only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096L
#define MAX_WRITERS 63
#define TMPFS_MAGIC_ 0x01021994L

static char file_path[4096];

static void cleanup(void)
{
	if (file_path[0])
		unlink(file_path);
}

static void die(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "race-runner: ");
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	exit(2);
}

static volatile int32_t *map;
static _Atomic int32_t recorded[MAX_WRITERS + 1];
static _Atomic int32_t stop;
static _Atomic long stores;

static void *writer(void *arg)
{
	int t = (int)(intptr_t)arg;
	int32_t v = 0;
	long n = 0;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		/* wraps after 2^32 stores; the check compares differences, which stay far below 2^31 */
		v = (int32_t)((uint32_t)v + 1);
		map[t] = v;
		atomic_store_explicit(&recorded[t], v, memory_order_release);
		n++;
	}
	atomic_fetch_add(&stores, n);
	return NULL;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The block device holding the file system of `fd`, from /sys/dev/block/MAJ:MIN/uevent's DEVNAME. */
static int device_path(int fd, char *out, size_t len)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -1;
	char p[128];
	snprintf(p, sizeof p, "/sys/dev/block/%u:%u/uevent", major(st.st_dev), minor(st.st_dev));
	FILE *f = fopen(p, "r");
	if (!f)
		return -1;
	char line[256];
	int found = -1;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "DEVNAME=", 8) == 0) {
			line[strcspn(line, "\n")] = 0;
			snprintf(out, len, "/dev/%s", line + 8);
			found = 0;
		}
	}
	fclose(f);
	return found;
}

/* The byte offset on the device of the file's first block, or -1 (not one plain mapped extent). */
static long long physical_of_first_page(int fd)
{
	union {
		struct fiemap fm;
		char buf[sizeof(struct fiemap) + sizeof(struct fiemap_extent)];
	} u;
	memset(&u, 0, sizeof u);
	u.fm.fm_start = 0;
	u.fm.fm_length = PAGE;
	u.fm.fm_flags = FIEMAP_FLAG_SYNC;
	u.fm.fm_extent_count = 1;
	if (ioctl(fd, FS_IOC_FIEMAP, &u.fm) != 0 || u.fm.fm_mapped_extents < 1)
		return -1;
	struct fiemap_extent *e = &u.fm.fm_extents[0];
	const unsigned bad = FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_DATA_ENCRYPTED |
			     FIEMAP_EXTENT_NOT_ALIGNED | FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_DATA_TAIL | FIEMAP_EXTENT_UNWRITTEN;
	if ((e->fe_flags & bad) || e->fe_logical != 0 || (e->fe_physical % PAGE) != 0)
		return -1;
	return (long long)e->fe_physical;
}

int main(int argc, char **argv)
{
	if (argc < 5 || argc > 6)
		die("usage: race-runner msync-race DIR WRITERS MILLIS [--no-msync]%s%s", "", "");
	if (strcmp(argv[1], "msync-race") != 0)
		die("unknown workload '%s' (race-runner knows msync-race)%s", argv[1], "");
	const char *dir = argv[2];
	char *end;
	long writers = strtol(argv[3], &end, 10);
	if (*end || writers < 1 || writers > MAX_WRITERS)
		die("WRITERS must be 1..63, got '%s'%s", argv[3], "");
	long millis = strtol(argv[4], &end, 10);
	if (*end || millis < 1)
		die("MILLIS must be a positive integer, got '%s'%s", argv[4], "");
	int do_msync = 1;
	if (argc == 6) {
		if (strcmp(argv[5], "--no-msync") != 0)
			die("unknown option '%s'%s", argv[5], "");
		do_msync = 0;
	}
	struct statfs sfs;
	if (statfs(dir, &sfs) != 0)
		die("cannot statfs %s: %s", dir, strerror(errno));
	if ((long)sfs.f_type == TMPFS_MAGIC_)
		die("%s is tmpfs, which writes nothing to a disk; use a directory on a disk file system%s", dir, "");

	snprintf(file_path, sizeof file_path, "%s/smpsim-race.%ld", dir, (long)getpid());
	atexit(cleanup);
	int fd = open(file_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die("cannot create %s: %s", file_path, strerror(errno));
	static char zero[2 * PAGE];
	if (pwrite(fd, zero, sizeof zero, 0) != (ssize_t)sizeof zero || fsync(fd) != 0)
		die("cannot write %s: %s", file_path, strerror(errno));

	/* the observation: the block device at the file's first block, else the file with O_DIRECT */
	const char *observation = "block-device";
	char dev[4096] = "";
	long long phys = physical_of_first_page(fd);
	int rfd = -1;
	if (phys >= 0 && device_path(fd, dev, sizeof dev) == 0)
		rfd = open(dev, O_RDONLY | O_DIRECT);
	if (rfd < 0) {
		observation = "o-direct-file";
		snprintf(dev, sizeof dev, "%s", file_path);
		phys = 0;
		rfd = open(file_path, O_RDONLY | O_DIRECT);
		if (rfd < 0)
			die("cannot read %s with O_DIRECT: %s", file_path, strerror(errno));
	}
	int32_t *disk;
	if (posix_memalign((void **)&disk, PAGE, PAGE) != 0)
		die("out of memory%s%s", "", "");
	/* the block must read as the zeros just written, else the device read is not the file's block */
	if (pread(rfd, disk, PAGE, phys) != PAGE)
		die("cannot read %s: %s", dev, strerror(errno));
	for (int i = 0; i < PAGE / 4; i++)
		if (disk[i] != 0)
			die("the block FIEMAP names on %s does not hold the file's zeros%s", dev, "");

	void *m = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("cannot mmap %s: %s", file_path, strerror(errno));
	map = m;

	pthread_t th[MAX_WRITERS + 1];
	for (long t = 1; t <= writers; t++)
		if (pthread_create(&th[t], NULL, writer, (void *)(intptr_t)t) != 0)
			die("cannot start a thread%s%s", "", "");

	long checks = 0, lost = 0;
	long first_check = -1, first_writer = 0;
	int32_t first_before = 0, first_on_disk = 0;
	int32_t before[MAX_WRITERS + 1];
	const double until = now_ms() + millis;
	while (now_ms() < until) {
		for (long t = 1; t <= writers; t++)
			before[t] = atomic_load_explicit(&recorded[t], memory_order_acquire);
		if (do_msync && msync(m, PAGE, MS_SYNC) != 0)
			die("msync: %s%s", strerror(errno), "");
		if (pread(rfd, disk, PAGE, phys) != PAGE)
			die("cannot read %s: %s", dev, strerror(errno));
		for (long t = 1; t <= writers; t++) {
			if ((int32_t)((uint32_t)disk[t] - (uint32_t)before[t]) < 0) {
				if (first_check < 0) {
					first_check = checks;
					first_writer = t;
					first_before = before[t];
					first_on_disk = disk[t];
				}
				lost++;
			}
		}
		checks++;
	}
	atomic_store(&stop, 1);
	for (long t = 1; t <= writers; t++)
		pthread_join(th[t], NULL);

	struct utsname un;
	uname(&un);
	printf("{\"runner\":\"race\",\"workload\":\"msync-race\",\"kernel\":\"%s\",\"fs\":\"0x%lx\",\"observation\":\"%s\",\"device\":\"%s\",\"msync\":%s,"
	       "\"writers\":%ld,\"checks\":%ld,\"lost\":%ld,\"stores\":%ld,\"first\":",
	       un.release, (unsigned long)sfs.f_type, observation, dev, do_msync ? "true" : "false", writers, checks, lost, atomic_load(&stores));
	if (first_check < 0)
		printf("null}\n");
	else
		printf("{\"check\":%ld,\"writer\":%ld,\"before\":%d,\"onDisk\":%d}}\n", first_check, first_writer, first_before, first_on_disk);
	munmap(m, 2 * PAGE);
	close(rfd);
	close(fd);
	return 0;
}
