/*
 * One process of samples/bench/ort-memory-routes.sh: builds an ONNX Runtime session over the optimized
 * form that `daxload pack-model --ort-prepack` stores in an image (graph, weights and serialized prepacked
 * blobs), handing ORT the image one of two ways, and reports what the session cost in private memory:
 *
 *   file    the graph's external data ("daxfs.image", absolute offsets) is a link to the image file: ORT
 *           maps every weight and blob from the file itself (what daxload's ORT route does);
 *   memory  no such file: the image, mapped here, is given to ORT as that file's contents in memory
 *           (OrtApi::AddExternalInitializersFromFilesInMemory, the C API's only way to hand ORT external
 *           data that is not a file; the Java API has none), as an image in a dma-buf, a DAX device or
 *           other memory that ORT cannot open as a file would have to be given.
 *
 * It calls ORT's C API directly, through the OrtApi table of API version 21 (ORT 1.21): the indices below
 * are the fields' positions in the struct as declared in onnxruntime_c_api.h; the first two are checked
 * at start (a status made and read back), and a wrong table would not reach the session.
 *
 * usage: ort_memory_routes LIBONNXRUNTIME GRAPH_DIR file|memory [IMAGE]
 * prints: ROUTE mode=M session_ms=T anon_kib=A ort_maps_of_image=N
 *   anon_kib: RssAnon growth across session creation; ort_maps_of_image: mappings of IMAGE that ORT made.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

enum { CreateStatus = 0, GetErrorMessage = 2, CreateEnv = 3, CreateSession = 7, CreateSessionOptions = 10,
       ReleaseStatus = 93, AddExternalInitializersFromFilesInMemory = 279 };
typedef void *Status;
typedef struct { void **(*GetApi)(unsigned version); const char *(*GetVersionString)(void); } ApiBase;
static void **api;

static void check(Status s, const char *what) {
    if (s) {
        fprintf(stderr, "%s: %s\n", what, ((const char *(*)(Status)) api[GetErrorMessage])(s));
        exit(1);
    }
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static long rss_anon_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "RssAnon:", 8)) v = atol(line + 8);
    }
    if (f) fclose(f);
    return v;
}

/* Mappings in this process of the file at real path `path`. */
static int maps_of(const char *path) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[PATH_MAX + 128];
    int n = 0;
    size_t len = strlen(path);
    while (f && fgets(line, sizeof line, f)) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        size_t l = strlen(line);
        if (l >= len && !strcmp(line + l - len, path) && line[l - len - 1] == ' ') n++;
    }
    if (f) fclose(f);
    return n;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s LIBONNXRUNTIME GRAPH_DIR file|memory [IMAGE]\n", argv[0]);
        return 2;
    }
    const char *mode = argv[3];
    int memory = !strcmp(mode, "memory");
    void *lib = dlopen(argv[1], RTLD_NOW);
    if (!lib) { fprintf(stderr, "%s\n", dlerror()); return 1; }
    ApiBase *(*get_base)(void) = (ApiBase *(*)(void)) dlsym(lib, "OrtGetApiBase");
    if (!get_base) { fprintf(stderr, "%s: no OrtGetApiBase\n", argv[1]); return 1; }
    ApiBase *base = get_base();
    api = base->GetApi(21);
    if (!api) { fprintf(stderr, "ONNX Runtime %s has no API version 21\n", base->GetVersionString()); return 1; }
    Status probe = ((Status (*)(int, const char *)) api[CreateStatus])(1, "daxload");
    if (strcmp(((const char *(*)(Status)) api[GetErrorMessage])(probe), "daxload")) {
        fprintf(stderr, "ONNX Runtime %s: the OrtApi table is not laid out as expected\n", base->GetVersionString());
        return 1;
    }
    ((void (*)(Status)) api[ReleaseStatus])(probe);

    void *env, *options, *session;
    check(((Status (*)(int, const char *, void **)) api[CreateEnv])(2, "ort-memory-routes", &env), "CreateEnv");
    check(((Status (*)(void **)) api[CreateSessionOptions])(&options), "CreateSessionOptions");
    char image_real[PATH_MAX] = "";
    int own_maps = 0;
    if (memory) {
        if (argc < 5 || !realpath(argv[4], image_real)) { perror("IMAGE"); return 1; }
        int fd = open(image_real, O_RDONLY);
        off_t size = fd < 0 ? -1 : lseek(fd, 0, SEEK_END);
        char *image = size <= 0 ? MAP_FAILED : mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
        if (image == MAP_FAILED) { perror(image_real); return 1; }
        own_maps = 1;
        const char *names[] = {"daxfs.image"};
        char *buffers[] = {image};
        size_t lengths[] = {(size_t) size};
        check(((Status (*)(void *, const char *const *, char *const *, const size_t *, size_t))
                       api[AddExternalInitializersFromFilesInMemory])(options, names, buffers, lengths, 1),
              "AddExternalInitializersFromFilesInMemory");
    } else {
        char link[PATH_MAX];
        snprintf(link, sizeof link, "%s/daxfs.image", argv[2]);
        if (!realpath(link, image_real)) { perror(link); return 1; }
    }
    char graph[PATH_MAX];
    snprintf(graph, sizeof graph, "%s/model.onnx", argv[2]);
    long anon0 = rss_anon_kib();
    double t0 = now_ms();
    check(((Status (*)(void *, const char *, void *, void **)) api[CreateSession])(env, graph, options, &session), "CreateSession");
    double t1 = now_ms();
    printf("ROUTE mode=%s session_ms=%.1f anon_kib=%ld ort_maps_of_image=%d ort=%s\n", mode, t1 - t0,
           rss_anon_kib() - anon0, maps_of(image_real) - own_maps, base->GetVersionString());
    return 0;
}
