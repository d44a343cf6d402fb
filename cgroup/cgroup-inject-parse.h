/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-inject-parse.h: the pure parts of calling the allocator's release function inside another
 * process (cgroup/cgroup-inject.c): which allocator /proc/PID/maps shows and where it is loaded, the symbols
 * the call needs from the mapped ELF file, whether a thread's stack is inside the allocator, how an
 * interrupted system call resumes, and the signal frame through which the target restores itself.
 * x86_64 only (the frame layout and the rt_sigreturn trampoline are the kernel's x86_64 ABI). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

typedef enum InjectAllocator {
        INJECT_ALLOCATOR_GLIBC,    /* glibc's malloc: malloc_trim(0) */
        INJECT_ALLOCATOR_JEMALLOC, /* a dynamically linked libjemalloc: mallctl("arena.4096.purge") */
        INJECT_ALLOCATOR_STATIC,   /* no shared libc mapped: a static binary (Go, static C, ...) */
        INJECT_ALLOCATOR_UNKNOWN,  /* musl, tcmalloc, mimalloc, ...: other_allocator says which */
} InjectAllocator;

const char *inject_allocator_to_string(InjectAllocator a);

typedef struct InjectObject {
        char path[512];    /* as /proc/PID/maps shows it: a path in the target's mount namespace */
        uint64_t lo, hi;   /* the extent of all its mappings */
        uint64_t base;     /* start of the mapping at file offset 0 */
        bool found;
} InjectObject;

typedef struct InjectMaps {
        InjectAllocator allocator;
        InjectObject libc;        /* libc.so.6 (glibc) */
        InjectObject jemalloc;    /* libjemalloc.so.* */
        char other_allocator[64]; /* for INJECT_ALLOCATOR_UNKNOWN: "musl", "tcmalloc", ... */
} InjectMaps;

/* Parses /proc/PID/maps. Returns 0, or -EINVAL when not one line parses. */
int inject_maps_parse(const char *buf, InjectMaps *ret);

/* Finds the mapping that contains addr: 1 and its bounds and name (may be "" or "[stack]"), 0 when none. */
int inject_maps_find(const char *buf, uint64_t addr, uint64_t *ret_lo, uint64_t *ret_hi, char *name,
                     size_t name_size);

/* What one ELF file (libc or libjemalloc) offers. Addresses are the file's own (st_value); add the load
 * bias (InjectObject.base - first_load_vaddr) for the target's. 0 = not found. */
typedef struct InjectElf {
        uint64_t first_load_vaddr;
        uint64_t malloc_trim, mallinfo2, mallctl;
        uint64_t restorer;              /* libc's __restore_rt: "mov $15,%rax; syscall", found once */
        unsigned restorer_matches;      /* how often that pattern was found (must be 1) */
        uint64_t malloc_lo, malloc_hi;  /* the conservative hull of libc's malloc.o, see the .c */
        uint64_t fork_lo, fork_hi;      /* fork(): it holds every arena lock around clone */
} InjectElf;

/* Parses an ELF64 x86_64 shared object in memory (its .dynsym and executable PT_LOAD segments).
 * Returns 0, -EINVAL for a file that is not one, -ENOMEM. */
int inject_elf_parse(const void *buf, size_t size, InjectElf *ret);

/* Whether a function name belongs to an allocator or to fork's lock holding (exact names and prefixes
 * of glibc's malloc.c/arena.c internals, as debug symbols show them). */
bool inject_name_is_allocator(const char *name);

/* One frame of an unwound stack. */
typedef struct InjectFrame {
        uint64_t pc;
        const char *name; /* NULL when unknown */
} InjectFrame;

/* Returns true when the stack is provably outside the allocator: no frame inside the jemalloc mapping,
 * glibc's malloc hull or fork, and no frame named like an allocator function. Otherwise false and a reason
 * ("frame 2 in glibc malloc (_int_free)"). libc_bias is the load bias of libc (0 if libc is absent). */
bool inject_stack_is_clean(const InjectFrame *frames, size_t n, const InjectMaps *maps, const InjectElf *libc,
                           uint64_t libc_bias, char *reason, size_t reason_size);

/* How a thread stopped by PTRACE_INTERRUPT resumes. */
typedef enum InjectResume {
        INJECT_RESUME_AS_IS,   /* not in a system call, or the call completed: resume at rip */
        INJECT_RESUME_RESTART, /* restart the call: rax = orig_rax, rip -= 2 (what the kernel would do) */
        INJECT_RESUME_SKIP,    /* cannot resume transparently after a signal frame: leave this thread */
} InjectResume;

/* Classifies a stopped thread's registers (orig_rax, rax, the call's arguments). When SKIP, why says
 * why. Pure: the kernel's -ERESTART* conventions, see the .c. */
InjectResume inject_resume_classify(const struct user_regs_struct *regs, const char **why);

/* Ranks a thread for choosing by its /proc/PID/task/TID/syscall line and state letter: 0 = sleeping in a
 * call that restarts transparently (read, accept, epoll_wait, futex wait of a condition variable...),
 * 1 = another sleeping call, 2 = running, -1 = do not use (D state, exiting, a call that swaps the signal
 * mask or cannot be restarted). */
int inject_thread_rank(const char *syscall_line, char state);

/* Whether a /proc/PID/task/TID/syscall line shows the thread inside execve()/execveat(): the process is in
 * the middle of exec (its image is about to be replaced; a stop there could make the exec fail). */
bool inject_thread_in_exec(const char *syscall_line);

/* The x86_64 kernel's struct rt_sigframe (arch/x86/include/asm/sigframe.h), 440 bytes. */
typedef struct InjectSigcontext {
        uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
        uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
        uint16_t cs, gs, fs, ss;
        uint64_t err, trapno, oldmask, cr2;
        uint64_t fpstate;
        uint64_t reserved1[8];
} InjectSigcontext;

typedef struct InjectSigframe {
        uint64_t pretcode; /* the called function's return address: libc's __restore_rt */
        uint64_t uc_flags, uc_link;
        uint64_t ss_sp;
        int32_t ss_flags, ss_pad;
        uint64_t ss_size;
        InjectSigcontext mc;
        uint64_t uc_sigmask;
        uint8_t info[128];
} InjectSigframe;

/* Where the injected call's data goes on the target's stack, below its red zone. */
typedef struct InjectLayout {
        uint64_t frame;   /* the InjectSigframe; rsp when the called function starts (≡ 8 mod 16) */
        uint64_t data;    /* data_size bytes for strings and results, 16-aligned */
        uint64_t fpstate; /* xsave image + FP_XSTATE_MAGIC2, 64-aligned */
        uint64_t lowest;  /* the lowest byte used */
} InjectLayout;

void inject_layout_compute(uint64_t rsp, size_t xstate_size, size_t data_size, InjectLayout *ret);

/* Fills the frame: the registers the thread resumes with (already adjusted for a restart), its signal
 * mask, the xsave image address, the return address. uc_stack carries an invalid mode so that
 * rt_sigreturn leaves the thread's sigaltstack as it is (the kernel ignores its error). */
void inject_sigframe_build(const struct user_regs_struct *resume, uint64_t sigmask, uint64_t fpstate_addr,
                           uint64_t restorer, InjectSigframe *ret);

/* Turns an xsave image from PTRACE_GETREGSET NT_X86_XSTATE (size_from_kernel bytes) into a signal
 * frame's fpstate: the software bytes (magic1, sizes, XCR0) and FP_XSTATE_MAGIC2 after it. buf must have
 * size_from_kernel + 4 bytes. Returns 0 or -EINVAL. */
int inject_xstate_prepare(void *buf, size_t size_from_kernel, size_t *ret_xstate_size);

/* Parses the fields of /proc/PID/status that decide whether to inject. */
typedef struct InjectStatus {
        pid_t tracer_pid;
        int seccomp;     /* 0 none, 1 strict, 2 filter; -1 unknown */
        char state;      /* 'S', 'R', 'Z', 'X', ... */
        uint64_t vm_rss_bytes;
        bool have_sigcgt;
        uint64_t sigcgt;
        bool have_sigblk;
        uint64_t sigblk; /* the thread's blocked mask (of /proc/PID/task/TID/status) */
} InjectStatus;

int inject_status_parse(const char *buf, InjectStatus *ret);

/* glibc's arenas other than the main one live in "heaps": anonymous mappings aligned to HEAP_MAX_SIZE
 * (64 MiB on 64-bit), each starting with a heap_info whose first words are ar_ptr (its arena) and prev
 * (the arena's previous heap, NULL for its first). Fills starts with the start of every anonymous
 * read-write mapping so aligned (at most max); returns how many there are in all. Pure. */
#define INJECT_HEAP_ALIGN (64ULL << 20)
size_t inject_heap_candidates(const char *maps, uint64_t *starts, size_t max);

/* Pure: whether the two first words of a candidate (ar_ptr, prev) are those of an arena's first heap:
 * prev NULL and the arena (malloc_state) right behind heap_info, within the heap's first page. */
bool inject_heap_is_first(uint64_t start, uint64_t ar_ptr, uint64_t prev);
