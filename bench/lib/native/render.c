/* Bench-only spike (variant `native` of bench/lib/variant_serve.py): the two hot transcript
 * events rendered in C, to price what a native renderer would save. Not part of the product:
 * the daemon never imports it. Same bytes as gateway.recording.writer's templates for ASCII
 * statement text that the redaction precheck passes; anything else returns None and the
 * caller uses the Python path (which redacts).
 *
 * statement(segments, prev_raw, prev_hex, seq, raw, text, ts) -> (line, digest, hex) | None
 * result(segments, prev_raw, prev_hex, seq, duration_ms, ts) -> (line, digest, hex)
 *
 * segments: the template's literal pieces around its slots (6 for statement: prev, seq,
 * sha256, text, ts; 5 for result: duration_ms, prev, seq, ts).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/sha.h>
#include <string.h>

typedef struct {
    char *p;
    Py_ssize_t n, cap;
} Buf;

static int put(Buf *b, const char *s, Py_ssize_t n) {
    if (b->n + n > b->cap) {
        Py_ssize_t cap = (b->cap ? b->cap : 512);
        while (cap < b->n + n) cap *= 2;
        char *p = PyMem_Realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return 0;
}

static const char HEX[] = "0123456789abcdef";

static void hexify(const unsigned char *d, char *out) {
    for (int i = 0; i < 32; i++) {
        out[2 * i] = HEX[d[i] >> 4];
        out[2 * i + 1] = HEX[d[i] & 15];
    }
}

static const char *ANCHORS[] = {"-----begin", "eyj", "akia", "asia", "abia", "acca", "aws",
                                "gh", "xox", "bearer", "basic", "://", "passw", "pwd", NULL};

/* 1 when the text may hold a secret (the Python redactor must look at it). */
static int needs_redaction(const char *s, Py_ssize_t n) {
    char low[4096];
    if (n >= (Py_ssize_t)sizeof(low)) return 1;
    int digits = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') digits++;
        low[i] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
    }
    low[n] = 0;
    if (digits >= 13) return 1;
    for (int a = 0; ANCHORS[a]; a++)
        if (strstr(low, ANCHORS[a])) return 1;
    return 0;
}

static int put_json_string(Buf *b, const char *s, Py_ssize_t n) {
    char esc[8];
    if (put(b, "\"", 1)) return -1;
    Py_ssize_t start = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *e = NULL;
        int en = 2;
        if (c == '"') e = "\\\"";
        else if (c == '\\') e = "\\\\";
        else if (c == '\n') e = "\\n";
        else if (c == '\r') e = "\\r";
        else if (c == '\t') e = "\\t";
        else if (c == '\b') e = "\\b";
        else if (c == '\f') e = "\\f";
        else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            e = esc;
            en = 6;
        }
        if (e) {
            if (put(b, s + start, i - start) || put(b, e, en)) return -1;
            start = i + 1;
        }
    }
    if (put(b, s + start, n - start)) return -1;
    return put(b, "\"", 1);
}

/* Python's repr: the shortest round-trip decimal, which is what orjson writes for the
 * values the events carry (a faster %.{15,16,17}g-and-strtod search measured no better). */
static int put_float(Buf *b, double v) {
    char *r = PyOS_double_to_string(v, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (!r) return -1;
    int rc = put(b, r, strlen(r));
    PyMem_Free(r);
    return rc;
}

static int put_seg(Buf *b, PyObject *segs, Py_ssize_t i) {
    PyObject *s = PyTuple_GET_ITEM(segs, i);
    return put(b, PyBytes_AS_STRING(s), PyBytes_GET_SIZE(s));
}

/* Chain the body to prev and build (line, digest, hex). */
static PyObject *finish(Buf *b, const char *prev_raw) {
    unsigned char d[32];
    char hex[64];
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, prev_raw, 32);
    SHA256_Update(&ctx, b->p, b->n);
    SHA256_Final(d, &ctx);
    hexify(d, hex);
    b->n -= 1; /* drop the closing brace, splice the hash in */
    if (put(b, ",\"hash\":\"", 9) || put(b, hex, 64) || put(b, "\"}\n", 3)) return NULL;
    return Py_BuildValue("(y#y#y#)", b->p, b->n, (const char *)d, (Py_ssize_t)32, hex,
                         (Py_ssize_t)64);
}

static PyObject *statement(PyObject *self, PyObject *args) {
    PyObject *segs, *text;
    const char *prev_raw, *prev_hex, *raw;
    Py_ssize_t prev_raw_n, prev_hex_n, raw_n;
    long long seq;
    double ts;
    if (!PyArg_ParseTuple(args, "O!y#y#Ly#Ud", &PyTuple_Type, &segs, &prev_raw, &prev_raw_n,
                          &prev_hex, &prev_hex_n, &seq, &raw, &raw_n, &text, &ts))
        return NULL;
    if (!PyUnicode_IS_ASCII(text)) Py_RETURN_NONE;
    const char *t = (const char *)PyUnicode_DATA(text);
    Py_ssize_t tn = PyUnicode_GET_LENGTH(text);
    if (needs_redaction(t, tn)) Py_RETURN_NONE;
    unsigned char d[32];
    char sha_hex[64], num[32];
    SHA256((const unsigned char *)raw, raw_n, d);
    hexify(d, sha_hex);
    Buf b = {0};
    int n = snprintf(num, sizeof num, "%lld", seq);
    PyObject *out = NULL;
    if (put_seg(&b, segs, 0) || put(&b, prev_hex, prev_hex_n) || put_seg(&b, segs, 1) ||
        put(&b, num, n) || put_seg(&b, segs, 2) || put(&b, sha_hex, 64) ||
        put_seg(&b, segs, 3) || put_json_string(&b, t, tn) || put_seg(&b, segs, 4) ||
        put_float(&b, ts) || put_seg(&b, segs, 5))
        goto done;
    out = finish(&b, prev_raw);
done:
    PyMem_Free(b.p);
    return out;
}

static PyObject *result(PyObject *self, PyObject *args) {
    PyObject *segs;
    const char *prev_raw, *prev_hex;
    Py_ssize_t prev_raw_n, prev_hex_n;
    long long seq;
    double dur, ts;
    if (!PyArg_ParseTuple(args, "O!y#y#Ldd", &PyTuple_Type, &segs, &prev_raw, &prev_raw_n,
                          &prev_hex, &prev_hex_n, &seq, &dur, &ts))
        return NULL;
    char num[32];
    int n = snprintf(num, sizeof num, "%lld", seq);
    Buf b = {0};
    PyObject *out = NULL;
    if (put_seg(&b, segs, 0) || put_float(&b, dur) || put_seg(&b, segs, 1) ||
        put(&b, prev_hex, prev_hex_n) || put_seg(&b, segs, 2) || put(&b, num, n) ||
        put_seg(&b, segs, 3) || put_float(&b, ts) || put_seg(&b, segs, 4))
        goto done;
    out = finish(&b, prev_raw);
done:
    PyMem_Free(b.p);
    return out;
}

static PyMethodDef methods[] = {
    {"statement", statement, METH_VARARGS, NULL},
    {"result", result, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_airlock_render", NULL, -1, methods};

PyMODINIT_FUNC PyInit__airlock_render(void) { return PyModule_Create(&module); }
