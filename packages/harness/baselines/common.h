/*
 * Shared by the smpsim bench baselines: will-it-scale style process tasks. The parent forks TASKS
 * children; each runs its test case for MILLISECONDS of host time and leaves its count and its own
 * elapsed nanoseconds in a shared page; the parent prints one line per task and the totals:
 *
 *   task I ops N ns T minflt F
 *   total ops_per_sec R per_task R/TASKS
 *
 * A test case is `long long testcase(int task, long long deadline_ns, long long *minflt)`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TASKS 256

struct result {
	long long ops;
	long long ns;
	long long minflt;
	long long pad[5];
};

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long minor_faults(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static long long testcase(int task, long long deadline_ns, long long *minflt);

static int run_tasks(int tasks, long long ms)
{
	if (tasks < 1 || tasks > MAX_TASKS) {
		fprintf(stderr, "tasks must be from 1 to %d\n", MAX_TASKS);
		return 2;
	}
	struct result *res = mmap(NULL, sizeof(struct result) * MAX_TASKS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		die("mmap results");
	for (int t = 0; t < tasks; t++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			long long start = now_ns();
			long long flt = 0;
			long long ops = testcase(t, start + ms * 1000000LL, &flt);
			res[t].ns = now_ns() - start;
			res[t].ops = ops;
			res[t].minflt = flt;
			_exit(0);
		}
	}
	int bad = 0;
	for (int t = 0; t < tasks; t++) {
		int st;
		if (wait(&st) < 0)
			die("wait");
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad = 1;
	}
	if (bad) {
		fprintf(stderr, "a task failed\n");
		return 1;
	}
	double total = 0;
	for (int t = 0; t < tasks; t++) {
		printf("task %d ops %lld ns %lld minflt %lld\n", t, res[t].ops, res[t].ns, res[t].minflt);
		total += res[t].ns > 0 ? res[t].ops * 1e9 / res[t].ns : 0;
	}
	printf("total ops_per_sec %.0f per_task %.0f\n", total, total / tasks);
	return 0;
}
