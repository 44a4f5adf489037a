/* The per-line walk of a batch of syslog lines, in C: hamon's hot path.
 *
 * For each line: find the first '%'; it must start an ASA/FTD/PIX tag (`%ASA-<0-7>-<6 digits>`)
 * within 512 bytes of the line start. The text before it (the header) is counted in a hash table
 * (sub-second digits after `d:dd` are dropped from the key, so relay timestamps with
 * milliseconds do not make every header distinct). Lines whose id is in a failover range are
 * returned as (start, end) offsets. Anything unusual (a line without such a tag, a NUL, an
 * over-long line) is reported so the caller can walk the batch line by line instead.
 *
 * Behaviour is identical to the pure-Python path in batch.py; tests check both on the same input.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_HEADER 512

#define BITS 450 /* one bit per second of the hour */

typedef struct {
    Py_ssize_t off; Py_ssize_t len; uint64_t hash; Py_ssize_t count; int max_ss; int ss_off; Py_ssize_t bits;
} slot_t;

typedef struct {
    slot_t *slots; Py_ssize_t cap; Py_ssize_t used;
    char *arena; Py_ssize_t arena_len; Py_ssize_t arena_cap;
    unsigned char *bits; Py_ssize_t bits_len; Py_ssize_t bits_cap; /* BITS bytes per slot */
} table_t;

static int is_failover(long id) {
    return (id >= 101000 && id <= 105999) || (id >= 210000 && id <= 210999) ||
           (id >= 311000 && id <= 311999) || (id >= 709000 && id <= 709999) ||
           (id >= 720000 && id <= 721999) || (id >= 727000 && id <= 727999) ||
           (id >= 411001 && id <= 411004);
}

static int table_init(table_t *t) {
    t->cap = 1024; t->used = 0;
    t->slots = calloc((size_t)t->cap, sizeof(slot_t));
    t->arena_cap = 65536; t->arena_len = 0;
    t->arena = malloc((size_t)t->arena_cap);
    t->bits_cap = 64 * BITS; t->bits_len = 0;
    t->bits = malloc((size_t)t->bits_cap);
    return t->slots && t->arena && t->bits;
}

static void table_free(table_t *t) { free(t->slots); free(t->arena); free(t->bits); }

static void set_second(table_t *t, slot_t *s, int ss) {
    if (ss >= 0 && ss < 3600) t->bits[s->bits + ss / 8] |= (unsigned char)(1u << (ss % 8));
}

static int table_grow(table_t *t) {
    Py_ssize_t ncap = t->cap * 2;
    slot_t *ns = calloc((size_t)ncap, sizeof(slot_t));
    if (!ns) return 0;
    for (Py_ssize_t i = 0; i < t->cap; i++) {
        if (t->slots[i].count == 0) continue;
        Py_ssize_t j = (Py_ssize_t)(t->slots[i].hash & (uint64_t)(ncap - 1));
        while (ns[j].count) j = (j + 1) & (ncap - 1);
        ns[j] = t->slots[i];
    }
    free(t->slots); t->slots = ns; t->cap = ncap;
    return 1;
}

/* Count one header key (already normalized into key/len), keeping the highest seconds value seen.
 * Returns 0 on allocation failure. */
static int table_add(table_t *t, const char *key, Py_ssize_t len, int ss, int ss_off) {
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < len; i++) { h ^= (unsigned char)key[i]; h *= 1099511628211ULL; }
    Py_ssize_t j = (Py_ssize_t)(h & (uint64_t)(t->cap - 1));
    while (t->slots[j].count) {
        slot_t *s = &t->slots[j];
        if (s->hash == h && s->len == len && memcmp(t->arena + s->off, key, (size_t)len) == 0) {
            s->count++;
            if (ss > s->max_ss) s->max_ss = ss;
            set_second(t, s, ss);
            return 1;
        }
        j = (j + 1) & (t->cap - 1);
    }
    if (t->arena_len + len > t->arena_cap) {
        Py_ssize_t ncap = t->arena_cap * 2 + len;
        char *na = realloc(t->arena, (size_t)ncap);
        if (!na) return 0;
        t->arena = na; t->arena_cap = ncap;
    }
    if (t->bits_len + BITS > t->bits_cap) {
        Py_ssize_t ncap = t->bits_cap * 2;
        unsigned char *nb = realloc(t->bits, (size_t)ncap);
        if (!nb) return 0;
        t->bits = nb; t->bits_cap = ncap;
    }
    memcpy(t->arena + t->arena_len, key, (size_t)len);
    t->slots[j].off = t->arena_len; t->slots[j].len = len; t->slots[j].hash = h; t->slots[j].count = 1;
    t->slots[j].max_ss = ss; t->slots[j].ss_off = ss_off;
    t->slots[j].bits = t->bits_len;
    memset(t->bits + t->bits_len, 0, BITS);
    t->bits_len += BITS;
    set_second(t, &t->slots[j], ss);
    t->arena_len += len;
    t->used++;
    if (t->used * 2 > t->cap) return table_grow(t);
    return 1;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Copy a header into buf as its counting key: without a leading `<PRI>`, without `.digits` that
 * follow `d:dd` (fractions of seconds), and with the minutes and seconds of the first `hh:mm:ss`
 * set to 00:00 (their value, mm * 60 + ss, goes to *ss, their offset in the key to *ss_off; -1
 * when there is no time). Lines are counted per sender and hour. */
static Py_ssize_t normalize(const char *h, Py_ssize_t n, char *buf, int *ss, int *ss_off) {
    Py_ssize_t o = 0, start = 0;
    *ss = -1; *ss_off = -1;
    while (start < n && (h[start] == ' ' || h[start] == '\t')) start++;
    if (start < n && h[start] == '<') {
        Py_ssize_t k = start + 1, d = 0;
        while (k < n && is_digit(h[k]) && d < 3) { k++; d++; }
        if (d > 0 && k < n && h[k] == '>') start = k + 1;
        else start = 0;
    } else {
        start = 0;
    }
    for (Py_ssize_t i = start; i < n; i++) {
        if (*ss_off < 0 && i + 7 < n && is_digit(h[i]) && is_digit(h[i + 1]) && h[i + 2] == ':' &&
            is_digit(h[i + 3]) && is_digit(h[i + 4]) && h[i + 5] == ':' && is_digit(h[i + 6]) &&
            is_digit(h[i + 7]) && (i == 0 || !is_digit(h[i - 1]))) {
            memcpy(buf + o, h + i, 3);
            o += 3;
            *ss = ((h[i + 3] - '0') * 10 + (h[i + 4] - '0')) * 60 + (h[i + 6] - '0') * 10 + (h[i + 7] - '0');
            *ss_off = (int)o;
            memcpy(buf + o, "00:00", 5);
            o += 5;
            i += 7;
            continue;
        }
        if (h[i] == '.' && i >= 4 && is_digit(h[i - 1]) && is_digit(h[i - 2]) && h[i - 3] == ':' &&
            is_digit(h[i - 4]) && i + 1 < n && is_digit(h[i + 1])) {
            Py_ssize_t k = i + 1, d = 0;
            while (k < n && is_digit(h[k]) && d < 9) { k++; d++; }
            i = k - 1;
            continue;
        }
        buf[o++] = h[i];
    }
    return o;
}

/* scan(data: bytes, max_line: int) -> (lines, tagged, longest, has_nul, counts: dict, spans: list)
 * data must end with b"\n". counts maps a header key to (lines, latest second of the hour, offset
 * of mm:ss in the key, a 450-byte bitmap of the seconds of the hour heard — empty when the header has
 * no time); spans holds start, end offsets (flattened) of failover lines. */
static PyObject *scan(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t max_line;
    if (!PyArg_ParseTuple(args, "y*n", &view, &max_line)) return NULL;
    const char *d = view.buf;
    Py_ssize_t n = view.len;
    Py_ssize_t lines = 0, tagged = 0, longest = 0;
    int has_nul = memchr(d, 0, (size_t)n) != NULL;
    table_t t;
    PyObject *spans = NULL, *counts = NULL, *result = NULL;
    if (!table_init(&t)) { PyBuffer_Release(&view); return PyErr_NoMemory(); }
    spans = PyList_New(0);
    if (!spans) goto done;
    char buf[MAX_HEADER];
    Py_ssize_t pos = 0;
    int oom = 0;
    Py_BEGIN_ALLOW_THREADS
    while (pos < n) {
        const char *nl = memchr(d + pos, '\n', (size_t)(n - pos));
        Py_ssize_t end = nl ? (Py_ssize_t)(nl - d) : n;
        Py_ssize_t len = end - pos;
        lines++;
        if (len > longest) longest = len;
        const char *line = d + pos;
        Py_ssize_t lim = len < MAX_HEADER + 1 ? len : MAX_HEADER + 1;
        const char *pct = memchr(line, '%', (size_t)lim);
        if (pct) {
            Py_ssize_t p = pct - line;
            /* %ASA-s-dddddd: 13 bytes after p inclusive */
            if (p <= MAX_HEADER && p + 13 <= len &&
                ((pct[1] == 'A' && pct[2] == 'S' && pct[3] == 'A') ||
                 (pct[1] == 'F' && pct[2] == 'T' && pct[3] == 'D') ||
                 (pct[1] == 'P' && pct[2] == 'I' && pct[3] == 'X')) &&
                pct[4] == '-' && pct[5] >= '0' && pct[5] <= '7' && pct[6] == '-' &&
                is_digit(pct[7]) && is_digit(pct[8]) && is_digit(pct[9]) && is_digit(pct[10]) &&
                is_digit(pct[11]) && is_digit(pct[12])) {
                tagged++;
                int ss, ss_off;
                Py_ssize_t klen = normalize(line, p, buf, &ss, &ss_off);
                if (!table_add(&t, buf, klen, ss, ss_off)) { oom = 1; break; }
                long id = (pct[7] - '0') * 100000L + (pct[8] - '0') * 10000L + (pct[9] - '0') * 1000L +
                          (pct[10] - '0') * 100L + (pct[11] - '0') * 10L + (pct[12] - '0');
                if (is_failover(id)) {
                    Py_BLOCK_THREADS
                    PyObject *a = PyLong_FromSsize_t(pos), *b = PyLong_FromSsize_t(end);
                    int bad = !a || !b || PyList_Append(spans, a) < 0 || PyList_Append(spans, b) < 0;
                    Py_XDECREF(a); Py_XDECREF(b);
                    Py_UNBLOCK_THREADS
                    if (bad) { oom = 2; break; }
                }
            }
        }
        pos = end + 1;
    }
    Py_END_ALLOW_THREADS
    if (oom == 1) { PyErr_NoMemory(); goto done; }
    if (oom == 2) goto done;
    counts = PyDict_New();
    if (!counts) goto done;
    for (Py_ssize_t i = 0; i < t.cap; i++) {
        slot_t *s = &t.slots[i];
        if (!s->count) continue;
        PyObject *k = PyBytes_FromStringAndSize(t.arena + s->off, s->len);
        PyObject *v = Py_BuildValue("(niiy#)", s->count, s->max_ss, s->ss_off, (const char *)(t.bits + s->bits),
                                    (Py_ssize_t)(s->ss_off >= 0 ? BITS : 0));
        int bad = !k || !v || PyDict_SetItem(counts, k, v) < 0;
        Py_XDECREF(k); Py_XDECREF(v);
        if (bad) goto done;
    }
    result = Py_BuildValue("nnniOO", lines, tagged, longest, has_nul, counts, spans);
done:
    Py_XDECREF(counts);
    Py_XDECREF(spans);
    table_free(&t);
    PyBuffer_Release(&view);
    (void)max_line;
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, "Walk a batch of lines: counts per header and failover line spans."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_scan", "hamon's C line scanner", -1, methods};

PyMODINIT_FUNC PyInit__scan(void) { return PyModule_Create(&module); }
