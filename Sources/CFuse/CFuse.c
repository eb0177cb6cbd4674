#include "CFuse.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/mount.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct watch {
    struct fuse *fuse;
    const char *mountpoint;
    pid_t parent;
};

// Waits until process `pid` has exited. A pidfd, because it reports the whole process: while a launcher thread other
// than the main one runs execve, /proc shows the old leader as a zombie for a moment, and a poll of /proc would unmount
// under the program that is about to start (its files would then reach the host in clear). Without pidfd (Linux < 5.3)
// the launcher's exit is seen as the server being reparented, checked twice a few hundred milliseconds apart.
static void wait_for_exit(pid_t pid) {
    int descriptor = (int)syscall(SYS_pidfd_open, pid, 0);
    if (descriptor >= 0) {
        struct pollfd watched = {descriptor, POLLIN, 0};
        while (poll(&watched, 1, -1) < 0 && errno == EINTR) {}
        close(descriptor);
        return;
    }
    if (errno == ESRCH) return;
    for (int gone = 0; gone < 2;) {
        usleep(300000);
        gone = getppid() != pid ? gone + 1 : 0;
    }
}

// fuse_exit only sets a flag the loop sees after its next request, and none may come: the loop ends when the kernel
// drops the mount (lazily, as `fusermount3 -uz` does; that tool when this process may not unmount itself).
static void *watch_parent(void *argument) {
    struct watch *watch = argument;
    wait_for_exit(watch->parent);
    fuse_exit(watch->fuse);
    if (umount2(watch->mountpoint, MNT_DETACH) != 0) {
        char *args[] = {"fusermount3", "-u", "-z", (char *)watch->mountpoint, NULL};
        pid_t child;
        if (posix_spawnp(&child, "fusermount3", NULL, NULL, args, environ) == 0) waitpid(child, NULL, 0);
    }
    return NULL;
}

void *cloister_fuse_context(void) { return fuse_get_context()->private_data; }

int cloister_fuse_serve(const char *mountpoint, const struct fuse_operations *operations, void *context,
                        void (*ready)(void *context), pid_t parent, char *error, size_t error_size) {
    // default_permissions: the kernel checks modes and owners as for any file system; allow_other: the program may
    // run as another user than this server (root in a container, the image's user for the program).
    char *argv[] = {"cloister-encrypted-mount", "-o", "default_permissions,allow_other", NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, argv);
    struct fuse *fuse = fuse_new(&args, operations, sizeof(*operations), context);
    if (fuse == NULL) {
        snprintf(error, error_size, "fuse_new failed (libfuse3 printed why)");
        return -1;
    }
    if (fuse_mount(fuse, mountpoint) != 0) {
        snprintf(error, error_size, "fuse_mount(%s) failed: is /dev/fuse present and usable (fuse3 installed, the container allowed FUSE)?",
                 mountpoint);
        fuse_destroy(fuse);
        return -1;
    }
    struct fuse_session *session = fuse_get_session(fuse);
    fuse_set_signal_handlers(session);
    // On the heap: a watcher still polling when the loop ends keeps using it until the process exits.
    struct watch *watch = malloc(sizeof *watch);
    pthread_t watcher;
    int watching = 0;
    if (watch != NULL && parent > 0) {
        *watch = (struct watch){fuse, mountpoint, parent};
        watching = pthread_create(&watcher, NULL, watch_parent, watch) == 0;
    }
    ready(context);
    int served = fuse_loop(fuse);
    fuse_remove_signal_handlers(session);
    fuse_unmount(fuse);
    if (watching) pthread_detach(watcher);
    fuse_destroy(fuse);
    if (served < 0) {
        snprintf(error, error_size, "serving the mount failed: %s", strerror(-served));
        return -1;
    }
    return 0;
}
