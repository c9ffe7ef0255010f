/* The other program in the native-key tests on Windows (tests/it/native_key.rs), where Wine has
 * no Python: it makes the Win32 calls that Python's multiprocessing.shared_memory makes there
 * (Lib/multiprocessing/shared_memory.py), and speaks the same little protocol as the Python
 * peer the tests use on Linux.
 *
 *   shm_peer create NAME SIZE   CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE,
 *                               SIZE, NAME), refused if it already exists; byte i is
 *                               (i * 7 + 3) % 256; prints "ready"; each stdin line V fills every
 *                               byte with V and prints "filled V"; at end of input it closes the
 *                               mapping, which Windows then removes.
 *   shm_peer read NAME COUNT    OpenFileMappingW(FILE_MAP_READ), MapViewOfFile of all of it,
 *                               VirtualQuery for its size, as Python's SharedMemory(name=NAME)
 *                               does; prints the first COUNT bytes in hex.
 *
 * Built with mingw by scripts/test-windows.sh, next to shmimage.exe. Exit status: 0 done,
 * 2 bad arguments, 3 no such mapping or a Win32 call failed, 17 the name exists.
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

static int create(const wchar_t *name, unsigned long long size) {
    HANDLE mapping = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE,
                                        (DWORD)(size >> 32), (DWORD)(size & 0xFFFFFFFFu), name);
    if (mapping == NULL) {
        fprintf(stderr, "CreateFileMappingW failed: %lu\n", GetLastError());
        return 3;
    }
    if (GetLastError() == ERROR_ALREADY_EXISTS) {
        printf("exists\n");
        fflush(stdout);
        CloseHandle(mapping);
        return 17;
    }
    unsigned char *bytes = MapViewOfFile(mapping, FILE_MAP_WRITE, 0, 0, (SIZE_T)size);
    if (bytes == NULL) {
        fprintf(stderr, "MapViewOfFile failed: %lu\n", GetLastError());
        return 3;
    }
    for (unsigned long long i = 0; i < size; i++) bytes[i] = (unsigned char)((i * 7 + 3) % 256);
    printf("ready\n");
    fflush(stdout);
    char line[64];
    while (fgets(line, sizeof line, stdin) != NULL) {
        int value = atoi(line);
        memset(bytes, value, (size_t)size);
        printf("filled %d\n", value);
        fflush(stdout);
    }
    UnmapViewOfFile(bytes);
    CloseHandle(mapping);
    return 0;
}

static int read_back(const wchar_t *name, unsigned long long count) {
    HANDLE mapping = OpenFileMappingW(FILE_MAP_READ, FALSE, name);
    if (mapping == NULL) {
        fprintf(stderr, "OpenFileMappingW failed: %lu\n", GetLastError());
        return 3;
    }
    unsigned char *bytes = MapViewOfFile(mapping, FILE_MAP_READ, 0, 0, 0);
    CloseHandle(mapping);
    if (bytes == NULL) {
        fprintf(stderr, "MapViewOfFile failed: %lu\n", GetLastError());
        return 3;
    }
    MEMORY_BASIC_INFORMATION info;
    if (VirtualQuery(bytes, &info, sizeof info) == 0 || info.RegionSize < count) {
        fprintf(stderr, "the mapping is smaller than %llu bytes\n", count);
        return 3;
    }
    for (unsigned long long i = 0; i < count; i++) printf("%02x", bytes[i]);
    fflush(stdout);
    UnmapViewOfFile(bytes);
    return 0;
}

int wmain(int argc, wchar_t **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: shm_peer create|read NAME SIZE\n");
        return 2;
    }
    unsigned long long number = wcstoull(argv[3], NULL, 10);
    if (wcscmp(argv[1], L"create") == 0 && number > 0) return create(argv[2], number);
    if (wcscmp(argv[1], L"read") == 0) return read_back(argv[2], number);
    fprintf(stderr, "usage: shm_peer create|read NAME SIZE\n");
    return 2;
}
