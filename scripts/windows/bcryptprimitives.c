/* Wine 8 has no ProcessPrng, which Rust's std (1.78+) calls for random numbers on Windows.
   This stand-in bcryptprimitives.dll forwards it to RtlGenRandom (advapi32!SystemFunction036).
   Used only to run the tests under Wine; never shipped. */
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
