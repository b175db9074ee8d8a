/*
 * Native baseline of smpsim's `write-notify` workload, on the host kernel: each task creates its own
 * file of PAGES pages in DIR, maps it MAP_SHARED once and writes every page; then repeats:
 * msync(MS_SYNC) of the whole mapping (writeback cleans every page and write-protects its PTEs), then
 * one store per page, each of which takes a write-notify fault (page_mkwrite). Ops are the stores
 * after a clean; `minflt` is the minor-fault count of the same loop from getrusage, which should match
 * when the file system accounts dirty pages (on tmpfs it does not, and there are no such faults).
 *
 *   write_notify TASKS MILLISECONDS PAGES DIR
 */
#include "common.h"

static int pages = 256;
static const char *dir = "/tmp";

static long long testcase(int task, long long deadline_ns, long long *minflt)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/smpsim-wn-%d-%d", dir, (int)getppid(), task);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die(path);
	unlink(path);
	size_t len = (size_t)pages * 4096;
	if (ftruncate(fd, (off_t)len) != 0)
		die("ftruncate");
	volatile int *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	for (size_t p = 0; p < len / 4; p += 1024)
		mem[p] = 1;
	long long before = minor_faults();
	long long n = 0;
	int v = 1;
	while (now_ns() < deadline_ns) {
		if (msync((void *)mem, len, MS_SYNC) != 0)
			die("msync");
		v++;
		for (size_t p = 0; p < len / 4; p += 1024) {
			mem[p] = v;
			n++;
		}
	}
	*minflt = minor_faults() - before;
	munmap((void *)mem, len);
	close(fd);
	return n;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s TASKS MILLISECONDS PAGES DIR\n", argv[0]);
		return 2;
	}
	pages = atoi(argv[3]);
	if (pages < 1)
		pages = 1;
	dir = argv[4];
	return run_tasks(atoi(argv[1]), atoll(argv[2]));
}
