/* fakeapi.c: piyasa-fakeapi, an HTTP server standing in for Telegram's Bot API and an
 * OpenAI-compatible LLM provider, for tests, benchmarks and the demo (no internet
 * needed). This file holds main: flags, signals, and the libmicrohttpd daemon's life. */
#include "common/version.h"
#include "tests/fakeapi/fa_http.h"
#include "tests/fakeapi/fa_state.h"
#include "tests/fakeapi/fa_util.h"
#include "tests/fakeapi/fa_wait.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Per-connection pool: MHD clears it between keep-alive requests, so the default 32 KiB
 * costs a large memset per request; headers and read buffers fit well in 8 KiB. */
#define FA_CONN_MEMORY (8 * 1024)

struct fa_opts {
    int port;
    const char *bind;
    int threads;
    uint64_t seed;
    int history;
    struct fa_settings set;
};

static const char fa_usage[] =
    "usage: piyasa-fakeapi [options]\n"
    "  --port P                 listen port (default 28080; 0 picks a free one)\n"
    "  --bind ADDR              listen address (default 127.0.0.1)\n"
    "  --llm-latency-ms N       delay of every successful LLM answer\n"
    "  --telegram-latency-ms N  delay of every successful Telegram answer\n"
    "  --fault-429 RATE         probability (0..1) of a 429 per request\n"
    "  --fault-5xx RATE         probability of a 500/502/503\n"
    "  --fault-hang RATE        probability of answering only after --hang-ms\n"
    "  --fault-badjson RATE     probability of a 200 with a truncated JSON body\n"
    "  --fault-scope S          all|llm|telegram: which endpoints get faults\n"
    "  --guard-reject RATE      probability that the consistency guard answers HAYIR\n"
    "  --retry-after S          retry_after of injected 429s (default 1)\n"
    "  --hang-ms N              how long a hang lasts (default 30000)\n"
    "  --missing-chat ID[,ID]   chats that answer 400 chat not found (repeatable)\n"
    "  --history N              messages remembered per chat (default 1000)\n"
    "  --threads N              HTTP threads (default: number of CPUs)\n"
    "  --seed N                 seed of the random choices (default 1)\n"
    "  --quiet                  log nothing but the listening line\n"
    "  --verbose                log every request (method and bot id, never a token)\n"
    "  --help                   this text\n"
    "  --version                print the version\n";

static int fa_parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int fa_parse_rate(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);

    if (end == s || *end || !(v >= 0 && v <= 1))
        return -1;
    *out = v;
    return 0;
}

static int fa_parse_scope(const char *s, int *out)
{
    static const char *const names[] = { "all", "llm", "telegram" };

    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return -1;
}

static int fa_parse_missing(const char *s)
{
    char *copy = strdup(s), *save = NULL, *tok, *end;
    int rc = copy ? 0 : -1;

    for (tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && rc == 0;
         tok = strtok_r(NULL, ",", &save)) {
        long long id = strtoll(tok, &end, 10);
        rc = (end == tok || *end) ? -1 : fa_settings_add_missing_chat(id);
    }
    free(copy);
    return rc;
}

enum {
    O_PORT = 256,
    O_BIND,
    O_LLM_LAT,
    O_TG_LAT,
    O_F429,
    O_F5XX,
    O_FHANG,
    O_FBAD,
    O_SCOPE,
    O_GUARD,
    O_RETRY,
    O_HANG,
    O_MISSING,
    O_HISTORY,
    O_THREADS,
    O_SEED,
    O_QUIET,
    O_VERBOSE,
    O_HELP,
    O_VERSION
};

static const struct option fa_long_opts[] = {
    { "port", 1, 0, O_PORT },
    { "bind", 1, 0, O_BIND },
    { "llm-latency-ms", 1, 0, O_LLM_LAT },
    { "telegram-latency-ms", 1, 0, O_TG_LAT },
    { "fault-429", 1, 0, O_F429 },
    { "fault-5xx", 1, 0, O_F5XX },
    { "fault-hang", 1, 0, O_FHANG },
    { "fault-badjson", 1, 0, O_FBAD },
    { "fault-scope", 1, 0, O_SCOPE },
    { "guard-reject", 1, 0, O_GUARD },
    { "retry-after", 1, 0, O_RETRY },
    { "hang-ms", 1, 0, O_HANG },
    { "missing-chat", 1, 0, O_MISSING },
    { "history", 1, 0, O_HISTORY },
    { "threads", 1, 0, O_THREADS },
    { "seed", 1, 0, O_SEED },
    { "quiet", 0, 0, O_QUIET },
    { "verbose", 0, 0, O_VERBOSE },
    { "help", 0, 0, O_HELP },
    { "version", 0, 0, O_VERSION },
    { 0, 0, 0, 0 },
};

/* One option; returns 0, -1 on a bad value, 1 for --help, 2 for --version. */
static int fa_apply_opt(struct fa_opts *o, int c, const char *arg)
{
    struct fa_settings *s = &o->set;

    switch (c) {
    case O_PORT: return fa_parse_int(arg, 0, 65535, &o->port);
    case O_BIND: o->bind = arg; return 0;
    case O_LLM_LAT: return fa_parse_int(arg, 0, 3600000, &s->llm_latency_ms);
    case O_TG_LAT: return fa_parse_int(arg, 0, 3600000, &s->telegram_latency_ms);
    case O_F429: return fa_parse_rate(arg, &s->fault_429);
    case O_F5XX: return fa_parse_rate(arg, &s->fault_5xx);
    case O_FHANG: return fa_parse_rate(arg, &s->fault_hang);
    case O_FBAD: return fa_parse_rate(arg, &s->fault_badjson);
    case O_SCOPE: return fa_parse_scope(arg, &s->fault_scope);
    case O_GUARD: return fa_parse_rate(arg, &s->guard_reject);
    case O_RETRY: return fa_parse_int(arg, 0, 86400, &s->retry_after);
    case O_HANG: return fa_parse_int(arg, 0, 3600000, &s->hang_ms);
    case O_MISSING: return fa_parse_missing(arg);
    case O_HISTORY: return fa_parse_int(arg, 1, 10000000, &o->history);
    case O_THREADS: return fa_parse_int(arg, 1, 256, &o->threads);
    case O_SEED: o->seed = strtoull(arg, NULL, 10); return 0;
    case O_QUIET: fa_log_level = 0; return 0;
    case O_VERBOSE: fa_log_level = 2; return 0;
    case O_HELP: return 1;
    case O_VERSION: return 2;
    default: return -1;
    }
}

static int fa_parse_args(int argc, char **argv, struct fa_opts *o)
{
    int c, rc;

    while ((c = getopt_long(argc, argv, "", fa_long_opts, NULL)) != -1) {
        rc = fa_apply_opt(o, c, optarg);
        if (rc > 0) {
            if (rc == 1)
                fputs(fa_usage, stdout);
            else
                printf("piyasa-fakeapi %s\n", PIYASA_VERSION);
            exit(0);
        }
        if (rc < 0) {
            fprintf(stderr, "piyasa-fakeapi: bad option or value%s%s\n%s", optarg ? ": " : "",
                    optarg ? optarg : "", fa_usage);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "piyasa-fakeapi: unexpected argument %s\n%s", argv[optind], fa_usage);
        return -1;
    }
    return 0;
}

/* Many idle keep-alive connections and suspended long polls each hold a descriptor. */
static void fa_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static struct MHD_Daemon *fa_start_daemon(const struct fa_opts *o, const struct sockaddr *sa)
{
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO;

    if (sa->sa_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (fa_log_level > 0)
        flags |= MHD_USE_ERROR_LOG;
    return MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, fa_http_access, NULL,
                            MHD_OPTION_EXTERNAL_LOGGER, fa_log_mhd, NULL, /* must be first */
                            MHD_OPTION_NOTIFY_COMPLETED, fa_http_completed, NULL,
                            MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_THREAD_POOL_SIZE,
                            (unsigned)(o->threads > 1 ? o->threads : 0),
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)20000, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                            (size_t)FA_CONN_MEMORY, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)4096,
                            MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
}

static int fa_make_addr(const struct fa_opts *o, struct sockaddr_storage *ss)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, o->bind, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)o->port);
        return 0;
    }
    if (inet_pton(AF_INET6, o->bind, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)o->port);
        return 0;
    }
    return -1;
}

static void fa_announce(const struct fa_opts *o, struct MHD_Daemon *d, int v6)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info && info->port ? info->port : (unsigned)o->port;

    printf("piyasa-fakeapi listening on http://%s%s%s:%u\n", v6 ? "[" : "", o->bind, v6 ? "]" : "",
           port);
    fflush(stdout);
}

static void fa_init_defaults(struct fa_opts *o)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    memset(o, 0, sizeof(*o));
    o->port = 28080;
    o->bind = "127.0.0.1";
    o->threads = cpus > 0 ? (int)cpus : 1;
    o->seed = 1;
    o->history = 1000;
    o->set.retry_after = 1;
    o->set.hang_ms = 30000;
}

/* Runs until SIGTERM or SIGINT; then resumes every waiting request and stops MHD. */
static int fa_serve(const struct fa_opts *o, const struct sockaddr_storage *ss, const sigset_t *sigs)
{
    struct MHD_Daemon *d;
    int sig = 0;

    if (fa_wait_start() < 0) {
        fprintf(stderr, "piyasa-fakeapi: cannot start the timer thread\n");
        return 1;
    }
    d = fa_start_daemon(o, (const struct sockaddr *)ss);
    if (!d) {
        fprintf(stderr, "piyasa-fakeapi: cannot listen on %s:%d\n", o->bind, o->port);
        fa_wait_stop();
        return 1;
    }
    fa_announce(o, d, ss->ss_family == AF_INET6);
    fa_log(1, "%d HTTP threads, seed %llu", o->threads, (unsigned long long)o->seed);
    while (sigwait(sigs, &sig) != 0)
        ;
    fa_log(1, "signal %d, stopping", sig);
    fa_wait_stop(); /* MHD must not be stopped with suspended connections */
    MHD_stop_daemon(d);
    return 0;
}

int main(int argc, char **argv)
{
    struct fa_opts o;
    struct sockaddr_storage ss;
    sigset_t sigs;
    int rc;

    fa_init_defaults(&o);
    /* Block the stop signals before any thread exists, so only sigwait sees them. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    json_object_seed(0);
    if (fa_state_init(&o.set, 0) < 0 || fa_parse_args(argc, argv, &o) < 0)
        return 2;
    if (fa_make_addr(&o, &ss) < 0) {
        fprintf(stderr, "piyasa-fakeapi: bad --bind address %s\n", o.bind);
        return 2;
    }
    fa_settings_set(&o.set, o.history);
    fa_rand_seed(o.seed);
    fa_raise_nofile();
    rc = fa_serve(&o, &ss, &sigs);
    fa_state_free();
    return rc;
}
