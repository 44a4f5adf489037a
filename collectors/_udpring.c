/* A UDP receive loop that never needs Python's GIL.
 *
 * A POSIX thread reads the socket with recvmmsg (up to BATCH datagrams per call) into a byte ring
 * owned by C; Python takes what is there with drain(). While Python is busy — parsing, correlating,
 * writing to the store, or simply not scheduled on a loaded machine — the thread keeps emptying the
 * kernel's receive buffer into the ring, so a burst is lost only when the ring itself is full, and
 * then it is counted (`ring_dropped`), never silent.
 *
 * A record in the ring: u32 data length, u8 address length, the address (sockaddr, as received),
 * the data. Records never wrap: when one does not fit before the end, a zero length marks the rest
 * of the ring as unused and the record starts at offset 0.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 128
#define GATHER_US 1000
#define MAX_DATAGRAM 65536
#define HEADER (4 + 1)
#define SKIP 0xFFFFFFFFu /* the rest of the ring is unused: go on at 0 */

typedef struct {
    PyObject_HEAD
    int fd;
    unsigned char *ring;
    size_t cap, head, tail, used; /* bytes: write at head, read at tail; used counts both */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t ready;
    int started, stop;
    unsigned long long received, ring_dropped, read_errors, peak;
    unsigned char *scratch;
} Ring;

/* Room for n bytes at the head: the offset to write at, or -1 (full). Caller holds mu.
 * `used` counts record bytes and skipped ends alike, so head == tail with used == cap is full. */
static long long reserve(Ring *r, size_t n) {
    if (r->used == 0) r->head = r->tail = 0;
    if (r->used == r->cap) return -1;
    if (r->head >= r->tail) { /* data in [tail, head): room at the end, then before tail */
        if (r->cap - r->head >= n) return (long long)r->head;
        if (r->tail >= n) {
            if (r->cap - r->head >= HEADER) {
                uint32_t skip = SKIP;
                memcpy(r->ring + r->head, &skip, 4);
            }
            r->used += r->cap - r->head;
            r->head = 0;
            return 0;
        }
        return -1;
    }
    return (r->tail - r->head >= n) ? (long long)r->head : -1; /* wrapped: room in [head, tail) */
}

static void *receive_loop(void *arg) {
    Ring *r = (Ring *)arg;
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_storage addrs[BATCH];
    for (;;) {
        pthread_mutex_lock(&r->mu);
        int stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop) break;
        struct pollfd p = {r->fd, POLLIN, 0};
        int ready = poll(&p, 1, 50);
        if (ready <= 0) continue;
        for (int rounds = 0; rounds < 1024; rounds++) {
            for (int i = 0; i < BATCH; i++) {
                iov[i].iov_base = r->scratch + (size_t)i * MAX_DATAGRAM;
                iov[i].iov_len = MAX_DATAGRAM;
                memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
                msgs[i].msg_hdr.msg_iov = &iov[i];
                msgs[i].msg_hdr.msg_iovlen = 1;
                msgs[i].msg_hdr.msg_name = &addrs[i];
                msgs[i].msg_hdr.msg_namelen = sizeof(addrs[i]);
            }
            int n = recvmmsg(r->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
            if (n < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    pthread_mutex_lock(&r->mu);
                    r->read_errors++;
                    pthread_mutex_unlock(&r->mu);
                }
                break;
            }
            pthread_mutex_lock(&r->mu);
            for (int i = 0; i < n; i++) {
                uint32_t len = msgs[i].msg_len;
                uint8_t alen = (uint8_t)msgs[i].msg_hdr.msg_namelen;
                size_t need = HEADER + alen + len;
                r->received++;
                long long at = reserve(r, need);
                if (at < 0) { r->ring_dropped++; continue; }
                unsigned char *w = r->ring + at;
                memcpy(w, &len, 4);
                w[4] = alen;
                memcpy(w + HEADER, &addrs[i], alen);
                memcpy(w + HEADER + alen, iov[i].iov_base, len);
                r->head = (size_t)at + need;
                r->used += need;
                if (r->used > r->peak) r->peak = r->used;
            }
            pthread_cond_signal(&r->ready);
            pthread_mutex_unlock(&r->mu);
            if (n < BATCH) break;
        }
        /* The socket is empty: let datagrams gather for a moment (the kernel buffer holds them) rather
         * than waking for each one — every wake-up is paid by the sender's CPU on the same host. */
        usleep(GATHER_US);
    }
    return NULL;
}

static int Ring_init(Ring *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"fd", "capacity", NULL};
    int fd;
    Py_ssize_t cap = 64 << 20;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "i|n", kwlist, &fd, &cap)) return -1;
    if (cap < MAX_DATAGRAM * 2) { PyErr_SetString(PyExc_ValueError, "capacity below 128 KiB"); return -1; }
    self->fd = fd;
    self->cap = (size_t)cap;
    self->ring = malloc(self->cap);
    self->scratch = malloc((size_t)BATCH * MAX_DATAGRAM);
    if (!self->ring || !self->scratch) { PyErr_NoMemory(); return -1; }
    pthread_mutex_init(&self->mu, NULL);
    pthread_cond_init(&self->ready, NULL);
    if (pthread_create(&self->thread, NULL, receive_loop, self) != 0) {
        PyErr_SetString(PyExc_OSError, "cannot start the receive thread");
        return -1;
    }
    self->started = 1;
    return 0;
}

static void stop_thread(Ring *self) {
    if (!self->started) return;
    pthread_mutex_lock(&self->mu);
    self->stop = 1;
    pthread_cond_broadcast(&self->ready); /* a wait() in progress returns now, not at its timeout */
    pthread_mutex_unlock(&self->mu);
    Py_BEGIN_ALLOW_THREADS
    pthread_join(self->thread, NULL);
    Py_END_ALLOW_THREADS
    self->started = 0;
}

static void Ring_dealloc(Ring *self) {
    stop_thread(self);
    free(self->ring);
    free(self->scratch);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *address(const unsigned char *a, uint8_t alen) {
    char host[INET6_ADDRSTRLEN] = "?";
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, a, alen < sizeof(ss) ? alen : sizeof(ss));
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
    return PyUnicode_FromString(host);
}

#define MAX_WAIT 3600.0 /* seconds: a longer (or infinite) timeout waits this long */

/* wait(timeout): True when datagrams are waiting (within timeout seconds); the GIL is released.
 * Any timeout is bounded: negative or NaN waits not at all, above MAX_WAIT waits MAX_WAIT; close()
 * ends a wait at once. */
static PyObject *Ring_wait(Ring *self, PyObject *arg) {
    double timeout = PyFloat_AsDouble(arg);
    if (timeout == -1.0 && PyErr_Occurred()) return NULL;
    if (!(timeout > 0)) timeout = 0; /* negative, zero or NaN */
    if (timeout > MAX_WAIT) timeout = MAX_WAIT;
    int has;
    Py_BEGIN_ALLOW_THREADS
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long long ns = (long long)until.tv_nsec + (long long)(timeout * 1e9);
    until.tv_sec += (time_t)(ns / 1000000000LL);
    until.tv_nsec = (long)(ns % 1000000000LL);
    pthread_mutex_lock(&self->mu);
    while (self->used == 0 && !self->stop) {
        /* 0 is a wake-up (perhaps spurious: look again); anything else (ETIMEDOUT, EINVAL) ends it */
        if (pthread_cond_timedwait(&self->ready, &self->mu, &until) != 0) break;
    }
    has = self->used > 0;
    pthread_mutex_unlock(&self->mu);
    Py_END_ALLOW_THREADS
    return PyBool_FromLong(has);
}

/* drain(max): up to max (data, host) pairs, oldest first.
 *
 * Under the ring's lock only C runs: the records are copied out and the ring advanced. Python
 * objects are built after the lock is released (building them may run the garbage collector and
 * any finalizer, which may release the GIL: a thread calling stats() with the GIL held would then
 * wait for the lock while this one waits for the GIL). */
static PyObject *Ring_drain(Ring *self, PyObject *arg) {
    Py_ssize_t max = PyLong_AsSsize_t(arg);
    if (max < 0 && PyErr_Occurred()) return NULL;
    if (max < 0) max = 0;
    pthread_mutex_lock(&self->mu);
    /* Which records, and where the ring stands after them. Records never wrap and the ring holds at
     * most one unused end, so what is taken is at most two spans: [start, wrap) and [0, tail). */
    size_t start = self->tail, tail = start, used = self->used, wrap = 0, bytes = 0;
    int wrapped = 0;
    Py_ssize_t count = 0;
    while (used > 0 && count < max) {
        unsigned char *rd = self->ring + tail;
        uint32_t len = SKIP;
        if (self->cap - tail >= HEADER) memcpy(&len, rd, 4);
        if (len == SKIP) { /* the unused end of the ring (marked, or too short to hold a header) */
            used -= self->cap - tail;
            wrap = tail;
            wrapped = 1;
            tail = 0;
            continue;
        }
        size_t n = HEADER + rd[4] + len;
        bytes += n;
        tail += n;
        used -= n;
        count++;
    }
    unsigned char *copy = bytes ? malloc(bytes) : NULL;
    if (bytes && !copy) {
        pthread_mutex_unlock(&self->mu);
        return PyErr_NoMemory(); /* nothing taken: the records stay in the ring */
    }
    size_t first = wrapped ? wrap - start : bytes;
    if (bytes) {
        memcpy(copy, self->ring + start, first);
        memcpy(copy + first, self->ring, bytes - first);
    }
    self->tail = tail;
    self->used = used;
    if (self->used == 0) self->head = self->tail = 0;
    pthread_mutex_unlock(&self->mu);

    PyObject *out = PyList_New(count);
    for (Py_ssize_t k = 0, off = 0; out && k < count; k++) {
        const unsigned char *rd = copy + off;
        uint32_t len;
        memcpy(&len, rd, 4);
        uint8_t alen = rd[4];
        PyObject *data = PyBytes_FromStringAndSize((const char *)rd + HEADER + alen, len);
        PyObject *host = address(rd + HEADER, alen);
        PyObject *pair = (data && host) ? PyTuple_Pack(2, data, host) : NULL;
        Py_XDECREF(data);
        Py_XDECREF(host);
        if (!pair) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, k, pair);
        off += HEADER + alen + len;
    }
    free(copy);
    if (!out && count) { /* out of memory: the records taken are counted as dropped, then it raises */
        pthread_mutex_lock(&self->mu);
        self->ring_dropped += (unsigned long long)count;
        pthread_mutex_unlock(&self->mu);
    }
    return out;
}

static PyObject *Ring_stats(Ring *self, PyObject *unused) {
    pthread_mutex_lock(&self->mu);
    PyObject *d = Py_BuildValue("{s:K,s:K,s:K,s:n,s:n,s:K}", "received", self->received, "ring_dropped",
                                self->ring_dropped, "read_errors", self->read_errors, "used",
                                (Py_ssize_t)self->used, "capacity", (Py_ssize_t)self->cap, "peak", self->peak);
    pthread_mutex_unlock(&self->mu);
    return d;
}

static PyObject *Ring_close(Ring *self, PyObject *unused) {
    stop_thread(self);
    Py_RETURN_NONE;
}

static PyMethodDef Ring_methods[] = {
    {"wait", (PyCFunction)Ring_wait, METH_O, "wait(timeout) -> bool: datagrams are waiting (GIL released)."},
    {"drain", (PyCFunction)Ring_drain, METH_O, "drain(max) -> [(data, host)], oldest first."},
    {"stats", (PyCFunction)Ring_stats, METH_NOARGS, "Counters: received, ring_dropped, read_errors, used, capacity, peak."},
    {"close", (PyCFunction)Ring_close, METH_NOARGS, "Stop the receive thread (what the ring holds stays drainable)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject RingType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "hamon.collectors._udpring.Ring",
    .tp_basicsize = sizeof(Ring),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A receive thread reading a UDP socket into a ring, without the GIL.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Ring_init,
    .tp_dealloc = (destructor)Ring_dealloc,
    .tp_methods = Ring_methods,
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_udpring", "GIL-free UDP receive ring.", -1, NULL};

PyMODINIT_FUNC PyInit__udpring(void) {
    if (PyType_Ready(&RingType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&RingType);
    if (PyModule_AddObject(m, "Ring", (PyObject *)&RingType) < 0) {
        Py_DECREF(&RingType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
