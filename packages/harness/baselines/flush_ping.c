/*
 * Native baseline of smpsim's `shootdown` workload: the floor a synced cross-CPU step has on this
 * host. Task 0 publishes a request (a sequence number in one cache line) and waits until each other
 * task has acknowledged it in a line of its own; the others spin on the request line and acknowledge.
 * One op is one such round: a flush's request and its last acknowledgement, without the flush. Spins
 * call sched_yield every 4096 looks, so more tasks than cores still make progress (the host OS then
 * decides who runs, as it does for smpsim without run tokens). Only task 0 counts ops; it also times
 * each round (one clock read per round, as smpsim's flush latency includes one) into a histogram of
 * 8 ns buckets and prints its median and 90th percentile, so the floor compares with smpsim's p50:
 *
 *   task 0 round_ns p50 P p90 Q
 *
 *   flush_ping TASKS MILLISECONDS
 */
#include "common.h"
#include <sched.h>

#define LINE 16 /* ints per 64-byte line */

static volatile int *words; /* [0]: request; [t * LINE]: task t's acknowledgement; shared, mapped before fork */
static int ntasks = 1;

#define BUCKET_NS 8
#define BUCKETS 8192 /* up to 64 µs; longer rounds count in the last bucket */
static long long hist[BUCKETS];

/* The round time below which a share `q` of task 0's rounds took (the upper edge of its bucket). */
static long long round_quantile(long long rounds, double q)
{
	long long want = (long long)(q * (double)rounds), seen = 0;
	for (int b = 0; b < BUCKETS; b++) {
		seen += hist[b];
		if (seen > want)
			return (long long)(b + 1) * BUCKET_NS;
	}
	return (long long)BUCKETS * BUCKET_NS;
}

static void relax(unsigned *spins)
{
	if ((++*spins & 4095) == 0)
		sched_yield();
}

static long long testcase(int task, long long deadline_ns, long long *minflt)
{
	*minflt = 0;
	unsigned spins = 0;
	if (task != 0) {
		int last = 0;
		for (;;) {
			int v = __atomic_load_n(&words[0], __ATOMIC_ACQUIRE);
			if (v < 0)
				return 0;
			if (v != last) {
				__atomic_store_n(&words[task * LINE], v, __ATOMIC_RELEASE);
				last = v;
			} else
				relax(&spins);
		}
	}
	long long n = 0;
	long long t = now_ns();
	for (int seq = 1;; seq++) {
		__atomic_store_n(&words[0], seq, __ATOMIC_SEQ_CST);
		for (int k = 1; k < ntasks; k++)
			while (__atomic_load_n(&words[k * LINE], __ATOMIC_ACQUIRE) != seq)
				relax(&spins);
		long long t1 = now_ns();
		long long b = (t1 - t) / BUCKET_NS;
		hist[b < BUCKETS ? b : BUCKETS - 1]++;
		t = t1;
		n++;
		if (t1 >= deadline_ns)
			break;
	}
	__atomic_store_n(&words[0], -1, __ATOMIC_RELEASE);
	if (n > 0) /* the child exits with _exit: write directly, not through stdio's buffer */
		dprintf(1, "task 0 round_ns p50 %lld p90 %lld\n", round_quantile(n, 0.5), round_quantile(n, 0.9));
	return n;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s TASKS MILLISECONDS\n", argv[0]);
		return 2;
	}
	ntasks = atoi(argv[1]); /* run_tasks refuses a count out of range */
	words = mmap(NULL, (size_t)(MAX_TASKS + 1) * LINE * sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (words == MAP_FAILED)
		die("mmap");
	return run_tasks(ntasks, atoll(argv[2]));
}
