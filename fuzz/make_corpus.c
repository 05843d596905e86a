/*
 * make_corpus.c - write the seed inputs of fuzz_segment into a folder.
 *
 *   make_corpus DIR
 *
 * Includes the fuzz target itself (built without -fsanitize=fuzzer it is an
 * ordinary function), so that the seeds use its operation codes and every
 * seed is run through it once before it is written. Raw seeds are real
 * segments with 4 KiB rings, made by the library (empty, a few messages,
 * wrapped with padding records, a bare remainder at the end, lapped readers,
 * two rings, a writer that died while publishing); the process-dependent
 * words (pid, start time, generation) are zeroed so that the files do not
 * change from one run to the next. Ops seeds are short operation programs.
 */
#include "fuzz_segment.c"

#include <errno.h>
#include <stdarg.h>

static const char *outdir;
static unsigned nfiles;
static size_t total;

static void emit(const char *name, const uint8_t *data, size_t size)
{
    (void)LLVMFuzzerTestOneInput(data, size); /* aborts if a seed breaks a check */
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", outdir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        fprintf(stderr, "make_corpus: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
    nfiles++;
    total += size;
}

/* ---- raw seeds: a segment image after the mode byte ---------------------------------- */

typedef struct seed_seg {
    uint8_t *buf; /* mode byte + segment */
    size_t size;
    xshm_segment_t seg;
    xshm_seg_params_t p;
} seed_seg_t;

static void seg_new(seed_seg_t *s, uint32_t rings_n, uint32_t readers)
{
    memset(s, 0, sizeof(*s));
    s->p.ring_count = rings_n;
    s->p.capacity = SHM_MIN_RING_SIZE;
    s->p.max_readers = readers;
    s->p.blocking = true;
    s->p.timeout_ms = 1000;
    s->size = xshm_segment_size(&s->p);
    /* 64 + 1 bytes before the segment: the segment is 64-byte aligned and
     * the mode byte sits just before it. */
    uint8_t *raw = (uint8_t *)alloc_exact(s->size + 64);
    FZ_CHECK(raw);
    s->buf = raw + 63;
    FZ_CHECK(xshm_segment_format(&s->seg, s->buf + 1, s->size, &s->p) == SHM_SUCCESS);
    for (uint32_t k = 0; k < rings_n; k++)
        FZ_CHECK(xshm_ring_writer_init(&s->seg.rings[k]) == SHM_SUCCESS);
}

static void seg_write(seed_seg_t *s, uint32_t k, uint32_t len, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        shm_ring_t *r = &s->seg.rings[k];
        msg_make(msgbuf, k, r->w_seq, len);
        FZ_CHECK(xshm_ring_write(r, msgbuf, len) == SHM_SUCCESS);
    }
}

/* Zero what depends on the process and the clock, then write the file. */
static void seg_emit(seed_seg_t *s, const char *name, uint8_t mode)
{
    xshm_seg_header_t *h = s->seg.hdr;
    h->creator_pid = 0;
    h->creator_start = 0;
    h->generation = 0x0123456789ABCDEFull;
    for (uint32_t k = 0; k < s->seg.ring_count; k++) {
        shm_ring_t *r = &s->seg.rings[k];
        r->hdr->writer_pid = 0;
        r->hdr->writer_start = 0;
        r->hdr->writer_flags = 0;
        for (uint32_t i = 0; i < r->max_readers; i++) {
            uint64_t c = r->slots[i].claim;
            r->slots[i].claim = SHM_CLAIM(0, SHM_CLAIM_EPOCH(c), SHM_CLAIM_STATE(c));
            r->slots[i].start_time = 0;
        }
    }
    s->buf[0] = mode;
    emit(name, s->buf, s->size + 1);
    free(s->buf - 63);
}

static void raw_seeds(void)
{
    seed_seg_t s;
    xshm_ring_reader_t rd;

    seg_new(&s, 1, 1);
    seg_emit(&s, "raw-empty", 0);

    seg_new(&s, 1, 2);
    seg_write(&s, 0, 1, 1);
    FZ_CHECK(xshm_ring_reader_attach(&s.seg.rings[0], &rd) == SHM_SUCCESS);
    seg_write(&s, 0, 8, 1);
    seg_write(&s, 0, 100, 2);
    seg_write(&s, 0, 1000, 1);
    seg_emit(&s, "raw-few-messages", 0);

    /* 1100-byte messages: 1128-byte records, three a lap and a 712-byte
     * padding record. */
    seg_new(&s, 1, 1);
    FZ_CHECK(xshm_ring_reader_attach(&s.seg.rings[0], &rd) == SHM_SUCCESS);
    seg_write(&s, 0, 1100, 9);
    seg_emit(&s, "raw-wrapped-padding", 0);

    /* 2024 + 2064 bytes of records: a bare 8-byte remainder at the end. */
    seg_new(&s, 1, 1);
    seg_write(&s, 0, 2000, 1);           /* 2024 */
    seg_write(&s, 0, 2040, 1);           /* 2064: 8 bytes left */
    seg_write(&s, 0, 16, 3);
    seg_emit(&s, "raw-bare-remainder", 0);

    /* A reader left far behind: the writer lapped it. */
    seg_new(&s, 1, 2);
    FZ_CHECK(xshm_ring_reader_attach(&s.seg.rings[0], &rd) == SHM_SUCCESS);
    for (uint32_t i = 0; i < 40; i++)
        seg_write(&s, 0, 1 + (i * 97) % 600, 1);
    seg_emit(&s, "raw-lapped-reader", 0);

    /* The largest message of a 4 KiB ring. */
    seg_new(&s, 1, 1);
    seg_write(&s, 0, 100, 1);
    seg_write(&s, 0, SHM_MIN_RING_SIZE - SHM_RECORD_HEADER_SIZE, 1);
    seg_emit(&s, "raw-largest-message", 0);

    /* Two rings (a server and one client slot), both with messages. */
    seg_new(&s, 2, 2);
    seg_write(&s, 0, 300, 5);
    seg_write(&s, 1, 24, 7);
    FZ_CHECK(xshm_ring_reader_attach(&s.seg.rings[1], &rd) == SHM_SUCCESS);
    seg_write(&s, 1, 3000, 1);
    seg_emit(&s, "raw-two-rings", 0);

    /* A writer that died while publishing: intent past tail, a record
     * written past the tail, pub_ver odd (the target makes it even: see
     * run_raw). */
    seg_new(&s, 1, 1);
    seg_write(&s, 0, 200, 3);
    {
        shm_ring_t *r = &s.seg.rings[0];
        r->hdr->pub_ver |= 1;
        r->hdr->intent = r->hdr->tail + 64;
        xshm_record_header_t rh = {0, r->w_seq, 40, SHM_REC_MESSAGE};
        memcpy(r->data + (r->w_tail & r->mask), &rh, sizeof(rh));
    }
    seg_emit(&s, "raw-dead-writer", 0);
}

/* ---- ops seeds ------------------------------------------------------------------------ */

typedef struct prog {
    uint8_t b[512];
    size_t n;
} prog_t;

static void put(prog_t *p, unsigned n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (unsigned i = 0; i < n; i++) {
        FZ_CHECK(p->n < sizeof(p->b));
        p->b[p->n++] = (uint8_t)va_arg(ap, int);
    }
    va_end(ap);
}

/* geometry: rings 1..3, capacity 4 KiB << cap_sel, readers 1..4 */
static void prog_begin(prog_t *p, unsigned rings_n, unsigned cap_sel, unsigned readers)
{
    p->n = 0;
    put(p, 5, 1, rings_n - 1, cap_sel, readers - 1, 0);
}
/* size selector: kind (0..7, see pick_size) and a value */
static void op_write(prog_t *p, unsigned ring, unsigned kind, unsigned v)
{
    unsigned sel = (kind << 13) | (v & 0x1FFF);
    put(p, 5, OP_WRITE, ring, 0, sel >> 8, sel & 0xFF);
}
static void op_burst(prog_t *p, unsigned ring, unsigned n, unsigned kind, unsigned v)
{
    unsigned sel = (kind << 13) | (v & 0x1FFF);
    put(p, 6, OP_BURST, ring, 0, n - 1, sel >> 8, sel & 0xFF);
}
/* cap selector: low 3 bits the kind (see pick_cap) */
static void op_read(prog_t *p, unsigned ring, unsigned reader, unsigned capsel)
{
    put(p, 5, OP_READ, ring, reader, capsel >> 8, capsel & 0xFF);
}
static void op_drain(prog_t *p, unsigned ring, unsigned reader, unsigned capsel)
{
    put(p, 5, OP_DRAIN, ring, reader, capsel >> 8, capsel & 0xFF);
}
static void op_simple(prog_t *p, unsigned code, unsigned ring, unsigned reader)
{
    put(p, 3, code, ring, reader);
}

static void prog_emit(prog_t *p, const char *name) { emit(name, p->b, p->n); }

static void ops_seeds(void)
{
    prog_t p;

    /* Small and large messages, a second reader, reads with small buffers. */
    prog_begin(&p, 1, 0, 2);
    op_simple(&p, OP_ATTACH, 0, 1);
    op_burst(&p, 0, 10, 1, 77);
    op_read(&p, 0, 0, 1);        /* 1..16 bytes: too small for most */
    op_read(&p, 0, 1, 4);
    op_burst(&p, 0, 3, 3, 0);    /* the largest */
    op_drain(&p, 0, 0, 3);
    op_drain(&p, 0, 1, 4);
    op_simple(&p, OP_MONITOR, 0, 0);
    put(&p, 1, 0x83);
    prog_emit(&p, "ops-basic");

    /* Wrapping at every kind of boundary: exact fill, bare remainder,
     * padding records; a writer restart in between. */
    prog_begin(&p, 1, 0, 1);
    op_write(&p, 0, 2, 1000);
    op_write(&p, 0, 4, 0);       /* fills the rest exactly */
    op_write(&p, 0, 2, 500);
    op_write(&p, 0, 5, 0);       /* leaves 8 bytes */
    op_write(&p, 0, 0, 3);
    op_drain(&p, 0, 0, 4);
    op_simple(&p, OP_WRITER_RESTART, 0, 0);
    op_burst(&p, 0, 40, 2, 333);
    op_drain(&p, 0, 0, 6);
    prog_emit(&p, "ops-boundaries");

    /* Three rings of 16 KiB, lapping readers. */
    prog_begin(&p, 3, 2, 3);
    op_simple(&p, OP_ATTACH, 0, 1);
    op_simple(&p, OP_ATTACH, 0, 2);
    op_burst(&p, 0, 64, 2, 4000);
    op_read(&p, 0, 1, 4);
    op_burst(&p, 1, 64, 7, 99);
    op_burst(&p, 2, 20, 0, 5);
    op_drain(&p, 0, 0, 4);
    op_drain(&p, 0, 2, 4);
    op_drain(&p, 1, 0, 4);
    op_read(&p, 2, 0, 0);
    prog_emit(&p, "ops-three-rings");

    /* A hostile peer: record fields, the tail and head, a reader's slot.
     * Patch ops: code, ring, reader, what, [index], recipe, [argument]. */
    prog_begin(&p, 1, 0, 2);
    op_burst(&p, 0, 6, 1, 200);
    put(&p, 5, OP_PATCH_RECORD, 0, 0, 1 << 2, 0); /* newest record's seq */
    put(&p, 2, 1, 1);                             /* += 8 */
    op_drain(&p, 0, 0, 4);
    op_burst(&p, 0, 6, 1, 200);
    put(&p, 5, OP_PATCH_RECORD, 0, 0, 2 << 2, 1); /* a record's length */
    put(&p, 1, 7 | (1 << 3));                     /* = 1 << 62 (low word 0) */
    op_read(&p, 0, 0, 4);
    put(&p, 4, OP_PATCH_RING, 0, 0, 1);           /* tail */
    put(&p, 2, 1, 0x10);                          /* += 128 */
    op_read(&p, 0, 0, 4);
    put(&p, 4, OP_PATCH_RING, 0, 0, 5);           /* head */
    put(&p, 2, 2, 3);                             /* += 3: misaligned */
    op_simple(&p, OP_WRITER_RESTART, 0, 0);
    op_simple(&p, OP_ATTACH, 0, 1);
    op_burst(&p, 0, 30, 2, 700);
    op_drain(&p, 0, 1, 4);
    put(&p, 5, OP_PATCH_SLOT, 0, 0, 0, 5);        /* slot 0's state */
    put(&p, 1, 4);                                /* = 0: free under its reader */
    op_simple(&p, OP_ATTACH, 0, 1);
    op_simple(&p, OP_ATTACH, 0, 1);
    put(&p, 5, OP_RECLAIM, 0, 0, 0, 0);
    put(&p, 5, OP_REATTACH, 0, 0, 0, 4);
    prog_emit(&p, "ops-hostile");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus DIR\n");
        return 2;
    }
    outdir = argv[1];
    noise_init();
    raw_seeds();
    ops_seeds();
    printf("make_corpus: %u files, %zu bytes in %s\n", nfiles, total, outdir);
    return 0;
}
