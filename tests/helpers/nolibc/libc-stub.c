/* SPDX-License-Identifier: MIT */
/* tests/helpers/nolibc/libc.so.6: a library named like glibc's libc that has libc's rt_sigreturn
 * trampoline (mov $15,%rax; syscall, once) but no malloc_trim: a libc built without it. A target maps it
 * below its real libc (inject-target fakelibc), so that the injector takes it for the process's libc, and
 * must refuse the process by that reason. Never loaded by the dynamic linker (its own directory: no
 * program's RPATH points here). */
void libc_stub_restore_rt(void);
__asm__(".text\n.globl libc_stub_restore_rt\n.type libc_stub_restore_rt, @function\nlibc_stub_restore_rt:\n"
        " mov $0xf, %rax\n syscall\n .size libc_stub_restore_rt, .-libc_stub_restore_rt\n");
