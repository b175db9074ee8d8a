/*
 * Native baseline of smpsim's `tlb-hit` workload: each task loops over its own working set of PAGES
 * pages with the same pattern — load the word at the cursor, store the running sum to the next word,
 * advance 64 bytes, wrap at the end — through volatile pointers, so every access is a real load or
 * store that hits the TLB. Two accesses per step; ops are accesses.
 *
 *   tlb_hit TASKS MILLISECONDS PAGES
 */
#include "common.h"

static int pages = 8;

static long long testcase(int task, long long deadline_ns, long long *minflt)
{
	(void)task;
	size_t span = (size_t)pages * 4096;
	volatile int *mem = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	for (size_t p = 0; p < span / 4; p += 1024)
		mem[p + 2] = 1; /* fault everything in, as the workload does */
	long long before = minor_faults();
	size_t words = span / 4, off = 0;
	int sum = 0;
	long long n = 0;
	for (;;) {
		for (int i = 0; i < 1024; i++) {
			sum += mem[off];
			mem[off + 1] = sum;
			off += 16;
			if (off >= words)
				off = 0;
		}
		n += 2048;
		if (now_ns() >= deadline_ns)
			break;
	}
	*minflt = minor_faults() - before;
	return n;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s TASKS MILLISECONDS PAGES\n", argv[0]);
		return 2;
	}
	pages = atoi(argv[3]);
	if (pages < 1)
		pages = 1;
	return run_tasks(atoi(argv[1]), atoll(argv[2]));
}
