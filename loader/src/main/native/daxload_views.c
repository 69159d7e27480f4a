/*
 * The JNI half of dev.daxload.djl.NativeViews: makes the views of a whole load with one call from Java,
 * each through libtorch's stable C shim (aoti_torch_create_tensor_from_blob), looked up with dlsym in the
 * libtorch_cpu.so that DJL's PyTorch engine already loaded. Nothing here links against libtorch: the
 * library only needs libc, and binds to whichever libtorch (2.3 or newer) the process has.
 *
 * Why C at all: in a fresh JVM the first FFM downcall costs 40-50 ms of linker set-up, and the JNI
 * binding DJL ships has no code for BF16, I16, U16, U32, U64 or the FP8 types (it aborts the JVM).
 * Loading this library and one call into it cost about a millisecond.
 */
#include <dlfcn.h>
#include <jni.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* AOTITorchError is int32_t: 0 success; handles are at::Tensor* */
typedef int32_t (*from_blob_fn)(void *data, int64_t ndim, const int64_t *sizes, const int64_t *strides,
                                int64_t storage_offset, int32_t dtype, int32_t device_type, int32_t device_index,
                                void **ret);
typedef int32_t (*code_fn)(void);
typedef int32_t (*delete_fn)(void *tensor);
typedef int32_t (*data_ptr_fn)(void *tensor, void **ret);

static void *torch;
static from_blob_fn from_blob;
static delete_fn delete_tensor;
static data_ptr_fn data_ptr;
static int32_t device_cpu;

static jstring error(JNIEnv *env, const char *what, const char *detail) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s%s", what, detail == NULL ? "" : detail);
    return (*env)->NewStringUTF(env, msg);
}

/* Binds to the libtorch_cpu.so at `path`, which must be loaded already (RTLD_NOLOAD): null, or why not. */
JNIEXPORT jstring JNICALL Java_dev_daxload_djl_NativeViews_bind(JNIEnv *env, jclass cls __attribute__((unused)), jstring path) {
    const char *p = (*env)->GetStringUTFChars(env, path, NULL);
    if (p == NULL) {
        return NULL; /* OutOfMemoryError pending */
    }
    void *h = dlopen(p, RTLD_NOW | RTLD_NOLOAD);
    (*env)->ReleaseStringUTFChars(env, path, p);
    if (h == NULL) {
        return error(env, "dlopen(RTLD_NOLOAD) found no loaded copy: ", dlerror());
    }
    from_blob_fn fb = (from_blob_fn) dlsym(h, "aoti_torch_create_tensor_from_blob");
    delete_fn del = (delete_fn) dlsym(h, "aoti_torch_delete_tensor_object");
    data_ptr_fn dp = (data_ptr_fn) dlsym(h, "aoti_torch_get_data_ptr");
    code_fn cpu = (code_fn) dlsym(h, "aoti_torch_device_type_cpu");
    if (fb == NULL || del == NULL || dp == NULL || cpu == NULL) {
        return error(env, "it lacks one of aoti_torch_create_tensor_from_blob, aoti_torch_delete_tensor_object,"
                          " aoti_torch_get_data_ptr, aoti_torch_device_type_cpu (libtorch 2.3 or newer needed)", NULL);
    }
    torch = h;
    from_blob = fb;
    delete_tensor = del;
    data_ptr = dp;
    device_cpu = cpu();
    return NULL;
}

/* The value of each int32_t function named (aoti_torch_dtype_bfloat16 ...), or INT32_MIN where absent. */
JNIEXPORT jintArray JNICALL Java_dev_daxload_djl_NativeViews_codes(JNIEnv *env, jclass cls __attribute__((unused)), jobjectArray names) {
    jsize n = (*env)->GetArrayLength(env, names);
    jintArray out = (*env)->NewIntArray(env, n);
    if (out == NULL) {
        return NULL;
    }
    for (jsize i = 0; i < n; i++) {
        jstring name = (jstring) (*env)->GetObjectArrayElement(env, names, i);
        const char *s = (*env)->GetStringUTFChars(env, name, NULL);
        if (s == NULL) {
            return NULL;
        }
        code_fn f = torch == NULL ? NULL : (code_fn) dlsym(torch, s);
        (*env)->ReleaseStringUTFChars(env, name, s);
        (*env)->DeleteLocalRef(env, name);
        jint c = f == NULL ? INT32_MIN : f();
        (*env)->SetIntArrayRegion(env, out, i, 1, &c);
    }
    return out;
}

/*
 * Tensor i: addresses[i], dtypes[i], rank ranks[i], sizes next in `sizes` (all ranks concatenated),
 * contiguous row-major strides. Writes each handle to handles[i]; returns -1, the index of the first
 * tensor libtorch refused (whose handle and those after it are left 0; the caller frees the ones made),
 * or -2 if this function's own buffers could not be allocated (nothing made).
 */
JNIEXPORT jint JNICALL Java_dev_daxload_djl_NativeViews_fromBlobs(JNIEnv *env, jclass cls __attribute__((unused)), jlongArray addresses,
        jlongArray sizes, jintArray ranks, jintArray dtypes, jlongArray handles) {
    jsize n = (*env)->GetArrayLength(env, addresses);
    jsize total = (*env)->GetArrayLength(env, sizes);
    jlong *addr = malloc(sizeof(jlong) * (n + 1));
    jlong *dims = malloc(sizeof(jlong) * (total + 1));
    jint *rank = malloc(sizeof(jint) * (n + 1));
    jint *dtype = malloc(sizeof(jint) * (n + 1));
    jlong *made = calloc(n + 1, sizeof(jlong));
    int64_t *strides = malloc(sizeof(int64_t) * (total + 1));
    jint failed = -1;
    if (addr == NULL || dims == NULL || rank == NULL || dtype == NULL || made == NULL || strides == NULL) {
        failed = -2;
        goto done;
    }
    (*env)->GetLongArrayRegion(env, addresses, 0, n, addr);
    (*env)->GetLongArrayRegion(env, sizes, 0, total, dims);
    (*env)->GetIntArrayRegion(env, ranks, 0, n, rank);
    (*env)->GetIntArrayRegion(env, dtypes, 0, n, dtype);
    jsize at = 0;
    for (jsize i = 0; i < n; i++) {
        int64_t stride = 1;
        for (jint d = rank[i] - 1; d >= 0; d--) {
            strides[at + d] = stride;
            stride *= dims[at + d] > 1 ? dims[at + d] : 1; /* a 0 dimension leaves strides as torch.empty makes them */
        }
        void *t = NULL;
        if (from_blob == NULL || from_blob((void *) (intptr_t) addr[i], rank[i], (const int64_t *) dims + at,
                                           strides + at, 0, dtype[i], device_cpu, 0, &t) != 0) {
            failed = i;
            break;
        }
        made[i] = (jlong) (intptr_t) t;
        at += rank[i];
    }
    (*env)->SetLongArrayRegion(env, handles, 0, n, made);
done:
    free(addr);
    free(dims);
    free(rank);
    free(dtype);
    free(made);
    free(strides);
    return failed;
}

/* Frees handles that never reached a PtNDArray (which would otherwise free them); 0 handles are skipped. */
JNIEXPORT void JNICALL Java_dev_daxload_djl_NativeViews_deleteAll(JNIEnv *env, jclass cls __attribute__((unused)), jlongArray handles) {
    jsize n = (*env)->GetArrayLength(env, handles);
    for (jsize i = 0; i < n; i++) {
        jlong h;
        (*env)->GetLongArrayRegion(env, handles, i, 1, &h);
        if (h != 0 && delete_tensor != NULL) {
            delete_tensor((void *) (intptr_t) h);
        }
    }
}

/* tensor.data_ptr() of an at::Tensor* into out[0]; returns libtorch's error code (0: success). */
JNIEXPORT jint JNICALL Java_dev_daxload_djl_NativeViews_dataPtr(JNIEnv *env, jclass cls __attribute__((unused)), jlong handle, jlongArray out) {
    void *p = NULL;
    if (data_ptr == NULL) {
        return -1;
    }
    int32_t rc = data_ptr((void *) (intptr_t) handle, &p);
    jlong a = (jlong) (intptr_t) p;
    (*env)->SetLongArrayRegion(env, out, 0, 1, &a);
    return rc;
}
