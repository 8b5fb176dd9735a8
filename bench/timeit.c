/* bench/timeit.c: times whole processes, interleaved, many repetitions.
 *
 *   timeit REPS WARMUP LABEL CMD ARGS... [ ::: LABEL CMD ARGS... ]...
 *
 * Each repetition runs every command once (posix_spawn + waitpid, stdout/stderr to /dev/null),
 * rotating the order, so that machine noise hits all of them alike. Wall time per run is
 * CLOCK_MONOTONIC around spawn..wait. A command that exits nonzero aborts the benchmark.
 * Also records the child's CPU time (user + sys, from wait4), which a busy machine inflates
 * far less than wall time.
 * Prints one line per command: label median_ms p90_ms min_ms mean_ms cpu_median_ms cpu_p90_ms. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct cmd {
    const char *label;
    char **argv;
    double *ms;
    double *cpu;
};

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double run_once(const struct cmd *c, posix_spawn_file_actions_t *fa, double *cpu) {
    struct timespec t0, t1;
    pid_t pid;
    int status = 0;
    struct rusage ru;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (posix_spawn(&pid, c->argv[0], fa, NULL, c->argv, environ) != 0) {
        perror(c->argv[0]);
        exit(1);
    }
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("wait4");
        exit(1);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "timeit: '%s' (%s) failed with status %d\n", c->label, c->argv[0], status);
        exit(1);
    }
    *cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    return (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: timeit REPS WARMUP LABEL CMD ARGS... [::: LABEL CMD ARGS...]...\n");
        return 2;
    }
    int reps = atoi(argv[1]), warm = atoi(argv[2]);
    struct cmd cmds[16];
    int n = 0;
    for (int i = 3; i < argc && n < 16;) {
        cmds[n].label = argv[i++];
        cmds[n].argv = &argv[i];
        while (i < argc && strcmp(argv[i], ":::") != 0) ++i;
        if (i < argc) argv[i++] = NULL; /* terminate this command's argv */
        cmds[n].ms = calloc((size_t)reps, sizeof(double));
        cmds[n].cpu = calloc((size_t)reps, sizeof(double));
        ++n;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    double ignored;
    for (int r = 0; r < warm; ++r)
        for (int k = 0; k < n; ++k) run_once(&cmds[k], &fa, &ignored);
    for (int r = 0; r < reps; ++r)
        for (int j = 0; j < n; ++j) {
            int k = (j + r) % n;
            cmds[k].ms[r] = run_once(&cmds[k], &fa, &cmds[k].cpu[r]);
        }
    for (int k = 0; k < n; ++k) {
        double sum = 0;
        for (int r = 0; r < reps; ++r) sum += cmds[k].ms[r];
        qsort(cmds[k].ms, (size_t)reps, sizeof(double), cmp);
        qsort(cmds[k].cpu, (size_t)reps, sizeof(double), cmp);
        int p90 = (int)((reps - 1) * 0.9 + 0.5);
        printf("%s %.3f %.3f %.3f %.3f %.3f %.3f\n", cmds[k].label, cmds[k].ms[reps / 2],
               cmds[k].ms[p90], cmds[k].ms[0], sum / reps, cmds[k].cpu[reps / 2], cmds[k].cpu[p90]);
    }
    return 0;
}
