/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-inject-parse.c: the pure parts of the injected trim, see the header. */
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "cgroup-inject-parse.h"
#include "util/macro.h"

/* include/linux/errno.h: kernel-internal, never seen by programs. */
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

#define FP_XSTATE_MAGIC1 0x46505853U
#define FP_XSTATE_MAGIC2 0x46505845U
#define UC_FP_XSTATE 0x1
#define UC_SIGCONTEXT_SS 0x2
#define UC_STRICT_RESTORE_SS 0x4

_Static_assert(sizeof(InjectSigcontext) == 256, "struct sigcontext is 256 bytes on x86_64");
_Static_assert(sizeof(InjectSigframe) == 440, "struct rt_sigframe is 440 bytes on x86_64");

const char *inject_allocator_to_string(InjectAllocator a)
{
        switch (a) {
        case INJECT_ALLOCATOR_GLIBC:
                return "glibc";
        case INJECT_ALLOCATOR_JEMALLOC:
                return "jemalloc";
        case INJECT_ALLOCATOR_STATIC:
                return "static";
        default:
                return "unknown";
        }
}

static const char *path_basename(const char *p)
{
        const char *s = strrchr(p, '/');
        return s ? s + 1 : p;
}

static void object_add(InjectObject *o, const char *path, uint64_t lo, uint64_t hi, uint64_t offset)
{
        if (!o->found) {
                snprintf(o->path, sizeof o->path, "%s", path);
                o->lo = lo;
                o->hi = hi;
                o->found = true;
        } else if (!streq(o->path, path))
                return; /* a second copy (another namespace's): the first one is the one in use */
        o->lo = MIN(o->lo, lo);
        o->hi = MAX(o->hi, hi);
        if (offset == 0 && !o->base)
                o->base = lo;
}

static int maps_line(const char *line, uint64_t *lo, uint64_t *hi, uint64_t *offset, char *perms,
                     const char **path)
{
        int n = 0;
        if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %*s %*u %n", lo, hi, perms, offset, &n) < 4 ||
            n == 0)
                return -EINVAL;
        *path = line + n;
        while (**path == ' ')
                (*path)++;
        return 0;
}

/* Copies the line at *p (cut at size - 1 bytes) into line and moves *p past it. false at the end. */
static bool maps_next_line(const char **p, char *line, size_t size)
{
        if (!*p || !**p)
                return false;
        const char *nl = strchr(*p, '\n');
        size_t len = nl ? (size_t) (nl - *p) : strlen(*p);
        if (len >= size)
                len = size - 1;
        memcpy(line, *p, len);
        line[len] = 0;
        *p = nl ? nl + 1 : NULL;
        return true;
}

int inject_maps_parse(const char *buf, InjectMaps *ret)
{
        InjectMaps m = {};
        bool any = false;
        char line[1024];

        for (const char *p = buf; maps_next_line(&p, line, sizeof line);) {

                uint64_t lo, hi, off;
                char perms[5];
                const char *path;
                if (maps_line(line, &lo, &hi, &off, perms, &path) < 0)
                        continue;
                any = true;
                if (path[0] != '/')
                        continue;
                const char *b = path_basename(path);
                if (streq(b, "libc.so.6") || (strncmp(b, "libc-2.", 7) == 0 && strstr(b, ".so")))
                        object_add(&m.libc, path, lo, hi, off);
                else if (strncmp(b, "libjemalloc.so", 14) == 0)
                        object_add(&m.jemalloc, path, lo, hi, off);
                else if (strncmp(b, "ld-musl-", 8) == 0 || strncmp(b, "libc.musl-", 10) == 0)
                        snprintf(m.other_allocator, sizeof m.other_allocator, "musl");
                else if (strncmp(b, "libtcmalloc", 11) == 0)
                        snprintf(m.other_allocator, sizeof m.other_allocator, "tcmalloc");
                else if (strncmp(b, "libmimalloc", 11) == 0)
                        snprintf(m.other_allocator, sizeof m.other_allocator, "mimalloc");
                else if (strncmp(b, "libhoard", 8) == 0 || strncmp(b, "libscudo", 8) == 0 ||
                         strncmp(b, "libsnmalloc", 11) == 0)
                        snprintf(m.other_allocator, sizeof m.other_allocator, "%.*s", (int) strcspn(b, "."), b);
        }
        if (!any)
                return -EINVAL;

        if (m.other_allocator[0])
                m.allocator = INJECT_ALLOCATOR_UNKNOWN; /* it replaces malloc: glibc's trim would do nothing */
        else if (m.jemalloc.found && m.libc.found)
                m.allocator = INJECT_ALLOCATOR_JEMALLOC;
        else if (m.libc.found)
                m.allocator = INJECT_ALLOCATOR_GLIBC;
        else
                m.allocator = INJECT_ALLOCATOR_STATIC;
        *ret = m;
        return 0;
}

int inject_maps_find(const char *buf, uint64_t addr, uint64_t *ret_lo, uint64_t *ret_hi, char *name,
                     size_t name_size)
{
        char line[1024];
        for (const char *p = buf; maps_next_line(&p, line, sizeof line);) {

                uint64_t lo, hi, off;
                char perms[5];
                const char *path;
                if (maps_line(line, &lo, &hi, &off, perms, &path) < 0 || addr < lo || addr >= hi)
                        continue;
                *ret_lo = lo;
                *ret_hi = hi;
                if (name)
                        snprintf(name, name_size, "%s", path);
                return 1;
        }
        return 0;
}

size_t inject_heap_candidates(const char *maps, uint64_t *starts, size_t max)
{
        char line[1024];
        size_t n = 0;
        for (const char *p = maps; maps_next_line(&p, line, sizeof line);) {

                uint64_t lo, hi, off;
                char perms[5];
                const char *path;
                if (maps_line(line, &lo, &hi, &off, perms, &path) < 0 || path[0] || perms[0] != 'r' ||
                    perms[1] != 'w' || lo % INJECT_HEAP_ALIGN != 0 || hi - lo > INJECT_HEAP_ALIGN)
                        continue;
                if (n < max)
                        starts[n] = lo;
                n++;
        }
        return n;
}

bool inject_heap_is_first(uint64_t start, uint64_t ar_ptr, uint64_t prev)
{
        return prev == 0 && ar_ptr > start && ar_ptr < start + 4096;
}

/* ---------------------------------------------------------------------------------------------------- */
/* ELF */

/* The functions of glibc's malloc/malloc.c (which includes arena.c, hooks.c, morecore.c), as exported. */
static const char *const glibc_malloc_exports[] = {
        "malloc", "__libc_malloc", "free", "__libc_free", "cfree", "realloc", "__libc_realloc", "calloc",
        "__libc_calloc", "memalign", "__libc_memalign", "aligned_alloc", "valloc", "__libc_valloc", "pvalloc",
        "__libc_pvalloc", "posix_memalign", "malloc_trim", "malloc_usable_size", "mallinfo", "mallinfo2",
        "__libc_mallinfo", "malloc_stats", "mallopt", "__libc_mallopt", "malloc_info", "__default_morecore",
        "malloc_get_state", "malloc_set_state", "__libc_dlopen_mode_malloc",
};

static bool name_in(const char *name, const char *const *list, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (streq(name, list[i]))
                        return true;
        return false;
}

bool inject_name_is_allocator(const char *name)
{
        static const char *const exact[] = {
                "fork", "__libc_fork", "_Fork", "__fork", "sysmalloc", "systrim", "heap_trim", "mtrim",
                "arena_get2", "arena_get_retry", "reused_arena", "get_free_list", "new_heap", "alloc_new_heap",
                "shrink_heap", "grow_heap", "munmap_chunk", "mremap_chunk", "unlink_chunk", "int_mallinfo",
                "malloc_consolidate", "malloc_printerr", "ptmalloc_init", "tcache_init", "tcache_get",
                "tcache_put", "tcache_thread_shutdown", "arena_thread_freeres", "__libc_thread_freeres",
                "detach_arena", "_mid_memalign", "__malloc_arena_thread_freeres",
        };
        if (!name || !name[0])
                return false;
        /* Debug symbols add suffixes: "_int_free.part.0", "unlink_chunk.constprop.0", "x.cold". */
        char base[128];
        snprintf(base, sizeof base, "%.*s", (int) strcspn(name, "."), name);
        if (name_in(base, glibc_malloc_exports, ELEMENTSOF(glibc_malloc_exports)) ||
            name_in(base, exact, ELEMENTSOF(exact)))
                return true;
        static const char *const prefixes[] = { "_int_", "__malloc_", "malloc_", "ptmalloc_", "tcache_",
                                                "sysmalloc", "je_", "__je_", "arena_" };
        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                if (strncmp(base, prefixes[i], strlen(prefixes[i])) == 0)
                        return true;
        return false;
}

typedef struct FuncSym {
        uint64_t value, size;
        bool family;
} FuncSym;

static int funcsym_cmp(const void *a, const void *b)
{
        const FuncSym *x = a, *y = b;
        return x->value < y->value ? -1 : x->value > y->value;
}

static bool range_ok(size_t size, uint64_t off, uint64_t len)
{
        return off <= size && len <= size - off;
}

/* The pattern of __restore_rt on x86_64 glibc: mov $0xf,%rax; syscall. */
static const uint8_t restorer_code[] = { 0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 };

int inject_elf_parse(const void *buf, size_t size, InjectElf *ret)
{
        const uint8_t *b = buf;
        InjectElf e = {};

        if (size < sizeof(Elf64_Ehdr) || memcmp(b, ELFMAG, SELFMAG) != 0)
                return -EINVAL;
        const Elf64_Ehdr *eh = buf;
        if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
            eh->e_machine != EM_X86_64 || eh->e_phentsize != sizeof(Elf64_Phdr) ||
            !range_ok(size, eh->e_phoff, (uint64_t) eh->e_phnum * sizeof(Elf64_Phdr)))
                return -EINVAL;

        /* Program headers: the first PT_LOAD's address (the load bias), and the executable bytes. */
        bool have_load = false;
        const Elf64_Phdr *ph = (const Elf64_Phdr *) (b + eh->e_phoff);
        for (unsigned i = 0; i < eh->e_phnum; i++) {
                if (ph[i].p_type != PT_LOAD)
                        continue;
                if (!have_load) {
                        e.first_load_vaddr = ph[i].p_vaddr & ~(uint64_t) 0xfff;
                        have_load = true;
                }
                if (!(ph[i].p_flags & PF_X) || !range_ok(size, ph[i].p_offset, ph[i].p_filesz))
                        continue;
                const uint8_t *seg = b + ph[i].p_offset;
                for (uint64_t o = 0; o + sizeof restorer_code <= ph[i].p_filesz; o++) {
                        if (seg[o] != 0x48 || memcmp(seg + o, restorer_code, sizeof restorer_code) != 0)
                                continue;
                        if (e.restorer_matches++ == 0)
                                e.restorer = ph[i].p_vaddr + o;
                }
        }
        if (!have_load)
                return -EINVAL;

        /* Section headers: .dynsym and its string table. */
        if (eh->e_shentsize != sizeof(Elf64_Shdr) ||
            !range_ok(size, eh->e_shoff, (uint64_t) eh->e_shnum * sizeof(Elf64_Shdr)))
                return -EINVAL;
        const Elf64_Shdr *sh = (const Elf64_Shdr *) (b + eh->e_shoff);
        const Elf64_Shdr *dynsym = NULL, *dynstr = NULL;
        for (unsigned i = 0; i < eh->e_shnum; i++)
                if (sh[i].sh_type == SHT_DYNSYM && sh[i].sh_link < eh->e_shnum) {
                        dynsym = &sh[i];
                        dynstr = &sh[sh[i].sh_link];
                        break;
                }
        if (!dynsym || dynsym->sh_entsize != sizeof(Elf64_Sym) ||
            !range_ok(size, dynsym->sh_offset, dynsym->sh_size) ||
            !range_ok(size, dynstr->sh_offset, dynstr->sh_size) || dynstr->sh_size == 0)
                return -EINVAL;

        const Elf64_Sym *syms = (const Elf64_Sym *) (b + dynsym->sh_offset);
        size_t n_syms = dynsym->sh_size / sizeof(Elf64_Sym);
        const char *strs = (const char *) (b + dynstr->sh_offset);
        _cleanup_free_ FuncSym *funcs = calloc(n_syms ?: 1, sizeof *funcs);
        size_t n_funcs = 0;
        if (!funcs)
                return -ENOMEM;

        for (size_t i = 0; i < n_syms; i++) {
                unsigned type = ELF64_ST_TYPE(syms[i].st_info);
                if (syms[i].st_shndx == SHN_UNDEF || (type != STT_FUNC && type != STT_GNU_IFUNC) ||
                    syms[i].st_name >= dynstr->sh_size ||
                    !memchr(strs + syms[i].st_name, 0, dynstr->sh_size - syms[i].st_name))
                        continue;
                const char *name = strs + syms[i].st_name;
                uint64_t v = syms[i].st_value;
                if (type == STT_FUNC) {
                        if (streq(name, "malloc_trim"))
                                e.malloc_trim = v;
                        else if (streq(name, "mallinfo2"))
                                e.mallinfo2 = v;
                        else if (streq(name, "mallctl"))
                                e.mallctl = v;
                        if (streq(name, "__libc_fork") || streq(name, "fork")) {
                                e.fork_lo = v;
                                e.fork_hi = v + MAX(syms[i].st_size, (uint64_t) 1);
                        }
                }
                funcs[n_funcs++] = (FuncSym) {
                        .value = v,
                        .size = syms[i].st_size,
                        .family = name_in(name, glibc_malloc_exports, ELEMENTSOF(glibc_malloc_exports)),
                };
        }

        /* The hull of malloc.o: its static functions (_int_malloc, sysmalloc, arena_get2, ...) have no
         * exported symbol, but the linker keeps one translation unit's functions together. So the hull runs
         * from the end of the last exported function before the first malloc export to the start of the
         * first exported function after the last one: conservative (it may take in a neighbour's static
         * functions; those threads are then not chosen), never too small. .cold parts of malloc.o are
         * placed elsewhere; they only lead to malloc_printerr() and abort(). */
        qsort(funcs, n_funcs, sizeof *funcs, funcsym_cmp);
        ssize_t first = -1, last = -1;
        for (size_t i = 0; i < n_funcs; i++)
                if (funcs[i].family) {
                        if (first < 0)
                                first = (ssize_t) i;
                        last = (ssize_t) i;
                }
        if (first >= 0) {
                uint64_t lo = funcs[first].value, hi = funcs[last].value + funcs[last].size;
                for (ssize_t i = first - 1; i >= 0; i--)
                        if (funcs[i].value < funcs[first].value) {
                                lo = MIN(lo, funcs[i].value + funcs[i].size);
                                break;
                        }
                if (first == 0)
                        lo = 0;
                bool next = false;
                for (size_t i = (size_t) last + 1; i < n_funcs; i++)
                        if (funcs[i].value >= hi) {
                                hi = funcs[i].value;
                                next = true;
                                break;
                        }
                if (!next)
                        hi = UINT64_MAX;
                e.malloc_lo = lo;
                e.malloc_hi = hi;
        }
        *ret = e;
        return 0;
}

/* ---------------------------------------------------------------------------------------------------- */
/* The stack */

bool inject_stack_is_clean(const InjectFrame *frames, size_t n, const InjectMaps *maps, const InjectElf *libc,
                           uint64_t libc_bias, char *reason, size_t reason_size)
{
        for (size_t i = 0; i < n; i++) {
                uint64_t pc = frames[i].pc;
                const char *name = frames[i].name;
                if (maps->jemalloc.found && pc >= maps->jemalloc.lo && pc < maps->jemalloc.hi) {
                        snprintf(reason, reason_size, "frame %zu in jemalloc (%s)", i, name ?: "?");
                        return false;
                }
                if (libc && maps->libc.found && pc >= maps->libc.lo && pc < maps->libc.hi) {
                        uint64_t a = pc - libc_bias;
                        if (libc->malloc_hi > libc->malloc_lo && a >= libc->malloc_lo && a < libc->malloc_hi) {
                                snprintf(reason, reason_size, "frame %zu in glibc malloc (%s)", i, name ?: "?");
                                return false;
                        }
                        if (libc->fork_hi > libc->fork_lo && a >= libc->fork_lo && a < libc->fork_hi) {
                                snprintf(reason, reason_size, "frame %zu in fork(), which holds the arena locks",
                                         i);
                                return false;
                        }
                }
                if (inject_name_is_allocator(name)) {
                        snprintf(reason, reason_size, "frame %zu in allocator function %s", i, name);
                        return false;
                }
        }
        return true;
}

/* ---------------------------------------------------------------------------------------------------- */
/* System call restart */

static bool mask_arg_set(const struct user_regs_struct *r, unsigned nr)
{
        switch (nr) {
        case SYS_rt_sigsuspend:
                return true;
        case SYS_ppoll:
                return r->r10 != 0; /* ppoll(fds, n, tmo, sigmask, size) */
        case SYS_pselect6:
                return r->r9 != 0;  /* pselect6(n, r, w, e, tmo, {sigmask, size}) */
        case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
        case SYS_epoll_pwait2:
#endif
                return r->r8 != 0;  /* epoll_pwait(fd, ev, max, tmo, sigmask, size) */
        default:
                return false;
        }
}

/* The kernel (arch_do_signal_or_restart) restarts a call that returned -ERESTARTSYS, -ERESTARTNOINTR or
 * -ERESTARTNOHAND when no handler runs: rax = orig_rax, rip -= 2 (back onto the syscall instruction). We
 * resume through rt_sigreturn, which sets orig_rax = -1 and so skips that logic: the frame must carry the
 * registers as the kernel would have set them. -ERESTART_RESTARTBLOCK (nanosleep, poll or futex with a
 * timeout) restarts through restart_syscall() with state in current->restart_block, which rt_sigreturn
 * resets (restore_sigcontext: "make any pending restarted system calls return -EINTR"): such a thread
 * would see EINTR or a cut sleep, so it is left alone (PTRACE_DETACH lets the kernel restart it). Calls
 * that install a temporary signal mask (sigsuspend, ppoll/pselect/epoll_pwait with a mask) restore the
 * saved one on their own way out, which a frame cannot express: left alone too. epoll_wait returns -EINTR
 * on any stop (signal(7)); with an infinite timeout it is simply restarted. */
InjectResume inject_resume_classify(const struct user_regs_struct *r, const char **why)
{
        long orig = (long) r->orig_rax;
        long ax = (long) r->rax;

        if (orig < 0)
                return INJECT_RESUME_AS_IS;
        if (mask_arg_set(r, (unsigned) orig)) {
                *why = "sleeps in a call with a temporary signal mask";
                return INJECT_RESUME_SKIP;
        }
        switch (ax) {
        case -ERESTARTSYS:
        case -ERESTARTNOINTR:
        case -ERESTARTNOHAND:
                return INJECT_RESUME_RESTART;
        case -ERESTART_RESTARTBLOCK:
                *why = "sleeps in a call with a timeout that only the kernel can restart (restart_syscall)";
                return INJECT_RESUME_SKIP;
        case -EINTR:
                if ((orig == SYS_epoll_wait || orig == SYS_epoll_pwait) && (int) r->r10 == -1)
                        return INJECT_RESUME_RESTART;
                return INJECT_RESUME_AS_IS;
        default:
                return INJECT_RESUME_AS_IS;
        }
}

bool inject_thread_in_exec(const char *line)
{
        long nr;
        return line && sscanf(line, "%ld", &nr) == 1 && (nr == SYS_execve || nr == SYS_execveat);
}

int inject_thread_rank(const char *line, char state)
{
        if (state == 'D' || state == 'Z' || state == 'X' || state == 'x' || state == 'T' || state == 't')
                return -1;
        if (!line)
                return -1;
        if (strncmp(line, "running", 7) == 0)
                return 2;
        long nr;
        unsigned long a[6] = {};
        if (sscanf(line, "%ld 0x%lx 0x%lx 0x%lx 0x%lx 0x%lx 0x%lx", &nr, &a[0], &a[1], &a[2], &a[3], &a[4],
                   &a[5]) < 1)
                return -1;
        if (nr < 0)
                return 2; /* blocked, but not in a system call (a page fault): like running */
        struct user_regs_struct r = { .orig_rax = (unsigned long) nr, .rdi = a[0], .rsi = a[1], .rdx = a[2],
                                      .r10 = a[3], .r8 = a[4], .r9 = a[5] };
        if (mask_arg_set(&r, (unsigned) nr) || inject_thread_in_exec(line))
                return -1;
        switch (nr) {
        case SYS_read:
        case SYS_readv:
        case SYS_recvfrom:
        case SYS_recvmsg:
        case SYS_accept:
        case SYS_accept4:
        case SYS_wait4:
        case SYS_waitid:
        case SYS_pause:
        case SYS_select:
        case SYS_pselect6:
        case SYS_ppoll:
                return 0;
        case SYS_epoll_wait:
        case SYS_epoll_pwait:
                return (int) a[3] == -1 ? 0 : 1;
        case SYS_poll:
                return (int) a[2] < 0 ? 0 : 1; /* with a timeout: restart_block, skipped once stopped */
        case SYS_futex:
                /* FUTEX_WAIT(_BITSET) without a timeout: a condition variable or a lock; with a timeout
                 * the kernel needs restart_block. Lock waits are judged by the stack. */
                return ((a[1] & 0x7f) == 0 || (a[1] & 0x7f) == 9) && a[3] == 0 ? 0 : 1;
        case SYS_nanosleep:
        case SYS_clock_nanosleep:
                return 1;
        default:
                return 1;
        }
}

/* ---------------------------------------------------------------------------------------------------- */
/* The frame */

void inject_layout_compute(uint64_t rsp, size_t xstate_size, size_t data_size, InjectLayout *ret)
{
        uint64_t top = rsp - 128;                                   /* the red zone stays untouched */
        uint64_t fp = (top - (xstate_size + 4)) & ~(uint64_t) 63;   /* XRSTOR needs 64-byte alignment */
        uint64_t data = (fp - data_size) & ~(uint64_t) 15;
        uint64_t frame = ((data - sizeof(InjectSigframe)) & ~(uint64_t) 15) - 8; /* like align_sigframe() */
        *ret = (InjectLayout) { .frame = frame, .data = data, .fpstate = fp, .lowest = frame };
}

void inject_sigframe_build(const struct user_regs_struct *r, uint64_t sigmask, uint64_t fpstate_addr,
                           uint64_t restorer, InjectSigframe *ret)
{
        InjectSigframe f = {
                .pretcode = restorer,
                .uc_flags = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS,
                /* An invalid mode: do_sigaltstack() refuses it with -EINVAL before changing anything and
                 * restore_altstack() ignores all errors but -EFAULT, so the thread keeps its altstack. */
                .ss_flags = 3,
                .mc = {
                        .r8 = r->r8, .r9 = r->r9, .r10 = r->r10, .r11 = r->r11,
                        .r12 = r->r12, .r13 = r->r13, .r14 = r->r14, .r15 = r->r15,
                        .rdi = r->rdi, .rsi = r->rsi, .rbp = r->rbp, .rbx = r->rbx,
                        .rdx = r->rdx, .rax = r->rax, .rcx = r->rcx, .rsp = r->rsp, .rip = r->rip,
                        .eflags = r->eflags,
                        .cs = (uint16_t) r->cs, .ss = (uint16_t) r->ss,
                        .fpstate = fpstate_addr,
                        .oldmask = sigmask,
                },
                .uc_sigmask = sigmask,
        };
        *ret = f;
}

int inject_xstate_prepare(void *buf, size_t size_from_kernel, size_t *ret_xstate_size)
{
        uint8_t *b = buf;
        uint64_t xcr0;

        /* PTRACE_GETREGSET NT_X86_XSTATE returns the standard-format xsave image, user_size bytes, with
         * XCR0 in the first 8 bytes of the fxsave area's software-reserved part (USER_XSTATE_XCR0_WORD).
         * A signal frame wants struct _fpx_sw_bytes there instead (magic1, extended_size, xfeatures,
         * xstate_size) and FP_XSTATE_MAGIC2 right after the image; the kernel checks both and otherwise
         * restores the legacy FP/SSE state only (check_xstate_in_sigframe()). */
        if (size_from_kernel < 512 + 64 || size_from_kernel > UINT32_MAX - 4)
                return -EINVAL;
        memcpy(&xcr0, b + 464, 8);
        if (!(xcr0 & 0x3)) /* x87 and SSE are always there */
                return -EINVAL;
        uint32_t magic1 = FP_XSTATE_MAGIC1, xsize = (uint32_t) size_from_kernel, extended = xsize + 4;
        memset(b + 464, 0, 48);
        memcpy(b + 464, &magic1, 4);
        memcpy(b + 468, &extended, 4);
        memcpy(b + 472, &xcr0, 8);
        memcpy(b + 480, &xsize, 4);
        uint32_t m2 = FP_XSTATE_MAGIC2;
        memcpy(b + xsize, &m2, 4);
        *ret_xstate_size = xsize;
        return 0;
}

int inject_status_parse(const char *buf, InjectStatus *ret)
{
        InjectStatus s = { .seccomp = -1 };
        bool any = false;
        for (const char *p = buf; p && *p;) {
                const char *nl = strchr(p, '\n');
                if (strncmp(p, "TracerPid:", 10) == 0) {
                        s.tracer_pid = (pid_t) strtol(p + 10, NULL, 10);
                        any = true;
                } else if (strncmp(p, "Seccomp:", 8) == 0)
                        s.seccomp = (int) strtol(p + 8, NULL, 10);
                else if (strncmp(p, "State:", 6) == 0) {
                        const char *q = p + 6;
                        while (*q == ' ' || *q == '\t')
                                q++;
                        s.state = *q;
                } else if (strncmp(p, "VmRSS:", 6) == 0)
                        s.vm_rss_bytes = strtoull(p + 6, NULL, 10) * 1024;
                else if (strncmp(p, "SigCgt:", 7) == 0) {
                        s.sigcgt = strtoull(p + 7, NULL, 16);
                        s.have_sigcgt = true;
                } else if (strncmp(p, "SigBlk:", 7) == 0) {
                        s.sigblk = strtoull(p + 7, NULL, 16);
                        s.have_sigblk = true;
                }
                p = nl ? nl + 1 : NULL;
        }
        if (!any)
                return -EINVAL;
        *ret = s;
        return 0;
}
