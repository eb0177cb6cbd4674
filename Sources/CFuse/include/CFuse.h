#ifndef CLOISTER_CFUSE_H
#define CLOISTER_CFUSE_H

#define FUSE_USE_VERSION 31
#include <fuse3/fuse.h>
#include <sys/types.h>

/// Mounts a FUSE file system at `mountpoint` served by `operations` (their private data is `context`), calls
/// `ready(context)` once the mount is in place, and serves requests on the calling thread until the file system is
/// unmounted, SIGTERM or SIGINT arrives, or process `parent` is gone (it was reparented). Unmounts before returning.
/// Returns 0, or -1 with a message in `error`.
int cloister_fuse_serve(const char *mountpoint, const struct fuse_operations *operations, void *context,
                        void (*ready)(void *context), pid_t parent, char *error, size_t error_size);

/// The private data of the file system whose request is being served.
void *cloister_fuse_context(void);

#endif
