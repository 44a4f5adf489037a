/* The UDP sender of benchmarks/udp_rate.py in C (sendmmsg), so the sender is never the limit:
 * the same traffic as the Python sender of benchmarks/serve.py — 1,000 templates, 1 % failover lines
 * of 200 pairs, the rest connection build/teardown — stamped with the current second, at a steady
 * rate (a batch every millisecond).
 *
 *     cc -O2 -o udp_sender udp_sender.c && ./udp_sender PORT RATE SECONDS
 *
 * Prints the datagrams sent and the seconds it took.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TEMPLATES 1000
#define MAXLEN 512
#define BATCH 256

static char lines[TEMPLATES][MAXLEN];
static int lens[TEMPLATES];

static void stamp(time_t now) {
    char ts[64];
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%b %d %Y %H:%M:%S", &tm);
    for (int i = 0; i < TEMPLATES; i++) {
        char host[16];
        snprintf(host, sizeof(host), "fw%03d", i % 200);
        int a = i % 250, p = 40000 + i;
        if (i % 100 == 0)
            lens[i] = snprintf(lines[i], MAXLEN, "<161>%s %s : %%ASA-1-105008: (Primary) Testing Interface if%d", ts,
                               host, i);
        else if (i % 2)
            lens[i] = snprintf(lines[i], MAXLEN,
                               "<166>%s %s : %%ASA-6-302013: Built inbound TCP connection %d for "
                               "outside:198.51.100.%d/%d (198.51.100.%d/%d) to inside:10.0.0.%d/443 (10.0.0.%d/443)",
                               ts, host, i, a, p, a, p, a, a);
        else
            lens[i] = snprintf(lines[i], MAXLEN,
                               "<166>%s %s : %%ASA-6-302014: Teardown TCP connection %d for outside:198.51.100.%d/%d "
                               "to inside:10.0.0.%d/443 duration 0:00:%02d bytes %d TCP FINs",
                               ts, host, i, a, p, a, i % 60, i * 13);
    }
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s PORT RATE SECONDS\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    long rate = atol(argv[2]);
    double seconds = atof(argv[3]);
    long total = (long)(rate * seconds);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {0};
    to.sin_family = AF_INET;
    to.sin_port = htons((unsigned short)port);
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (connect(fd, (struct sockaddr *)&to, sizeof(to)) != 0) {
        perror("connect");
        return 1;
    }
    time_t second = time(NULL);
    stamp(second);
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    long sent = 0;
    double t0 = now_s();
    while (sent < total) {
        time_t s = time(NULL);
        if (s != second) {
            second = s;
            stamp(second);
        }
        long due = (long)((now_s() - t0) * (double)rate) + rate / 1000;
        if (due > total) due = total;
        while (sent < due) {
            int n = (int)(due - sent < BATCH ? due - sent : BATCH);
            for (int i = 0; i < n; i++) {
                int k = (int)((sent + i) % TEMPLATES);
                iov[i].iov_base = lines[k];
                iov[i].iov_len = (size_t)lens[k];
                memset(&msgs[i], 0, sizeof(msgs[i]));
                msgs[i].msg_hdr.msg_iov = &iov[i];
                msgs[i].msg_hdr.msg_iovlen = 1;
            }
            int done = sendmmsg(fd, msgs, (unsigned)n, 0);
            if (done <= 0) continue; /* ENOBUFS and the like: try again */
            sent += done;
        }
        double ahead = (double)sent / (double)rate - (now_s() - t0);
        if (ahead > 0) usleep((useconds_t)(ahead * 1e6));
    }
    printf("%ld %f\n", sent, now_s() - t0);
    return 0;
}
