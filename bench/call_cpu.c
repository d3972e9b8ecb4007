/* The server CPU time of one statement, called many times in ONE backend (bench/call_cpu.sh).
 *
 * Two connections: a writer W and the measured backend M. Per call, W runs its statement
 * (autocommit, so what it queues is committed), then M runs the measured one. Only M's CPU
 * time is read: /proc/<M's pid>/stat (utime + stime, clock ticks) and /proc/<M's
 * pid>/schedstat (run time, ns), before and after the measured calls, so the writer, the
 * client and any waiting for a core are not counted; no subtraction of two measurements.
 *
 *   call_cpu "conninfo" warmup calls "writer SQL or -" "measured SQL"
 *
 * Each SQL may contain $v, replaced per call by a random integer 1..1000 (the same for both
 * statements of a call). Prints one line:
 *   calls <n> stat_us <per call> sched_us <per call> wall_us <per call, M's statement at the client>
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void die(PGconn *c, const char *what) {
  fprintf(stderr, "%s: %s\n", what, c ? PQerrorMessage(c) : "");
  exit(1);
}

static void run(PGconn *c, const char *sql) {
  PGresult *r = PQexec(c, sql);
  ExecStatusType s = PQresultStatus(r);
  if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
    fprintf(stderr, "%s\n", sql);
    PQclear(r);
    die(c, "statement failed");
  }
  PQclear(r);
}

/* sql with every "$v" replaced by v */
static void subst(char *out, size_t n, const char *sql, int v) {
  char num[16];
  size_t o = 0;
  snprintf(num, sizeof num, "%d", v);
  for (const char *p = sql; *p && o + 16 < n; ++p) {
    if (p[0] == '$' && p[1] == 'v') {
      o += (size_t)snprintf(out + o, n - o, "%s", num);
      ++p;
    } else {
      out[o++] = *p;
    }
  }
  out[o] = 0;
}

static void cpu(int pid, long long *ticks, long long *ns) {
  char path[64], buf[4096];
  FILE *f;
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  f = fopen(path, "r");
  if (!f || !fgets(buf, sizeof buf, f)) die(NULL, "cannot read /proc/<pid>/stat");
  fclose(f);
  /* fields after the command name in parentheses: state is field 3, utime 14, stime 15 */
  char *p = strrchr(buf, ')');
  long long ut = 0, st = 0;
  int field = 2;
  for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " ")) {
    ++field;
    if (field == 14) ut = atoll(tok);
    if (field == 15) {
      st = atoll(tok);
      break;
    }
  }
  *ticks = ut + st;
  snprintf(path, sizeof path, "/proc/%d/schedstat", pid);
  f = fopen(path, "r");
  if (!f || fscanf(f, "%lld", ns) != 1) die(NULL, "cannot read /proc/<pid>/schedstat");
  fclose(f);
}

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: call_cpu conninfo warmup calls writer-sql|- measured-sql\n");
    return 2;
  }
  const int warmup = atoi(argv[2]), calls = atoi(argv[3]);
  const char *wsql = strcmp(argv[4], "-") == 0 ? NULL : argv[4], *msql = argv[5];
  PGconn *w = PQconnectdb(argv[1]), *m = PQconnectdb(argv[1]);
  if (PQstatus(w) != CONNECTION_OK) die(w, "writer connection");
  if (PQstatus(m) != CONNECTION_OK) die(m, "measured connection");
  const int pid = PQbackendPID(m);
  char buf[8192];
  long long t0 = 0, t1 = 0, n0 = 0, n1 = 0;
  double wall = 0;
  srandom(42);
  for (int i = 0; i < warmup + calls; ++i) {
    const int v = 1 + (int)(random() % 1000);
    if (i == warmup) cpu(pid, &t0, &n0);
    if (wsql) {
      subst(buf, sizeof buf, wsql, v);
      run(w, buf);
    }
    subst(buf, sizeof buf, msql, v);
    const double s = now_us();
    run(m, buf);
    if (i >= warmup) wall += now_us() - s;
  }
  cpu(pid, &t1, &n1);
  const long hz = sysconf(_SC_CLK_TCK);
  printf("calls %d stat_us %.2f sched_us %.2f wall_us %.2f\n", calls, (double)(t1 - t0) * 1e6 / hz / calls,
         (double)(n1 - n0) / 1e3 / calls, wall / calls);
  PQfinish(w);
  PQfinish(m);
  return 0;
}
