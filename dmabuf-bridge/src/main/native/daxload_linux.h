/*
 * daxload_linux.h: the Linux calls that the dmabuf-bridge needs, as small inline functions.
 *
 * Every function returns a non-negative result on success and -errno on failure. Reading errno
 * right here, inside the same native call, is what makes the Java side free of thread-local
 * races: by the time control is back in Java, the JVM may have made other calls on this thread.
 *
 * Only libc is used. The mount API and the pidfd calls go through syscall(2) because glibc's
 * wrappers are recent (2.36) and <sys/mount.h> clashes with <linux/mount.h>, which we need for
 * the FSCONFIG_* and MOUNT_ATTR_* constants.
 *
 * This header is compiled as C++ by JavaCPP's generated JNI source, so it sticks to the common
 * subset of C and C++ (no designated initializers, explicit casts from void*).
 */
#ifndef DAXLOAD_LINUX_H
#define DAXLOAD_LINUX_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/mount.h>
#include <linux/udmabuf.h>

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#endif
#ifndef UDMABUF_FLAGS_CLOEXEC
#define UDMABUF_FLAGS_CLOEXEC 0x01
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* DAXFS_IOC_GET_DMABUF = _IO('D', 1): the out-of-tree daxfs module's ioctl on a file of a mount;
 * it returns a new dma-buf fd for the whole image as the ioctl's result. */
#define DAXLOAD_DAXFS_IOC_GET_DMABUF _IO('D', 1)

/* umount2 flags live in <sys/mount.h>, which we avoid (see the top). */
#define DAXLOAD_MNT_DETACH 2

/* The most fds one message may carry (the kernel's SCM_MAX_FD is 253). */
#define DAXLOAD_MAX_FDS 253

#define DAXLOAD_RET(expr) do { long long r_ = (long long)(expr); return r_ < 0 ? -(long long)errno : r_; } while (0)

/* ---- errno names: glibc >= 2.32 has them, so no table of our own to keep in step ---- */

static inline const char* daxload_errno_name(int err) {
    const char* n = strerrorname_np(err);
    return n != NULL ? n : "";
}

static inline const char* daxload_errno_text(int err) {
    const char* d = strerrordesc_np(err);
    return d != NULL ? d : "";
}

/* ---- plain fds ---- */

static inline int daxload_close(int fd) {
    /* No retry on EINTR: on Linux the fd is released even then, and a retry could close an fd
     * that another thread just got. */
    DAXLOAD_RET(close(fd));
}

static inline int daxload_dup(int fd) {
    DAXLOAD_RET(fcntl(fd, F_DUPFD_CLOEXEC, 0));
}

static inline int daxload_open(const char* path, int flags) {
    DAXLOAD_RET(open(path, flags | O_CLOEXEC));
}

static inline long long daxload_fstat_size(int fd) {
    struct stat st;
    if (fstat(fd, &st) < 0) return -(long long)errno;
    return (long long)st.st_size;
}

static inline long long daxload_pwrite(int fd, const void* buf, long long len, long long off) {
    DAXLOAD_RET(pwrite(fd, buf, (size_t)len, (off_t)off));
}

static inline long long daxload_pread(int fd, void* buf, long long len, long long off) {
    DAXLOAD_RET(pread(fd, buf, (size_t)len, (off_t)off));
}

static inline long long daxload_page_size(void) {
    DAXLOAD_RET(sysconf(_SC_PAGESIZE));
}

/* ---- memfd ---- */

static inline int daxload_memfd_create(const char* name, unsigned int flags, long long size) {
    int fd = memfd_create(name, flags | MFD_CLOEXEC);
    if (fd < 0) return -errno;
    if (size > 0 && ftruncate(fd, (off_t)size) < 0) {
        int err = errno;
        close(fd);          /* the error path releases what it made */
        return -err;
    }
    return fd;
}

static inline int daxload_ftruncate(int fd, long long size) {
    DAXLOAD_RET(ftruncate(fd, (off_t)size));
}

static inline int daxload_add_seals(int fd, int seals) {
    DAXLOAD_RET(fcntl(fd, F_ADD_SEALS, seals));
}

static inline int daxload_get_seals(int fd) {
    DAXLOAD_RET(fcntl(fd, F_GET_SEALS));
}

/* mmap lives in the loader (Java FFM, dev.daxload.image.internal.Mmap): one place maps descriptors. */

/* ---- dma-heap: open the heap, allocate, close the heap; only the dma-buf fd survives ---- */

static inline int daxload_dma_heap_alloc(const char* heap_path, long long len) {
    int heap = open(heap_path, O_RDONLY | O_CLOEXEC);
    if (heap < 0) return -errno;
    struct dma_heap_allocation_data req;
    memset(&req, 0, sizeof req);
    req.len = (__u64)len;
    req.fd_flags = O_RDWR | O_CLOEXEC;
    int rc = ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &req);
    int err = errno;
    close(heap);
    if (rc < 0) return -err;
    return (int)req.fd;
}

/* ---- udmabuf from a memfd (which needs F_SEAL_SHRINK and page-aligned offset/size) ---- */

static inline int daxload_udmabuf_create(const char* dev_path, int memfd, long long off, long long size) {
    int dev = open(dev_path, O_RDWR | O_CLOEXEC);
    if (dev < 0) return -errno;
    struct udmabuf_create req;
    memset(&req, 0, sizeof req);
    req.memfd = (__u32)memfd;
    req.flags = UDMABUF_FLAGS_CLOEXEC;
    req.offset = (__u64)off;
    req.size = (__u64)size;
    int rc = ioctl(dev, UDMABUF_CREATE, &req);
    int err = errno;
    close(dev);
    return rc < 0 ? -err : rc;
}

/* ---- DMA_BUF_IOCTL_SYNC; the kernel may ask us to retry ---- */

static inline int daxload_dma_buf_sync(int fd, long long flags) {
    struct dma_buf_sync s;
    memset(&s, 0, sizeof s);
    s.flags = (__u64)flags;
    int rc;
    do {
        rc = ioctl(fd, DMA_BUF_IOCTL_SYNC, &s);
    } while (rc < 0 && (errno == EINTR || errno == EAGAIN));
    return rc < 0 ? -errno : rc;
}

/* Names a dma-buf (DMA_BUF_SET_NAME, at most DMA_BUF_NAME_LEN-1 bytes): the name shows in
 * /proc/PID/fdinfo and the kernel's dma-buf accounting, so a mounted image can be told apart. */
static inline int daxload_dma_buf_set_name(int fd, const char* name) {
    DAXLOAD_RET(ioctl(fd, DMA_BUF_SET_NAME, name));
}

/* ---- mount API ---- */

static inline int daxload_fsopen(const char* fs_name) {
    DAXLOAD_RET(syscall(SYS_fsopen, fs_name, FSOPEN_CLOEXEC));
}

/* One fsconfig call; key/value may be NULL as the command requires. */
static inline int daxload_fsconfig(int fsfd, int cmd, const char* key, const char* value, int aux) {
    DAXLOAD_RET(syscall(SYS_fsconfig, fsfd, cmd, key, value, aux));
}

/* Reads one message of the filesystem context's log ("e ...", "w ...", "i ..."): the kernel's
 * own words about why a configuration failed. Returns its length, or -errno (-ENODATA when the
 * log is empty). */
static inline int daxload_fs_read_log(int fsfd, char* buf, int len) {
    ssize_t n = read(fsfd, buf, (size_t)len);
    return n < 0 ? -errno : (int)n;
}

static inline int daxload_fsmount(int fsfd, unsigned int attr_flags) {
    DAXLOAD_RET(syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, attr_flags));
}

static inline int daxload_move_mount_to(int mntfd, const char* to_path) {
    DAXLOAD_RET(syscall(SYS_move_mount, mntfd, "", AT_FDCWD, to_path, MOVE_MOUNT_F_EMPTY_PATH));
}

static inline int daxload_umount2(const char* path, int flags) {
    DAXLOAD_RET(syscall(SYS_umount2, path, flags));
}

/* Opens a file of a daxfs mount and asks it for the image's dma-buf; the file fd is closed. */
static inline int daxload_daxfs_get_dmabuf(const char* file_on_mount) {
    int f = open(file_on_mount, O_RDONLY | O_CLOEXEC);
    if (f < 0) return -errno;
    int rc = ioctl(f, DAXLOAD_DAXFS_IOC_GET_DMABUF);
    int err = errno;
    close(f);
    return rc < 0 ? -err : rc;
}

/* ---- AF_UNIX sockets and SCM_RIGHTS ---- */

static inline int daxload_unix_addr(struct sockaddr_un* a, const char* path) {
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof a->sun_path) return -ENAMETOOLONG;
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    memcpy(a->sun_path, path, n);
    return 0;
}

static inline int daxload_unix_listen(const char* path, int backlog) {
    struct sockaddr_un a;
    int rc = daxload_unix_addr(&a, path);
    if (rc < 0) return rc;
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -errno;
    if (bind(s, (struct sockaddr*)&a, sizeof a) < 0 || listen(s, backlog) < 0) {
        int err = errno;
        close(s);
        return -err;
    }
    return s;
}

static inline int daxload_unix_accept(int s) {
    int c;
    do {
        c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
    } while (c < 0 && errno == EINTR);
    return c < 0 ? -errno : c;
}

static inline int daxload_unix_connect(const char* path) {
    struct sockaddr_un a;
    int rc = daxload_unix_addr(&a, path);
    if (rc < 0) return rc;
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -errno;
    if (connect(s, (struct sockaddr*)&a, sizeof a) < 0) {
        int err = errno;
        close(s);
        return -err;
    }
    return s;
}

/* A connected pair; out[0] and out[1] receive the two ends. */
static inline int daxload_unix_socketpair(int* out) {
    DAXLOAD_RET(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out));
}

/* Sends len bytes (at least 1: a stream socket drops a message with no data) and nfds fds in one
 * sendmsg. Returns the bytes sent. */
static inline long long daxload_send_fds(int s, const void* data, int len, const int* fds, int nfds) {
    if (len < 1 || nfds < 0 || nfds > DAXLOAD_MAX_FDS) return -EINVAL;
    struct iovec iov;
    iov.iov_base = (void*)data;
    iov.iov_len = (size_t)len;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    union { char buf[CMSG_SPACE(sizeof(int) * DAXLOAD_MAX_FDS)]; struct cmsghdr align; } ctl;
    if (nfds > 0) {
        memset(&ctl, 0, sizeof ctl);
        msg.msg_control = ctl.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    ssize_t n;
    do {
        n = sendmsg(s, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -(long long)errno : (long long)n;
}

/* Receives up to len bytes and up to maxfds fds (close-on-exec). out_nfds[0] gets the number of
 * fds written to fds. If the sender sent more fds than fit, every fd that did arrive is closed
 * and -EMSGSIZE returned, so a short buffer never leaks fds. Returns the bytes received (0 at
 * end of stream). */
static inline long long daxload_recv_fds(int s, void* data, int len, int* fds, int maxfds, int* out_nfds) {
    out_nfds[0] = 0;
    if (len < 1 || maxfds < 0 || maxfds > DAXLOAD_MAX_FDS) return -EINVAL;
    struct iovec iov;
    iov.iov_base = data;
    iov.iov_len = (size_t)len;
    union { char buf[CMSG_SPACE(sizeof(int) * DAXLOAD_MAX_FDS)]; struct cmsghdr align; } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof ctl.buf;
    ssize_t n;
    do {
        n = recvmsg(s, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return -(long long)errno;
    int got = 0;
    int overflow = (msg.msg_flags & MSG_CTRUNC) != 0;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int* in = (int*)CMSG_DATA(c);
        for (int i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, in + i, sizeof fd);
            if (got < maxfds) {
                fds[got++] = fd;
            } else {
                close(fd);
                overflow = 1;
            }
        }
    }
    if (overflow) {
        for (int i = 0; i < got; i++) close(fds[i]);
        return -EMSGSIZE;
    }
    out_nfds[0] = got;
    return (long long)n;
}

/* ---- pidfd ---- */

static inline int daxload_pidfd_open(int pid) {
    DAXLOAD_RET(syscall(SYS_pidfd_open, (pid_t)pid, 0));
}

static inline int daxload_pidfd_getfd(int pidfd, int target_fd) {
    DAXLOAD_RET(syscall(SYS_pidfd_getfd, pidfd, target_fd, 0));
}

/* pidfd_open then pidfd_getfd; the pidfd is closed before returning. The new fd is close-on-exec
 * (pidfd_getfd always sets it). */
static inline int daxload_pidfd_steal(int pid, int target_fd) {
    int p = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
    if (p < 0) return -errno;
    int fd = (int)syscall(SYS_pidfd_getfd, p, target_fd, 0);
    int err = errno;
    close(p);
    return fd < 0 ? -err : fd;
}

/* Constants, so that Java never hard-codes a number that a header defines. */
static inline long long daxload_const(int which) {
    switch (which) {
        case 0: return MFD_ALLOW_SEALING;
        case 1: return F_SEAL_SEAL;
        case 2: return F_SEAL_SHRINK;
        case 3: return F_SEAL_GROW;
        case 4: return F_SEAL_WRITE;
        case 5: return PROT_READ;
        case 6: return PROT_WRITE;
        case 7: return MAP_SHARED;
        case 8: return MAP_PRIVATE;
        case 9: return MAP_POPULATE;
        case 10: return DMA_BUF_SYNC_READ;
        case 11: return DMA_BUF_SYNC_WRITE;
        case 12: return DMA_BUF_SYNC_START;
        case 13: return DMA_BUF_SYNC_END;
        case 14: return FSCONFIG_SET_FLAG;
        case 15: return FSCONFIG_SET_STRING;
        case 16: return FSCONFIG_SET_FD;
        case 17: return FSCONFIG_CMD_CREATE;
        case 18: return MOUNT_ATTR_RDONLY;
        case 19: return DAXLOAD_MNT_DETACH;
        case 20: return O_RDONLY;
        case 21: return O_RDWR;
        case 22: return DAXLOAD_DAXFS_IOC_GET_DMABUF;
        case 23: return DAXLOAD_MAX_FDS;
        default: return -EINVAL;
    }
}

#endif /* DAXLOAD_LINUX_H */
