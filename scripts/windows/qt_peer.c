/* Qt's shared-memory example on Windows, as far as its IPC goes, for the tests under Wine
 * (tests/it/qt_windows.rs), where no Qt for Windows can be installed. It makes the Win32 calls
 * that Qt's qsharedmemory_win.cpp, qsystemsemaphore_win.cpp and the example's dialog.cpp make,
 * in the same order, as ../shared/QT_IPC_SPEC_WINDOWS_MACOS.md (section 1) lists them from Qt
 * 5.15.8's and Qt 6's sources. It is built from that reading of Qt's source, not from Qt.
 *
 *   qt_peer write legacy|native KEY FILE.png [hold]
 *       loadFromFile: create(4 + size of FILE) under the lock, then lock, copy
 *       00 00 00 01 + FILE's bytes (QDataStream << QImage: the marker and a PNG), unlock; prints
 *       "ready" and keeps the mapping until its stdin closes. "hold" instead stops after taking
 *       the lock for the copy, prints "holding", and waits there (to be killed while holding it).
 *   qt_peer read legacy|native KEY OUT.bin
 *       loadFromMemory: attach, lock, copy all size() bytes (whole pages) into OUT.bin, unlock,
 *       detach; prints "read N".
 *
 * "legacy" names the objects as Qt 5 (and Qt 6 with a QString key) do:
 * qipc_sharedmemory_<letters><sha1> and qipc_systemsem_<letters><sha1>; the caller passes the
 * SHA-1 in hex, as KEY:SHA1, since this peer has no hash of its own. "native" is Qt 6.6+'s
 * QNativeIpcKey: KEY and KEY_sem.
 *
 * Lock waits are WaitForSingleObjectEx(INFINITE), as Qt's: a semaphore left at 0 hangs this
 * program, which is what the tests look for.
 *
 * Exit status: 0 done, 2 bad arguments, 3 a Win32 call failed, 4 "Unable to create shared
 * memory segment.", 5 "Unable to attach to shared memory segment."
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

struct names {
    wchar_t mapping[300];
    wchar_t semaphore[300];
    int native;
};

/* The key's ASCII letters, as makePlatformSafeKey keeps them. */
static void letters_of(const char *key, size_t len, char *out) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if ((key[i] >= 'a' && key[i] <= 'z') || (key[i] >= 'A' && key[i] <= 'Z')) out[n++] = key[i];
    out[n] = 0;
}

static int make_names(const char *kind, const char *key, struct names *names) {
    if (strcmp(kind, "native") == 0) {
        names->native = 1;
        swprintf(names->mapping, 300, L"%hs", key);
        swprintf(names->semaphore, 300, L"%hs_sem", key);
        return 0;
    }
    const char *colon = strrchr(key, ':');
    if (strcmp(kind, "legacy") != 0 || colon == NULL) return 2;
    char letters[256];
    letters_of(key, (size_t)(colon - key), letters);
    names->native = 0;
    swprintf(names->mapping, 300, L"qipc_sharedmemory_%hs%hs", letters, colon + 1);
    swprintf(names->semaphore, 300, L"qipc_systemsem_%hs%hs", letters, colon + 1);
    return 0;
}

/* QSystemSemaphorePrivate::handle(): open or create, initial count 1, kept while the
 * QSharedMemory lives (Qt 6 keeps it across attach; Qt 5 reopens it in initKey, below). */
static HANDLE semaphore;

static int open_semaphore(const struct names *names) {
    if (semaphore != NULL && !names->native) {
        /* Qt 5's initKey: setKey(QString(), 1) closes the handle, then setKey(key, 1) reopens. */
        CloseHandle(semaphore);
        semaphore = NULL;
    }
    if (semaphore == NULL) semaphore = CreateSemaphoreW(NULL, 1, MAXLONG, names->semaphore);
    if (semaphore == NULL) {
        fprintf(stderr, "CreateSemaphoreW failed: %lu\n", GetLastError());
        return 3;
    }
    return 0;
}

static int lock(void) {
    if (WaitForSingleObjectEx(semaphore, INFINITE, FALSE) != WAIT_OBJECT_0) {
        fprintf(stderr, "WaitForSingleObjectEx failed: %lu\n", GetLastError());
        return 3;
    }
    return 0;
}

static void unlock(void) { ReleaseSemaphore(semaphore, 1, NULL); }

static SIZE_T region_size(void *view) {
    MEMORY_BASIC_INFORMATION info;
    if (VirtualQuery(view, &info, sizeof info) == 0) return 0;
    return info.RegionSize;
}

static unsigned char *read_file(const char *path, long *len) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) return NULL;
    fseek(file, 0, SEEK_END);
    *len = ftell(file);
    fseek(file, 0, SEEK_SET);
    unsigned char *bytes = malloc((size_t)*len + 4);
    if (bytes == NULL || fread(bytes + 4, 1, (size_t)*len, file) != (size_t)*len) {
        fclose(file);
        return NULL;
    }
    fclose(file);
    bytes[0] = 0; bytes[1] = 0; bytes[2] = 0; bytes[3] = 1; /* QDataStream: not a null image */
    *len += 4;
    return bytes;
}

/* QSharedMemory::attach(ReadWrite) under the lock: OpenFileMappingW(FILE_MAP_ALL_ACCESS), a view
 * of all of it, and size() from VirtualQuery. */
static unsigned char *attach(const struct names *names, HANDLE *mapping, SIZE_T *size) {
    *mapping = OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, names->mapping);
    if (*mapping == NULL) return NULL;
    unsigned char *view = MapViewOfFile(*mapping, FILE_MAP_ALL_ACCESS, 0, 0, 0);
    if (view == NULL) return NULL;
    *size = region_size(view);
    return view;
}

static void wait_for_stdin_to_close(void) {
    char line[256];
    while (fgets(line, sizeof line, stdin) != NULL) {
    }
}

static int write_image(const struct names *names, const char *path, int hold) {
    long len = 0;
    unsigned char *payload = read_file(path, &len);
    if (payload == NULL) return 2;
    /* create(size): initKey, then lock, CreateFileMappingW, attach on the same handle, unlock. */
    if (open_semaphore(names) || lock()) return 3;
    HANDLE mapping = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0,
                                        (DWORD)len, names->mapping);
    DWORD error = GetLastError();
    unsigned char *view = NULL;
    SIZE_T size = 0;
    if (mapping != NULL && error == ERROR_ALREADY_EXISTS) {
        unlock();
        if (!names->native) {
            /* Qt 5's example: any failed create. The handle to the old mapping is kept. */
            printf("Unable to create shared memory segment.\n");
            fflush(stdout);
            return 4;
        }
        /* Qt 6.6+'s example: AlreadyExists -> attach() and copy what fits. */
        CloseHandle(mapping);
        if (open_semaphore(names) || lock()) return 3;
        view = attach(names, &mapping, &size);
        unlock();
    } else if (mapping != NULL) {
        view = MapViewOfFile(mapping, FILE_MAP_ALL_ACCESS, 0, 0, 0);
        size = view ? region_size(view) : 0;
        unlock();
    } else {
        unlock();
        printf("Unable to create shared memory segment.\n");
        fflush(stdout);
        return 4;
    }
    if (view == NULL) {
        fprintf(stderr, "MapViewOfFile failed: %lu\n", GetLastError());
        return 3;
    }
    /* sharedMemory.lock(); memcpy(to, from, qMin(size(), size)); sharedMemory.unlock(); */
    if (lock()) return 3;
    if (hold) {
        printf("holding\n");
        fflush(stdout);
        Sleep(INFINITE);
    }
    memcpy(view, payload, (size_t)len < size ? (size_t)len : size);
    unlock();
    printf("ready\n");
    fflush(stdout);
    wait_for_stdin_to_close();
    /* detach(): unmap and close; Windows frees the mapping with its last handle. */
    UnmapViewOfFile(view);
    CloseHandle(mapping);
    return 0;
}

static int read_image(const struct names *names, const char *out) {
    HANDLE mapping = NULL;
    SIZE_T size = 0;
    /* attach(): initKey, lock, OpenFileMappingW, MapViewOfFile, unlock. */
    if (open_semaphore(names) || lock()) return 3;
    unsigned char *view = attach(names, &mapping, &size);
    unlock();
    if (view == NULL) {
        printf("Unable to attach to shared memory segment.\nLoad an image first.\n");
        fflush(stdout);
        return 5;
    }
    /* QBuffer over constData(), size(); lock; QDataStream >> image; unlock; detach. */
    if (lock()) return 3;
    FILE *file = fopen(out, "wb");
    size_t written = file ? fwrite(view, 1, size, file) : 0;
    if (file) fclose(file);
    unlock();
    UnmapViewOfFile(view);
    CloseHandle(mapping);
    if (written != size) return 3;
    printf("read %lu\n", (unsigned long)size);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    struct names names;
    if (argc < 5 || make_names(argv[2], argv[3], &names)) {
        fprintf(stderr, "usage: qt_peer write|read legacy|native KEY[:SHA1] FILE [hold]\n");
        return 2;
    }
    if (strcmp(argv[1], "write") == 0)
        return write_image(&names, argv[4], argc > 5 && strcmp(argv[5], "hold") == 0);
    if (strcmp(argv[1], "read") == 0) return read_image(&names, argv[4]);
    return 2;
}
